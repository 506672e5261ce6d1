"""Ops that move elements without changing them: broadcast/sum_to, reshape, permute, cat, split, repeat; indexing
(x[index]) is in ops/getitem.py and padding in ops/pad.py, both re-exported here.

Each one's backward is another op of this file (reshape undoes reshape, sum_to undoes broadcast, scatter-add undoes
gather), so they are differentiable to any order.
"""
import math

import numpy

from .. import backend
from ..autograd import Function
from ..errors import ShapeError
from . import parallel
from .promotion import promote
from .getitem import GetItem, IndexAdd, getitem, getitem_raw, raw_index  # noqa: F401  (re-exported)
from .pad import pad  # noqa: F401  (re-exported: scratchnet.pad is F.pad)


def _norm_dim(dim, ndim, name="dim"):
    n = ndim if ndim > 0 else 1  # a 0-d tensor takes dim 0 or -1, as PyTorch
    if not -n <= dim < n:
        raise IndexError(f"{name}={dim} is out of range for a tensor with {ndim} dimension(s)")
    return dim % n


def _sizes(args):
    """Accept both f(2, 3) and f((2, 3))."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        return tuple(args[0])
    return tuple(args)


# ---- broadcasting ----

class SumTo(Function):
    """y = x summed over the axes that broadcasting added or stretched, so y.shape == shape;
    dx = broadcast_to(gy, x.shape)"""

    keeps_inputs = False

    def __init__(self, shape):
        self.shape = tuple(shape)

    def forward(self, x):
        lead = x.ndim - len(self.shape)
        stretched = tuple(i + lead for i, s in enumerate(self.shape) if s == 1 and x.shape[i + lead] != 1)
        axes = tuple(range(lead)) + stretched
        y = parallel.reduce_trailing("sum", x, axes, True) if axes else x   # over the CPU's threads when large
        return y.reshape(self.shape) if lead else y

    def backward(self, gy):
        return broadcast_to(gy, self.inputs[0].shape)


class BroadcastTo(Function):
    """y = x repeated along new or size-1 axes to `shape`;  dx = sum_to(gy, x.shape)"""

    keeps_inputs = False
    is_view = True

    def __init__(self, shape):
        self.shape = tuple(shape)

    def forward(self, x):
        return backend.get_array_module(x).broadcast_to(x, self.shape)

    def backward(self, gy):
        return sum_to(gy, self.inputs[0].shape)


def sum_to(x, shape):
    """sum_to(input, shape): x summed down to `shape` over the axes broadcasting added or stretched: the one place
    where every broadcasting op's backward undoes the broadcast (the adjoint of broadcast_to).

    Forward:  y = sum of x over the leading axes and the axes where shape has 1 and x does not
    Backward: dx = broadcast_to(gy, x.shape)
    """
    return x if x.shape == tuple(shape) else SumTo(shape)(x)


def broadcast_to(x, shape):
    """broadcast_to(input, shape): x repeated (as a view) along new leading axes and its size-1 axes, NumPy's
    broadcasting rules; the target may not have fewer dims.

    Forward:  y[..., i, ...] = x[..., i if x.shape[d] > 1 else 0, ...]
    Backward: dx = sum_to(gy, x.shape)
    """
    shape = tuple(shape)
    if x.shape == shape:
        return x
    try:
        numpy.broadcast_shapes(x.shape, shape)
    except ValueError:
        raise ShapeError(f"broadcast_to/expand: shape {x.shape} cannot be broadcast to {shape}") from None
    if len(shape) < x.ndim:
        raise ShapeError(f"broadcast_to/expand: target {shape} has fewer dimensions than the tensor's {x.shape}")
    return BroadcastTo(shape)(x)


def expand(x, *sizes):
    """x.expand(*sizes): broadcast_to with -1 for "keep this size", as Tensor.expand (a view, no copy).

    Forward:  y = broadcast_to(x, sizes with each -1 replaced by x's size there)
    Backward: dx = sum_to(gy, x.shape)
    """
    sizes = _sizes(sizes)
    lead = len(sizes) - x.ndim
    shape = tuple(x.shape[i - lead] if s == -1 else s for i, s in enumerate(sizes))
    return broadcast_to(x, shape)


# ---- reshaping ----

class Reshape(Function):
    """y = x with a new shape, same elements in the same (C) order;  dx = reshape(gy, x.shape)"""

    keeps_inputs = False
    is_view = True

    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        return x.reshape(self.shape)

    def backward(self, gy):
        return reshape(gy, self.inputs[0].shape)


def reshape(x, *shape):
    """reshape(input, shape): the same elements in the same (C) order under a new shape; one -1 is inferred;
    `reshape(x, 2, 3)` and `reshape(x, (2, 3))` both work. Tensor.view is the same op.

    Forward:  y = x laid out as `shape` (y.flat[i] = x.flat[i])
    Backward: dx = reshape(gy, x.shape)
    """
    shape = _sizes(shape)
    if shape == x.shape:
        return x
    known = 1
    for s in shape:
        known *= s if s != -1 else 1
    if shape.count(-1) > 1 or (shape.count(-1) == 0 and known != x.data.size) or \
            (shape.count(-1) == 1 and (known == 0 or x.data.size % known)):
        raise ShapeError(f"reshape: cannot reshape a tensor of shape {x.shape} ({x.data.size} elements) into {shape}")
    return Reshape(shape)(x)


def flatten(x, start_dim=0, end_dim=-1):
    """flatten(input, start_dim=0, end_dim=-1): dims start_dim..end_dim merged into one (a 0-d tensor becomes
    shape (1,)), as torch.flatten.

    Forward:  y = reshape(x, x.shape[:s] + (prod(x.shape[s:e+1]),) + x.shape[e+1:])
    Backward: dx = reshape(gy, x.shape)
    """
    if x.ndim == 0:  # dims 0 and -1 name its one element, as PyTorch; others are out of range
        _norm_dim(start_dim, 0, "start_dim"), _norm_dim(end_dim, 0, "end_dim")
        return reshape(x, 1)
    s, e = _norm_dim(start_dim, x.ndim, "start_dim"), _norm_dim(end_dim, x.ndim, "end_dim")
    # the merged size from the known dims, not -1: (0, 3, 4) → (0, 12) is well defined although reshape(0, -1) is not
    return reshape(x, x.shape[:s] + (math.prod(x.shape[s:e + 1]),) + x.shape[e + 1:])


def squeeze(x, dim=None):
    """squeeze(input, dim=None): size-1 dims removed (all of them, or those among `dim`, an int or a tuple; a dim
    that is not size 1 is left alone, as in PyTorch).

    Forward:  y = reshape(x, x.shape without the size-1 dims chosen)
    Backward: dx = reshape(gy, x.shape)
    """
    if dim is None:
        return reshape(x, tuple(s for s in x.shape if s != 1))
    dims = {_norm_dim(d, x.ndim) for d in ((dim,) if isinstance(dim, int) else dim)}
    return reshape(x, tuple(s for i, s in enumerate(x.shape) if not (i in dims and s == 1)))


def unsqueeze(x, dim):
    """unsqueeze(input, dim): a size-1 dim inserted at `dim` (in -ndim-1 .. ndim).

    Forward:  y = reshape(x, x.shape[:dim] + (1,) + x.shape[dim:])
    Backward: dx = reshape(gy, x.shape)
    """
    dim = _norm_dim(dim, x.ndim + 1)
    return reshape(x, x.shape[:dim] + (1,) + x.shape[dim:])


class Permute(Function):
    """y = x with axes reordered: y.shape[i] = x.shape[dims[i]];  dx = permute(gy, argsort(dims))"""

    keeps_inputs = False
    is_view = True

    def __init__(self, dims):
        self.dims = dims

    def forward(self, x):
        return x.transpose(self.dims)

    def backward(self, gy):
        return permute(gy, *sorted(range(len(self.dims)), key=self.dims.__getitem__))  # argsort(dims)


def permute(x, *dims):
    """permute(input, dims): the axes reordered (a view); `dims` must be a permutation of the axes.

    Forward:  y.shape[i] = x.shape[dims[i]],  y[j_0, ..., j_n] = x at index j placed by dims
    Backward: dx = permute(gy, argsort(dims))
    """
    ndim = x.ndim
    dims = tuple([_norm_dim(d, ndim) for d in _sizes(dims)])
    axes = tuple(range(ndim))
    if tuple(sorted(dims)) != axes:
        raise ShapeError(f"permute: dims {dims} are not a permutation of the {ndim} axes of shape {x.shape}")
    return x if dims == axes else Permute(dims)(x)


def transpose(x, dim0, dim1):
    """transpose(input, dim0, dim1): two axes swapped (a view).

    Forward:  y = permute(x, dims with dim0 and dim1 swapped)
    Backward: dx = transpose(gy, dim0, dim1)
    """
    dims = list(range(x.ndim))
    a, b = _norm_dim(dim0, x.ndim), _norm_dim(dim1, x.ndim)
    dims[a], dims[b] = dims[b], dims[a]
    return permute(x, *dims)


# ---- joining and splitting ----

class Cat(Function):
    """y = the inputs joined along `dim`;  dx_i = the slice of gy that x_i filled"""

    keeps_inputs = False

    def __init__(self, dim):
        self.dim = dim

    def forward(self, *xs):
        xp, x = backend.get_array_module(xs[0]), xs[0]
        if type(x) is not numpy.ndarray or x.ndim == 0 or self.dim % x.ndim == 0 or \
                any(a.dtype != x.dtype for a in xs):
            return xp.concatenate(xs, axis=self.dim)
        # along a later axis each sample's part is joined on its own: samples split over the CPU's threads
        shape = list(x.shape)
        shape[self.dim] = sum(a.shape[self.dim] for a in xs)
        y = xp.empty(shape, dtype=x.dtype)
        parallel.over_first_axis(y, lambda i, j: xp.concatenate([a[i:j] for a in xs], axis=self.dim, out=y[i:j]))
        return y

    def backward(self, gy):
        grads, start = [], 0
        for x, need in zip(self.inputs, self.needs_input_grad):
            n = x.shape[self.dim]
            grads.append(getitem(gy, (slice(None),) * self.dim + (slice(start, start + n),)) if need else None)
            start += n
        return tuple(grads)


def cat(tensors, dim=0):
    """cat(tensors, dim=0) (alias concatenate): the tensors joined along `dim`; all shapes must match except there;
    the dtypes are promoted as PyTorch does.

    Forward:  y = [x_1; x_2; ...] along dim
    Backward: dx_i = the slice of gy along dim that x_i filled
    """
    tensors = promote(*tensors)
    if not tensors:
        raise ShapeError("cat: expected a non-empty list of tensors")
    first = tensors[0]
    dim = _norm_dim(dim, first.ndim)
    for i, t in enumerate(tensors):
        if t.ndim != first.ndim or t.shape[:dim] + t.shape[dim + 1:] != first.shape[:dim] + first.shape[dim + 1:]:
            raise ShapeError(f"cat: tensor {i} has shape {t.shape}, but tensor 0 has shape {first.shape}; "
                             f"all must match except in dim {dim}")
    return Cat(dim)(*tensors)


def stack(tensors, dim=0):
    """stack(tensors, dim=0): same-shaped tensors joined along a new dim.

    Forward:  y = cat([unsqueeze(x_i, dim) for each i], dim)
    Backward: dx_i = select(gy, dim, i)
    """
    tensors = list(tensors)
    if not tensors:
        raise ShapeError("stack: expected a non-empty list of tensors")
    for i, t in enumerate(tensors):
        if t.shape != tensors[0].shape:
            raise ShapeError(f"stack: tensor {i} has shape {t.shape}, but tensor 0 has shape {tensors[0].shape}")
    dim = _norm_dim(dim, tensors[0].ndim + 1)
    return cat([unsqueeze(t, dim) for t in tensors], dim)


def split(x, split_size_or_sections, dim=0):
    """split(tensor, split_size_or_sections, dim=0): a tuple of slices along `dim`; an int gives chunks of that
    size (the last may be smaller), a list gives those sizes (they must sum to the dim's size).

    Forward:  y_k = x[..., start_k : start_k + size_k, ...] along dim
    Backward: dx = the pieces' gradients put back in place (zeros for unused pieces)
    """
    dim = _norm_dim(dim, x.ndim)
    n = x.shape[dim]
    if isinstance(split_size_or_sections, int):
        if split_size_or_sections <= 0:
            raise ShapeError(f"split: split_size must be positive, got {split_size_or_sections}")
        sizes = [min(split_size_or_sections, n - s) for s in range(0, n, split_size_or_sections)]
    else:
        sizes = list(split_size_or_sections)
        if sum(sizes) != n:
            raise ShapeError(f"split: sections {sizes} sum to {sum(sizes)}, but dim {dim} has size {n}")
    out, start = [], 0
    for s in sizes:
        out.append(getitem(x, (slice(None),) * dim + (slice(start, start + s),)))
        start += s
    return tuple(out)


def chunk(x, chunks, dim=0):
    """chunk(input, chunks, dim=0): at most `chunks` slices of size ceil(n / chunks) along `dim`, as torch.chunk.

    Forward:  y = split(x, ceil(x.shape[dim] / chunks), dim)
    Backward: dx = the pieces' gradients put back in place
    """
    n = x.shape[_norm_dim(dim, x.ndim)]
    return split(x, max(1, -(-n // chunks)), dim)


# ---- tiling ----

def repeat(x, *sizes):
    """x.repeat(*sizes): PyTorch's repeat (NumPy's tile): the tensor tiled sizes[i] times along dim i (leading dims
    are added when sizes is longer).

    Forward:  y[i_0, ..., i_n] = x[i_0 mod s_0, ..., i_n mod s_n]
    Backward: dx = gy folded to (r_0, s_0, r_1, s_1, ...) and summed over the r axes
    """
    sizes = _sizes(sizes)
    if len(sizes) < x.ndim:
        raise ShapeError(f"repeat: {len(sizes)} repeat sizes given for a tensor with {x.ndim} dims")
    x = reshape(x, (1,) * (len(sizes) - x.ndim) + x.shape)
    shape = x.shape
    expanded = broadcast_to(reshape(x, sum(((1, s) for s in shape), ())), sum(zip(sizes, shape), ()))
    return reshape(expanded, tuple(r * s for r, s in zip(sizes, shape)))
