"""PSNR, SSIM and the BT.601 luma: hand cases, an independent writing of one SSIM window, scikit-image (the
reference) on random and real photos, batches, devices and the errors."""
import math

import numpy
import pytest
from hypothesis import given, strategies as st

import scratchnet as sn
from scratchnet import backend
from scratchnet.data.restoration import bicubic_down, bicubic_up, modcrop, photos
from scratchnet.errors import ShapeError
from scratchnet.restoration_metrics import gaussian_window, psnr, rgb_to_y, ssim, ssim_loss

skm = pytest.importorskip("skimage.metrics")
skcolor = pytest.importorskip("skimage.color")


def dev(a, device):
    return backend.to_device(numpy.asarray(a), device)


def host(a):
    return backend.to_numpy(a)


def sk_ssim(x, y, data_range=1.0, channel_axis=None):
    return skm.structural_similarity(x, y, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                     data_range=data_range, channel_axis=channel_axis)


# ---- hand cases ----

def test_psnr_hand_cases(device):
    x = numpy.zeros((3, 8, 8))
    assert float(host(psnr(dev(x, device), dev(x + 0.1, device)))) == pytest.approx(20.0)      # mse 0.01
    assert float(host(psnr(dev(x, device), dev(x + 0.5, device), data_range=0.5))) == pytest.approx(0.0)
    assert host(psnr(dev(x, device), dev(x, device))) == math.inf                              # as scikit-image
    u8 = numpy.zeros((8, 8), numpy.uint8)
    assert float(host(psnr(dev(u8, device), dev(u8 + 10, device), data_range=255))) == pytest.approx(
        10 * math.log10(255 ** 2 / 100))
    # a batch gives one value per image, each its own mean squared error
    b = numpy.zeros((2, 1, 4, 4))
    b2 = b.copy()
    b2[0] += 0.1
    b2[1] += 0.01
    numpy.testing.assert_allclose(host(psnr(dev(b, device), dev(b2, device))), [20.0, 40.0])


def test_psnr_shave_mask_and_y_channel(device):
    x = numpy.full((3, 10, 10), 0.5)
    y = x.copy()
    y[:, :2, :] = 0.0          # errors only in the top two rows
    assert host(psnr(dev(x, device), dev(y, device), shave=2)) == math.inf
    assert float(host(psnr(dev(x, device), dev(y, device), shave=1))) == pytest.approx(
        10 * math.log10(1 / (0.25 * 8 / 64)))          # one bad row of 8 left in an 8×8 crop
    holes = numpy.zeros((10, 10))
    holes[:2, :5] = 1          # score only there: every counted pixel is off by 0.5
    assert float(host(psnr(dev(x, device), dev(y, device), mask=dev(holes, device)))) == pytest.approx(
        10 * math.log10(1 / 0.25))
    assert math.isnan(float(host(psnr(dev(x, device), dev(y, device), mask=dev(holes * 0, device)))))
    # an error in blue alone moves Y by 24.966/255 of it
    z = x.copy()
    z[2] += 0.2
    d = 0.2 * 24.966 / 255
    assert float(host(psnr(dev(x, device), dev(z, device), y_channel=True))) == pytest.approx(
        10 * math.log10(1 / d ** 2))


def test_ssim_hand_cases(device):
    a = numpy.random.default_rng(0).random((3, 16, 16))
    assert float(host(ssim(dev(a, device), dev(a, device)))) == pytest.approx(1.0, abs=1e-12)
    # constant images: no variance, SSIM is the luminance term (2ab + C1) / (a² + b² + C1)
    p, q = numpy.full((1, 12, 12), 0.2), numpy.full((1, 12, 12), 0.6)
    c1 = (0.01 * 1.0) ** 2
    assert float(host(ssim(dev(p, device), dev(q, device)))) == pytest.approx((2 * .2 * .6 + c1) / (.04 + .36 + c1))
    # a contrast-reversed pattern of weighted mean 0 (one window): equal means, σ_xy = -σ², so
    # SSIM = (C2 - 2σ²) / (C2 + 2σ²)
    wts = gaussian_window()[:, None] * gaussian_window()[None, :]
    s = numpy.random.default_rng(1).standard_normal((11, 11)) * 0.1
    s -= (wts * s).sum()
    v, c2 = (wts * s * s).sum(), 0.03 ** 2
    assert float(host(ssim(dev(0.5 + s, device), dev(0.5 - s, device)))) == pytest.approx((c2 - 2 * v) / (c2 + 2 * v))


def test_ssim_one_window_written_out():
    """An 11×11 image has one valid window: the formula written with explicit 2-D Gaussian weights."""
    rng = numpy.random.default_rng(2)
    x, y = rng.random((11, 11)), rng.random((11, 11))
    k = numpy.arange(11) - 5
    w = numpy.exp(-(k[:, None] ** 2 + k[None, :] ** 2) / (2 * 1.5 ** 2))
    w /= w.sum()
    mx, my = (w * x).sum(), (w * y).sum()
    vx, vy, cxy = (w * x * x).sum() - mx ** 2, (w * y * y).sum() - my ** 2, (w * x * y).sum() - mx * my
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    want = (2 * mx * my + c1) * (2 * cxy + c2) / ((mx ** 2 + my ** 2 + c1) * (vx + vy + c2))
    assert float(ssim(x, y)) == pytest.approx(want, rel=1e-12)
    assert float(ssim(x, y, K1=0.05, K2=0.1)) != pytest.approx(want)       # the constants are used


