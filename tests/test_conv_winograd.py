"""The Winograd F(2×2, 3×3) conv route (ops/conv_winograd.py): values, dx, dW, db and second derivatives equal
im2col and the reference twin (float64 to 1e-10; float32 to 1e-5 of the largest value, where the twin and
PyTorch themselves differ by ~1e-7), equal PyTorch in float32 and float64, over odd sizes, paddings 0-2, bands of
tile rows and threads over rows or the batch; its choice rule; and no weight gradient for frozen weights."""
import numpy
import pytest

import scratchnet as sn
import scratchnet.nn.functional as F
from scratchnet.ops import conv, conv_winograd
from conftest import load_torch, to_np
from conv_route_helpers import num_threads, run_conv

# (n, c, o, (h, w), kernel, padding, dilation): "same" convs (dx on this route), valid and wider ones (dx by
# col2im, or a full correlation at padding 2), odd sizes (a half-empty last tile), a 1×1 map, one image and a batch
CASES = [
    (1, 9, 7, (9, 13), (3, 3), (1, 1), (1, 1)),
    (3, 6, 8, (8, 7), (3, 3), (0, 0), (1, 1)),
    (2, 5, 4, (5, 6), (3, 3), (2, 1), (1, 1)),
    (1, 4, 5, (1, 1), (3, 3), (1, 1), (1, 1)),
    (4, 7, 6, (6, 10), (3, 3), (1, 0), (1, 1)),
]


def _close(fast, base, tol):
    for i, (a, b) in enumerate(zip(fast, base)):
        assert a.dtype == b.dtype, (i, a.dtype, b.dtype)
        numpy.testing.assert_allclose(a, b, rtol=tol, atol=tol * max(1.0, numpy.abs(b).max()), err_msg=str(i))


@pytest.fixture(params=[None, 1])
def bands(request, monkeypatch):
    """Whole maps in one band, or one tile row a band (MIN_BAND_TILES cut down) so that the band loop runs."""
    if request.param:
        monkeypatch.setattr(conv_winograd, "MIN_BAND_TILES", request.param)
    return request.param


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("case", CASES)
def test_winograd_equals_im2col_float64(case, threads, bands):
    """float64: y, dx, dW, db and second derivatives equal im2col's to rounding."""
    with num_threads(threads):
        fast, base = run_conv(case, "float64", "winograd"), run_conv(case, "float64", "im2col")
    _close(fast, base, 1e-10)


@pytest.mark.parametrize("case", CASES)
def test_winograd_equals_reference_float32(case):
    """float32 against the reference twin (Im2Col + matmul): Winograd's rounding is a direct sum's (~1e-7 of the
    largest value); float32 stays float32."""
    fast, ref = run_conv(case, "float32", "winograd", order=1), run_conv(case, "float32", None, "reference", order=1)
    assert fast[0].dtype == numpy.float32
    _close(fast, ref, 1e-5)


@pytest.mark.parametrize("dtype, tol", [("float32", 1e-5), ("float64", 1e-12)])
@pytest.mark.parametrize("shape, padding", [((1, 32, 20, 20), 1), ((2, 16, 11, 9), 1), ((1, 24, 10, 12), 0)])
def test_winograd_matches_torch(shape, padding, dtype, tol):
    """Values and the gradient to the image equal PyTorch's, with VGG-like channel counts (the sums Winograd
    rounds are 9·C terms deep)."""
    torch = load_torch()
    rng = numpy.random.default_rng(shape[1])
    x0 = rng.standard_normal(shape)
    w0 = rng.standard_normal((shape[1] + 8, shape[1], 3, 3)) / (9 * shape[1]) ** 0.5
    b0 = rng.standard_normal(shape[1] + 8)
    x = sn.tensor(x0, dtype=dtype, requires_grad=True)
    with sn.use_kernels("fast"), conv.force_route("winograd"):
        y = F.conv2d(x, sn.tensor(w0, dtype=dtype), sn.tensor(b0, dtype=dtype), padding=padding)
        up = rng.standard_normal(y.shape)
        (y * sn.tensor(up, dtype=dtype)).sum().backward()
    tdt = getattr(torch, dtype)
    xt = torch.tensor(x0, dtype=tdt, requires_grad=True)
    yt = torch.nn.functional.conv2d(xt, torch.tensor(w0, dtype=tdt), torch.tensor(b0, dtype=tdt), padding=padding)
    (yt * torch.tensor(up, dtype=tdt)).sum().backward()
    for a, b in ((y, yt), (x.grad, xt.grad)):
        b = b.detach().numpy()
        assert to_np(a).dtype == b.dtype
        numpy.testing.assert_allclose(to_np(a), b, rtol=tol, atol=tol * numpy.abs(b).max())


