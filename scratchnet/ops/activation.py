"""Activations and (log-)softmax, each with a hand-written backward that is itself made of differentiable ops."""
import math

from .. import backend
from ..autograd import Function
from .shape import _norm_dim
from .special import Erf, erf_kernel
from ..errors import ShapeError


def _n_rows(x):
    """Rows to split elementwise work over: N·C for (N, C, ...) arrays, so even one image feeds every thread.

    At least one row: an empty batch (N = 0) then reshapes to (1, 0) rather than to the ambiguous (0, -1)."""
    return max(x.shape[0] * x.shape[1] if x.ndim >= 3 else (x.shape[0] if x.ndim else 1), 1)


def _empty_c(xp, like):
    """A C-contiguous buffer shaped like `like`: empty_like would copy a transposed input's layout, and reshaping
    such a buffer to rows makes a copy, so the results written into it would be lost."""
    return xp.empty(like.shape, dtype=like.dtype)


def _rowwise(xp, out, body, n_rows):
    """body(r0, r1) over the leading axis, split over threads on the CPU when the array is large."""
    if xp is backend.numpy and out.size >= 2**18 and n_rows > 1:
        backend.parallel_for(n_rows, body)
    else:
        body(0, n_rows)


class ReLU(Function):
    """y = max(x, 0);  dx = gy · [y > 0] (0 at x = 0, as PyTorch)"""

    keeps_inputs = False

    def forward(self, x):
        xp = backend.get_array_module(x)
        y = _empty_c(xp, x)
        rows = x.reshape(_n_rows(x), -1)
        _rowwise(xp, y, lambda a, b: xp.maximum(rows[a:b], 0, out=y.reshape(rows.shape)[a:b]), rows.shape[0])
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        return ReLUMask(self._saved[0])(gy)


class ReLUMask(Function):
    """z = g · [y > 0] for a fixed y (relu's backward, fused: no float mask is made);  dg = gz · [y > 0]"""

    keeps_inputs = False

    def __init__(self, y):
        self.y = y

    def forward(self, g):
        xp = backend.get_array_module(g)
        z = _empty_c(xp, g)
        n = _n_rows(g)
        g2, y2, z2 = g.reshape(n, -1), self.y.reshape(n, -1), z.reshape(n, -1)
        _rowwise(xp, z, lambda a, b: xp.multiply(g2[a:b], y2[a:b] > 0, out=z2[a:b]), n)
        return z

    def backward(self, gz):
        return ReLUMask(self.y)(gz)


class LeakyReLU(Function):
    """y = x if x > 0 else slope·x;  dx = gy · (1 if x > 0 else slope)  (slope at x = 0, as PyTorch)

    Only the 1-byte mask [x > 0] is kept for backward, not x."""

    keeps_inputs = False

    def __init__(self, slope):
        self.slope = slope

    def forward(self, x):
        xp = backend.get_array_module(x)
        n = _n_rows(x)
        x2, y = x.reshape(n, -1), _empty_c(xp, x)
        y2, mask = y.reshape(n, -1), xp.empty(x.shape, dtype=bool)
        m2 = mask.reshape(n, -1)

        def body(a, b):
            xp.greater(x2[a:b], 0, out=m2[a:b])
            xp.multiply(x2[a:b], self.slope, out=y2[a:b])
            # max(x, slope·x) is leaky relu for 0 <= slope <= 1 in two plain passes, with no masked copy
            # (which mispredicts on random signs: benchmarks/README.md, "Kernel tuning notes")
            if 0 <= self.slope <= 1:
                xp.maximum(x2[a:b], y2[a:b], out=y2[a:b])
            else:
                y2[a:b] = xp.where(m2[a:b], x2[a:b], y2[a:b])
        _rowwise(xp, y, body, n)
        self.mask = mask
        return y

    def backward(self, gy):
        return LeakyReLUMask(self.mask, self.slope)(gy)


class LeakyReLUMask(Function):
    """z = g · (1 where mask else slope) for a fixed mask (leaky relu's backward, fused);  dg = gz · (same)"""

    keeps_inputs = False

    def __init__(self, mask, slope):
        self.mask, self.slope = mask, slope

    def forward(self, g):
        xp = backend.get_array_module(g)
        n = _n_rows(g)
        z = _empty_c(xp, g)
        g2, z2, m2 = g.reshape(n, -1), z.reshape(n, -1), self.mask.reshape(n, -1)

        def body(a, b):
            if 0 <= self.slope <= 1:   # the factor max([mask], slope) is exactly 1 or slope, without a masked copy
                xp.maximum(m2[a:b], z.dtype.type(self.slope), out=z2[a:b])
                xp.multiply(z2[a:b], g2[a:b], out=z2[a:b])
            else:
                z2[a:b] = xp.where(m2[a:b], g2[a:b], g2[a:b] * self.slope)
        _rowwise(xp, z, body, n)
        return z

    def backward(self, gz):
        return LeakyReLUMask(self.mask, self.slope)(gz)


class Softplus(Function):
    """y = log(1 + e^x), computed as log1p(e^−|x|) + max(x, 0) so it never overflows;  dx = gy · σ(x)"""

    def forward(self, x):
        xp = backend.get_array_module(x)
        return xp.log1p(xp.exp(-xp.abs(x))) + xp.maximum(x, 0)

    def backward(self, gy):
        return gy * self.inputs[0].sigmoid()


class Softmax(Function):
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
        y = xp.exp(x - x.max(axis=self.dim, keepdims=True))
        y /= y.sum(axis=self.dim, keepdims=True)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return y * (gy - (gy * y).sum(self.dim, keepdim=True))


class LogSoftmax(Function):
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
        z = x - x.max(axis=self.dim, keepdims=True)
        y = z - xp.log(xp.exp(z).sum(axis=self.dim, keepdims=True))
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return gy - y.exp() * gy.sum(self.dim, keepdim=True)


class GELU(Function):
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
    return ReLU()(x)


def leaky_relu(x, negative_slope=0.01):
    return LeakyReLU(negative_slope)(x)


def gelu(x, approximate="none"):
    if approximate not in ("none", "tanh"):
        raise ShapeError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return GELU(approximate)(x)


def softplus(x):
    return Softplus()(x)


def _on_0d(fn, x, dim):
    """A 0-d tensor is taken as one element along dim 0 or -1, as PyTorch does."""
    if x.ndim:
        return fn(_norm_dim(dim, x.ndim))(x)
    from .shape import reshape
    _norm_dim(dim, 0)
    return reshape(fn(0)(reshape(x, 1)), ())


def softmax(x, dim=-1):
    """y_i = e^{x_i} / Σ_j e^{x_j} along dim;  dx = y·(gy − Σ gy·y)"""
    return _on_0d(Softmax, x, dim)


def log_softmax(x, dim=-1):
    """y_i = x_i − log Σ_j e^{x_j} along dim;  dx = gy − softmax(x)·Σ gy"""
    return _on_0d(LogSoftmax, x, dim)
