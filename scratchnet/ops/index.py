"""Indexing by integer tensors and masks, PyTorch's names: gather, scatter, scatter_add, scatter_reduce,
index_select, masked_fill, masked_select, nonzero (and argwhere).

gather(x, dim, index) reads x at `index` along `dim`; its backward is a scatter-add of the gradient to the same
places, and that scatter-add's backward is the gather again (getitem.GetItem / getitem.IndexAdd), so both are
differentiable to any order. Index bounds are checked on the CPU; on the GPU that would cost a device sync (PyTorch
raises a device-side assert there instead).
"""
import numpy

from .. import backend
from ..autograd import Function
from ..errors import DTypeError
from ..tensor import Tensor
from . import math as M
from .cast import astype
from .along import along, gather_raw, scatter_add_raw, written, _index, _check_bounds, _check_gather, _flat0, \
    _scatter_args
from .scatter_reduce import scatter_reduce
from .getitem import getitem
from .pad import pad
from .shape import broadcast_to, reshape, _norm_dim
from .unary import _tensor

__all__ = ["gather", "scatter", "scatter_add", "scatter_reduce", "index_select", "masked_fill", "masked_select",
           "nonzero", "argwhere", "take_along_dim"]


def gather(input, dim, index, *, sparse_grad=False):
    """gather(input, dim, index, *, sparse_grad=False): x read at the int64 `index` along `dim`; y has index's
    shape (index may be smaller than x off `dim`; bounds are checked on the CPU).

    Forward:  y[i][j][k] = x[index[i][j][k]][j][k]  (dim 0; likewise for other dims)
    Backward: dx = zeros_like(x) with gy scatter-added at the same places (repeated indices add up)
    """
    x = _tensor(input)
    idx = _index(index, "gather", x)
    dim = _norm_dim(dim, x.ndim)
    _check_gather("gather", x, dim, idx)
    if x.ndim == 0:
        return reshape(gather_raw(_flat0(x), 0, idx.reshape(-1)), idx.shape)
    return gather_raw(x, dim, idx)


def take_along_dim(input, indices, dim=None):
    """take_along_dim(input, indices, dim=None): gather with the non-`dim` axes of x and indices
    broadcast together (dim=None: over the flattened tensor), as torch.take_along_dim.

    Forward:  y = gather(broadcast x, dim, broadcast indices)
    Backward: dx = gy scatter-added back to the places read, summed over the broadcast
    """
    x = _tensor(input)
    idx = _index(indices, "take_along_dim", x)
    if dim is None:
        return gather(reshape(x, -1), 0, idx.reshape(-1))
    dim = _norm_dim(dim, x.ndim)
    xp = backend.get_array_module(idx)
    shape = list(numpy.broadcast_shapes(x.shape[:dim] + (1,) + x.shape[dim + 1:],
                                        idx.shape[:dim] + (1,) + idx.shape[dim + 1:]))
    xs, shape[dim] = list(shape), idx.shape[dim]
    xs[dim] = x.shape[dim]
    return gather(broadcast_to(x, tuple(xs)), dim, xp.broadcast_to(idx, tuple(shape)))


class Scatter(Function):
    """y = x with y[index[i][j]][j] = src[i][j] (dim 0);  dx = gy with the written places zeroed,
    dsrc = gather(gy, dim, index) (PyTorch's rule; with repeated indices which write wins is unspecified)"""

    def __init__(self, dim, idx):
        self.dim, self.idx = dim, idx

    def forward(self, x, src):
        y = x.copy()
        xp = backend.get_array_module(x)
        y[along(xp, self.idx, self.dim)] = src[tuple(slice(0, n) for n in self.idx.shape)]
        return y

    def backward(self, gy):
        x, src = self.inputs
        n = self.needs_input_grad
        gx = masked_fill(gy, Tensor(written(self.idx, self.dim, x.shape)), 0) if n[0] else None
        gsrc = _into(gather_raw(gy, self.dim, self.idx), src.shape) if n[1] else None
        return gx, gsrc


def _into(g, shape):
    """g (index-shaped) placed at the start of zeros(shape): src may be larger than index, and only its leading
    index-shaped block is read."""
    if g.shape == tuple(shape):
        return g
    return pad(g, [w for n, m in zip(reversed(g.shape), reversed(shape)) for w in (0, m - n)])


def scatter(input, dim, index, src=None, *, value=None, reduce=None):
    """scatter(input, dim, index, src=None, *, value=None, reduce=None): a copy of x with src (or a number,
    value) written at `index` along `dim`; reduce="add"/"multiply" (PyTorch's older API) is scatter_reduce with
    "sum"/"prod", include_self=True.

    Forward:  y = x;  y[index[i][j]][j] = src[i][j]  (dim 0; likewise for other dims)
    Backward: dx = gy with the written places zeroed, dsrc = gather(gy, dim, index)
    """
    if src is None:
        src = value
    if src is None:
        raise TypeError("scatter(): expected src (a Tensor) or value (a number)")
    if reduce is not None:
        modes = {"add": "sum", "multiply": "prod"}
        if reduce not in modes:
            raise RuntimeError(f"scatter(): reduce argument must be either add or multiply, got {reduce!r}")
        x = _tensor(input)
        if not isinstance(src, Tensor):
            idx = _index(index, "scatter", x)
            src = Tensor(backend.get_array_module(x.data).full(idx.shape, src, dtype=x.dtype))
        return scatter_reduce(x, dim, index, src, modes[reduce])
    x, dim, idx, src = _scatter_args("scatter", input, dim, index, src)
    if idx.size == 0:
        return M.clone(x)
    x1, s1 = _flat0(x), (_flat0(src) if src.ndim == 0 else src)
    y = Scatter(dim, idx.reshape(-1) if x.ndim == 0 else idx)(x1, s1)
    return reshape(y, x.shape)


