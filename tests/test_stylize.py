"""Style transfer and texture synthesis: the filter bank, the optimiser (with its Adam fallback), colour
preservation, the files written, the CLI's errors, and (slow) the 90% style-loss drop at the default settings."""
import json
import os

import numpy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import scratchnet as sn
import scratchnet.testing as T
from scratchnet import cli
from scratchnet.apps import images
from scratchnet.apps.stylize import StyleLoss, feature_net, stylize, synthesize
from scratchnet.models import FilterBank


def test_filter_bank_is_regenerated_from_its_seed(device):
    a, b, c = FilterBank(seed=0), FilterBank(seed=0), FilterBank(seed=1)
    numpy.testing.assert_array_equal(a.w7.numpy(), b.w7.numpy())
    assert not numpy.allclose(a.w7.numpy(), c.w7.numpy())
    assert abs(a.w9.numpy().sum(axis=(1, 2, 3))).max() < 1e-5           # zero-mean filters
    assert a.state_dict() == {}                                          # nothing to save: the seed is the weights
    out = a.to(device)(sn.rand(1, 3, 64, 48, device=device))
    assert list(out) == a.layer_names and len(out) == 16
    assert out["L0_k3"].shape == (1, 64, 64, 48) and out["L3_k9"].shape == (1, 64, 8, 6)
    assert min(float(v.min().item()) for v in out.values()) >= 0         # ReLU
    with pytest.raises(ValueError, match=r"FilterBank: image 20x20 is too small .* need at least 33 px"):
        a(sn.rand(1, 3, 20, 20, device=device))
    with pytest.raises(ValueError, match=r"FilterBank: input must be \(N, 3, H, W\), got \(1, 1, 40, 40\)"):
        a(sn.rand(1, 1, 40, 40, device=device))


def test_style_loss_is_zero_at_the_style_image(device):
    net = feature_net("bank", device=device)
    s = images.load_image("gravel", 64, device)
    total, parts = StyleLoss(net, s, s)(s)
    assert parts["style"].item() < 1e-10 and parts["content"].item() < 1e-10
    assert abs(parts["tv"].item() - 1) < 1e-6                            # TV relative to the style's own


def test_transfer_writes_its_files_and_lowers_the_style_loss(tmp_path, device):
    r = stylize("chelsea", "immunohistochemistry", out=str(tmp_path), size=64, steps=20, device=device,
                progress=False)
    assert r["optimizer"] == "lbfgs" and r["size"] == [43, 64]
    assert r["style_loss_end"] < 0.3 * r["style_loss_start"]
    for name in ("stylized.png", "stylized_strip.png", "stylized_loss.png", "stylized.json"):
        assert os.path.getsize(tmp_path / name) > 100
    with open(tmp_path / "stylized.json") as f:
        assert json.load(f)["style_loss_drop"] == pytest.approx(r["style_loss_drop"])
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".")]   # no temp files left behind


def test_seeded_texture_runs_repeat(device):
    runs = [stylize(None, "brick", texture=True, size=48, steps=6, seed=3, device=device, progress=False)
            for _ in range(2)]
    numpy.testing.assert_array_equal(runs[0]["image"].numpy(), runs[1]["image"].numpy())
    assert runs[0]["style_loss_end"] < runs[0]["style_loss_start"]


def test_lbfgs_stall_falls_back_to_adam(device):
    x0 = sn.full((1, 3, 8, 8), 0.5, device=device)
    calls = []

    def flat_then_bowl(x):          # flat at the start (L-BFGS makes no progress), a bowl for Adam afterwards
        calls.append(1)
        loss = ((x - 0.2) ** 2).mean() * (0.0 if len(calls) <= 6 else 1.0) + 1.0
        return loss, {"style": loss}
    img, history, used = synthesize(flat_then_bowl, x0, steps=30, progress=False)
    assert used == "adam"
    assert history[-1]["total"] < history[7]["total"]
    with pytest.raises(ValueError, match="optimizer must be 'lbfgs' or 'adam'"):
        synthesize(flat_then_bowl, x0, optimizer="sgd", progress=False)


