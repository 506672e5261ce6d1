"""Addressing along one dim, shared by ops/index.py and ops/scatter_reduce.py: the advanced index that reads an
integer array along `dim`, the differentiable raw gather and scatter-add built on it, and the argument checks of the
gather/scatter family (dtype, rank, sizes, bounds), with PyTorch's messages.
"""
import numpy

from .. import backend
from ..errors import DTypeError, ShapeError
from ..tensor import Tensor
from .getitem import GetItem, IndexAdd
from .shape import reshape, _norm_dim
from .unary import _tensor


def along(xp, idx, dim):
    """The advanced index that reads `idx` along `dim` and the position itself along every other axis."""
    grids = [xp.arange(n).reshape((-1,) + (1,) * (idx.ndim - 1 - d)) for d, n in enumerate(idx.shape)]
    grids[dim] = idx
    return tuple(grids)


def gather_raw(x, dim, idx):
    """x read at the integer array `idx` along `dim` (differentiable; backward: scatter-add)."""
    return GetItem(along(backend.get_array_module(idx), idx, dim))(x)


def scatter_add_raw(g, dim, idx, shape):
    """zeros(shape) with g added at `idx` along `dim` (repeats add up; differentiable; backward: gather)."""
    return IndexAdd(along(backend.get_array_module(idx), idx, dim), tuple(shape))(g)


def _index(index, name, x):
    idx = index.data if isinstance(index, Tensor) else backend.get_array_module(x.data).asarray(index)
    if idx.dtype.kind not in "iu":
        raise DTypeError(f"{name}(): Expected dtype int64 for index, got {idx.dtype}")
    return idx


def _check_bounds(xp, idx, size, name, dim, error=RuntimeError):
    if xp is numpy and idx.size:  # on a GPU this check would be a device sync
        lo, hi = int(idx.min()), int(idx.max())
        if lo < 0 or hi >= size:
            raise error(f"{name}(): index {lo if lo < 0 else hi} is out of bounds for dimension {dim} with size {size}")


def _check_gather(name, x, dim, idx, src=None):
    if idx.ndim != max(x.ndim, 1) and not (x.ndim == 0 and idx.ndim == 0):
        raise ShapeError(f"{name}(): Index tensor must have the same number of dimensions as input tensor: "
                           f"index {tuple(idx.shape)}, input {x.shape}")
    for d in range(idx.ndim):
        if d != dim and x.ndim and idx.shape[d] > x.shape[d]:
            raise ShapeError(f"{name}(): Size does not match at dimension {d}: expected index {tuple(idx.shape)} "
                               f"to be no larger than self {x.shape} apart from dimension {dim}")
        if src is not None and src.ndim and idx.shape[d] > src.shape[d]:
            raise ShapeError(f"{name}(): Expected index {tuple(idx.shape)} to be no larger than src {src.shape} "
                               f"in dimension {d}")
    _check_bounds(backend.get_array_module(idx), idx, x.shape[dim] if x.ndim else 1, name, dim)


def _flat0(x):
    """0-d tensors are indexed as 1-element vectors (PyTorch allows dim 0 / -1 of a 0-d tensor)."""
    return reshape(x, (1,)) if x.ndim == 0 else x


def written(idx, dim, shape):
    """bool array of `shape`: True where a scatter along `dim` at `idx` writes."""
    xp = backend.get_array_module(idx)
    mask = xp.zeros(shape, dtype=bool)
    mask[along(xp, idx, dim)] = True
    return mask


def _scatter_args(name, input, dim, index, src):
    x = _tensor(input)
    idx = _index(index, name, x)
    dim = _norm_dim(dim, x.ndim)
    if not isinstance(src, Tensor):
        if name != "scatter":
            raise TypeError(f"{name}(): src must be a Tensor, got {type(src).__name__}")
        src = Tensor(backend.get_array_module(x.data).full(idx.shape, src, dtype=x.dtype))
    if src.dtype != x.dtype:
        raise DTypeError(f"{name}(): Expected self.dtype to be equal to src.dtype: {x.dtype} vs {src.dtype}")
    if src.ndim != idx.ndim and idx.size:
        raise ShapeError(f"{name}(): Index tensor must have the same number of dimensions as src tensor: "
                           f"index {tuple(idx.shape)}, src {src.shape}")
    _check_gather(name, x, dim, idx, src)
    return x, dim, idx, src
