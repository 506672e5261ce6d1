"""The shifted-GEMM conv route (ops/conv_shift.py) at the channel counts where choose_route takes it by itself:
values, dx, dW, db and second derivatives equal the im2col route and the reference twin, float32 and float64, with
bands of rows and threads over rows or over the batch; and its choice rule (deep convs on large maps only)."""
import numpy
import pytest

import scratchnet as sn
import scratchnet.nn.functional as F
from scratchnet.ops import conv, conv_shift
from conftest import to_np
from conv_route_helpers import num_threads, run_conv as _run

# (n, c, o, (h, w), (kh, kw), padding, dilation): "same" convs (dx is a conv of gy on this route), valid ones
# (dx by col2im), non-square maps and kernels, dilation, one image and a batch
CASES = [
    (1, 40, 36, (9, 13), (3, 3), (1, 1), (1, 1)),
    (3, 33, 40, (8, 7), (3, 3), (0, 0), (1, 1)),
    (2, 34, 32, (10, 9), (5, 3), (2, 1), (1, 1)),
    (1, 32, 33, (11, 12), (3, 3), (2, 2), (2, 2)),
    (4, 35, 34, (7, 10), (3, 2), (1, 0), (1, 2)),
]


@pytest.fixture(params=[None, 3])
def bands(request, monkeypatch):
    """The whole map in one band, or bands of a few rows (BAND_BYTES cut down) so that the band loop runs."""
    if request.param:
        monkeypatch.setattr(conv_shift, "BAND_BYTES", 1)   # one output row per band
    return request.param


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("case", CASES)
def test_shift_equals_im2col_float64(case, threads, bands):
    """float64: the shift route's y, dx, dW, db and second derivatives equal im2col's to rounding."""
    with num_threads(threads):
        fast, base = _run(case, "float64", "shift"), _run(case, "float64", "im2col")
    for i, (a, b) in enumerate(zip(fast, base)):
        numpy.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10 * max(1.0, numpy.abs(b).max()), err_msg=str(i))


@pytest.mark.parametrize("case", CASES[:3])
def test_shift_equals_reference_float32(case):
    """float32 against the reference twin (Im2Col + matmul), values and gradients; float32 stays float32."""
    fast, ref = _run(case, "float32", "shift", order=1), _run(case, "float32", "im2col", "reference", order=1)
    for i, (a, b) in enumerate(zip(fast, ref)):
        assert a.dtype == numpy.float32, (i, a.dtype)
        numpy.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-4 * max(1.0, numpy.abs(b).max()), err_msg=str(i))


@pytest.mark.parametrize("case", [(8, 32, 32, (12, 12), (3, 3), (1, 1), (1, 1)),
                                  (8, 32, 40, (14, 12), (3, 3), (0, 0), (1, 1))])
def test_small_maps_as_chosen_equal_reference(case):
    """A batch of mid-sized maps, the route as choose_route picks it (im2col's per-sample GEMMs forward and its wide
    layout backward, conv_kernels.wide_backward_pays; the shifted GEMMs' many small calls split badly over
    threads): values and first and second derivatives equal the twin's."""
    n, c, o, size, k, p, d = case
    geom = conv.ConvGeometry((n, c) + size, (o, c) + k, conv.ConvCfg((1, 1), p, d, 1))
    assert conv.choose_route(geom).name == "im2col_small" and conv.conv_kernels.wide_backward_pays(geom)
    fast, ref = _run(case, "float64", None), _run(case, "float64", "im2col", "reference")
    for i, (a, b) in enumerate(zip(fast, ref)):
        numpy.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10 * max(1.0, numpy.abs(b).max()), err_msg=str(i))


