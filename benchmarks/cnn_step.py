"""Reference CNN training step and per-layer forward+backward: scratchnet vs PyTorch CPU (and CuPy with a GPU).

CNN: conv(1→32,3x3) ReLU maxpool2 conv(32→64,3x3) ReLU maxpool2 flatten Linear(1600→128) ReLU Linear(128→10),
cross-entropy, Adam. Each (framework, threads) runs in its own process, alternated over rounds; medians reported.
Peak memory: the rise of the resident set during one step after warm-up (high-water mark reset through
/proc/self/clear_refs). For these runs both frameworks get the same malloc with a fixed 128 KiB mmap threshold, so
every large buffer is mapped when allocated and unmapped when freed and the resident set follows live memory
(scratchnet's malloc tuning, which keeps freed pages, and glibc's adaptive threshold would both hide the rise).
GFLOP/s columns: counted FLOPs (scratchnet/bench.py's flops(): 2 per multiply-add, backward 2x the forward) over
the median time, and their share of the machine's measured sgemm peak on as many threads (the distance to the limit).
Run: python benchmarks/cnn_step.py [--rounds 5] [--batches 64 256] [--threads 1 2] [--no-layers]
"""
import argparse
import json
import resource
import statistics
import sys

import numpy

from _harness import alternate, bar_chart, efficiency, have, have_gpu, sgemm_peak, table, time_fn

MEMORY_ENV = {"SCRATCHNET_MALLOC_TUNE": "0", "MALLOC_MMAP_THRESHOLD_": "131072", "MALLOC_TRIM_THRESHOLD_": "0"}

LAYERS = {
    "conv2d 64x32x13x13 k3": dict(op="conv2d", x=(64, 32, 13, 13), w=(64, 32, 3, 3)),
    "conv_transpose2d 64x64x7x7 k4 s2": dict(op="conv_transpose2d", x=(64, 64, 7, 7), w=(64, 32, 4, 4)),
    # the DCGAN generator's 5×5 layer: scratchnet takes the FFT route here (scratchnet/ops/conv_fft.py)
    "conv_transpose2d 64x256x7x7 k5 p2": dict(op="conv_transpose2d", x=(64, 256, 7, 7), w=(256, 128, 5, 5),
                                              stride=1, padding=2),
    "max_pool2d 64x32x26x26 k2": dict(op="max_pool2d", x=(64, 32, 26, 26)),
    "batch_norm 64x64x14x14 train": dict(op="batch_norm", x=(64, 64, 14, 14)),
    "linear 256x1600->128": dict(op="linear", x=(256, 1600), w=(128, 1600)),
}


def _rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def _step_peak_bytes(step):
    """Resident-set rise during one call of step()."""
    import gc
    gc.collect()
    base = _rss_bytes()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM to the current resident set
    step()
    with open("/proc/self/status") as f:
        hwm = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM"))
    return hwm - base


def _framework(fw):
    if fw == "torch":
        import torch
        return torch, torch.nn, torch.nn.functional, torch.optim, (lambda: None), "cpu"
    import scratchnet as sn
    dev = "cuda" if fw == "scratchnet-cuda" else "cpu"
    sync = (lambda: __import__("cupy").cuda.Device().synchronize()) if dev == "cuda" else (lambda: None)
    return sn, sn.nn, sn.nn.functional, sn.optim, sync, dev


def step_worker(job):
    lib, nn, F, optim, sync, dev = _framework(job["fw"])
    lib.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1600, 128), nn.ReLU(), nn.Linear(128, 10))
    model.to(dev)
    opt = optim.Adam(model.parameters(), lr=1e-3)
    rng = numpy.random.default_rng(0)
    x = lib.tensor(rng.random((job["batch"], 1, 28, 28), dtype=numpy.float32), device=dev)
    y = lib.tensor(rng.integers(0, 10, job["batch"]), device=dev)

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        sync()

    if job.get("memory"):
        for _ in range(2):
            step()
        return {"peak_mb": _step_peak_bytes(step) / 2**20}
    return {"ms": time_fn(step, warmup=3, repeat=15 if job["batch"] <= 64 else 8) * 1e3}


