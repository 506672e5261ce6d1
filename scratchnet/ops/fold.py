"""unfold / fold, PyTorch's im2col API: sliding blocks of an image out into columns and added back.

Both are thin checked wrappers over the differentiable Im2Col / Col2Im pair of ops/conv_reference.py (the
convolution twin's im2col), so each is the other's backward: unfold is linear and fold is its adjoint,
<unfold(x), y> = <x, fold(y)>. (Tensor.unfold(dim, size, step) is a different op: a strided view along one dim.)
"""
import math
import numbers

from ..tensor import Tensor
from .conv_reference import Col2Im, Im2Col, zero_pad
from .errors import DTypeError, ShapeError
from .getitem import getitem
from .shape import reshape


def _pair(fn, name, value):
    """An int or a sequence of two ints, as (height, width); PyTorch's errors for anything else."""
    values = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    for v in values:
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise TypeError(f"{fn}(): argument '{name}' must be an int or a tuple of 2 ints, but found element of "
                            f"type {type(v).__name__}: {name}={value!r}")
    if len(values) != 2:
        raise ShapeError(f"{fn}(): It is expected {name} equals to 2, but got size {len(values)}: {name}={value!r}")
    return tuple(int(v) for v in values)


def _geometry(fn, kernel_size, dilation, padding, stride):
    """The four arguments as pairs, checked the way PyTorch's im2col/col2im check them."""
    k, d, p, s = (_pair(fn, name, v) for name, v in (("kernel_size", kernel_size), ("dilation", dilation),
                                                    ("padding", padding), ("stride", stride)))
    for name, pair, low in (("kernel_size", k, 1), ("stride", s, 1), ("dilation", d, 1), ("padding", p, 0)):
        if min(pair) < low:
            rule = "greater than zero" if low else "non-negative"
            raise ShapeError(f"{fn}(): {name} should be {rule}, but got {name}={pair}")
    return k, d, p, s


def _blocks(size, k, d, p, s):
    """How many blocks fit along each spatial dim: PyTorch's floor rule (size + 2p − d(k − 1) − 1) // s + 1."""
    return tuple((n + 2 * pp - dd * (kk - 1) - 1) // ss + 1 for n, kk, dd, pp, ss in zip(size, k, d, p, s))


def _check_input(fn, input, ndims, layout):
    if not isinstance(input, Tensor):
        raise TypeError(f"{fn}(): input must be a Tensor, got {type(input).__name__}")
    shape = tuple(input.shape)
    if input.ndim not in ndims or 0 in shape[1 if input.ndim == max(ndims) else 0:]:
        raise ShapeError(f"{fn}(): expected a {min(ndims)}-D or {max(ndims)}-D (batched) input {layout} with "
                         f"possibly 0 batch size and other non-zero dimensions, but got input shape {shape}")
    if input.dtype.kind in "iu":
        raise DTypeError(f"{fn}(): not implemented for integer input, got dtype {input.dtype}")


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """unfold(input, kernel_size, dilation=1, padding=0, stride=1): the sliding kh×kw blocks of a zero-padded
    (N, C, H, W) input as columns, (N, C·kh·kw, L), L = the number of blocks; an unbatched (C, H, W) input gives
    (C·kh·kw, L). Each argument is an int or an (h, w) pair. This is im2col; for the strided view along one dim see
    Tensor.unfold(dim, size, step).

    Forward:  y[n, c·kh·kw + i·kw + j, l] = x_pad[n, c, lh·sh + i·dh, lw·sw + j·dw],  l = lh·Lw + lw
    Backward: dx = fold(gy, (H, W), kernel_size, dilation, padding, stride)
    """
    _check_input("unfold", input, (3, 4), "(N, C, H, W)")
    k, d, p, s = _geometry("unfold", kernel_size, dilation, padding, stride)
    batched = input.ndim == 4
    x = input if batched else reshape(input, (1,) + tuple(input.shape))
    n, c = x.shape[:2]
    out = _blocks(x.shape[2:], k, d, p, s)
    if min(out) < 1:
        raise ShapeError(f"unfold(): given input with spatial size {tuple(x.shape[2:])}, kernel_size={k}, "
                         f"dilation={d}, padding={p}, calculated shape of the array of sliding blocks as {out}, "
                         f"but its components must be at least one (input shape {tuple(input.shape)})")
    cols = Im2Col(k, s, d, out)(zero_pad(x, p))                                   # (N, C, kh·kw, L)
    return reshape(cols, ((n,) if batched else ()) + (c * k[0] * k[1], math.prod(out)))


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1): columns (N, C·kh·kw, L) of
    sliding blocks added back into an (N, C, H, W) image, (H, W) = output_size, overlapping entries summed and the
    padding cropped; an unbatched (C·kh·kw, L) input gives (C, H, W). L must be the number of blocks that fit.
    This is col2im, the adjoint of unfold: <unfold(x), y> = <x, fold(y)>.

    Forward:  y[n, c, h, w] = Σ over (i, j, l) with lh·sh + i·dh − ph = h and lw·sw + j·dw − pw = w
              of x[n, c·kh·kw + i·kw + j, l]
    Backward: dx = unfold(gy, kernel_size, dilation, padding, stride)
    """
    _check_input("fold", input, (2, 3), "(N, C·kh·kw, L)")
    size = _pair("fold", "output_size", output_size)
    k, d, p, s = _geometry("fold", kernel_size, dilation, padding, stride)
    batched = input.ndim == 3
    cols = input if batched else reshape(input, (1,) + tuple(input.shape))
    n, ckk, length = cols.shape
    if ckk % (k[0] * k[1]):
        raise ShapeError(f"fold(): expected size of input's dimension {int(batched)} to be divisible by the product "
                         f"of kernel_size, but got input.size({int(batched)})={ckk} and kernel_size={k} "
                         f"(input shape {tuple(input.shape)})")
    out = _blocks(size, k, d, p, s)
    if length != out[0] * out[1] or min(out) < 1:
        raise ShapeError(f"fold(): given output_size={size}, kernel_size={k}, dilation={d}, padding={p}, "
                         f"stride={s}, expected size of input's dimension {int(batched) + 1} to match the calculated "
                         f"number of sliding blocks {out[0]} * {out[1]} = {out[0] * out[1]}, but got "
                         f"input.size({int(batched) + 1})={length} (input shape {tuple(input.shape)})")
    c = ckk // (k[0] * k[1])
    padded = tuple(m + 2 * pp for m, pp in zip(size, p))
    y = Col2Im(k, s, d, out, padded)(reshape(cols, (n, c, k[0] * k[1], length)))   # (N, C, H + 2ph, W + 2pw)
    if any(p):
        y = getitem(y, (slice(None), slice(None)) + tuple(slice(pp, pp + m) for pp, m in zip(p, size)))
    return y if batched else reshape(y, (c,) + size)
