"""Tensor: an array plus the graph edge that made it (`_ctx`, the Function; see autograd.py), and the `tensor(data)`
factory. Grad mode (no_grad, enable_grad, ...) is in grad_mode.py; its names are importable from here too.

`scratchnet.tensor` is this module, and calling it is `tensor(data, ...)`, as PyTorch users write
`torch.tensor([1.0, 2.0])`: `import scratchnet.tensor` and `from scratchnet.tensor import Tensor` find the module,
`scratchnet.tensor([1.0, 2.0])` makes a tensor (PyTorch itself keeps its Tensor class in `torch._tensor`, so that
`torch.tensor` can be a plain function; one name that is both keeps both of PyTorch's spellings working here).
"""
import sys
import types

import numpy

from . import backend
from .errors import ShapeError
from .grad_mode import _Mode, is_grad_enabled, set_grad_enabled, no_grad, enable_grad  # noqa: F401  (grad mode's home)


class Tensor:
    """An n-dimensional array that remembers how it was made.

    `data` is the raw NumPy or CuPy array; `_ctx` the Function that produced it (None for a leaf); `grad` is filled
    by `backward()` for leaves that require grad. `backward()` is the engine's (autograd.py installs it), the
    operators and op methods are the ops' (ops/methods.py installs them): this class is the data structure alone.
    """

    __slots__ = ("data", "grad", "requires_grad", "_ctx", "_gen", "_retain", "_vc", "__weakref__")
    __array_ufunc__ = None  # make NumPy hand `ndarray * tensor` to Tensor.__rmul__ instead of converting us
    __hash__ = object.__hash__

    def __init__(self, data, requires_grad=False):
        # NumPy returns 0-d results as scalars: keep every Tensor an ndarray (the `type` test costs no call)
        if type(data) is not numpy.ndarray and isinstance(data, numpy.generic):
            data = numpy.asarray(data)
        self.data = data
        self.grad = None
        self.requires_grad = requires_grad
        self._ctx = None
        self._gen = 0
        self._retain = False
        self._vc = [0]  # the version counter, one list shared by a tensor and its views: [number of in-place writes]

    # ---- what it is ----
    shape = property(lambda self: self.data.shape, doc="The size of each dimension, a tuple (PyTorch's torch.Size).")
    ndim = property(lambda self: self.data.ndim, doc="The number of dimensions.")
    dtype = property(lambda self: self.data.dtype, doc="The element type, a NumPy dtype (float32 by default).")
    is_leaf = property(lambda self: self._ctx is None,
                       doc="True for a tensor no recorded op made (created by the user, or cut with detach()).")
    grad_fn = property(lambda self: self._ctx, doc="The Function that made this tensor (None for a leaf).")

    @property
    def _version(self):
        """How many times this tensor (or a view sharing its memory) was changed in place, as PyTorch's
        `_version`: a Function remembers the versions of what it saved, and backward refuses stale ones."""
        return self._vc[0]

    @property
    def device(self):
        """The Device the data lives on: cpu, or cuda:N."""
        return backend.device_of(self.data)

    def size(self, dim=None):
        """x.size() is the shape; x.size(dim) the size of one dimension."""
        return self.data.shape if dim is None else self.data.shape[dim]

    def dim(self):
        """The number of dimensions (x.ndim)."""
        return self.data.ndim

    def numel(self):
        """The number of elements, the product of the shape."""
        return int(self.data.size)

    def element_size(self):
        """The size of one element in bytes."""
        return self.data.itemsize

    def is_floating_point(self):
        """True for float16, float32 and float64 tensors."""
        return self.data.dtype.kind == "f"

    def __len__(self):
        """len(x): the size of the first dimension (a 0-d tensor has none: TypeError, as PyTorch)."""
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self):
        """Iterating a tensor yields x[0], x[1], ... along the first dimension, each in the graph.

        Forward:  y_i = x[i]
        Backward: dx = the y_i's gradients put back in their rows
        """
        return (self[i] for i in range(len(self)))

    def __repr__(self):
        body = numpy.array2string(backend.to_numpy(self.data), separator=", ", prefix="tensor(")
        extra = ""
        if self.data.dtype not in (numpy.float32, numpy.int64, numpy.bool_):
            extra += f", dtype={self.data.dtype}"
        if self.device != backend.CPU:
            extra += f", device='{self.device}'"
        if self._ctx is not None:
            extra += f", grad_fn=<{type(self._ctx).__name__.removesuffix('Fn')}Backward>"  # TanhFn -> TanhBackward
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    # ---- leaving the graph, changing device or dtype ----
    def numpy(self):
        """A host NumPy copy of the data."""
        return numpy.array(backend.to_numpy(self.data), copy=True)

    def __array__(self, dtype=None, copy=None):
        """numpy.asarray(x): the data of a CPU tensor; a GPU tensor refuses (copy it with .cpu() or .numpy())."""
        if self.device.type != "cpu":
            # as PyTorch and CuPy do: a device->host copy is never implicit
            raise TypeError(f"can't convert {self.device} device type tensor to numpy. Use Tensor.cpu() to copy the "
                            "tensor to host memory first (or .numpy() for a host copy)")
        a = backend.to_numpy(self.data)
        return a if dtype is None else a.astype(dtype, copy=False)

    def item(self):
        """The one element as a Python number (a sync point on a GPU)."""
        if self.data.size != 1:
            raise ShapeError(f"item() needs a tensor with one element, got shape {self.shape}")
        if type(self.data) is not numpy.ndarray:
            backend.run_pending_checks()  # a sync point: report what the device checked meanwhile
        return self.data.reshape(()).item()

    def tolist(self):
        """The data as nested Python lists of numbers (a host copy)."""
        return backend.to_numpy(self.data).tolist()

    def __bool__(self):
        """bool(x) of a one-element tensor (`if x:`), a sync point on a GPU."""
        return bool(self.item())

    def __float__(self):
        """float(x) of a one-element tensor."""
        return float(self.item())

    def __int__(self):
        """int(x) of a one-element tensor."""
        return int(self.item())

    def __index__(self):
        """A one-element integer tensor used as an index (`range(x)`, `seq[x]`)."""
        if self.data.dtype.kind not in "iu" or self.data.size != 1:
            raise TypeError(f"only integer tensors of one element can be used as an index, got {self.dtype}")
        return int(self.item())

    def detach(self):
        """x.detach(): the same data (shared, with its version counter), cut from the graph: a new leaf.

        Forward:  y = x
        Backward: none: no gradient flows back through detach
        """
        t = Tensor(self.data)
        t._vc = self._vc
        return t

    def detach_(self):
        """x.detach_(): x itself made a leaf, cut from the graph that made it, in place.

        Forward:  x <- x as a leaf
        Backward: none: no gradient flows back to what made x
        """
        self._ctx, self._gen, self.requires_grad = None, 0, False
        return self

    def requires_grad_(self, requires_grad=True):
        """Mark a leaf (a floating point one) as one whose gradient backward() collects in .grad; returns x."""
        if requires_grad and self.data.dtype.kind not in "fc":
            raise TypeError(f"only floating point tensors can require gradients, got dtype {self.dtype}")
        if not requires_grad and self._ctx is not None:
            raise RuntimeError("requires_grad_(False) on a non-leaf tensor: use detach() instead")
        self.requires_grad = requires_grad
        return self

    def retain_grad(self):
        """Keep `.grad` for this non-leaf tensor too."""
        self._retain = True
        return self

    def cpu(self):
        """x.cpu(): x copied to host memory (x itself when it is there).

        Forward:  y = x on the CPU
        Backward: dx = gy moved back to x's device
        """
        return self.to("cpu")

    def cuda(self, index=None):
        """x.cuda(index=None): x copied to the current (or the given) GPU.

        Forward:  y = x on cuda[:index]
        Backward: dx = gy moved back to x's device
        """
        return self.to("cuda" if index is None else f"cuda:{index}")

    def float(self):
        """x.float(): x converted to float32 (x itself when it is one already).

        Forward:  y = x as float32
        Backward: dx = gy converted back to x's dtype
        """
        return self.astype(numpy.float32)

    def double(self):
        """x.double(): x converted to float64 (x itself when it is one already).

        Forward:  y = x as float64
        Backward: dx = gy converted back to x's dtype
        """
        return self.astype(numpy.float64)

    def half(self):
        """x.half(): x converted to float16 (x itself when it is one already).

        Forward:  y = x as float16
        Backward: dx = gy converted back to x's dtype
        """
        return self.astype(numpy.float16)

    def long(self):
        """x.long(): x converted to int64 (x itself when it is one already).

        Forward:  y = x as int64
        Backward: not differentiable (an integer or bool result carries no gradient)
        """
        return self.astype(numpy.int64)

    def int(self):
        """x.int(): x converted to int32 (x itself when it is one already).

        Forward:  y = x as int32
        Backward: not differentiable (an integer or bool result carries no gradient)
        """
        return self.astype(numpy.int32)

    def bool(self):
        """x.bool(): x converted to bool (x itself when it is one already).

        Forward:  y = x as bool
        Backward: not differentiable (an integer or bool result carries no gradient)
        """
        return self.astype(numpy.bool_)

    # ---- in place: every write bumps the version counter (ops/inplace.py records differentiable ones) ----
    def _check_inplace(self, what):
        if _Mode.grad_enabled and self.requires_grad and self._ctx is None:
            raise RuntimeError(f"a leaf Variable that requires grad is being used in an in-place operation: {what} "
                               "on a leaf tensor that requires grad; wrap it in `with no_grad():`")

    def _bump(self):
        self._vc[0] += 1