def layer_worker(job):
    lib, nn, F, optim, sync, dev = _framework(job["fw"])
    spec = LAYERS[job["layer"]]
    rng = numpy.random.default_rng(0)

    def t(shape):
        return lib.tensor(rng.standard_normal(shape).astype(numpy.float32), device=dev, requires_grad=True)
    x = t(spec["x"])
    w = t(spec["w"]) if "w" in spec else None
    c = spec["x"][1]
    rm, rv = lib.zeros(c, device=dev), lib.ones(c, device=dev)
    g, b = t((c,)), t((c,))
    fn = {"conv2d": lambda: F.conv2d(x, w, padding=1),
          "conv_transpose2d": lambda: F.conv_transpose2d(x, w, stride=spec.get("stride", 2),
                                                         padding=spec.get("padding", 1)),
          "max_pool2d": lambda: F.max_pool2d(x, 2),
          "batch_norm": lambda: F.batch_norm(x, rm, rv, g, b, training=True),
          "linear": lambda: F.linear(x, w)}[spec["op"]]

    def run():
        y = fn()
        y.backward(lib.ones_like(y))
        sync()
    return {"ms": time_fn(run, warmup=2, repeat=10) * 1e3}


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--batches", type=int, nargs="+", default=[64, 256])
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--no-layers", action="store_true")
    p.add_argument("--plot", default="cnn_step.png", help="bar chart of the step times (PNG); '' for none")
    p.add_argument("--worker")
    args = p.parse_args()
    if args.worker:
        job = json.loads(args.worker)
        print(json.dumps(layer_worker(job) if "layer" in job else step_worker(job)))
        return
    from scratchnet.bench import flops
    fws = ["scratchnet"] + (["torch"] if have("torch") else []) + (["scratchnet-cuda"] if have_gpu() else [])
    cpu_fws = [fw for fw in fws if fw != "scratchnet-cuda"]
    peaks = {t: sgemm_peak(t) for t in sorted(set(args.threads))}
    rows, plot = [], {fw: [] for fw in fws}
    for threads in args.threads:
        jobs = [{"fw": fw, "batch": b} for b in args.batches for fw in fws]
        mem_jobs = [{"fw": fw, "batch": b, "memory": True, "env": MEMORY_ENV}
                    for b in args.batches for fw in fws if fw != "scratchnet-cuda"]
        res = alternate(__file__, jobs, args.rounds, threads)
        mres = alternate(__file__, mem_jobs, 1, threads)
        for b in args.batches:
            med = {fw: statistics.median(r["ms"] for r in res[json.dumps({"batch": b, "fw": fw}, sort_keys=True)])
                   for fw in fws}
            mem = {j["fw"]: mres[json.dumps(j, sort_keys=True)][0]["peak_mb"] for j in mem_jobs if j["batch"] == b}
            for fw in fws:
                plot[fw].append(med[fw])
            row = [f"train step b{b}", threads] + [f"{med[fw]:.1f}" for fw in fws]
            if "torch" in fws:
                row += [f"{med['scratchnet'] / med['torch']:.2f}x",
                        f"{mem['scratchnet']:.0f}/{mem['torch']:.0f} MB "
                        f"({mem['scratchnet'] / max(mem['torch'], 1e-9):.2f}x)"]
            f = flops({"name": "cnn_step", "batch": b})
            rows.append(row + [efficiency(f, med[fw], peaks[threads]) for fw in cpu_fws])
    if not args.no_layers:
        threads = max(args.threads)
        jobs = [{"fw": fw, "layer": name} for name in LAYERS for fw in fws]
        res = alternate(__file__, jobs, max(3, args.rounds // 2), threads)
        for name in LAYERS:
            med = {fw: statistics.median(r["ms"] for r in res[json.dumps({"fw": fw, "layer": name}, sort_keys=True)])
                   for fw in fws}
            row = [f"{name} fwd+bwd", threads] + [f"{med[fw]:.2f}" for fw in fws]
            if "torch" in fws:
                row += [f"{med['scratchnet'] / med['torch']:.2f}x", ""]
            f = flops(dict(LAYERS[name], name=LAYERS[name]["op"]))
            rows.append(row + [efficiency(f, med[fw], peaks[threads]) for fw in cpu_fws])
    headers = ["case", "threads"] + [f"{fw} ms" for fw in fws]
    if "torch" in fws:
        headers += ["scratchnet/torch", "peak memory sn/torch"]
    headers += [f"{fw} GFLOP/s (% peak)" for fw in cpu_fws]
    print(f"median of {args.rounds} alternated processes per framework; sgemm peak "
          + ", ".join(f"{peaks[t]:.0f} GFLOP/s on {t} thread{'s' if t > 1 else ''}" for t in peaks))
    print(table(headers, rows))
    if args.plot:
        groups = [f"batch {b}, {t} thread{'s' if t > 1 else ''}" for t in args.threads for b in args.batches]
        bar_chart(args.plot, "reference CNN training step (lower is better)", groups, plot,
                  ylabel="ms per step (median)")
        print(f"plot: {args.plot}")


if __name__ == "__main__":
    sys.exit(main())
