"""Process groups for data-parallel training: who am I (rank), how many are we (world size), and the collectives.

Three backends behind one interface. "single" is the world of one process (every collective is the identity);
"mpi" runs over mpi4py (any MPI; `pip install 'scratchnet[mpi]'` brings MPICH from PyPI), with NumPy buffers
passed straight to MPI and CuPy arrays staged through the host; "nccl" runs over NVIDIA's NCCL through CuPy
(`cupy.cuda.nccl`), one process per GPU, bootstrapped over MPI. The launcher picks the world: under `mpiexec`
(MPICH/Hydra, Intel MPI, Open MPI, MVAPICH, Slurm's PMI) init() finds it in the environment.

What the collectives cost, for a message of n bytes on p ranks with latency α and bandwidth β (what MPICH and
NCCL's ring/tree algorithms achieve for large messages):
  all_reduce  ≈ 2·(p−1)/p · n/β + 2·log2(p)·α   (reduce-scatter + all-gather: each rank sends and receives ~2n)
  broadcast   ≈ n/β + log2(p)·α                (pipelined tree: every rank receives n once)
  all_gather  ≈ (p−1)·n/β + log2(p)·α          (n = one rank's contribution; every rank receives the others')
  barrier     ≈ 2·log2(p)·α                     (no payload: pure latency)
Every collective is a synchronisation point: each rank waits for the slowest. On a GPU under MPI, a CuPy array
also crosses PCIe twice (device→host, host→device); NCCL moves it GPU to GPU (NVLink/PCIe/InfiniBand) instead.
"""
import os

import numpy

from .. import backend

# Environment variables that launchers set: (world size, rank, ranks on this node)
_LAUNCHER_ENV = (("PMI_SIZE", "PMI_RANK", "MPI_LOCALNRANKS"),                           # MPICH/Hydra, Intel MPI
                 ("OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_LOCAL_SIZE"),   # Open MPI
                 ("MV2_COMM_WORLD_SIZE", "MV2_COMM_WORLD_RANK", "MV2_COMM_WORLD_LOCAL_SIZE"),      # MVAPICH
                 ("PMIX_SIZE", "PMIX_RANK", "PMIX_LOCAL_SIZE"))                                     # PMIx (srun)

BACKENDS = ("single", "mpi", "nccl")


class DistributedError(RuntimeError):
    """Ranks that cannot work together: a missing backend, or ranks that disagree (shapes, dtypes, settings)."""


class ReduceOp:
    """The reductions of all_reduce (PyTorch's names). AVG is SUM divided by the world size."""
    SUM, PRODUCT, MIN, MAX, AVG = "sum", "product", "min", "max", "avg"
    ALL = (SUM, PRODUCT, MIN, MAX, AVG)


def launcher_world():
    """(world size, rank, local size) announced by an MPI launcher's environment, or None outside one."""
    for size, rank, local in _LAUNCHER_ENV:
        if size in os.environ and rank in os.environ:
            n = int(os.environ[size])
            return n, int(os.environ[rank]), int(os.environ.get(local, n))
    return None


def launcher_local_rank(default=0):
    """This process's rank among those on its node (which GPU it takes), from the launcher's environment."""
    return next((int(os.environ[k]) for k in ("MPI_LOCALRANKID", "OMPI_COMM_WORLD_LOCAL_RANK",
                                               "MV2_COMM_WORLD_LOCAL_RANK", "PMIX_LOCAL_RANK") if k in os.environ),
                default)


class _Single:
    """The world of one process: every collective leaves its input as it is."""
    name, rank, size = "single", 0, 1

    def all_reduce(self, array, op):
        return array

    def broadcast(self, array, src):
        return array

    def all_gather(self, array):
        return [array]

    def barrier(self):
        pass

    def bcast_object(self, obj, src):
        return obj

    def allgather_object(self, obj):
        return [obj]

    def abort(self, code):
        raise SystemExit(code)


def _mpi():
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise DistributedError(f"backend 'mpi' needs mpi4py and an MPI library: pip install 'scratchnet[mpi]' "
                               f"(mpi4py + MPICH from PyPI) ({e})") from None
    return MPI


