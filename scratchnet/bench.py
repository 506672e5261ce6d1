"""`scratchnet bench`: scratchnet on the CPU and on every GPU present, and PyTorch on the CPU and CUDA when it is
installed, timed on the same workloads in one run; a table on stdout, bench.json and bench.png in --out.

Each (framework, device) runs in a process of its own (scratchnet/bench_worker.py, benchmarks/bench_torch.py). A
workload's first call is reported apart (cold: context, compilation, allocation); then after warm-up the median and
the spread (25th-75th percentile) of the timed calls, images/s, GFLOP/s from counted FLOPs, and the share of the
device's measured peak (an sgemm probe: the large-matmul workload, best call, best framework). GPU times come from
CUDA events around each call, synchronised on the end event.
Counted FLOPs: 2 per multiply-add of every convolution, transposed convolution, linear layer, Gram matrix and matmul;
a training step counts 3x its forward (forward, input gradient, weight gradient), a pass that needs only the input
gradient 2x. Pooling and normalisation are memory-bound: no FLOPs, no GFLOP/s.
"""
import json
import os
import platform
import statistics
import subprocess
import sys

import numpy

from . import __version__, backend
from .io import atomic_write_json

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TORCH_WORKER = os.path.join(ROOT, "benchmarks", "bench_torch.py")
VGG19 = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512]   # to conv5_1
LAYERS = {   # forward + backward of one layer at batch 64 (the reference CNN's and the DCGAN's shapes)
    "conv2d": dict(x=(64, 32, 13, 13), w=(64, 32, 3, 3)),
    "conv_transpose2d": dict(x=(64, 64, 7, 7), w=(64, 32, 4, 4)),
    "max_pool2d": dict(x=(64, 32, 26, 26)),
    "batch_norm": dict(x=(64, 64, 14, 14)),
    "linear": dict(x=(256, 1600), w=(128, 1600)),
}


def _conv_macs(cin, cout, k, oh, ow):
    return cin * cout * k * k * oh * ow


def flops(w):
    """Counted FLOPs of one call of workload w (see the module docstring), or None for memory-bound ops."""
    name = w["name"]
    if name == "cnn_step":
        fwd = _conv_macs(1, 32, 3, 26, 26) + _conv_macs(32, 64, 3, 11, 11) + 1600 * 128 + 128 * 10
        return 3 * 2 * fwd * w["batch"]
    if name == "dcgan_step":
        g = 150 * 256 * 49 + _conv_macs(256, 128, 5, 7, 7) + _conv_macs(128, 64, 4, 7, 7) + \
            _conv_macs(64, 1, 4, 14, 14)   # a transposed conv's MACs are its input pixels x Cin x Cout x k²
        d = 50 * 784 + _conv_macs(2, 64, 4, 14, 14) + _conv_macs(64, 128, 4, 7, 7) + 2 * 128 * 49
        # D update: G forward, D forward+backward on real and fake; G update: G fwd+bwd, D fwd + input gradient
        return 2 * w["batch"] * (g + 3 * 2 * d + 3 * g + 2 * d)
    if name == "vgg19_style":
        s, macs, grams, cin, first = w["size"], 0, 0, 3, True
        for v in VGG19:
            if v == "M":
                s, first = s // 2, True
                continue
            macs += _conv_macs(cin, v, 3, s, s)
            if first:   # the first conv of a block: its ReLU is a style layer (relu1_1 ... relu5_1)
                grams += v * v * s * s
            cin, first = v, False
        return 2 * 2 * (macs + grams)   # forward and the gradient to the image
    if name == "bank_style":   # the random filter bank (models/bank.py): 4 kernel sizes of 3->64 at 4 levels
        macs = sum(_conv_macs(3, 64, k, w["size"] >> lv, w["size"] >> lv) + 64 * 64 * (w["size"] >> lv) ** 2
                   for lv in range(4) for k in (3, 5, 7, 9))   # every map is a style layer: its Gram too
        return 2 * 2 * macs   # forward and the gradient to the image
    if name == "matmul":
        return 2 * w["n"] ** 3
    if name in ("conv2d", "conv_transpose2d"):
        x, k = w["x"], w["w"]
        if name == "conv2d":
            return 3 * 2 * _conv_macs(x[1], k[0], k[2], x[2], x[3]) * x[0]
        return 3 * 2 * _conv_macs(x[1], k[1], k[2], x[2], x[3]) * x[0]
    if name == "linear":
        return 3 * 2 * w["x"][0] * w["x"][1] * w["w"][0]
    return None


