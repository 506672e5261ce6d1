"""nn.functional and layers against PyTorch (float64): outputs and gradients for random configurations."""
import numpy
import pytest
from hypothesis import given, settings, strategies as st

import scratchnet as sn
import scratchnet.nn.functional as F
from conftest import fft_everywhere, load_torch, to_np


import contextlib

from scratchnet.ops import conv

# the routes of ops/conv.py: per-sample GEMMs everywhere, one wide GEMM per block everywhere, and every stride-1
# ungrouped conv through the FFT, every 3×3 stride-1 ungrouped one by Winograd (force_route uses a route wherever it
# applies)
LAYOUTS = ["im2col", "im2col_wide", "fft", "winograd"]


@contextlib.contextmanager
def conv_layout(route):
    """The fast kernels (whatever SCRATCHNET_KERNELS says: these tests are of a route), on `route`."""
    with sn.use_kernels("fast"), conv.force_route(route):
        yield


def pair(t, s, arrays, fn_s, fn_t, rtol=1e-9, atol=1e-10):
    """Run fn on both frameworks with the same float64 inputs; compare outputs and input gradients."""
    xs = [sn.tensor(a, dtype="float64", requires_grad=True) for a in arrays]
    xt = [t.tensor(a, requires_grad=True) for a in arrays]
    ys, yt = fn_s(*xs), fn_t(*xt)
    numpy.testing.assert_allclose(to_np(ys), to_np(yt), rtol=rtol, atol=atol)
    w = numpy.random.default_rng(0).standard_normal(ys.shape)
    (ys * sn.tensor(w, dtype="float64")).sum().backward()
    (yt * t.tensor(w)).sum().backward()
    for a, b in zip(xs, xt):
        numpy.testing.assert_allclose(a.grad.numpy(), to_np(b.grad), rtol=rtol, atol=atol)


@st.composite
def conv_cfg(draw, transposed=False):
    groups = draw(st.sampled_from([1, 1, 2]))
    cin, cout = groups * draw(st.integers(1, 3)), groups * draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 2)))
    d = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    p = (draw(st.integers(0, 2)), draw(st.integers(0, 1)))
    n = draw(st.integers(1, 3))
    h = draw(st.integers(max(1, d[0] * (kh - 1) + 1 - 2 * p[0]), 9))
    w = draw(st.integers(max(1, d[1] * (kw - 1) + 1 - 2 * p[1]), 9))
    seed = draw(st.integers(0, 2**31))
    return dict(groups=groups, cin=cin, cout=cout, k=(kh, kw), s=s, d=d, p=p, n=n, h=h, w=w, seed=seed)


