"""GPU collectives in a world of one process: NCCL through CuPy, and MPI with CuPy arrays (staged via the host).

Needs a real GPU, CuPy with NCCL, and mpi4py (NCCL's unique id travels over MPI); skipped otherwise (the CuPy
stand-in has no NCCL). With 2+ GPUs, `SCRATCHNET_DEVICE=cuda mpiexec -n 2 python -m pytest -m mpi` runs the
2-rank tests over NCCL-free MPI with CuPy arrays.
"""
import numpy
import pytest


def _gpu_nccl():
    try:
        import cupy
        from cupy.cuda import nccl  # noqa: F401
        import mpi4py  # noqa: F401
        if getattr(cupy, "standin", None) is not None or cupy.cuda.runtime.getDeviceCount() < 1:
            return None
        return cupy
    except Exception:   # ImportError, or CUDA present but no driver/device
        return None


cp = _gpu_nccl()
pytestmark = pytest.mark.skipif(cp is None, reason="needs a GPU, CuPy with NCCL and mpi4py")


@pytest.mark.parametrize("kind", ["nccl", "mpi"])
def test_world_of_one_collectives_on_cupy_arrays(kind):
    from scratchnet.distributed.comm import _MPI, _NCCL
    world = _NCCL() if kind == "nccl" else _MPI()
    assert (world.rank, world.size) == (0, 1)
    for dtype in (numpy.float32, numpy.float64, numpy.int64):
        a = cp.arange(6, dtype=dtype).reshape(2, 3)
        assert world.all_reduce(a, "sum") is a
        numpy.testing.assert_array_equal(cp.asnumpy(a), numpy.arange(6).reshape(2, 3))
        world.all_reduce(a, "avg")
        world.broadcast(a, 0)
        numpy.testing.assert_array_equal(cp.asnumpy(a), numpy.arange(6).reshape(2, 3))
        (g,) = world.all_gather(a)
        assert isinstance(g, cp.ndarray)
        numpy.testing.assert_array_equal(cp.asnumpy(g), numpy.arange(6).reshape(2, 3))
    world.barrier()
