"""VGG16/19 in torchvision's layout: layer indices, weight loading (.safetensors/.npz), clear errors for bad files,
and the forward pass equal to PyTorch's on the same weights."""
import os
import subprocess
import sys

import numpy
import pytest

import scratchnet as sn
from scratchnet.models import WeightsError, vgg16, vgg19
from scratchnet.models.vgg import CONFIGS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_torchvision_layout():
    m19, m16 = vgg19(), vgg16()
    assert len(m19.features) == 37 and len(m16.features) == 31          # torchvision's features lengths
    assert [m19.layer_index[n] for n in ("conv1_1", "relu1_1", "pool1", "relu3_4", "relu4_2", "relu5_1", "pool5")] \
        == [0, 1, 4, 17, 22, 29, 36]
    assert [m16.layer_index[n] for n in ("relu3_3", "pool3", "relu5_3")] == [15, 16, 29]
    keys = list(m19.state_dict())
    assert keys[:4] == ["features.0.weight", "features.0.bias", "features.2.weight", "features.2.bias"]
    assert len(keys) == 32 and keys[-1] == "features.34.bias"
    assert isinstance(vgg19(pool="avg").features[4], sn.nn.AvgPool2d)


def _random_state(model, seed=0):
    rng = numpy.random.default_rng(seed)
    return {k: (rng.standard_normal(v.shape) * (0.05 if k.endswith("weight") else 0.01)).astype(numpy.float32)
            for k, v in model.state_dict().items()}


@pytest.mark.parametrize("ext", ["safetensors", "npz"])
def test_load_pretrained_roundtrip(tmp_path, ext):
    state = _random_state(vgg16())
    path = str(tmp_path / f"w.{ext}")
    sn.save(dict(state, **{"classifier.0.weight": numpy.zeros((2, 3), numpy.float32)}), path)   # ignored
    m = vgg16(weights=path)
    for k, v in m.state_dict().items():
        numpy.testing.assert_array_equal(v.numpy(), state[k])


def test_bad_weight_files(tmp_path):
    state = _random_state(vgg19())
    good = str(tmp_path / "good.safetensors")
    sn.save(state, good)
    truncated = str(tmp_path / "truncated.safetensors")
    with open(good, "rb") as f, open(truncated, "wb") as g:
        g.write(f.read()[: os.path.getsize(good) // 2])
    with pytest.raises(WeightsError, match="truncated.safetensors"):
        vgg19(weights=truncated)
    renamed = dict(state)
    renamed["features.99.weight"] = renamed.pop("features.0.weight")
    sn.save(renamed, str(tmp_path / "renamed.npz"))
    with pytest.raises(WeightsError, match=r"missing keys: features\.0\.weight.*unexpected keys: features\.99"):
        vgg19(weights=str(tmp_path / "renamed.npz"))
    gray = dict(state, **{"features.0.weight": state["features.0.weight"][:, :1]})
    sn.save(gray, str(tmp_path / "gray.safetensors"))
    with pytest.raises(WeightsError, match=r"wrong shapes: features\.0\.weight: file \(64, 1, 3, 3\), model "
                                           r"\(64, 3, 3, 3\)"):
        vgg19(weights=str(tmp_path / "gray.safetensors"))
    with pytest.raises(WeightsError, match="unexpected keys: features.16.weight"):
        vgg16(weights=good)                                  # VGG19 weights offered to a VGG16
    with pytest.raises(WeightsError, match="missing keys"):
        sn.save({"features.0.weight": state["features.0.weight"]}, str(tmp_path / "part.safetensors"))
        vgg19(weights=str(tmp_path / "part.safetensors"))


def test_unknown_layer_and_bad_input():
    m = vgg16()
    with pytest.raises(ValueError, match="unknown layer.*relu3_4"):
        m(sn.zeros(1, 3, 32, 32), layers=("relu3_4",))
    with pytest.raises(ValueError, match=r"VGG: input must be \(N, 3, H, W\).*\(1, 1, 32, 32\)"):
        m(sn.zeros(1, 1, 32, 32))
    with pytest.raises(ValueError, match="pool must be"):
        vgg19(pool="min")


def _torch_vgg(torch, config, pool):
    layers, cin = [], 3
    for v in config:
        if v == "M":
            layers.append(torch.nn.MaxPool2d(2, 2) if pool == "max" else torch.nn.AvgPool2d(2, 2))
        else:
            layers += [torch.nn.Conv2d(cin, v, 3, padding=1), torch.nn.ReLU()]
            cin = v
    return torch.nn.Sequential(*layers)


@pytest.mark.parametrize("pool", ["max", "avg"])
def test_forward_equals_pytorch(torch, tmp_path, device, pool):
    torch.set_default_dtype(torch.float32)
    ref = _torch_vgg(torch, CONFIGS["vgg19"], pool)
    path = str(tmp_path / "vgg19.safetensors")
    sn.save({f"features.{k}": v.numpy() for k, v in ref.state_dict().items()}, path)
    model = vgg19(pool=pool, weights=path).to(device)
    x = numpy.random.default_rng(1).random((2, 3, 48, 40)).astype(numpy.float32)
    names = ("relu1_1", "relu2_1", "relu3_1", "relu4_2", "relu5_1")
    ours = model(sn.tensor(x, device=device), layers=names)
    mean = torch.tensor([0.485, 0.456, 0.406]).reshape(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).reshape(1, 3, 1, 1)
    with torch.no_grad():
        h, theirs = (torch.tensor(x) - mean) / std, {}
        for i, layer in enumerate(ref):
            h = layer(h)
            theirs.update({n: h.numpy() for n in names if model.layer_index[n] == i})
    for n in names:
        numpy.testing.assert_allclose(ours[n].numpy(), theirs[n], rtol=1e-4, atol=1e-5 * abs(theirs[n]).max(),
                                      err_msg=n)


def test_converter_script(torch, tmp_path):
    torch.set_default_dtype(torch.float32)
    ref = torch.nn.Module()
    ref.features = _torch_vgg(torch, CONFIGS["vgg16"], "max")
    ref.classifier = torch.nn.Linear(4, 2)
    pth = str(tmp_path / "vgg16.pth")
    torch.save(ref.state_dict(), pth)
    out = str(tmp_path / "vgg16.safetensors")
    r = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "convert_torch_weights.py"), pth, out],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    m = vgg16(weights=out)
    numpy.testing.assert_array_equal(m.features[0].weight.numpy(), ref.features[0].weight.detach().numpy())
