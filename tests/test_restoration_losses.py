"""Restoration losses: the table of named losses, the L1+SSIM mix, and the perceptual loss (values written out,
finite differences, a frozen network that stays in eval mode, the shipped Fashion-MNIST features, VGG by name)."""
import numpy
import pytest

import scratchnet as sn
from scratchnet import nn
from scratchnet.apps.restoration_losses import (LOSSES, PerceptualLoss, fashion_perceptual_loss, l1_ssim_loss,
                                               restoration_loss)
from scratchnet.errors import ShapeError
from scratchnet.gradcheck import gradcheck
from scratchnet.nn import functional as F
from scratchnet.restoration_metrics import ssim_loss


def images(shape, seed, device, dtype=sn.float32, grad=False):
    a = numpy.random.default_rng(seed).random(shape)
    return sn.tensor(a, dtype=dtype, device=device, requires_grad=grad)


def test_named_losses(device):
    x, y = images((2, 3, 16, 16), 0, device), images((2, 3, 16, 16), 1, device)
    assert restoration_loss("l1")(x, y).item() == pytest.approx(numpy.abs(x.numpy() - y.numpy()).mean(), rel=1e-5)
    assert restoration_loss("l2")(x, y).item() == pytest.approx(((x.numpy() - y.numpy()) ** 2).mean(), rel=1e-5)
    mix = 0.84 * ssim_loss(x, y).item() + 0.16 * F.l1_loss(x, y).item()
    assert restoration_loss("l1+ssim")(x, y).item() == pytest.approx(mix, rel=1e-5)
    assert l1_ssim_loss(x, y, alpha=1.0).item() == pytest.approx(ssim_loss(x, y).item(), rel=1e-6)
    assert set(LOSSES) == {"l1", "l2", "ssim", "l1+ssim"}
    with pytest.raises(ValueError, match="unknown restoration loss 'lpips': choose from l1, l2, ssim, l1\\+ssim"):
        restoration_loss("lpips")


def small_net(dtype=sn.float64):
    sn.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.Tanh(), nn.Conv2d(4, 3, 3, padding=1))
    return net.to(dtype=dtype) if dtype is not None else net


def test_perceptual_loss_value_and_gradient(device):
    net = small_net().to(device)
    loss = PerceptualLoss(net, layers=[2, 3], weights=[0.5, 2.0], pixel_weight=0.1)
    x, y = images((2, 1, 6, 6), 2, device, sn.float64, True), images((2, 1, 6, 6), 3, device, sn.float64)
    net.eval()
    with sn.no_grad():
        h = [net[2](net[1](net[0](a))) for a in (x, y)]
        g = [net[3](a) for a in h]
    want = (0.5 * ((h[0] - h[1]) ** 2).mean() + 2.0 * ((g[0] - g[1]) ** 2).mean()
            + 0.1 * (x - y).abs().mean()).item()
    assert loss(x, y).item() == pytest.approx(want, rel=1e-12)
    assert gradcheck(lambda a: loss(a, y), [x])
    loss(x, y).backward()
    assert all(p.grad is None and not p.requires_grad for p in net.parameters())


def test_perceptual_network_stays_frozen_in_eval_mode(device):
    net = small_net(sn.float32).to(device)
    loss = PerceptualLoss(net, layers=[2]).train()
    assert loss.training and not net.training and not net[1].training
    before = net[1].running_mean.numpy().copy()
    loss(images((4, 1, 8, 8), 4, device), images((4, 1, 8, 8), 5, device))
    numpy.testing.assert_array_equal(net[1].running_mean.numpy(), before)   # batch norm statistics untouched


def test_fashion_perceptual_loss(device):
    loss = fashion_perceptual_loss(device=device)
    x = images((2, 1, 28, 28), 6, device, grad=True)
    assert loss(x, x.detach()).item() == pytest.approx(0.0, abs=1e-12)
    rng = numpy.random.default_rng(7)
    noise = rng.standard_normal((2, 1, 28, 28)).astype(numpy.float32)
    small = loss(x, sn.tensor(x.numpy() + 0.01 * noise, device=device)).item()
    large = loss(x, sn.tensor(x.numpy() + 0.1 * noise, device=device)).item()
    assert 0 < small < large
    loss(x, sn.tensor(x.numpy() + 0.1 * noise, device=device)).backward()
    assert x.grad is not None and x.grad.shape == x.shape and numpy.abs(x.grad.numpy()).sum() > 0


def test_perceptual_loss_on_vgg_layers_by_name(device):
    from scratchnet.models.vgg import vgg16
    net = vgg16().to(device)
    loss = PerceptualLoss(net, layers=["relu1_2"])
    x, y = images((1, 3, 16, 16), 8, device), images((1, 3, 16, 16), 9, device)
    with sn.no_grad():
        want = ((net(x, ["relu1_2"])["relu1_2"] - net(y, ["relu1_2"])["relu1_2"]) ** 2).mean().item()
    assert loss(x, y).item() == pytest.approx(want, rel=1e-5)


def test_perceptual_loss_errors():
    net = small_net()
    with pytest.raises(ValueError, match="unknown layer 9 of Sequential \\(indices 0..3\\)"):
        PerceptualLoss(net, layers=[9])
    with pytest.raises(ValueError, match="2 weights for 1 layers"):
        PerceptualLoss(net, layers=[1], weights=[1, 2])
    with pytest.raises(ShapeError, match=r"output \(1, 1, 4, 4\) and target \(1, 1, 4, 5\)"):
        PerceptualLoss(net, layers=[1])(sn.zeros(1, 1, 4, 4), sn.zeros(1, 1, 4, 5))
