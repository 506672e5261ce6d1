"""`scratchnet restore`: a tiny run of each task writes every file, a run stopped at a checkpoint and resumed ends
exactly where the uninterrupted one ends, `apply` restores RGB, grey and RGBA files (with a checkpoint and with
the shipped weights) and refuses bad ones, and command-line mistakes are one line on stderr."""
import json
import os

import numpy
import pytest
from PIL import Image

import scratchnet as sn
from scratchnet import cli, io
from scratchnet.apps import restore
from scratchnet.apps.resume import SettingsMismatch
from scratchnet.apps.restore_apply import apply

TINY = dict(steps=4, pairs=32, batch_size=8, size=24, checkpoint_every=2, log_every=1, progress=False)


class Killed(BaseException):
    """Stands for a kill (not an Exception, so nothing in the code under test swallows it)."""


@pytest.fixture(scope="module")
def sr_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("sr")
    mean = restore.train("sr", "espcn", scale=3, out=str(out), **TINY)
    return out, mean


def test_tiny_sr_run_writes_every_file(sr_run):
    out, mean = sr_run
    names = set(os.listdir(out))
    test_names = restore.data.photo_names("test")
    assert {"checkpoint.npz", "history.json", "curves.png", "results.md", "results.json"} <= names
    assert {f"sr_{n}.png" for n in test_names} <= names
    res = json.loads((out / "results.json").read_text())
    assert [r["image"] for r in res["images"]] == test_names
    assert res["config"]["scale"] == 3 and res["mean"]["psnr_y"] == pytest.approx(mean["psnr_y"])
    hist = json.loads((out / "history.json").read_text())
    assert [h["step"] for h in hist["train"]] == [1, 2, 3, 4]
    assert [e["step"] for e in hist["held_out"]] == [2, 4]
    assert "| **mean** |" in (out / "results.md").read_text()
    with Image.open(out / f"sr_{test_names[0]}.png") as im:
        assert im.width > 4 * 200     # four panels side by side


@pytest.mark.parametrize("task,model", [("denoise", "dncnn"), ("inpaint", "unet")])
def test_tiny_denoise_and_inpaint_runs_write_their_files(tmp_path, task, model):
    mean = restore.train(task, model, out=str(tmp_path), **{**TINY, "steps": 2})
    for n in restore.data.photo_names("test"):
        assert (tmp_path / f"{task}_{n}.png").exists()
    assert all(numpy.isfinite(v) for v in mean.values())
    key = "psnr_holes" if task == "inpaint" else "psnr"
    assert key in json.loads((tmp_path / "results.json").read_text())["mean"]


def test_inpaint_prefill_choice_reaches_the_checkpoint_and_the_report(tmp_path, capsys):
    code, out, err = _cli(capsys, "restore", "train", "--task", "inpaint", "--no-prefill", "--loss", "l2",
                          "--steps", "1", "--pairs", "8", "--batch-size", "8", "--size", "24", "--out", tmp_path)
    assert code == 0, err
    model, config = restore.load_restorer(str(tmp_path / "checkpoint.npz"))
    assert config["kwargs"]["prefill"] is False and model.prefill is False and config["loss"] == "l2"
    assert restore.make_config("inpaint")["loss"] == "l1" and restore.make_config("denoise")["loss"] == "l2"
    with pytest.raises(ValueError, match="loss must be 'l1' or 'l2', got 'ssim'"):
        restore.make_config("inpaint", loss="ssim")
    assert restore.make_config("inpaint")["kwargs"]["prefill"] == "input"
    with pytest.raises(ValueError, match="prefill must be True, False or 'input', got 'maybe'"):
        restore.make_config("inpaint", prefill="maybe")
    assert "push-pull PSNR (holes)" in (tmp_path / "results.md").read_text()
    # an untrained pre-fill net returns the push-pull fill itself: the report's baseline column is that fill
    # (sizes divisible by 2**depth, so the reflection padding the U-Net needs adds no known pixels)
    for prefill in ("input", True):
        config = restore.make_config("inpaint", prefill=prefill)
        sn.manual_seed(0)
        truths = [restore.data.photos("test")[i].transpose(2, 0, 1)[:, :64, :96] for i in (0, 1)]
        rows, _ = restore.evaluate(restore.build(config), config, images=truths, names=["a", "b"], pictures=False)
        for r in rows:
            assert r["psnr_holes"] == pytest.approx(r["psnr_holes_prefill"], abs=1e-3)
            assert r["psnr_holes"] > r["psnr_holes_masked"]


