"""scratchnet.models.unet: shapes for every depth and upsampler, gradients reach every parameter, equals PyTorch, errors."""
import os
import sys

import numpy
import pytest

import scratchnet as sn
from scratchnet.errors import ShapeError
from scratchnet.models import UNet, unet

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks"))
from segment_twin import torch_unet  # noqa: E402  (the twin's PyTorch U-Net, same module names)


@pytest.mark.parametrize("depth, up, size", [(1, "transpose", (6, 10)), (2, "bilinear", (8, 12)),
                                             (3, "transpose", (16, 8))])
def test_output_shape_and_every_parameter_gets_a_gradient(device, depth, up, size):
    sn.manual_seed(0)
    model = unet(in_channels=2, num_classes=5, width=4, depth=depth, up=up).to(device)
    x = sn.randn(3, 2, *size, device=device)
    y = model(x)
    assert tuple(y.shape) == (3, 5, *size) and str(y.dtype) == "float32"
    target = sn.tensor(numpy.random.default_rng(0).integers(0, 5, (3, *size)), device=device)
    sn.nn.functional.cross_entropy(y, target).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        g = p.grad.numpy()
        assert numpy.isfinite(g).all() and numpy.abs(g).max() > 0, name


@pytest.mark.parametrize("up", ["transpose", "bilinear"])
def test_forward_and_gradients_equal_pytorch(torch, device, up):
    torch.set_default_dtype(torch.float32)
    ref = torch_unet(torch, 1, 11, 4, 2, up)
    model = unet(1, 11, width=4, depth=2, up=up)
    assert list(model.state_dict()) == list(ref.state_dict())
    model.load_state_dict({k: v.numpy() for k, v in ref.state_dict().items()})
    model = model.to(device)
    rng = numpy.random.default_rng(2)
    x = rng.random((2, 1, 16, 16)).astype(numpy.float32)
    t = rng.integers(0, 11, (2, 16, 16))
    ours = model(sn.tensor(x, device=device))
    theirs = ref(torch.tensor(x))
    numpy.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-4, atol=1e-4)
    sn.nn.functional.cross_entropy(ours, sn.tensor(t, device=device)).backward()
    torch.nn.functional.cross_entropy(theirs, torch.tensor(t)).backward()
    mine = dict(model.named_parameters())
    for name, p in ref.named_parameters():
        numpy.testing.assert_allclose(mine[name].grad.numpy(), p.grad.numpy(), rtol=1e-3, atol=1e-5, err_msg=name)


def test_bad_inputs_and_arguments():
    model = unet(width=4, depth=3)
    with pytest.raises(ShapeError, match=r"divisible by 2\*\*depth = 8, got input shape \(1, 1, 20, 16\)"):
        model(sn.zeros(1, 1, 20, 16))
    with pytest.raises(RuntimeError, match=r"unet\(in_channels=1\) got input of shape \(1, 3, 16, 16\)"):
        model(sn.zeros(1, 3, 16, 16))
    with pytest.raises(ShapeError, match=r"expected \(N, 1, H, W\)"):
        model(sn.zeros(1, 16, 16))
    with pytest.raises(ValueError, match="up must be 'transpose' or 'bilinear', got 'nearest'"):
        unet(up="nearest")
    with pytest.raises(ValueError, match="depth must be an integer >= 1, got 0"):
        unet(depth=0)
    with pytest.raises(ValueError, match="width must be an integer >= 1"):
        UNet(width=2.5)
