"""The apps' charts (matplotlib, Agg, written atomically) and progress bars (tqdm)."""
import io
import os
import subprocess
import sys

import numpy
import pytest
from PIL import Image

from scratchnet.apps import plots
from scratchnet.apps.progress import Progress


def _png(path):
    with Image.open(path) as im:
        assert im.format == "PNG"
        return numpy.asarray(im.convert("RGB"))


def test_charts_are_pngs_with_content(tmp_path):
    a = _png(plots.line_charts(str(tmp_path / "c.png"), [
        dict(title="loss", ylabel="nats", x=[1, 2, 3], series={"train": [0.6, 0.4, 0.3], "test": [0.5, 0.4, 0.35]}),
        ("accuracy", {"test": [80, 85, 88]}, "%")]))
    b = _png(plots.bar_chart(str(tmp_path / "b.png"), "step", ["batch 64", "batch 256"],
                             {"scratchnet": [20, 80], "torch": [18, 70]}, ylabel="ms"))
    m = numpy.arange(9).reshape(3, 3)
    c = _png(plots.confusion_image(str(tmp_path / "m.png"), m, ["a", "b", "c"]))
    for img in (a, b, c):
        assert img.shape[0] > 200 and img.shape[1] > 300
        assert (img < 128).any() and (img > 250).any(), "a chart has dark ink on a light background"
    assert a.shape[1] > 1.5 * a.shape[0], "two panels side by side"
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".")], "no temporary file left behind"


def test_log_scale_only_when_values_span_decades():
    assert plots.spans_decades([2.0, 0.01])
    assert not plots.spans_decades([2.0, 0.5])
    assert not plots.spans_decades([1.0, -3.0, 1000.0]), "non-positive values cannot be on a log scale"
    assert not plots.spans_decades([])


def test_drawing_leaves_the_users_matplotlib_alone(tmp_path):
    # (reading every rcParam would resolve the backend and import pyplot itself, so only the fonts are compared)
    code = ("import matplotlib, sys; keys = [k for k in matplotlib.rcParams if 'size' in k];"
            "before = {k: matplotlib.rcParams[k] for k in keys};"
            "from scratchnet.apps import plots;"
            f"plots.line_chart({str(tmp_path / 'x.png')!r}, 't', {{'a': [1, 2]}});"
            "assert {k: matplotlib.rcParams[k] for k in keys} == before, 'rcParams changed';"
            "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'; print('ok')")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "ok" in r.stdout, r.stderr


def test_progress_is_quiet_off_a_terminal_unless_asked(monkeypatch):
    monkeypatch.delenv("SCRATCHNET_PROGRESS", raising=False)
    quiet = io.StringIO()
    p = Progress(10, "epoch 1/1", stream=quiet)
    p.update(5, 320, loss=0.5, acc=0.8)
    p.close()
    assert quiet.getvalue() == ""
    shown = io.StringIO()
    p = Progress(10, "epoch 1/1", stream=shown, enabled=True)
    p.update(5, 320, loss=0.5, acc=0.8)
    p.update(10, 640, loss=0.25, acc=0.9)
    p.close()
    text = shown.getvalue()
    assert "epoch 1/1" in text and "10/10" in text and "loss=0.2500" in text and "img/s" in text
    monkeypatch.setenv("SCRATCHNET_PROGRESS", "1")
    forced = io.StringIO()
    Progress(4, "x", stream=forced).update(4, 4, objective=1.0)
    assert "objective=1.0000" in forced.getvalue()


@pytest.mark.parametrize("stream_is_tty", [True, False])
def test_progress_default_follows_the_terminal(monkeypatch, stream_is_tty):
    monkeypatch.delenv("SCRATCHNET_PROGRESS", raising=False)

    class Stream(io.StringIO):
        def isatty(self):
            return stream_is_tty
    s = Stream()
    p = Progress(3, "run", stream=s)
    p.update(3, 3)
    p.close()
    assert bool(s.getvalue()) == stream_is_tty
