"""The stand-in's ndarray: a NumPy array that lives on a fake device and keeps CuPy's host/device wall.

Modelled behaviours and where CuPy documents them:
- No implicit conversion to NumPy: `__array__` raises TypeError, and NumPy's array functions refuse it. "cupy.ndarray
  and numpy.ndarray are not implicitly convertible to each other. That means, NumPy functions cannot take
  cupy.ndarrays as inputs, and vice versa." (https://docs.cupy.dev/en/stable/reference/ndarray.html, "Conversion
  to/from NumPy arrays"; the message is CuPy's own, `_ndarray_base.__array__`). NumPy *ufuncs* on device arrays
  dispatch to CuPy's through `__array_ufunc__` (https://docs.cupy.dev/en/stable/user_guide/interoperability.html,
  "NumPy"); a NumPy array operand is refused with CuPy's "Unsupported type" TypeError.
- Explicit transfers only: `.get()`, `cupy.asnumpy`, `cupy.asarray` (same ndarray page), each counted.
- Reductions return 0-d device arrays, not NumPy scalars
  (https://docs.cupy.dev/en/stable/user_guide/difference.html, "Reduction methods").
- Arrays remember their device (`ndarray.device`, https://docs.cupy.dev/en/stable/reference/generated/
  cupy.ndarray.html); kernels run on the current device, and an array on another one is an error here ("CuPy
  functions expect that the array is on the same device as the current one", https://docs.cupy.dev/en/stable/
  user_guide/basic.html, "Current Device"; real CuPy may allow it with peer access, the stand-in takes the strict
  reading so that code which forgets `with Device(i)` fails on a one-GPU-per-process CI).
- Integer-array indexing takes index arrays from the host (uploaded); boolean masks and nonzero need the output
  size, a device->host read.
"""
import numpy

from . import _state

_IMPLICIT = "Implicit conversion to a NumPy array is not allowed. Please use `.get()` to construct a NumPy array explicitly."


class DeviceMismatchError(ValueError):
    pass


def _mismatch(dev, what):
    return DeviceMismatchError(
        f"{what}: the array is on device {dev} but the current device is {_state.current()} "
        f"(use `with cupy.cuda.Device({dev}):` around work on that array)")


def _new(a, dev=None):
    out = object.__new__(ndarray)
    out._a = a
    out._dev = _state.current() if dev is None else dev
    return out


def unwrap(x, what, dev=None):
    """The NumPy data of a kernel argument; refuses host arrays and arrays on a non-current device."""
    if isinstance(x, ndarray):
        want = _state.current() if dev is None else dev
        if x._dev != want:
            raise _mismatch(x._dev, what)
        return x._a
    if isinstance(x, numpy.ndarray):
        raise TypeError(f"Unsupported type {type(x)}")
    if isinstance(x, (list, tuple)) and any(isinstance(v, (ndarray, numpy.ndarray, list, tuple)) for v in x):
        return type(x)(unwrap(v, what, dev) for v in x)
    return x


def wrap(res, dev=None):
    """Results of a kernel: NumPy arrays and scalars become device arrays (reductions give 0-d arrays)."""
    if isinstance(res, numpy.ndarray):
        return _new(res, dev)
    if isinstance(res, numpy.generic):
        return _new(numpy.asarray(res), dev)
    if isinstance(res, tuple):
        return tuple(wrap(r, dev) for r in res)
    if isinstance(res, list):
        return [wrap(r, dev) for r in res]
    return res


def kernel(fn, name, args, kwargs, kind="kernels"):
    """Run fn on unwrapped arguments as one kernel on the current device; `out=` arrays are written in place."""
    out = kwargs.get("out")
    args = [unwrap(a, name) for a in args]
    kwargs = {k: unwrap(v, name) for k, v in kwargs.items()}
    _state.count(kind, name)
    res = fn(*args, **kwargs)
    if isinstance(out, ndarray):
        return out
    return wrap(res)


