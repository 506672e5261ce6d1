"""Reductions: sum, mean, var, std, max, min, argmax, argmin, logsumexp, prod.

A reduction's backward broadcasts the upstream gradient back over the reduced axes (keepdim first, then expand).
"""
import builtins
import functools
from collections import namedtuple

import numpy

from .. import backend
from ..autograd import Function
from ..tensor import Tensor
from . import math as M, parallel
from .along import gather_raw
from .shape import broadcast_to, reshape, _norm_dim
from ..errors import EmptyReductionError

ValuesIndices = namedtuple("ValuesIndices", "values indices")  # what max(dim)/min(dim) return, as torch.return_types


def numpy_names(f):
    """Accept NumPy's `axis=` and `keepdims=` for PyTorch's `dim=` and `keepdim=`, as PyTorch's reductions do."""
    @functools.wraps(f)
    def reduction(*args, axis=None, keepdims=None, **kwargs):
        if axis is not None:
            if "dim" in kwargs:
                raise TypeError(f"{f.__name__}() got both dim= and its alias axis=")
            kwargs["dim"] = axis
        if keepdims is not None:
            if "keepdim" in kwargs:
                raise TypeError(f"{f.__name__}() got both keepdim= and its alias keepdims=")
            kwargs["keepdim"] = keepdims
        return f(*args, **kwargs)
    return reduction


def _axes(dim, ndim):
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    axes = tuple(sorted({_norm_dim(d, ndim) for d in dims}))
    return axes if ndim else ()  # a 0-d tensor: dim 0 or -1 names its one element, and there is nothing to reduce


def check_nonempty_slices(name, shape, axes):
    """PyTorch's rule for reductions with no identity (max, min, argmax, ...): each reduced slice must be non-empty,
    so an empty reduced dim is an error, while an empty kept dim just gives an empty result ((3, 0).max(0) -> (0,))."""
    if axes is None:
        if 0 in shape:
            raise EmptyReductionError(f"{name}(): the tensor of shape {tuple(shape)} is empty; reduce over a "
                                      f"non-empty dim with the 'dim' argument")
        return
    for a in axes:
        if shape[a] == 0:
            raise EmptyReductionError(f"{name}(): expected reduction dim {a} to have non-zero size (input of shape "
                                      f"{tuple(shape)})")


def _kept_shape(shape, axes):
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


def _expand_back(gy, x_shape, axes, keepdim):
    """gy (reduced over `axes`) broadcast back to x's shape."""
    if not keepdim:
        gy = reshape(gy, _kept_shape(x_shape, axes))
    return broadcast_to(gy, x_shape)


class Sum(Function):
    """y = sum of x over `axes`;  dx = gy broadcast back over those axes"""

    keeps_inputs = False

    def __init__(self, axes, keepdim):
        self.axes, self.keepdim = axes, keepdim

    def forward(self, x):
        return parallel.reduce_trailing("sum", x, self.axes, self.keepdim)   # over threads when large

    def backward(self, gy):
        return _expand_back(gy, self.inputs[0].shape, self.axes, self.keepdim)


class Mean(Function):
    """y = sum(x) / n over `axes`;  dx = gy / n broadcast back"""

    keeps_inputs = False

    def __init__(self, axes, keepdim):
        self.axes, self.keepdim = axes, keepdim

    def forward(self, x):
        return parallel.reduce_trailing("mean", x, self.axes, self.keepdim)   # over threads when large

    def backward(self, gy):
        shape = self.inputs[0].shape
        n = int(numpy.prod([shape[a] for a in self.axes]))
        return _expand_back(gy / n, shape, self.axes, self.keepdim)


def sum(x, dim=None, keepdim=False, dtype=None):
    """sum(input, dim=None, keepdim=False, dtype=None): the sum over `dim` (an int, a tuple, or every dim); bool
    and integer input sums as int64, as PyTorch; NumPy's axis=/keepdims= are accepted too.

    Forward:  y = sum_i x_i over the reduced axes
    Backward: dx = gy broadcast back over the reduced axes
    """
    if dtype is not None:
        x = M.astype(x, dtype)
    elif x.dtype.kind in "biu":
        x = M.astype(x, numpy.int64)  # PyTorch sums bools and ints as int64
    return Sum(_axes(dim, x.ndim), keepdim)(x)


