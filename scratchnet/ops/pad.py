"""F.pad: constant, reflect, replicate and circular padding, where a negative width crops (PyTorch's semantics).

Every mode is a gather along each padded dim with an index vector i ∈ [−before, n + after) mapped into [0, n):
reflect folds it, replicate clamps it, circular wraps it mod n; a negative width just shortens the range (circular
wraps around the cropped part, as PyTorch). The
backward of a gather is a scatter-add, so padding is differentiable to any order. Constant mode crops with a slice
and pads with a fill."""
import numpy

from .. import backend
from .errors import ShapeError
from .shape import PadConstant, _pad_index, _take_along, getitem

# PyTorch's circular mode pads the last 1, 2 or 3 dims of a (batched or not) signal, image or volume
_NON_CONSTANT_NDIM = {1: (2, 3), 2: (3, 4), 3: (4, 5)}


def _widths(x, pad):
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ShapeError(f"pad: padding length must be even and at most twice the number of dims, got pad={pad} "
                         f"for input of shape {tuple(x.shape)}")
    widths = [(0, 0)] * x.ndim
    for k in range(len(pad) // 2):
        d = x.ndim - 1 - k
        b, a = pad[2 * k], pad[2 * k + 1]
        if x.shape[d] + b + a < 0:
            raise ShapeError(f"pad: padding ({b}, {a}) of dim {d} (size {x.shape[d]}) gives a negative size, "
                             f"input shape {tuple(x.shape)}")
        widths[d] = (b, a)
    return pad, widths


def _index(n, before, after, mode):
    if mode == "circular":  # as PyTorch: crop first, then wrap around what is left
        lo, hi = max(0, -before), n - max(0, -after)
        m, b, a = hi - lo, max(0, before), max(0, after)
        if b > m or a > m or (m == 0 and b + a):
            raise ShapeError(f"pad: circular padding ({before}, {after}) wraps around more than once (size {n})")
        return lo + numpy.arange(-b, m + a) % max(m, 1)
    return _pad_index(n, before, after, mode)


def pad(input, pad, mode="constant", value=None):
    """pad(input, pad, mode="constant", value=None), as PyTorch's F.pad: x extended (or cropped, for negative
    widths) along its last len(pad)/2 dims, pad = (before_last, after_last, before_second_last, ...); modes "constant",
    "reflect", "replicate" and "circular".

    Forward:  y[i] = x[r(i)] with r the mode's index map (constant: value outside x)
    Backward: dx = gy's entries summed back to where each came from (a scatter-add); a constant fill contributes nothing
    """
    pad, widths = _widths(input, pad)
    if mode == "constant":
        crop = tuple(slice(max(0, -b), n - max(0, -a)) for (b, a), n in zip(widths, input.shape))
        x = getitem(input, crop) if any(b < 0 or a < 0 for b, a in widths) else input
        grow = tuple((max(0, b), max(0, a)) for b, a in widths)
        return PadConstant(grow, 0.0 if value is None else value)(x) if any(b or a for b, a in grow) else x
    if mode not in ("reflect", "replicate", "circular"):
        raise ShapeError(f"pad: mode must be 'constant', 'reflect', 'replicate' or 'circular', got {mode!r}")
    if value not in (None, 0, 0.0):
        raise ShapeError(f"pad: padding mode {mode!r} doesn't take in a value argument")
    k = len(pad) // 2
    # circular is held to PyTorch's shapes; reflect/replicate keep scratchnet's wider any-dims reach (sn.pad)
    if mode == "circular" and input.ndim not in _NON_CONSTANT_NDIM.get(k, ()):
        raise ShapeError(f"pad: {mode} padding of the last {k} dim(s) (pad={pad}) needs a "
                         f"{' or '.join(f'{d}-D' for d in _NON_CONSTANT_NDIM.get(k, (k + 1, k + 2)))} input, got "
                         f"shape {tuple(input.shape)}")
    xp = backend.get_array_module(input.data)
    x = input
    for d, (b, a) in enumerate(widths):
        if b or a:
            x = _take_along(x, d, xp.asarray(_index(x.shape[d], b, a, mode)))
    return x
