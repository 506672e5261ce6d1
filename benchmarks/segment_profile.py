"""Where the U-Net training step spends its time, op by op, in scratchnet and in PyTorch: CPU seconds per step of
each op's forward and backward, grouped into the same categories for both (conv, conv-transpose, batch norm, ReLU,
max-pool, concatenation, loss, optimizer, the rest), next to each framework's whole step.

CPU time (time.process_time) on one thread, not wall time: on a shared machine another process's load moves wall
time but hardly the CPU seconds this process spends. `--clock wall` times wall seconds instead (a quiet machine,
e.g. 2 threads: which ops leave the second core idle). Each framework runs in its own process (synthetic canvases and
masks; the ops' cost does not depend on the values). scratchnet: every Function's forward, and every backward step of
the walk (a backward's own Functions included), timed exclusively; torch: torch.profiler's self CPU time per aten op,
scaled so that its sum is the step's CPU time.
Run: python benchmarks/segment_profile.py [--batch-size 32 --width 16 --depth 3 --size 64] [--steps 5] [--top 15]
     python benchmarks/segment_profile.py --step-only --rounds 3   (the whole step only, frameworks alternated)
"""
import argparse
import re
import statistics
import sys
import time

import numpy

from _harness import have, run_worker, table

# (category, pattern over scratchnet Function names and torch op names, lower case)
CATEGORIES = [
    ("conv-transpose", r"convtranspose|conv_transpose|convolutionbackward.*transposed"),
    ("conv", r"conv|mkldnn_convolution|_slow_conv2d|thnn_conv|im2col|col2im"),
    ("batch norm", r"batch_?norm|batchnorm"),
    ("relu", r"relu|threshold"),
    ("max-pool", r"max_?pool"),
    ("concatenation", r"^cat|aten::cat|^concat"),
    ("loss", r"^loss|softmax|nll|cross_entropy|one_hot|dice|logsum|^(mul|sum|mean|div|rsub|slice) bwd"),
    ("optimizer", r"^optimizer|adam|_foreach"),
]


def category(name):
    low = name.lower()
    for cat, pattern in CATEGORIES:
        if re.search(pattern, low):
            return cat
    return "rest"


def synthetic_batch(n, size, classes, seed=0):
    rng = numpy.random.default_rng(seed)
    return (rng.random((n, 1, size, size), dtype=numpy.float32),
            rng.integers(0, classes, (n, size, size)).astype(numpy.int64))


def _scratchnet_step(job):
    import scratchnet as sn
    from scratchnet import optim
    from scratchnet.apps.segment import segmentation_loss
    from scratchnet.models.unet import unet
    sn.manual_seed(0)
    model = unet(1, job["classes"], job["width"], job["depth"], job["up"])
    opt = optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-2)
    x, y = synthetic_batch(job["batch_size"], job["size"], job["classes"])
    x, y, w = sn.tensor(x), sn.tensor(y), sn.tensor(numpy.linspace(0.5, 2, job["classes"]).astype(numpy.float32))

    def step(owner=_no_owner):
        logits = model(x)
        with owner("loss"):
            loss = segmentation_loss(logits, y, w, job["dice_weight"])
        with owner("optimizer"):
            opt.zero_grad()
        loss.backward()
        with owner("optimizer"):
            opt.step()
        return loss.item()
    return step


_clock = time.process_time   # time.perf_counter with --clock wall


class _no_owner:
    def __init__(self, name):
        pass

    def __enter__(self):
        pass

    def __exit__(self, *exc):
        pass


class _Profiler:
    """Exclusive CPU time per op. An op is named after its owner, the innermost leaf module (Conv2d, BatchNorm2d) or
    named region ("loss", "optimizer") it ran in, else after its Function; a Function's backward keeps the name of
    the owner that called it forward. Functions called by another Function (or by a backward) count in the
    caller's time."""

    def __init__(self):
        self.totals, self.owners, self.stack = {}, [], []   # stack: [key, start] of the timed calls, outermost first

    def _begin(self, key):
        now = _clock()
        if self.stack:
            outer = self.stack[-1]
            self.totals[outer[0]] = self.totals.get(outer[0], 0.0) + now - outer[1]
        self.stack.append([key, now])

    def _end(self):
        now = _clock()
        key, started = self.stack.pop()
        self.totals[key] = self.totals.get(key, 0.0) + now - started
        if self.stack:
            self.stack[-1][1] = now

    def owner(self, name):
        prof = self

        class Owner:
            def __enter__(self):
                prof.owners.append(name)
                prof._begin(name)

            def __exit__(self, *exc):
                prof._end()
                prof.owners.pop()
        return Owner()

    def install(self):
        from scratchnet.autograd import Function
        from scratchnet.nn.module import Module
        call, grads, module_call = Function.__call__, Function.input_grads, Module.__call__
        prof = self

        def timed_call(fn, *a):
            if prof.stack and prof.stack[-1][0].endswith((" fwd", " bwd")):   # inside another op: its time
                return call(fn, *a)
            owner = prof.owners[-1] if prof.owners else type(fn).__name__
            fn._profile_owner = owner
            prof._begin(owner if owner in ("loss", "optimizer") else owner + " fwd")
            try:
                return call(fn, *a)
            finally:
                prof._end()

        def timed_grads(fn, *a):
            prof._begin(getattr(fn, "_profile_owner", type(fn).__name__) + " bwd")
            try:
                return grads(fn, *a)
            finally:
                prof._end()

        def owned_call(module, *a, **k):
            if module._modules:      # a container: its leaves own the ops
                return module_call(module, *a, **k)
            prof.owners.append(type(module).__name__)
            try:
                return module_call(module, *a, **k)
            finally:
                prof.owners.pop()
        Function.__call__, Function.input_grads, Module.__call__ = timed_call, timed_grads, owned_call

        def uninstall():
            Function.__call__, Function.input_grads, Module.__call__ = call, grads, module_call
        return uninstall