def test_rgb_to_y_is_matlab_rgb2ycbcr(device):
    rgb = numpy.random.default_rng(3).random((3, 5, 7))
    want = skcolor.rgb2ycbcr(rgb.transpose(1, 2, 0))[..., 0] / 255     # MATLAB's convention, [16, 235]
    got = host(rgb_to_y(dev(rgb, device)))
    assert got.shape == (1, 5, 7)
    numpy.testing.assert_allclose(got[0], want, rtol=1e-12)
    assert float(host(rgb_to_y(dev(numpy.zeros((1, 3, 1, 1)), device))).ravel()[0]) == pytest.approx(16 / 255)
    assert float(host(rgb_to_y(dev(numpy.ones((3, 1, 1)), device))).ravel()[0]) == pytest.approx(235 / 255)
    # on Tensors it is differentiable: dY/dR = 65.481/255 at every pixel
    t = sn.tensor(rgb[None], dtype=sn.float64, device=device, requires_grad=True)
    rgb_to_y(t).sum().backward()
    numpy.testing.assert_allclose(t.grad.numpy()[0, 0], 65.481 / 255)


# ---- against scikit-image ----

@given(h=st.integers(11, 24), w=st.integers(11, 24), c=st.sampled_from([1, 3]), seed=st.integers(0, 2 ** 16),
       noise=st.floats(0.01, 0.5))
def test_random_images_match_scikit_image(h, w, c, seed, noise):
    rng = numpy.random.default_rng(seed)
    x = rng.random((c, h, w))
    y = numpy.clip(x + noise * rng.standard_normal(x.shape), 0, 1)
    assert float(psnr(x, y)) == pytest.approx(skm.peak_signal_noise_ratio(x, y, data_range=1.0), rel=1e-10)
    assert float(ssim(x, y)) == pytest.approx(sk_ssim(x, y, channel_axis=0), abs=1e-10)
    assert float(ssim(x[0], y[0])) == pytest.approx(sk_ssim(x[0], y[0]), abs=1e-10)
    x8, y8 = (numpy.round(a * 255).astype(numpy.uint8) for a in (x, y))
    assert float(ssim(x8, y8, data_range=255)) == pytest.approx(sk_ssim(x8, y8, 255, channel_axis=0), abs=1e-10)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_real_photos_match_scikit_image(device, scale):
    """The SR protocol on the held-out photos: Y channel (MATLAB's rgb2ycbcr), `scale` pixels shaved, RGB too."""
    for photo in photos("test")[:2]:
        hr = modcrop(photo.transpose(2, 0, 1), scale)
        sr = bicubic_up(bicubic_down(hr, scale), scale)
        s = scale
        ys = [skcolor.rgb2ycbcr(a.transpose(1, 2, 0).astype(numpy.float64))[s:-s, s:-s, 0] / 255 for a in (hr, sr)]
        gx, gy = dev(hr, device), dev(sr, device)
        assert float(host(psnr(gx, gy, shave=s, y_channel=True))) == pytest.approx(
            skm.peak_signal_noise_ratio(*ys, data_range=1.0), rel=1e-9)
        assert float(host(ssim(gx, gy, shave=s, y_channel=True))) == pytest.approx(sk_ssim(*ys), abs=1e-9)
        rgb = [a.astype(numpy.float64) for a in (hr, sr)]
        assert float(host(psnr(gx, gy))) == pytest.approx(skm.peak_signal_noise_ratio(*rgb, data_range=1.0),
                                                          rel=1e-9)
        assert float(host(ssim(gx, gy))) == pytest.approx(sk_ssim(*rgb, channel_axis=0), abs=1e-9)


def test_batches_and_tensors_score_each_image(device):
    rng = numpy.random.default_rng(4)
    x = rng.random((3, 3, 16, 20)).astype(numpy.float32)
    y = numpy.clip(x + 0.05 * rng.standard_normal(x.shape), 0, 1).astype(numpy.float32)
    tx, ty = sn.tensor(x, device=device), sn.tensor(y, device=device)
    for fn in (psnr, ssim):
        got = fn(tx, ty, y_channel=True, shave=2)
        assert backend.device_of(got) == backend.device_of(tx.data) and got.shape == (3,)
        want = [float(host(fn(x[i], y[i], y_channel=True, shave=2))) for i in range(3)]
        numpy.testing.assert_allclose(host(got), want, rtol=1e-12)


def test_scores_make_no_host_round_trip(device, transfer_counter):
    rng = numpy.random.default_rng(5)
    x = sn.tensor(rng.random((2, 3, 16, 16)).astype(numpy.float32), device=device)
    y = sn.tensor(rng.random((2, 3, 16, 16)).astype(numpy.float32), device=device)
    mask = dev(numpy.ones((16, 16)), device)
    with transfer_counter() as k:
        psnr(x, y, shave=2, y_channel=True, mask=mask)
        ssim(x, y, y_channel=True)
    assert k.d2h == 0 and k.h2d == 0, k.log