@pytest.mark.parametrize("layout", LAYOUTS)
@settings(max_examples=100)
@given(c=conv_cfg())
def test_conv2d_matches_torch(layout, c):
    torch = load_torch()
    rng = numpy.random.default_rng(c["seed"])
    x = rng.standard_normal((c["n"], c["cin"], c["h"], c["w"]))
    w = rng.standard_normal((c["cout"], c["cin"] // c["groups"], *c["k"]))
    b = rng.standard_normal(c["cout"])
    kw = dict(stride=c["s"], padding=c["p"], dilation=c["d"], groups=c["groups"])
    with conv_layout(layout):
        pair(torch, sn, [x, w, b], lambda *a: F.conv2d(*a, **kw), lambda *a: torch.nn.functional.conv2d(*a, **kw))


@pytest.mark.parametrize("layout", LAYOUTS)
@settings(max_examples=100)
@given(c=conv_cfg(), op=st.data())
def test_conv_transpose2d_matches_torch(layout, c, op):
    torch = load_torch()
    rng = numpy.random.default_rng(c["seed"])
    s, d = c["s"], c["d"]
    outp = tuple(op.draw(st.integers(0, max(s[i], d[i]) - 1)) for i in range(2))
    x = rng.standard_normal((c["n"], c["cin"], c["h"], c["w"]))
    w = rng.standard_normal((c["cin"], c["cout"] // c["groups"], *c["k"]))
    b = rng.standard_normal(c["cout"])
    kw = dict(stride=s, padding=c["p"], output_padding=outp, groups=c["groups"], dilation=d)
    try:
        expected = torch.nn.functional.conv_transpose2d(torch.tensor(x), torch.tensor(w), torch.tensor(b), **kw)
    except RuntimeError:  # torch refuses this geometry (empty output): so must we
        with pytest.raises(ValueError):
            F.conv_transpose2d(sn.tensor(x), sn.tensor(w), sn.tensor(b), **kw)
        return
    assert expected.numel() > 0
    with conv_layout(layout):
        pair(torch, sn, [x, w, b], lambda *a: F.conv_transpose2d(*a, **kw),
             lambda *a: torch.nn.functional.conv_transpose2d(*a, **kw))


@settings(max_examples=100)
@given(n=st.integers(1, 2), c=st.integers(1, 3), h=st.integers(3, 9), w=st.integers(3, 9), k=st.integers(1, 3),
       s=st.integers(1, 3), p=st.integers(0, 1), d=st.integers(1, 2), ceil=st.booleans(), seed=st.integers(0, 2**31))
def test_pooling_matches_torch(n, c, h, w, k, s, p, d, ceil, seed):
    torch = load_torch()
    p = min(p, k // 2)
    if d * (k - 1) + 1 > min(h, w) + 2 * p:
        return
    x = numpy.random.default_rng(seed).permutation(n * c * h * w).reshape(n, c, h, w) / 7.0  # no ties
    tf = torch.nn.functional
    pair(torch, sn, [x], lambda a: F.max_pool2d(a, k, s, p, d, ceil_mode=ceil),
         lambda a: tf.max_pool2d(a, k, s, p, d, ceil_mode=ceil))
    for cip in (True, False):
        pair(torch, sn, [x], lambda a: F.avg_pool2d(a, k, s, p, ceil_mode=ceil, count_include_pad=cip),
             lambda a: tf.avg_pool2d(a, k, s, p, ceil_mode=ceil, count_include_pad=cip))
    ys, idx_s = F.max_pool2d(sn.tensor(x), k, s, p, d, ceil_mode=ceil, return_indices=True)
    _, idx_t = tf.max_pool2d(torch.tensor(x), k, s, p, d, ceil_mode=ceil, return_indices=True)
    numpy.testing.assert_array_equal(idx_s.numpy(), to_np(idx_t))


@pytest.mark.parametrize("dims", [1, 2, 3])
@pytest.mark.parametrize("k, s", [(2, 2), (3, 1)])
def test_max_pool_routes_to_a_nan(dims, k, s, device):
    """A NaN is the maximum of its window (as PyTorch): the output is NaN, the index and the gradient go to a NaN
    of the window, never to a finite element; other windows (ties included) match PyTorch. Once, the first-maximum
    count skipped NaNs: the index went past the window (into the padding: IndexError in 3-D) or to a finite one."""
    torch = load_torch()
    rng = numpy.random.default_rng(dims * 10 + k)
    x0 = rng.integers(0, 3, (2, 2) + (5,) * dims).astype(numpy.float64)      # small integers: ties everywhere
    x0[rng.random(x0.shape) < 0.15] = numpy.nan
    fs, ft = getattr(F, f"max_pool{dims}d"), getattr(torch.nn.functional, f"max_pool{dims}d")
    x = sn.tensor(x0, dtype=sn.float64, device=device, requires_grad=True)
    y, idx = fs(x, k, s, 1, return_indices=True)
    y.sum().backward()
    yt, it = ft(torch.tensor(x0), k, s, 1, return_indices=True)
    nan = numpy.isnan(to_np(yt))
    assert nan.any() and not nan.all()
    numpy.testing.assert_array_equal(y.numpy(), to_np(yt))
    idx = idx.numpy()
    numpy.testing.assert_array_equal(idx[~nan], to_np(it)[~nan])
    picked = numpy.take_along_axis(x0.reshape(2, 2, -1), idx.reshape(2, 2, -1), 2).reshape(idx.shape)
    assert numpy.isnan(picked[nan]).all()
    counts = numpy.zeros(x0.size)
    numpy.add.at(counts, (idx + numpy.arange(4).reshape((2, 2) + (1,) * dims) * 5 ** dims).ravel(), 1)
    numpy.testing.assert_array_equal(x.grad.numpy().ravel(), counts)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_reference_twins_agree_with_fast_kernels(layout):
    """Each fast route against the readable twins (ops/conv_reference.py, pool.py) on a few odd geometries."""
    rng = numpy.random.default_rng(1)
    for (n, cin, cout, g, k, s, p, d) in [(2, 4, 6, 2, (3, 2), (2, 1), (1, 0), (1, 2)),
                                          (1, 1, 3, 1, (1, 1), (1, 1), (0, 0), (1, 1)),
                                          (3, 3, 3, 3, (3, 3), (3, 2), (2, 1), (2, 1))]:
        x = rng.standard_normal((n, cin, 10, 9))
        w = rng.standard_normal((cout, cin // g, *k))
        b = rng.standard_normal(cout)
        with conv_layout(layout):
            fast = F.conv2d(sn.tensor(x, dtype="float64"), sn.tensor(w, dtype="float64"),
                            sn.tensor(b, dtype="float64"), s, p, d, g)
        with sn.use_kernels("reference"):
            ref = F.conv2d(sn.tensor(x, dtype="float64"), sn.tensor(w, dtype="float64"),
                           sn.tensor(b, dtype="float64"), s, p, d, g)
        numpy.testing.assert_allclose(fast.numpy(), ref.numpy(), rtol=1e-12, atol=1e-12)
        fast = F.max_pool2d(sn.tensor(x, dtype="float64"), k, s, (k[0] // 2, k[1] // 2), d)
        with sn.use_kernels("reference"):
            ref = F.max_pool2d(sn.tensor(x, dtype="float64"), k, s, (k[0] // 2, k[1] // 2), d)
        numpy.testing.assert_array_equal(fast.numpy(), ref.numpy())


@pytest.mark.parametrize("layout", LAYOUTS)
def test_im2col_chunking_gives_same_result(layout):
    from scratchnet.ops import conv_kernels
    x = sn.randn(9, 3, 12, 12, dtype="float64", requires_grad=True)
    w = sn.randn(5, 3, 3, 3, dtype="float64", requires_grad=True)
    with conv_layout(layout):
        y_full = F.conv2d(x, w, padding=1, stride=2)
        gx_full, gw_full = sn.autograd.grad(y_full.sum(), [x, w])
        old = conv_kernels.set_im2col_limit(3 * 9 * 36 * 8 * 2)  # two samples per chunk
        try:
            y = F.conv2d(x, w, padding=1, stride=2)
            gx, gw = sn.autograd.grad(y.sum(), [x, w])
        finally:
            conv_kernels.set_im2col_limit(old)
    # chunks sum the batch in another order: round-off relative to the largest entry, not to each (an entry that
    # cancels to near zero keeps the absolute error of its large terms)
    for a, b in ((y, y_full), (gx, gx_full), (gw, gw_full)):
        numpy.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12, atol=1e-13 * numpy.abs(b.numpy()).max())


def test_same_padding_matches_torch(torch):
    rng = numpy.random.default_rng(3)
    for k, d in [((3, 4), (1, 1)), ((2, 2), (2, 1)), ((5, 3), (1, 2))]:
        x, w = rng.standard_normal((2, 3, 7, 8)), rng.standard_normal((4, 3, *k))
        pair(torch, sn, [x, w], lambda a, b: F.conv2d(a, b, padding="same", dilation=d),
             lambda a, b: torch.nn.functional.conv2d(a, b, padding="same", dilation=d))


def test_adaptive_pool_and_interpolate_match_torch(torch):
    x = numpy.random.default_rng(4).standard_normal((2, 3, 7, 10))
    tf = torch.nn.functional
    for size in [(1, 1), (3, 4), (7, 10), (5, 3)]:
        pair(torch, sn, [x], lambda a: F.adaptive_avg_pool2d(a, size), lambda a: tf.adaptive_avg_pool2d(a, size))
    for kw in [dict(size=(14, 20)), dict(scale_factor=2), dict(size=(5, 4)), dict(scale_factor=1.5)]:
        pair(torch, sn, [x], lambda a: F.interpolate(a, mode="nearest", **kw),
             lambda a: tf.interpolate(a, mode="nearest", **kw))
        for ac in (False, True):
            pair(torch, sn, [x], lambda a: F.interpolate(a, mode="bilinear", align_corners=ac, **kw),
                 lambda a: tf.interpolate(a, mode="bilinear", align_corners=ac, **kw))


def test_norms_dropout_linear_activations_match_torch(torch):
    rng = numpy.random.default_rng(5)
    tf = torch.nn.functional
    x4, x2 = rng.standard_normal((4, 3, 5, 6)), rng.standard_normal((8, 3))
    g, b = rng.standard_normal(3), rng.standard_normal(3)
    for x in (x4, x2):
        rm, rv = numpy.zeros(3), numpy.ones(3)
        rm_s, rv_s = sn.tensor(rm, dtype="float64"), sn.tensor(rv, dtype="float64")
        rm_t, rv_t = torch.tensor(rm), torch.tensor(rv)
        pair(torch, sn, [x, g, b], lambda a, w_, b_: F.batch_norm(a, rm_s, rv_s, w_, b_, training=True),
             lambda a, w_, b_: tf.batch_norm(a, rm_t, rv_t, w_, b_, training=True))
        numpy.testing.assert_allclose(rm_s.numpy(), to_np(rm_t), rtol=1e-12)
        numpy.testing.assert_allclose(rv_s.numpy(), to_np(rv_t), rtol=1e-12)
        pair(torch, sn, [x, g, b], lambda a, w_, b_: F.batch_norm(a, rm_s, rv_s, w_, b_),
             lambda a, w_, b_: tf.batch_norm(a, rm_t, rv_t, w_, b_))
    pair(torch, sn, [x4, g, b], lambda a, w_, b_: F.instance_norm(a, weight=w_, bias=b_),
         lambda a, w_, b_: tf.instance_norm(a, weight=w_, bias=b_))
    w, bias = rng.standard_normal((4, 3)), rng.standard_normal(4)
    pair(torch, sn, [x2, w, bias], F.linear, tf.linear)
    pair(torch, sn, [rng.standard_normal((2, 5, 3)), w], F.linear, tf.linear)
    for fs, ft in [(F.relu, tf.relu), (lambda a: F.leaky_relu(a, 0.2), lambda a: tf.leaky_relu(a, 0.2)),
                   (F.tanh, torch.tanh), (F.sigmoid, torch.sigmoid), (F.gelu, tf.gelu),
                   (lambda a: F.gelu(a, "tanh"), lambda a: tf.gelu(a, approximate="tanh")),
                   (lambda a: F.softmax(a, 1), lambda a: tf.softmax(a, 1)),
                   (lambda a: F.log_softmax(a, 0), lambda a: tf.log_softmax(a, 0))]:
        pair(torch, sn, [x2], fs, ft)
    y = F.dropout(sn.ones(1000, 100), 0.3)
    kept = (y.numpy() != 0).mean()
    assert abs(kept - 0.7) < 0.01 and numpy.allclose(y.numpy()[y.numpy() != 0], 1 / 0.7)
    assert F.dropout(sn.ones(3), 0.5, training=False).tolist() == [1, 1, 1]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_losses_match_torch(torch, reduction):
    rng = numpy.random.default_rng(6)
    tf = torch.nn.functional
    logits, logits4 = rng.standard_normal((6, 5)), rng.standard_normal((2, 4, 3, 3))
    y = numpy.array([0, 4, 2, 2, -100, 1])
    y4 = rng.integers(0, 4, (2, 3, 3))
    cw = rng.uniform(0.5, 2, 5)
    for kw in [{}, dict(label_smoothing=0.1), dict(weight=cw), dict(weight=cw, label_smoothing=0.2)]:
        kws = {k: sn.tensor(v, dtype="float64") if k == "weight" else v for k, v in kw.items()}
        kwt = {k: torch.tensor(v) if k == "weight" else v for k, v in kw.items()}
        pair(torch, sn, [logits], lambda a: F.cross_entropy(a, sn.tensor(y), reduction=reduction, **kws),
             lambda a: tf.cross_entropy(a, torch.tensor(y), reduction=reduction, **kwt))
    pair(torch, sn, [logits4], lambda a: F.cross_entropy(a, sn.tensor(y4), reduction=reduction),
         lambda a: tf.cross_entropy(a, torch.tensor(y4), reduction=reduction))
    pair(torch, sn, [logits], lambda a: F.nll_loss(F.log_softmax(a, 1), sn.tensor(y), reduction=reduction),
         lambda a: tf.nll_loss(tf.log_softmax(a, 1), torch.tensor(y), reduction=reduction))
    p, t = rng.uniform(0.01, 0.99, (4, 3)), rng.uniform(0, 1, (4, 3))
    big = numpy.array([[-150.0, 120.0, 0.0], [3.0, -2.0, 0.5]])
    tb = rng.uniform(0, 1, (2, 3))
    pw = rng.uniform(0.5, 2, 3)
    for fs, ft, args in [(F.mse_loss, tf.mse_loss, [p, t]), (F.l1_loss, tf.l1_loss, [p, t]),
                         (F.binary_cross_entropy, tf.binary_cross_entropy, [p, t]),
                         (F.binary_cross_entropy_with_logits, tf.binary_cross_entropy_with_logits, [big, tb])]:
        pair(torch, sn, args, lambda a, b: fs(a, b, reduction=reduction), lambda a, b: ft(a, b, reduction=reduction))
    pair(torch, sn, [big, tb], lambda a, b: F.binary_cross_entropy_with_logits(
        a, b, reduction=reduction, pos_weight=sn.tensor(pw, dtype="float64")),
        lambda a, b: tf.binary_cross_entropy_with_logits(a, b, reduction=reduction, pos_weight=torch.tensor(pw)))