# ---- the factory ----

# The dtypes a tensor may hold: PyTorch's, less bfloat16 (NumPy has none). Anything else (float128, strings,
# objects, datetimes) is refused, as torch.tensor refuses it, rather than silently cast.
_HOLDABLE = frozenset(numpy.dtype(d) for d in (
    "bool", "uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64",
    "float16", "float32", "float64", "complex64", "complex128"))
# A Python number's own dtype in PyTorch (float and complex follow the default float dtype, float32).
_PYTHON_NUMBER = ((bool, numpy.dtype(bool)), (int, numpy.dtype(numpy.int64)),
                  (float, numpy.dtype(numpy.float32)), (complex, numpy.dtype(numpy.complex64)))
_PLAIN = frozenset(kind for kind, _ in _PYTHON_NUMBER)


def holdable(dtype, what):
    """`dtype` if a tensor can hold it, else a TypeError naming `what` and the dtypes it can hold."""
    if dtype not in _HOLDABLE:
        raise TypeError(f"tensor(): cannot make a tensor from {what} of dtype {dtype}; the supported dtypes are "
                        + ", ".join(sorted(str(d) for d in _HOLDABLE)))
    return dtype


def _inferred_dtype(data):
    """The dtype torch.tensor(data) gives: an array's, Tensor's or NumPy scalar's own dtype; a Python number's
    PyTorch default (bool, int64, float32, complex64); a (nested) sequence's items' dtypes promoted together, as
    PyTorch promotes them (so [1, 2.5] is float32 but [np.float64(1), 2] is float64); an empty one float32.
    None when the data is something else (an object with __array__), whose NumPy dtype then decides."""
    for kind, dtype in _PYTHON_NUMBER:
        if type(data) is kind:
            return dtype
    if isinstance(data, Tensor):
        return data.dtype
    if isinstance(data, (numpy.ndarray, numpy.generic)) or backend._is_cupy_array(data):
        return holdable(numpy.dtype(data.dtype), type(data).__name__)
    if isinstance(data, (list, tuple)):
        kinds = {type(item) for item in data}
        if kinds and kinds <= _PLAIN:  # a row of Python numbers (the common, long case), answered in one pass
            return next(dtype for kind, dtype in _PYTHON_NUMBER[::-1] if kind in kinds)
        from .ops.promotion import promote_types  # ops import this module: a late import breaks the cycle
        result = None
        for item in data:
            dtype = _inferred_dtype(item)
            if dtype is None:
                return None
            result = promote_types(result, dtype)
        return numpy.dtype(numpy.float32) if result is None else result
    for kind, dtype in _PYTHON_NUMBER[::-1]:  # subclasses of Python numbers (an IntEnum): the base's dtype
        if isinstance(data, kind):
            return dtype
    return None


