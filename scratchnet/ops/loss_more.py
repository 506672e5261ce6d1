"""More of PyTorch's losses: kl_div, smooth_l1_loss, huber_loss, triplet_margin_loss, and cross_entropy with
class-probability targets. Compositions of differentiable ops (differentiable twice), with PyTorch's reductions."""
import numpy

from .. import backend
from ..tensor import Tensor
from . import math as M
from . import loss as _L
from .activation import log_softmax
from .distance import pairwise_distance
from .errors import ShapeError


def legacy_reduction(size_average, reduce, reduction):
    """PyTorch's deprecated size_average/reduce pair turned into a reduction string (either given wins)."""
    if size_average is None and reduce is None:
        return reduction
    if reduce is False:
        return "none"
    return "sum" if size_average is False else "mean"


def _broadcast_pair(name, input, target):
    if not isinstance(target, Tensor):
        raise TypeError(f"{name}: target must be a Tensor, got {type(target).__name__}")
    try:
        numpy.broadcast_shapes(input.shape, target.shape)
    except ValueError:
        raise ShapeError(f"{name}: input shape {input.shape} and target shape {target.shape} cannot be broadcast "
                         "together") from None


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """kl_div(input, target, reduction="mean", log_target=False): the KL divergence with input x = log q
    (log-probabilities) and target t (or log t with log_target); 0 where t = 0 (t·log t -> 0); 'batchmean' divides the
    sum by the batch size (the true KL per sample), 'mean' by the element count.

    Forward:  L = t·(log t - x)  (log_target: eᵗ·(t - x))
    Backward: dx = -gL·t  (or -gL·eᵗ),  dt = gL·(log t + 1 - x)  (or gL·eᵗ·(t - x + 1))
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    _broadcast_pair("kl_div", input, target)
    input, target = M.promote(input, target)
    if log_target:
        loss = M.exp(target) * (target - input)
    else:
        xp = backend.get_array_module(target.data)
        pos = target.data > 0
        safe = M.where(pos, target, Tensor(xp.ones((), dtype=target.dtype)))
        loss = M.where(pos, target * M.log(safe), Tensor(xp.zeros((), dtype=target.dtype))) - target * input
    if reduction == "batchmean":
        return loss.sum() / input.shape[0] if input.ndim else loss.sum()
    if reduction not in _L.REDUCTIONS:
        raise ShapeError(f"kl_div: reduction must be one of {_L.REDUCTIONS + ('batchmean',)}, got {reduction!r}")
    return _L._reduce(loss, reduction, "kl_div")


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """smooth_l1_loss(input, target, reduction="mean", beta=1.0): quadratic near 0, linear beyond β
    (β = 0 is the L1 loss); d = x - y.

    Forward:  L = 0.5·d²/β where |d| < β, else |d| - 0.5·β
    Backward: dx = gL·d/β where |d| < β, else gL·sign(d);  dy = -dx
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    _broadcast_pair("smooth_l1_loss", input, target)
    if beta < 0:
        raise ShapeError(f"smooth_l1_loss: beta must be >= 0, got {beta}")
    d = input - target
    a = M.abs(d)
    if beta == 0:
        return _L._reduce(a, reduction, "smooth_l1_loss")
    loss = M.where(a.data < beta, d * d * (0.5 / beta), a - 0.5 * beta)
    return _L._reduce(loss, reduction, "smooth_l1_loss")


def huber_loss(input, target, reduction="mean", delta=1.0):
    """huber_loss(input, target, reduction="mean", delta=1.0): quadratic near 0, linear beyond δ; d = x - y.

    Forward:  L = 0.5·d² where |d| < δ, else δ·(|d| - 0.5·δ)
    Backward: dx = gL·d where |d| < δ, else gL·δ·sign(d);  dy = -dx
    """
    _broadcast_pair("huber_loss", input, target)
    if delta <= 0:
        raise ShapeError(f"huber_loss: delta must be > 0, got {delta}")
    d = input - target
    a = M.abs(d)
    loss = M.where(a.data < delta, d * d * 0.5, (a - 0.5 * delta) * delta)
    return _L._reduce(loss, reduction, "huber_loss")


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2.0, eps=1e-6, swap=False, size_average=None,
                        reduce=None, reduction="mean"):
    """triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2.0, eps=1e-6, swap=False,
    reduction="mean"): the hinge on distances, d(u, v) = ‖u - v + eps‖_p over the last dim; with swap, d(a, n) is
    replaced by min(d(a, n), d(p, n)).

    Forward:  L = max(d(a, p) - d(a, n) + margin, 0)
    Backward: where the hinge is active: da = gL·(∂d(a,p)/∂a - ∂d(a,n)/∂a), dp = gL·∂d(a,p)/∂p, dn = -gL·∂d(a,n)/∂n;
              0 elsewhere
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    dims = (anchor.ndim, positive.ndim, negative.ndim)
    if len(set(dims)) != 1:
        raise ShapeError(f"triplet_margin_loss: anchor, positive and negative must have the same number of "
                         f"dimensions, got anchor {anchor.shape}, positive {positive.shape}, negative {negative.shape}")
    if margin <= 0:
        raise ShapeError(f"triplet_margin_loss: margin must be greater than 0, got {margin}")
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = M.minimum(d_neg, pairwise_distance(positive, negative, p, eps))
    return _L._reduce(M.clamp(d_pos - d_neg + margin, min=0), reduction, "triplet_margin_loss")


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean",
                  label_smoothing=0.0):
    """cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean",
    label_smoothing=0.0): logits (N, C, ...) against integer class targets (see ops/loss.py) or class probabilities
    (float, input's shape), smoothed to (1-ε)·t + ε/C; with probabilities 'mean' divides by the number of samples N
    (not by a weight sum, as PyTorch).

    Forward:  L_n = -sum_c w_c·t_nc·log_softmax(x)_nc
    Backward: dx_n = gL_n·(softmax(x_n)·sum_c w_c t_nc - w∘t_n)
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    if not (isinstance(target, Tensor) and target.dtype.kind == "f" and target.shape == input.shape):
        # class indices (a float target of another shape is refused there, as an index target of the wrong dtype)
        return _L.cross_entropy(input, target, weight=weight, ignore_index=ignore_index, reduction=reduction,
                                label_smoothing=label_smoothing)
    if input.ndim < 1:
        raise ShapeError(f"cross_entropy: input needs a class dimension, got shape {input.shape}")
    _L.check_class_weight("cross_entropy", input, weight)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ShapeError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    if reduction not in _L.REDUCTIONS:
        raise ShapeError(f"cross_entropy: reduction must be one of {_L.REDUCTIONS}, got {reduction!r}")
    cdim = 1 if input.ndim >= 2 else 0
    c = input.shape[cdim]
    input, target = M.promote(input, target)
    t = target * (1 - label_smoothing) + label_smoothing / c if label_smoothing else target
    prod = log_softmax(input, cdim) * t
    if weight is not None:
        if weight.shape != (c,):
            raise ShapeError(f"cross_entropy: weight must have shape ({c},) for {c} classes, got {weight.shape}")
        prod = prod * weight.reshape((c,) + (1,) * (input.ndim - cdim - 1))
    loss = -prod.sum(cdim)
    if reduction == "mean":
        return loss.sum() / max(1, input.data.size // c) if loss.ndim else loss
    return loss.sum() if reduction == "sum" else loss
