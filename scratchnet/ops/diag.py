"""Diagonals and triangles of matrices (the last two axes, or dim1/dim2): tril, triu, diagonal, diag, diag_embed,
trace. Each one reads or writes a fixed set of positions, so each backward reads or writes the same positions
of the gradient (a masked where, a gather, a scatter-add): differentiable to any order.
"""
import numpy

from .. import backend
from ..errors import ShapeError
from ..tensor import Tensor
from . import math as M
from .getitem import GetItem, IndexAdd
from .shape import permute, reshape, _norm_dim
from .unary import _tensor

__all__ = ["tril", "triu", "diagonal", "diag", "diag_embed", "trace"]


def _triangle(input, diagonal, lower, name):
    x = _tensor(input)
    if x.ndim < 2:
        raise ShapeError(f"{name}(): input tensor must have at least 2 dimensions, got shape {x.shape}")
    xp = backend.get_array_module(x.data)
    n, m = x.shape[-2:]
    mask = xp.tri(n, m, diagonal, dtype=bool) if lower else ~xp.tri(n, m, diagonal - 1, dtype=bool)
    return M.Where(mask)(x, Tensor(xp.zeros((), dtype=x.dtype)))


def tril(input, diagonal=0):
    """tril(input, diagonal=0): the lower triangle of the last two axes, zeros above it.

    Forward:  y[..., i, j] = x[..., i, j] if j - i <= diagonal else 0
    Backward: dx = tril(gy, diagonal)
    """
    return _triangle(input, diagonal, True, "tril")


def triu(input, diagonal=0):
    """triu(input, diagonal=0): the upper triangle of the last two axes, zeros below it.

    Forward:  y[..., i, j] = x[..., i, j] if j - i >= diagonal else 0
    Backward: dx = triu(gy, diagonal)
    """
    return _triangle(input, diagonal, False, "triu")


def _diag_positions(xp, n, m, offset):
    """Row and column indices of diagonal `offset` of an n x m matrix (empty if it lies outside)."""
    length = max(min(n, m - offset), 0) if offset >= 0 else max(min(n + offset, m), 0)
    k = xp.arange(length)
    return (k, k + offset) if offset >= 0 else (k - offset, k)


def diagonal(input, offset=0, dim1=0, dim2=1):
    """diagonal(input, offset=0, dim1=0, dim2=1): the diagonal `offset` over axes dim1, dim2, which are removed;
    the diagonal becomes the last axis.

    Forward:  y[..., k] = x[..., k, k + offset]  (over dim1, dim2)
    Backward: dx = zeros_like(x) with gy written back on that diagonal
    """
    x = _tensor(input)
    if x.ndim < 2:
        raise ShapeError(f"diagonal(): input must have at least 2 dimensions, got shape {x.shape}")
    d1, d2 = _norm_dim(dim1, x.ndim, "dim1"), _norm_dim(dim2, x.ndim, "dim2")
    if d1 == d2:
        raise RuntimeError(f"diagonal(): diagonal dimensions cannot be identical {dim1}, {dim2}")
    rest = [i for i in range(x.ndim) if i not in (d1, d2)]
    moved = permute(x, *rest, d1, d2)
    rows, cols = _diag_positions(backend.get_array_module(x.data), x.shape[d1], x.shape[d2], offset)
    return GetItem((Ellipsis, rows, cols))(moved)


def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    """diag_embed(input, offset=0, dim1=-2, dim2=-1): the last axis of x written on diagonal `offset` of two
    new axes (dim1, dim2), zeros elsewhere.

    Forward:  y[..., k, k + offset] = x[..., k]  (the new axes at dim1, dim2), 0 elsewhere
    Backward: dx = diagonal(gy, offset, dim1, dim2)
    """
    x = _tensor(input)
    if x.ndim == 0:
        raise ShapeError("diag_embed(): input must have at least 1 dimension")
    nd = x.ndim + 1
    d1, d2 = _norm_dim(dim1, nd, "dim1"), _norm_dim(dim2, nd, "dim2")
    if d1 == d2:
        raise RuntimeError(f"diag_embed(): diagonal dimensions cannot be identical {dim1}, {dim2}")
    n = x.shape[-1] + abs(offset)
    xp = backend.get_array_module(x.data)
    rows, cols = _diag_positions(xp, n, n, offset)
    y = IndexAdd((Ellipsis, rows, cols), x.shape[:-1] + (n, n))(x)
    # y has the new axes last; move them to (d1, d2)
    order, rest = [None] * nd, iter(range(nd - 2))
    order[d1], order[d2] = nd - 2, nd - 1
    return permute(y, *[o if o is not None else next(rest) for o in order])


def diag(input, diagonal=0):
    """diag(input, diagonal=0): for 1-D x, the square matrix with x on diagonal `diagonal`; for 2-D x, that
    diagonal as a 1-D tensor.

    Forward:  1-D: y = diag_embed(x, diagonal);  2-D: y = diagonal(x, diagonal)
    Backward: 1-D: dx = diagonal(gy, diagonal);  2-D: dx = gy written back on the diagonal, 0 elsewhere
    """
    x = _tensor(input)
    if x.ndim == 1:
        return diag_embed(x, diagonal)
    if x.ndim == 2:
        return globals()["diagonal"](x, diagonal)
    raise ShapeError(f"diag(): Supports 1D or 2D tensors. Got {x.ndim}D (shape {x.shape})")


def trace(input):
    """trace(input): the sum of the main diagonal of a matrix (integers sum as int64).

    Forward:  y = sum_k x[k, k]
    Backward: dx = gy on the diagonal, 0 elsewhere
    """
    x = _tensor(input)
    if x.ndim != 2:
        raise ShapeError(f"trace(): expected a matrix, but got tensor with shape {x.shape}")
    d = diagonal(x)
    if d.dtype.kind in "biu":
        d = M.astype(d, numpy.int64)
    return d.sum()


METHODS = {name: globals()[name] for name in __all__}
