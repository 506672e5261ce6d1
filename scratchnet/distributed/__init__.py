"""scratchnet.distributed: data-parallel training over MPI (CPU, NumPy) or NCCL (GPU, CuPy), PyTorch's names.

    import scratchnet.distributed as dist
    dist.init()                                   # under `mpiexec -n 4`: backend "mpi", rank 0..3; alone: "single"
    model = dist.DistributedDataParallel(model)   # same weights everywhere; gradients averaged after backward()
    sampler = dist.DistributedSampler(dataset)    # each rank its own shard of every epoch

Until init() is called the world is "single": rank() is 0, world_size() 1 and every collective is the identity,
so code written for many processes also runs as one. Costs of the collectives: see `comm`.
"""
import os
import sys
from contextlib import contextmanager

from .. import backend
from ..tensor import Tensor
from .comm import BACKENDS, DistributedError, ReduceOp, _MPI, _NCCL, _Single, launcher_world

_world = _Single()
_initialized = False


def init(backend_name=None, threads=True):
    """Join the world the launcher started. backend_name: "mpi", "nccl", "single" or None (auto: "single" outside
    a launcher; inside one "nccl" when the default device is a GPU, else "mpi"). threads=True shares the node's
    cores among its ranks (SCRATCHNET_NUM_THREADS, if set, wins). Returns the backend's name."""
    global _world, _initialized
    launched = launcher_world()
    if backend_name is None:
        backend_name = os.environ.get("SCRATCHNET_DIST_BACKEND")
    if backend_name not in BACKENDS + (None,):
        raise ValueError(f"init: backend must be one of {', '.join(BACKENDS)}, got {backend_name!r}")
    if _initialized:   # a second init() joins the same world (inside alone(): the world of one)
        if backend_name not in (None, _world.name):
            raise DistributedError(f"init: already initialised with backend '{_world.name}', asked for "
                                   f"'{backend_name}'")
        return _world.name
    if backend_name is None:
        if launched is None:
            backend_name = "single"
        else:
            backend_name = "nccl" if backend.get_default_device().type == "cuda" else "mpi"
    if backend_name == "single" and launched is not None and launched[0] > 1:
        raise DistributedError(f"init: backend 'single' inside a launcher with {launched[0]} ranks: every rank "
                               "would train alone; use 'mpi' or 'nccl'")
    _world = {"single": _Single, "mpi": _MPI, "nccl": _NCCL}[backend_name]()
    _initialized = True
    if threads and _world.size > 1 and not os.environ.get("SCRATCHNET_NUM_THREADS"):
        # ranks on one node share its cores; more threads than cores makes every rank wait for the others
        local = (launched or (_world.size, 0, _world.size))[2]
        backend.set_num_threads(max(1, (os.cpu_count() or 1) // max(local, 1)))
    return _world.name


def _world_ref():
    return _world


def is_initialized():
    return _initialized


def get_backend():
    return _world.name


def rank():
    """This process's rank, 0..world_size()-1 (0 before init())."""
    return _world.rank


def world_size():
    """How many processes train together (1 before init())."""
    return _world.size


get_rank, get_world_size = rank, world_size


def is_main_process():
    """True on rank 0, the one that writes files and prints."""
    return _world.rank == 0


def _array(tensor, what):
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{what}: expected a scratchnet Tensor, got {type(tensor).__name__}")
    return tensor.data


def barrier():
    """Wait until every rank has reached this call. Cost: ~2·log2(p) latencies, no payload."""
    _world.barrier()


def all_reduce(tensor, op=ReduceOp.SUM):
    """Reduce `tensor` over all ranks, in place, and leave the result on every rank; returns the tensor.
    op: "sum", "product", "min", "max" or "avg" (ReduceOp). Cost: ≈ 2·(p−1)/p·n bytes per rank sent and
    received, 2·log2(p) latencies. Not differentiable (it acts on .data, like PyTorch's)."""
    if op not in ReduceOp.ALL:
        raise ValueError(f"all_reduce: op must be one of {', '.join(ReduceOp.ALL)}, got {op!r}")
    _world.all_reduce(_array(tensor, "all_reduce"), op)
    return tensor


def broadcast(tensor, src=0):
    """Overwrite `tensor` on every rank with rank `src`'s, in place; returns the tensor. Cost: each rank receives
    n bytes once (pipelined tree), log2(p) latencies."""
    if not 0 <= src < _world.size:
        raise ValueError(f"broadcast: src must be a rank in [0, {_world.size}), got {src}")
    _world.broadcast(_array(tensor, "broadcast"), src)
    return tensor


def all_gather(tensor_list, tensor):
    """PyTorch's all_gather: tensor_list[r] receives rank r's `tensor` (same shape and dtype on every rank).
    tensor_list=None returns a new list. Cost: every rank receives (p−1)·n bytes, log2(p) latencies."""
    parts = _world.all_gather(_array(tensor, "all_gather"))
    if tensor_list is None:
        return [Tensor(p) for p in parts]
    if len(tensor_list) != len(parts):
        raise ValueError(f"all_gather: tensor_list has {len(tensor_list)} tensors, the world has {len(parts)} ranks")
    for t, p in zip(tensor_list, parts):
        t.data[...] = p
    return tensor_list


def broadcast_object(obj, src=0):
    """Rank `src`'s Python object on every rank (pickled in memory between the job's own processes)."""
    return _world.bcast_object(obj, src)


def all_gather_object(obj):
    """[rank 0's obj, rank 1's obj, ...] on every rank (pickled in memory between the job's own processes)."""
    return _world.allgather_object(obj)


def abort(code=1):
    """End every rank of the job with exit status `code` (MPI_Abort): what a rank that cannot go on must do, since
    the others would otherwise wait for it in their next collective forever."""
    sys.stdout.flush()
    sys.stderr.flush()
    _world.abort(code)


@contextmanager
def alone():
    """Inside, this process is a world of its own (rank 0 of 1, collectives are the identity): for work that one
    rank does by itself (scoring, sampling, a single-process reference run). Every rank may use it at once."""
    global _world
    saved, _world = _world, _Single()
    try:
        yield
    finally:
        _world = saved


@contextmanager
def main_process_first():
    """Rank 0 runs the block first (downloads, caches), the others after it is done."""
    if _world.rank != 0:
        _world.barrier()
    yield
    if _world.rank == 0:
        _world.barrier()


from .ddp import DistributedDataParallel  # noqa: E402,F401
from .sampler import DistributedSampler  # noqa: E402,F401
from .sync_bn import SyncBatchNorm, convert_sync_batchnorm  # noqa: E402,F401
