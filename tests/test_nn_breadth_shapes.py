"""layer_norm/LayerNorm, group_norm/GroupNorm, pixel_shuffle/pixel_unshuffle, one_hot, pad (circular, negative
widths) and max_unpool2d: values and gradients against PyTorch on random configurations, finite differences to
second order, modules (state_dict names and shapes as PyTorch's), and PyTorch's errors."""
import numpy
import pytest
from hypothesis import given, strategies as st

import scratchnet as sn
import scratchnet.nn as nn
import scratchnet.nn.functional as F
from breadth_helpers import compare, gradchecks, on_device
from conftest import load_torch, to_np


@given(seed=st.integers(0, 2**31), ndim=st.integers(1, 4), affine=st.sampled_from(["none", "weight", "both"]),
       eps=st.sampled_from([1e-5, 0.1]))
def test_layer_norm_matches_torch(seed, ndim, affine, eps):
    t, r = load_torch(), numpy.random.default_rng(seed)
    shape = tuple(int(s) for s in r.integers(1, 4, ndim))
    shape = shape[:-1] + (shape[-1] + 1,)       # the last dim of size >= 2: a single value has no spread
    k = int(r.integers(1, ndim + 1))
    ns = shape[ndim - k:]
    arrays = [r.standard_normal(shape)] + [r.standard_normal(ns) for _ in range({"none": 0, "weight": 1,
                                                                                  "both": 2}[affine])]
    fs = lambda x, *wb: F.layer_norm(x, ns, *wb, eps=eps)  # noqa: E731
    compare(t, fs, lambda x, *wb: t.nn.functional.layer_norm(x, ns, *wb, eps=eps), arrays)
    gradchecks(fs, *arrays)


@given(seed=st.integers(0, 2**31), groups=st.sampled_from([1, 2, 3]), per=st.integers(1, 2),
       spatial=st.integers(0, 2), affine=st.booleans())
def test_group_norm_matches_torch(seed, groups, per, spatial, affine):
    t, r = load_torch(), numpy.random.default_rng(seed)
    c = groups * per
    shape = (int(r.integers(1, 3)), c) + tuple(int(s) for s in r.integers(2, 4, spatial))
    if per == 1 and spatial == 0:
        shape = shape + (2,)
    arrays = [r.standard_normal(shape)] + ([r.standard_normal(c), r.standard_normal(c)] if affine else [])
    fs = lambda x, *wb: F.group_norm(x, groups, *wb)  # noqa: E731
    compare(t, fs, lambda x, *wb: t.nn.functional.group_norm(x, groups, *wb), arrays)
    gradchecks(fs, *arrays)


def test_norm_modules_load_a_torch_state_dict(torch, device):
    r = numpy.random.default_rng(0)
    for ms, mt, shape in [(nn.LayerNorm((3, 4)), torch.nn.LayerNorm((3, 4)), (2, 3, 4)),
                          (nn.LayerNorm(4, elementwise_affine=False), torch.nn.LayerNorm(4, elementwise_affine=False),
                           (2, 4)),
                          (nn.LayerNorm(4, bias=False), torch.nn.LayerNorm(4, bias=False), (2, 4)),
                          (nn.GroupNorm(2, 4), torch.nn.GroupNorm(2, 4), (2, 4, 3)),
                          (nn.GroupNorm(2, 4, affine=False), torch.nn.GroupNorm(2, 4, affine=False), (2, 4, 3))]:
        sd = mt.state_dict()
        assert {k: tuple(v.shape) for k, v in ms.state_dict().items()} == {k: tuple(v.shape) for k, v in sd.items()}
        for k in sd:   # PyTorch's initial values (ones, zeros), then random ones loaded
            numpy.testing.assert_array_equal(to_np(ms.state_dict()[k]), to_np(sd[k]))
            sd[k] = torch.tensor(r.standard_normal(tuple(sd[k].shape)))
        mt.load_state_dict(sd)
        ms = ms.double()
        ms.load_state_dict({k: sn.tensor(to_np(v), dtype="float64") for k, v in sd.items()})
        ms.to(device)
        compare(torch, ms, mt, [r.standard_normal(shape)])