def mean(x, dim=None, keepdim=False, dtype=None):
    """mean(input, dim=None, keepdim=False, dtype=None): the mean over `dim` (an int, a tuple, or every dim); the
    input must be floating point (or dtype= given), as in PyTorch. An empty slice gives NaN.

    Forward:  y = (1/n) sum_i x_i, n = the number of entries reduced
    Backward: dx = gy / n broadcast back over the reduced axes
    """
    if dtype is not None:
        x = M.astype(x, dtype)
    if x.dtype.kind not in "fc":
        raise TypeError(f"mean(): input dtype must be floating point, got {x.dtype} (use .float() first)")
    return Mean(_axes(dim, x.ndim), keepdim)(x)


def var(x, dim=None, unbiased=None, keepdim=False, correction=None):
    """var(input, dim=None, unbiased=None, keepdim=False, correction=None): the variance over `dim`; correction
    is 1 (Bessel's) unless unbiased=False or correction= says otherwise.

    Forward:  y = sum_i (x_i - mean(x))**2 / (n - correction)
    Backward: dx = gy * 2 (x - mean(x)) / (n - correction), broadcast back over the reduced axes
    """
    if correction is None:
        correction = 0 if unbiased is False else 1
    axes = _axes(dim, x.ndim)
    n = int(numpy.prod([x.shape[a] for a in axes]))
    d = x - mean(x, axes, keepdim=True)
    return sum(d * d, axes, keepdim) / builtins.max(n - correction, 0)


class StdSqrt(Function):
    """y = sqrt(v) for a variance v;  dv = gy / (2y), and 0 where y = 0 (PyTorch's std_backward: the std of a
    constant has gradient 0, not 0·inf = nan)"""

    keeps_inputs = False

    def forward(self, v):
        y = backend.get_array_module(v).sqrt(v)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        with numpy.errstate(divide="ignore", invalid="ignore"):
            return M.where(y.data == 0, 0.0, gy / (2 * y))


def std(x, dim=None, unbiased=None, keepdim=False, correction=None):
    """std(input, dim=None, unbiased=None, keepdim=False, correction=None): the standard deviation over `dim`
    (arguments as var).

    Forward:  y = sqrt(var(x))
    Backward: dx = gy * (x - mean(x)) / ((n - correction) * y), and 0 where y = 0 (PyTorch's std_backward)
    """
    return StdSqrt()(var(x, dim, unbiased, keepdim, correction))


class MaxAll(Function):
    """y = max (or min) of all entries;  dx = gy shared equally by the entries that equal y (as PyTorch)"""

    def __init__(self, largest):
        self.largest = largest

    def forward(self, x):
        xp = backend.get_array_module(x)
        return xp.max(x) if self.largest else xp.min(x)

    def backward(self, gy):
        x = self.inputs[0].data
        mask = x == self.output_value
        return gy * Tensor((mask / mask.sum()).astype(gy.dtype))

    @property
    def output_value(self):
        out = self.output
        if out is not None:
            return out.data
        xp = backend.get_array_module(self.inputs[0].data)
        return (xp.max if self.largest else xp.min)(self.inputs[0].data)


@backend.follows_device
def _max_min(x, dim, keepdim, largest):
    if isinstance(dim, Tensor):
        return (M.maximum if largest else M.minimum)(x, dim)
    name = "max" if largest else "min"
    if dim is None:
        check_nonempty_slices(name, x.shape, None)
        return MaxAll(largest)(x)
    dim = _norm_dim(dim, x.ndim)
    check_nonempty_slices(name, x.shape, (dim,) if x.ndim else ())
    if x.ndim == 0:  # PyTorch: the element itself, at index 0
        values = reshape(_max_min(reshape(x, 1), 0, False, largest).values, ())
        return ValuesIndices(values, Tensor(backend.get_array_module(x.data).zeros((), dtype=numpy.int64)))
    # the index first (no gradient flows through it), then the values as a gather at it: the gather's backward
    # puts gy back at exactly that index, as PyTorch's max(dim) does (the first one among equals; NaN wins)
    xp = backend.get_array_module(x.data)
    idx = (xp.argmax if largest else xp.argmin)(x.data, axis=dim, keepdims=True).astype(numpy.int64)
    values = gather_raw(x, dim, idx)
    if not keepdim:
        values, idx = reshape(values, values.shape[:dim] + values.shape[dim + 1:]), idx.squeeze(dim)
    return ValuesIndices(values, Tensor(idx))


