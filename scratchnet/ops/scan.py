"""Scans (running reductions along one axis): cumsum, cumprod, cummax, cummin, logcumsumexp.

cummax/cummin and logcumsumexp use a log-step (Hillis-Steele) scan built from whole-array ops, so the same code runs
on NumPy and CuPy (neither has a NaN-aware running arg-max or a running logaddexp): log2(n) passes of one `where`.
"""
import numpy

from .. import backend
from ..autograd import Function
from ..tensor import Tensor
from . import math as M
from .cast import astype
from .index import gather_raw
from .layout import flip
from .reduce import ValuesIndices
from .shape import reshape, _norm_dim
from .unary import _tensor

__all__ = ["cumsum", "cumprod", "cummax", "cummin", "logcumsumexp"]


def _last(xp, a, dim):
    return xp.moveaxis(a, dim, -1)


def hillis_steele(xp, arrays, dim, combine):
    """Inclusive scan of tuples of arrays along `dim` with an associative combine(earlier, later) -> tuple."""
    arrays = [_last(xp, a, dim) for a in arrays]
    n, s = arrays[0].shape[-1], 1
    while s < n:
        merged = combine([a[..., :-s] for a in arrays], [a[..., s:] for a in arrays])
        arrays = [xp.concatenate([a[..., :s], m], axis=-1) for a, m in zip(arrays, merged)]
        s *= 2
    return [xp.moveaxis(a, -1, dim) for a in arrays]


def _scan_dim(x, dim, name):
    if dim is None:
        raise TypeError(f"{name}(): missing the required argument 'dim'")
    return _norm_dim(dim, x.ndim)


class Cumsum(Function):
    """y_j = sum_{i<=j} x_i along `dim`;  dx_i = sum_{j>=i} gy_j (a reversed cumsum: flip, cumsum, flip)"""

    keeps_inputs = False

    def __init__(self, dim):
        self.dim = dim

    def forward(self, x):
        return backend.get_array_module(x).cumsum(x, axis=self.dim, dtype=x.dtype)

    def backward(self, gy):
        return flip(Cumsum(self.dim)(flip(gy, self.dim)), self.dim)


def _reverse_cumsum(t, dim):
    return flip(Cumsum(dim)(flip(t, dim)), dim)


def cumsum(input, dim=None, *, dtype=None):
    """cumsum(input, dim, *, dtype=None): the running sum along `dim` (integers and bools accumulate in int64,
    as PyTorch).

    Forward:  y_j = x_0 + ... + x_j along dim
    Backward: dx_i = sum_{j>=i} gy_j  (a reversed cumsum: flip, cumsum, flip)
    """
    x = _tensor(input)
    dim = _scan_dim(x, dim, "cumsum")
    x = astype(x, dtype) if dtype is not None else (astype(x, numpy.int64) if x.dtype.kind in "biu" else x)
    if x.ndim == 0:
        return reshape(Cumsum(0)(reshape(x, (1,))), ())
    return Cumsum(dim)(x)


class Cumprod(Function):
    """y_j = prod_{i<=j} x_i along `dim`;  dx_i = sum_{j>=i} gy_j * prod_{k<=j, k!=i} x_k.

    Away from the first zero z of a slice that is revcumsum(gy * y)_i / x_i (past z it is 0: every product holds
    x_z); at z it is the reversed cumsum of gy * cumprod(x with x_z set to 1). Written with Tensor ops, so it is
    differentiable again, a zero included (two zeros in one slice: first order exact)."""

    def __init__(self, dim):
        self.dim = dim

    def forward(self, x):
        y = backend.get_array_module(x).cumprod(x, axis=self.dim, dtype=x.dtype)
        self.save_for_backward(x, y)
        return y

    def backward(self, gy):
        x, y = self.saved_tensors
        xp, d = backend.get_array_module(x.data), self.dim
        zero = x.data == 0
        first = zero & (xp.cumsum(zero, axis=d) == 1)
        # revcumsum(gy * y) / x everywhere but at the first zero; y is the differentiable output, so past a zero
        # this is 0 in value but keeps its derivative with respect to that zero (second order stays exact)
        g = _reverse_cumsum(gy * y, d) / M.where(Tensor(zero), 1.0, x)
        at_first = _reverse_cumsum(gy * Cumprod(d)(M.where(Tensor(first), 1.0, x)), d)
        return M.where(Tensor(first), at_first, g)


