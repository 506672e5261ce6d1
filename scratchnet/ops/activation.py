"""Activations and (log-)softmax, each with a hand-written backward that is itself made of differentiable ops."""
import math

import numpy

from .. import backend, kernel_mode
from ..autograd import Function
from . import parallel
from .math import where
from .shape import _norm_dim
from .special import Erf, erf_kernel
from ..tensor import Tensor, is_grad_enabled
from ..errors import ShapeError


class ReLUFn(Function):
    """y = max(x, 0);  dx = gy · [y > 0] (0 at x = 0, as PyTorch).  Readable twin: relu_reference."""

    keeps_inputs = False

    def forward(self, x):
        xp = backend.get_array_module(x)
        y = parallel.elementwise(lambda x, y: xp.maximum(x, 0, out=y), (x,), (x.dtype,))
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return ReLUMaskFn(y.data)(gy)


class ReLUMaskFn(Function):
    """z = g · [y > 0] for a fixed y (relu's backward, fused: no float mask is made);  dg = gz · [y > 0]"""

    keeps_inputs = False

    def __init__(self, y):
        self.y = y

    def forward(self, g):
        xp = backend.get_array_module(g)
        return parallel.elementwise(lambda g, y, z: xp.multiply(g, y > 0, out=z), (g, self.y), (g.dtype,))

    def backward(self, gz):
        return ReLUMaskFn(self.y)(gz)


class LeakyReLUFn(Function):
    """y = x if x > 0 else slope·x;  dx = gy · (1 if x > 0 else slope)  (slope at x = 0, as PyTorch).
    Only the 1-byte mask [x > 0] is kept for backward, not x.  Readable twin: leaky_relu_reference."""

    keeps_inputs = False

    def __init__(self, slope):
        self.slope = slope

    def forward(self, x):
        xp = backend.get_array_module(x)

        def body(x, y, mask):
            xp.greater(x, 0, out=mask)
            xp.multiply(x, self.slope, out=y)
            # max(x, slope·x) is leaky relu for 0 <= slope <= 1 in two plain passes, with no masked copy
            # (which mispredicts on random signs: benchmarks/README.md, "Kernel tuning notes")
            if 0 <= self.slope <= 1:
                xp.maximum(x, y, out=y)
            else:
                y[...] = xp.where(mask, x, y)
        y, mask = parallel.elementwise(body, (x,), (x.dtype, bool))
        self.save_for_backward(mask)
        return y

    def backward(self, gy):
        (mask,) = self.saved_tensors
        return LeakyReLUMaskFn(mask.data, self.slope)(gy)


class LeakyReLUMaskFn(Function):
    """z = g · (1 where mask else slope) for a fixed mask (leaky relu's backward, fused);  dg = gz · (same)"""

    keeps_inputs = False

    def __init__(self, mask, slope):
        self.mask, self.slope = mask, slope

    def forward(self, g):
        xp = backend.get_array_module(g)

        def body(g, mask, z):
            if 0 <= self.slope <= 1:   # the factor max([mask], slope) is exactly 1 or slope, without a masked copy
                xp.maximum(mask, z.dtype.type(self.slope), out=z)
                xp.multiply(z, g, out=z)
            else:
                z[...] = xp.where(mask, g, g * self.slope)
        return parallel.elementwise(body, (g, self.mask), (g.dtype,))

    def backward(self, gz):
        return LeakyReLUMaskFn(self.mask, self.slope)(gz)


def relu_reference(x):
    """The readable twin of ReLUFn: y = 0 where x <= 0, else x (NaN stays NaN); autograd derives dx = gy · [x > 0]."""
    return where(x <= 0, 0.0, x)


def leaky_relu_reference(x, negative_slope=0.01):
    """The readable twin of LeakyReLUFn: y = x where x > 0, else slope·x (dx = gy · (1 or slope))."""
    return where(x > 0, x, x * negative_slope)


class SoftplusFn(Function):
    """y = log(1 + e^x), computed as log1p(e^−|x|) + max(x, 0) so it never overflows;  dx = gy · σ(x)"""

    def forward(self, x):
        xp = backend.get_array_module(x)
        return xp.log1p(xp.exp(-xp.abs(x))) + xp.maximum(x, 0)

    def backward(self, gy):
        return gy * self.inputs[0].sigmoid()


