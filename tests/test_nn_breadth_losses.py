"""kl_div, smooth_l1_loss, huber_loss, cosine_similarity, pairwise_distance, normalize, triplet_margin_loss and
cross_entropy with class-probability targets: values and gradients against PyTorch on random configurations,
finite differences to second order, the eps and zero-vector cases, modules and bad arguments."""
import numpy
import pytest
from hypothesis import given, strategies as st

import scratchnet as sn
import scratchnet.nn as nn
import scratchnet.nn.functional as F
from breadth_helpers import compare, gradchecks, on_device
from conftest import load_torch, to_np

REDS = ["mean", "sum", "none"]


def rng_of(seed):
    return numpy.random.default_rng(seed)


@given(seed=st.integers(0, 2**31), red=st.sampled_from(REDS + ["batchmean"]), log_target=st.booleans(),
       ndim=st.integers(1, 3))
def test_kl_div_matches_torch(seed, red, log_target, ndim):
    t, r = load_torch(), rng_of(seed)
    shape = tuple(r.integers(1, 4, ndim))
    x = numpy.log(r.uniform(0.05, 1, shape))
    y = numpy.log(r.uniform(0.05, 1, shape)) if log_target else r.uniform(0.05, 1, shape)
    compare(t, lambda a, b: F.kl_div(a, b, reduction=red, log_target=log_target),
            lambda a, b: t.nn.functional.kl_div(a, b, reduction=red, log_target=log_target), [x, y])
    gradchecks(lambda a, b: F.kl_div(a, b, reduction=red, log_target=log_target), x, y)


def test_kl_div_zero_target_contributes_nothing(torch):
    x = numpy.log(numpy.array([[0.2, 0.3, 0.5]]))
    y = numpy.array([[0.0, 0.4, 0.6]])
    xs, ys = on_device(x), on_device(y, grad=False)
    loss = F.kl_div(xs, ys, reduction="batchmean")
    ref = torch.nn.functional.kl_div(torch.tensor(x), torch.tensor(y), reduction="batchmean")
    numpy.testing.assert_allclose(to_np(loss), to_np(ref), rtol=1e-12)
    loss.backward()
    assert numpy.isfinite(to_np(xs.grad)).all()


@given(seed=st.integers(0, 2**31), red=st.sampled_from(REDS), beta=st.sampled_from([0.0, 0.3, 1.0, 2.0]),
       huber=st.booleans())
def test_smooth_l1_and_huber_match_torch(seed, red, beta, huber):
    t, r = load_torch(), rng_of(seed)
    shape = tuple(r.integers(1, 4, r.integers(0, 3)))
    x, y = r.standard_normal(shape) * 2, r.standard_normal(shape) * 2
    if huber:
        beta = beta or 0.5
        fs = lambda a, b: F.huber_loss(a, b, reduction=red, delta=beta)  # noqa: E731
        ft = lambda a, b: t.nn.functional.huber_loss(a, b, reduction=red, delta=beta)  # noqa: E731
    else:
        fs = lambda a, b: F.smooth_l1_loss(a, b, reduction=red, beta=beta)  # noqa: E731
        ft = lambda a, b: t.nn.functional.smooth_l1_loss(a, b, reduction=red, beta=beta)  # noqa: E731
    compare(t, fs, ft, [x, y])
    d = x - y
    if numpy.all(numpy.abs(numpy.abs(d) - beta) > 0.05) and numpy.all(numpy.abs(d) > 0.05):
        gradchecks(fs, x, y, second=beta > 0)   # away from |d| = beta (curvature jumps) and d = 0 (|d|)


@given(seed=st.integers(0, 2**31), dim=st.integers(-2, 1), eps=st.sampled_from([1e-8, 0.5, 3.0]))
def test_cosine_similarity_matches_torch(seed, dim, eps):
    t, r = load_torch(), rng_of(seed)
    a, b = r.standard_normal((3, 4)), r.standard_normal((1, 4))  # broadcast, and norms on both sides of eps
    fs = lambda x, y: F.cosine_similarity(x, y, dim, eps)  # noqa: E731
    ft = lambda x, y: t.nn.functional.cosine_similarity(x, y, dim, eps)  # noqa: E731
    compare(t, fs, ft, [a, b])
    compare(t, fs, ft, [a * 0.1, b * 0.1])
    if eps < 1e-3:  # where eps binds, PyTorch's (and so our) gradient ignores the clamp: not the true derivative
        gradchecks(fs, a, b)


def test_cosine_similarity_of_a_zero_vector_is_zero_with_finite_gradient(torch):
    a, b = numpy.zeros((2, 3)), numpy.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    compare(torch, lambda x, y: F.cosine_similarity(x, y), lambda x, y: torch.nn.functional.cosine_similarity(x, y),
            [a, b])


@given(seed=st.integers(0, 2**31), p=st.sampled_from([1.0, 2.0, 3.0, float("inf")]), dim=st.integers(-2, 1),
       eps=st.sampled_from([1e-12, 1.5]))
def test_normalize_matches_torch(seed, p, dim, eps):
    t, r = load_torch(), rng_of(seed)
    x = r.standard_normal((3, 4)) * 0.7
    fs = lambda a: F.normalize(a, p, dim, eps)  # noqa: E731
    compare(t, fs, lambda a: t.nn.functional.normalize(a, p, dim, eps), [x])
    gradchecks(fs, x, second=p != float("inf"))


def test_normalize_zero_rows_stay_zero(torch):
    x = numpy.array([[0.0, 0.0], [3.0, 4.0]])
    compare(torch, F.normalize, torch.nn.functional.normalize, [x])