def cumprod(input, dim=None, *, dtype=None):
    """cumprod(input, dim, *, dtype=None): the running product along `dim` (integers and bools in int64).

    Forward:  y_j = x_0 * ... * x_j along dim
    Backward: dx_i = sum_{j>=i} gy_j * prod_{k<=j, k!=i} x_k  (revcumsum(gy * y) / x away from zeros; exact at the
              first zero of a slice, see Cumprod)
    """
    x = _tensor(input)
    dim = _scan_dim(x, dim, "cumprod")
    x = astype(x, dtype) if dtype is not None else (astype(x, numpy.int64) if x.dtype.kind in "biu" else x)
    if x.ndim == 0:
        return reshape(Cumprod(0)(reshape(x, (1,))), ())
    return Cumprod(dim)(x)


def _cum_extreme(input, dim, name, better):
    x = _tensor(input)
    dim = _scan_dim(x, dim, name)
    if x.ndim == 0:
        values, indices = _cum_extreme(reshape(x, (1,)), 0, name, better)
        return ValuesIndices(reshape(values, ()), Tensor(indices.data.reshape(())))
    xp = backend.get_array_module(x.data)
    positions = xp.broadcast_to(xp.arange(x.shape[dim]).reshape((-1,) + (1,) * (x.ndim - 1 - dim)), x.shape)

    def combine(earlier, later):
        (v1, i1), (v2, i2) = earlier, later
        # the earlier entry wins only if strictly better: ties (and repeated NaNs) go to the later index, as PyTorch
        take = (xp.isnan(v1) & ~xp.isnan(v2)) | better(v1, v2) if x.dtype.kind in "fc" else better(v1, v2)
        return xp.where(take, v1, v2), xp.where(take, i1, i2)

    _, idx = hillis_steele(xp, [x.data, positions], dim, combine)
    idx = idx.astype(numpy.int64)
    return ValuesIndices(gather_raw(x, dim, idx), Tensor(idx))


def cummax(input, dim):
    """cummax(input, dim): (values, indices), the running maximum along `dim` and the int64 position it came
    from (NaN propagates; the latest index among ties, as PyTorch).

    Forward:  values_j = max_{i<=j} x_i,  indices_j = the i attaining it
    Backward: dx = gy scatter-added to the positions in indices
    """
    return _cum_extreme(input, dim, "cummax", lambda a, b: a > b)


def cummin(input, dim):
    """cummin(input, dim): (values, indices), the running minimum along `dim` and the int64 position it came
    from (NaN propagates; the latest index among ties, as PyTorch).

    Forward:  values_j = min_{i<=j} x_i,  indices_j = the i attaining it
    Backward: dx = gy scatter-added to the positions in indices
    """
    return _cum_extreme(input, dim, "cummin", lambda a, b: a < b)


class Logcumsumexp(Function):
    """y_j = log sum_{i<=j} e**x_i along `dim`, a running logaddexp (nothing overflows);
    dx_i = sum_{j>=i} gy_j e**(x_i - y_j), computed as PyTorch does in log space, positive and negative parts of gy
    apart: exp(x + rlcse(log gy+ - y)) - exp(x + rlcse(log gy- - y)), rlcse = logcumsumexp from the end"""

    def __init__(self, dim):
        self.dim = dim

    def forward(self, x):
        xp = backend.get_array_module(x)
        (y,) = hillis_steele(xp, [x], self.dim, lambda a, b: [xp.logaddexp(a[0], b[0])])
        self.save_for_backward(x, y)
        return y

    def backward(self, gy):
        x, y = self.saved_tensors
        d = self.dim
        lowest = float(numpy.finfo(gy.dtype).min)
        pos, neg = gy.data > 0, gy.data < 0
        log_abs = M.log(M.where(Tensor(pos | neg), M.abs(gy), 1.0))  # never log(0): its gradient would be inf * 0

        def part(mask):
            log_g = M.where(Tensor(mask), log_abs, lowest)
            return M.exp(flip(Logcumsumexp(d)(flip(log_g - y, d)), d) + x)
        return part(pos) - part(neg)


def logcumsumexp(input, dim):
    """logcumsumexp(input, dim): the running log-sum-exp along `dim`, a running logaddexp (nothing
    overflows); integer input is refused, as in PyTorch.

    Forward:  y_j = ln(e**x_0 + ... + e**x_j) along dim
    Backward: dx_i = sum_{j>=i} gy_j * e**(x_i - y_j)  (computed in log space, gy's signs apart)
    """
    x = _tensor(input)
    dim = _norm_dim(dim, x.ndim)
    if x.dtype.kind not in "fc":
        raise NotImplementedError(f"logcumsumexp is not implemented for {x.dtype} tensors, as in PyTorch: "
                                  "convert to float first")
    if x.ndim == 0:
        return reshape(Logcumsumexp(0)(reshape(x, (1,))), ())
    return Logcumsumexp(dim)(x)


METHODS = {name: globals()[name] for name in __all__}