def _host(data):
    """A (nested) list's Tensors as host arrays, so NumPy can stack them (a device Tensor refuses __array__)."""
    if isinstance(data, Tensor):
        return backend.to_numpy(data.data)
    if isinstance(data, (list, tuple)) and any(isinstance(item, (Tensor, list, tuple)) for item in data):
        return [_host(item) for item in data]
    return data


def tensor(data, dtype=None, device=None, requires_grad=False):
    """tensor(data, dtype=None, device=None, requires_grad=False): a new leaf tensor holding a copy of `data` (a
    number, nested list, NumPy/CuPy array or Tensor). Without dtype=, the dtype is PyTorch's: a NumPy/CuPy
    array, NumPy scalar or Tensor keeps its own (float64 stays float64, int32 int32, uint8 uint8), a Python float
    is float32 (the default float dtype), an int int64, a bool bool, a complex complex64, and a list promotes its
    items' dtypes. So code that means float32 from a float64 NumPy array says dtype=float32.

    Forward:  y = a copy of data, converted to dtype on device
    Backward: none: a new leaf (requires_grad=True makes autograd collect its .grad)
    """
    inferred = _inferred_dtype(data) if dtype is None else None
    if dtype is not None:
        dtype = holdable(numpy.dtype(dtype), "dtype= argument")
    if isinstance(data, Tensor):
        data = data.data
    dev = backend.device(device) if device is not None else (
        backend.device_of(data) if backend._is_cupy_array(data) else backend.get_default_device())
    xp = backend.xp_for(dev)
    with backend.using(dev):
        if xp is numpy:
            array = numpy.array(backend.to_numpy(data), copy=True)
        else:
            array = xp.array(data, copy=True) if backend._is_cupy_array(data) else \
                xp.asarray(numpy.asarray(_host(data)))
        if dtype is None:
            dtype = inferred if inferred is not None else holdable(array.dtype, type(data).__name__)
            # Python ints past int64 (NumPy made them uint64 or float64): wrapping would be a silent wrong answer
            if dtype == numpy.int64 and array.dtype.kind in "uf":
                raise OverflowError("tensor(): a Python integer in data is too large for int64 (PyTorch: Overflow "
                                    "when unpacking long)")
        if array.dtype != dtype:
            array = array.astype(dtype)
    t = Tensor(array)
    return t.requires_grad_(True) if requires_grad else t


class _TensorModule(types.ModuleType):
    """This module's type: a module that, called, makes a tensor (see the module's docstring)."""

    def __call__(self, data, dtype=None, device=None, requires_grad=False):
        return tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)

    __call__.__doc__ = tensor.__doc__


sys.modules[__name__].__class__ = _TensorModule