@given(seed=st.integers(0, 2**31), r_=st.integers(1, 3), lead=st.integers(0, 2))
def test_pixel_shuffle_and_unshuffle_match_torch(seed, r_, lead):
    t, r = load_torch(), numpy.random.default_rng(seed)
    lead_shape = tuple(int(s) for s in r.integers(1, 3, lead))
    x = r.standard_normal(lead_shape + (int(r.integers(1, 3)) * r_ * r_, 2, 3))
    compare(t, lambda a: F.pixel_shuffle(a, r_), lambda a: t.nn.functional.pixel_shuffle(a, r_), [x])
    y = r.standard_normal(lead_shape + (2, 2 * r_, r_))
    compare(t, lambda a: F.pixel_unshuffle(a, r_), lambda a: t.nn.functional.pixel_unshuffle(a, r_), [y])
    compare(t, nn.PixelShuffle(r_), t.nn.PixelShuffle(r_), [x])
    compare(t, nn.PixelUnshuffle(r_), t.nn.PixelUnshuffle(r_), [y])
    z = on_device(x, False)
    numpy.testing.assert_array_equal(to_np(F.pixel_unshuffle(F.pixel_shuffle(z, r_), r_)), x)
    gradchecks(lambda a: F.pixel_shuffle(a, r_), x)


def test_one_hot_matches_torch(torch):
    r = numpy.random.default_rng(0)
    for shape, c in [((5,), -1), ((2, 3), 7), ((), 4), ((0,), 3)]:
        idx = r.integers(0, 4, shape)
        got = F.one_hot(sn.tensor(idx, device=sn.get_default_device()), c)
        ref = torch.nn.functional.one_hot(torch.tensor(idx), c)
        assert got.dtype == numpy.int64 and tuple(got.shape) == tuple(ref.shape)
        numpy.testing.assert_array_equal(to_np(got), to_np(ref))
    for bad, c, msg in [([-1], 3, "non-negative"), ([5], 3, "smaller than num_classes"), ([], -1, "empty"),
                        ([1.0], 3, "integer")]:
        with pytest.raises(RuntimeError, match=msg):
            F.one_hot(sn.tensor(numpy.array(bad, dtype=float if msg == "integer" else numpy.int64)), c)


PADS = [("circular", (1, 2)), ("circular", (-1, 2)), ("circular", (3, 0)), ("circular", (1, 0, 2, 1)),
        ("circular", (0, -1, 2, 2)), ("constant", (-1, 2)), ("constant", (1, -2, 0, 1)), ("constant", (-3, 0)),
        ("constant", (-1, -1, 1, 1, 2, 0)), ("reflect", (-1, 2)), ("replicate", (2, -1, -1, 1))]


@pytest.mark.parametrize("mode,widths", PADS, ids=[f"{m}{w}" for m, w in PADS])
def test_pad_circular_and_negative_match_torch(torch, mode, widths):
    x = numpy.random.default_rng(1).standard_normal((2, 3, 3))
    kw = dict(mode=mode, value=0.5) if mode == "constant" else dict(mode=mode)
    compare(torch, lambda a: F.pad(a, widths, **kw), lambda a: torch.nn.functional.pad(a, widths, **kw), [x])
    gradchecks(lambda a: F.pad(a, widths, **kw), x)


def test_pad_errors():
    x = sn.randn(1, 2, 3)
    for call, msg in [(lambda: F.pad(x, (4, 0), mode="circular"), "more than once"),
                      (lambda: F.pad(sn.randn(3), (1, 1), mode="circular"), "needs a 2-D or 3-D input"),
                      (lambda: F.pad(x, (-3, -1)), "negative size"), (lambda: F.pad(x, (1,)), "even"),
                      (lambda: F.pad(x, (1, 1), mode="wrap"), "mode")]:
        with pytest.raises(RuntimeError, match=msg):
            call()


@given(seed=st.integers(0, 2**31), k=st.integers(1, 3), s=st.integers(1, 3), p=st.integers(0, 1),
       batched=st.booleans(), grow=st.integers(0, 1))