def _split_rows(x, dim, rows):
    """rows(part) for parts slice(i, j) of the first axis of x, split over the CPU's threads
    (parallel.over_first_axis), unless `dim`, the axis the body reduces along, is that axis (or x is 0-d): then
    rows(...) once, on the whole."""
    if x.ndim and dim % x.ndim:
        parallel.over_first_axis(x, lambda i, j: rows(slice(i, j)))
    else:
        rows(Ellipsis)


class SoftmaxFn(Function):
    """y_i = exp(x_i - m) / sum_j exp(x_j - m) along `dim` (m = max, for stability);  dx = y * (gy - sum(gy * y))"""

    keeps_inputs = False

    def __init__(self, dim):
        self.dim = dim

    def forward(self, x):
        xp = backend.get_array_module(x)
        if x.size == 0:  # an empty batch or an empty dim: no slice to normalise (max() of one would raise)
            y = xp.empty(x.shape, dtype=x.dtype)
            self.save_for_backward(y)
            return y
        if x.dtype.kind != "f":   # integers become floats
            y = x - x.max(axis=self.dim, keepdims=True)
            y = xp.exp(y, out=y) if y.dtype.kind == "f" else xp.exp(y)
            y /= y.sum(axis=self.dim, keepdims=True)
            self.save_for_backward(y)
            return y
        y = xp.empty(x.shape, dtype=x.dtype)

        def rows(part):   # the formula above on some samples, in place (over the CPU's threads)
            xs, ys = x[part], y[part]
            xp.subtract(xs, xs.max(axis=self.dim, keepdims=True), out=ys)
            xp.exp(ys, out=ys)
            ys /= ys.sum(axis=self.dim, keepdims=True)
        _split_rows(x, self.dim, rows)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        if not is_grad_enabled():   # the same formula on raw arrays: one temporary, updated in place
            g, yd = gy.data, y.data
            xp = backend.get_array_module(g)
            dx = xp.empty(g.shape, dtype=numpy.promote_types(g.dtype, yd.dtype))

            def rows(part):   # dx = (g - sum(g·y))·y on some samples, in place
                d, gi, yi = dx[part], g[part], yd[part]
                xp.multiply(gi, yi, out=d)
                xp.subtract(gi, d.sum(axis=self.dim, keepdims=True), out=d)
                d *= yi
            _split_rows(g, self.dim, rows)
            return Tensor(dx)
        return y * (gy - (gy * y).sum(self.dim, keepdim=True))


class LogSoftmaxFn(Function):
    """y = x - m - log(sum exp(x - m)) along `dim`;  dx = gy - exp(y) * sum(gy)"""

    keeps_inputs = False

    def __init__(self, dim):
        self.dim = dim

    def forward(self, x):
        xp = backend.get_array_module(x)
        if x.size == 0:  # an empty batch or an empty dim: no slice to normalise (max() of one would raise)
            y = xp.empty(x.shape, dtype=x.dtype)
            self.save_for_backward(y)
            return y
        if x.dtype.kind != "f":   # integers become floats
            z = x - x.max(axis=self.dim, keepdims=True)
            y = z - xp.log(xp.exp(z).sum(axis=self.dim, keepdims=True))
            self.save_for_backward(y)
            return y
        y = xp.empty(x.shape, dtype=x.dtype)

        def rows(part):   # the formula on some samples, in place
            xs, ys = x[part], y[part]
            xp.subtract(xs, xs.max(axis=self.dim, keepdims=True), out=ys)
            xp.subtract(ys, xp.log(xp.exp(ys).sum(axis=self.dim, keepdims=True)), out=ys)
        _split_rows(x, self.dim, rows)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        if not is_grad_enabled():   # the same formula on raw arrays: one temporary, updated in place
            g, yd = gy.data, y.data
            xp = backend.get_array_module(g)
            dx = xp.empty(g.shape, dtype=numpy.promote_types(g.dtype, yd.dtype))

            def rows(part):   # dx = g - exp(y)·sum(g) on some samples, in place
                d, gi = dx[part], g[part]
                xp.exp(yd[part], out=d)
                d *= gi.sum(axis=self.dim, keepdims=True)
                xp.subtract(gi, d, out=d)
            _split_rows(g, self.dim, rows)
            return Tensor(dx)
        return gy - y.exp() * gy.sum(self.dim, keepdim=True)


