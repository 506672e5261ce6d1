"""Semantic-segmentation losses and scores: the soft Dice loss and a confusion matrix with the scores read from it.

Per-pixel cross-entropy (with class weights against imbalance) is `scratchnet.nn.functional.cross_entropy`, which
takes (N, C, H, W) scores and (N, H, W) targets as PyTorch does; this module adds what segmentation needs beside it.

Scores, from the confusion matrix M (rows: true class, columns: predicted class; TP_c = M[c, c], FP_c = column sum
minus TP_c, FN_c = row sum minus TP_c):
    pixel accuracy = Σ_c TP_c / Σ M
    IoU_c  = TP_c / (TP_c + FP_c + FN_c)
    Dice_c = 2·TP_c / (2·TP_c + FP_c + FN_c)
A class that is neither in the targets nor predicted (TP + FP + FN = 0) has no IoU or Dice: it is NaN in the
per-class arrays and left out of the means (mIoU, mean Dice), as in the usual benchmarks; a class predicted but
absent from the targets scores 0. Means over no classes at all, and the accuracy of no pixels, are NaN.
"""
import numpy

from .. import backend
from ..errors import ShapeError
from ..ops.activation import softmax
from ..ops.loss import _check_targets
from ..tensor import Tensor


def _one_hot_valid(xp, t, num_classes, ignore_index, dtype):
    """(N, C, ...) one-hot of targets t (N, ...), zero at ignored pixels; and the (N, 1, ...) mask of kept pixels."""
    valid = (t != ignore_index)[:, None]
    classes = xp.arange(num_classes).reshape((1, num_classes) + (1,) * (t.ndim - 1))
    return ((t[:, None] == classes) & valid).astype(dtype), valid.astype(dtype)


def soft_dice_loss(input, target, smooth=1.0, include_background=True, ignore_index=-100):
    """1 - mean over classes of the soft Dice coefficient of softmax(input) and the one-hot target.

    input: scores (N, C, d1, ...) (logits, before softmax); target: class indices (N, d1, ...), ignore_index
    pixels left out. With p = softmax(input, dim=1), t the one-hot target and sums over the batch and all pixels
    (one Dice per class for the whole batch, which keeps rare classes from being drowned by empty images):
        S_c = Σ p_c·t_c,  P_c = Σ p_c,  T_c = Σ t_c,  D_c = (2·S_c + s) / (P_c + T_c + s)   (s = smooth)
        L = 1 - (1/K) Σ_c D_c      over the K classes kept (all, or 1..C-1 with include_background=False)
    Backward (what autograd computes from the Tensor ops used here):
        ∂L/∂p_{c,i} = -(1/K) · (2·t_{c,i}·(P_c + T_c + s) - (2·S_c + s)) / (P_c + T_c + s)²   (0 for classes left out)
        ∂L/∂x_{c,i} = p_{c,i} · (g_{c,i} - Σ_k p_{k,i}·g_{k,i})   with g = ∂L/∂p   (the softmax Jacobian)
    smooth > 0 makes a class absent from both targets and predictions count as D_c = 1 rather than 0/0. With
    smooth = 0 and every pixel ignored the loss is NaN (0/0), as PyTorch's cross_entropy is over zero pixels.
    """
    name = "soft_dice_loss"
    if not isinstance(input, Tensor) or input.ndim < 3:
        got = tuple(input.shape) if isinstance(input, Tensor) else type(input).__name__
        raise ShapeError(f"{name}: input must be scores of shape (N, C, H, W) (or (N, C, d1, ...)), got {got}")
    if smooth < 0:
        raise ValueError(f"{name}: smooth must be >= 0, got {smooth}")
    c = input.shape[1]
    if not include_background and c < 2:
        raise ValueError(f"{name}: include_background=False needs at least 2 classes, got C={c}")
    _check_targets(name, input, target, ignore_index)
    xp = backend.get_array_module(input.data)
    one_hot, valid = _one_hot_valid(xp, target.data, c, ignore_index, input.dtype)
    p = softmax(input, dim=1) * Tensor(valid)               # ignored pixels count in no sum
    dims = (0,) + tuple(range(2, input.ndim))
    inter = (p * Tensor(one_hot)).sum(dims)                 # (C,)  S_c
    total = p.sum(dims) + Tensor(one_hot.sum(dims))         # (C,)  P_c + T_c
    dice = (inter * 2 + smooth) / (total + smooth)
    if not include_background:
        dice = dice[1:]
    return 1 - dice.mean()


def _histogram(xp, bins, n):
    """Counts of the values 0..n-1 in bins. cupy.bincount reads bins.max() back to the host (a device sync), so on
    the GPU the counts are a scatter-add instead."""
    if xp is backend.numpy:
        return numpy.bincount(bins, minlength=n)
    return backend.scatter_add(xp, xp.zeros(n, xp.int64), bins, xp.ones(bins.shape, xp.int64))


