"""`scratchnet segment`: a tiny run writes every file, a run stopped at any checkpoint fault point and resumed ends
bit for bit where the uninterrupted run ends, the batch order is a pure function of (seed, step), predict takes
any image file, and bad inputs (sizes, labels, images, command-line values) get one clear line."""
import json
import os

import numpy
import pytest
from PIL import Image

import scratchnet as sn
from scratchnet import io
from checkpoint_util import assert_same_tensors
from scratchnet.apps import segment
from scratchnet.apps.resume import SettingsMismatch
from scratchnet.cli import main
from scratchnet.data.datasets import FASHION
from scratchnet.errors import ShapeError

SAMPLE = os.path.join(os.path.dirname(sn.__file__), "data", "fashion_mnist_sample")
TINY = dict(data=SAMPLE, steps=4, batch_size=4, width=4, depth=2, eval_every=2, log_every=1, train_canvases=40,
            test_canvases=8, seed=3, progress=False)
FILES = ["checkpoint.npz", "metrics.json", "curves.png", "iou.png", "confusion.png", "predictions.png"]


class Killed(BaseException):
    """Stands for a kill: no `except Exception` in the code under test can swallow it."""


def _train(out, hook=None, **kw):
    previous = io.set_fault_hook(hook)
    try:
        return segment.train(str(out), device=sn.get_default_device(), **{**TINY, **kw})
    finally:
        io.set_fault_hook(previous)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("uninterrupted")
    stages = []
    _train(out, hook=stages.append)
    return out, stages


def _same_run(a, b):
    ca, cb = sn.load(a / "checkpoint.npz"), sn.load(b / "checkpoint.npz")
    assert ca["step"] == cb["step"] and ca["history"] == cb["history"]
    assert [{k: v for k, v in e.items() if k != "seconds"} for e in ca["evals"]] == \
        [{k: v for k, v in e.items() if k != "seconds"} for e in cb["evals"]]
    assert_same_tensors(ca, cb)
    ma, mb = (json.loads((d / "metrics.json").read_text()) for d in (a, b))
    for m in (ma, mb):
        for e in m["evals"]:
            e.pop("seconds")
    assert ma == mb
    for png in FILES[2:]:
        assert (a / png).read_bytes() == (b / png).read_bytes(), png
    assert not [f for f in os.listdir(a) if ".tmp-" in f], "a temporary file was left behind"


def test_a_tiny_run_writes_every_file(reference):
    out, stages = reference
    assert sorted(os.listdir(out)) == sorted(FILES)
    for f in FILES:
        assert os.path.getsize(out / f) > 500, f
    m = json.loads((out / "metrics.json").read_text())
    assert m["step"] == 4 and [e["step"] for e in m["evals"]] == [2, 4]
    assert [h["step"] for h in m["history"]] == [1, 2, 3, 4]
    assert list(m["test"]["iou"]) == ["background"] + list(FASHION.classes)
    assert 0 <= m["test"]["pixel_accuracy"] <= 1 and m["test_canvases"] == 8
    cm = numpy.array(m["confusion"])
    assert cm.shape == (11, 11) and cm.sum() == 8 * 64 * 64
    # the scores are the confusion matrix's
    tp = cm[1, 1]
    iou = m["test"]["iou"]["T-shirt/top"]
    assert iou is None or iou == pytest.approx(tp / (cm[1].sum() + cm[:, 1].sum() - tp))
    assert all(numpy.isfinite(h["loss"]) for h in m["history"])
    assert stages.count("segment:checkpoint") == 2 and stages.count("segment:report") == 2


@pytest.mark.parametrize("n", [1, 2, 3])   # stopped after the 1st checkpoint, after its report, after the 2nd
def test_stopped_then_resumed_equals_the_uninterrupted_run(reference, tmp_path, n):
    ref, stages = reference
    points = [i for i, s in enumerate(stages) if s.startswith("segment:")]
    seen = []

    def hook(stage):
        seen.append(stage)
        if len(seen) == points[n - 1] + 1:
            raise Killed(stage)
    with pytest.raises(Killed):
        _train(tmp_path, hook)
    _train(tmp_path, resume=True)
    _same_run(tmp_path, ref)


def test_resume_with_other_settings_is_refused_unless_forced(tmp_path):
    _train(tmp_path, steps=2)
    for change in (dict(lr=1e-2), dict(width=8), dict(binary=True), dict(dice_weight=0.5), dict(steps=6)):
        name = next(iter(change))
        with pytest.raises(SettingsMismatch, match=f"other settings: {name} "):
            _train(tmp_path, resume=True, **change)
    assert sn.load(tmp_path / "checkpoint.npz")["step"] == 2
    # under a constant schedule without warm-up more steps only continue the run; a warm-up's length depends on them
    _train(tmp_path / "c", steps=2, schedule="constant", warmup=0)
    assert _train(tmp_path / "c", steps=4, schedule="constant", warmup=0, resume=True)["step"] == 4
    _train(tmp_path / "w", steps=2, schedule="constant", warmup=0.5)
    with pytest.raises(SettingsMismatch, match="other settings: steps "):
        _train(tmp_path / "w", steps=4, schedule="constant", warmup=0.5, resume=True)


