"""Segmentation losses and scores: soft Dice (hand case, gradcheck, an independent PyTorch writing of the formula),
per-pixel weighted cross-entropy against PyTorch, the confusion matrix and its scores against plain computations."""
import math

import numpy
import pytest
from hypothesis import given, strategies as st

import scratchnet as sn
from scratchnet.apps.segmentation_metrics import (ConfusionMatrix, confusion_matrix, scores_from_confusion,
                                                  soft_dice_loss)
from scratchnet.errors import ShapeError
from scratchnet.gradcheck import gradcheck
from scratchnet.nn import functional as F


def t64(a, device=None, grad=False):
    return sn.tensor(numpy.asarray(a, numpy.float64), dtype=sn.float64, device=device, requires_grad=grad)


# ---- soft Dice ----

def test_dice_hand_case(device):
    x = t64(numpy.zeros((1, 2, 1, 2)), device)          # p = 1/2 everywhere
    t = sn.tensor([[[0, 1]]], device=device)
    # each class: S = 1/2, P = 1, T = 1 -> D = (1 + s) / (2 + s)
    assert soft_dice_loss(x, t).item() == pytest.approx(1 - 2 / 3)
    assert soft_dice_loss(x, t, smooth=0).item() == pytest.approx(0.5)
    perfect = t64(numpy.array([[[[30.0, -30.0]], [[-30.0, 30.0]]]]), device)
    assert soft_dice_loss(perfect, t, smooth=0).item() == pytest.approx(0, abs=1e-12)
    wrong = t64(-perfect.numpy(), device)
    assert soft_dice_loss(wrong, t, smooth=0).item() == pytest.approx(1, abs=1e-12)


def torch_dice(torch, x, t, smooth, include_background, ignore_index):
    """The formula written independently in PyTorch (autograd gives the reference gradient)."""
    p = torch.softmax(x, 1)
    keep = (t != ignore_index)
    oh = torch.nn.functional.one_hot(torch.where(keep, t, 0), x.shape[1]).movedim(-1, 1).to(x.dtype)
    oh = oh * keep[:, None]
    p = p * keep[:, None]
    dims = (0,) + tuple(range(2, x.ndim))
    d = (2 * (p * oh).sum(dims) + smooth) / (p.sum(dims) + oh.sum(dims) + smooth)
    return 1 - (d if include_background else d[1:]).mean()


@pytest.mark.parametrize("include_background", [True, False])
@pytest.mark.parametrize("smooth", [0.0, 1.0])
def test_dice_equals_independent_pytorch(torch, device, include_background, smooth):
    rng = numpy.random.default_rng(1)
    x = rng.standard_normal((3, 4, 5, 6))
    t = rng.integers(0, 4, (3, 5, 6))
    t[0, :2] = -100
    a = t64(x, device, grad=True)
    loss = soft_dice_loss(a, sn.tensor(t, device=device), smooth, include_background)
    loss.backward()
    b = torch.tensor(x, requires_grad=True)
    ref = torch_dice(torch, b, torch.tensor(t), smooth, include_background, -100)
    ref.backward()
    assert loss.item() == pytest.approx(ref.item(), rel=1e-12)
    numpy.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-9, atol=1e-14)


@given(st.data())
def test_dice_gradcheck(data):
    n, c = data.draw(st.integers(1, 2)), data.draw(st.integers(2, 4))
    h, w = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    seed = data.draw(st.integers(0, 2**16))
    rng = numpy.random.default_rng(seed)
    t = rng.integers(-1, c, (n, h, w))                 # -1 is ignored below
    smooth = data.draw(st.sampled_from([0.0, 0.5, 1.0]))
    bg = data.draw(st.booleans())
    if smooth == 0:  # with no smoothing, a batch with every pixel ignored is 0/0 (NaN, as documented): keep one
        t[0, 0, 0] = 0
    target = sn.tensor(t)
    # dice is smooth everywhere (softmax, sums, a quotient with a positive denominator): no kinks to avoid
    assert gradcheck(lambda x: soft_dice_loss(x, target, smooth, bg, ignore_index=-1),
                     [t64(rng.standard_normal((n, c, h, w)), grad=True)])


