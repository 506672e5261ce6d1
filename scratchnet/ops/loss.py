"""Losses, written as compositions of differentiable ops (so they are differentiable twice), with PyTorch's
arguments and reductions ('mean' | 'sum' | 'none')."""
import numpy

from .. import backend
from ..autograd import Function
from ..tensor import Tensor
from . import math as M
from .activation import log_softmax, softplus
from .shape import reshape, permute
from ..errors import ShapeError

REDUCTIONS = ("mean", "sum", "none")


def _reduce(loss, reduction, name):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ShapeError(f"{name}: reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _class_last(x):
    """(N, C, d1, ...) -> (N·d1·..., C); (N, C) and (C,) pass through as 2-D."""
    if x.ndim == 1:
        return reshape(x, 1, -1)
    if x.ndim == 2:
        return x
    return reshape(permute(x, 0, *range(2, x.ndim), 1), -1, x.shape[1])


def _check_targets(name, input, target, ignore_index):
    if not isinstance(target, Tensor):
        raise TypeError(f"{name}: target must be a Tensor of class indices, got {type(target).__name__}")
    if target.dtype.kind not in "iu":
        raise TypeError(f"{name}: target must hold integer class indices (int64), got dtype {target.dtype} "
                        "(for probabilities use binary_cross_entropy or pass .long() indices)")
    expected = input.shape[:1] + input.shape[2:] if input.ndim >= 2 else ()
    if target.shape != expected:
        raise ShapeError(f"{name}: input of shape {input.shape} needs target of shape {expected}, "
                         f"got {target.shape}")
    t = target.data
    c = input.shape[1] if input.ndim >= 2 else input.shape[0]

    def error():
        host = backend.to_numpy(t).ravel()
        bad = host[(host != ignore_index) & ((host < 0) | (host >= c))][:5].tolist()
        return IndexError(f"{name}: target values {bad} are out of range for {c} classes (expected 0..{c - 1})")
    # on a GPU the test stays on the device and is reported at the next sync point (no stall inside a step)
    with backend.on(t):
        backend.check_later(((t != ignore_index) & ((t < 0) | (t >= c))).any(), error)


def check_class_weight(name, input, weight):
    """A class weight is 1-D with one entry per class, as PyTorch requires."""
    c = input.shape[1] if input.ndim >= 2 else input.shape[0]
    if weight is not None and (weight.ndim != 1 or weight.shape[0] != c):
        raise ShapeError(f"{name}: weight tensor should be defined either for all {c} classes or no classes but got "
                         f"weight tensor of shape: {list(weight.shape)} (input shape {input.shape})")


@backend.follows_device
def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):
    """nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"): the negative log-likelihood
    of integer class targets; input (N, C, ...) holds log-probabilities, target (N, ...) class indices; targets equal
    to ignore_index count nowhere; 'mean' divides by the sum of w[y_i] over the kept i.

    Forward:  L_i = -w[y_i]·input[i, y_i]
    Backward: dinput[i, c] = -w[y_i]·gL_i if c = y_i else 0  (divided by sum w[y_i] for 'mean')
    """
    _check_targets("nll_loss", input, target, ignore_index)
    check_class_weight("nll_loss", input, weight)
    logp = _class_last(input)
    t = target.data.reshape(-1)
    xp = backend.get_array_module(t)
    keep = t != ignore_index
    safe = xp.where(keep, t, 0)
    picked = logp[xp.arange(len(t)), safe]
    w = xp.ones(logp.shape[1], dtype=logp.dtype) if weight is None else weight.data.astype(logp.dtype)
    wt = Tensor(w[safe] * keep)
    loss = -picked * wt
    if reduction == "mean":
        return loss.sum() / wt.sum()
    if reduction == "none":
        return reshape(loss, target.shape)
    return _reduce(loss, reduction, "nll_loss")


