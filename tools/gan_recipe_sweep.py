"""Measure a candidate recipe for the demo gallery's conditional GAN: train it once and score (apps.gan_metrics.Quality,
1,000 samples against the full test set) the last iterate and several EMAs of G at the chosen steps, so one run
answers "which decay, after how many steps". Appends one JSON line per run to --log.

    python tools/gan_recipe_sweep.py --steps 800 --eval-at 500 600 700 800 --emas 0.99 0.995 --lr-d 1e-3
"""
import argparse
import json
import math
import time

import numpy

from scratchnet import creation
from scratchnet.apps.gan import GANRun, _batch
from scratchnet.apps.gan_metrics import Quality
from scratchnet.data import FashionMNIST
from scratchnet.optim.swa_utils import AveragedModel, get_ema_avg_fn
from scratchnet.rng import manual_seed


class _Sampler:
    """What Quality reads from a run, with another generator (an EMA) as the sampler."""

    def __init__(self, run, g):
        self.config, self.device, self.labels, self.sampler, self.g = run.config, run.device, run.labels, g, g


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--model", default="dcgan-small")
    p.add_argument("--steps", type=int, default=800)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--lr-d", type=float, default=None)
    p.add_argument("--beta1", type=float, default=0.5)
    p.add_argument("--beta2", type=float, default=0.999)
    p.add_argument("--tail", type=float, default=0.0,
                   help="anneal both learning rates linearly to --tail-to·lr over this last fraction of the steps")
    p.add_argument("--tail-to", type=float, default=0.0)
    p.add_argument("--mode-seeking", type=float, default=None)
    p.add_argument("--no-reuse-fake", action="store_true")
    p.add_argument("--emas", type=float, nargs="+", default=[0.99])
    p.add_argument("--eval-at", type=int, nargs="+", default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--log", default="out/gan_sweep.jsonl")
    p.add_argument("--name", default="")
    a = p.parse_args(argv)
    eval_at = set(a.eval_at or [a.steps])
    manual_seed(a.seed)
    ds = FashionMNIST(train=True)
    run = GANRun(a.model, True, "bce", lr=a.lr, lr_d=a.lr_d, betas=(a.beta1, a.beta2), num_classes=10,
                 mode_seeking=a.mode_seeking, ema=a.emas[0], reuse_fake=not a.no_reuse_fake)
    creation.randn(64, run.config["z_dim"])   # train_gan's fixed noise: the same random stream from here on
    extra = {d: AveragedModel(run.g, get_ema_avg_fn(d), use_buffers=True) for d in a.emas[1:]}
    measure = Quality(FashionMNIST(train=False).images, 1000)
    results, t0, c0 = [], time.perf_counter(), time.process_time()
    lrs = {id(run.opt_g): run.config["lr"], id(run.opt_d): run.config["lr_d"]}
    for step in range(a.steps):
        if a.tail:
            start = a.steps * (1 - a.tail)
            f = 1.0 if step < start else 1 - (1 - a.tail_to) * (step - start) / (a.steps - start)
            for opt in (run.opt_g, run.opt_d):
                for group in opt.param_groups:
                    group["lr"] = lrs[id(opt)] * f
        x, y = _batch(ds.images, ds.targets, step, a.batch_size, a.seed)
        real = creation.tensor(x.astype(numpy.float32)[:, None] / 127.5 - 1)
        run.step(real, run.labels(y))
        for m in extra.values():
            m.update_parameters(run.g)
        if step + 1 in eval_at:
            row = {"step": step + 1, f"ema{a.emas[0]}": measure(run, step + 1)}
            row.update({f"ema{d}": measure(_Sampler(run, m.module), step + 1) for d, m in extra.items()})
            for v in row.values():
                if isinstance(v, dict):
                    v.pop("step", None)
            results.append(row)
            print(json.dumps(row), f"{time.process_time() - c0:.0f} CPU-s", flush=True)
    rec = {"name": a.name, "args": vars(a), "results": results,
           "cpu_s": round(time.process_time() - c0, 1), "wall_s": round(time.perf_counter() - t0, 1),
           "step_cpu_s": round((time.process_time() - c0) / a.steps, 4)}
    with open(a.log, "a") as f:
        f.write(json.dumps(rec) + "\n")
    return rec


if __name__ == "__main__":
    main()
