"""Ops that rearrange elements without changing them: flip, roll, unflatten, Tensor.unfold (sliding windows),
repeat_interleave, meshgrid. Each is a view-like reindexing, so each backward is the matching reindexing of the
gradient (flip undoes flip, roll by -shift undoes roll, scatter-add undoes a gather).
"""
import numpy

from .. import backend
from ..autograd import Function
from ..errors import ShapeError
from ..tensor import Tensor
from .getitem import getitem
from .shape import broadcast_to, permute, reshape, _norm_dim, _sizes
from .unary import _tensor

__all__ = ["flip", "fliplr", "flipud", "roll", "unflatten", "repeat_interleave", "meshgrid", "movedim", "moveaxis"]


def _dims(dims, ndim, name):
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    out = tuple(_norm_dim(d, ndim) for d in dims)
    if len(set(out)) != len(out):
        raise RuntimeError(f"{name}(): dims has duplicates: {dims}")
    return out


class Flip(Function):
    """y = x reversed along `dims`;  dx = gy reversed along the same dims"""

    keeps_inputs = False

    def __init__(self, dims):
        self.dims = dims

    def forward(self, x):
        return backend.get_array_module(x).flip(x, axis=self.dims).copy()

    def backward(self, gy):
        return Flip(self.dims)(gy)


def flip(input, *dims, **kwargs):
    """flip(input, dims): x reversed along each of `dims` (flip(x, dims=[0, 1]) or x.flip(0, 1)).

    Forward:  y[..., i, ...] = x[..., n - 1 - i, ...] along each dim in dims
    Backward: dx = flip(gy, dims)
    """
    x = _tensor(input)
    if set(kwargs) - {"dims"} or (kwargs and dims):
        raise TypeError(f"flip() takes dims as positional ints, a list, or dims=; got {dims} and {kwargs}")
    dims = _dims(_sizes(dims) if dims else kwargs.get("dims", ()), x.ndim, "flip")
    if not dims or x.ndim == 0:
        return Flip(())(x) if x.ndim else reshape(x, ())
    return Flip(dims)(x)


def fliplr(input):
    """fliplr(input): the columns reversed (dim 1; needs at least 2 dims).

    Forward:  y = flip(x, 1)
    Backward: dx = flip(gy, 1)
    """
    if _tensor(input).ndim < 2:
        raise ShapeError("fliplr(): input must be >= 2-d")
    return flip(input, 1)


def flipud(input):
    """flipud(input): the rows reversed (dim 0; needs at least 1 dim).

    Forward:  y = flip(x, 0)
    Backward: dx = flip(gy, 0)
    """
    if _tensor(input).ndim < 1:
        raise ShapeError("flipud(): input must be >= 1-d")
    return flip(input, 0)


class Roll(Function):
    """y = x shifted cyclically by `shifts` along `dims` (what falls off one end comes back at the other);
    dx = roll(gy, -shifts, dims)"""

    keeps_inputs = False

    def __init__(self, shifts, dims):
        self.shifts, self.dims = shifts, dims

    def forward(self, x):
        return backend.get_array_module(x).roll(x, self.shifts, axis=self.dims)

    def backward(self, gy):
        return Roll(tuple(-s for s in self.shifts), self.dims)(gy)


def roll(input, shifts, dims=None):
    """roll(input, shifts, dims=None): x shifted cyclically by `shifts` along `dims` (ints or tuples of equal
    length; dims=None rolls the flattened tensor and restores the shape): what falls off one end comes back at the
    other.

    Forward:  y[..., (i + shift) mod n, ...] = x[..., i, ...]
    Backward: dx = roll(gy, -shifts, dims)
    """
    x = _tensor(input)
    shifts = (shifts,) if isinstance(shifts, int) else tuple(int(s) for s in shifts)
    if dims is None:
        if len(shifts) != 1:
            raise RuntimeError(f"roll(): shifts and dimensions must align: shifts {len(shifts)}, dims 0")
        return reshape(Roll(shifts, (0,))(reshape(x, -1)), x.shape)
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    if len(shifts) != len(dims):
        raise RuntimeError(f"roll(): shifts and dimensions must align: shifts {len(shifts)}, dims {len(dims)}")
    if x.ndim == 0:
        raise IndexError(f"roll(): Dimension specified as {dims[0]} but tensor has no dimensions")
    return Roll(shifts, tuple(_norm_dim(d, x.ndim) for d in dims))(x)