def test_max_unpool2d_matches_torch(seed, k, s, p, batched, grow):
    t, r = load_torch(), numpy.random.default_rng(seed)
    p = min(p, k // 2)
    shape = (2, 3) + (int(r.integers(k, 6)), int(r.integers(k, 6)))
    x = r.permutation(numpy.prod(shape)).reshape(shape).astype(float)   # distinct: a single argmax per window
    xt = t.tensor(x)
    if not batched:
        x, xt = x[0], xt[0]
    y, idx = t.nn.functional.max_pool2d(xt, k, s, p, return_indices=True)
    default = [(y.shape[-2 + i] - 1) * s - 2 * p + k for i in range(2)]
    size = [d + grow * (s - 1) for d in default]
    if 0 in size:   # an empty output: PyTorch's forward gives it, its backward fails; compare the forward only
        got = F.max_unpool2d(on_device(to_np(y)), sn.tensor(to_np(idx)), k, s, p, output_size=size)
        assert tuple(got.shape) == tuple(t.nn.functional.max_unpool2d(y, idx, k, s, p, output_size=size).shape)
        return
    ys, i_s = F.max_pool2d(on_device(x, False), k, s, p, return_indices=True)
    numpy.testing.assert_array_equal(to_np(i_s), to_np(idx))
    idx_s = sn.tensor(to_np(idx), device=sn.get_default_device())
    fs = lambda v: F.max_unpool2d(v, idx_s, k, s, p, output_size=size)  # noqa: E731
    try:   # windows that skip input rows give indices past a smaller output: PyTorch refuses those, and so must we
        t.nn.functional.max_unpool2d(y, idx, k, s, p, output_size=size)
    except RuntimeError:
        with pytest.raises(RuntimeError, match="invalid max index"):
            fs(on_device(to_np(y)))
        return
    compare(t, fs, lambda v: t.nn.functional.max_unpool2d(v, idx, k, s, p, output_size=size), [to_np(y)])
    compare(t, lambda v: nn.MaxUnpool2d(k, s, p)(v, idx_s, size), lambda v: t.nn.MaxUnpool2d(k, s, p)(v, idx, size),
            [to_np(y)])
    flat = to_np(idx).reshape(-1, to_np(idx).shape[-1] * to_np(idx).shape[-2])
    if all(len(set(row)) == len(row) for row in flat):  # with repeated indices (overlapping windows) the forward
        gradchecks(fs, to_np(y))                         # keeps one write but PyTorch's backward feeds them all


def test_max_unpool2d_errors():
    y, i = F.max_pool2d(sn.randn(1, 1, 4, 4), 2, return_indices=True)
    with pytest.raises(RuntimeError, match="output_size"):
        F.max_unpool2d(y, i, 2, output_size=(7, 7))
    with pytest.raises(RuntimeError, match="invalid max index"):
        F.max_unpool2d(y, i * 3, 2)
    with pytest.raises(RuntimeError, match="same shape"):
        F.max_unpool2d(y, i[..., :1], 2)


def test_norm_and_shuffle_errors():
    for call, msg in [(lambda: F.layer_norm(sn.randn(2, 3), (4,)), r"normalized_shape=\[4\]"),
                      (lambda: F.layer_norm(sn.randn(2, 4), (4,), sn.ones(3)), "weight"),
                      (lambda: F.group_norm(sn.randn(2, 3, 4), 2), "divisible by num_groups"),
                      (lambda: F.pixel_shuffle(sn.randn(2, 3, 4, 4), 2), "divisible by upscale_factor"),
                      (lambda: F.pixel_unshuffle(sn.randn(2, 3, 5, 4), 2), "height"),
                      (lambda: F.pixel_shuffle(sn.randn(3, 4), 2), "at least 3 dimensions"),
                      (lambda: nn.GroupNorm(2, 4)(sn.randn(2, 3, 5)), r"GroupNorm.*\(2, 3, 5\)")]:
        with pytest.raises(RuntimeError, match=msg):
            call()
    with pytest.raises(ValueError, match="divisible"):
        nn.GroupNorm(3, 4)