def test_dice_keeps_float32(device):
    x = sn.randn(2, 3, 4, 4, device=device, requires_grad=True)
    loss = soft_dice_loss(x, sn.zeros(2, 4, 4, dtype=sn.int64, device=device))
    loss.backward()
    assert str(loss.dtype) == "float32" and str(x.grad.dtype) == "float32"


def test_dice_bad_inputs():
    x = sn.randn(2, 3, 4, 4)
    with pytest.raises(ShapeError, match=r"needs target of shape \(2, 4, 4\), got \(2, 4, 5\)"):
        soft_dice_loss(x, sn.zeros(2, 4, 5, dtype=sn.int64))
    with pytest.raises(IndexError, match="out of range for 3 classes"):   # on a GPU: at the next sync point
        soft_dice_loss(x, sn.full((2, 4, 4), 3, dtype=sn.int64)).item()
    with pytest.raises(ShapeError, match=r"input must be scores of shape \(N, C, H, W\)"):
        soft_dice_loss(sn.randn(2, 3), sn.zeros(2, dtype=sn.int64))
    with pytest.raises(ValueError, match="smooth must be >= 0"):
        soft_dice_loss(x, sn.zeros(2, 4, 4, dtype=sn.int64), smooth=-1)


# ---- per-pixel cross-entropy with class weights ----

@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_spatial_weighted_cross_entropy_equals_pytorch(torch, device, reduction, label_smoothing):
    rng = numpy.random.default_rng(0)
    x = rng.standard_normal((2, 5, 3, 4))
    t = rng.integers(0, 5, (2, 3, 4))
    t[1, 0] = 255
    w = rng.random(5) + 0.2
    a = t64(x, device, grad=True)
    ours = F.cross_entropy(a, sn.tensor(t, device=device), weight=t64(w, device), ignore_index=255,
                           reduction=reduction, label_smoothing=label_smoothing)
    ours.sum().backward()
    b = torch.tensor(x, requires_grad=True)
    ref = torch.nn.functional.cross_entropy(b, torch.tensor(t), weight=torch.tensor(w), ignore_index=255,
                                            reduction=reduction, label_smoothing=label_smoothing)
    ref.sum().backward()
    numpy.testing.assert_allclose(ours.numpy(), ref.detach().numpy(), rtol=1e-10)
    numpy.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-9, atol=1e-14)


# ---- confusion matrix and scores ----

def test_scores_hand_case():
    target = numpy.array([[0, 0, 1, 1], [2, 2, 0, 3]])
    pred = numpy.array([[0, 1, 1, 1], [2, 0, 0, 0]])
    m = confusion_matrix(sn.tensor(pred), sn.tensor(target), 5)
    want = numpy.zeros((5, 5), int)
    for tc, pc in [(0, 0), (0, 1), (1, 1), (1, 1), (2, 2), (2, 0), (0, 0), (3, 0)]:
        want[tc, pc] += 1
    numpy.testing.assert_array_equal(m, want)
    s = scores_from_confusion(m)
    assert s["pixel_accuracy"] == pytest.approx(5 / 8)
    # class 0: TP 2, FP 2 (a 2 and a 3 called 0), FN 1;  class 1: TP 2, FP 1;  class 2: TP 1, FN 1;  3: FN 1;  4: absent
    numpy.testing.assert_allclose(s["iou"][:4], [2 / 5, 2 / 3, 1 / 2, 0])
    assert math.isnan(s["iou"][4]) and math.isnan(s["dice"][4])
    numpy.testing.assert_allclose(s["dice"][:4], [4 / 7, 4 / 5, 2 / 3, 0])
    assert s["miou"] == pytest.approx((2 / 5 + 2 / 3 + 1 / 2 + 0) / 4)
    assert s["miou_no_background"] == pytest.approx((2 / 3 + 1 / 2 + 0) / 3)
    assert s["mean_dice_no_background"] == pytest.approx((4 / 5 + 2 / 3 + 0) / 3)


def test_predicted_but_absent_class_scores_zero_and_nothing_is_nan():
    s = scores_from_confusion(confusion_matrix(sn.tensor([[1, 1]]), sn.tensor([[0, 0]]), 2))
    assert s["iou"].tolist() == [0.0, 0.0] and s["miou"] == 0 and s["pixel_accuracy"] == 0
    empty = scores_from_confusion(numpy.zeros((3, 3)))
    assert math.isnan(empty["pixel_accuracy"]) and math.isnan(empty["miou"])


