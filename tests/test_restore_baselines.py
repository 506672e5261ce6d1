"""benchmarks/restore_baselines.py: the classical baselines score the same held-out pairs a model is scored on,
with the documented metrics, and the script writes and reads back its JSON (scikit-image, bench-only, required)."""
import json
import math
import os
import sys

import numpy
import pytest

pytest.importorskip("skimage.restoration")
pytest.importorskip("pywt")          # estimate_sigma needs PyWavelets
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks"))
rb = pytest.importorskip("restore_baselines")
skm = pytest.importorskip("skimage.metrics")
skcolor = pytest.importorskip("skimage.color")


def test_bicubic_row_is_the_pairs_input_scored_on_shaved_y():
    got = rb.baselines("sr", scale=3, names=["coins"])["bicubic"]
    ds = rb.pairs("sr", scale=3)
    i = [ds.locate(k)["image"] for k in range(len(ds))].index("coins")
    x, y = ds[i]
    ys = [skcolor.rgb2ycbcr(a.transpose(1, 2, 0).astype(numpy.float64))[3:-3, 3:-3, 0] / 255 for a in (x, y)]
    assert got["psnr_y"] == pytest.approx(skm.peak_signal_noise_ratio(ys[1], ys[0], data_range=1.0), rel=1e-9)
    assert list(got["per_image"]) == ["coins"] and 20 < got["psnr_y"] < 45 and 0 < got["ssim_y"] < 1


def test_biharmonic_keeps_known_pixels_so_hole_psnr_fixes_the_whole():
    """Known pixels are returned unchanged, so MSE(image) = MSE(holes)·(hole share), i.e.
    PSNR(image) = PSNR(holes) - 10·log10(hole share): a check that the mask and its polarity are right."""
    rows = rb.baselines("inpaint", names=["coins"])
    r = rows["biharmonic"]
    ds = rb.pairs("inpaint")
    i = [ds.locate(k)["image"] for k in range(len(ds))].index("coins")
    share = 1 - ds[i][0][-1].mean()
    assert 0.25 <= share < 0.5
    assert r["psnr"] == pytest.approx(r["psnr_holes"] - 10 * math.log10(share), rel=1e-6)
    assert "biharmonic" in rb.format_table("inpaint", rows)


def test_script_writes_and_reads_back_its_table(tmp_path, capsys):
    out = tmp_path / "b.json"
    result = rb.main(["--tasks", "sr", "--quick", "--out", str(out)])
    stored = rb.load_baselines(str(out))
    assert stored == json.loads(json.dumps(result))
    assert set(stored["photos"]["sr"]) == {"x2", "x3", "x4"} and set(stored) == {"protocol", "photos", "fashion"}
    x2, x4 = stored["photos"]["sr"]["x2"]["bicubic"]["psnr_y"], stored["photos"]["sr"]["x4"]["bicubic"]["psnr_y"]
    assert x2 > x4                                   # a larger scale loses more
    fx3 = stored["fashion"]["sr"]["x3"]["bicubic"]
    assert fx3["n"] == 20 and set(fx3) == {"psnr", "ssim", "n", "params"}
    assert "bicubic" in capsys.readouterr().out


def test_fashion_denoise_baselines_are_tuned_and_beat_the_noise():
    rows = rb.baselines("denoise", sigma=25, quick=True, fashion=5, log=lambda *a: None)
    assert rows["TV (Chambolle)"]["params"]["weight"] in rb.TV_WEIGHTS
    for method in ("TV (Chambolle)", "non-local means"):
        assert rows[method]["psnr"] > rows["noisy input"]["psnr"] + 1 and rows[method]["n"] == 5