def max(x, dim=None, keepdim=False):
    """max(input) -> the largest entry; max(input, dim, keepdim=False) -> (values, indices) along dim;
    max(input, other) -> maximum(input, other). An empty reduced dim is an error, as in PyTorch.

    Forward:  y = max_i x_i  (with a dim: values and the int64 index of the first maximum)
    Backward: dx = gy shared equally by the entries equal to y (no dim); with a dim, gy goes to the returned index
    """
    return _max_min(x, dim, keepdim, True)


def min(x, dim=None, keepdim=False):
    """min(input) -> the smallest entry; min(input, dim, keepdim=False) -> (values, indices) along dim;
    min(input, other) -> minimum(input, other). An empty reduced dim is an error, as in PyTorch.

    Forward:  y = min_i x_i  (with a dim: values and the int64 index of the first minimum)
    Backward: dx = gy shared equally by the entries equal to y (no dim); with a dim, gy goes to the returned index
    """
    return _max_min(x, dim, keepdim, False)


class AMax(Function):
    """y = max (or min) of x over `axes`;  dx = gy shared evenly by the entries that tie for the max (PyTorch's
    amax/amin; max(x, dim) instead sends it all to the returned index)"""

    def __init__(self, axes, keepdim, largest):
        self.axes, self.keepdim, self.largest = axes, keepdim, largest

    def forward(self, x):
        return (x.max if self.largest else x.min)(axis=self.axes, keepdims=self.keepdim)

    def backward(self, gy):
        x = self.inputs[0]
        y = (x.data.max if self.largest else x.data.min)(axis=self.axes, keepdims=True)
        mask = x.data == y
        share = (mask / mask.sum(axis=self.axes, keepdims=True)).astype(gy.dtype)
        return _expand_back(gy, x.shape, self.axes, self.keepdim) * Tensor(share)


def _amax_amin(x, dim, keepdim, largest):
    axes = _axes(dim if dim != () else None, x.ndim)
    check_nonempty_slices("amax" if largest else "amin", x.shape, None if dim is None or dim == () else axes)
    return AMax(axes, keepdim, largest)(x)


def amax(x, dim=None, keepdim=False):
    """amax(input, dim=None, keepdim=False): the largest entries over `dim` (an int, a tuple, or every dim).

    Forward:  y = max_i x_i over the reduced axes
    Backward: dx = gy * [x = y] / (the number of entries equal to y), broadcast back (ties share evenly)
    """
    return _amax_amin(x, dim, keepdim, True)


def amin(x, dim=None, keepdim=False):
    """amin(input, dim=None, keepdim=False): the smallest entries over `dim` (an int, a tuple, or every dim).

    Forward:  y = min_i x_i over the reduced axes
    Backward: dx = gy * [x = y] / (the number of entries equal to y), broadcast back (ties share evenly)
    """
    return _amax_amin(x, dim, keepdim, False)


@backend.follows_device
def argmax(x, dim=None, keepdim=False):
    """argmax(input, dim=None, keepdim=False): the int64 index of the first largest entry along `dim`, or in the
    flattened tensor.

    Forward:  y = argmax_i x_i
    Backward: not differentiable (an integer result carries no gradient)
    """
    xp = backend.get_array_module(x.data)
    check_nonempty_slices("argmax", x.shape, None if dim is None else (_norm_dim(dim, x.ndim),) if x.ndim else ())
    if dim is None:
        return Tensor(xp.asarray(xp.argmax(x.data), dtype=numpy.int64))
    return Tensor(xp.argmax(x.data, axis=_norm_dim(dim, x.ndim), keepdims=keepdim).astype(numpy.int64))