def test_inpaint_training_input_is_what_the_app_feeds_the_network_at_test_time(tmp_path, capsys):
    """prefill 'input' (the default): the app fills the whole image before the network sees it, and the training
    pairs hold windows of the same fill of whole photos; --prefill net keeps the fill inside the network."""
    config = restore.make_config("inpaint")
    pairs = restore.training_pairs(config, 48, 4, 0)
    assert pairs.fill is restore.prefilled
    assert restore.training_pairs(restore.make_config("inpaint", prefill=True), 48, 4, 0).fill is None
    # test time: restore() gives the network [prefilled(masked, mask), mask]; an "input" net whose correction
    # is a constant 0.1 shows it: holes = fill + 0.1 exactly
    sn.manual_seed(0)
    net = restore.build(config)
    net.net.head.bias.data[...] = 0.1
    hr = restore.data.photos("test")[1].transpose(2, 0, 1)[:, :64, :64]
    masked, _, extra = restore.degrade(hr, config, 0)
    out = restore.restore(net, config, masked, extra)
    fill = restore.prefilled(masked, extra["mask"])
    holes = extra["mask"][0] == 0
    numpy.testing.assert_allclose(out[:, holes], numpy.clip(fill[:, holes] + 0.1, 0, 1), atol=1e-5)
    code, _, err = _cli(capsys, "restore", "train", "--task", "inpaint", "--prefill", "net", "--steps", "1",
                        "--pairs", "8", "--batch-size", "8", "--size", "24", "--out", tmp_path)
    assert code == 0, err
    assert restore.load_restorer(str(tmp_path / "checkpoint.npz"))[1]["kwargs"]["prefill"] is True


def test_resumed_run_equals_the_uninterrupted_one(tmp_path, sr_run):
    ref = sr_run[0]
    seen = []

    def hook(stage):
        seen.append(stage)
        if stage == "restore:checkpoint" and seen.count(stage) == 1:   # stopped right after the step-2 checkpoint
            raise Killed(stage)
    previous = io.set_fault_hook(hook)
    try:
        with pytest.raises(Killed):
            restore.train("sr", "espcn", scale=3, out=str(tmp_path), **TINY)
    finally:
        io.set_fault_hook(previous)
    assert sn.load(tmp_path / "checkpoint.npz")["step"] == 2
    restore.train("sr", "espcn", scale=3, out=str(tmp_path), resume=True, **TINY)
    a, b = sn.load(ref / "checkpoint.npz"), sn.load(tmp_path / "checkpoint.npz")
    for k in a["model"]:
        numpy.testing.assert_array_equal(a["model"][k].numpy(), b["model"][k].numpy())
    assert a["history"] == b["history"] and a["evals"] == b["evals"]
    for f in ("results.json", "history.json", "results.md", "sr_chelsea.png"):
        assert (ref / f).read_bytes() == (tmp_path / f).read_bytes(), f
    with pytest.raises(SettingsMismatch, match="lr"):
        restore.train("sr", "espcn", scale=3, out=str(tmp_path), resume=True, lr=1e-2, **TINY)


def _image(path, mode, size=(20, 14)):
    r = numpy.random.default_rng(0)
    bands = {"L": 1, "RGB": 3, "RGBA": 4}[mode]
    a = r.integers(0, 256, (size[1], size[0], bands), dtype=numpy.uint8)
    Image.fromarray(a[..., 0] if bands == 1 else a, mode).save(path)
    return str(path)


@pytest.mark.parametrize("mode", ["RGB", "L", "RGBA"])
def test_apply_with_a_checkpoint_keeps_mode_and_scales_size(sr_run, tmp_path, mode):
    src = _image(tmp_path / f"in_{mode}.png", mode)
    out, info = apply(src, str(tmp_path / "out.png"), checkpoint=str(sr_run[0] / "checkpoint.npz"))
    with Image.open(out) as im:
        assert im.size == (60, 42) and im.mode == mode
    assert info["config"]["model"] == "espcn"


def test_apply_matches_the_model_on_the_image(sr_run, tmp_path):
    """The tiled restore gives what one pass of the network over the whole image gives."""
    model, config = restore.load_restorer(str(sr_run[0] / "checkpoint.npz"))
    x = numpy.random.default_rng(1).uniform(0, 1, (3, 30, 41)).astype(numpy.float32)
    whole = numpy.clip(model(sn.tensor(x[None])).numpy()[0], 0, 1)
    numpy.testing.assert_allclose(restore.restore(model, config, x, tile=16), whole, atol=1e-5)