def _step_times(step, n):
    times = []
    for _ in range(n):
        t = _clock()
        step()
        times.append(_clock() - t)
    return times


def profile_scratchnet(job):
    """{op: CPU seconds per step}, step CPU seconds (measured without the profiler)."""
    step = _scratchnet_step(job)
    step()
    plain = _step_times(step, job["steps"])   # the step without the profiler's own cost
    if not job["ops"]:
        return {}, min(plain)
    prof = _Profiler()
    uninstall = prof.install()
    totals = []
    for _ in range(job["steps"]):
        t = _clock()
        step(prof.owner)
        totals.append(_clock() - t)
    uninstall()
    ops = {k: v / job["steps"] for k, v in prof.totals.items()}
    ops["(untimed python)"] = max(0.0, statistics.mean(totals) - sum(ops.values()))
    return ops, min(plain)


def _leaf_ranges(torch, model):
    """Forward hooks that open a profiler range named after each leaf module around its forward."""
    from torch.autograd.profiler import record_function
    for m in model.modules():
        if not list(m.children()):
            def pre(mod, inputs):
                mod._profile_range = record_function(type(mod).__name__)
                mod._profile_range.__enter__()

            def post(mod, inputs, output):
                mod._profile_range.__exit__(None, None, None)
            m.register_forward_pre_hook(pre)
            m.register_forward_hook(post)


def _torch_owner(event):
    """The name an event's self time counts under: the module or region ("loss", "optimizer") whose range it ran
    in (forward), or the autograd node it ran for (backward; a transposed conv's node is told by its 2x2 weight)."""
    e = event
    while e is not None:
        if e.name in ("loss", "optimizer") or e.name.startswith("Optimizer."):
            return "optimizer" if e.name.startswith("Optimizer.") else e.name
        node = re.fullmatch(r"(?:autograd::engine::evaluate_function: )?(\w+)Backward\d+", e.name)
        if node:
            node = node.group(1)
            if node == "Convolution":
                shapes = [sh for c in [event, e] + list(e.cpu_children) for sh in (c.input_shapes or [])]
                node = "ConvTranspose2d" if any(len(sh) == 4 and sh[2:] == [2, 2] for sh in shapes) else "Conv2d"
            return node + " bwd"
        if not e.name.startswith(("aten::", "autograd::", "torch::", "[")):
            return e.name + " fwd"
        e = e.cpu_parent
    return event.name


def profile_torch(job):
    import torch
    from torch.autograd.profiler import record_function
    from segment_twin import torch_dice, torch_unet
    torch.manual_seed(0)
    model = torch_unet(torch, 1, job["classes"], job["width"], job["depth"], job["up"])
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-2)
    x, y = (torch.from_numpy(a) for a in synthetic_batch(job["batch_size"], job["size"], job["classes"]))
    w = torch.from_numpy(numpy.linspace(0.5, 2, job["classes"]).astype(numpy.float32))

    def step():
        logits = model(x)
        with record_function("loss"):
            loss = torch.nn.functional.cross_entropy(logits, y, weight=w)
            if job["dice_weight"]:
                loss = loss + job["dice_weight"] * torch_dice(torch, logits, y)
        with record_function("optimizer"):
            opt.zero_grad()
        loss.backward()
        with record_function("optimizer"):
            opt.step()
        return float(loss)
    for _ in range(2):
        step()
    plain = _step_times(step, job["steps"])
    if not job["ops"]:
        return {}, min(plain)
    _leaf_ranges(torch, model)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU], record_shapes=True) as prof:
        for _ in range(job["steps"]):
            step()
    ops = {}
    for e in prof.events():
        if e.self_cpu_time_total > 0:
            k = _torch_owner(e)
            ops[k] = ops.get(k, 0.0) + e.self_cpu_time_total / 1e6 / job["steps"]
    scale = min(plain) / max(sum(ops.values()), 1e-12)   # wall-clock profile scaled to the step's seconds
    return {k: v * scale for k, v in ops.items()}, min(plain)