# ---- errors ----

def test_bad_inputs_name_the_problem():
    a = numpy.zeros((3, 16, 16))
    for fn in (psnr, ssim):
        with pytest.raises(ShapeError, match=r"x \(3, 16, 16\) and y \(3, 16, 15\)"):
            fn(a, a[..., :15])
        with pytest.raises(ShapeError, match="looks like \\(H, W, C\\)"):
            fn(numpy.zeros((16, 16, 3)), numpy.zeros((16, 16, 3)))
        with pytest.raises(ShapeError, match="3 channels.*\\(1, 16, 16\\)"):
            fn(a[:1], a[:1], y_channel=True)
        with pytest.raises(ValueError, match="shave=8 leaves no pixels of images 16×16"):
            fn(a, a, shave=8)
        with pytest.raises(ValueError, match="integer dtype uint8; pass data_range=255"):
            fn(a.astype(numpy.uint8), a.astype(numpy.uint8))
        with pytest.raises(ShapeError, match=r"\(H, W\), \(C, H, W\) or \(N, C, H, W\), got shape \(16,\)"):
            fn(a[0, 0], a[0, 0])
        with pytest.raises(ValueError, match="data_range must be a number > 0"):
            fn(a, a, data_range=0)
    with pytest.raises(ShapeError, match="images of 10×10 pixels .* smaller than the 11×11 window"):
        ssim(a[:, :10, :10], a[:, :10, :10])
    with pytest.raises(ValueError, match="win must be an odd positive int"):
        ssim(a, a, win=10)
    with pytest.raises(ShapeError, match=r"mask of shape \(5, 5\) does not broadcast"):
        psnr(a, a, mask=numpy.ones((5, 5)))
    with pytest.raises(ShapeError, match=r"rgb_to_y: .* got shape \(4, 2, 2\)"):
        rgb_to_y(numpy.zeros((4, 2, 2)))


# ---- SSIM as a loss ----

def torch_ssim_loss(torch, x, y, win=11, sigma=1.5, c1=0.01 ** 2, c2=0.03 ** 2):
    """The formula written independently in PyTorch: a depthwise 'valid' conv with the 2-D Gaussian window."""
    k = torch.arange(win, dtype=x.dtype) - (win - 1) / 2
    g = torch.exp(-k ** 2 / (2 * sigma ** 2))
    w2 = (g[:, None] * g[None, :]) / g.sum() ** 2
    c = x.shape[1]
    f = lambda a: torch.nn.functional.conv2d(a, w2.expand(c, 1, win, win), groups=c)  # noqa: E731
    mx, my = f(x), f(y)
    vx, vy, cxy = f(x * x) - mx ** 2, f(y * y) - my ** 2, f(x * y) - mx * my
    s = (2 * mx * my + c1) * (2 * cxy + c2) / ((mx ** 2 + my ** 2 + c1) * (vx + vy + c2))
    return 1 - s.mean((1, 2, 3))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_ssim_loss_matches_pytorch_and_the_metric(torch, device, reduction):
    rng = numpy.random.default_rng(6)
    x = rng.random((2, 3, 14, 17))
    y = numpy.clip(x + 0.2 * rng.standard_normal(x.shape), 0, 1)
    a = sn.tensor(x, dtype=sn.float64, device=device, requires_grad=True)
    loss = ssim_loss(a, sn.tensor(y, dtype=sn.float64, device=device), reduction=reduction)
    tx = torch.tensor(x, requires_grad=True)
    want = torch_ssim_loss(torch, tx, torch.tensor(y))
    want = {"mean": want.mean(), "sum": want.sum(), "none": want}[reduction]
    numpy.testing.assert_allclose(loss.numpy(), want.detach().numpy(), rtol=1e-10)
    if reduction == "none":
        numpy.testing.assert_allclose(loss.numpy(), 1 - ssim(x, y), rtol=1e-10)
    (loss.sum() if reduction == "none" else loss).backward()
    (want.sum() if reduction == "none" else want).backward()
    numpy.testing.assert_allclose(a.grad.numpy(), tx.grad.numpy(), rtol=1e-8, atol=1e-12)


def test_ssim_loss_float32_and_errors(device):
    rng = numpy.random.default_rng(7)
    x = sn.tensor(rng.random((1, 1, 12, 12)).astype(numpy.float32), device=device, requires_grad=True)
    loss = ssim_loss(x, x.detach())
    assert loss.dtype == sn.float32 and abs(loss.item()) < 1e-6
    with pytest.raises(ShapeError, match=r"input \(1, 1, 12, 12\) and target \(1, 1, 12, 11\)"):
        ssim_loss(x, x[..., :11])
    with pytest.raises(TypeError, match="must be Tensors"):
        ssim_loss(x, numpy.zeros((1, 1, 12, 12)))
    with pytest.raises(ValueError, match="reduction must be"):
        ssim_loss(x, x, reduction="batchmean")
