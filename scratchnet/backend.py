"""The array backend: NumPy on the CPU, CuPy on an NVIDIA GPU, chosen per array.

Every op asks `get_array_module(x)` for its `xp` and never names numpy or cupy itself, so one code path serves
both. CuPy is imported only when a GPU is asked for.
"""
import contextlib
import functools
import os

import numpy

_cupy = None
_default_device = None


class BackendError(RuntimeError):
    """A device was asked for that this machine cannot provide."""


def cupy():
    """Import CuPy on first use; a clear error says how to install it when it is missing or has no GPU."""
    global _cupy
    if _cupy is None:
        try:
            import cupy as cp
        except ImportError as e:
            raise BackendError(
                "device 'cuda' needs CuPy, which is not installed: pip install 'scratchnet[gpu]' "
                "(CUDA 12: cupy-cuda12x; CUDA 13: cupy-cuda13x)") from e
        try:
            count = cp.cuda.runtime.getDeviceCount()
        except Exception as e:  # CuPy raises its own CUDARuntimeError when no driver is present
            raise BackendError(f"device 'cuda' asked for, but CuPy finds no usable GPU: {e}") from e
        if count == 0:
            raise BackendError("device 'cuda' asked for, but CuPy finds no GPU on this machine")
        _cupy = cp
    return _cupy


def _is_cupy_array(a):
    return type(a).__module__.startswith("cupy")


class Device:
    """A device: `Device("cpu")`, `Device("cuda")`, `Device("cuda:1")`. Compares equal to its string form."""

    __slots__ = ("type", "index")

    def __init__(self, spec="cpu", index=None):
        if isinstance(spec, Device):
            spec, index = spec.type, spec.index
        if not isinstance(spec, str):
            raise TypeError(f"device must be a string like 'cpu', 'cuda' or 'cuda:0', got {spec!r}")
        kind, _, num = spec.partition(":")
        if kind not in ("cpu", "cuda") or (num and not num.isdigit()) or (kind == "cpu" and num):
            raise ValueError(f"unknown device {spec!r}: expected 'cpu', 'cuda' or 'cuda:N'")
        self.type = kind
        self.index = int(num) if num else index
        if kind == "cuda" and self.index is None:
            self.index = 0

    def __eq__(self, other):
        if isinstance(other, str):
            try:
                other = Device(other)
            except ValueError:
                return False
        return isinstance(other, Device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self):
        return hash((self.type, self.index))

    def __str__(self):
        return self.type if self.type == "cpu" else f"cuda:{self.index}"

    def __repr__(self):
        return f"device('{self}')"


CPU = Device("cpu")


def device(spec=None):
    """Normalise a device spec (None means the default device)."""
    if spec is None:
        return get_default_device()
    return spec if isinstance(spec, Device) else Device(spec)


def get_default_device():
    """The device new tensors go to: `set_default_device()`, else $SCRATCHNET_DEVICE, else cpu."""
    global _default_device
    if _default_device is None:
        set_default_device(os.environ.get("SCRATCHNET_DEVICE", "cpu") or "cpu")
    return _default_device


def set_default_device(spec):
    """Make `spec` the device new tensors go to. A GPU also becomes this thread's current CUDA device (as
    torch.cuda.set_device), so array code outside scratchnet's ops runs there too; scratchnet's own ops make
    their tensors' device current themselves, whatever the default."""
    global _default_device
    dev = Device(spec)
    if dev.type == "cuda":
        cupy().cuda.Device(dev.index).use()
    _default_device = dev


def get_array_module(*arrays):
    """numpy, or cupy if any argument is a CuPy array (Chainer's `xp`). Tensors are looked through."""
    for a in arrays:
        if type(a) is numpy.ndarray:  # the common case, settled without a call
            continue
        a = getattr(a, "data", a) if not isinstance(a, numpy.ndarray) else a
        if _is_cupy_array(a):
            return cupy()
    return numpy


def xp_for(dev):
    """The array module that holds arrays on device `dev`."""
    return numpy if device(dev).type == "cpu" else cupy()


def device_of(array):
    """The Device an array lives on. Anything else that carries a `Device` as `.device` (the engine's stand-in for
    a freed array) answers for itself."""
    if type(array) is numpy.ndarray:
        return CPU
    if _is_cupy_array(array):
        return Device("cuda", array.device.id)
    dev = getattr(array, "device", None)
    return dev if isinstance(dev, Device) else CPU


def to_device(array, dev):
    """Move (or keep) an array on device `dev`; returns the same array when it is already there."""
    dev = device(dev)
    if dev.type == "cpu":
        return to_numpy(array)
    cp = cupy()
    with cp.cuda.Device(dev.index):
        if _is_cupy_array(array) and array.device.id == dev.index:
            return array
        return cp.asarray(array)


