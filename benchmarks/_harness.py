"""Shared benchmark plumbing: run each (framework, case) in its own process, alternate them, report medians.

OpenBLAS threads spin after each call and slow other work in the same process, so no two frameworks ever share one.
"""
import json
import os
import statistics
import subprocess
import sys
import time


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
               MKL_NUM_THREADS=str(threads), SCRATCHNET_NUM_THREADS=str(threads), PYTHONPATH=os.pathsep.join(
                   [os.path.dirname(os.path.dirname(os.path.abspath(__file__))), os.environ.get("PYTHONPATH", "")]))
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


def bar_chart(path, title, groups, series):
    """A grouped bar chart PNG drawn with Pillow (no plotting library needed): groups × series of values (ms)."""
    from PIL import Image, ImageDraw
    names = list(series)
    w, h, left, bottom, top = 160 + 120 * len(groups), 420, 70, 90, 40
    img = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(img)
    colours = [(66, 133, 244), (234, 67, 53), (52, 168, 83), (251, 188, 5)]
    vmax = max(v for vals in series.values() for v in vals) or 1
    d.text((left, 10), title, fill="black")
    d.line([(left, h - bottom), (w - 20, h - bottom)], fill="black")
    slot = (w - left - 20) / len(groups)
    bar = slot * 0.8 / len(names)
    for gi, g in enumerate(groups):
        x0 = left + gi * slot + slot * 0.1
        for si, name in enumerate(names):
            v = series[name][gi]
            y = h - bottom - (h - bottom - top) * v / vmax
            d.rectangle([x0 + si * bar, y, x0 + (si + 1) * bar - 2, h - bottom], fill=colours[si % 4])
            d.text((x0 + si * bar, y - 12), f"{v:.0f}", fill="black")
        d.text((x0, h - bottom + 6), str(g), fill="black")
    for si, name in enumerate(names):
        d.rectangle([left + si * 150, h - 30, left + si * 150 + 12, h - 18], fill=colours[si % 4])
        d.text((left + si * 150 + 18, h - 30), name, fill="black")
    tmp = path + ".tmp.png"
    img.save(tmp)
    os.replace(tmp, path)
