"""A CuPy stand-in for tests: CuPy's API over NumPy, with a device ndarray that keeps CuPy's host/device wall.

Not CuPy and not a GPU (see tests/cupy_standin/README.md). Functions are NumPy's, run as one counted "kernel" on the
current device; the rules they follow, with CuPy's documentation for each, are in `_core.py`.
"""
import numpy as _np

from . import _state
from ._core import ndarray, kernel as _kernel, view as _view, wrap as _wrap, unwrap as _unwrap, _new, \
    DeviceMismatchError  # noqa: F401
from . import cuda, random, fft, linalg, lib, standin  # noqa: F401

__version__ = "13.6.0+standin"
__standin__ = True


def asarray(a, dtype=None, order=None, copy=None, blocking=False):
    """cupy.asarray: a device array on the current device. Host data is uploaded; an array already there is
    returned as is (https://docs.cupy.dev/en/stable/reference/generated/cupy.asarray.html)."""
    if isinstance(a, ndarray):
        if a._dev != _state.current():
            _state.count("kernels", "peer copy")
            a = _new(a._a.copy(), _state.current())
        if dtype is not None and _np.dtype(dtype) != a.dtype:
            return a.astype(dtype)
        return a.copy() if copy else a
    if isinstance(a, (list, tuple)) and a and all(isinstance(v, ndarray) for v in a):
        return _kernel(lambda *vs: _np.stack(vs).astype(dtype) if dtype else _np.stack(vs), "array(list)", a, {})
    _state.count("h2d", f"asarray({type(a).__name__})")
    return _new(_np.array(a, dtype=dtype, order=order or "K", copy=True))


def array(obj, dtype=None, copy=True, order="K", subok=False, ndmin=0, blocking=False):
    out = asarray(obj, dtype=dtype, copy=copy)
    while out.ndim < ndmin:
        out = out[None]
    return out


def ascontiguousarray(a, dtype=None):
    """A C-contiguous array: `a` itself when it already is one (no kernel), else a copy."""
    if isinstance(a, ndarray) and a.flags.c_contiguous and (dtype is None or _np.dtype(dtype) == a.dtype):
        return a
    return _kernel(lambda x: _np.ascontiguousarray(x, dtype=dtype), "ascontiguousarray", (a,), {})


def shape(a):
    return a.shape if isinstance(a, ndarray) else _np.shape(a)


def ndim(a):
    return a.ndim if isinstance(a, ndarray) else _np.ndim(a)


def size(a, axis=None):
    return (a.size if axis is None else a.shape[axis]) if isinstance(a, ndarray) else _np.size(a, axis)


def asnumpy(a, stream=None, order="C", out=None, blocking=True):
    """cupy.asnumpy: the host copy of a device array (https://docs.cupy.dev/en/stable/reference/generated/
    cupy.asnumpy.html); anything else goes through numpy.asarray."""
    if isinstance(a, ndarray):
        return a.get(stream=stream, order=order, out=out)
    return _np.asarray(a, order=order)


def get_array_module(*args):
    """cupy if any argument is a cupy.ndarray, else numpy
    (https://docs.cupy.dev/en/stable/reference/generated/cupy.get_array_module.html)."""
    import sys
    return sys.modules[__name__] if any(isinstance(a, ndarray) for a in args) else _np


class ufunc:
    """A NumPy ufunc as a CuPy ufunc: call, and the methods CuPy has (at, reduce, accumulate, reduceat, outer;
    https://docs.cupy.dev/en/stable/reference/ufunc.html)."""

    def __init__(self, np_ufunc):
        self._u = np_ufunc
        self.__name__ = np_ufunc.__name__
        self.nin, self.nout, self.types = np_ufunc.nin, np_ufunc.nout, np_ufunc.types

    def __call__(self, *args, **kwargs):
        return _kernel(self._u, self.__name__, args, kwargs)

    def at(self, a, indices, b=None):
        if not isinstance(a, ndarray):
            raise TypeError(f"Unsupported type {type(a)}")
        idx = _core_index(indices)
        args = (a, idx) if b is None else (a, idx, b)
        _kernel(self._u.at, f"{self.__name__}.at", args, {})

    def reduce(self, a, axis=0, dtype=None, out=None, keepdims=False):
        return _kernel(self._u.reduce, f"{self.__name__}.reduce", (a,),
                       dict(axis=axis, dtype=dtype, out=out, keepdims=keepdims))

    def accumulate(self, a, axis=0, dtype=None, out=None):
        return _kernel(self._u.accumulate, f"{self.__name__}.accumulate", (a,), dict(axis=axis, dtype=dtype, out=out))

    def reduceat(self, a, indices, axis=0, dtype=None, out=None):
        return _kernel(self._u.reduceat, f"{self.__name__}.reduceat", (a, indices),
                       dict(axis=axis, dtype=dtype, out=out))

    def outer(self, a, b, **kwargs):
        return _kernel(self._u.outer, f"{self.__name__}.outer", (a, b), kwargs)