class ConfusionMatrix:
    """Accumulates the (C, C) confusion matrix of batches on the device (no transfer, no sync per batch).

    update(pred, target): pred is class indices (N, H, W) or scores (N, C, H, W) (argmax over C is taken);
    target (N, H, W). Pixels whose target is ignore_index are skipped. Out-of-range labels (target or prediction
    outside 0..C-1) are counted apart, and `matrix()`/`scores()` refuse the result if there were any: checking them
    per batch would need a device sync. matrix(): the host copy, int64, rows true class, columns predicted.
    """

    def __init__(self, num_classes, ignore_index=None, device=None):
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"ConfusionMatrix: num_classes must be an integer >= 1, got {num_classes!r}")
        self.num_classes, self.ignore_index, self.device = num_classes, ignore_index, device
        self.reset()

    def reset(self):
        self._m = None  # device array (C·C + 2,): the matrix, then bad targets, then bad predictions

    def update(self, pred, target):
        c = self.num_classes
        p, t = (x.data if isinstance(x, Tensor) else x for x in (pred, target))
        if getattr(p, "ndim", 0) == t.ndim + 1:
            if p.shape[1] != c:
                raise ShapeError(f"ConfusionMatrix(num_classes={c}): scores of shape {tuple(p.shape)} have "
                                 f"{p.shape[1]} classes")
            p = p.argmax(1)
        if p.shape != t.shape:
            raise ShapeError(f"ConfusionMatrix: prediction of shape {tuple(p.shape)} and target of shape "
                             f"{tuple(t.shape)} do not match")
        if t.dtype.kind not in "iu" or p.dtype.kind not in "iu":
            raise TypeError(f"ConfusionMatrix: target and prediction must be integer class indices, got "
                            f"{t.dtype} and {p.dtype}")
        xp = backend.get_array_module(t)
        p, t = p.ravel().astype(xp.int64), t.ravel().astype(xp.int64)
        kept = xp.ones(t.shape, dtype=bool) if self.ignore_index is None else t != self.ignore_index
        bad_t = kept & ((t < 0) | (t >= c))
        bad_p = kept & ~bad_t & ((p < 0) | (p >= c))
        ok = kept & ~bad_t & ~bad_p
        # every pixel lands in one bin: its cell c·t + p, or a "bad" bin, or (ignored) one more bin dropped below
        bins = xp.where(ok, t * c + p, xp.where(bad_t, c * c, xp.where(bad_p, c * c + 1, c * c + 2)))
        counts = _histogram(xp, bins, c * c + 3)[:c * c + 2]
        self._m = counts if self._m is None else self._m + counts

    def matrix(self):
        c = self.num_classes
        if self._m is None:
            return numpy.zeros((c, c), numpy.int64)
        m = backend.to_numpy(self._m).astype(numpy.int64)
        if m[c * c] or m[c * c + 1]:
            raise IndexError(f"ConfusionMatrix(num_classes={c}): {m[c * c]} target and {m[c * c + 1]} predicted "
                             f"pixels had labels outside 0..{c - 1}"
                             + ("" if self.ignore_index is None else f" (ignore_index={self.ignore_index})"))
        return m[:c * c].reshape(c, c)

    def scores(self):
        return scores_from_confusion(self.matrix())


def confusion_matrix(pred, target, num_classes, ignore_index=None):
    """The (C, C) int64 confusion matrix (host) of one prediction: rows true class, columns predicted."""
    cm = ConfusionMatrix(num_classes, ignore_index)
    cm.update(pred, target)
    return cm.matrix()


def scores_from_confusion(matrix):
    """Pixel accuracy, per-class IoU and Dice, mIoU and mean Dice with and without class 0 (the background), from
    a (C, C) confusion matrix (rows true, columns predicted). Absent classes: see the module docstring."""
    m = numpy.asarray(matrix, numpy.float64)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ShapeError(f"scores_from_confusion: need a square (C, C) matrix, got shape {m.shape}")
    tp = numpy.diag(m)
    fp, fn = m.sum(0) - tp, m.sum(1) - tp
    seen = (tp + fp + fn) > 0
    with numpy.errstate(invalid="ignore", divide="ignore"):
        iou = numpy.where(seen, tp / (tp + fp + fn), numpy.nan)
        dice = numpy.where(seen, 2 * tp / (2 * tp + fp + fn), numpy.nan)
        total = m.sum()
        acc = tp.sum() / total if total else numpy.nan

    def mean(v):
        v = v[~numpy.isnan(v)]
        return float(v.mean()) if v.size else float("nan")

    return {"pixel_accuracy": float(acc), "iou": iou, "dice": dice,
            "miou": mean(iou), "miou_no_background": mean(iou[1:]),
            "mean_dice": mean(dice), "mean_dice_no_background": mean(dice[1:])}
