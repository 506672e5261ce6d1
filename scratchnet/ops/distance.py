"""Vector norms along a dimension and what is built on them: normalize, cosine_similarity, pairwise_distance.

The p-norm's gradient is 0 (not NaN) where the whole vector is 0, as PyTorch's; every backward is made of Tensor ops
(the norm is recomputed as an op), so these are differentiable twice.
"""
import math

from .. import backend
from ..autograd import Function
from ..tensor import Tensor
from . import math as M
from .errors import ShapeError
from .shape import _norm_dim, broadcast_to


class VectorNorm(Function):
    """n = (Σ_axis |x|^p)^(1/p) (p = inf: max |x|, p = 0: count of non-zeros);
    dx = gy · sign(x)·|x|^(p−1) / n^(p−1)  (p = 2: gy·x/n; p = 1: gy·sign(x); p = inf: gy·sign(x) shared evenly
    among the entries where |x| = n), and 0 wherever n = 0"""

    def __init__(self, p, axis, keepdim):
        self.p, self.axis, self.keepdim = p, axis, keepdim

    def forward(self, x):
        xp = backend.get_array_module(x)
        a, p = xp.abs(x), self.p
        kw = dict(axis=self.axis, keepdims=self.keepdim)
        if p == 2:
            n = xp.sqrt((x * x).sum(**kw))
        elif p == 1:
            n = a.sum(**kw)
        elif p == math.inf:
            n = a.max(**kw)
        elif p == -math.inf:
            n = a.min(**kw)
        elif p == 0:
            n = (x != 0).sum(**kw)
        else:
            n = (a ** p).sum(**kw) ** (1.0 / p)
        return n.astype(x.dtype, copy=False)

    def backward(self, gy):
        x = self.inputs[0]
        xp = backend.get_array_module(x.data)
        n = VectorNorm(self.p, self.axis, True)(x)
        if not self.keepdim:
            gy = gy.reshape(n.shape)
        if self.p == 0:
            return x * 0
        zero = n.data == 0
        n_safe = M.where(zero, Tensor(xp.ones((), dtype=n.dtype)), n)
        g = M.where(zero, Tensor(xp.zeros((), dtype=n.dtype)), gy)
        sign = Tensor(xp.sign(x.data))
        if self.p == 2:
            return x * (g / n_safe)
        if self.p == 1:
            return sign * g
        if math.isinf(self.p):
            hit = Tensor((xp.abs(x.data) == n.data).astype(x.dtype))
            return sign * hit * (g / hit.sum(self.axis, keepdim=True))
        return sign * M.abs(x) ** (self.p - 1) * (g / n_safe ** (self.p - 1))


def vector_norm(x, p=2.0, dim=-1, keepdim=False):
    """The p-norm of x along `dim` (an int or a tuple of ints)."""
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    axis = tuple(sorted(_norm_dim(d, x.ndim) for d in dims)) if x.ndim else ()
    return VectorNorm(float(p), axis, keepdim)(x)


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """normalize(input, p=2.0, dim=1, eps=1e-12): x divided by its p-norm along dim, the norm clamped below at
    eps.

    Forward:  y = x / max(‖x‖_p, eps)
    Backward: dx = gy / n - (sum(gy·x) / n²)·∂‖x‖_p/∂x with n = ‖x‖_p where n > eps;  dx = gy / eps where the
              clamp binds (as PyTorch)
    """
    if input.ndim == 0:
        raise ShapeError("normalize: input must have at least one dimension, got a 0-d tensor")
    n = vector_norm(input, p, dim, keepdim=True)
    return input / M.clamp(n, min=eps)


def _broadcast(name, a, b):
    import numpy
    try:
        shape = numpy.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ShapeError(f"{name}: shapes {a.shape} and {b.shape} cannot be broadcast together") from None
    a, b = M.promote(a, b)
    return (a if a.shape == shape else broadcast_to(a, shape)), (b if b.shape == shape else broadcast_to(b, shape))


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """cosine_similarity(x1, x2, dim=1, eps=1e-8): the cosine of the angle between x1 and x2 along
    dim (broadcast), as PyTorch >= 2.0 computes it: each vector divided by its own clamped norm n_i = max(‖x_i‖, eps)
    first (so |y| <= 1); the clamp is outside autograd, so the gradient is that of x_i/‖x_i‖ even where eps binds.

    Forward:  y = sum (x1/n1)·(x2/n2) along dim
    Backward: dx1 = gy·(x2/n2 - y·x1/n1) / n1, dx2 likewise with 1 and 2 swapped
    """
    a, b = _broadcast("cosine_similarity", x1, x2)
    if a.ndim == 0:
        raise ShapeError("cosine_similarity: inputs must have at least one dimension")
    d = _norm_dim(dim, a.ndim)

    def unit(v):
        n = vector_norm(v, 2, d, keepdim=True)
        lift = Tensor(backend.get_array_module(n.data).maximum(n.data, eps) - n.data)
        return v / (n + lift)
    return (unit(a) * unit(b)).sum(d)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False): the p-norm distance along the last
    dim (eps keeps the gradient finite when x1 = x2).

    Forward:  y = ‖x1 - x2 + eps‖_p
    Backward: dx1 = gy·∂‖d‖_p/∂d at d = x1 - x2 + eps (p = 2: gy·d / y), dx2 = -dx1
    """
    a, b = _broadcast("pairwise_distance", x1, x2)
    if a.ndim == 0:
        raise ShapeError("pairwise_distance: inputs must have at least one dimension")
    return vector_norm(a - b + eps, p, -1, keepdim)