def view(fn, name, x, args, kwargs):
    """A view (no kernel, no device check): the result stays on the device of the first array argument."""
    dev = next((a._dev for a in (x,) + tuple(args) if isinstance(a, ndarray)), _state.current())
    args = [unwrap(a, name, dev) for a in args]
    return wrap(fn(unwrap(x, name, dev), *args, **kwargs), dev)


def _host_index(idx):
    """Indices may hold host arrays or lists, which CuPy uploads; device index arrays must be on this device."""
    items = idx if isinstance(idx, tuple) else (idx,)
    out, fancy, mask = [], False, False
    for i in items:
        if isinstance(i, ndarray):
            fancy, mask = True, mask or i.dtype == numpy.bool_
            out.append(unwrap(i, "indexing"))
        elif isinstance(i, (numpy.ndarray, list)):
            _state.count("h2d", "index array from the host")
            a = numpy.asarray(i)
            fancy, mask = True, mask or a.dtype == numpy.bool_
            out.append(a)
        else:
            out.append(i)
    return (tuple(out) if isinstance(idx, tuple) else out[0]), fancy, mask


def _wrap_indices(idx, shape):
    """Out-of-bounds integer-array indices wrap around in CuPy instead of raising ("Out-of-bounds indices",
    https://docs.cupy.dev/en/stable/user_guide/difference.html); modelled for indices made of slices and integer
    arrays, one per leading axis."""
    items = idx if isinstance(idx, tuple) else (idx,)
    if len(items) > len(shape) or not all(isinstance(i, (slice, numpy.ndarray)) for i in items):
        return idx
    out = tuple(i % shape[k] if isinstance(i, numpy.ndarray) and i.dtype.kind in "iu" and shape[k] else i
                for k, i in enumerate(items))
    return out if isinstance(idx, tuple) else out[0]


def _binop(name, reflected=False):
    uf = getattr(numpy, name)

    def op(self, other):
        if isinstance(other, numpy.ndarray):
            raise TypeError(f"Unsupported type {type(other)}")
        if not isinstance(other, (ndarray, int, float, complex, bool, numpy.generic)):
            return NotImplemented
        args = (other, self) if reflected else (self, other)
        return kernel(uf, name, args, {})
    return op


def _iop(name):
    uf = getattr(numpy, name)

    def op(self, other):
        if isinstance(other, numpy.ndarray):
            raise TypeError(f"Unsupported type {type(other)}")
        kernel(uf, name, (self, other), {"out": self})
        return self
    return op


def _transfer(what):
    _state.count("d2h", what)


