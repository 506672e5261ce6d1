"""Data-parallel scaling on this machine: MPI all-reduce bandwidth against message size, and the reference CNN's
training step on 1 and N processes (DistributedDataParallel over MPI) against one process with 1 and N threads.

All-reduce: median time of an in-place MPI Allreduce (float32 sum) of each size, with the algorithm bandwidth
n/t and the bus bandwidth 2·(p−1)/p·n/t (what each rank actually moves; NCCL's convention). With a GPU per rank
the same is measured over NCCL (CuPy arrays, device to device).
CNN step (Adam, float32, cross-entropy): strong scaling keeps the global batch B and gives each of p processes
B/p; weak scaling gives each process B (global p·B). Efficiency: strong = t(1 process, 1 thread, B) /
(p · t(p processes, B/p)); weak = t(1 process, 1 thread, B) / t(p processes, B each). The communication time is
the time spent in DistributedDataParallel's gradient all-reduce per step (one bucket of 225k float32 = 0.86 MiB).
On one 2-core machine "2 processes × 1 thread" competes with "1 process × 2 threads" for the same cores.
Every case runs in its own process(es), alternated over rounds; medians reported.
Run: python benchmarks/scaling.py [--rounds 3] [--batch 64] [--nproc 2] [--plot scaling] [--quick]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy

from _harness import ROOT, have_gpu, table


def _env(threads):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads), SCRATCHNET_NUM_THREADS=str(threads),
               PYTHONPATH=os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]))
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    return env


def run(job, nproc=1, threads=1):
    """Run a worker job on nproc ranks (under mpiexec when nproc > 1); rank 0's JSON result."""
    from scratchnet.apps.parallel import mpiexec
    cmd = [sys.executable, __file__, "--worker", json.dumps(job)]
    if nproc > 1:
        cmd = [mpiexec(), "-n", str(nproc)] + cmd
    out = subprocess.run(cmd, env=_env(threads), capture_output=True, text=True, timeout=1800)
    if out.returncode != 0:
        raise RuntimeError(f"job {job} on {nproc} process(es) failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---- workers (one process, or every rank of an mpiexec) ----

def allreduce_worker(job):
    import scratchnet.distributed as dist
    dist.init(job.get("backend"))
    world = dist._world_ref()
    xp = numpy
    if world.name == "nccl":
        from scratchnet import backend
        xp = backend.cupy()
    out = []
    for nbytes in job["sizes"]:
        buf = xp.ones(max(nbytes // 4, 1), xp.float32)
        times = []
        for i in range(job["reps"] + 2):
            world.barrier()
            t = time.perf_counter()
            world.all_reduce(buf, "sum")
            if xp is not numpy:
                xp.cuda.get_current_stream().synchronize()
            times.append(time.perf_counter() - t)
        # the slowest rank decides when a collective is over
        worst = numpy.array(times[2:])
        world.all_reduce(worst, "max")
        out.append({"bytes": buf.nbytes, "s": float(numpy.median(worst))})
    return {"backend": world.name, "ranks": world.size, "results": out}


def step_worker(job):
    import scratchnet as sn
    import scratchnet.distributed as dist
    from scratchnet import optim
    from scratchnet.models import build
    import scratchnet.nn.functional as F
    dist.init()
    world = dist._world_ref()
    sn.manual_seed(0)
    net = build("reference")
    opt = optim.Adam(net.parameters(), lr=1e-3)
    comm = []
    if world.size > 1:
        net = dist.DistributedDataParallel(net)
        reduce = net.reduce_gradients

        def timed(params=None):
            t = time.perf_counter()
            reduce(params)
            comm.append(time.perf_counter() - t)
        net.reduce_gradients = timed
    rng = numpy.random.default_rng(dist.rank())
    x = sn.tensor(rng.random((job["batch"], 1, 28, 28), dtype=numpy.float32))
    y = sn.tensor(rng.integers(0, 10, job["batch"]))
    times = []
    for i in range(job["steps"] + 3):
        world.barrier()
        t = time.perf_counter()
        loss = F.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t)
    worst = numpy.array(times[3:])
    world.all_reduce(worst, "max")
    return {"ms": 1e3 * float(numpy.median(worst)),
            "comm_ms": 1e3 * float(numpy.median(comm[3:])) if comm else 0.0}


# ---- the report ----

def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--batch", type=int, default=64, help="global batch for strong scaling, per process for weak")
    p.add_argument("--nproc", type=int, default=2)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--plot", default="scaling", help="prefix of the two PNGs; '' for none")
    p.add_argument("--quick", action="store_true", help="smoke run: small sizes, 1 round, few steps")
    p.add_argument("--worker")
    a = p.parse_args()
    if a.worker:
        job = json.loads(a.worker)
        res = allreduce_worker(job) if job["kind"] == "allreduce" else step_worker(job)
        import scratchnet.distributed as dist
        if dist.rank() == 0:
            print(json.dumps(res))
        return
    if a.quick:
        a.rounds, a.steps, a.batch = 1, 3, 16
    n = a.nproc
    sizes = [2 ** k for k in range(10, 21 if a.quick else 27, 2)]          # 1 KiB .. 64 MiB
    backends = [("mpi", "CPU, MPI")] + ([("nccl", "GPU, NCCL")] if have_gpu() and _gpus() >= n else [])
    bw = {}
    for name, label in backends:
        runs = [run({"kind": "allreduce", "backend": name, "sizes": sizes, "reps": 5 if a.quick else 20}, n)
                for _ in range(a.rounds)]
        bw[label] = [statistics.median(r["results"][i]["s"] for r in runs) for i in range(len(sizes))]
    rows = []
    for i, nbytes in enumerate(sizes):
        row = [_size(nbytes)]
        for label in bw:
            t = bw[label][i]
            row += [f"{t * 1e6:.1f}", f"{nbytes / t / 1e9:.2f}", f"{2 * (n - 1) / n * nbytes / t / 1e9:.2f}"]
        rows.append(row)
    heads = ["message"] + [h for label in bw for h in (f"{label} µs", "algbw GB/s", "busbw GB/s")]
    print(f"all-reduce (float32 sum) on {n} ranks, median over ranks' slowest, {a.rounds} round(s)")
    print(table(heads, rows))

    b = a.batch
    cases = [("1 process × 1 thread, batch B", dict(batch=b), 1, 1),
             (f"1 process × {n} threads, batch B", dict(batch=b), 1, n),
             (f"{n} processes × 1 thread, B/{n} each (strong)", dict(batch=b // n), n, 1),
             (f"{n} processes × 1 thread, B each (weak)", dict(batch=b), n, 1)]
    results = {c[0]: [] for c in cases}
    for r in range(a.rounds):
        for label, job, procs, threads in (cases if r % 2 == 0 else cases[::-1]):
            results[label].append(run({"kind": "step", "steps": a.steps, **job}, procs, threads))
    med = {k: (statistics.median(x["ms"] for x in v), statistics.median(x["comm_ms"] for x in v))
           for k, v in results.items()}
    base = med[cases[0][0]][0]
    rows = []
    for label, job, procs, threads in cases:
        ms, comm = med[label]
        images = job["batch"] * procs
        if "strong" in label:
            eff = f"{base / (procs * ms):.0%} strong"
        elif "weak" in label:
            eff = f"{base / ms:.0%} weak"
        else:
            eff = f"{base / ms:.2f}x speed-up" if threads > 1 else "baseline"
        rows.append([label, f"{ms:.1f}", f"{comm:.2f}" if procs > 1 else "-", f"{1e3 * images / ms:.0f}", eff])
    print(f"\nreference CNN training step, B = {b}, median of {a.rounds} round(s) × {a.steps} steps")
    print(table(["case", "ms/step", "all-reduce ms", "images/s", "efficiency"], rows))
    if a.plot:
        from scratchnet.apps import plots
        _bandwidth_plot(f"{a.plot}_allreduce.png", n, sizes, bw)
        plots.bar_chart(f"{a.plot}_step.png", "reference CNN step: images per second (higher is better)",
                        [c[0] for c in cases],
                        {"images/s": [1e3 * c[1]["batch"] * c[2] / med[c[0]][0] for c in cases]},
                        ylabel="images/s (median)", log=False)
        print(f"plots: {a.plot}_allreduce.png, {a.plot}_step.png")


def _bandwidth_plot(path, n, sizes, bw):
    """Bus bandwidth against message size, both axes logarithmic."""
    from matplotlib.figure import Figure
    from scratchnet.apps.plots import save_figure
    fig = Figure(figsize=(6.0, 4.0))
    ax = fig.subplots()
    for label, times in bw.items():
        ax.plot(sizes, [2 * (n - 1) / n * s / t / 1e9 for s, t in zip(sizes, times)], marker="o", label=label)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(sizes, [_size(s) for s in sizes], rotation=45)
    ax.set_xlabel("message size (float32 sum)")
    ax.set_ylabel("bus bandwidth 2(p-1)/p·n/t, GB/s (log scale)")
    ax.set_title(f"all-reduce on {n} ranks (higher is better)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return save_figure(fig, path)


def _gpus():
    from scratchnet import backend
    return backend.cupy().cuda.runtime.getDeviceCount()


def _size(nbytes):
    return f"{nbytes // 2 ** 20} MiB" if nbytes >= 2 ** 20 else f"{nbytes // 1024} KiB"


if __name__ == "__main__":
    sys.exit(main())
