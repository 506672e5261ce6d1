"""pad (scratchnet.pad and F.pad, one function): constant, reflect, replicate and circular padding, where a
negative width crops (PyTorch's semantics).

Every mode is a gather along each padded dim with an index vector i ∈ [−before, n + after) mapped into [0, n):
reflect folds it, replicate clamps it, circular wraps it mod n; a negative width just shortens the range (circular
wraps around the cropped part, as PyTorch). The
backward of a gather is a scatter-add, so padding is differentiable to any order. Constant mode crops with a slice
and pads with a fill."""
import numpy

from .. import backend
from ..autograd import Function
from .errors import ShapeError
from .getitem import _take_along, getitem

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


class PadConstant(Function):
    """x surrounded by a constant.

    Forward:  y = x with `widths` entries of `value` before and after it along each dim
    Backward: dx = the centre slice of gy
    """

    keeps_inputs = False

    def __init__(self, widths, value):
        self.widths, self.value = widths, value

    def forward(self, x):
        return backend.get_array_module(x).pad(x, self.widths, constant_values=self.value)

    def backward(self, gy):
        return getitem(gy, tuple(slice(b, b + n) for (b, _), n in zip(self.widths, self.inputs[0].shape)))


def _fold_index(n, before, after, mode):
    """Positions [-before, n + after) mapped into [0, n): reflect folds them at the edges, replicate clamps them."""
    i = numpy.arange(-before, n + after)
    if mode == "replicate":
        return numpy.clip(i, 0, n - 1)
    if before >= n or after >= n:
        raise ShapeError(f"pad: reflect padding ({before}, {after}) must be smaller than the dimension size {n}")
    i = numpy.abs(i)
    return numpy.where(i > n - 1, 2 * (n - 1) - i, i)


_device_indices = {}


def _device_index(n, before, after, mode, dev):
    """_index made once per (size, widths, mode, device) and kept there: a GPU step uploads nothing."""
    key = (n, before, after, mode, dev)
    idx = _device_indices.get(key)
    if idx is None:
        if len(_device_indices) > 512:   # bounded: many image sizes come and go
            _device_indices.clear()
        with backend.using(dev):
            idx = _device_indices[key] = backend.xp_for(dev).asarray(_index(n, before, after, mode))
    return idx


def _index(n, before, after, mode):
    if mode == "circular":  # as PyTorch: crop first, then wrap around what is left
        lo, hi = max(0, -before), n - max(0, -after)
        m, b, a = hi - lo, max(0, before), max(0, after)
        if b > m or a > m or (m == 0 and b + a):
            raise ShapeError(f"pad: circular padding ({before}, {after}) wraps around more than once (size {n})")
        return lo + numpy.arange(-b, m + a) % max(m, 1)
    return _fold_index(n, before, after, mode)


def pad(input, pad, mode="constant", value=None):
    """pad(input, pad, mode="constant", value=None), as PyTorch's F.pad: x extended (or cropped, for negative
    widths) along its last len(pad)/2 dims, pad = (before_last, after_last, before_second_last, ...); modes "constant"
    (value, 0 by default), "reflect" (mirrored without the edge; widths below the size), "replicate" (the edge
    repeated) and "circular" (wrapped around; the last 1-3 dims of a batched or unbatched input, as PyTorch), the
    last three refusing a value as PyTorch does. Reflect and replicate pad any dims.

    Forward:  y[i] = x[r(i)] with r the mode's index map (constant: value outside x)
    Backward: dx = gy's entries summed back to where each came from (a scatter-add); a constant fill contributes
              nothing
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
    x = input
    for d, (b, a) in enumerate(widths):
        if b or a:
            x = _take_along(x, d, _device_index(x.shape[d], b, a, mode, x.device))
    return x
