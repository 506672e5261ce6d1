"""Making tensors: the factories (zeros, ones, full, arange, linspace, eye, randn, rand, randint, *_like), and
`tensor()` (defined in tensor.py, beside Tensor) under its usual name here too.

The factories make float32 unless `dtype=` says. tensor()/as_tensor() pick PyTorch's dtype: a NumPy/CuPy array or
NumPy scalar keeps its own (float64 stays float64, int32 int32), Python floats are float32 and ints int64; code that
means float32 from a float64 array says `dtype=`, which wins whenever it is given.
"""
import inspect

import numpy

from . import backend
from .rng import random_integers, random_normal, random_uniform
from .tensor import Tensor, holdable, tensor  # noqa: F401  (tensor(data) sits with Tensor)
from .errors import ShapeError
from .scalars import checked_scalar, is_scalar


def _dtype(dtype):
    return None if dtype is None else numpy.dtype(dtype)


def _finish(array, requires_grad):
    t = Tensor(array)
    if requires_grad:
        t.requires_grad_(True)
    return t


def as_tensor(data, dtype=None, device=None):
    """as_tensor(data, dtype=None, device=None): like tensor(), but a Tensor already of that dtype and device
    comes back as it is (still in its graph), and a NumPy/CuPy array already of that dtype and device is shared,
    not copied (writes show in both), as torch.as_tensor shares.

    Forward:  y = data itself if it already matches, else tensor(data, dtype, device)
    Backward: dy flows to data when data is returned as it is; otherwise none: a new leaf (requires_grad=True
              makes autograd collect its .grad)
    """
    if dtype is None or (isinstance(data, (Tensor, numpy.ndarray)) or backend._is_cupy_array(data)) \
            and data.dtype == numpy.dtype(dtype):
        if isinstance(data, Tensor):
            if device is None or data.device == backend.device(device):
                return data
        elif isinstance(data, numpy.ndarray) or backend._is_cupy_array(data):
            on_gpu = backend._is_cupy_array(data)
            here = backend.device_of(data) if on_gpu else backend.device("cpu")
            # where tensor() would put it: device= says, else a CuPy array stays put, a NumPy one goes to the default
            want = backend.device(device) if device is not None else here if on_gpu else backend.get_default_device()
            if here == want:
                holdable(numpy.dtype(data.dtype), type(data).__name__)
                return Tensor(data)
    return tensor(data, dtype=dtype, device=device)


def from_numpy(array):
    """from_numpy(ndarray): a CPU tensor on the NumPy array's own memory (writes show in both), keeping its
    dtype.

    Forward:  y = the array, shared
    Backward: none: a new leaf (requires_grad=True makes autograd collect its .grad)
    """
    return Tensor(numpy.asarray(array))