@backend.follows_device
def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean",
    label_smoothing=0.0): log_softmax then nll_loss, for integer class targets (N, ...) against logits (N, C, ...); with
    label_smoothing ε the target mixes in the uniform distribution.

    Forward:  L_i = (1-ε)·nll(log_softmax(x), y)_i + (ε/C)·sum_c -w_c·log_softmax(x)_ic
    Backward: dx_i = gL_i·(softmax(x_i)·sum_c q_ic w_c - w∘q_i),  q_i = (1-ε)·onehot(y_i) + ε/C
    """
    if input.ndim < 1:
        raise ShapeError(f"cross_entropy: input needs a class dimension, got shape {input.shape}")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ShapeError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    logp = log_softmax(input, 1 if input.ndim >= 2 else 0)
    nll = nll_loss(logp, target, weight, ignore_index, reduction)
    if label_smoothing == 0:
        return nll
    lp = _class_last(logp)
    t = target.data.reshape(-1)
    xp = backend.get_array_module(t)
    keep = Tensor((t != ignore_index).astype(lp.dtype))
    w = None if weight is None else Tensor(weight.data.astype(lp.dtype))
    smooth = -(lp if w is None else lp * w).sum(1) * keep
    c = lp.shape[1]
    if reduction == "mean":
        if w is None:
            smooth = smooth.sum() / keep.sum()
        else:
            smooth = smooth.sum() / Tensor((weight.data.astype(lp.dtype)[xp.where(t != ignore_index, t, 0)]
                                            * keep.data)).sum()
    elif reduction == "sum":
        smooth = smooth.sum()
    else:
        smooth = reshape(smooth, target.shape)
    return nll * (1 - label_smoothing) + smooth * (label_smoothing / c)


def _check_same_shape(name, input, target):
    if not isinstance(target, Tensor):
        raise TypeError(f"{name}: target must be a Tensor, got {type(target).__name__}")
    if input.shape != target.shape:
        raise ShapeError(f"{name}: input shape {input.shape} and target shape {target.shape} must match")
    if target.dtype.kind != "f":
        raise TypeError(f"{name}: target must be floating point, got dtype {target.dtype} (use .float())")


@backend.follows_device
def mse_loss(input, target, reduction="mean"):
    """mse_loss(input, target, reduction="mean"): the squared error; shapes must match.
    reduction: 'none' keeps L per element, 'sum' adds, 'mean' (the default) averages.

    Forward:  L = (x - y)²
    Backward: dx = gL·2(x - y),  dy = -dx
    """
    _check_same_shape("mse_loss", input, target)
    d = input - target
    return _reduce(d * d, reduction, "mse_loss")


@backend.follows_device
def l1_loss(input, target, reduction="mean"):
    """l1_loss(input, target, reduction="mean"): the absolute error; shapes must match.
    reduction: 'none' keeps L per element, 'sum' adds, 'mean' (the default) averages.

    Forward:  L = |x - y|
    Backward: dx = gL·sign(x - y),  dy = -dx
    """
    _check_same_shape("l1_loss", input, target)
    return _reduce(M.abs(input - target), reduction, "l1_loss")


class BinaryCrossEntropy(Function):
    """L = −(y·max(log p, −100) + (1−y)·max(log(1−p), −100));
    dp = gy·(p − y) / max(p(1−p), 1e-12),  dy = gy·(max(log(1−p), −100) − max(log p, −100)) (PyTorch's formulas:
    finite at p = 0 or 1, where the plain chain rule gives 0·inf)"""

    def forward(self, p, y):
        xp = backend.get_array_module(p)
        with numpy.errstate(divide="ignore"):  # log(0) = -inf is expected here: the clamp turns it into -100
            lp, lq = xp.maximum(xp.log(p), -100), xp.maximum(xp.log1p(-p), -100)
        return (-(y * lp + (1 - y) * lq)).astype(p.dtype, copy=False)

    def backward(self, gy):
        p, y = self.inputs
        n = self.needs_input_grad
        gp = gy * (p - y) / M.clamp(p * (1 - p), min=1e-12) if n[0] else None
        gt = None
        if n[1]:
            with numpy.errstate(divide="ignore"):
                gt = gy * (M.clamp(M.log(1 - p), min=-100) - M.clamp(M.log(p), min=-100))
        return gp, gt


@backend.follows_device
def binary_cross_entropy(input, target, weight=None, reduction="mean"):
    """binary_cross_entropy(input, target, weight=None, reduction="mean"): the cross-entropy of
    probabilities p in [0, 1] against targets y; each log clamped at -100 as PyTorch does (so p = 0 or 1 stays finite).

    Forward:  L = -w·(y·log p + (1-y)·log(1-p))
    Backward: dp = gL·w·(p - y) / max(p(1-p), 1e-12),  dy = gL·w·(max(log(1-p), -100) - max(log p, -100))
              (PyTorch's formulas: finite at p = 0 or 1)
    """
    _check_same_shape("binary_cross_entropy", input, target)
    # on a GPU the test stays on the device and is reported at the next sync point (no stall inside a step)
    backend.check_later(((input.data < 0) | (input.data > 1)).any(), lambda: ShapeError(
        "binary_cross_entropy: input must hold probabilities in [0, 1] "
        "(for logits use binary_cross_entropy_with_logits)"))
    input, target = M.promote(input, target)
    loss = BinaryCrossEntropy()(input, target)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, "binary_cross_entropy")


@backend.follows_device
def binary_cross_entropy_with_logits(input, target, weight=None, reduction="mean", pos_weight=None):
    """binary_cross_entropy_with_logits(input, target, weight=None, reduction="mean",
    pos_weight=None): sigmoid and binary cross-entropy in one stable formula of the logits x (|x| > 100 is fine);
    pos_weight pw weights the positive term.

    Forward:  L = w·((1-y)·x + (1 + (pw-1)·y)·softplus(-x))
    Backward: dx = gL·w·(σ(x)·(1 + (pw-1)·y) - pw·y),  dy = gL·w·(-x - (pw-1)·softplus(-x))
    """
    _check_same_shape("binary_cross_entropy_with_logits", input, target)
    softplus_neg = softplus(-input)
    lw = 1 if pos_weight is None else 1 + (pos_weight - 1) * target
    loss = (1 - target) * input + lw * softplus_neg
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, "binary_cross_entropy_with_logits")
