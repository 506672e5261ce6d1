"""Finite-difference checks (float64, Hypothesis) for every functional: first order everywhere, second order for
conv2d, conv_transpose2d, linear, pooling and batch_norm. Pooling inputs are permutations (no ties: the max is not
differentiable at a tie) and relu-like inputs avoid 0."""
import numpy
from hypothesis import assume, given, settings, strategies as st

import scratchnet as sn
import scratchnet.nn.functional as F
from scratchnet import testing as T


def t64(a, grad=True):
    return sn.tensor(a, dtype="float64", requires_grad=grad)


def check(fn, *arrays, second=True):
    xs = [t64(a) for a in arrays]
    assert sn.gradcheck(fn, xs, max_elements=150)
    if second:
        assert sn.gradgradcheck(fn, xs, max_elements=150)


@st.composite
def conv_case(draw):
    g = draw(st.sampled_from([1, 2]))
    cin, cout = g * draw(st.integers(1, 2)), g * draw(st.integers(1, 2))
    k = (draw(st.integers(1, 3)), draw(st.integers(1, 2)))   # non-square kernels
    s = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    d = (draw(st.integers(1, 2)), 1)
    p = (draw(st.integers(0, 1)), draw(st.integers(0, 1)))
    n = draw(st.integers(1, 2))                               # batch 1 included
    h = draw(st.integers(max(1, d[0] * (k[0] - 1) + 1 - 2 * p[0]), 5))
    w = draw(st.integers(max(1, k[1] - 2 * p[1]), 5))        # odd sizes included
    rng = numpy.random.default_rng(draw(st.integers(0, 2**31)))
    return dict(groups=g, stride=s, padding=p, dilation=d), rng, (n, cin, h, w), (cout, cin // g, *k), cout


@settings(max_examples=100)
@given(case=conv_case())
def test_conv2d_gradcheck(case):
    kw, rng, xs, ws, cout = case
    check(lambda x, w, b: F.conv2d(x, w, b, **kw), rng.standard_normal(xs), rng.standard_normal(ws),
          rng.standard_normal(cout))


@settings(max_examples=100)
@given(case=conv_case())
def test_conv_transpose2d_gradcheck(case):
    kw, rng, xs, ws, cout = case
    from scratchnet.ops.conv import out_size
    n, cin, h, w = xs
    oh, ow = (out_size(size, ws[2 + i], kw["stride"][i], kw["padding"][i], kw["dilation"][i])
              for i, size in enumerate((h, w)))  # the transposed conv maps a conv's output size back to (h, w)
    out_h = (oh - 1) * kw["stride"][0] - 2 * kw["padding"][0] + kw["dilation"][0] * (ws[2] - 1) + 1
    out_w = (ow - 1) * kw["stride"][1] - 2 * kw["padding"][1] + kw["dilation"][1] * (ws[3] - 1) + 1
    assume(min(out_h, out_w) >= 1)  # windows that cover only padding map back to nothing
    wt = rng.standard_normal((cin, cout // kw["groups"], *ws[2:]))
    check(lambda x, w_, b: F.conv_transpose2d(x, w_, b, **kw), rng.standard_normal((n, cin, oh, ow)), wt,
          rng.standard_normal(cout))


@settings(max_examples=100)
@given(n=st.integers(1, 2), c=st.integers(1, 2), h=st.integers(2, 6), w=st.integers(2, 6), k=st.integers(1, 3),
       s=st.integers(1, 3), p=st.integers(0, 1), ceil=st.booleans(), seed=st.integers(0, 2**31))
def test_pool_gradcheck(n, c, h, w, k, s, p, ceil, seed):
    p = min(p, k // 2)
    if k > min(h, w) + 2 * p:
        return
    x = numpy.random.default_rng(seed).permutation(n * c * h * w).reshape(n, c, h, w) * 0.1
    check(lambda t: F.max_pool2d(t, k, s, p, ceil_mode=ceil), x)
    check(lambda t: F.avg_pool2d(t, k, s, p, ceil_mode=ceil, count_include_pad=False), x)
    check(lambda t: F.adaptive_avg_pool2d(t, (2, 3)), x, second=False)


@settings(max_examples=100)
@given(data=st.data())
def test_linear_and_batch_norm_gradcheck(data):
    n, i, o = data.draw(st.integers(2, 4)), data.draw(st.integers(1, 4)), data.draw(st.integers(1, 3))
    x, w, b = (data.draw(T.arrays(s)) for s in [(n, i), (o, i), (o,)])
    check(F.linear, x, w, b)
    shape = data.draw(st.sampled_from([(n, 3), (n, 3, 4), (n, 3, 2, 3)]))
    xb = data.draw(T.arrays(shape))
    gamma, beta = data.draw(T.arrays((3,), 0.5, 2)), data.draw(T.arrays((3,)))
    check(lambda x_, g_, b_: F.batch_norm(x_, None, None, g_, b_, training=True), xb, gamma, beta)
    rm, rv = sn.tensor(numpy.zeros(3), dtype="float64"), sn.tensor(numpy.ones(3) * 1.5, dtype="float64")
    check(lambda x_, g_, b_: F.batch_norm(x_, rm, rv, g_, b_, training=False), xb, gamma, beta)
    if len(shape) == 4:
        check(lambda x_: F.instance_norm(x_), xb)


@settings(max_examples=100)
@given(data=st.data())
def test_activations_and_resizing_gradcheck(data):
    shape = data.draw(T.shapes(min_dims=1))
    x = data.draw(T.arrays(shape, kinks=(0,)))
    check(F.gelu, x)
    check(lambda t: F.gelu(t, "tanh"), x)
    check(lambda t: F.leaky_relu(t, 0.3), x)
    img = data.draw(T.arrays((1, 2, data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4)))))
    check(lambda t: F.interpolate(t, scale_factor=2, mode="nearest"), img)
    check(lambda t: F.interpolate(t, size=(3, 5), mode="bilinear"), img)
    check(lambda t: F.pad(t, (1, 0, 2, 1)), img)


@settings(max_examples=100)
@given(data=st.data())
def test_losses_gradcheck(data):
    n, c = data.draw(st.integers(1, 4)), data.draw(st.integers(2, 4))
    logits = data.draw(T.arrays((n, c)))
    y = sn.tensor(data.draw(T.hnp.arrays(numpy.int64, (n,), elements=st.integers(0, c - 1))))
    red = data.draw(st.sampled_from(["mean", "sum", "none"]))
    ls = data.draw(st.sampled_from([0.0, 0.1]))
    check(lambda t: F.cross_entropy(t, y, reduction=red, label_smoothing=ls), logits)
    target = data.draw(T.arrays((n, c), 0.0, 1.0))
    check(lambda t: F.binary_cross_entropy_with_logits(t, sn.tensor(target, dtype="float64"), reduction=red), logits)
    check(lambda t: F.binary_cross_entropy(t, sn.tensor(target, dtype="float64"), reduction=red),
          data.draw(T.arrays((n, c), 0.05, 0.95)))
    other = sn.tensor(data.draw(T.arrays((n, c))), dtype="float64")
    check(lambda t: F.mse_loss(t, other, reduction=red), logits)
    diff = data.draw(T.arrays((n, c), kinks=(0,)))
    check(lambda t: F.l1_loss(t + other, other, reduction=red), diff)


@settings(max_examples=100)
@given(data=st.data())
def test_embedding_and_dropout_gradcheck(data):
    w = data.draw(T.arrays((5, 3)))
    idx = sn.tensor(data.draw(T.hnp.arrays(numpy.int64, (2, 3), elements=st.integers(0, 4))))
    check(lambda t: F.embedding(idx, t), w)
    wt = t64(w)  # padding_idx: the row is looked up as it is but, by design (as PyTorch), never gets a gradient
    F.embedding(idx, wt, padding_idx=1).sum().backward()
    assert not wt.grad.numpy()[1].any()
    numpy.testing.assert_allclose(F.embedding(idx, wt, padding_idx=1).numpy(), w[idx.numpy()])
    sn.manual_seed(data.draw(st.integers(0, 100)))
    x = data.draw(T.arrays((4, 3)))
    mask_seed = data.draw(st.integers(0, 100))

    def drop(t):
        sn.manual_seed(mask_seed)  # the same mask on every evaluation, so finite differences see one function
        return F.dropout(t, 0.4)
    check(drop, x)
