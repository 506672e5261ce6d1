"""The FFT convolution path (scratchnet.ops.conv_fft) against im2col, finite differences and the choice of path."""
import numpy
import pytest
from hypothesis import given, settings, strategies as st

import scratchnet as sn
import scratchnet.nn.functional as F
from scratchnet.ops import conv, conv_fft, conv_kernels
from conftest import fft_everywhere


def im2col_only():
    return conv.force_route("im2col")


def geometry(x_shape, w_shape, pad, stride=(1, 1)):
    return conv.ConvGeometry(x_shape, w_shape, conv.ConvCfg(stride, pad, (1, 1), 1))


@st.composite
def stride1_case(draw):
    kh, kw = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    ph, pw = draw(st.integers(0, kh)), draw(st.integers(0, kw))     # up to "full" padding and one past it
    h = draw(st.integers(max(1, kh - 2 * ph), 9))
    w = draw(st.integers(max(1, kw - 2 * pw), 9))
    n, c, o = draw(st.integers(1, 3)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    return (n, c, h, w), (o, c, kh, kw), (ph, pw), draw(st.integers(0, 2**31))


@settings(max_examples=150, deadline=None)
@given(case=stride1_case(), limit=st.sampled_from([1, 2**30]))
def test_fft_path_matches_im2col(case, limit):
    """All three maps (conv, its adjoint in x, its adjoint in W) equal im2col's to float64 round-off, in one pass
    over the batch or one sample at a time (limit: the bytes the spectra may take)."""
    xs, ws, pad, seed = case
    geom = geometry(xs, ws, pad)
    rng = numpy.random.default_rng(seed)
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    y = conv_kernels.forward(x, w, geom)
    gy = rng.standard_normal(y.shape)
    expected = (y, conv_kernels.backward_data(gy, w, geom), conv_kernels.backward_filter(x, gy, geom))
    got = (conv_fft.forward(x, w, geom, limit=limit), conv_fft.backward_data(gy, w, geom, limit=limit),
           conv_fft.backward_filter(x, gy, geom, limit=limit))
    for g, e in zip(got, expected):
        assert g.shape == e.shape and g.dtype == e.dtype
        numpy.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-11 * max(1.0, numpy.abs(e).max()))


@settings(max_examples=40, deadline=None)
@given(case=stride1_case())
def test_fft_path_gradcheck_to_second_order(case):
    """conv2d and conv_transpose2d through the FFT path: finite differences of first and second order (float64)."""
    xs, ws, pad, seed = case
    rng = numpy.random.default_rng(seed)
    args = [sn.tensor(rng.standard_normal(s), dtype="float64", requires_grad=True) for s in (xs, ws, ws[:1])]
    out = geometry(xs, ws, pad).out
    with fft_everywhere():
        assert conv.choose_route(geometry(xs, ws, pad)).name == "fft"
        fn = lambda x, w, b: F.conv2d(x, w, b, padding=pad)   # noqa: E731
        assert sn.gradcheck(fn, args, max_elements=120)
        assert sn.gradgradcheck(fn, args, max_elements=120)
        g = sn.tensor(rng.standard_normal(xs[:1] + ws[:1] + out), dtype="float64", requires_grad=True)
        wt = sn.tensor(rng.standard_normal(ws[:2] + ws[2:]), dtype="float64", requires_grad=True)
        assert sn.gradcheck(lambda g_, w_: F.conv_transpose2d(g_, w_, padding=pad), [g, wt], max_elements=120)


def test_fft_path_float32_keeps_dtype_and_accuracy():
    rng = numpy.random.default_rng(0)
    x = rng.standard_normal((8, 64, 7, 7)).astype(numpy.float32)
    w = (rng.standard_normal((32, 64, 5, 5)) * 0.05).astype(numpy.float32)
    geom = geometry(x.shape, w.shape, (2, 2))
    assert conv.choose_route(geom).name == "fft"
    with sn.use_kernels("fast"):
        y = F.conv2d(sn.tensor(x), sn.tensor(w), padding=2).numpy()
    ref = conv_kernels.forward(x.astype(numpy.float64), w.astype(numpy.float64), geom)
    assert y.dtype == numpy.float32
    numpy.testing.assert_allclose(y, ref, rtol=0, atol=2e-6 * numpy.abs(ref).max())


@pytest.mark.parametrize("x_shape, w_shape, pad, expected", [
    ((64, 256, 7, 7), (128, 256, 5, 5), 2, True),     # the DCGAN generator's 5×5 layer: 6.8x fewer MACs
    ((64, 64, 14, 14), (64, 64, 5, 5), 2, True),
    ((1, 256, 7, 7), (128, 256, 5, 5), 2, False),     # one image: transforming the weights would dominate
    ((64, 32, 14, 14), (64, 32, 3, 3), 1, False),     # 3×3: only 3.7x fewer MACs, measured slower
    ((64, 8, 7, 7), (8, 8, 5, 5), 2, False),          # too few channels
    ((64, 64, 64, 64), (64, 64, 5, 5), 2, False),     # large maps: the dense DFT matrices would cost too much
])
def test_fft_path_is_chosen_where_it_pays(x_shape, w_shape, pad, expected):
    geom = geometry(x_shape, w_shape, (pad, pad))
    assert conv_fft.worth_it(geom) is expected
    assert (conv.choose_route(geom).name == "fft") is expected
    strided = geometry(x_shape, w_shape, (pad, pad), stride=(2, 2))
    assert not conv_fft.worth_it(strided)
    with im2col_only():
        assert conv.choose_route(geom).name == "im2col"


def test_fft_length_leaves_no_wraparound():
    """L = H + p for a 'same' conv; a full-padding conv needs the output's length."""
    assert conv_fft.fft_length(7, 5, 7, 2) == 9
    assert conv_fft.fft_length(7, 5, 11, 4) == 11
    assert conv_fft.fft_length(7, 3, 5, 0) == 7
