"""Shared test set-up: Hypothesis profiles, the device every test runs on, and the optional PyTorch reference."""
import contextlib
import importlib
import os

import numpy
import pytest
from hypothesis import HealthCheck, settings

import scratchnet

# CI and the README's `make test` use "ci": 100 derandomized examples per property. "dev" is for quick local runs.
settings.register_profile("ci", max_examples=100, derandomize=True, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("dev", max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def _no_deferred_errors_across_tests():
    """A check deferred to the next sync point (GPU) belongs to the test that made it, not to the next one."""
    yield
    from scratchnet import backend
    backend._pending_checks.clear()


@pytest.fixture
def device():
    """The device under test: $SCRATCHNET_DEVICE (cpu unless set), so one suite runs on every backend."""
    return scratchnet.get_default_device()


@pytest.fixture
def transfer_counter(device):
    """cupy.standin.counting (counts device->host reads and host uploads) on the CuPy stand-in's cuda lane; the
    test is skipped elsewhere (the CPU has no transfers, real CuPy no counters)."""
    if device.type != "cuda":
        pytest.skip("counts CuPy stand-in transfers: runs under make test-gpu-sim")
    import cupy
    if not hasattr(cupy, "standin"):
        pytest.skip("real CuPy has no transfer counters")
    return cupy.standin.counting


def load_torch():
    """PyTorch, the reference. Missing is a skip for a user, but a failure in CI (SCRATCHNET_REQUIRE_TORCH=1)."""
    try:
        torch = importlib.import_module("torch")
    except ImportError:
        if os.environ.get("SCRATCHNET_REQUIRE_TORCH"):
            raise
        pytest.skip("PyTorch not installed (make torch): reference comparison not run")
    torch.set_default_dtype(torch.float64)
    return torch


@pytest.fixture
def torch():
    return load_torch()


def to_np(t):
    return numpy.asarray(t.detach().cpu().numpy() if hasattr(t, "detach") else t)


@contextlib.contextmanager
def fft_everywhere():
    """Every stride-1, ungrouped, undilated 2-D convolution takes the FFT route (scratchnet.ops.conv_fft), whatever
    its size, so that tests compare that route too (on the fast kernels, whatever SCRATCHNET_KERNELS says)."""
    from scratchnet.ops import conv
    with scratchnet.use_kernels("fast"), conv.force_route("fft"):
        yield


pytest_plugins = ["mpi_plugin"]   # `mpi` tests run under mpiexec, every rank in step (tests/mpi_plugin.py)
