"""layer_norm and group_norm: normalisation over each sample's own features (no running statistics), built on the
fused training-mode normaliser of ops/norm.py, so the backward is its hand-derived (and twice-differentiable) one."""
import math

from .errors import ShapeError
from .norm import norm_train
from .shape import reshape


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5): each sample normalised over its
    trailing dims `normalized_shape`, with γ, β of that shape applied elementwise.

    Forward:  y = (x - μ)/sqrt(σ² + eps)·γ + β,  μ, σ² (biased) over the trailing normalized_shape dims
    Backward: dx = r·(u - mean(u) - x̂·mean(u·x̂)) with u = γ·gy, x̂ the normalised input, r = 1/sqrt(σ² + eps);
              dγ = sum over the batch of gy·x̂, dβ = sum over the batch of gy
    """
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(int(s) for s in normalized_shape)
    k = len(shape)
    if k == 0 or input.ndim < k or tuple(input.shape[input.ndim - k:]) != shape:
        raise ShapeError(f"layer_norm: normalized_shape={list(shape)} expects input of shape [*, "
                         f"{', '.join(map(str, shape))}], got input of shape {tuple(input.shape)}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != shape:
            raise ShapeError(f"layer_norm: {name} of shape {tuple(t.shape)} must have normalized_shape {shape}")
    # γ and β vary over the normalised axes, so they are applied outside the fused op (whose fast backward
    # assumes per-channel constants there)
    y, _, _ = norm_train(input, None, None, tuple(range(input.ndim - k, input.ndim)), eps)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """group_norm(input, num_groups, weight=None, bias=None, eps=1e-5): the C channels of each sample split
    into num_groups groups, each normalised over its channels and positions; γ, β per channel.

    Forward:  y = (x - μ_g)/sqrt(σ_g² + eps)·γ_c + β_c,  μ_g, σ_g² (biased) over group g of each sample
    Backward: dx = r·(u - mean(u) - x̂·mean(u·x̂)) per group, u = γ_c·gy;  dγ_c = sum gy·x̂, dβ_c = sum gy
    """
    if input.ndim < 2:
        raise ShapeError(f"group_norm: expected input of shape (N, C, *), got {tuple(input.shape)}")
    n, c = input.shape[:2]
    if num_groups <= 0 or c % num_groups:
        raise ShapeError(f"group_norm: expected the number of channels in input to be divisible by num_groups, but "
                         f"got input of shape {tuple(input.shape)} and num_groups={num_groups}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != (c,):
            raise ShapeError(f"group_norm: {name} of shape {tuple(t.shape)} must be ({c},) for input "
                             f"{tuple(input.shape)}")
    # the group size from the known dims: -1 is ambiguous for an empty batch
    grouped = reshape(input, n, num_groups, math.prod(input.shape[1:]) // num_groups)
    y, _, _ = norm_train(grouped, None, None, (2,), eps)
    y = reshape(y, input.shape)
    per_channel = (c,) + (1,) * (input.ndim - 2)
    if weight is not None:
        y = y * reshape(weight, per_channel)
    if bias is not None:
        y = y + reshape(bias, per_channel)
    return y