@pytest.mark.parametrize("seed", range(3))
def test_scores_equal_a_plain_computation(device, seed):
    rng = numpy.random.default_rng(seed)
    c = 6
    target = rng.integers(0, c, (3, 7, 9))
    pred = numpy.where(rng.random(target.shape) < 0.6, target, rng.integers(0, c - 1, target.shape))
    target[0, 0] = 255
    m = ConfusionMatrix(c, ignore_index=255)
    for i in range(3):                                       # batch by batch equals all at once
        m.update(sn.tensor(pred[i:i + 1], device=device), sn.tensor(target[i:i + 1], device=device))
    s = m.scores()
    keep = target != 255
    loop = numpy.zeros((c, c), int)
    for tc, pc in zip(target[keep], pred[keep]):
        loop[tc, pc] += 1
    numpy.testing.assert_array_equal(m.matrix(), loop)
    assert s["pixel_accuracy"] == pytest.approx((pred == target)[keep].mean())
    for k in range(c):
        inter = ((pred == k) & (target == k) & keep).sum()
        union = (((pred == k) | (target == k)) & keep).sum()
        size = ((pred == k) & keep).sum() + ((target == k) & keep).sum()
        if union == 0:
            assert math.isnan(s["iou"][k])
        else:
            assert s["iou"][k] == pytest.approx(inter / union)
            assert s["dice"][k] == pytest.approx(2 * inter / size)
    ious = [s["iou"][k] for k in range(c) if not math.isnan(s["iou"][k])]
    assert s["miou"] == pytest.approx(numpy.mean(ious))


def test_scores_from_logits_take_the_argmax(device):
    rng = numpy.random.default_rng(3)
    logits = rng.standard_normal((2, 4, 5, 5)).astype(numpy.float32)
    target = rng.integers(0, 4, (2, 5, 5))
    a = confusion_matrix(sn.tensor(logits, device=device), sn.tensor(target, device=device), 4)
    b = confusion_matrix(sn.tensor(logits.argmax(1), device=device), sn.tensor(target, device=device), 4)
    numpy.testing.assert_array_equal(a, b)


def test_confusion_bad_inputs():
    with pytest.raises(ShapeError, match=r"prediction of shape \(2, 4, 4\) and target of shape \(2, 4, 5\)"):
        confusion_matrix(sn.zeros(2, 4, 4, dtype=sn.int64), sn.zeros(2, 4, 5, dtype=sn.int64), 3)
    with pytest.raises(ShapeError, match=r"scores of shape \(2, 5, 4, 4\) have 5 classes"):
        confusion_matrix(sn.zeros(2, 5, 4, 4), sn.zeros(2, 4, 4, dtype=sn.int64), 3)
    m = ConfusionMatrix(3)
    m.update(sn.tensor([[0, 1, 7]]), sn.tensor([[0, 3, -1]]))
    with pytest.raises(IndexError, match="2 target and 0 predicted pixels had labels outside 0..2"):
        m.matrix()
    m.reset()
    m.update(sn.tensor([[0, 5]]), sn.tensor([[0, 1]]))
    with pytest.raises(IndexError, match="0 target and 1 predicted pixels"):
        m.scores()
    with pytest.raises(ValueError, match="num_classes must be an integer >= 1"):
        ConfusionMatrix(0)


def test_confusion_update_makes_no_transfer(device):
    """Accumulating scores during training must not stall the GPU: no device->host read, no host upload."""
    if device.type != "cuda":
        pytest.skip("counts CuPy stand-in transfers: runs under make test-gpu-sim")
    import cupy
    if not hasattr(cupy, "standin"):
        pytest.skip("real CuPy has no transfer counters")
    rng = numpy.random.default_rng(0)
    logits = sn.tensor(rng.standard_normal((2, 4, 6, 6)).astype(numpy.float32), device=device)
    target = sn.tensor(rng.integers(0, 4, (2, 6, 6)), device=device)
    m = ConfusionMatrix(4, ignore_index=255)
    with cupy.standin.counting() as k:
        m.update(logits, target)
        m.update(logits.argmax(1), target)
    assert k.d2h == 0 and k.h2d == 0, k.log
    numpy.testing.assert_array_equal(m.matrix(), 2 * confusion_matrix(logits.argmax(1), target, 4))