def scatter_add(input, dim, index, src):
    """scatter_add(input, dim, index, src): x with src added at `index` along `dim`, repeats adding up.

    Forward:  y = x;  y[index[i][j]][j] += src[i][j]  (dim 0; likewise for other dims)
    Backward: dx = gy, dsrc = gather(gy, dim, index)
    """
    x, dim, idx, src = _scatter_args("scatter_add", input, dim, index, src)
    if idx.size == 0:
        return M.clone(x)
    if x.ndim == 0:
        return reshape(scatter_add(_flat0(x), 0, idx.reshape(-1), _flat0(src)), ())
    part = src if src.shape == idx.shape else getitem(src, tuple(slice(0, n) for n in idx.shape))
    return x + scatter_add_raw(part, dim, idx, x.shape)




def index_select(input, dim, index):
    """index_select(input, dim, index): the entries at the 1-D int64 `index` along `dim`.

    Forward:  y = x[..., index, ...]  (index on axis dim)
    Backward: dx = zeros_like(x) with gy scatter-added back along dim (repeats add up)
    """
    x = _tensor(input)
    idx = _index(index, "index_select", x)
    if idx.ndim > 1:
        raise IndexError(f"index_select(): Index is supposed to be a vector, got shape {tuple(idx.shape)}")
    dim = _norm_dim(dim, x.ndim)
    _check_bounds(backend.get_array_module(idx), idx, x.shape[dim] if x.ndim else 1, "index_select", dim,
                  IndexError)
    if x.ndim == 0:
        if idx.size != 1:
            raise RuntimeError(f"index_select(): Index to scalar can have only 1 value, got {idx.size} value(s)")
        return reshape(getitem(_flat0(x), idx.reshape(-1)), ())
    return getitem(x, (slice(None),) * dim + (idx.reshape(-1),))


def _mask(mask, name, x):
    m = mask.data if isinstance(mask, Tensor) else backend.get_array_module(x.data).asarray(mask)
    if m.dtype != bool:
        raise DTypeError(f"{name}(): only supports boolean masks, but got mask with dtype {m.dtype}")
    return m


def masked_fill(input, mask, value):
    """masked_fill(input, mask, value): x with `value` (a number or a 0-d tensor) where the bool mask is
    True; the mask broadcasts to x.

    Forward:  y = value where mask else x
    Backward: dx = gy where not mask else 0, dvalue = sum of gy where mask
    """
    x = _tensor(input)
    m = _mask(mask, "masked_fill", x)
    if isinstance(value, Tensor):
        if value.ndim:
            raise RuntimeError(f"masked_fill(): only supports a 0-dimensional value tensor, but got tensor with "
                               f"{value.ndim} dimension(s)")
        v = astype(value, x.dtype)
    else:
        v = Tensor(backend.get_array_module(x.data).asarray(value).astype(x.dtype))
    return M.Where(m)(v, x) if numpy.broadcast_shapes(m.shape, x.shape) == x.shape else M.where(Tensor(m), v, x)


def masked_select(input, mask):
    """masked_select(input, mask): the entries of x where the bool mask is True, as a 1-D tensor (x
    and mask broadcast together). Its size depends on the data: one device sync, as PyTorch.

    Forward:  y = [x_i for i in row-major order if mask_i]
    Backward: dx = gy scattered back to the selected places, 0 elsewhere
    """
    x = _tensor(input)
    m = _mask(mask, "masked_select", x)
    shape = numpy.broadcast_shapes(m.shape, x.shape)
    xp = backend.get_array_module(m)
    return getitem(broadcast_to(x, shape), Tensor(xp.broadcast_to(m, shape)))


def nonzero(input, *, as_tuple=False):
    """nonzero(input, *, as_tuple=False): the indices of the nonzero entries: an (n, ndim) int64 tensor in
    row-major order, or (as_tuple=True) one 1-D tensor per dimension. Its size depends on the data: one device sync, as
    PyTorch.

    Forward:  y = [(i_0, ..., i_{ndim-1}) for each index with x[i] != 0]
    Backward: not differentiable (an integer result carries no gradient)
    """
    x = _tensor(input)
    xp = backend.get_array_module(x.data)
    data = x.data.reshape(1) if x.ndim == 0 else x.data
    found = tuple(i.astype(numpy.int64) for i in xp.nonzero(data))
    if as_tuple:
        return tuple(Tensor(i) for i in found)
    if x.ndim == 0:
        return Tensor(xp.zeros((int(found[0].size), 0), dtype=numpy.int64))
    return Tensor(xp.stack(found, axis=1) if found else xp.zeros((0, 0), dtype=numpy.int64))


def argwhere(input):
    """argwhere(input): the (n, ndim) int64 indices of the nonzero entries, as nonzero(input).

    Forward:  y = [(i_0, ..., i_{ndim-1}) for each index with x[i] != 0]
    Backward: not differentiable (an integer result carries no gradient)
    """
    return nonzero(input)


METHODS = {name: globals()[name] for name in __all__}
