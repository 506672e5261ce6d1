"""The restoration models (SRCNN, ESPCN, SRResNet, DnCNN, inpainting U-Net) and the ops they added (PReLU,
bicubic interpolation): output shapes for every scale, the new ops' values and gradients against PyTorch and
finite differences, a gradcheck through a tiny SRResNet (pixel shuffle, PReLU, bicubic skip together), the models' structural promises (DnCNN
subtracts its noise estimate, the inpainting net keeps the known pixels), and the errors."""
import numpy
import pytest
from hypothesis import given, strategies as st

import scratchnet as sn
import scratchnet.nn as nn
import scratchnet.nn.functional as F
from breadth_helpers import compare, gradchecks
from conftest import load_torch, to_np
from scratchnet import backend
from scratchnet.models import dncnn, espcn, inpaint_unet, srcnn, srresnet
from scratchnet.models.restoration import push_pull


@given(seed=st.integers(0, 2**31), ndim=st.integers(1, 4), per_channel=st.booleans())
def test_prelu_matches_torch(seed, ndim, per_channel):
    t, r = load_torch(), numpy.random.default_rng(seed)
    shape = tuple(int(s) for s in r.integers(1, 4, ndim))
    c = shape[1] if per_channel and ndim >= 2 else 1   # fewer than 2 dims: one channel (PyTorch)
    # kept away from the kink at 0, where finite differences straddle two slopes
    x = r.choice([-1, 1], shape) * r.uniform(0.1, 2, shape)
    w = r.standard_normal(c)
    compare(t, F.prelu, t.nn.functional.prelu, [x, w])
    gradchecks(F.prelu, x, w)


@given(seed=st.integers(0, 2**31), h=st.integers(1, 6), w=st.integers(1, 6), how=st.sampled_from(["scale", "size"]),
       align=st.sampled_from([None, True, False]))
def test_bicubic_interpolate_matches_torch(seed, h, w, how, align):
    t, r = load_torch(), numpy.random.default_rng(seed)
    x = r.standard_normal((1, 2, h, w))
    kw = dict(scale_factor=int(r.integers(1, 4))) if how == "scale" else \
        dict(size=(int(r.integers(1, 9)), int(r.integers(1, 9))))
    fs = lambda a: F.interpolate(a, mode="bicubic", align_corners=align, **kw)  # noqa: E731
    compare(t, fs, lambda a: t.nn.functional.interpolate(a, mode="bicubic", align_corners=align, **kw), [x])
    gradchecks(fs, x)


def test_bicubic_needs_4d_input():
    with pytest.raises(ValueError, match="bicubic mode needs 4D input"):
        F.interpolate(sn.randn(1, 2, 5), scale_factor=2, mode="bicubic")


def test_prelu_gradient_at_zero_is_the_slope_as_torch(torch, device):
    x = sn.zeros(2, 3, device=device, requires_grad=True)
    m = nn.PReLU(3, init=0.3).to(device)
    m(x).sum().backward()
    xt = torch.zeros(2, 3, requires_grad=True)
    torch.nn.PReLU(3, init=0.3)(xt).sum().backward()
    numpy.testing.assert_allclose(to_np(x.grad), to_np(xt.grad), rtol=1e-6)


def test_prelu_module_state_and_errors(torch):
    assert {k: tuple(v.shape) for k, v in nn.PReLU(5).state_dict().items()} == \
        {k: tuple(v.shape) for k, v in torch.nn.PReLU(5).state_dict().items()}
    numpy.testing.assert_allclose(to_np(nn.PReLU().weight), [0.25])
    with pytest.raises(ValueError, match="4 values.*3 channels"):
        F.prelu(sn.randn(2, 3, 5), sn.randn(4))
    with pytest.raises(ValueError, match="1-D"):
        F.prelu(sn.randn(2, 3), sn.randn(3, 1))
    with pytest.raises(ValueError, match="num_parameters"):
        nn.PReLU(0)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_sr_models_upscale_by_the_scale(scale, device):
    lr = sn.rand(2, 3, 7, 5, device=device)
    for m in (espcn(scale), srresnet(scale, blocks=2, width=8), srresnet(scale, blocks=1, width=8,
                                                                        batch_norm=True)):
        assert m.to(device)(lr).shape == (2, 3, 7 * scale, 5 * scale), m
    assert srcnn().to(device)(sn.rand(2, 3, 11, 13, device=device)).shape == (2, 3, 11, 13)
    gray = srresnet(scale, blocks=1, width=4, channels=1).to(device)
    assert gray(sn.rand(1, 1, 6, 6, device=device)).shape == (1, 1, 6 * scale, 6 * scale)