def movedim(input, source, destination):
    """movedim(input, source, destination) (alias moveaxis): axis `source` moved to `destination` (ints or
    equal-length tuples), the other axes keeping their order.

    Forward:  y = permute(x, order) with order placing each source axis at its destination
    Backward: dx = permute(gy, argsort(order))
    """
    x = _tensor(input)
    src = (source,) if isinstance(source, int) else tuple(source)
    dst = (destination,) if isinstance(destination, int) else tuple(destination)
    if len(src) != len(dst):
        raise RuntimeError(f"movedim(): Invalid source or destination dims: source {src} and destination {dst} "
                           "must have the same number of dims")
    src, dst = _dims(src, x.ndim, "movedim"), _dims(dst, x.ndim, "movedim")
    order = [None] * x.ndim
    for s, d in zip(src, dst):
        order[d] = s
    rest = iter(i for i in range(x.ndim) if i not in src)
    return permute(x, *[o if o is not None else next(rest) for o in order]) if x.ndim else x


moveaxis = movedim


def unflatten(input, dim, sizes):
    """unflatten(input, dim, sizes): axis `dim` split into `sizes` (one of them may be -1).

    Forward:  y = reshape(x, x.shape[:dim] + sizes + x.shape[dim+1:])
    Backward: dx = reshape(gy, x.shape)
    """
    x = _tensor(input)
    dim = _norm_dim(dim, x.ndim)
    sizes = tuple(int(s) for s in sizes)
    if not sizes:
        raise RuntimeError("unflatten(): sizes must be non-empty")
    n = x.shape[dim] if x.ndim else 1
    known = int(numpy.prod([s for s in sizes if s != -1]))
    if sizes.count(-1) > 1 or (-1 not in sizes and known != n) or (-1 in sizes and (known == 0 or n % known)):
        raise ShapeError(f"unflatten(): Provided sizes {list(sizes)} don't multiply up to the size of dim {dim} "
                           f"({n}) in the input tensor of shape {x.shape}")
    sizes = tuple(n // known if s == -1 else s for s in sizes)
    return reshape(x, x.shape[:dim] + sizes + x.shape[dim + 1:])


def unfold(input, dimension, size, step):
    """x.unfold(dimension, size, step) (Tensor.unfold): every window of `size` entries along `dimension`,
    `step` apart, as a new last axis.

    Forward:  y[..., i, ..., j] = x[..., i*step + j, ...],  i < (n - size) // step + 1
    Backward: dx = gy scatter-added back to the windows' places (overlapping windows add up)
    """
    x = _tensor(input)
    zero_d = x.ndim == 0
    if zero_d:  # PyTorch: a 0-d tensor unfolds to its one window of size <= 1, with no new axis
        x = reshape(x, (1,))
    dim = _norm_dim(dimension, x.ndim, "dimension")
    n = x.shape[dim]
    if size > n:
        raise ShapeError(f"unfold(): maximum size for tensor at dimension {dim} is {n} but size is {size}")
    if size < 0:
        raise RuntimeError(f"unfold(): size is {size} but must be >= 0")
    if step <= 0:
        raise RuntimeError(f"unfold(): step is {step} but must be > 0")
    if zero_d:
        return getitem(x, slice(0, size))
    xp = backend.get_array_module(x.data)
    windows = (n - size) // step + 1
    idx = xp.arange(windows)[:, None] * step + xp.arange(size)[None, :]  # (windows, size)
    y = getitem(x, (slice(None),) * dim + (idx,))  # (..., windows, size, ...)
    order = list(range(y.ndim))
    order.append(order.pop(dim + 1))
    return permute(y, *order)


def _repeat_positions(counts, total=None):
    """arange(len(counts)) with entry i repeated counts[i] times, built on the counts' device: position j of the
    output belongs to the first i whose running total exceeds j. The length is data: one device sync unless
    `total` (output_size) is given, as in PyTorch."""
    xp = backend.get_array_module(counts)
    ends = xp.cumsum(counts)
    if total is None:
        total = int(ends[-1]) if counts.shape[0] else 0
    return xp.searchsorted(ends, xp.arange(total), side="right").astype(numpy.int64)


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    """repeat_interleave(input, repeats=None, dim=None, *, output_size=None): each entry repeated
    `repeats` times (an int, or a 1-D tensor with one count per entry) along `dim` (dim=None: over the flattened
    tensor); repeat_interleave(counts) alone gives arange(len(counts)) repeated by counts.

    Forward:  y = x[..., idx, ...] with idx = [0]*r_0 + [1]*r_1 + ... along dim
    Backward: dx_i = sum of gy over the r_i copies of entry i
    """
    if repeats is None:
        counts = _tensor(input)
        return Tensor(_repeat_positions(counts.data.reshape(-1), output_size))
    x = _tensor(input)
    if dim is None:
        x, dim = reshape(x, -1), 0
    else:
        dim = _norm_dim(dim, x.ndim)
        if x.ndim == 0:
            x = reshape(x, (1,))
    xp = backend.get_array_module(x.data)
    n = x.shape[dim]
    if isinstance(repeats, Tensor):
        counts = repeats.data.reshape(-1) if repeats.ndim <= 1 else None
        if counts is None or counts.shape[0] not in (1, n):
            raise ShapeError(f"repeat_interleave(): repeats must have the same size as input along dim {dim}: "
                               f"repeats {repeats.shape}, input {x.shape}")
        if xp is numpy and counts.size and counts.min() < 0:
            raise RuntimeError("repeat_interleave(): repeats can not be negative")
    else:
        if int(repeats) < 0:
            raise RuntimeError("repeat_interleave(): repeats can not be negative")
        counts = int(repeats)
    idx = xp.repeat(xp.arange(n), counts) if isinstance(counts, int) else \
        _repeat_positions(xp.broadcast_to(counts, (n,)), output_size)
    if output_size is not None and idx.shape[0] != output_size:
        raise RuntimeError(f"repeat_interleave(): output_size {output_size} does not match the repeats' sum "
                           f"{idx.shape[0]}")
    return getitem(x, (slice(None),) * dim + (idx,))


def meshgrid(*tensors, indexing="ij"):
    """meshgrid(*tensors, indexing="ij"): coordinate grids from 0-d or 1-D tensors: output k holds
    tensors[k] broadcast along every other axis (indexing="ij": along axis k; "xy": the first two axes swapped, as
    NumPy's default).

    Forward:  y_k[i_0, ..., i_{n-1}] = x_k[i_k]
    Backward: dx_k = gy_k summed over every axis but k
    """
    tensors = _sizes(tensors)
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f"meshgrid(): indexing must be one of 'xy' or 'ij', got {indexing!r}")
    ts = [_tensor(t) for t in tensors]
    for i, t in enumerate(ts):
        if t.ndim > 1:
            raise ShapeError(f"meshgrid(): Expected 0D or 1D tensor in the tensor list but got tensor {i} of "
                               f"shape {t.shape}")
    ts = [reshape(t, -1) for t in ts]
    swap = indexing == "xy" and len(ts) >= 2
    order = list(range(len(ts)))
    if swap:
        order[0], order[1] = 1, 0
    shape = tuple(ts[k].shape[0] for k in order)
    out = []
    for k, t in enumerate(ts):
        axis = order.index(k)
        view = [1] * len(ts)
        view[axis] = t.shape[0]
        out.append(broadcast_to(reshape(t, tuple(view)), shape))
    return tuple(out)


METHODS = {name: globals()[name] for name in ("flip", "fliplr", "flipud", "roll", "unflatten", "repeat_interleave",
                                               "movedim", "moveaxis", "unfold")}
