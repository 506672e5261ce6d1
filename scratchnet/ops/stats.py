"""Reductions that summarise size and spread: norm (vector p-norms, PyTorch's torch.norm / linalg.vector_norm),
the pairs std_mean, var_mean, and the counts and sums that skip what is not there: count_nonzero, nansum, nanmean.

norm's gradient follows PyTorch's formulas, which differ from the naive ones exactly where those break: 0 where the
norm is 0 (the subgradient PyTorch picks), sign(x) for p = 1, and for p = ±inf the gradient shared evenly between
the entries that tie for the largest (smallest) magnitude.
"""
import math

from .. import backend
from ..autograd import Function
from ..errors import DTypeError
from ..tensor import Tensor
from . import math as M
from . import reduce as R
from .cast import astype
from .unary import _tensor, sign

__all__ = ["norm", "std_mean", "var_mean", "count_nonzero", "nansum", "nanmean"]


class VectorNorm(Function):
    """y = (sum |x|**p)**(1/p) over `axes` (p = inf: max |x|, -inf: min |x|, 0: the count of nonzeros);
    dx = gy * x * |x|**(p-2) / y**(p-1) (p=2: gy * x / y; p=1: gy * sign x; 0 where y = 0);
    p = ±inf: gy * sign x shared by the entries where |x| = y; p = 0: 0"""

    def __init__(self, p, axes, keepdim):
        self.p, self.axes, self.keepdim = p, axes, keepdim

    def forward(self, x):
        xp, p, kw = backend.get_array_module(x), self.p, dict(axis=self.axes, keepdims=self.keepdim)
        a = xp.abs(x)
        if p == 2:
            y = xp.sqrt((x * x).sum(**kw))
        elif p == 1:
            y = a.sum(**kw)
        elif p == math.inf:
            y = a.max(**kw)
        elif p == -math.inf:
            y = a.min(**kw)
        elif p == 0:
            y = (x != 0).sum(**kw)
        else:
            y = (a ** p).sum(**kw) ** (1.0 / p)
        y = y.astype(x.dtype, copy=False)
        self.save_for_backward(x, y)
        return y

    def backward(self, gy):
        x, y = self.saved_tensors
        p, xp = self.p, backend.get_array_module(x.data)
        gy = R._expand_back(gy, x.shape, self.axes, self.keepdim)
        y = R._expand_back(y, x.shape, self.axes, self.keepdim)
        if p == 0:
            return Tensor(xp.zeros(x.shape, dtype=x.dtype))
        if p == 1:
            return gy * sign(x)
        if p in (math.inf, -math.inf):
            hit = (xp.abs(x.data) == y.data) | xp.isnan(x.data)
            count = R.sum(Tensor(hit.astype(x.dtype)), self.axes, keepdim=True)
            return sign(x) * Tensor(hit.astype(x.dtype)) * gy / count
        zero = Tensor(y.data == 0)
        safe_y = M.where(zero, 1.0, y)
        if p == 2:
            return M.where(zero, 0.0, gy / safe_y) * x
        if p < 1:
            xz = Tensor(x.data == 0)
            scaled = M.where(xz, 0.0, sign(x) * M.where(xz, 1.0, M.abs(x)) ** (p - 1))
            return scaled * gy * y ** (1 - p)
        scaled = sign(x) * M.abs(x) ** (p - 1) if p < 2 else x * M.abs(x) ** (p - 2)
        return scaled * M.where(zero, 0.0, gy / safe_y ** (p - 1))


def _p(p):
    if isinstance(p, str):
        if p == "fro":
            return 2
        if p == "nuc":
            raise NotImplementedError("norm(p='nuc'): the nuclear norm (sum of singular values) is not implemented")
        raise RuntimeError(f"norm(): p must be a number, 'fro' or 'nuc', got {p!r}")
    return float(p)


def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    """norm(input, p="fro", dim=None, keepdim=False, dtype=None): the vector p-norm over `dim` (an int, a tuple,
    or None = every entry), as torch.norm / torch.linalg.vector_norm; p = "fro" is 2, inf the largest magnitude, -inf
    the smallest, 0 the count of nonzeros.

    Forward:  y = (sum_i |x_i|**p)**(1/p)
    Backward: dx = gy * x * |x|**(p-2) / y**(p-1)  (p = 2: gy * x / y; p = 1: gy * sign x; 0 where y = 0);
              p = ±inf: gy * sign x shared by the entries with |x| = y; p = 0: 0
    """
    x = _tensor(input)
    if dtype is not None:
        x = astype(x, dtype)
    if x.dtype.kind not in "fc":
        raise DTypeError(f"norm(): Expected a floating point tensor as input, got {x.dtype}")
    p = _p(p)
    axes = R._axes(dim, x.ndim) if x.ndim else ()
    if p in (math.inf, -math.inf) and any(x.shape[a] == 0 for a in axes) or (p < 0 and x.data.size == 0):
        raise RuntimeError(f"norm(): cannot compute the {p} norm on an empty tensor (shape {x.shape}) because the "
                           "operation does not have an identity")
    return VectorNorm(p, axes, keepdim)(x)