def test_srresnet_gradcheck_tiny(device):
    """Finite differences through the whole network (PReLU, pixel shuffle, the global and bicubic skips)."""
    sn.manual_seed(0)
    m = srresnet(2, blocks=1, width=2, tail_kernel=3).to(device).double()
    x = sn.tensor(numpy.random.default_rng(0).uniform(0, 1, (1, 3, 3, 3)), dtype="float64", device=device,
                  requires_grad=True)
    assert sn.gradcheck(lambda a: m(a), [x])
    loss = (m(x) ** 2).mean()
    loss.backward()
    # every parameter gets a gradient: nothing in the network is cut off from the loss
    assert all(p.grad is not None and numpy.abs(to_np(p.grad)).sum() > 0 for p in m.parameters())


def test_srresnet_without_image_skip_is_zero_at_zero_tail(device):
    """The bicubic image skip is the only path from input to output when the tail's weights are zero."""
    m = srresnet(3, blocks=1, width=4).to(device)
    for p in m.tail.parameters():
        p.data[...] = 0
    x = sn.rand(1, 3, 4, 4, device=device)
    want = F.interpolate(x, scale_factor=3, mode="bicubic", align_corners=False)
    numpy.testing.assert_allclose(to_np(m(x)), to_np(want), atol=1e-6)
    m2 = srresnet(3, blocks=1, width=4, image_skip=False).to(device)
    for p in m2.tail.parameters():
        p.data[...] = 0
    numpy.testing.assert_allclose(to_np(m2(x)), 0)


def test_dncnn_returns_input_minus_noise_estimate(device):
    m = dncnn(depth=4, width=8).to(device).eval()
    x = sn.rand(2, 3, 12, 12, device=device)
    numpy.testing.assert_allclose(to_np(m(x)), to_np(x - m.body(x)), atol=1e-6)
    assert m(x).shape == x.shape
    assert sum(isinstance(l, nn.Conv2d) for l in m.body) == 4


def test_dncnn_init_keeps_the_signal_through_a_plain_relu_stack():
    """He init: without BN the features of a deep plain stack neither vanish nor blow up (PyTorch's default conv
    init shrinks them ~2.4x per layer, which left the 10-layer denoiser stuck at the noisy input), and the last
    conv starts near zero, so an untrained denoiser returns about its input."""
    sn.manual_seed(0)
    m = dncnn(depth=10, width=32, batch_norm=False)
    x = sn.tensor(numpy.random.default_rng(0).normal(0.5, 0.3, (2, 3, 32, 32)).astype(numpy.float32))
    rms, h = [], x
    for layer in m.body[:-1]:
        h = layer(h)
        if isinstance(layer, nn.ReLU):
            rms.append(float(numpy.sqrt((h.numpy() ** 2).mean())))
    assert len(rms) == 9
    assert 0.3 < rms[-1] / rms[0] < 3, rms
    assert numpy.abs(m(x).numpy() - x.numpy()).max() < 0.05
    w = m.body[2].weight.numpy()
    assert w.std() == pytest.approx(numpy.sqrt(2 / (32 * 9)), rel=0.1)


@pytest.mark.parametrize("prefill", [True, False])
def test_inpaint_unet_keeps_known_pixels_and_ignores_hole_content(device, prefill):
    sn.manual_seed(1)
    m = inpaint_unet(width=4, depth=2, prefill=prefill).to(device).eval()
    for p in m.net.head.parameters():   # an untrained net adds nothing; make it add something
        p.data[...] = backend.to_device(numpy.full(p.shape, 0.3, numpy.float32), p.device)
    r = numpy.random.default_rng(0)
    img = r.uniform(0, 1, (2, 3, 16, 16)).astype(numpy.float32)
    mask = (r.uniform(0, 1, (2, 1, 16, 16)) > 0.3).astype(numpy.float32)
    x = sn.tensor(numpy.concatenate([img, mask], 1), device=device)
    y = to_np(m(x))
    assert y.shape == (2, 3, 16, 16)
    known = numpy.broadcast_to(mask, y.shape) == 1
    numpy.testing.assert_allclose(y[known], img[known], atol=1e-6)
    assert numpy.abs(y[~known] - img[~known]).max() > 0.01
    # what lies under the holes in the input must not matter
    img2 = numpy.where(mask == 1, img, r.uniform(0, 1, img.shape)).astype(numpy.float32)
    y2 = to_np(m(sn.tensor(numpy.concatenate([img2, mask], 1), device=device)))
    numpy.testing.assert_allclose(y, y2, atol=1e-5)


