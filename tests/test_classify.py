"""The classifier app: a tiny training run writes its report, resumes exactly, and refuses foreign checkpoints."""
import json
import os

import numpy
import pytest
from PIL import Image

import scratchnet as sn
from scratchnet.apps import classify
from scratchnet.cli import main

SAMPLE = os.path.join(os.path.dirname(sn.__file__), "data", "fashion_mnist_sample")


def test_tiny_training_run_writes_report(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--data", SAMPLE, "--epochs", "2", "--limit", "640", "--out", str(out)]) == 0
    for name in ("checkpoint.npz", "metrics.json", "curves.png", "confusion.png", "predictions.png"):
        assert (out / name).stat().st_size > 0, name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs"] == 2 and 0.3 < metrics["final_test_accuracy"] <= 1
    assert numpy.array(metrics["confusion"]).sum() == 1000
    assert Image.open(out / "predictions.png").size[0] > 500
    assert main(["evaluate", str(out / "checkpoint.npz"), "--data", SAMPLE]) == 0
    assert f"{metrics['final_test_accuracy']:.2%}" in capsys.readouterr().out
    img = tmp_path / "shoe.png"
    Image.fromarray((numpy.random.default_rng(0).random((40, 40, 3)) * 255).astype(numpy.uint8)).save(img)
    assert main(["predict", str(out / "checkpoint.npz"), str(img)]) == 0
    assert "shoe.png:" in capsys.readouterr().out


def test_resume_matches_uninterrupted_run(tmp_path):
    kw = dict(data=SAMPLE, batch_size=64, limit=384, progress=False, model="strong")  # dropout + batch norm
    classify.train(epochs=1, out=str(tmp_path / "part"), cosine=True, **kw)
    resumed = classify.train(epochs=2, out=str(tmp_path / "part"), resume=True, cosine=True, **kw)
    full = classify.train(epochs=2, out=str(tmp_path / "full"), cosine=True, **kw)

    def figures(history):  # everything but the wall-clock time
        return [{k: v for k, v in h.items() if k != "seconds"} for h in history]
    assert figures(resumed) == figures(full)
    a = sn.load(tmp_path / "full" / "checkpoint.npz")["model"]
    b = sn.load(tmp_path / "part" / "checkpoint.npz")["model"]
    for k in a:
        numpy.testing.assert_array_equal(a[k].numpy(), b[k].numpy())


def test_per_step_cosine_sets_every_steps_rate_and_fixes_the_epochs(tmp_path, monkeypatch):
    """cosine="step": step t of T trains at lr·(1 + cos(π·t/T))/2, over all epochs (a resumed run continues the
    same curve); the epochs may not change on resume, since T sets every step's rate."""
    seen = []
    adam_step = sn.optim.Adam.step

    def spy(self, *a, **k):
        seen.append(self.param_groups[0]["lr"])
        return adam_step(self, *a, **k)
    monkeypatch.setattr(sn.optim.Adam, "step", spy)
    kw = dict(data=SAMPLE, batch_size=64, limit=256, progress=False, lr=2e-3, cosine="step")   # 4 steps an epoch
    full = classify.train(epochs=2, out=str(tmp_path / "full"), **kw)
    t = numpy.arange(8)
    numpy.testing.assert_allclose(seen, 2e-3 * (1 + numpy.cos(numpy.pi * t / 8)) / 2, rtol=1e-12)
    assert full[-1]["lr"] == pytest.approx(2e-3 * (1 + numpy.cos(numpy.pi * 7 / 8)) / 2)
    seen.clear()
    with pytest.raises(ValueError, match="cosine must be"):
        classify.train(epochs=1, out=str(tmp_path / "bad"), **{**kw, "cosine": "batch"})
    with pytest.raises(ValueError, match="other settings: epochs 2"):
        classify.train(epochs=3, out=str(tmp_path / "full"), resume=True, **kw)
    monkeypatch.setattr(sn.optim.Adam, "step", adam_step)
    classify.train(epochs=1, out=str(tmp_path / "part"), **kw)   # the first epoch of a 1-epoch schedule...
    with pytest.raises(ValueError, match="other settings: epochs 1"):   # ...is not the first of a 2-epoch one
        classify.train(epochs=2, out=str(tmp_path / "part"), resume=True, **kw)


def test_checkpoint_of_another_model_is_refused(tmp_path, capsys):
    classify.train(model="reference", data=SAMPLE, epochs=1, limit=128, out=str(tmp_path), progress=False)
    with pytest.raises(classify.CheckpointError, match="written for model 'reference', not 'strong'"):
        classify.train(model="strong", data=SAMPLE, epochs=2, limit=128, out=str(tmp_path), resume=True,
                       progress=False)
    ck = sn.load(tmp_path / "checkpoint.npz")
    ck["model_name"] = "strong"
    sn.save(ck, tmp_path / "mislabelled.npz")
    with pytest.raises(classify.CheckpointError, match="(?s)do not fit model 'strong'.*size mismatch.*Missing key"):
        classify.load_model(tmp_path / "mislabelled.npz")
    assert main(["evaluate", str(tmp_path / "mislabelled.npz")]) == 1   # a failure at run time
    assert "do not fit model" in capsys.readouterr().err


def test_ctrl_c_leaves_a_valid_checkpoint(tmp_path):
    import signal
    import subprocess
    import sys
    import time
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "scratchnet.cli", "train", "--data", SAMPLE, "--epochs", "200",
                             "--limit", "1280", "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(
                                [os.path.dirname(os.path.dirname(sn.__file__)), os.environ.get("PYTHONPATH", "")])},
                            # a shell's background job inherits SIGINT ignored, and Python then keeps it ignored
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    while not (out / "checkpoint.npz").exists() and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)  # now somewhere in a later epoch, likely mid-step
    proc.send_signal(signal.SIGINT)
    log, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, log[-2000:]
    assert "interrupted" in log
    model, ck = classify.load_model(out / "checkpoint.npz")
    assert 1 <= ck["epoch"] < 200 and len(ck["history"]) == ck["epoch"]
    assert not [f for f in os.listdir(out) if ".tmp" in f]
