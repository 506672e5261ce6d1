"""The ×3 super-resolution network of `scratchnet restore` and its PyTorch twin: same architecture, the same initial
weights (scratchnet's, copied), the same batches in the same order (restore.batch over RestorationPairs), the same
loss (L1), optimizer (Adam) and cosine learning-rate schedule. Each framework trains in its own process; both
trained networks are then scored by the same scratchnet code (restore.evaluate: PSNR-Y/SSIM-Y, border shaved, on
the held-out photos), so any difference comes from the training arithmetic alone.
Run: python benchmarks/restore_twin.py [--steps 2000] [--scale 3] [--threads 2] [--json docs/restore_twin.json]
     python benchmarks/restore_twin.py --steps 20 --json /tmp/twin.json      (a smoke run)
     --scratchnet-run DIR takes scratchnet's side from a finished `scratchnet restore train --steps N --out DIR` of
     the same recipe (its weights are what the worker would compute, step for step) and reports no step time for it.
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import time

import numpy

from _harness import have, run_worker, table

RECIPE = dict(task="sr", model="srresnet", batch_size=16, size=48, pairs=4000, lr=5e-4, seed=0)


def _torch_srresnet(torch, config):
    """scratchnet.models.restoration.SRResNet (batch_norm=False) in PyTorch, with the same parameter names."""
    nn, kw, s = torch.nn, config["kwargs"], config["scale"]
    w, k = kw["width"], kw["tail_kernel"]

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Conv2d(w, w, 3, padding=1), nn.ReLU(), nn.Conv2d(w, w, 3, padding=1))

        def forward(self, x):
            return x + self.body(x)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.head = nn.Sequential(nn.Conv2d(3, w, 9, padding=4), nn.PReLU(w))
            self.body = nn.Sequential(*[Block() for _ in range(kw["blocks"])])
            self.fuse = nn.Sequential(nn.Conv2d(w, w, 3, padding=1))
            factors = [2] * (s.bit_length() - 1) if s & (s - 1) == 0 else [s]
            self.up = nn.Sequential(*[m for r in factors for m in (nn.Conv2d(w, w * r * r, 3, padding=1),
                                                                     nn.PixelShuffle(r), nn.PReLU(w))])
            self.tail = nn.Conv2d(w, 3, k, padding=k // 2)

        def forward(self, x):
            h = self.head(x)
            h = h + self.fuse(self.body(h))
            skip = nn.functional.interpolate(x, scale_factor=s, mode="bicubic", align_corners=False)
            return self.tail(self.up(h)) + skip
    return Net()


def worker(job):
    """Train job['steps'] steps with one framework; save the final weights (npz, scratchnet's names) to
    job['out']; return the median ms per step and the last logged loss."""
    import scratchnet as sn
    from scratchnet.apps import restore
    config = restore.make_config("sr", RECIPE["model"], job["scale"])
    sn.manual_seed(RECIPE["seed"])
    net = restore.build(config)                      # scratchnet's initial weights, for both frameworks
    ds = restore.training_pairs(config, RECIPE["size"], RECIPE["pairs"], RECIPE["seed"])
    steps, lr = job["steps"], RECIPE["lr"]
    if job["fw"] == "torch":
        import torch
        torch.manual_seed(0)
        tnet = _torch_srresnet(torch, config)
        tnet.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in net.state_dict().items()})
        opt = torch.optim.Adam(tnet.parameters(), lr=lr)

        def step(x, y, rate):
            for g in opt.param_groups:
                g["lr"] = rate
            loss = torch.nn.functional.l1_loss(tnet(torch.from_numpy(x)), torch.from_numpy(y))
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss

        def weights():
            return {k: v.detach().numpy() for k, v in tnet.state_dict().items()}
    else:
        opt = sn.optim.Adam(net.parameters(), lr=lr)

        def step(x, y, rate):
            for g in opt.param_groups:
                g["lr"] = rate
            return restore.train_step(net, opt, config, sn.tensor(x), sn.tensor(y))[0]

        def weights():
            return {k: v.numpy() for k, v in net.state_dict().items()}
    times, losses = [], []
    for t in range(steps):
        x, y = restore.batch(ds, t, RECIPE["batch_size"], RECIPE["seed"])
        start = time.perf_counter()
        loss = step(x, y, restore.cosine_lr(lr, t, steps))
        times.append(time.perf_counter() - start)
        if t % 50 == 0 or t + 1 == steps:
            losses.append(float(loss.item()))
    numpy.savez(job["out"], **weights())
    return {"ms_per_step": statistics.median(times[min(5, steps - 1):]) * 1e3, "final_loss": losses[-1]}


def _reuse(run, config, steps):
    """scratchnet's trained network from a `scratchnet restore train` run, refused unless its settings are this
    benchmark's recipe at `steps` steps."""
    import scratchnet as sn
    from scratchnet.apps import restore
    ck = sn.load(os.path.join(run, "checkpoint.npz"))
    want = dict(config=config, steps=steps, size=RECIPE["size"], batch_size=RECIPE["batch_size"], lr=RECIPE["lr"],
                pairs=RECIPE["pairs"], seed=RECIPE["seed"])
    if ck.get("settings") != want or int(ck["step"]) != steps:
        raise SystemExit(f"{run}: its settings {ck.get('settings')} (step {ck['step']}) are not the recipe {want}")
    net = restore.build(config)
    net.load_state_dict(ck["model"])
    return net, {"ms_per_step": None, "final_loss": ck["history"][-1]["loss"]}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--scale", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", default=None, help="also write the results here (e.g. docs/restore_twin.json)")
    p.add_argument("--scratchnet-run", default=None, metavar="DIR",
                   help="reuse this `scratchnet restore train` run (same recipe and steps) for scratchnet's side")
    p.add_argument("--worker")
    args = p.parse_args()
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return
    import scratchnet as sn
    from scratchnet.apps import restore
    config = restore.make_config("sr", RECIPE["model"], args.scale)
    fws = ["scratchnet"] + (["torch"] if have("torch") else [])
    tmp, results, rows = tempfile.mkdtemp(), {}, []
    for fw in fws:
        out = os.path.join(tmp, f"{fw}.npz")
        if fw == "scratchnet" and args.scratchnet_run:
            net, r = _reuse(args.scratchnet_run, config, args.steps)
        else:
            r = run_worker(__file__, {"fw": fw, "steps": args.steps, "scale": args.scale, "out": out}, args.threads)
            net = restore.build(config)
            with numpy.load(out) as z:
                net.load_state_dict({k: sn.tensor(z[k]) for k in z.files})
        _, mean = restore.evaluate(net, config, pictures=False)
        results[fw] = dict(r, **mean)
        rows.append([fw, args.steps, "-" if r["ms_per_step"] is None else f"{r['ms_per_step']:.0f}", f"{r['final_loss']:.4f}", f"{mean['psnr_y']:.3f}",
                     f"{mean['ssim_y']:.4f}", f"{mean['psnr_y_bicubic']:.3f}", f"{mean['ssim_y_bicubic']:.4f}"])
    print(f"×{args.scale} SR on the held-out photos, {RECIPE['model']} {config['kwargs']}, recipe {RECIPE}, "
          f"{args.threads} threads")
    print(table(["framework", "steps", "ms/step", "final L1", "PSNR-Y", "SSIM-Y", "bicubic PSNR-Y",
                 "bicubic SSIM-Y"], rows))
    summary = {"config": config, "recipe": RECIPE, "steps": args.steps, "threads": args.threads, "results": results}
    if len(results) == 2:
        d = results["scratchnet"]["psnr_y"] - results["torch"]["psnr_y"]
        ms = results["scratchnet"]["ms_per_step"]
        ratio = None if ms is None else ms / results["torch"]["ms_per_step"]
        summary.update(psnr_y_difference=d, step_time_ratio=ratio)
        print(f"scratchnet - torch: PSNR-Y {d:+.3f} dB" +
              ("" if ratio is None else f"; step time scratchnet/torch {ratio:.2f}x"))
    if args.json:
        sn.io.atomic_write_json(args.json, summary, indent=1)


if __name__ == "__main__":
    sys.exit(main())
