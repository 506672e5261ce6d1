"""`scratchnet demo`: every app runs (tiny settings here), index.html shows every picture it made, and a headless
browser decodes them all (Debian's chromium; required in CI via SCRATCHNET_REQUIRE_BROWSER=1)."""
import contextlib
import html
import io
import os
import re
import shutil
import subprocess

import pytest

from scratchnet.apps import gallery

TINY = {"cnn": dict(epochs=1, limit=300), "gan": dict(model="mlp", steps=20, lr=5e-4, ema=0.9),
        "style": dict(size=56, steps=3), "texture": dict(size=48, steps=3), "dream": dict(size=48, steps=2),
        "segment": dict(steps=2, test_canvases=4)}


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """(path of index.html, what the run printed)"""
    out = str(tmp_path_factory.mktemp("gallery"))
    mp = pytest.MonkeyPatch()
    mp.setattr(gallery, "SETTINGS", {k: dict(full=v, quick=v) for k, v in TINY.items()})
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            path = gallery.demo(out, quick=True, progress=False)
        return path, printed.getvalue()
    finally:
        mp.undo()


@pytest.fixture(scope="module")
def page(demo_run):
    return demo_run[0]


def test_every_section_reports_its_wall_and_cpu_seconds(demo_run):
    path, printed = demo_run
    with open(path, encoding="utf-8") as f:
        text = f.read()
    num = r"(\d+\.\d)"
    rows = {}
    for title, _, _ in gallery.APPS:
        assert re.search(rf"== {re.escape(title)}: {num} s wall, {num} s CPU", printed), title
        m = re.search(rf"^  {re.escape(title)} +{num} +{num}$", printed, re.M)
        assert m, title
        rows[title] = (float(m.group(1)), float(m.group(2)))
        assert re.search(rf"{re.escape(html.escape(title))} <small>\(\d+ s wall, \d+ s CPU\)</small>", text)
    total = re.search(rf"^  total +{num} +{num}$", printed, re.M)
    assert total, printed[-500:]
    # the sections add up to (at most) the total, and CPU time was really counted (training is not free)
    assert sum(w for w, _ in rows.values()) <= float(total.group(1)) + 0.5
    assert sum(c for _, c in rows.values()) <= float(total.group(2)) + 0.5
    assert rows["Classifier"][1] > 0 and float(total.group(2)) > 0
    assert re.search(r"total CPU time \(all threads\)</th><td>\d+ s", text)


def test_index_shows_every_picture(page):
    out = os.path.dirname(page)
    with open(page, encoding="utf-8") as f:
        text = f.read()
    shown = re.findall(r'<img src="([^"]+)"', text)
    assert len(shown) == 13
    for src in shown:
        assert os.path.getsize(os.path.join(out, src)) > 100, src
    for figure in ("CNN test accuracy", "GAN Fréchet distance", "style loss drop (transfer)",
                   "segmentation foreground IoU", "x3 super-resolution, PSNR-Y gain over bicubic", "total time"):
        assert figure in text
    # the run's wall time with where it ran (the line `scratchnet demo` also prints at the end)
    assert re.search(r"total time</th><td>\d+ s on (cpu \(\d+ threads\)|cuda)", text)
    # every picture the style and dream apps wrote for people to look at is on the page
    for sub in ("style", "dream"):
        strips = {f"{sub}/{f}" for f in os.listdir(os.path.join(out, sub)) if f.endswith("_strip.png")}
        assert strips <= set(shown)


def _browser():
    for name in ("chromium", "chromium-headless-shell", "google-chrome", "chrome"):
        if shutil.which(name):
            return shutil.which(name)
    if os.environ.get("SCRATCHNET_REQUIRE_BROWSER"):
        pytest.fail("no chromium found (apt-get install chromium) but SCRATCHNET_REQUIRE_BROWSER is set")
    pytest.skip("no headless browser installed (apt-get install chromium)")


def test_headless_browser_decodes_every_image(page, tmp_path):
    browser = _browser()
    flags = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             f"--user-data-dir={tmp_path / 'profile'}"]
    url = "file://" + os.path.abspath(page)
    dom = subprocess.run(flags + ["--virtual-time-budget=5000", "--dump-dom", url], capture_output=True, text=True,
                         timeout=120).stdout
    with open(page, encoding="utf-8") as f:
        n = len(re.findall(r'<img src="', f.read()))
    assert n >= 13 and f'data-images-loaded="{n}/{n}"' in dom, dom[-500:]
    shot = tmp_path / "shot.png"
    subprocess.run(flags + ["--window-size=1200,3000", f"--screenshot={shot}", url], capture_output=True,
                   timeout=120)
    assert os.path.getsize(shot) > 20_000