def test_apply_refuses_bad_inputs(sr_run, tmp_path):
    ck = str(sr_run[0] / "checkpoint.npz")
    junk = tmp_path / "notes.png"
    junk.write_text("not an image")
    with pytest.raises(ValueError, match="cannot read .*notes.png as an image"):
        apply(str(junk), str(tmp_path / "o.png"), checkpoint=ck)
    with pytest.raises(ValueError, match=r"2x2 px, smaller than the scale 3|2×2 px, smaller than the scale 3"):
        apply(_image(tmp_path / "tiny.png", "RGB", (2, 2)), str(tmp_path / "o.png"), checkpoint=ck)
    deep = tmp_path / "deep.png"
    Image.fromarray(numpy.zeros((8, 8), numpy.uint16)).save(deep)
    with pytest.raises(ValueError, match="16-bit or float"):
        apply(str(deep), str(tmp_path / "o.png"), checkpoint=ck)
    with pytest.raises(ValueError, match=r"upscales ×3, not ×2"):
        apply(_image(tmp_path / "a.png", "RGB"), str(tmp_path / "o.png"), checkpoint=ck, scale=2)
    with pytest.raises(ValueError, match="not a scratchnet restoration checkpoint"):
        sn.save({"w": sn.zeros(2)}, tmp_path / "other.npz")
        apply(_image(tmp_path / "b.png", "RGB"), str(tmp_path / "o.png"), checkpoint=str(tmp_path / "other.npz"))


def test_apply_writes_the_format_its_extension_names_and_refuses_unknown_ones(sr_run, tmp_path):
    """The file format follows -o's extension (a .webp is a WebP, not a PNG named .webp; JPEG drops the alpha);
    an extension Pillow cannot write is refused before the network runs, and nothing is written."""
    ck = str(sr_run[0] / "checkpoint.npz")
    src = _image(tmp_path / "a.png", "RGBA")
    for name, fmt, mode in [("o.webp", "WEBP", "RGBA"), ("o.jpg", "JPEG", "RGB"), ("o.tif", "TIFF", "RGBA")]:
        apply(src, str(tmp_path / name), checkpoint=ck)
        with Image.open(tmp_path / name) as im:
            assert (im.format, im.mode, im.size) == (fmt, mode, (60, 42)), name
    for name, want in [("o.txt", "extension '.txt'"), ("o", "without an extension")]:
        with pytest.raises(ValueError, match=want):
            apply(src, str(tmp_path / name), checkpoint=ck)
        assert not (tmp_path / name).exists()


def test_model_refuses_wrong_channels(sr_run):
    model, config = restore.load_restorer(str(sr_run[0] / "checkpoint.npz"))
    with pytest.raises(ValueError, match=r"channels=3.*\(1, 4, 8, 8\)"):
        restore.restore(model, config, numpy.zeros((4, 8, 8), numpy.float32))


def _cli(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_apply_and_mistakes_are_one_line(sr_run, tmp_path, capsys):
    src = _image(tmp_path / "photo.png", "RGB")
    code, out, err = _cli(capsys, "restore", "apply", src, "--checkpoint", sr_run[0] / "checkpoint.npz", "-o",
                          tmp_path / "big.png")
    assert code == 0 and "60x42" in out.replace("×", "x") and (tmp_path / "big.png").exists()
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"\x00" * 40)
    ck = sr_run[0] / "checkpoint.npz"
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    for argv, want in [(("restore", "apply", tmp_path / "missing.png"), "no such file"),
                       (("restore", "apply", tmp_path, "--checkpoint", ck), "is not a file"),
                       (("restore", "apply", junk, "--checkpoint", ck), "as an image"),
                       (("restore", "apply", empty, "--checkpoint", ck), "as an image"),
                       (("restore", "apply", _image(tmp_path / "t.png", "L", (2, 5)), "--checkpoint", ck),
                        "smaller than the scale 3"),
                       (("restore", "apply", src, "--checkpoint", ck, "-o", tmp_path / "o.txt"), "cannot write"),
                       (("restore", "apply", src, "--checkpoint", ck, "--scale", "2"), "not ×2"),
                       (("restore", "train", "--task", "colorize"), "invalid choice"),
                       (("restore", "train", "--scale", "1"), "expected a scale from 2 to 8"),
                       (("restore", "train", "--task", "denoise", "--model", "espcn", "--out", tmp_path / "x"),
                        "not a denoise model"),
                       (("restore",), "required")]:
        code, out, err = _cli(capsys, *argv)
        assert code in (1, 2), argv
        lines = err.strip().splitlines()
        assert len(lines) == 1 and want in lines[0] and "Traceback" not in err, (argv, err)