def images(w):
    if w["name"] in ("cnn_step", "dcgan_step"):
        return w["batch"]
    if w["name"] == "vgg19_style":
        return 1
    if w["name"] in LAYERS:
        return w["x"][0]
    return None


def workloads(quick, only=None, batches=None):
    ws = [dict(name="cnn_step", batch=b) for b in (batches or ((64, 256) if quick else (64, 256, 1024)))]
    ws.append(dict(name="dcgan_step", batch=64))
    ws += [dict(name="vgg19_style", size=s) for s in ((128,) if quick else (256, 512))]
    ws += [dict(name=n, **spec) for n, spec in LAYERS.items()]
    ws.append(dict(name="matmul", n=1024 if quick else 4096))
    if only:
        ws = [w for w in ws if w["name"] in only]
    for w in ws:
        w["key"] = w["name"] + "".join(f" {k}={w[k]}" for k in ("batch", "size", "n") if k in w)
    return ws


# ---- what is there to measure ----

def _gpus():
    """([cuda:i ...], reason when there is none)."""
    try:
        cp = backend.cupy()
    except backend.BackendError as e:
        return [], str(e)
    if getattr(cp, "__standin__", False) and not os.environ.get("SCRATCHNET_BENCH_STANDIN"):
        return [], "CuPy here is the test suite's NumPy stand-in, not a GPU"
    return [f"cuda:{i}" for i in range(cp.cuda.runtime.getDeviceCount())], None


def _torch():
    """(version, has CUDA, reason) for PyTorch, probed in a subprocess so this process never imports it."""
    code = "import json, torch; print(json.dumps([torch.__version__, torch.cuda.is_available()]))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if r.returncode != 0:
        return None, False, "PyTorch is not installed (make torch)"
    version, cuda = json.loads(r.stdout.strip().splitlines()[-1])
    if not os.path.exists(TORCH_WORKER):
        return version, False, f"the PyTorch worker {TORCH_WORKER} is missing (it ships with the repository)"
    return version, cuda, None


def metadata(gpus, torch_version):
    meta = {"scratchnet": __version__, "python": platform.python_version(), "numpy": numpy.__version__,
            "torch": torch_version, "machine": platform.machine(), "cpus": os.cpu_count(),
            "blas_kernels": backend.blas_core()}
    try:
        with open("/proc/cpuinfo") as f:
            meta["cpu"] = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), None)
    except OSError:
        meta["cpu"] = platform.processor() or None
    try:
        from threadpoolctl import threadpool_info
        meta["blas"] = [{k: p.get(k) for k in ("internal_api", "version", "architecture", "num_threads",
                                                 "threading_layer")} for p in threadpool_info()]
    except ImportError:
        meta["blas"] = "threadpoolctl not installed"
    if gpus:
        cp = backend.cupy()
        rt = cp.cuda.runtime
        meta["cupy"] = cp.__version__
        meta["cuda_driver"], meta["cuda_runtime"] = rt.driverGetVersion(), rt.runtimeGetVersion()
        meta["gpus"] = {d: rt.getDeviceProperties(int(d.split(":")[1]))["name"].decode() for d in gpus}
    return meta


# ---- running and summarising ----

def _run(cmd, job, threads):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads), SCRATCHNET_NUM_THREADS=str(threads),
               PYTHONPATH=os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]))
    r = subprocess.run(cmd + [json.dumps(job)], env=env, capture_output=True, text=True)
    out = {}
    for line in r.stdout.splitlines():
        if line.startswith("{"):
            res = json.loads(line)
            out[res.pop("key")] = res
    if r.returncode != 0:
        tail = (r.stderr.strip().splitlines() or ["no output"])[-1]
        for w in job["workloads"]:
            out.setdefault(w["key"], {"error": f"worker exited with status {r.returncode}: {tail}"})
    return out