class _MPI:
    """mpi4py's buffer interface: NumPy arrays go to MPI as they are (no pickling); CuPy arrays via the host."""
    name = "mpi"

    def __init__(self):
        self.MPI = _mpi()
        self.comm = self.MPI.COMM_WORLD
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        self.ops = {ReduceOp.SUM: self.MPI.SUM, ReduceOp.PRODUCT: self.MPI.PROD, ReduceOp.MIN: self.MPI.MIN,
                    ReduceOp.MAX: self.MPI.MAX, ReduceOp.AVG: self.MPI.SUM}

    @staticmethod
    def _host(array):
        # host staging for CuPy arrays; a contiguous NumPy array is used in place
        return numpy.ascontiguousarray(backend.to_numpy(array))

    @staticmethod
    def _back(host, like):
        if backend.get_array_module(like) is numpy:
            if host is not like:
                like[...] = host
        else:
            like[...] = backend.to_device(host, backend.device_of(like))

    def all_reduce(self, array, op):
        buf = self._host(array)
        self.comm.Allreduce(self.MPI.IN_PLACE, buf, op=self.ops[op])
        if op == ReduceOp.AVG:
            buf /= self.size
        self._back(buf, array)
        return array

    def broadcast(self, array, src):
        buf = self._host(array)
        self.comm.Bcast(buf, root=src)
        self._back(buf, array)
        return array

    def all_gather(self, array):
        buf = self._host(array)
        out = numpy.empty((self.size,) + buf.shape, buf.dtype)
        self.comm.Allgather(buf, out)
        xp = backend.get_array_module(array)
        return [o if xp is numpy else backend.to_device(o, backend.device_of(array)) for o in out]

    def barrier(self):
        self.comm.Barrier()

    def bcast_object(self, obj, src):
        # objects travel pickled between the processes of one job (trusted); nothing is pickled to disk
        return self.comm.bcast(obj, root=src)

    def allgather_object(self, obj):
        return self.comm.allgather(obj)

    def abort(self, code):
        # every rank of the job ends now: the others may be waiting in a collective for this one
        self.comm.Abort(code)


class _NCCL(_MPI):
    """NCCL through CuPy, one process per GPU: device arrays move GPU to GPU on the current stream. MPI carries
    the communicator's unique id and Python objects. Written against CuPy's documented cupy.cuda.nccl API."""
    name = "nccl"

    def __init__(self):
        super().__init__()
        cp = backend.cupy()
        try:
            from cupy.cuda import nccl
            nccl.get_version()
        except (ImportError, AttributeError, RuntimeError) as e:
            raise DistributedError(f"backend 'nccl' needs CuPy built with NCCL (pip install nvidia-nccl-cu12 or "
                                   f"conda's nccl) ({e}); SCRATCHNET_DIST_BACKEND=mpi stages GPU arrays through "
                                   "the host instead") from None
        self.cp, self.nccl = cp, nccl
        ndev = cp.cuda.runtime.getDeviceCount()
        local = launcher_world()
        local_rank = launcher_local_rank(self.rank)
        if local and local[2] > ndev:
            raise DistributedError(f"backend 'nccl': {local[2]} ranks on this node but {ndev} GPU(s); NCCL needs one "
                                   "GPU per rank (it refuses two ranks on one GPU)")
        cp.cuda.Device(local_rank % ndev).use()
        backend.set_default_device(f"cuda:{local_rank % ndev}")
        uid = self.comm.bcast(nccl.get_unique_id() if self.rank == 0 else None, root=0)
        self.nc = nccl.NcclCommunicator(self.size, uid, self.rank)
        self.types = {numpy.dtype(k): getattr(nccl, v) for k, v in (
            ("float16", "NCCL_FLOAT16"), ("float32", "NCCL_FLOAT32"), ("float64", "NCCL_FLOAT64"),
            ("int32", "NCCL_INT32"), ("int64", "NCCL_INT64"), ("uint8", "NCCL_UINT8"), ("int8", "NCCL_INT8"))}
        self.nops = {ReduceOp.SUM: nccl.NCCL_SUM, ReduceOp.PRODUCT: nccl.NCCL_PROD, ReduceOp.MIN: nccl.NCCL_MIN,
                     ReduceOp.MAX: nccl.NCCL_MAX, ReduceOp.AVG: nccl.NCCL_SUM}

    def _dev(self, array):
        if backend.get_array_module(array) is numpy:
            return None        # host arrays (metadata, counts) take the MPI path
        if array.dtype not in self.types:
            raise DistributedError(f"backend 'nccl' cannot move dtype {array.dtype}")
        return self.cp.ascontiguousarray(array)

    def all_reduce(self, array, op):
        buf = self._dev(array)
        if buf is None:
            return super().all_reduce(array, op)
        stream = self.cp.cuda.get_current_stream().ptr
        self.nc.allReduce(buf.data.ptr, buf.data.ptr, buf.size, self.types[buf.dtype], self.nops[op], stream)
        if op == ReduceOp.AVG:
            buf /= self.size
        if buf is not array:
            array[...] = buf
        return array

    def broadcast(self, array, src):
        buf = self._dev(array)
        if buf is None:
            return super().broadcast(array, src)
        self.nc.bcast(buf.data.ptr, buf.size, self.types[buf.dtype], src, self.cp.cuda.get_current_stream().ptr)
        if buf is not array:
            array[...] = buf
        return array

    def all_gather(self, array):
        buf = self._dev(array)
        if buf is None:
            return super().all_gather(array)
        out = self.cp.empty((self.size,) + buf.shape, buf.dtype)
        self.nc.allGather(buf.data.ptr, out.data.ptr, buf.size, self.types[buf.dtype],
                          self.cp.cuda.get_current_stream().ptr)
        return list(out)