def test_batch_order_is_a_pure_function_of_seed_and_step():
    n, b = 10, 3
    epochs = [numpy.concatenate([segment.batch_indices(n, s, b, 7) for s in range(e * 3, e * 3 + 3)])
              for e in range(2)]
    for order in epochs:                      # whole batches of one permutation per epoch, no repeats
        assert len(set(order.tolist())) == 9 and order.max() < n
    assert (epochs[0] != epochs[1]).any()
    numpy.testing.assert_array_equal(segment.batch_indices(n, 4, b, 7), segment.batch_indices(n, 4, b, 7))
    assert (segment.batch_indices(n, 0, b, 7) != segment.batch_indices(n, 0, b, 8)).any()


@pytest.mark.parametrize("schedule", ["cosine", "constant"])
@pytest.mark.parametrize("steps, warmup", [(40, 0.0), (40, 0.1), (7, 0.3), (1000, 0.05)])
def test_learning_rate_warms_up_linearly_then_follows_the_schedule(steps, warmup, schedule):
    s = dict(lr=0.3, steps=steps, warmup=warmup, schedule=schedule)
    lrs = numpy.array([segment.lr_at(s, t) for t in range(steps)])
    w = round(warmup * steps)
    numpy.testing.assert_allclose(lrs[:w], 0.3 * numpy.arange(1, w + 1) / max(w, 1))   # ends at the peak
    rest = lrs[w:]
    if schedule == "constant":
        numpy.testing.assert_allclose(rest, 0.3)
    else:   # the cosine starts at the peak right after the warm-up and reaches 0 one step after the last
        assert rest[0] == pytest.approx(0.3) and (numpy.diff(rest) < 0).all() and 0 < rest[-1] < 0.3 / (steps - w)
        numpy.testing.assert_allclose(rest, 0.15 * (1 + numpy.cos(numpy.pi * numpy.arange(steps - w) / (steps - w))))
    assert segment.lr_at({k: v for k, v in s.items() if k != "warmup"}, 0) == pytest.approx(0.3)  # old checkpoints


def test_unset_settings_come_from_the_tasks_recipe(tmp_path, monkeypatch):
    kw = {k: v for k, v in TINY.items() if k not in ("steps", "width", "depth", "batch_size", "eval_every")}
    for binary in (False, True):
        r = segment.RECIPES["binary" if binary else "classes"]
        monkeypatch.setitem(segment.RECIPES, "binary" if binary else "classes",
                            dict(r, steps=3, batch_size=3, eval_every=2))
        ck = segment.train(str(tmp_path / str(binary)), binary=binary, **kw)
        s = ck["settings"]
        for key in ("lr", "width", "depth", "warmup"):
            assert s[key] == r[key], key
        assert s["steps"] == 3 and s["batch_size"] == 3 and s["binary"] is binary
        assert s["eval_every"] == 2 and [e["step"] for e in ck["evals"]] == [2, 3]   # and at the end
    s = segment.train(str(tmp_path / "given"), steps=2, batch_size=2, lr=1e-3, width=4, depth=1, warmup=0.5,
                      eval_every=1, **kw)["settings"]
    assert (s["steps"], s["batch_size"], s["lr"], s["width"], s["depth"], s["warmup"], s["eval_every"]) == \
        (2, 2, 1e-3, 4, 1, 0.5, 1)
    with pytest.raises(ValueError, match="warmup must be a fraction of the steps in \\[0, 1\\), got 1"):
        segment.train(str(tmp_path / "bad"), steps=2, warmup=1, **kw)


def test_class_weights_favour_the_rare_classes():
    ds, _ = segment.datasets(SAMPLE, train_canvases=30, test_canvases=1)
    w = segment.class_weights(ds)
    counts = sum(numpy.bincount(ds[i][1].ravel(), minlength=11) for i in range(30))
    assert w.shape == (11,) and w.mean() == pytest.approx(1)
    assert w[0] == w.min() and counts[0] == counts.max()       # the background is the commonest class
    seen = counts > 0
    numpy.testing.assert_allclose(w[seen] * numpy.sqrt(counts[seen]), (w[0] * numpy.sqrt(counts[0])), rtol=1e-5)


@pytest.fixture(scope="module")
def checkpoint(reference):
    return str(reference[0] / "checkpoint.npz")