SHIPPED_SCALES = (2, 3, 4)     # tools/make_restore_weights.py --scale S, each 2000 steps


@pytest.mark.parametrize("scale", SHIPPED_SCALES)
def test_shipped_weights_beat_bicubic_on_a_held_out_photo(scale):
    """The shipped weights are a real trained network (tools/make_restore_weights.py), small enough to ship."""
    path = restore.shipped_path("sr", scale)
    assert os.path.getsize(path) < 1_000_000
    model, config = restore.load_restorer(None, "sr", scale)
    assert config["scale"] == scale
    name, lr, hr, extra = restore.held_out(config)[1]
    r = restore.score(restore.restore(model, config, lr), hr, config, extra, lr)
    assert r["psnr_y"] > r["psnr_y_bicubic"] + 0.3 and r["ssim_y"] > r["ssim_y_bicubic"], (name, r)
    with pytest.raises(ValueError, match="no shipped weights for sr x5|no shipped weights for sr ×5"):
        restore.load_restorer(None, "sr", 5)


def test_shipped_denoiser_beats_tv_on_a_held_out_photo(tmp_path, capsys):
    """The shipped σ = 25 denoiser (see README, Image restoration) is trained: on a held-out crop it beats TV
    denoising at the weight tuned on training patches (docs/restore_baselines.json) and the noisy input by far;
    `apply --task denoise` uses it and keeps the size."""
    skimage_restoration = pytest.importorskip("skimage.restoration")
    path = restore.shipped_path("denoise", None)
    assert os.path.getsize(path) < 1_000_000
    model, config = restore.load_restorer(None, "denoise")
    assert config["sigma"] == 25 and config["kwargs"]["batch_norm"] is False
    name, noisy, clean, _ = restore.held_out(config)[1]
    noisy, clean = noisy[:, 100:228, 100:228], clean[:, 100:228, 100:228]
    ours = restore.restore(model, config, noisy)
    tv = skimage_restoration.denoise_tv_chambolle(noisy.transpose(1, 2, 0).astype(numpy.float64), weight=0.08,
                                                  channel_axis=-1).transpose(2, 0, 1)
    p = {k: float(restore.M.psnr(numpy.clip(v, 0, 1), clean)) for k, v in
         dict(ours=ours, tv=tv, noisy=noisy).items()}
    assert p["ours"] > p["tv"] + 0.3 and p["ours"] > p["noisy"] + 7, (name, p)
    src = tmp_path / "noisy.png"
    Image.fromarray((numpy.clip(noisy, 0, 1).transpose(1, 2, 0) * 255 + 0.5).astype(numpy.uint8)).save(src)
    code, out, err = _cli(capsys, "restore", "apply", src, "--task", "denoise", "-o", tmp_path / "clean.png")
    assert code == 0, err
    with Image.open(tmp_path / "clean.png") as im:
        assert im.size == (128, 128)


@pytest.mark.parametrize("mode,scale", [("RGB", 3), ("L", 3)] + [("RGBA", s) for s in SHIPPED_SCALES])
def test_cli_apply_with_the_shipped_weights(tmp_path, capsys, mode, scale):
    src = _image(tmp_path / f"p_{mode}.png", mode, (31, 17))
    code, out, err = _cli(capsys, "restore", "apply", src, "--scale", scale, "-o", tmp_path / "o.png")
    assert code == 0, err
    with Image.open(tmp_path / "o.png") as im:
        assert im.size == (31 * scale, 17 * scale) and im.mode == mode


@pytest.mark.parametrize("model,kwargs", [("srresnet", dict(blocks=12, width=4, tail_kernel=9)),
                                          ("srresnet", dict(blocks=2, width=4, tail_kernel=3)), ("espcn", {})])
def test_tile_margin_covers_the_receptive_field(model, kwargs):
    """Tiled and whole-image results agree only if a tile's margin covers everything an output pixel sees: the
    input pixels with a non-zero gradient of one output pixel lie within restore.reach(config)."""
    config = dict(restore.make_config("sr", model, 2), kwargs=kwargs)
    sn.manual_seed(0)
    net = restore.build(config)
    n = 2 * restore.reach(config) + 21
    x = sn.tensor(numpy.random.default_rng(2).uniform(0, 1, (1, 3, n, n)).astype(numpy.float32), requires_grad=True)
    c = n // 2
    net(x)[0, :, 2 * c, 2 * c].sum().backward()
    ys, xs = numpy.nonzero(numpy.abs(x.grad.numpy()[0]).sum(0))
    seen = max(numpy.abs(ys - c).max(), numpy.abs(xs - c).max())
    assert 0 < seen <= restore.reach(config) and seen < c, (seen, restore.reach(config))


