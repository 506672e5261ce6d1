"""DeepDream: objectives, the ascent actually raising them on every network, reproducibility, files and errors."""
import os

import numpy
import pytest

from scratchnet import cli
from scratchnet.apps.dream import dream, dream_net, objective_value, parse_objective


def test_parse_objective():
    assert parse_objective("block3") == ("block3", None, "block3 mean square")
    assert parse_objective("block2:3,17")[:2] == ("block2", [3, 17])
    assert parse_objective("class:sneaker")[:2] == ("logits", [7])
    assert parse_objective("class:ankle boot")[:2] == ("logits", [9])
    with pytest.raises(ValueError, match="unknown class 'hat'"):
        parse_objective("class:hat")
    with pytest.raises(ValueError, match="channels must be integers"):
        parse_objective("block2:a,b")


@pytest.mark.parametrize("objective", ["block3", "block2:3,17", "class:trouser"])
def test_dream_raises_its_objective(tmp_path, device, objective):
    r = dream("chelsea", out=str(tmp_path), objective=objective, size=48, octaves=2, steps=4, jitter=4,
              device=device, progress=False)
    assert r["objective_end"] > r["objective_start"]
    assert r["image"].shape[1:] == (3, 32, 48)
    assert 0 <= float(r["image"].min().item()) and float(r["image"].max().item()) <= 1
    assert os.path.getsize(r["result"]) > 100 and os.path.getsize(r["strip"]) > 100


def test_dream_is_reproducible_and_the_jitter_matters(device):
    kw = dict(size=40, octaves=2, steps=3, device=device, progress=False)
    a, b = dream("coffee", seed=1, **kw), dream("coffee", seed=1, **kw)
    c = dream("coffee", seed=2, **kw)
    numpy.testing.assert_array_equal(a["image"].numpy(), b["image"].numpy())
    assert not numpy.array_equal(a["image"].numpy(), c["image"].numpy())


@pytest.mark.parametrize("net, objective", [("bank", "L1_k5"), ("vgg19", "relu3_1")])
def test_other_networks(device, net, objective):
    r = dream("rocket", net=net, objective=objective, size=80, octaves=2, steps=2, device=device, progress=False)
    assert r["objective_end"] > r["objective_start"]


def test_errors(device, capsys):
    with pytest.raises(ValueError, match="has no layer 'block9'; choose from block1, block2, block3, logits"):
        dream("chelsea", objective="block9", size=32, octaves=1, steps=1, progress=False)
    net = dream_net("fashion", device=device)
    act = net(__import__("scratchnet").rand(1, 3, 28, 28, device=device), "block1")
    with pytest.raises(ValueError, match=r"channel\(s\) \[40\] out of range for a layer with 32 channels"):
        objective_value(act, [40])
    with pytest.raises(ValueError, match="unknown dream network"):
        dream_net("alexnet")
    assert cli.main(["dream", "chelsea", "--objective", "class:hat"]) == 2
    assert "unknown class 'hat'" in capsys.readouterr().err


def test_dream_step_keeps_the_image_dtype(device):
    """A float64 image is stepped in float64 (the gradient was once taken on a float32 copy): the step equals
    x + lr·g/mean|g| computed from the float64 gradient, to float64 round-off."""
    import scratchnet as sn
    from scratchnet.apps.dream import DreamNet, dream_step
    sn.manual_seed(0)
    conv = sn.nn.Conv2d(3, 2, 3, padding=1).double().to(device)
    conv.requires_grad_(False)
    net = DreamNet("tiny", lambda x, layer: conv(x), ["conv"], gray=False)
    x0 = numpy.random.default_rng(0).uniform(0.3, 0.7, (1, 3, 6, 6))
    x = sn.tensor(x0, dtype=sn.float64, device=device)
    dream_step(net, x, "conv", None, 0.01, (0, 0))
    xt = sn.tensor(x0, dtype=sn.float64, device=device, requires_grad=True)
    (g,) = sn.autograd.grad(objective_value(conv(xt), None), [xt])
    g = g.numpy()
    assert x.dtype == sn.float64
    numpy.testing.assert_allclose(x.numpy(), x0 + 0.01 * g / (numpy.abs(g).mean() + 1e-8), rtol=0, atol=1e-14)