@pytest.mark.parametrize("mode, size", [("L", (64, 64)), ("RGB", (50, 30)), ("RGBA", (200, 100)), ("P", (13, 7)),
                                        ("I;16", (40, 40)), ("1", (9, 20))])
def test_predict_takes_any_size_and_mode(checkpoint, tmp_path, mode, size):
    rng = numpy.random.default_rng(0)
    img = Image.fromarray(rng.integers(0, 255, (size[1], size[0]), dtype=numpy.uint8)).convert(mode)
    path = str(tmp_path / "x.png")
    img.save(path)
    (r,) = segment.predict(checkpoint, [path], str(tmp_path), device=sn.get_default_device())
    scale = 64 / max(size)
    assert r["mask"].shape == (max(1, round(size[1] * scale)), max(1, round(size[0] * scale)))
    assert sum(r["shares"].values()) == pytest.approx(1) and os.path.getsize(r["picture"]) > 500
    (kept,) = segment.predict(checkpoint, [path], None, size=0)   # the image's own size, padded for the U-Net
    assert kept["mask"].shape == (size[1], size[0]) and "picture" not in kept


def test_predict_refuses_what_the_model_cannot_take(checkpoint, tmp_path):
    big = tmp_path / "big.png"
    Image.new("L", (1500, 20)).save(big)
    with pytest.raises(ValueError, match=r"big.png: the image is 1500×20 pixels; .* at most 1024 pixels a side"):
        segment.predict(checkpoint, [str(big)], size=0)
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG not really")
    with pytest.raises(ValueError, match="cannot read .*bad.png as an image"):
        segment.predict(checkpoint, [str(bad)])
    other = tmp_path / "other.npz"
    sn.save({"w": sn.ones(2)}, other)
    with pytest.raises(RuntimeError, match="other.npz: not a scratchnet segmentation checkpoint"):
        segment.predict(str(other), [str(big)])
    model, _ = segment.load_model(checkpoint)
    with pytest.raises(ShapeError, match=r"divisible by 2\*\*depth = 4, got input shape \(1, 1, 30, 32\)"):
        model(sn.zeros(1, 1, 30, 32))


def test_loss_refuses_mismatched_masks_and_labels_out_of_range(device):
    logits = sn.randn(2, 11, 8, 8, device=device)
    w = sn.ones(11, device=device)
    with pytest.raises(ShapeError, match=r"target of shape \(2, 8, 8\), got \(2, 8, 6\)"):
        segment.segmentation_loss(logits, sn.zeros(2, 8, 6, dtype=sn.int64, device=device), w, 1.0)
    bad = sn.full((2, 8, 8), 11, dtype=sn.int64, device=device)
    with pytest.raises(IndexError, match="out of range for 11 classes"):   # on a GPU: at the next sync point
        segment.segmentation_loss(logits, bad, w, 1.0).item()