class ndarray:
    """cupy.ndarray(shape, dtype=float, ...): uninitialised memory on the current device."""

    __slots__ = ("_a", "_dev", "__weakref__")
    __array_priority__ = 100

    def __init__(self, shape, dtype=float, memptr=None, strides=None, order="C"):
        self._a = numpy.empty(shape, dtype, order=order)
        self._dev = _state.current()

    # ---- the host/device wall ----
    def __array__(self, dtype=None, copy=None):
        raise TypeError(_IMPLICIT)

    def __array_function__(self, func, types, args, kwargs):
        raise TypeError(f"{_IMPLICIT} (NumPy function numpy.{func.__name__} called on a cupy.ndarray: "
                        "use the cupy function)")

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        for x in inputs + tuple(kwargs.get("out", ())):
            if isinstance(x, numpy.ndarray):
                raise TypeError(f"Unsupported type {type(x)}")
        if "out" in kwargs:
            kwargs["out"] = kwargs["out"][0] if len(kwargs["out"]) == 1 else kwargs["out"]
        fn = ufunc if method == "__call__" else getattr(ufunc, method)
        return kernel(fn, f"{ufunc.__name__}.{method}", inputs, kwargs)

    def get(self, stream=None, order="C", out=None, blocking=True):
        _transfer("get")
        a = numpy.array(self._a, order=order)
        if out is not None:
            out[...] = a
            return out
        return a

    def set(self, arr, stream=None):
        _state.count("h2d", "set")
        self._a[...] = numpy.asarray(arr)

    def item(self, *args):
        _transfer("item")
        return self._a.item(*args)

    def tolist(self):
        _transfer("tolist")
        return self._a.tolist()

    def _scalar(self, cast, what):
        if self._a.size != 1:
            if cast is bool:
                raise ValueError("The truth value of an array with more than one element is ambiguous.")
            raise TypeError("only length-1 arrays can be converted to Python scalars")
        _transfer(what)
        return cast(self._a.reshape(()).item())

    __float__ = lambda self: self._scalar(float, "float()")
    __int__ = lambda self: self._scalar(int, "int()")
    __bool__ = lambda self: self._scalar(bool, "bool()")
    __complex__ = lambda self: self._scalar(complex, "complex()")

    def __index__(self):
        if self._a.ndim or self._a.dtype.kind not in "iub":
            raise TypeError("only integer scalar arrays can be converted to a scalar index")
        return self._scalar(int, "__index__")

    def __repr__(self):
        _transfer("repr")
        return repr(self._a)

    def __str__(self):
        _transfer("str")
        return str(self._a)

    def __format__(self, spec):
        _transfer("format")
        return format(self._a.item() if self._a.ndim == 0 else self._a, spec)

    # ---- metadata (no kernels) ----
    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    strides = property(lambda self: self._a.strides)
    itemsize = property(lambda self: self._a.itemsize)
    nbytes = property(lambda self: self._a.nbytes)
    flags = property(lambda self: self._a.flags)
    base = property(lambda self: None if self._a.base is None else _new(self._a.base, self._dev))

    @property
    def device(self):
        from .cuda import Device
        return Device(self._dev)

    @property
    def data(self):
        from .cuda.memory import MemoryPointer
        return MemoryPointer(self._a.__array_interface__["data"][0], self._dev)

    @shape.setter
    def shape(self, value):
        self._a.shape = value

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        return (_new(r, self._dev) for r in self._a) if self._a.ndim > 1 else \
            (_new(self._a[i:i + 1].reshape(()), self._dev) for i in range(len(self._a)))

    # ---- indexing ----
    def __getitem__(self, idx):
        idx, fancy, mask = _host_index(idx)
        if mask:
            _transfer("boolean-mask indexing (output size)")
        if fancy and not mask:
            idx = _wrap_indices(idx, self._a.shape)
        if fancy:
            _state.count("kernels", "getitem")
            if self._dev != _state.current():
                raise _mismatch(self._dev, "getitem")
        return _new(self._a[idx], self._dev)

    def __setitem__(self, idx, value):
        idx, _, mask = _host_index(idx)
        if isinstance(value, numpy.ndarray):
            _state.count("h2d", "setitem value from the host")
        elif isinstance(value, ndarray):
            value = unwrap(value, "setitem")
        if self._dev != _state.current():
            raise _mismatch(self._dev, "setitem")
        _state.count("kernels", "setitem")
        self._a[idx] = value

    # ---- methods ----
    def astype(self, dtype, order="K", casting=None, subok=None, copy=True):
        if not copy and numpy.dtype(dtype) == self._a.dtype:
            return self
        return kernel(lambda a: a.astype(dtype, order=order), "astype", (self,), {})

    def copy(self, order="C"):
        return kernel(lambda a: a.copy(order=order), "copy", (self,), {})

    def fill(self, value):
        kernel(lambda a: a.fill(value), "fill", (self,), {})

    def reshape(self, *shape, order="C"):
        if self._a.flags.c_contiguous or self._a.size <= 1:
            return view(lambda a: a.reshape(*shape, order=order), "reshape", self, (), {})
        return kernel(lambda a: a.reshape(*shape, order=order), "reshape (copy)", (self,), {})

    def ravel(self, order="C"):
        return self.reshape(-1, order=order)

    def flatten(self, order="C"):
        return kernel(lambda a: a.flatten(order), "flatten", (self,), {})

    def view(self, dtype=None):
        return view(lambda a: a.view() if dtype is None else a.view(dtype), "view", self, (), {})

    def transpose(self, *axes):
        return view(lambda a: a.transpose(*axes), "transpose", self, (), {})

    T = property(lambda self: self.transpose())
    real = property(lambda self: view(lambda a: a.real, "real", self, (), {}))
    imag = property(lambda self: view(lambda a: a.imag, "imag", self, (), {}))
    mT = property(lambda self: view(lambda a: a.mT, "mT", self, (), {}))

    def swapaxes(self, a1, a2):
        return view(lambda a: a.swapaxes(a1, a2), "swapaxes", self, (), {})

    def squeeze(self, axis=None):
        return view(lambda a: a.squeeze(axis), "squeeze", self, (), {})

    def diagonal(self, offset=0, axis1=0, axis2=1):
        return view(lambda a: a.diagonal(offset, axis1, axis2), "diagonal", self, (), {})

    def nonzero(self):
        _transfer("nonzero (output size)")
        return kernel(numpy.nonzero, "nonzero", (self,), {})

    def __getattr__(self, name):
        if name in _KERNEL_METHODS:
            fn = getattr(numpy.ndarray, name)
            return lambda *args, **kwargs: kernel(fn, name, (self,) + args, kwargs)
        raise AttributeError(f"'cupy.ndarray' object has no attribute '{name}'")

    def __copy__(self):
        return self.copy()

    def __deepcopy__(self, memo):
        return self.copy()

    def __reduce__(self):
        # pickling goes through the host, like CuPy's
        _transfer("pickle")
        return (_from_host, (self._a.copy(), self._dev))

    def __dlpack__(self, *a, **k):
        raise TypeError("the stand-in does not model DLPack")

    __hash__ = None

    __add__, __radd__, __iadd__ = _binop("add"), _binop("add", True), _iop("add")
    __sub__, __rsub__, __isub__ = _binop("subtract"), _binop("subtract", True), _iop("subtract")
    __mul__, __rmul__, __imul__ = _binop("multiply"), _binop("multiply", True), _iop("multiply")
    __truediv__, __rtruediv__, __itruediv__ = _binop("true_divide"), _binop("true_divide", True), _iop("true_divide")
    __floordiv__, __rfloordiv__ = _binop("floor_divide"), _binop("floor_divide", True)
    __mod__, __rmod__ = _binop("remainder"), _binop("remainder", True)
    __pow__, __rpow__, __ipow__ = _binop("power"), _binop("power", True), _iop("power")
    __matmul__, __rmatmul__ = _binop("matmul"), _binop("matmul", True)
    __and__, __rand__, __iand__ = _binop("bitwise_and"), _binop("bitwise_and", True), _iop("bitwise_and")
    __or__, __ror__, __ior__ = _binop("bitwise_or"), _binop("bitwise_or", True), _iop("bitwise_or")
    __xor__, __rxor__ = _binop("bitwise_xor"), _binop("bitwise_xor", True)
    __lshift__, __rshift__ = _binop("left_shift"), _binop("right_shift")
    __eq__, __ne__ = _binop("equal"), _binop("not_equal")
    __lt__, __le__, __gt__, __ge__ = _binop("less"), _binop("less_equal"), _binop("greater"), _binop("greater_equal")
    __neg__ = lambda self: kernel(numpy.negative, "negative", (self,), {})
    __pos__ = lambda self: kernel(numpy.positive, "positive", (self,), {})
    __abs__ = lambda self: kernel(numpy.absolute, "absolute", (self,), {})
    __invert__ = lambda self: kernel(numpy.invert, "invert", (self,), {})


_KERNEL_METHODS = {
    "sum", "prod", "mean", "var", "std", "max", "min", "argmax", "argmin", "all", "any", "cumsum", "cumprod",
    "clip", "dot", "take", "repeat", "sort", "argsort", "round", "conj", "conjugate", "trace", "ptp", "choose",
    "put", "partition", "argpartition", "compress",
}


def _from_host(a, dev):
    return _new(a, dev)
