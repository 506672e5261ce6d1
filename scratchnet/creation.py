"""Making tensors: the factories (zeros, ones, full, arange, linspace, eye, randn, rand, randint, *_like), and
`tensor()` (defined in tensor.py, beside Tensor) under its usual name here too.

Float data defaults to float32 (even a float64 NumPy array, so a graph never turns float64 by accident); integer data
keeps an integer dtype (class targets); `dtype=` wins whenever it is given.
"""
import numpy

from . import backend
from .tensor import Tensor, tensor  # noqa: F401  (tensor(data) sits with Tensor)
from .errors import ShapeError


def _dtype(dtype):
    return None if dtype is None else numpy.dtype(dtype)


def _finish(array, requires_grad):
    t = Tensor(array)
    if requires_grad:
        t.requires_grad_(True)
    return t


def as_tensor(data, dtype=None, device=None):
    """Like tensor(), but a Tensor already of that dtype and device comes back as it is."""
    if isinstance(data, Tensor) and (dtype is None or data.dtype == numpy.dtype(dtype)) and \
            (device is None or data.device == backend.device(device)):
        return data
    return tensor(data, dtype=dtype, device=device)


def from_numpy(array):
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
    return _make(lambda xp, s, d: xp.zeros(s, d), size, dtype, device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False):
    return _make(lambda xp, s, d: xp.ones(s, d), size, dtype, device, requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False):
    return _make(lambda xp, s, d: xp.empty(s, d), size, dtype, device, requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad=False):
    if dtype is None:
        dtype = numpy.int64 if isinstance(fill_value, int) and not isinstance(fill_value, bool) else (
            bool if isinstance(fill_value, bool) else numpy.float32)
    return _make(lambda xp, s, d: xp.full(s, fill_value, d), (size,) if isinstance(size, int) else (tuple(size),),
                 dtype, device, requires_grad)


def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    return _make(lambda xp, s, d: xp.eye(n, m, dtype=d), (), dtype, device, requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    if end is None:
        start, end = 0, start
    if dtype is None:
        ints = all(isinstance(v, (int, numpy.integer)) for v in (start, end, step))
        dtype = numpy.int64 if ints else numpy.float32
    return _make(lambda xp, s, d: xp.arange(start, end, step, dtype=numpy.float64 if d.kind == "f" else d).astype(d),
                 (), dtype, device, requires_grad)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False):
    return _make(lambda xp, s, d: xp.linspace(start, end, steps).astype(d), (), dtype, device, requires_grad)


def randn(*size, dtype=None, device=None, requires_grad=False):
    """Standard normal samples from the device's generator (seed it with scratchnet.manual_seed)."""
    dev = backend.device(device)
    return _make(lambda xp, s, d: backend.random_normal(s, d, dev), size, dtype, dev, requires_grad)


def rand(*size, dtype=None, device=None, requires_grad=False):
    """Uniform samples in [0, 1)."""
    dev = backend.device(device)
    return _make(lambda xp, s, d: backend.random_uniform(s, d, dev), size, dtype, dev, requires_grad)


def randint(low, high=None, size=(), dtype=None, device=None):
    """Integers uniform in [low, high) (randint(high, size) as in PyTorch when one bound is given)."""
    if high is None:
        low, high = 0, low
    dev = backend.device(device)
    return _make(lambda xp, s, d: backend.random_integers(low, high, s, dev).astype(d),
                 (tuple(size),), dtype or numpy.int64, dev, False)


def randperm(n, device=None):
    dev = backend.device(device)
    return _make(lambda xp, s, d: xp.argsort(backend.random_uniform((n,), numpy.float64, dev)), (), numpy.int64,
                 dev, False)


def _like(factory):
    def like(t, dtype=None, device=None, requires_grad=False, **kw):
        return factory(t.shape, dtype=dtype or t.dtype, device=device or t.device, requires_grad=requires_grad, **kw)
    like.__name__ = factory.__name__ + "_like"
    return like


zeros_like, ones_like, empty_like, randn_like, rand_like = (_like(f) for f in (zeros, ones, empty, randn, rand))


def full_like(t, fill_value, dtype=None, device=None, requires_grad=False):
    return full(t.shape, fill_value, dtype=dtype or t.dtype, device=device or t.device, requires_grad=requires_grad)