def _cli(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("argv", [
    ["segment"], ["segment", "fit"], ["segment", "train", "--steps", "0"], ["segment", "train", "--width", "0"],
    ["segment", "train", "--depth", "7"], ["segment", "train", "--lr", "-1"], ["segment", "train", "--lr", "nan"],
    ["segment", "train", "--batch-size", "x"], ["segment", "train", "--epochs", "-2"],
    ["segment", "train", "--dice-weight", "-1"], ["segment", "train", "--schedule", "step"],
    ["segment", "train", "--warmup", "1"], ["segment", "train", "--warmup", "-0.1"],
    ["segment", "train", "--force"], ["segment", "train", "--data", "/no/such/folder"],
    ["segment", "train", "--device", "tpu"], ["segment", "evaluate", "/no/such.npz"],
    ["segment", "predict", "CK"], ["segment", "predict", "CK", "/no/such.png"],
    ["segment", "predict", "CK", "IMG", "--size", "-1"], ["segment", "predict", "CK", "IMG", "--size", "5000"],
])
def test_bad_arguments_get_one_line_and_exit_2(argv, capsys, tmp_path, checkpoint):
    Image.new("L", (8, 8)).save(tmp_path / "i.png")
    argv = [{"CK": checkpoint, "IMG": str(tmp_path / "i.png")}.get(a, a) for a in argv]
    if argv[1:2] == ["train"]:
        argv += ["--out", str(tmp_path / "out")]
    code, out, err = _cli(argv, capsys)
    assert code == 2, (code, err)
    assert len(err.splitlines()) == 1 and err.startswith("scratchnet") and "Traceback" not in err, err
    assert not (tmp_path / "out").exists()


def test_command_line_evaluate_predict_and_failures(checkpoint, tmp_path, capsys):
    code, out, err = _cli(["segment", "evaluate", checkpoint, "--data", SAMPLE, "--test-canvases", "4",
                           "-o", str(tmp_path / "ev")], capsys)
    assert code == 0, err
    assert "on 4 held-out canvases: mIoU" in out and "per-class IoU: background" in out
    assert sorted(os.listdir(tmp_path / "ev")) == sorted(FILES[1:])
    Image.new("RGB", (30, 20), "white").save(tmp_path / "shirt.jpg")
    code, out, err = _cli(["segment", "predict", checkpoint, str(tmp_path / "shirt.jpg"), "-o", str(tmp_path)],
                          capsys)
    assert code == 0, err
    assert out.startswith(f"{tmp_path / 'shirt.jpg'}: ") and os.path.exists(tmp_path / "shirt_segment.png")
    Image.new("L", (2000, 8)).save(tmp_path / "wide.png")
    code, out, err = _cli(["segment", "predict", checkpoint, str(tmp_path / "wide.png"), "--size", "0",
                           "-o", str(tmp_path)], capsys)
    assert code == 1 and len(err.splitlines()) == 1 and "at most 1024 pixels a side" in err, err


def test_evaluate_with_the_vote_reports_both_scores(checkpoint, tmp_path, capsys):
    """--vote adds the per-component vote's scores beside the raw ones (never in their place), in the output and
    in metrics.json; they are the scores of component_vote applied to the raw predicted masks."""
    from scratchnet.apps.segment_vote import component_vote
    from scratchnet.apps.segmentation_metrics import confusion_matrix
    code, out, err = _cli(["segment", "evaluate", checkpoint, "--data", SAMPLE, "--test-canvases", "6", "--vote",
                           "-o", str(tmp_path)], capsys)
    assert code == 0, err
    assert "mIoU" in out.splitlines()[0] and out.splitlines()[2].startswith("after the per-component vote: mIoU")
    m = json.loads((tmp_path / "metrics.json").read_text())
    model, ck = segment.load_model(checkpoint)
    _, test_ds = segment.datasets(SAMPLE, ck["settings"]["binary"], 0, 6)
    x, y = segment.batch_arrays(test_ds, range(6))
    with sn.no_grad():
        pred = model(sn.tensor(x)).argmax(1).numpy()
    raw = confusion_matrix(pred, y, test_ds.num_classes)
    voted = confusion_matrix(component_vote(pred, test_ds.num_classes), y, test_ds.num_classes)
    assert m["confusion"] == raw.tolist()
    want = segment.scores_from_confusion(voted)["miou_no_background"]
    assert m["test_component_vote"]["miou_no_background"] == pytest.approx(want)


def test_the_twins_loss_is_the_apps_loss(torch):
    """benchmarks/segment_twin.py must train on the app's loss: same value and gradient for the same logits."""
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks"))
    from segment_twin import torch_dice
    rng = numpy.random.default_rng(4)
    x = rng.standard_normal((2, 11, 6, 6))
    t = rng.integers(0, 11, (2, 6, 6))
    w = rng.random(11) + 0.5
    a = sn.tensor(x, dtype=sn.float64, requires_grad=True)
    ours = segment.segmentation_loss(a, sn.tensor(t), sn.tensor(w, dtype=sn.float64), 0.7)
    ours.backward()
    b = torch.tensor(x, requires_grad=True)
    ref = torch.nn.functional.cross_entropy(b, torch.tensor(t), weight=torch.tensor(w)) + \
        0.7 * torch_dice(torch, b, torch.tensor(t))
    ref.backward()
    assert ours.item() == pytest.approx(ref.item(), rel=1e-12)
    numpy.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-9, atol=1e-14)


def test_the_twin_trains_the_same_network_as_scratchnet(torch):
    """segment_twin's two workers, same recipe and batches: the same losses and held-out scores after a few steps
    (the PyTorch side is a true twin: init, BatchNorm, loss weighting, schedule and evaluation all match)."""
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks"))
    from segment_twin import worker
    settings = dict(segment.recipe(False, width=4, depth=2, batch_size=4, lr=1e-2, warmup=0.3), weight_decay=1e-2,
                    dice_weight=1.0, schedule="cosine", binary=False)
    settings.pop("steps")
    job = dict(seed=1, steps=4, data=SAMPLE, settings=settings, test_canvases=6)
    ours, ref = worker(dict(job, fw="scratchnet")), worker(dict(job, fw="torch"))
    assert ours["final_loss"] == pytest.approx(ref["final_loss"], rel=1e-4)
    assert ours["pixel_accuracy"] == pytest.approx(ref["pixel_accuracy"], abs=1e-3)
    numpy.testing.assert_allclose(numpy.array(ours["iou"], float), numpy.array(ref["iou"], float), atol=0.01)
