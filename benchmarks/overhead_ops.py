"""Per-op overhead on small tensors, op by op, against PyTorch CPU: CPU time (`time.process_time`) per op on one
thread, so that a busy machine moves the figures little (wall time would measure the neighbours).

Each op kind runs as a chain of CHAIN applications on 16x16 float32 tensors (the op's own arithmetic is then a few
hundred nanoseconds: what is measured is the Python path around it; `mlp64` is overhead.py's small case, 64x64
matmul + tanh, per op), in three forms:
  fwd      the chain on a leaf that requires grad (the graph is recorded, nothing walks it)
  fwd+bwd  the chain, `.sum().backward()`, the leaves' .grad cleared
  step     an optimizer step over N_PARAMS small parameters (time per parameter)
Each framework (and `--baseline`, an older scratchnet checkout, for an A/B of a change) runs in its own process,
the processes alternated round by round; each figure is the median over rounds of a median over timed batches.

Run: python benchmarks/overhead_ops.py [--rounds 7] [--baseline /path/to/old/checkout] [--quick]
"""
import argparse
import json
import os
import statistics
import sys
import time

from _harness import alternate, have, table

CHAIN, SIZE, N_PARAMS = 20, 16, 200

# name: (the op on h (the chain so far) and w (a second leaf of h's shape), the shape h starts with[, ops a link])
OPS = {
    "add": (lambda h, w: h + w, (SIZE, SIZE)),
    "mul": (lambda h, w: h * w, (SIZE, SIZE)),
    "add number": (lambda h, w: h + 1.0, (SIZE, SIZE)),
    "mul number": (lambda h, w: h * 0.5, (SIZE, SIZE)),
    "matmul": (lambda h, w: h @ w, (SIZE, SIZE)),
    "tanh": (lambda h, w: h.tanh(), (SIZE, SIZE)),
    "relu": (lambda h, w: h.relu(), (SIZE, SIZE)),
    "sigmoid": (lambda h, w: h.sigmoid(), (SIZE, SIZE)),
    "sum(dim)": (lambda h, w: h.sum(-1, keepdim=True), (SIZE, 1)),
    "reshape": (lambda h, w: h.reshape(SIZE, SIZE) if h.ndim == 1 else h.reshape(SIZE * SIZE), (SIZE, SIZE)),
    "slice": (lambda h, w: h[:SIZE], (SIZE, SIZE)),
    "transpose": (lambda h, w: h.T, (SIZE, SIZE)),
    "softmax": (lambda h, w: h.softmax(-1), (SIZE, SIZE)),
    # overhead.py's small case: 64x64 matmul + tanh, two ops a link
    "mlp64": (lambda h, w: (h @ w).tanh(), (64, 64), 2),
}
STEPS = ("sgd", "sgd momentum", "adam")


def _framework(fw):
    """(randn(*shape) -> leaf requiring grad, the module with optim) for 'torch' or scratchnet."""
    if fw == "torch":
        import torch
        torch.set_num_threads(1)
        torch.manual_seed(0)
        return (lambda *s: (torch.randn(*s) * 0.5).requires_grad_()), torch
    import scratchnet as sn
    sn.manual_seed(0)
    return (lambda *s: (sn.randn(*s) * 0.5).requires_grad_()), sn


def cpu_time_per_call(fn, batch_s=0.01, batches=9):
    """CPU seconds per call of fn: the least over `batches` timed batches, each ~batch_s long (the neighbours on a
    shared machine only ever add time, by evicting caches: the least is the op's own cost)."""
    fn()
    n, t = 1, 0.0
    while t < batch_s / 4:  # calibrate the batch size
        t0 = time.process_time()
        for _ in range(n):
            fn()
        t = time.process_time() - t0
        n *= 2
    n = max(1, int(n / 2 * batch_s / max(t, 1e-9)))
    times = []
    for _ in range(batches):
        t0 = time.process_time()
        for _ in range(n):
            fn()
        times.append((time.process_time() - t0) / n)
    return min(times)


