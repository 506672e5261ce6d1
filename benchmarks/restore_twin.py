"""The super-resolution network of `scratchnet restore` and its PyTorch twin: same architecture, the same initial
weights (scratchnet's, copied), the same batches in the same order (restore.batch over RestorationPairs), the same
loss (L1), optimizer (Adam) and cosine learning-rate schedule. Each framework trains in its own process; both
trained networks are then scored by the same scratchnet code (restore.evaluate: PSNR-Y/SSIM-Y, border shaved, on
the held-out photos), so any difference comes from the training arithmetic alone. A seed sets both the initial
weights and the data order, as `scratchnet restore train --seed` does.

Step cost is CPU seconds (time.process_time) per optimizer step, so other jobs on a shared machine inflate it far
less than wall time; with --threads 1 (the default) it is one core's work. --timing-rounds R adds R alternated
rounds of short runs per framework (each in its own process) and reports the median over all their steps: the
figure the time budget of the shipped recipe is estimated from (steps × CPU s/step + the held-out evaluations
`restore train` runs at each checkpoint).
Run: python benchmarks/restore_twin.py [--steps 2000] [--scale 3] [--seeds 0 1] [--json docs/restore_twin.json]
     python benchmarks/restore_twin.py --steps 0 --timing-rounds 3          (step cost only, no training)
     python benchmarks/restore_twin.py --steps 20 --seeds 0 --json /tmp/twin.json      (a smoke run)
     --scratchnet-weights FILE takes scratchnet's side of the first seed from a network already trained by this
     recipe for --steps steps from that seed (e.g. the shipped ×3 weights: tools/make_restore_weights.py, seed 0,
     2000 steps); only PyTorch trains then, and scratchnet's side has no step cost.
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import time

import numpy

from _harness import alternate, have, run_worker, table

RECIPE = dict(task="sr", model="srresnet", batch_size=16, size=48, pairs=4000, lr=5e-4)


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
    """Train job['steps'] steps (cosine schedule over job['schedule_steps']) with one framework from seed
    job['seed']; save the final weights (npz, scratchnet's names) to job['out'] if given. Returns the CPU seconds
    of every step (the batch assembly, identical code in both, is timed apart), the loss every 50 steps and, for
    scratchnet, the CPU seconds of one held-out evaluation."""
    import scratchnet as sn
    from scratchnet.apps import restore
    config = restore.make_config("sr", RECIPE["model"], job["scale"])
    seed, steps, lr = job["seed"], job["steps"], RECIPE["lr"]
    sn.manual_seed(seed)
    net = restore.build(config)                      # scratchnet's initial weights, for both frameworks
    ds = restore.training_pairs(config, RECIPE["size"], RECIPE["pairs"], seed)
    if job["fw"] == "torch":
        import torch
        torch.manual_seed(seed)
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
    cpu, data_cpu, losses = [], 0.0, []
    for t in range(steps):
        c0 = time.process_time()
        x, y = restore.batch(ds, t, RECIPE["batch_size"], seed)
        c1 = time.process_time()
        loss = step(x, y, restore.cosine_lr(lr, t, job["schedule_steps"]))
        if t % 50 == 0 or t + 1 == steps:
            losses.append([t + 1, float(loss.item())])   # the read-back is part of the step in both
        cpu.append(time.process_time() - c1)
        data_cpu += c1 - c0
    result = {"cpu_s": cpu, "data_cpu_s": data_cpu, "losses": losses}
    if job.get("out"):
        numpy.savez(job["out"], **weights())
    if job["fw"] == "scratchnet" and job.get("time_eval"):
        c0 = time.process_time()
        restore.evaluate(net, config, pictures=False)
        result["eval_cpu_s"] = time.process_time() - c0
    return result


def _trained(path, config):
    """scratchnet's network from a weight file or checkpoint of this recipe's configuration."""
    from scratchnet.apps import restore
    net, got = restore.load_restorer(path)
    if got != config:
        raise SystemExit(f"{path}: its network {got} is not the recipe's {config}")
    return net


def train_twins(args, config, seed, tmp, weights=None):
    """Both frameworks trained from `seed` for args.steps steps (scratchnet's side loaded from `weights` if
    given); returns {fw: figures}."""
    import scratchnet as sn
    from scratchnet.apps import restore
    results = {}
    for fw in ["scratchnet"] + (["torch"] if have("torch") else []):
        if fw == "scratchnet" and weights:
            _, mean = restore.evaluate(_trained(weights, config), config, pictures=False)
            results[fw] = dict(weights=weights, cpu_s_per_step=None, final_loss=None, **mean)
            continue
        out = os.path.join(tmp, f"{fw}_{seed}.npz")
        r = run_worker(__file__, {"fw": fw, "steps": args.steps, "schedule_steps": args.steps, "scale": args.scale,
                                  "seed": seed, "out": out, "time_eval": fw == "scratchnet"}, args.threads)
        net = restore.build(config)
        with numpy.load(out) as z:
            net.load_state_dict({k: sn.tensor(z[k]) for k in z.files})
        _, mean = restore.evaluate(net, config, pictures=False)
        cpu = r.pop("cpu_s")
        results[fw] = dict(r, weights=None, cpu_s_per_step=statistics.median(cpu[min(5, len(cpu) - 1):]),
                           cpu_s_train=sum(cpu) + r["data_cpu_s"], final_loss=r["losses"][-1][1], **mean)
    return results


def step_cost(args):
    """Median CPU seconds per step of each framework over alternated rounds of short runs."""
    fws = ["scratchnet"] + (["torch"] if have("torch") else [])
    jobs = [{"fw": fw, "steps": args.timing_steps, "schedule_steps": args.steps or 2000, "scale": args.scale,
             "seed": 0, "time_eval": fw == "scratchnet"} for fw in fws]
    runs = alternate(__file__, jobs, args.timing_rounds, args.threads)
    out = {}
    for job in jobs:
        rs = runs[json.dumps(job, sort_keys=True)]
        cpu = [c for r in rs for c in r["cpu_s"][3:]]      # the first steps of a process warm caches up
        out[job["fw"]] = dict(cpu_s_per_step=statistics.median(cpu), rounds=len(rs), steps_per_round=job["steps"],
                              per_round=[statistics.median(r["cpu_s"][3:]) for r in rs],
                              data_cpu_s_per_step=statistics.median(r["data_cpu_s"] / job["steps"] for r in rs))
        if job["fw"] == "scratchnet":
            out["scratchnet"]["eval_cpu_s"] = statistics.median(r["eval_cpu_s"] for r in rs)
    return out


def recipe_estimate(cost, steps, evaluations=11):
    """One core's CPU seconds for `scratchnet restore train` at `steps` steps: the steps, their batches, and the
    held-out evaluations (one per checkpoint, a tenth of the run apart, plus the final report's)."""
    c = cost["scratchnet"]
    return steps * (c["cpu_s_per_step"] + c["data_cpu_s_per_step"]) + evaluations * c["eval_cpu_s"]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=2000, help="training steps of each twin run (0: none)")
    p.add_argument("--scale", type=int, default=3)
    p.add_argument("--seeds", type=int, nargs="+", default=[0], help="one twin pair per seed")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--timing-rounds", type=int, default=0, help="alternated rounds of short runs for step cost")
    p.add_argument("--timing-steps", type=int, default=25, help="steps per timing run")
    p.add_argument("--json", default=None, help="also write the results here (e.g. docs/restore_twin.json)")
    p.add_argument("--scratchnet-weights", default=None, metavar="FILE",
                   help="scratchnet's side of the first seed, already trained by this recipe (not timed)")
    p.add_argument("--worker")
    args = p.parse_args()
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return
    import scratchnet as sn
    from scratchnet.apps import restore
    config = restore.make_config("sr", RECIPE["model"], args.scale)
    tmp, summary, rows = tempfile.mkdtemp(), {"config": config, "recipe": RECIPE, "steps": args.steps,
                                             "threads": args.threads, "seeds": {}}, []
    for i, seed in enumerate(args.seeds if args.steps > 0 else []):
        res = train_twins(args, config, seed, tmp, args.scratchnet_weights if i == 0 else None)
        summary["seeds"][str(seed)] = res
        for fw, r in res.items():
            rows.append([seed, fw, args.steps, "-" if r["weights"] else f"{r['cpu_s_per_step']:.3f}",
                         "-" if r["weights"] else f"{r['final_loss']:.4f}",
                         f"{r['psnr_y']:.3f}", f"{r['ssim_y']:.4f}", f"{r['psnr_y_bicubic']:.3f}",
                         f"{r['ssim_y_bicubic']:.4f}"])
        if len(res) == 2:
            res["psnr_y_difference"] = res["scratchnet"]["psnr_y"] - res["torch"]["psnr_y"]
            res["ssim_y_difference"] = res["scratchnet"]["ssim_y"] - res["torch"]["ssim_y"]
    if rows:
        print(f"×{args.scale} SR on the held-out photos, {RECIPE['model']} {config['kwargs']}, recipe {RECIPE}, "
              f"{args.threads} thread(s)")
        print(table(["seed", "framework", "steps", "CPU s/step", "final L1", "PSNR-Y", "SSIM-Y", "bicubic PSNR-Y",
                     "bicubic SSIM-Y"], rows))
        for seed, res in summary["seeds"].items():
            if "psnr_y_difference" in res:
                print(f"seed {seed}: scratchnet - torch PSNR-Y {res['psnr_y_difference']:+.3f} dB, "
                      f"SSIM-Y {res['ssim_y_difference']:+.4f}")
    if args.timing_rounds:
        cost = summary["step_cost"] = step_cost(args)
        print(f"CPU s/step (median, {args.timing_rounds} alternated rounds of {args.timing_steps} steps, "
              f"{args.threads} thread(s)): " + ", ".join(f"{fw} {c['cpu_s_per_step']:.3f}" for fw, c in cost.items()))
        if "torch" in cost:
            summary["step_cost_ratio"] = cost["scratchnet"]["cpu_s_per_step"] / cost["torch"]["cpu_s_per_step"]
            print(f"scratchnet/torch: {summary['step_cost_ratio']:.2f}x")
        n = args.steps or 2000
        est = summary["recipe_cpu_s_estimate"] = recipe_estimate(cost, n)
        print(f"`scratchnet restore train --scale {args.scale} --steps {n}` on one core: about {est / 60:.1f} CPU "
              f"minutes ({n} × (step + batch) + 11 held-out evaluations of "
              f"{cost['scratchnet']['eval_cpu_s']:.1f} s)")
    if args.json:
        sn.io.atomic_write_json(args.json, summary, indent=1)


if __name__ == "__main__":
    sys.exit(main())
