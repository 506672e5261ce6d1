"""`scratchnet bench` run tiny: it must write the table, bench.json and bench.png, say why absent rows are absent,
and count FLOPs right. (Timings are not checked: they depend on the machine.)"""
import json
import os
import subprocess
import sys

from PIL import Image

from scratchnet import bench

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ["--only", "cnn_step", "max_pool2d", "matmul", "--batches", "4", "8", "--repeat", "2", "--quick"]


def _bench(tmp_path, extra_env=None, frameworks=("scratchnet",)):
    env = dict(os.environ, **(extra_env or {}))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [env.get("PYTHONPATH"), ROOT]))
    out = tmp_path / "bench"
    r = subprocess.run([sys.executable, "-m", "scratchnet.cli", "bench", "--out", str(out), *TINY, "--frameworks",
                        *frameworks], env=env, capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout, json.loads((out / "bench.json").read_text()), out / "bench.png"


def _check_outputs(stdout, report, png, devices):
    keys = ["cnn_step batch=4", "cnn_step batch=8", "max_pool2d", "matmul n=1024"]
    rows = {(r["workload"], r["device"]): r for r in report["rows"]}
    for dev in devices:
        for k in keys:
            r = rows[(k, dev)]
            assert "error" not in r, r
            assert r["calls"] == 2 and r["cold_ms"] > 0 and r["p25_ms"] <= r["median_ms"] <= r["p75_ms"], r
            assert f"{k}" in stdout
        assert rows[("cnn_step batch=8", dev)]["images_per_s"] > 0 and rows[("max_pool2d", dev)]["gflops"] is None
        assert 0 < rows[("matmul n=1024", dev)]["pct_peak"] <= 100
    meta = report["metadata"]
    assert meta["numpy"] and meta["scratchnet"] and meta["blas"]
    with Image.open(png) as im:
        assert im.format == "PNG" and im.size[0] > 600 and im.size[1] > 300
    return rows


def test_bench_cpu_writes_table_json_png_and_says_why_gpu_rows_are_absent(tmp_path):
    stdout, report, png = _bench(tmp_path)
    _check_outputs(stdout, report, png, ["cpu"])
    assert "median ms" in stdout and "% peak" in stdout
    why = {(a["framework"], a["device"]): a["why"] for a in report["absent"]}
    assert why[("torch", "cpu")] and ("scratchnet", "cuda") in why   # no GPU in this run: the row says why
    assert f"absent: scratchnet on cuda: {why[('scratchnet', 'cuda')]}" in stdout


def test_bench_gpu_rows_on_the_standin(tmp_path):
    # the GPU path of the command (CUDA-event timing, one process per device, GPU metadata) on the CuPy stand-in
    env = {"PYTHONPATH": os.path.join(ROOT, "tests", "cupy_standin"), "SCRATCHNET_BENCH_STANDIN": "1"}
    stdout, report, png = _bench(tmp_path, env)
    _check_outputs(stdout, report, png, ["cpu", "cuda:0", "cuda:1"])
    assert report["metadata"]["gpus"]["cuda:1"] and report["metadata"]["cupy"]


def test_counted_flops():
    assert bench.flops({"name": "matmul", "n": 10}) == 2000
    one, four = bench.flops({"name": "cnn_step", "batch": 1}), bench.flops({"name": "cnn_step", "batch": 4})
    assert four == 4 * one
    # reference CNN forward: 2·(26²·32·9 + 11²·64·32·9 + 1600·128 + 128·10) FLOPs per image, ×3 for the step
    assert one == 3 * 2 * (26 * 26 * 32 * 9 + 11 * 11 * 64 * 32 * 9 + 1600 * 128 + 1280)
    assert bench.flops({"name": "conv2d", "x": (2, 3, 5, 5), "w": (4, 3, 3, 3)}) == 3 * 2 * 2 * 4 * 3 * 9 * 25
    assert bench.flops({"name": "max_pool2d", "x": (2, 3, 4, 4)}) is None
    # VGG19 to conv5_1 at 32 px: conv MACs by hand (3×3 convs, size halves after each block) plus 5 Gram matrices
    convs = [(3, 64, 32), (64, 64, 32), (64, 128, 16), (128, 128, 16)] + [(256 if i else 128, 256, 8) for i in
                                                                          range(4)] + \
        [(512 if i else 256, 512, 4) for i in range(4)] + [(512, 512, 2)]
    macs = sum(ci * co * 9 * s * s for ci, co, s in convs)
    grams = 64 * 64 * 32 * 32 + 128 * 128 * 16 * 16 + 256 * 256 * 64 + 512 * 512 * 16 + 512 * 512 * 4
    assert bench.flops({"name": "vgg19_style", "size": 32}) == 4 * (macs + grams)