@pytest.mark.parametrize("prefill", [True, False])
def test_untrained_inpaint_unet_returns_its_starting_fill(device, prefill):
    """The U-Net's last conv starts at zero: an untrained net gives the push-pull fill (prefill) or black holes,
    so any gain over the pre-fill is learned."""
    sn.manual_seed(2)
    m = inpaint_unet(width=4, depth=2, prefill=prefill).to(device).train()
    r = numpy.random.default_rng(1)
    img = sn.tensor(r.uniform(0, 1, (2, 3, 16, 16)).astype(numpy.float32), device=device)
    mask = sn.tensor((r.uniform(0, 1, (2, 1, 16, 16)) > 0.4).astype(numpy.float32), device=device)
    want = push_pull(img, mask) if prefill else img * mask
    numpy.testing.assert_allclose(to_np(m(sn.cat([img, mask], dim=1))), to_np(want), atol=1e-6)


def test_inpaint_unet_with_the_fill_in_its_input_equals_the_net_that_computes_it(device):
    """prefill='input' (the fill already in the input's holes) is prefill=True with the push-pull done outside:
    same weights, [push_pull fill, mask] in, the same output; its holes' content is what it reads."""
    sn.manual_seed(3)
    inside = inpaint_unet(width=4, depth=2, prefill=True).to(device).eval()
    given = inpaint_unet(width=4, depth=2, prefill="input").to(device).eval()
    for p in inside.net.head.parameters():
        p.data[...] = backend.to_device(numpy.full(p.shape, 0.2, numpy.float32), p.device)
    given.load_state_dict(inside.state_dict())
    r = numpy.random.default_rng(4)
    img = sn.tensor(r.uniform(0, 1, (2, 3, 16, 16)).astype(numpy.float32), device=device)
    mask = sn.tensor((r.uniform(0, 1, (2, 1, 16, 16)) > 0.4).astype(numpy.float32), device=device)
    filled = push_pull(img, mask)
    want = to_np(inside(sn.cat([img, mask], dim=1)))
    numpy.testing.assert_allclose(to_np(given(sn.cat([filled, mask], dim=1))), want, atol=1e-5)
    assert numpy.abs(to_np(given(sn.cat([img, mask], dim=1))) - want).max() > 1e-3
    with pytest.raises(ValueError, match="prefill must be True, False or 'input', got 'yes'"):
        inpaint_unet(prefill="yes")


def test_models_refuse_wrong_channels_and_bad_settings():
    with pytest.raises(ValueError, match=r"espcn\(channels=3\).*\(2, 1, 8, 8\)"):
        espcn(3)(sn.rand(2, 1, 8, 8))
    with pytest.raises(ValueError, match=r"inpaint_unet.*\(N, 4, H, W\)"):
        inpaint_unet()(sn.rand(1, 3, 16, 16))
    with pytest.raises(ValueError, match="scale"):
        srresnet(0)
    with pytest.raises(ValueError, match="depth"):
        dncnn(depth=1)
    with pytest.raises(ValueError, match="divisible"):
        inpaint_unet(width=2, depth=3)(sn.rand(1, 4, 12, 12))


def test_push_pull_fills_any_hole_from_its_surroundings(device):
    """A constant image is filled with its colour exactly, however large and oddly sized the hole; known pixels
    are kept; a hole between two colours gets values between them."""
    for h, w in [(37, 50), (16, 16), (5, 3)]:
        img = numpy.broadcast_to(numpy.array([0.2, 0.5, 0.9], numpy.float32)[:, None, None], (3, h, w)).copy()
        mask = numpy.ones((1, h, w), numpy.float32)
        mask[:, 1:h - 1, 1:w - 1] = 0          # all but a one-pixel frame is a hole
        noisy = numpy.where(mask == 1, img, 7.0)   # whatever lies in the hole must not leak in
        out = to_np(push_pull(sn.tensor(noisy[None], device=device), sn.tensor(mask[None], device=device)))[0]
        numpy.testing.assert_allclose(out, img, atol=1e-5)
    two = numpy.zeros((1, 1, 8, 20), numpy.float32)
    two[..., 10:] = 1
    mask = numpy.ones((1, 1, 8, 20), numpy.float32)
    mask[..., 4:16] = 0
    out = to_np(push_pull(sn.tensor(two, device=device), sn.tensor(mask, device=device)))
    assert out.min() >= 0 and out.max() <= 1 and out[..., 5].mean() < out[..., 14].mean()
    numpy.testing.assert_array_equal(out[mask == 1], two[mask == 1])


def test_push_pull_gradcheck(device):
    r = numpy.random.default_rng(3)
    mask = sn.tensor((r.uniform(0, 1, (1, 1, 5, 6)) > 0.5).astype(numpy.float64), dtype="float64", device=device)
    x = sn.tensor(r.uniform(0, 1, (1, 2, 5, 6)), dtype="float64", device=device, requires_grad=True)
    assert sn.gradcheck(lambda a: push_pull(a, mask), [x])
