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



def bar_chart(path, title, groups, series, ylabel=""):
    from scratchnet.apps.plots import bar_chart as draw
    return draw(path, title, groups, series, ylabel=ylabel)