def test_init_starts_from_another_runs_weights_and_refuses_another_network(tmp_path, capsys):
    """--init: the network starts as the given weights (a σ = 25 denoiser starting a σ = 50 run); the optimizer
    is fresh; a file of another network is refused before training, naming the file."""
    shipped = restore.shipped_path("denoise", None)
    code, _, err = _cli(capsys, "restore", "train", "--task", "denoise", "--sigma", "50", "--init", shipped,
                        "--steps", "1", "--pairs", "8", "--batch-size", "8", "--size", "24", "--lr", "1e-12",
                        "--out", tmp_path / "a")
    assert code == 0, err
    ck, start = io.load(str(tmp_path / "a" / "checkpoint.npz")), io.load(shipped)["model"]
    assert ck["config"]["sigma"] == 50 and ck["settings"]["init"] == os.path.basename(shipped)
    for k, v in start.items():
        numpy.testing.assert_allclose(numpy.asarray(ck["model"][k]), numpy.asarray(v), atol=1e-8)
    # without --init the same run starts elsewhere (the weights above are not what any seed draws)
    restore.train("denoise", sigma=50, out=str(tmp_path / "b"), pictures=False, lr=1e-12,
                  **{**TINY, "steps": 1, "size": 24, "batch_size": 8, "pairs": 8})
    other = io.load(str(tmp_path / "b" / "checkpoint.npz"))["model"]
    assert max(float(numpy.abs(numpy.asarray(other[k]) - numpy.asarray(v)).max()) for k, v in start.items()) > 1e-2
    code, _, err = _cli(capsys, "restore", "train", "--task", "sr", "--init", shipped, "--steps", "1",
                        "--out", tmp_path / "c")
    assert code != 0 and "--init" in err and "restore_denoise.safetensors holds another network" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "c" / "checkpoint.npz").exists()


def test_inpainting_refuses_a_mask_of_another_size_or_not_binary(tmp_path):
    """The mask is checked where it enters: a file (apply --mask) and an array (restore); a grey or 0.5 mask is
    refused, not thresholded silently; known pixels come back exactly."""
    config = restore.make_config("inpaint")
    sn.manual_seed(0)
    ck = str(tmp_path / "inpaint.npz")
    sn.save({"config": config, "model": restore.build(config).state_dict()}, ck)
    src = _image(tmp_path / "photo.png", "RGB", (20, 14))
    known = numpy.full((14, 20), 255, numpy.uint8)
    known[4:9, 5:12] = 0
    Image.fromarray(known).save(tmp_path / "mask.png")
    out, _ = apply(src, str(tmp_path / "out.png"), checkpoint=ck, mask=str(tmp_path / "mask.png"))
    result, photo = numpy.asarray(Image.open(out)), numpy.asarray(Image.open(src))
    numpy.testing.assert_array_equal(result[known == 255], photo[known == 255])
    Image.fromarray(known[:, :19]).save(tmp_path / "narrow.png")
    with pytest.raises(ValueError, match=r"--mask .*narrow.png is 19×14 px but the image is 20×14 px"):
        apply(src, str(tmp_path / "o.png"), checkpoint=ck, mask=str(tmp_path / "narrow.png"))
    grey = known.copy()
    grey[0, :3] = 128
    Image.fromarray(grey).save(tmp_path / "grey.png")
    with pytest.raises(ValueError, match=r"--mask .*grey.png is not binary: 3 of its 280 pixels are grey"):
        apply(src, str(tmp_path / "o.png"), checkpoint=ck, mask=str(tmp_path / "grey.png"))
    net, _ = restore.load_restorer(ck)
    image = numpy.zeros((3, 14, 20), numpy.float32)
    with pytest.raises(ValueError, match=r"mask of shape \(1, 14, 19\) does not fit the image of shape "
                                         r"\(3, 14, 20\): expected \(1, 14, 20\)"):
        restore.restore(net, config, image, {"mask": numpy.ones((1, 14, 19), numpy.float32)})
    half = numpy.ones((1, 14, 20), numpy.float32)
    half[0, 0, 0] = 0.5
    with pytest.raises(ValueError, match=r"mask must hold only 0 \(hole\) and 1 \(known pixel\); found 1 other"):
        restore.restore(net, config, image, {"mask": half})
    with pytest.raises(ValueError, match="inpainting needs a mask"):
        restore.restore(net, config, image)