def worker(job):
    global _clock
    _clock = time.perf_counter if job.get("clock") == "wall" else time.process_time
    ops, step = (profile_torch if job["fw"] == "torch" else profile_scratchnet)(job)
    return {"ops": ops, "step_s": step}


def step_table(job, fws, args):
    """The whole step's CPU time per framework: --rounds processes each, alternated, best and median."""
    times = {fw: [] for fw in fws}
    for r in range(args.rounds):
        for fw in (fws if r % 2 == 0 else fws[::-1]):
            times[fw].append(run_worker(__file__, dict(job, fw=fw, ops=False), args.threads)["step_s"])
    rows = [[fw, f"{min(t) * 1e3:.1f}", f"{statistics.median(t) * 1e3:.1f}"] for fw, t in times.items()]
    print(f"U-Net step, {args.clock.upper()} ms on {args.threads} thread(s): batch {args.batch_size}, width {args.width}, depth "
          f"{args.depth}, {args.size}x{args.size}, up={args.up}")
    print(table(["framework", "best ms", "median ms"], rows))
    if len(fws) == 2:
        print(f"scratchnet/torch: {min(times['scratchnet']) / min(times['torch']):.2f}x (best), "
              f"{statistics.median(times['scratchnet']) / statistics.median(times['torch']):.2f}x (median)")
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--width", type=int, default=16)
    p.add_argument("--depth", type=int, default=3)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--classes", type=int, default=11)
    p.add_argument("--up", choices=["transpose", "bilinear"], default="transpose")
    p.add_argument("--dice-weight", type=float, default=1.0)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--top", type=int, default=15, help="also list each framework's most expensive ops")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--frameworks", nargs="+", default=["scratchnet", "torch"], choices=["scratchnet", "torch"])
    p.add_argument("--step-only", action="store_true",
                   help="no per-op profile: the whole step's CPU time, frameworks alternated over --rounds")
    p.add_argument("--rounds", type=int, default=3, help="with --step-only: processes per framework (min taken)")
    p.add_argument("--clock", choices=["cpu", "wall"], default="cpu",
                   help="cpu: process CPU seconds (a shared machine); wall: wall seconds (a quiet one)")
    p.add_argument("--worker")
    args = p.parse_args()
    if args.worker:
        import json
        print(json.dumps(worker(json.loads(args.worker))))
        return 0
    job = {k: getattr(args, k) for k in ("batch_size", "width", "depth", "size", "classes", "up", "dice_weight",
                                         "steps", "clock")}
    fws = [fw for fw in args.frameworks if fw != "torch" or have("torch")]
    if args.step_only:
        return step_table(job, fws, args)
    res = {fw: run_worker(__file__, dict(job, fw=fw, ops=True), args.threads) for fw in fws}
    cats = {fw: {} for fw in fws}
    for fw in fws:
        for name, t in res[fw]["ops"].items():
            c = category(name)
            cats[fw][c] = cats[fw].get(c, 0.0) + t
    names = [c for c, _ in CATEGORIES] + ["rest"]
    rows = []
    for c in names:
        row = [c] + [f"{cats[fw].get(c, 0.0) * 1e3:.1f}" for fw in fws]
        if len(fws) == 2:
            b = cats["torch"].get(c, 0.0)
            row.append(f"{cats['scratchnet'].get(c, 0.0) / b:.2f}x" if b > 0 else "-")
        rows.append(row)
    rows.append(["whole step"] + [f"{res[fw]['step_s'] * 1e3:.1f}" for fw in fws]
                + ([f"{res['scratchnet']['step_s'] / res['torch']['step_s']:.2f}x"] if len(fws) == 2 else []))
    print(f"U-Net step, {args.clock.upper()} ms per step on {args.threads} thread(s): batch {args.batch_size}, width {args.width}, "
          f"depth {args.depth}, {args.size}x{args.size}, up={args.up}")
    print(table(["category"] + [f"{fw} ms" for fw in fws] + (["ratio"] if len(fws) == 2 else []), rows))
    for fw in fws:
        top = sorted(res[fw]["ops"].items(), key=lambda kv: -kv[1])[:args.top]
        print(f"\n{fw}: most expensive ops ({args.clock.upper()} ms per step)")
        print(table(["op", "ms", "category"], [[k, f"{v * 1e3:.1f}", category(k)] for k, v in top]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