def _size(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    for s in size:
        if not isinstance(s, (int, numpy.integer)) or s < 0:
            raise ShapeError(f"size must be non-negative integers, got {tuple(size)}")
    return tuple(int(s) for s in size)


def _make(fill, size, dtype, device, requires_grad):
    dev = backend.device(device)
    xp = backend.xp_for(dev)
    with backend.using(dev):
        array = fill(xp, _size(size), _dtype(dtype) or numpy.dtype(numpy.float32))
    return _finish(array, requires_grad)


def zeros(*size, dtype=None, device=None, requires_grad=False):
    """zeros(*size, dtype=None, device=None, requires_grad=False): a tensor of zeros (float32 by default);
    size as ints or one tuple.

    Forward:  y[i] = 0 for every index of size
    Backward: none: a new leaf (requires_grad=True makes autograd collect its .grad)
    """
    return _make(lambda xp, s, d: xp.zeros(s, d), size, dtype, device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False):
    """ones(*size, dtype=None, device=None, requires_grad=False): a tensor of ones (float32 by default).

    Forward:  y[i] = 1 for every index of size
    Backward: none: a new leaf (requires_grad=True makes autograd collect its .grad)
    """
    return _make(lambda xp, s, d: xp.ones(s, d), size, dtype, device, requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False):
    """empty(*size, dtype=None, device=None, requires_grad=False): an uninitialised tensor (float32 by default).

    Forward:  y = whatever the memory holds, of the given size
    Backward: none: a new leaf (requires_grad=True makes autograd collect its .grad)
    """
    return _make(lambda xp, s, d: xp.empty(s, d), size, dtype, device, requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad=False):
    """full(size, fill_value, dtype=None, device=None, requires_grad=False): a tensor filled with fill_value
    (dtype from the value as PyTorch: int -> int64, bool -> bool, float -> float32).

    Forward:  y[i] = fill_value for every index of size
    Backward: none: a new leaf (requires_grad=True makes autograd collect its .grad)
    """
    if dtype is None:
        dtype = numpy.int64 if isinstance(fill_value, int) and not isinstance(fill_value, bool) else (
            bool if isinstance(fill_value, bool) else numpy.float32)
    if is_scalar(fill_value) and not isinstance(fill_value, complex):  # a value past the dtype: PyTorch's error
        fill_value = checked_scalar(fill_value, dtype, "full")
    return _make(lambda xp, s, d: xp.full(s, fill_value, d), (size,) if isinstance(size, int) else (tuple(size),),
                 dtype, device, requires_grad)


def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    """eye(n, m=None, dtype=None, device=None, requires_grad=False): the n x m identity matrix (m = n by
    default).

    Forward:  y[i, j] = 1 if i == j else 0
    Backward: none: a new leaf (requires_grad=True makes autograd collect its .grad)
    """
    return _make(lambda xp, s, d: xp.eye(n, m, dtype=d), (), dtype, device, requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    """arange(start=0, end, step=1, dtype=None, device=None, requires_grad=False): values from start up to (not
    including) end, step apart; int64 when all three are integers, float32 otherwise.

    Forward:  y[k] = start + k * step,  k < ceil((end - start) / step)
    Backward: none: a new leaf (requires_grad=True makes autograd collect its .grad)
    """
    if end is None:
        start, end = 0, start
    if dtype is None:
        ints = all(isinstance(v, (int, numpy.integer)) for v in (start, end, step))
        dtype = numpy.int64 if ints else numpy.float32
    return _make(lambda xp, s, d: xp.arange(start, end, step, dtype=numpy.float64 if d.kind == "f" else d).astype(d),
                 (), dtype, device, requires_grad)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False):
    """linspace(start, end, steps, dtype=None, device=None, requires_grad=False): `steps` evenly spaced values
    from start to end inclusive (float32 by default).

    Forward:  y[k] = start + k * (end - start) / (steps - 1)
    Backward: none: a new leaf (requires_grad=True makes autograd collect its .grad)
    """
    return _make(lambda xp, s, d: xp.linspace(start, end, steps).astype(d), (), dtype, device, requires_grad)


def randn(*size, dtype=None, device=None, requires_grad=False):
    """randn(*size, dtype=None, device=None, requires_grad=False): standard normal samples from the device's
    generator (seed it with scratchnet.manual_seed).

    Forward:  y_i ~ N(0, 1) independently
    Backward: none: a new leaf (requires_grad=True makes autograd collect its .grad)
    """
    dev = backend.device(device)
    return _make(lambda xp, s, d: random_normal(s, d, dev), size, dtype, dev, requires_grad)


def rand(*size, dtype=None, device=None, requires_grad=False):
    """rand(*size, dtype=None, device=None, requires_grad=False): uniform samples in [0, 1) from the device's
    generator.

    Forward:  y_i ~ U[0, 1) independently
    Backward: none: a new leaf (requires_grad=True makes autograd collect its .grad)
    """
    dev = backend.device(device)
    return _make(lambda xp, s, d: random_uniform(s, d, dev), size, dtype, dev, requires_grad)


def randint(low, high=None, size=(), dtype=None, device=None):
    """randint(low=0, high, size=(), dtype=None, device=None): integers uniform in [low, high) (randint(high,
    size) as in PyTorch when one bound is given), int64 by default.

    Forward:  y_i ~ uniform on {low, ..., high - 1} independently
    Backward: not differentiable (an integer result carries no gradient)
    """
    if high is None:
        low, high = 0, low
    dev = backend.device(device)
    return _make(lambda xp, s, d: random_integers(low, high, s, dev).astype(d),
                 (tuple(size),), dtype or numpy.int64, dev, False)


def randperm(n, device=None):
    """randperm(n, device=None): a random permutation of 0 .. n-1 (int64).

    Forward:  y = a uniformly random ordering of range(n)
    Backward: not differentiable (an integer result carries no gradient)
    """
    dev = backend.device(device)
    return _make(lambda xp, s, d: xp.argsort(random_uniform((n,), numpy.float64, dev)), (), numpy.int64,
                 dev, False)


def _like(factory):
    def like(t, dtype=None, device=None, requires_grad=False, **kw):
        return factory(t.shape, dtype=dtype or t.dtype, device=device or t.device, requires_grad=requires_grad, **kw)
    like.__name__ = like.__qualname__ = factory.__name__ + "_like"
    doc = inspect.cleandoc(factory.__doc__)
    like.__doc__ = (f"{like.__name__}(input, dtype=None, device=None, requires_grad=False): {factory.__name__}"
                    f"(input.shape), with input's dtype and device unless given.\n\n" + doc[doc.index("Forward:"):])
    return like


zeros_like, ones_like, empty_like, randn_like, rand_like = (_like(f) for f in (zeros, ones, empty, randn, rand))


def full_like(t, fill_value, dtype=None, device=None, requires_grad=False):
    """full_like(input, fill_value, dtype=None, device=None, requires_grad=False): full(input.shape,
    fill_value) with input's dtype and device unless given.

    Forward:  y[i] = fill_value for every index of input's shape
    Backward: none: a new leaf (requires_grad=True makes autograd collect its .grad)
    """
    return full(t.shape, fill_value, dtype=dtype or t.dtype, device=device or t.device, requires_grad=requires_grad)
