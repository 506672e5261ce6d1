"""Shared benchmark plumbing: run each (framework, case) in its own process, alternate them, report medians.

OpenBLAS threads spin after each call and slow other work in the same process, so no two frameworks ever share one.
"""
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:  # run from a checkout without installing: `python benchmarks/x.py`
    sys.path.insert(0, ROOT)


def time_fn(fn, warmup=3, repeat=15, min_time=0.0):
    """Median seconds per call of fn() after warm-up."""
    for _ in range(warmup):
        fn()
    times = []
    t_end = time.perf_counter() + min_time
    while len(times) < repeat or time.perf_counter() < t_end:
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def run_worker(script, args, threads):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads), SCRATCHNET_NUM_THREADS=str(threads),
               PYTHONPATH=os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]))
    env.setdefault("SCRATCHNET_MALLOC_TUNE", "1")   # as the command line does (a job's env may turn it off)
    env.update(args.get("env", {}))
    out = subprocess.run([sys.executable, script, "--worker", json.dumps(args)], env=env, capture_output=True,
                         text=True)
    if out.returncode != 0:
        raise RuntimeError(f"worker {args} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def alternate(script, jobs, rounds, threads):
    """Run every job once per round, in alternating order; returns {job_key: [result, ...]}."""
    results = {}
    for r in range(rounds):
        order = jobs if r % 2 == 0 else list(reversed(jobs))
        for job in order:
            key = json.dumps(job, sort_keys=True)
            results.setdefault(key, []).append(run_worker(script, job, threads))
    return results


def have(module):
    try:
        __import__(module)
        return True
    except ImportError:
        return False


def have_gpu():
    try:
        import cupy
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def table(headers, rows):
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)]
    line = "  ".join(str(h).rjust(w) for h, w in zip(headers, widths))
    return "\n".join([line, "-" * len(line)] + ["  ".join(str(c).rjust(w) for c, w in zip(r, widths)) for r in rows])



def sgemm_peak(threads, n=2048, repeat=5):
    """The machine's limit the tables measure against: GFLOP/s of the best of `repeat` float32 n x n NumPy matmuls
    on `threads` BLAS threads, in a process of its own (as every workload here runs)."""
    return run_worker(os.path.abspath(__file__), {"probe": "sgemm", "n": n, "repeat": repeat}, threads)["gflops"]


def _sgemm_probe(n, repeat):
    import numpy
    a, b = (numpy.random.default_rng(i).standard_normal((n, n), dtype=numpy.float32) for i in range(2))
    a @ b  # warm-up: BLAS threads started, pages touched
    best = min(time_fn(lambda: a @ b, warmup=0, repeat=1) for _ in range(repeat))
    return {"gflops": 2 * n ** 3 / best / 1e9}


def efficiency(flops, ms, peak):
    """'12.3 (45%)': achieved GFLOP/s from counted FLOPs, and its share of the sgemm peak; '-' without FLOPs."""
    if not flops or not ms:
        return "-"
    gf = flops / (ms * 1e6)
    return f"{gf:.1f} ({100 * gf / peak:.0f}%)" if peak else f"{gf:.1f}"


def bar_chart(path, title, groups, series, ylabel=""):
    from scratchnet.apps.plots import bar_chart as draw
    return draw(path, title, groups, series, ylabel=ylabel)


if __name__ == "__main__":  # the sgemm probe's process (sgemm_peak)
    job = json.loads(sys.argv[sys.argv.index("--worker") + 1])
    print(json.dumps(_sgemm_probe(job["n"], job["repeat"])))