def _moments(x, dim, unbiased, keepdim, correction):
    x = _tensor(x)
    if x.dtype.kind not in "fc":
        raise DTypeError(f"std_mean/var_mean only support floating point dtypes, got {x.dtype}")
    if isinstance(dim, bool):  # the old overload std_mean(input, unbiased)
        dim, unbiased = None, dim
    return x, dim, unbiased


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None): (std, mean) over `dim`
    in one call; correction is 1 unless unbiased=False or correction= says otherwise.

    Forward:  mean = (1/n) sum_i x_i,  std = sqrt(sum_i (x_i - mean)**2 / (n - correction))
    Backward: dx = gstd * (x - mean) / ((n - correction) * std) + gmean / n  (0 from std where std = 0)
    """
    x, dim, unbiased = _moments(input, dim, unbiased, keepdim, correction)
    return R.std(x, dim, unbiased, keepdim, correction), R.mean(x, dim, keepdim)


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None): (var, mean) over `dim`
    in one call; correction is 1 unless unbiased=False or correction= says otherwise.

    Forward:  mean = (1/n) sum_i x_i,  var = sum_i (x_i - mean)**2 / (n - correction)
    Backward: dx = gvar * 2 (x - mean) / (n - correction) + gmean / n
    """
    x, dim, unbiased = _moments(input, dim, unbiased, keepdim, correction)
    return R.var(x, dim, unbiased, keepdim, correction), R.mean(x, dim, keepdim)


std_mean, var_mean = R.numpy_names(std_mean), R.numpy_names(var_mean)


def count_nonzero(input, dim=None):
    """count_nonzero(input, dim=None): the number of entries that are not 0 over `dim` (an int, a tuple, or every
    dim), as int64 (NaN counts: it is not 0). Not differentiable: a count carries no gradient.

    Forward:  y = sum_i [x_i != 0] over the reduced axes
    Backward: none (an integer result)
    """
    x = _tensor(input)
    xp = backend.get_array_module(x.data)
    axes = None if dim is None else tuple(R._axes(dim, x.ndim))
    return Tensor(xp.asarray(xp.sum(x.data != 0, axis=axes, dtype=xp.int64)))


def _not_nan(x):
    return Tensor(~backend.get_array_module(x.data).isnan(x.data))


class NanToZero(Function):
    """NaN entries replaced by 0 (nansum's first step).

    Forward:  y = x where x is not NaN, else 0
    Backward: dx = gy * [x is not NaN]  (a product, as PyTorch's nansum: an infinite gy gives NaN at a NaN x)
    """

    def forward(self, x):
        xp = backend.get_array_module(x)
        return xp.where(xp.isnan(x), 0, x).astype(x.dtype, copy=False)

    def backward(self, gy):
        return gy * astype(_not_nan(self.inputs[0]), gy.dtype)


def nansum(input, dim=None, keepdim=False, *, dtype=None):
    """nansum(input, dim=None, keepdim=False, *, dtype=None): the sum over `dim` with NaN entries counted as 0
    (integer input sums as int64, as sum).

    Forward:  y = sum_i x_i over the reduced axes, NaN entries left out
    Backward: dx = gy broadcast back, 0 where x is NaN
    """
    x = _tensor(input)
    if dtype is not None:
        x = astype(x, dtype)
    if x.dtype.kind in "fc":
        x = NanToZero()(x)
    return R.sum(x, dim, keepdim)


def nanmean(input, dim=None, keepdim=False, *, dtype=None):
    """nanmean(input, dim=None, keepdim=False, *, dtype=None): the mean of the entries that are not NaN over `dim`
    (NaN where a slice holds none); floating point input only, as in PyTorch.

    Forward:  y = (sum of the non-NaN x_i) / n, n = the number of non-NaN entries reduced
    Backward: dx = gy / n broadcast back, 0 where x is NaN
    """
    x = _tensor(input)
    if dtype is not None:
        x = astype(x, dtype)
    if x.dtype.kind not in "fc":
        raise DTypeError(f"nanmean(): expected input to have floating point dtype but got {x.dtype}")
    n = R.sum(_not_nan(x), dim, keepdim)
    return nansum(x, dim, keepdim) / astype(n, x.dtype)


METHODS = {"norm": norm, "count_nonzero": count_nonzero, "nansum": nansum, "nanmean": nanmean}  # torch has no x.std_mean()
