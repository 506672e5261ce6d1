"""Per-op overhead of scratchnet vs PyTorch CPU (and CuPy when a GPU is present), forward + backward.

small: a 50-layer MLP of 64x64 matmuls + tanh (Python overhead dominates);
large: a chain of 4 1024x1024 matmuls + tanh (BLAS dominates).
Run: python benchmarks/overhead.py [--rounds 5] [--threads 2]
     python benchmarks/overhead.py --calls   (Python function calls per op on the small case, by function, from
                                              cProfile: deterministic, unlike times, so comparable across machines)
"""
import argparse
import json
import statistics
import sys

from _harness import alternate, have, have_gpu, table, time_fn

CASES = {"small": (64, 50), "large": (1024, 4)}


def mlp_step(case, fw="scratchnet"):
    """(step, ops): one forward + backward of `case`'s chain of matmul + tanh in framework fw, and its op count."""
    size, layers = CASES[case]
    sync = lambda: None  # noqa: E731
    if fw == "torch":
        import torch
        torch.manual_seed(0)
        ws = [(torch.randn(size, size) / size ** 0.5).requires_grad_() for _ in range(layers)]
        x = torch.randn(size, size)
    else:
        import scratchnet as sn
        sn.manual_seed(0)
        dev = "cuda" if fw == "scratchnet-cuda" else "cpu"
        ws = [(sn.randn(size, size, device=dev) / size ** 0.5).requires_grad_() for _ in range(layers)]
        x = sn.randn(size, size, device=dev)
        if dev == "cuda":
            import cupy
            sync = cupy.cuda.Device().synchronize

    def step():
        h = x
        for w in ws:
            h = (h @ w).tanh()
        h.sum().backward()
        for w in ws:
            w.grad = None
        sync()
    return step, 2 * layers


def worker(job):
    step, ops = mlp_step(job["case"], job["fw"])
    t = time_fn(step, repeat=20 if job["case"] == "small" else 8)
    return {"step_s": t, "per_op_us": t / ops * 1e6}


def call_profile(steps=10):
    """(calls per op, [(calls per op, function)]) of scratchnet on the small case, counted by cProfile."""
    import cProfile
    import pstats
    step, ops = mlp_step("small")
    step()  # first-use work (imports, BLAS discovery) is not per-op cost
    prof = cProfile.Profile()
    prof.runcall(lambda: [step() for _ in range(steps)])
    stats = pstats.Stats(prof)
    rows = sorted(((v[1] / (steps * ops), f"{k[0].split('scratchnet/')[-1]}:{k[1]}({k[2]})")
                   for k, v in stats.stats.items()), reverse=True)
    return stats.total_calls / (steps * ops), rows


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--worker")
    p.add_argument("--calls", action="store_true", help="print Python calls per op (cProfile) and exit")
    args = p.parse_args()
    if args.calls:
        total, rows = call_profile()
        print(f"Python function calls per op (small case, forward + backward): {total:.1f}")
        print(table(["calls/op", "function"], [[f"{n:.2f}", f] for n, f in rows[:25]]))
        return
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return
    fws = ["scratchnet"] + (["torch"] if have("torch") else []) + (["scratchnet-cuda"] if have_gpu() else [])
    jobs = [{"fw": fw, "case": c} for c in CASES for fw in fws]
    res = alternate(__file__, jobs, args.rounds, args.threads)
    med = {(j["fw"], j["case"]): statistics.median(r["per_op_us"] for r in res[json.dumps(j, sort_keys=True)])
           for j in jobs}
    rows = []
    for c in CASES:
        row = [c] + [f"{med[(fw, c)]:.1f}" for fw in fws]
        if "torch" in fws:
            row.append(f"{med[('scratchnet', c)] / med[('torch', c)]:.2f}x")
        rows.append(row)
    headers = ["case"] + [f"{fw} us/op" for fw in fws] + (["scratchnet/torch"] if "torch" in fws else [])
    print(f"forward+backward time per op (median of {args.rounds} alternated processes, {args.threads} threads)")
    print(table(headers, rows))


if __name__ == "__main__":
    sys.exit(main())