def summarise(w, res, peak):
    if "error" in res:
        return {"error": res["error"]}
    ms = sorted(res["ms"])
    med = statistics.median(ms)
    q = numpy.percentile(ms, [25, 75]).tolist() if len(ms) > 1 else [med, med]
    f, n = flops(w), images(w)
    gf = f / (med * 1e6) if f else None
    return {"cold_ms": res["cold_ms"], "median_ms": med, "p25_ms": q[0], "p75_ms": q[1], "calls": len(ms),
            "images_per_s": n / med * 1e3 if n else None, "flops": f, "gflops": gf,
            "best_gflops": f / (ms[0] * 1e6) if f else None,
            "pct_peak": 100 * gf / peak if gf and peak else None}


def measure(out="out/bench", quick=False, threads=None, only=None, batches=None, repeat=None, frameworks=None):
    """Measure, print the table, write bench.json and bench.png into `out`; returns the report dict."""
    threads = threads or (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count())
    ws = workloads(quick, only, batches)
    repeat = repeat or (3 if quick else 10)
    warmup = 1 if quick else 2
    gpus, gpu_reason = _gpus()
    torch_version, torch_cuda, torch_reason = _torch() if "torch" in (frameworks or ["torch"]) else \
        (None, False, "not asked for (--frameworks)")
    runs, absent = [], []
    if "scratchnet" in (frameworks or ["scratchnet"]):
        runs += [("scratchnet", d) for d in ["cpu"] + gpus]
        if not gpus:
            absent.append({"framework": "scratchnet", "device": "cuda", "why": gpu_reason})
    if torch_reason:
        absent += [{"framework": "torch", "device": d, "why": torch_reason} for d in ("cpu", "cuda")]
    else:
        runs.append(("torch", "cpu"))
        if torch_cuda:
            runs.append(("torch", "cuda"))
        else:
            absent.append({"framework": "torch", "device": "cuda", "why": "torch.cuda.is_available() is False"})
    raw = {}
    for fw, dev in runs:
        job = {"device": dev, "workloads": ws, "repeat": repeat, "warmup": warmup, "threads": threads}
        cmd = [sys.executable, "-m", "scratchnet.bench_worker"] if fw == "scratchnet" else [sys.executable,
                                                                                             TORCH_WORKER]
        raw[(fw, dev)] = _run(cmd, job, threads)
    probe = next((w for w in ws if w["name"] == "matmul"), None)
    peaks = {}
    for (fw, dev), res in raw.items():   # a device's peak: the best sgemm any framework reached on it
        r = res.get(probe["key"]) if probe else None
        if r and "ms" in r:
            kind = "cpu" if dev == "cpu" else dev if fw == "scratchnet" else "cuda:0"
            peaks[kind] = max(peaks.get(kind, 0), flops(probe) / (min(r["ms"]) * 1e6))
    rows = []
    for (fw, dev), res in raw.items():
        kind = "cpu" if dev == "cpu" else dev if fw == "scratchnet" else "cuda:0"
        for w in ws:
            rows.append({"workload": w["key"], "name": w["name"], "framework": fw, "device": dev,
                         **{k: w[k] for k in ("batch", "size", "n") if k in w},
                         **summarise(w, res.get(w["key"], {"error": "no result"}), peaks.get(kind))})
    report = {"quick": quick, "threads": threads, "repeat": repeat, "warmup": warmup,
              "metadata": metadata(gpus, torch_version), "peak_gflops": peaks, "rows": rows, "absent": absent}
    os.makedirs(out, exist_ok=True)
    atomic_write_json(os.path.join(out, "bench.json"), report, indent=2)
    print(table(report))
    report["plot"] = plot(report, os.path.join(out, "bench.png"))
    print(f"\nbench.json and bench.png in {out}")
    return report


def _fmt(v, spec):
    return "-" if v is None else format(v, spec)


