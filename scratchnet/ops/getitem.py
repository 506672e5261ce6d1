"""x[index] with PyTorch's rules, and its adjoint: GetItem reads x at an index (basic: a view; advanced: a gather)
and IndexAdd scatter-adds a gradient back into zeros at the same index; each is the other's backward, so indexing
is differentiable to any order. Every gather and scatter of the ops (gather, index_select, pad, unfold, ...) is one
of these two.
"""
import builtins

import numpy

from .. import backend
from ..autograd import Function
from ..tensor import Tensor


def raw_index(index, data):
    """The index as NumPy/CuPy understand it, on `data`'s device: Tensors become arrays, and a boolean mask becomes
    the integer arrays it selects (so the same index can drive the scatter-add of the backward), after checking its
    shape against the dims it covers (IndexError otherwise, as PyTorch)."""
    if not isinstance(index, tuple):
        index = (index,)
    xp = backend.get_array_module(data)
    index = tuple(i.data if isinstance(i, Tensor) else numpy.asarray(i) if isinstance(i, list) else i for i in index)
    used = builtins.sum(i.ndim if _is_mask(i) else 1 for i in index if i is not None and i is not Ellipsis)
    out, dim = [], 0
    for i in index:
        if i is Ellipsis:
            dim += data.ndim - used
        elif _is_mask(i):
            if tuple(i.shape) != tuple(data.shape[dim:dim + i.ndim]):
                raise IndexError(f"The shape of the mask {list(i.shape)} at index {dim} does not match the shape of "
                                 f"the indexed tensor {list(data.shape)} at index {dim}")
            if xp is not numpy:
                i = xp.asarray(i)
            out.extend(i.nonzero())
            dim += i.ndim
            continue
        elif i is not None:
            dim += 1
            if xp is not numpy and isinstance(i, numpy.ndarray):
                i = xp.asarray(i)  # index arrays must live where the data lives
        out.append(i)
    return tuple(out)


def _is_mask(i):
    return getattr(i, "dtype", None) == bool and i.ndim > 0


def _is_int(i):
    return isinstance(i, (int, numpy.integer)) and not isinstance(i, bool)


def _ints_first(index):
    """PyTorch applies integer indices first (each removes its dim), then the advanced (array) ones; NumPy counts an
    int as advanced, so `x[0, :, idx]` would put idx's dims in front. Returns (ints-only index, rest) when the two
    kinds are mixed, else None."""
    if not any(_is_int(i) for i in index) or not any(getattr(i, "ndim", 0) > 0 for i in index):
        return None
    first = tuple(i if (_is_int(i) or i is None or i is Ellipsis or isinstance(i, slice)) else slice(None)
                  for i in index)
    rest = tuple(slice(None) if i is None else i for i in index if not _is_int(i))
    return first, rest


def _is_basic(index):
    return all(i is None or i is Ellipsis or isinstance(i, (int, slice, numpy.integer)) for i in index)


class GetItem(Function):
    """y = x[index] (basic or advanced);  dx = zeros_like(x) with gy scatter-added at index"""

    keeps_inputs = False

    def __init__(self, index):
        self.index = index
        self.is_view = _is_basic(index)

    def forward(self, x):
        return x[self.index]

    def backward(self, gy):
        return IndexAdd(self.index, self.inputs[0].shape)(gy)


class IndexAdd(Function):
    """y = zeros(shape); y[index] += g (repeated indices add up);  dg = y_grad[index]"""

    keeps_inputs = False

    def __init__(self, index, shape):
        self.index, self.shape = index, shape

    def forward(self, g):
        xp = backend.get_array_module(g)
        y = xp.zeros(self.shape, dtype=g.dtype)
        if _is_basic(self.index):
            y[self.index] = g
        else:
            backend.scatter_add(xp, y, self.index, g)
        return y

    def backward(self, gy):
        return GetItem(self.index)(gy)


def getitem_raw(x, index):
    """x[index] for an index already made raw (raw_index): the op, its errors named."""
    try:
        return GetItem(index)(x)
    except IndexError as e:
        raise IndexError(f"index {index} is invalid for a tensor of shape {x.shape}: {e}") from None


def getitem(x, index):
    """x[index] with PyTorch's rules: ints, slices, None, Ellipsis, integer tensors/lists and bool masks (the mask's
    shape is checked); ints apply first, then the advanced indices, as PyTorch orders the result's dims.

    Forward:  y = x[index]  (a view for basic indices, a gather for advanced ones)
    Backward: dx = zeros_like(x) with gy added at index (repeated indices add up)
    """
    index = raw_index(index, x.data)
    split = _ints_first(index)
    if split is not None:
        x, index = getitem_raw(x, split[0]), split[1]
    return getitem_raw(x, index)


def _take_along(x, dim, idx):
    """x indexed with the integer array `idx` along axis `dim` (a gather; its backward is a scatter-add)."""
    return getitem(x, (slice(None),) * dim + (idx,))