@backend.follows_device
def argmin(x, dim=None, keepdim=False):
    """argmin(input, dim=None, keepdim=False): the int64 index of the first smallest entry along `dim`, or in the
    flattened tensor.

    Forward:  y = argmin_i x_i
    Backward: not differentiable (an integer result carries no gradient)
    """
    xp = backend.get_array_module(x.data)
    check_nonempty_slices("argmin", x.shape, None if dim is None else (_norm_dim(dim, x.ndim),) if x.ndim else ())
    if dim is None:
        return Tensor(xp.asarray(xp.argmin(x.data), dtype=numpy.int64))
    return Tensor(xp.argmin(x.data, axis=_norm_dim(dim, x.ndim), keepdims=keepdim).astype(numpy.int64))


@backend.follows_device  # its constants are made outside a Function: on x's device, not the current one
def logsumexp(x, dim=None, keepdim=False):
    """logsumexp(input, dim=None, keepdim=False): log of the sum of exponentials over `dim`, computed with the
    max m subtracted so exp never overflows; an empty or all -inf slice gives -inf.

    Forward:  y = m + ln(sum_i e**(x_i - m)),  m = max_i x_i
    Backward: dx = gy * softmax(x) = gy * e**(x - y), broadcast back over the reduced axes
    """
    axes = _axes(dim, x.ndim)
    xp = backend.get_array_module(x.data)
    if x.data.size == 0:  # its identity is -inf: empty slices give log(0) = -inf, as PyTorch, with zero gradients
        m = xp.zeros(_kept_shape(x.shape, axes), dtype=x.dtype)
    else:
        m = x.data.max(axis=axes, keepdims=True)
        m = xp.where(xp.isfinite(m), m, 0)  # an all -inf slice must give -inf, not nan
    mt = Tensor(m)
    y = M.log(sum(M.exp(x - mt), axes, keepdim=True)) + mt
    return y if keepdim else reshape(y, tuple(s for i, s in enumerate(y.shape) if i not in axes))


class Prod(Function):
    """y = product of x over `axes`;  dx = gy * (product of the other entries) = gy * y / x where x != 0

    Where an entry is zero the product of the others is computed directly (exclusive cumulative products), so the
    first derivative is exact; the second derivative is exact away from zeros.
    """

    def __init__(self, axis, keepdim):
        self.axis, self.keepdim = axis, keepdim

    def forward(self, x):
        return x.prod(axis=self.axis, keepdims=self.keepdim)

    def backward(self, gy):
        x = self.inputs[0]
        xp = backend.get_array_module(x.data)
        axes = tuple(range(x.ndim)) if self.axis is None else (self.axis,)
        gy = _expand_back(gy, x.shape, axes, self.keepdim)
        if not (x.data == 0).any():
            y = _expand_back(prod(x, self.axis, self.keepdim), x.shape, axes, self.keepdim)
            return gy * y / x
        flat = x.data.reshape(-1) if self.axis is None else xp.moveaxis(x.data, self.axis, -1)
        ones = xp.ones(flat.shape[:-1] + (1,), dtype=flat.dtype)
        left = xp.cumprod(xp.concatenate([ones, flat[..., :-1]], -1), -1)
        right = xp.flip(xp.cumprod(xp.concatenate([ones, xp.flip(flat, -1)[..., :-1]], -1), -1), -1)
        others = left * right
        others = others.reshape(x.shape) if self.axis is None else xp.moveaxis(others, -1, self.axis)
        return gy * Tensor(others)


def prod(x, dim=None, keepdim=False):
    """prod(input, dim=None, keepdim=False): the product over one dim or every dim; bool and integer input
    multiplies as int64.

    Forward:  y = prod_i x_i
    Backward: dx_i = gy * prod_{j != i} x_j  (= gy * y / x_i away from zeros; exact at zeros too)
    """
    if x.dtype.kind in "biu":
        x = M.astype(x, numpy.int64)
    return Prod(None if dim is None else _norm_dim(dim, x.ndim), keepdim)(x)


sum, mean, var, std, max, min, amax, amin, argmax, argmin, logsumexp, prod = (numpy_names(f) for f in (
    sum, mean, var, std, max, min, amax, amin, argmax, argmin, logsumexp, prod))