def test_choose_route_takes_winograd_where_it_pays():
    """Deep 3×3 stride-1 convs on large maps take Winograd (VGG19's 128- to 512-channel layers at 128 and 256 px);
    shallow ones, 512 × 512 on 16×16 (the weight transform costs what it saves), small maps in a batch, other
    kernels, strides, dilation, groups and GPU arrays do not."""
    def route(x_shape, w_shape, stride=1, padding=1, dilation=1, groups=1, xp=numpy):
        cfg = conv.ConvCfg((stride,) * 2, (padding,) * 2, (dilation,) * 2, groups)
        return conv.choose_route(conv.ConvGeometry(x_shape, w_shape, cfg), xp).name
    assert route((1, 256, 32, 32), (256, 256, 3, 3)) == "winograd"     # conv3_x at 128 px
    assert route((1, 128, 64, 64), (128, 128, 3, 3)) == "winograd"     # conv2_2 at 128 px
    assert route((1, 512, 32, 32), (512, 512, 3, 3)) == "winograd"     # conv4_x at 256 px
    assert route((1, 512, 16, 16), (512, 512, 3, 3)) != "winograd"
    assert route((1, 64, 128, 128), (64, 64, 3, 3)) != "winograd"      # 64 channels: transforms cost the saving
    assert route((32, 256, 8, 8), (256, 256, 3, 3)) != "winograd"      # 16 tiles an image
    assert route((1, 256, 32, 32), (256, 256, 5, 5), padding=2) != "winograd"
    assert route((1, 256, 64, 64), (256, 256, 3, 3), stride=2) != "winograd"
    assert route((1, 256, 64, 64), (256, 256, 3, 3), padding=2, dilation=2) != "winograd"
    assert route((1, 256, 32, 32), (256, 128, 3, 3), groups=2) != "winograd"
    assert route((1, 256, 32, 32), (256, 256, 3, 3), xp=object()) != "winograd"


def test_frozen_weights_take_no_weight_gradient(monkeypatch):
    """A style loss through frozen weights (requires_grad False) asks the route for dx only: dW is never
    computed (the gradient to the image is still right)."""
    def no_dw(*args):
        raise AssertionError("dW computed for frozen weights")
    route = conv.ROUTES["winograd"]
    monkeypatch.setitem(conv.ROUTES, "winograd", route._replace(backward_filter=no_dw))
    rng = numpy.random.default_rng(0)
    x = sn.tensor(rng.standard_normal((1, 8, 6, 6)), dtype="float64", requires_grad=True)
    w = sn.tensor(rng.standard_normal((8, 8, 3, 3)), dtype="float64")
    with sn.use_kernels("fast"), conv.force_route("winograd"):
        (F.conv2d(x, w, padding=1) ** 2).sum().backward()
    with sn.use_kernels("reference"):
        x2 = sn.tensor(to_np(x), dtype="float64", requires_grad=True)
        (F.conv2d(x2, w, padding=1) ** 2).sum().backward()
    numpy.testing.assert_allclose(to_np(x.grad), to_np(x2.grad), rtol=1e-10, atol=1e-10)
