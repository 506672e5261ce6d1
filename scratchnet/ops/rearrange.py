"""Rearranging ops: pixel_shuffle / pixel_unshuffle (depth ↔ space) and one_hot.

pixel_shuffle and its inverse are a reshape, a permute and a reshape, so their gradients are those of the same
moves undone (pixel_shuffle's backward is pixel_unshuffle and vice versa)."""
from .. import backend
from ..tensor import Tensor
from .errors import ShapeError
from .shape import permute, reshape


def _check(name, x, factor):
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: input must be a Tensor, got {type(x).__name__}")
    if x.ndim < 3:
        raise ShapeError(f"{name}: expects input to have at least 3 dimensions (*, C, H, W), got shape "
                         f"{tuple(x.shape)}")
    if not isinstance(factor, int) or factor <= 0:
        raise ShapeError(f"{name}: the factor must be a positive int, got {factor!r}")


def pixel_shuffle(input, upscale_factor):
    """pixel_shuffle(input, upscale_factor): (*, C·r², H, W) -> (*, C, H·r, W·r), channels to space.

    Forward:  y[.., c, h·r + i, w·r + j] = x[.., c·r² + i·r + j, h, w]
    Backward: dx = pixel_unshuffle(gy, r)
    """
    _check("pixel_shuffle", input, upscale_factor)
    r = upscale_factor
    *lead, c, h, w = input.shape
    if c % (r * r):
        raise ShapeError(f"pixel_shuffle: expects the channel dimension to be divisible by upscale_factor² = "
                         f"{r * r}, but input.size(-3)={c} (input shape {tuple(input.shape)})")
    k = len(lead)
    x = reshape(input, (*lead, c // (r * r), r, r, h, w))
    x = permute(x, *range(k), k, k + 3, k + 1, k + 4, k + 2)
    return reshape(x, (*lead, c // (r * r), h * r, w * r))


def pixel_unshuffle(input, downscale_factor):
    """pixel_unshuffle(input, downscale_factor): (*, C, H·r, W·r) -> (*, C·r², H, W), the inverse of
    pixel_shuffle.

    Forward:  y[.., c·r² + i·r + j, h, w] = x[.., c, h·r + i, w·r + j]
    Backward: dx = pixel_shuffle(gy, r)
    """
    _check("pixel_unshuffle", input, downscale_factor)
    r = downscale_factor
    *lead, c, h, w = input.shape
    for what, size in (("height", h), ("width", w)):
        if size % r:
            raise ShapeError(f"pixel_unshuffle: expects {what} to be divisible by downscale_factor={r}, got input "
                             f"of shape {tuple(input.shape)}")
    k = len(lead)
    x = reshape(input, (*lead, c, h // r, r, w // r, r))
    x = permute(x, *range(k), k, k + 2, k + 4, k + 1, k + 3)
    return reshape(x, (*lead, c * r * r, h // r, w // r))


def one_hot(tensor, num_classes=-1):
    """one_hot(tensor, num_classes=-1): int64, one more dim of size num_classes (-1 means max + 1). Checking the
    class values reads them back from the device, as PyTorch does on the CPU.

    Forward:  y[..., k] = 1 if tensor[...] == k else 0
    Backward: not differentiable (integer input and result)
    """
    if not isinstance(tensor, Tensor) or tensor.dtype.kind not in "iu":
        raise ShapeError(f"one_hot: is only applicable to an integer index tensor, got "
                         f"{getattr(tensor, 'dtype', type(tensor).__name__)}")
    xp = backend.get_array_module(tensor.data)
    t = tensor.data
    if num_classes == -1:
        if t.size == 0:
            raise ShapeError("one_hot: can not infer the number of classes from an empty tensor")
        num_classes = int(t.max()) + 1
    if t.size:
        if bool((t < 0).any()):
            raise ShapeError(f"one_hot: class values must be non-negative, got min {int(t.min())}")
        if bool((t >= num_classes).any()):
            raise ShapeError(f"one_hot: class values must be smaller than num_classes={num_classes}, got max "
                             f"{int(t.max())}")
    return Tensor((t[..., None] == xp.arange(num_classes)).astype(xp.int64))