def test_preserve_color_keeps_luminance_and_content_chroma(device):
    rng = numpy.random.default_rng(0)
    res = sn.tensor(rng.uniform(0.3, 0.7, (1, 3, 5, 6)), device=device)
    con = sn.tensor(rng.uniform(0.3, 0.7, (1, 3, 5, 6)), device=device)
    out = images.preserve_color(res, con).numpy().reshape(3, -1)
    yiq = images._YIQ
    numpy.testing.assert_allclose((yiq @ out)[0], (yiq @ res.numpy().reshape(3, -1))[0], atol=1e-5)
    numpy.testing.assert_allclose((yiq @ out)[1:], (yiq @ con.numpy().reshape(3, -1))[1:], atol=1e-5)
    with pytest.raises(ValueError, match="preserve_color: result .* and content .* differ"):
        images.preserve_color(res, con[:, :, :4])


def test_image_errors(tmp_path):
    with pytest.raises(ValueError, match="no bundled image 'mona'"):
        images.load_image("mona")
    with pytest.raises(FileNotFoundError, match="image file not found"):
        images.load_image(str(tmp_path / "missing.png"))
    (tmp_path / "text.png").write_text("not an image")
    with pytest.raises(ValueError, match="cannot read .*text.png as an image"):
        images.load_image(str(tmp_path / "text.png"))
    assert images.load_image("rocket", 32).shape == (1, 3, 21, 32)


def test_cli_style_and_its_errors(tmp_path, capsys):
    assert cli.main(["style", "--texture", "gravel", "-o", str(tmp_path), "--size", "48", "--steps", "3"]) == 0
    assert os.path.exists(tmp_path / "texture_strip.png")
    assert cli.main(["style", "chelsea", "-o", str(tmp_path)]) == 2
    assert "give CONTENT STYLE" in capsys.readouterr().err
    assert cli.main(["style", "chelsea", "gravel", "--size", "20", "-o", str(tmp_path)]) == 1   # found at run time
    assert "smaller than the 33 px this network needs" in capsys.readouterr().err
    assert cli.main(["style", "chelsea", "gravel", "--net", "vgg19", "--weights", str(tmp_path / "no.safetensors"),
                     "-o", str(tmp_path)]) == 2
    assert "no.safetensors" in capsys.readouterr().err


def test_vgg_path_runs_with_stand_in_weights(tmp_path, device):
    r = stylize("chelsea", "immunohistochemistry", net="vgg19", size=56, steps=3, device=device, progress=False)
    assert r["style_loss_end"] < r["style_loss_start"]


@pytest.mark.slow
def test_default_transfer_and_texture_drop_style_loss_by_90_percent(tmp_path):
    for kw in (dict(content="chelsea"), dict(content=None, texture=True)):
        r = stylize(style="immunohistochemistry" if not kw.get("texture") else "gravel", out=str(tmp_path),
                    progress=False, **kw)
        print(f"{'texture' if kw.get('texture') else 'transfer'}: style loss {r['style_loss_start']:.4g} -> "
              f"{r['style_loss_end']:.4g} ({r['style_loss_drop']:.1%}) in {r['seconds']} s")
        assert r["style_loss_drop"] >= 0.90


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_mode_seeking_gradcheck(data):
    from scratchnet.apps.gan_losses import mode_seeking
    shape = (2, 1, 3, 3)
    a, b = (sn.tensor(data.draw(T.distinct_arrays(shape)), dtype="float64", requires_grad=True) for _ in range(2))
    za, zb = (sn.tensor(data.draw(T.arrays((2, 4))), dtype="float64") for _ in range(2))
    if numpy.abs(a.numpy() - b.numpy()).min() < 0.05 or numpy.abs(za.numpy() - zb.numpy()).mean() < 0.1:
        return   # |·| has a kink at 0 and the ratio's denominator must not vanish
    assert sn.gradcheck(lambda p, q: mode_seeking(p, q, za, zb, 0.1), [a, b])