def test_choose_route_takes_shift_where_it_pays():
    """Deep stride-1 convs on large maps take the shift route; shallow ones, small maps (where copying W costs
    more than the im2col copies saved), strides, groups and GPU arrays do not."""
    def route(x_shape, w_shape, stride=1, padding=1, groups=1):
        cfg = conv.ConvCfg((stride,) * 2, (padding,) * 2, (1, 1), groups)
        return conv.choose_route(conv.ConvGeometry(x_shape, w_shape, cfg)).name
    assert route((1, 64, 128, 128), (64, 64, 3, 3)) == "shift"          # VGG conv1_2 at 128 px
    assert route((1, 64, 64, 64), (64, 64, 3, 3)) == "shift"            # 64 channels (deeper: Winograd)
    assert route((1, 256, 32, 32), (256, 256, 5, 5), padding=2) == "shift"  # a 5×5 kernel
    assert route((1, 512, 16, 16), (512, 512, 3, 3)) != "shift"         # W (9 MB) beside 256 output pixels
    assert route((1, 3, 128, 128), (64, 3, 3, 3)) != "shift"            # 3 input channels: too shallow
    assert route((1, 64, 32, 32), (64, 64, 3, 3), stride=2) != "shift"
    assert route((1, 64, 32, 32), (64, 32, 3, 3), groups=2) != "shift"


@pytest.mark.parametrize("x_shape, o, as_conv", [
    ((1, 3, 20, 20), 64, False),    # dx to a 3-channel image: a 3-row GEMM over 64·9 copied values would be slow
    ((1, 64, 4, 4), 64, False),     # W (O·C·9 values) large beside the maps: copying it flipped costs more
    ((2, 16, 12, 12), 16, True),    # the adjoint as a conv of gy, no col2im
])
def test_adjoint_conv_or_col2im(x_shape, o, as_conv):
    """dx of a stride-1 "same" conv is the conv of gy with the flipped kernel, or col2im where that pays more
    (conv_kernels.adjoint_conv_pays); either way it equals the reference twin's."""
    rng = numpy.random.default_rng(0)
    x, w = rng.standard_normal(x_shape), rng.standard_normal((o, x_shape[1], 3, 3))
    geom = conv.ConvGeometry(x.shape, w.shape, conv.ConvCfg((1, 1), (1, 1), (1, 1), 1))
    gy = rng.standard_normal(geom.y_shape)
    calls = []
    real = conv.conv_kernels.forward
    try:
        conv.conv_kernels.forward = lambda *a, **k: calls.append(1) or real(*a, **k)
        dx = conv.conv_kernels.backward_data(gy, w, geom)
    finally:
        conv.conv_kernels.forward = real
    assert bool(calls) == as_conv
    with sn.use_kernels("reference"):
        xt = sn.tensor(x, dtype="float64", requires_grad=True)
        (F.conv2d(xt, sn.tensor(w, dtype="float64"), padding=1) * sn.tensor(gy, dtype="float64")).sum().backward()
    numpy.testing.assert_allclose(dx, to_np(xt.grad), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("start, stop, most", [(0, 8, 7), (0, 16, 7), (3, 4, 7), (0, 10, 3), (2, 2, 3), (0, 5, 9)])
def test_even_blocks(start, stop, most):
    """Row blocks cover [start, stop) in order, each at most `most` long, as few as that allows, sizes within 1."""
    blocks = conv.conv_kernels.even_blocks(start, stop, most)
    assert [a for a, _ in blocks[1:]] == [b for _, b in blocks[:-1]]
    assert (blocks[0][0], blocks[-1][1]) == (start, stop) if blocks else start == stop
    sizes = [b - a for a, b in blocks]
    assert all(0 < n <= most for n in sizes) and (not sizes or max(sizes) - min(sizes) <= 1)
    assert len(blocks) == -(-(stop - start) // most)


@pytest.mark.parametrize("route", ["shift", "im2col", "im2col_rows", "im2col_wide"])
def test_empty_batch(route):
    """A batch of no images: an empty output and zero weight and bias grads, on every route."""
    x = sn.zeros(0, 32, 6, 6, requires_grad=True)
    w = sn.tensor(numpy.ones((32, 32, 3, 3)), dtype="float32", requires_grad=True)
    b = sn.zeros(32, requires_grad=True)
    with conv.force_route(route):
        y = F.conv2d(x, w, b, padding=1)
        y.sum().backward()
    assert y.shape == (0, 32, 6, 6) and x.grad.shape == x.shape
    assert not to_np(w.grad).any() and not to_np(b.grad).any() and w.grad.shape == w.shape