class GELUFn(Function):
    """y = x * Φ(x) (exact, with erf) or the tanh approximation;  dx = gy * (Φ(x) + x * φ(x))"""

    def __init__(self, approximate):
        self.approximate = approximate

    def forward(self, x):
        return (x * self._cdf(x)).astype(x.dtype, copy=False)

    def _cdf(self, x):
        xp = backend.get_array_module(x)
        if self.approximate == "tanh":
            return 0.5 * (1 + xp.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
        return 0.5 * (1 + erf_kernel(x / math.sqrt(2)))

    def backward(self, gy):
        x = self.inputs[0]
        if self.approximate == "tanh":
            k = math.sqrt(2 / math.pi)
            t = (k * (x + 0.044715 * x ** 3)).tanh()
            return gy * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * k * (1 + 3 * 0.044715 * x * x))
        cdf = 0.5 * (1 + Erf()(x * (1 / math.sqrt(2))))
        pdf = (x * x * -0.5).exp() * (1 / math.sqrt(2 * math.pi))
        return gy * (cdf + x * pdf)


def relu(x):
    """relu(input): the rectified linear unit (ReLUFn; relu_reference in reference mode).

    Forward:  y = max(x, 0)
    Backward: dx = gy · [x > 0]  (0 at x = 0, as PyTorch)
    """
    return relu_reference(x) if kernel_mode.reference() else ReLUFn()(x)


def leaky_relu(x, negative_slope=0.01):
    """leaky_relu(input, negative_slope=0.01): relu with a small slope for negative inputs (LeakyReLUFn;
    its twin in reference mode).

    Forward:  y = x if x > 0 else negative_slope·x
    Backward: dx = gy · (1 if x > 0 else negative_slope)  (the slope at x = 0, as PyTorch)
    """
    return leaky_relu_reference(x, negative_slope) if kernel_mode.reference() else LeakyReLUFn(negative_slope)(x)


def gelu(x, approximate="none"):
    """gelu(input, approximate="none"): the Gaussian error linear unit, exact (with erf) or with PyTorch's tanh
    approximation (approximate="tanh").

    Forward:  y = x·Φ(x),  Φ the standard normal CDF (tanh: Φ(x) ≈ (1 + tanh(√(2/π)(x + 0.044715x³))) / 2)
    Backward: dx = gy·(Φ(x) + x·φ(x)),  φ the standard normal density (tanh: the derivative of the approximation)
    """
    if approximate not in ("none", "tanh"):
        raise ShapeError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return GELUFn(approximate)(x)


def softplus(x):
    """softplus(input): log(1 + eˣ), computed as log1p(e^-|x|) + max(x, 0) so it never overflows.

    Forward:  y = log(1 + eˣ)
    Backward: dx = gy·σ(x)
    """
    return SoftplusFn()(x)


def _on_0d(fn, x, dim):
    """A 0-d tensor is taken as one element along dim 0 or -1, as PyTorch does."""
    if x.ndim:
        return fn(_norm_dim(dim, x.ndim))(x)
    from .shape import reshape
    _norm_dim(dim, 0)
    return reshape(fn(0)(reshape(x, 1)), ())


def softmax(x, dim=-1):
    """softmax(input, dim=-1): exponentials normalised to sum to 1 along dim, the max subtracted first so
    nothing overflows (a 0-d tensor is one element along dim 0 or -1, as PyTorch).

    Forward:  y_i = e^(x_i - m) / sum_j e^(x_j - m) along dim,  m = max_j x_j
    Backward: dx = y·(gy - sum(gy·y, dim))
    """
    return _on_0d(SoftmaxFn, x, dim)


def log_softmax(x, dim=-1):
    """log_softmax(input, dim=-1): log of softmax along dim, computed without forming it (stable for
    large |x|).

    Forward:  y_i = x_i - m - log sum_j e^(x_j - m) along dim,  m = max_j x_j
    Backward: dx = gy - softmax(x)·sum(gy, dim)
    """
    return _on_0d(LogSoftmaxFn, x, dim)