def cases(fw, batches, only=None):
    """{case: microseconds per op (per parameter for an optimizer step)}, of the op kinds named in `only` (all)."""
    leaf, mod = _framework(fw)
    out = {}
    for name, (op, shape, *per_link) in OPS.items():
        if only and name not in only:
            continue
        ops = CHAIN * (per_link[0] if per_link else 1)
        x, w = leaf(*shape), leaf(*shape)

        def forward():
            h = x
            for _ in range(CHAIN):
                h = op(h, w)
            return h

        def forward_backward():
            forward().sum().backward()
            x.grad = w.grad = None
        out[f"{name} fwd"] = cpu_time_per_call(forward, batches=batches) / ops * 1e6
        out[f"{name} fwd+bwd"] = cpu_time_per_call(forward_backward, batches=batches) / ops * 1e6
    for name in STEPS:
        if only and name not in only:
            continue
        params = [leaf(SIZE, SIZE) for _ in range(N_PARAMS)]
        for p in params:
            p.grad = p.detach() * 0.01
        opt = mod.optim.Adam(params, lr=1e-3) if name == "adam" else \
            mod.optim.SGD(params, lr=1e-3, momentum=0.9 if "momentum" in name else 0)
        out[f"{name} step"] = cpu_time_per_call(opt.step, batches=batches) / N_PARAMS * 1e6
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--baseline", help="an older scratchnet checkout to compare with (A/B of a change)")
    p.add_argument("--quick", action="store_true", help="one round of short batches: a smoke run, not a figure")
    p.add_argument("--only", nargs="+", metavar="KIND", help=f"only these: {', '.join([*OPS, *STEPS])}")
    p.add_argument("--no-torch", action="store_true", help="scratchnet (and --baseline) only")
    p.add_argument("--worker")
    args = p.parse_args()
    if args.worker:
        job = json.loads(args.worker)
        if "root" in job:  # the baseline's scratchnet, not this checkout's (which _harness put on the path)
            sys.path.insert(0, job["root"])
        print(json.dumps(cases(job["fw"], job["batches"], job["only"])))
        return
    for kind in args.only or ():
        if kind not in OPS and kind not in STEPS:
            p.error(f"--only: unknown kind {kind!r}; the kinds are {', '.join([*OPS, *STEPS])}")
    batches = 3 if args.quick else 9
    rounds = 1 if args.quick else args.rounds
    jobs = []
    if args.baseline:
        jobs.append({"fw": "baseline", "root": os.path.abspath(args.baseline)})
    jobs.append({"fw": "scratchnet"})
    if have("torch") and not args.no_torch:
        jobs.append({"fw": "torch"})
    for j in jobs:
        j.update(batches=batches, only=args.only)
    res = alternate(__file__, jobs, rounds, threads=1)
    med = {j["fw"]: {} for j in jobs}
    for j in jobs:
        runs = res[json.dumps(j, sort_keys=True)]
        for case in runs[0]:
            med[j["fw"]][case] = statistics.median(r[case] for r in runs)
    fws = [j["fw"] for j in jobs]
    headers = ["case"] + [f"{fw} us" for fw in fws]
    if "torch" in fws:
        headers.append("scratchnet/torch")
    if args.baseline:
        headers.append("scratchnet/baseline")
    rows = []
    for case in med["scratchnet"]:
        row = [case] + [f"{med[fw][case]:.2f}" for fw in fws]
        if "torch" in fws:
            row.append(f"{med['scratchnet'][case] / med['torch'][case]:.2f}x")
        if args.baseline:
            row.append(f"{med['scratchnet'][case] / med['baseline'][case]:.2f}x")
        rows.append(row)
    print(f"CPU time per op on 1 thread (per parameter for a step), {SIZE}x{SIZE} float32, chains of {CHAIN}; "
          f"median of {rounds} alternated rounds")
    print(table(headers, rows))


if __name__ == "__main__":
    sys.exit(main())
