"""scatter_reduce: out = input with src's entries combined into the places `index` names along `dim`, by sum, prod,
mean, amax or amin (with or without input's own values), and PyTorch's gradients for each (ties in amax/amin share
the gradient evenly; prod handles zeros exactly, as PyTorch's formula does).
"""
import numpy

from .. import backend
from ..autograd import Function
from ..tensor import Tensor
from . import math as M
from .along import along, gather_raw, scatter_add_raw, written, _scatter_args, _flat0
from .getitem import getitem
from .shape import reshape

REDUCES = ("sum", "prod", "mean", "amax", "amin")


def _identity(reduce, dtype):
    if reduce in ("sum", "mean"):
        return 0
    if reduce == "prod":
        return 1
    big = numpy.inf if dtype.kind == "f" else numpy.iinfo(dtype).max
    return -big if reduce == "amax" else big


def reduce_raw(x, dim, idx, src, reduce, include_self):
    """The forward on raw arrays: x's written places start from the reduction's identity unless include_self."""
    xp = backend.get_array_module(x)
    out = x.copy()
    where = along(xp, idx, dim)
    if not include_self:
        out[where] = _identity(reduce, x.dtype)
    if reduce in ("sum", "mean"):
        backend.scatter_add(xp, out, where, src)
    else:
        getattr(xp, {"prod": "multiply", "amax": "maximum", "amin": "minimum"}[reduce]).at(out, where, src)
    if reduce == "mean":
        count = xp.zeros(x.shape, dtype=x.dtype)
        backend.scatter_add(xp, count, where, xp.ones(idx.shape, dtype=x.dtype))
        count = count + 1 if include_self else xp.maximum(count, 1)
        out = out / count if x.dtype.kind == "f" else out // count
    return out.astype(x.dtype, copy=False)


class ScatterReduce(Function):
    """y = x with src reduced into y[index[i][j]][j] (dim 0) by `reduce`. Gradients (PyTorch's):
    sum:  dx = gy, dsrc = gather(gy);  mean: both get gy / count (count = entries reduced into that place);
    prod: dx = gy * y / x, dsrc = gather(gy * y) / src, with the product of the others computed exactly where an
          entry is 0;  amax/amin: gy shared evenly among the entries (x's and src's) equal to the result.
    Without include_self, x's written places get no gradient."""

    def __init__(self, dim, idx, reduce, include_self):
        self.dim, self.idx, self.reduce, self.include_self = dim, idx, reduce, include_self

    def forward(self, x, src):
        y = reduce_raw(x, self.dim, self.idx, src, self.reduce, self.include_self)
        self.save_for_backward(x, src, y)
        return y

    def backward(self, gy):
        x, src, y = self.saved_tensors
        dim, idx, reduce = self.dim, self.idx, self.reduce
        xp = backend.get_array_module(idx)
        gather = (lambda t: gather_raw(t, dim, idx))
        if reduce == "sum":
            gx, gsrc = gy, gather(gy)
        elif reduce == "mean":
            ones = xp.ones(idx.shape, dtype=gy.dtype)
            count = scatter_add_raw(Tensor(ones), dim, idx, x.shape).data + (1 if self.include_self else 0)
            g = gy / Tensor(xp.maximum(count, 1))
            gx, gsrc = g, gather(g)
        elif reduce == "prod":
            gx, gsrc = self._prod_grads(gy, x, src, y, xp)
        else:
            value = gather(y)
            x_is = Tensor((x.data == y.data).astype(gy.dtype))
            src_is = Tensor((src.data == value.data).astype(gy.dtype))
            share = gy / (x_is + scatter_add_raw(src_is, dim, idx, x.shape))
            gx, gsrc = x_is * share, src_is * gather(share)
        if not self.include_self:
            gx = gx * Tensor(~written(idx, dim, x.shape))
        return gx, gsrc

    def _prod_grads(self, gy, x, src, y, xp):
        dim, idx, inc = self.dim, self.idx, self.include_self
        x_safe = M.where(Tensor(x.data == 0), 1.0, x)  # a zero in x: the product of the others, exactly
        gx = gy * _reduce(x_safe, dim, idx, src, "prod", inc) / x_safe
        src_zero = src.data == 0
        zeros_there = scatter_add_raw(Tensor(src_zero.astype(gy.dtype)), dim, idx, x.shape)
        single = Tensor(src_zero & (gather_raw(zeros_there, dim, idx).data == 1))
        src_masked = M.where(single, 1.0, src)  # the one zero replaced by 1: the product of the others
        others = gather_raw(gy * _reduce(x, dim, idx, src_masked, "prod", inc), dim, idx)
        ratio = gather_raw(gy * y, dim, idx) / M.where(Tensor(src_zero), 1.0, src)
        return gx, M.where(single, others, ratio)


def _reduce(x, dim, idx, src, reduce, include_self):
    return ScatterReduce(dim, idx, reduce, include_self)(x, src)


def scatter_reduce(input, dim, index, src, reduce, *, include_self=True):
    """scatter_reduce(input, dim, index, src, reduce, *, include_self=True): a copy of x with src's
    entries combined into the places `index` names along `dim`, by reduce = "sum", "prod", "mean", "amax" or "amin"
    (include_self=False: x's written places start from the reduction's identity).

    Forward:  y = x;  y[index[i][j]][j] = reduce(y[index[i][j]][j], src[i][j])  (dim 0; likewise other dims)
    Backward: sum: dx = gy, dsrc = gather(gy);  mean: both gy / count;
              prod: dx = gy * y / x, dsrc = gather(gy * y) / src (exact at zeros);  amax/amin: gy shared evenly by the entries equal to the result;
              without include_self, x's written places get 0
    """
    if reduce not in REDUCES:
        raise RuntimeError(f"scatter_reduce(): reduce argument must be one of {', '.join(REDUCES)}, got {reduce!r}")
    x, dim, idx, src = _scatter_args("scatter_reduce", input, dim, index, src)
    if idx.size == 0:
        return M.clone(x)
    if x.ndim == 0:
        return reshape(scatter_reduce(_flat0(x), 0, idx.reshape(-1), _flat0(src), reduce,
                                      include_self=include_self), ())
    part = src if src.shape == idx.shape else getitem(src, tuple(slice(0, n) for n in idx.shape))
    return _reduce(x, dim, idx, part, reduce, include_self)