def table(report):
    heads = ["workload", "framework", "device", "cold ms", "median ms", "p25-p75 ms", "img/s", "GFLOP/s", "% peak"]
    body = []
    for r in report["rows"]:
        if "error" in r:
            body.append([r["workload"], r["framework"], r["device"], "error: " + r["error"][:60]] + [""] * 5)
            continue
        body.append([r["workload"], r["framework"], r["device"], _fmt(r["cold_ms"], ".1f"),
                     _fmt(r["median_ms"], ".2f"), f"{r['p25_ms']:.2f}-{r['p75_ms']:.2f}",
                     _fmt(r["images_per_s"], ".0f"), _fmt(r["gflops"], ".1f"), _fmt(r["pct_peak"], ".0f")])
    widths = [max(len(h), *(len(c) for c in col)) if body else len(h) for h, col in zip(heads, zip(*body))] \
        if body else [len(h) for h in heads]
    lines = ["  ".join(h.ljust(w) for h, w in zip(heads, widths))]
    lines.append("-" * len(lines[0]))
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in body]
    meta = report["metadata"]
    blas = meta["blas"][0] if isinstance(meta["blas"], list) and meta["blas"] else {}
    lines.insert(0, f"scratchnet {meta['scratchnet']}, numpy {meta['numpy']}, torch {meta['torch'] or '-'}; "
                    f"BLAS {blas.get('internal_api', '?')} {blas.get('architecture') or meta['blas_kernels'] or ''} "
                    f"x{report['threads']} threads; CPU {meta.get('cpu') or '?'}"
                    + (f"; GPUs {meta['gpus']}, CuPy {meta['cupy']}" if meta.get("gpus") else ""))
    lines += [f"absent: {a['framework']} on {a['device']}: {a['why']}" for a in report["absent"]]
    return "\n".join(lines)


def plot(report, path):
    """Throughput of the reference CNN's training step against batch size, one line per framework and device
    (where the GPU overtakes the CPU), and each workload's share of its device's peak."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (a, b) = plt.subplots(1, 2, figsize=(13, 4.8))
    lines = {}
    for r in report["rows"]:
        if r["name"] == "cnn_step" and r.get("images_per_s"):
            lines.setdefault(f"{r['framework']} {r['device']}", []).append((r["batch"], r["images_per_s"]))
    for label, pts in sorted(lines.items()):
        pts.sort()
        a.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=label)
    a.set(xscale="log", yscale="log", xlabel="batch size", ylabel="images / s (median)",
          title="reference CNN training step: throughput")
    a.set_xticks(sorted({p[0] for pts in lines.values() for p in pts}) or [1])
    a.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
    a.get_xaxis().set_minor_formatter(matplotlib.ticker.NullFormatter())
    a.grid(True, which="both", alpha=0.3)
    if lines:
        a.legend()
    names = list(dict.fromkeys(r["workload"] for r in report["rows"] if r.get("pct_peak") is not None))
    runs = list(dict.fromkeys(f"{r['framework']} {r['device']}" for r in report["rows"]))
    width = 0.8 / max(len(runs), 1)
    for i, run_ in enumerate(runs):
        vals = {r["workload"]: r["pct_peak"] for r in report["rows"] if f"{r['framework']} {r['device']}" == run_}
        b.barh([k + i * width for k in range(len(names))], [vals.get(n) or 0 for n in names], height=width,
               label=run_)
    b.set_yticks([k + 0.4 - width / 2 for k in range(len(names))], names, fontsize=8)
    b.invert_yaxis()
    b.set(xlabel="% of the device's measured sgemm peak", title="compute efficiency (counted FLOPs)")
    if runs:
        b.legend(fontsize=8)
    missing = "; ".join(f"{x['framework']} {x['device']}: {x['why']}" for x in report["absent"])
    if missing:
        fig.text(0.01, 0.01, "absent: " + missing, fontsize=7, wrap=True)
    fig.tight_layout(rect=(0, 0.06 if missing else 0, 1, 1))
    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)
    return path


# ---- the command line: `scratchnet bench` ----

def add_arguments(p):
    from . import cli_args
    p.add_argument("--out", type=cli_args.out_dir, default="out/bench", help="folder for bench.json and bench.png")
    p.add_argument("--quick", action="store_true", help="fewer sizes and calls (under 2 minutes on 2 cores)")
    p.add_argument("--threads", type=cli_args.positive_int, default=None,
                   help="CPU threads for every framework (default: all)")
    p.add_argument("--only", nargs="+", default=None, metavar="WORKLOAD",
                   choices=["cnn_step", "dcgan_step", "vgg19_style", *LAYERS, "matmul"], help="run only these workloads")
    p.add_argument("--batches", type=cli_args.positive_int, nargs="+", default=None,
                   help="batch sizes of the CNN step")
    p.add_argument("--repeat", type=cli_args.positive_int, default=None,
                   help="timed calls per workload (after warm-up)")
    p.add_argument("--frameworks", nargs="+", default=None, choices=["scratchnet", "torch"])


def run(args):
    measure(out=args.out, quick=args.quick, threads=args.threads, only=args.only, batches=args.batches,
            repeat=args.repeat, frameworks=args.frameworks)