def to_numpy(array):
    """A host (NumPy) copy-or-view of any backend array. A sync point: deferred checks are reported here."""
    if _is_cupy_array(array):
        run_pending_checks()
        return array.get()
    return numpy.asarray(array)


def using(dev):
    """A context manager that makes `dev` current for array creation (a no-op on the CPU)."""
    dev = device(dev)
    if dev.type == "cpu":
        return _NULL
    return cupy().cuda.Device(dev.index)


def on(array):
    """A context that makes `array`'s device current (a no-op for host arrays): CuPy allocates and launches kernels
    on the current device, so work on a cuda:1 array must run with device 1 current."""
    if type(array) is numpy.ndarray or not _is_cupy_array(array):
        return _NULL
    return cupy().cuda.Device(array.device.id)


_NULL = contextlib.nullcontext()


def follows_device(fn):
    """Decorator: run fn with the device of its first argument (a Tensor or an array) current; a plain call on the
    CPU. For functions that work on raw device arrays outside a Function (casts, comparisons, checks)."""
    @functools.wraps(fn)
    def wrapper(x, *args, **kwargs):
        data = x.data if hasattr(x, "_ctx") else x
        if _cupy is None or type(data) is numpy.ndarray:
            return fn(x, *args, **kwargs)
        with on(data):
            return fn(x, *args, **kwargs)
    return wrapper


# ---- checks deferred to the next sync point (a GPU never waits for a validity test inside a step) ----

_pending_checks = []


def check_later(flag, make_error):
    """Raise make_error() at the next sync point if the 0-d device array `flag` is true. On the CPU (a NumPy flag)
    the check runs now. The GPU way, as PyTorch's device-side asserts: a training step is not stalled by a test of
    its inputs, and a bad input is reported at the next read of a value (Tensor.item/tolist/numpy, to_numpy)."""
    if type(flag) is not numpy.ndarray and not isinstance(flag, (bool, numpy.bool_)):
        _pending_checks.append((flag, make_error))
        if len(_pending_checks) > 256:  # bounded: a loop that never reads a value still gets its errors
            run_pending_checks()
    elif bool(flag):
        raise make_error()


def run_pending_checks():
    """Read the deferred flags (one device->host transfer each) and raise the first failed check's error."""
    if not _pending_checks:
        return
    checks = _pending_checks[:]
    _pending_checks.clear()
    for flag, make_error in checks:
        with on(flag):
            failed = bool(flag)
        if failed:
            raise make_error()


def scatter_add(xp, target, index, values):
    """target[index] += values, where repeated indices add up (np.add.at; cupyx.scatter_add on the GPU)."""
    if xp is numpy:
        rows = index[0] if isinstance(index, tuple) and len(index) == 1 else index
        if isinstance(rows, numpy.ndarray) and rows.ndim == 1 and rows.dtype.kind in "iu" and target.ndim > 1 \
                and rows.size and rows.min() >= 0 and values.shape == rows.shape + target.shape[1:]:
            # whole rows (an embedding's backward): add.at walks them one element at a time, 25x slower than
            # sorting the rows by target, summing each run with reduceat and adding every sum once
            order = numpy.argsort(rows, kind="stable")
            rows = rows[order]
            starts = numpy.flatnonzero(numpy.r_[True, rows[1:] != rows[:-1]])
            target[rows[starts]] += numpy.add.reduceat(values[order], starts, axis=0)
        else:
            numpy.add.at(target, index, values)
    else:
        # ufunc.at (CuPy 13+), not the deprecated cupyx.scatter_add (a DeprecationWarning on every call)
        at = getattr(xp.add, "at", None)
        if at is not None:
            at(target, index, values)
        else:
            import cupyx
            cupyx.scatter_add(target, index, values)
    return target


# CPU tuning is a module of its own (scratchnet.cputune); its public names stay reachable here, where the kernels ask
# for them. Random generators are scratchnet.rng, which builds on this module: import them from there.
from .cputune import (tune_allocator, one_blas_thread, blas_threads, blas_core, num_threads,  # noqa: E402,F401
                      set_num_threads, chunks, over_batch, parallel_for)

_MOVED_TO_RNG = {"manual_seed", "DeviceGenerator", "generator", "get_rng_state", "set_rng_state", "sharded_rows",
                 "random_normal", "random_uniform", "random_integers"}


def __getattr__(name):
    """`backend.manual_seed` and the other generator names, for code written before they moved to scratchnet.rng.
    Looked up on use, not imported here: rng imports this module, so an import here would make a cycle."""
    if name in _MOVED_TO_RNG:
        import importlib
        return getattr(importlib.import_module(".rng", __package__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