def _core_index(indices):
    from ._core import _host_index
    idx, _, _ = _host_index(indices)
    return tuple(_new(i) if isinstance(i, _np.ndarray) else i for i in idx) if isinstance(idx, tuple) else \
        (_new(idx) if isinstance(idx, _np.ndarray) else idx)


# NumPy names CuPy re-exports as they are: dtypes, constants, type helpers (no arrays involved).
_PASS = {
    "bool_", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float16", "float32",
    "float64", "complex64", "complex128", "intp", "uintp", "byte", "ubyte", "short", "ushort", "intc", "uintc",
    "longlong", "ulonglong", "single", "double", "half", "csingle", "cdouble", "integer", "floating",
    "complexfloating", "number", "signedinteger", "unsignedinteger", "inexact", "generic", "dtype", "finfo", "iinfo",
    "result_type", "promote_types", "can_cast", "issubdtype", "min_scalar_type", "common_type", "isscalar",
    "broadcast_shapes", "newaxis", "pi", "e", "inf", "nan", "euler_gamma",
}
_NO_KERNEL = {"empty"}
# Views: no kernel, no copy; the result stays on the input's device.
_VIEWS = {"reshape", "transpose", "moveaxis", "swapaxes", "rollaxis", "expand_dims", "squeeze", "broadcast_to",
          "broadcast_arrays", "atleast_1d", "atleast_2d", "atleast_3d", "split", "array_split", "diagonal", "flip",
          "fliplr", "flipud", "real", "imag", "ravel"}
# Output size depends on the data: CuPy reads a count back to the host before allocating.
_SYNC = {"nonzero", "flatnonzero", "argwhere", "unique", "compress", "extract"}
_LIKE = {"zeros_like", "ones_like", "full_like", "empty_like"}
_cache = {}


def __getattr__(name):
    if name in _cache:
        return _cache[name]
    if name.startswith("__"):
        raise AttributeError(name)
    if name in _PASS:
        return getattr(_np, name)
    target = getattr(_np, name, None)
    if target is None or not callable(target):
        raise AttributeError(f"module 'cupy' has no attribute '{name}' (stand-in)")
    if isinstance(target, _np.ufunc):
        fn = ufunc(target)
    elif name in _LIKE:
        def fn(a, *args, _f=target, _n=name, **kwargs):
            # shape and dtype only: allocated on the current device whatever a's device is
            proto = a._a if isinstance(a, ndarray) else a
            if isinstance(proto, _np.ndarray) and not isinstance(a, ndarray):
                raise TypeError(f"Unsupported type {type(a)}")
            if _n != "empty_like":
                _state.count("kernels", _n)
            return _new(_f(proto, *args, **kwargs))
    elif name in _VIEWS:
        def fn(a, *args, _f=target, _n=name, **kwargs):
            return _view(_f, _n, a, args, kwargs)
    elif name in _NO_KERNEL:
        def fn(*args, _f=target, **kwargs):
            return _wrap(_f(*[_unwrap(a, name) for a in args], **kwargs))
    else:
        def fn(*args, _f=target, _n=name, **kwargs):
            if _n in _SYNC or (_n == "where" and len(args) == 1):
                _state.count("d2h", f"{_n} (output size)")
            return _kernel(_f, _n, args, kwargs)
    fn.__name__ = name
    _cache[name] = fn
    return fn