@given(seed=st.integers(0, 2**31), p=st.sampled_from([1.0, 2.0, 3.0]), swap=st.booleans(),
       red=st.sampled_from(REDS), margin=st.sampled_from([0.5, 1.0, 4.0]), batched=st.booleans())
def test_triplet_margin_loss_matches_torch(seed, p, swap, red, margin, batched):
    t, r = load_torch(), rng_of(seed)
    shape = (3, 4) if batched else (4,)
    a, pos, neg = (r.standard_normal(shape) for _ in range(3))
    fs = lambda *x: F.triplet_margin_loss(*x, margin=margin, p=p, swap=swap, reduction=red)  # noqa: E731
    ft = lambda *x: t.nn.functional.triplet_margin_loss(*x, margin=margin, p=p, swap=swap, reduction=red)  # noqa
    compare(t, fs, ft, [a, pos, neg])
    compare(t, lambda *x: F.pairwise_distance(x[0], x[1], p), lambda *x: t.nn.functional.pairwise_distance(
        x[0], x[1], p), [a, pos])
    gradchecks(fs, a, pos, neg, second=False)
    gradchecks(lambda x, y: F.pairwise_distance(x, y, p), a, pos)


@given(seed=st.integers(0, 2**31), red=st.sampled_from(REDS), smooth=st.sampled_from([0.0, 0.2]),
       weighted=st.booleans(), ndim=st.integers(1, 4))
def test_cross_entropy_probability_targets_match_torch(seed, red, smooth, weighted, ndim):
    t, r = load_torch(), rng_of(seed)
    shape = tuple(r.integers(1, 4, ndim)) if ndim > 1 else (int(r.integers(2, 5)),)
    c = shape[1] if ndim > 1 else shape[0]
    x = r.standard_normal(shape)
    y = r.dirichlet(numpy.ones(c), size=int(numpy.prod(shape)) // c)
    y = numpy.moveaxis(y.reshape((shape[0],) + shape[2:] + (c,)), -1, 1) if ndim > 1 else y.reshape(shape)
    w = r.uniform(0.5, 2, c) if weighted else None
    ws, wt = (on_device(w, False), t.tensor(w)) if weighted else (None, None)
    fs = lambda a, b: F.cross_entropy(a, b, weight=ws, reduction=red, label_smoothing=smooth)  # noqa: E731
    compare(t, fs, lambda a, b: t.nn.functional.cross_entropy(a, b, weight=wt, reduction=red,
                                                                label_smoothing=smooth), [x, y])
    gradchecks(fs, x, y)
    m = nn.CrossEntropyLoss(weight=ws, reduction=red, label_smoothing=smooth)
    numpy.testing.assert_allclose(to_np(m(on_device(x), on_device(y))), to_np(fs(on_device(x), on_device(y))))


def test_cross_entropy_index_targets_still_work_and_take_torchs_positional_order(torch):
    x = numpy.random.default_rng(0).standard_normal((4, 3))
    y = numpy.array([0, 2, 1, 2])
    ys, yt = sn.tensor(y, device=sn.get_default_device()), torch.tensor(y)
    compare(torch, lambda a: F.cross_entropy(a, ys, None, None, 2), lambda a: torch.nn.functional.cross_entropy(
        a, yt, None, None, 2), [x])


def test_loss_modules_match_torch(torch):
    r = rng_of(3)
    x, y = r.standard_normal((3, 4)), r.standard_normal((3, 4))
    lp, p = numpy.log(r.dirichlet(numpy.ones(4), 3)), r.dirichlet(numpy.ones(4), 3)
    for ms, mt, args in [(nn.KLDivLoss(reduction="batchmean"), torch.nn.KLDivLoss(reduction="batchmean"), [lp, p]),
                         (nn.KLDivLoss(log_target=True), torch.nn.KLDivLoss(log_target=True), [lp, lp[::-1]]),
                         (nn.SmoothL1Loss(beta=0.5), torch.nn.SmoothL1Loss(beta=0.5), [x, y]),
                         (nn.HuberLoss(delta=0.5, reduction="sum"), torch.nn.HuberLoss(delta=0.5, reduction="sum"),
                          [x, y]),
                         (nn.TripletMarginLoss(margin=2.0, swap=True),
                          torch.nn.TripletMarginLoss(margin=2.0, swap=True),
                          [x, y, x[::-1] * 0.5]),
                         (nn.CosineSimilarity(dim=0), torch.nn.CosineSimilarity(dim=0), [x, y]),
                         (nn.PairwiseDistance(p=1.0, keepdim=True), torch.nn.PairwiseDistance(p=1.0, keepdim=True),
                          [x, y])]:
        compare(torch, ms, mt, [numpy.ascontiguousarray(a) for a in args])


def test_bad_arguments_raise_pytorch_catchable_errors():
    x, y = sn.randn(3, 4), sn.randn(3, 5)
    for call, msg in [(lambda: F.kl_div(x, y), "broadcast"), (lambda: F.smooth_l1_loss(x, x, beta=-1), "beta"),
                      (lambda: F.huber_loss(x, x, delta=0), "delta"), (lambda: F.cosine_similarity(x, y), "broadcast"),
                      (lambda: F.triplet_margin_loss(x, x, x[0]), "same number of dimensions"),
                      (lambda: F.cross_entropy(x, sn.rand(3, 5)), "integer class indices"),
                      (lambda: F.cross_entropy(x, sn.rand(3, 4), weight=sn.ones(3)), "weight"),
                      (lambda: F.kl_div(x, x, reduction="avg"), "reduction")]:
        with pytest.raises((RuntimeError, TypeError), match=msg):
            call()
