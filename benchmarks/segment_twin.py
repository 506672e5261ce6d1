"""The segmentation U-Net in scratchnet and its PyTorch twin: same network, initial weights (scratchnet's, copied
into torch), data order, loss, optimizer and schedule; each trains the same steps, then both are scored on the same
held-out canvases with the same metric code.

Reports each framework's median time per training step (data preparation excluded: it is the same NumPy code for
both) and the held-out mIoU over the 10 garment classes (background excluded), per seed and as the mean; prints a
table and writes JSON. Each (framework, seed) trains in its own process.
Run: python benchmarks/segment_twin.py --seeds 0 1 [--binary] [--steps N] [--threads 2] [--data DIR] [--json out.json]
     [--checkpoints DIR]
(every setting not given is the app's recipe, segment.RECIPES).
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

import numpy

from _harness import have, run_worker, table


def torch_unet(torch, in_channels=1, num_classes=11, width=16, depth=3, up="transpose"):
    """scratchnet.models.unet written in PyTorch with the same module names, so state dicts load across."""
    nn = torch.nn

    def block(cin, cout):
        return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
                             nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())

    def upsampler(cin, cout):
        if up == "transpose":
            return nn.ConvTranspose2d(cin, cout, 2, stride=2)
        return nn.Sequential(nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False), nn.Conv2d(cin, cout, 1))

    class UNet(nn.Module):
        def __init__(self):
            super().__init__()
            w = [width * 2 ** i for i in range(depth + 1)]
            self.down = nn.ModuleList([block(in_channels if i == 0 else w[i - 1], w[i]) for i in range(depth)])
            self.pool = nn.MaxPool2d(2)
            self.bottleneck = block(w[depth - 1], w[depth])
            self.ups = nn.ModuleList([upsampler(w[i + 1], w[i]) for i in reversed(range(depth))])
            self.up_blocks = nn.ModuleList([block(2 * w[i], w[i]) for i in reversed(range(depth))])
            self.head = nn.Conv2d(width, num_classes, 1)

        def forward(self, x):
            skips = []
            for b in self.down:
                x = b(x)
                skips.append(x)
                x = self.pool(x)
            x = self.bottleneck(x)
            for u, b, s in zip(self.ups, self.up_blocks, reversed(skips)):
                x = b(torch.cat([s, u(x)], 1))
            return self.head(x)

    return UNet()


def torch_dice(torch, logits, target, smooth=1.0):
    """segmentation_metrics.soft_dice_loss(include_background=False) in PyTorch (no ignored pixels here)."""
    p = torch.softmax(logits, 1)
    oh = torch.nn.functional.one_hot(target, logits.shape[1]).movedim(-1, 1).to(p.dtype)
    dims = (0, 2, 3)
    d = (2 * (p * oh).sum(dims) + smooth) / (p.sum(dims) + oh.sum(dims) + smooth)
    return 1 - d[1:].mean()


def worker(job):
    """Train job['steps'] steps with the app's recipe; returns ms per step and the held-out scores."""
    import scratchnet as sn
    from scratchnet.apps import segment
    from scratchnet.apps.segmentation_metrics import ConfusionMatrix, scores_from_confusion
    s = dict(job["settings"], steps=job["steps"], seed=job["seed"])
    train_ds, test_ds = segment.datasets(job["data"], s["binary"], None, job["test_canvases"])
    weight = segment.class_weights(train_ds)
    sn.manual_seed(s["seed"])
    net = segment.unet(1, train_ds.num_classes, s["width"], s["depth"])
    init = {k: v.numpy().copy() for k, v in net.state_dict().items()}    # scratchnet's initial weights, for both
    if job["fw"] == "torch":
        import torch
        torch.manual_seed(s["seed"])
        model = torch_unet(torch, 1, train_ds.num_classes, s["width"], s["depth"]).float()   # as scratchnet: float32
        model.load_state_dict({k: torch.from_numpy(v) for k, v in init.items()})
        opt = torch.optim.AdamW(model.parameters(), lr=s["lr"], weight_decay=s["weight_decay"])
        w = torch.from_numpy(weight)

        def step(x, y, lr):
            for g in opt.param_groups:
                g["lr"] = lr
            logits = model(torch.from_numpy(x))
            target = torch.from_numpy(y)
            loss = torch.nn.functional.cross_entropy(logits, target, weight=w)
            if s["dice_weight"]:
                loss = loss + s["dice_weight"] * torch_dice(torch, logits, target)
            opt.zero_grad()
            loss.backward()
            opt.step()
            return float(loss)

        def predict(x):
            model.eval()
            with torch.no_grad():
                return model(torch.from_numpy(x)).argmax(1).numpy()
    else:
        from scratchnet import optim
        model = net
        opt = optim.AdamW(model.parameters(), lr=s["lr"], weight_decay=s["weight_decay"])
        w = sn.tensor(weight)

        def step(x, y, lr):
            for g in opt.param_groups:
                g["lr"] = lr
            logits = model(sn.tensor(x))
            loss = segment.segmentation_loss(logits, sn.tensor(y), w, s["dice_weight"])
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss.item()   # the same one sync per step as torch's float(loss)

        def predict(x):
            model.eval()
            with sn.no_grad():
                return model(sn.tensor(x)).argmax(1).numpy()
    times, cpu, losses = [], [], []
    for t in range(s["steps"]):
        x, y = segment.batch_arrays(train_ds, segment.batch_indices(len(train_ds), t, s["batch_size"], s["seed"]))
        start, start_cpu = time.perf_counter(), time.process_time()
        losses.append(step(x, y, segment.lr_at(s, t)))
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    cm = ConfusionMatrix(test_ds.num_classes)
    for lo in range(0, len(test_ds), 100):
        x, y = segment.batch_arrays(test_ds, range(lo, min(lo + 100, len(test_ds))))
        cm.update(predict(x).astype(numpy.int64), y)
    scores = scores_from_confusion(cm.matrix())
    if job.get("checkpoint"):   # the trained weights as a scratchnet checkpoint: `scratchnet segment evaluate` reads it
        from scratchnet import io
        state = {k: v.detach().numpy() if job["fw"] == "torch" else v.numpy() for k, v in model.state_dict().items()}
        io.save({"settings": dict(s, test_canvases=len(test_ds), size=test_ds.size), "classes": list(test_ds.classes),
                 "model": state,
                 "step": s["steps"], "history": [], "evals": []}, job["checkpoint"])
    # CPU seconds per step (all threads' time): on a shared machine the one figure others' load barely changes
    return {"ms_per_step": statistics.median(times[min(5, len(times) - 1):]) * 1e3,
            "cpu_s_per_step": statistics.mean(cpu[min(5, len(cpu) - 1):]),
            "miou": scores["miou_no_background"], "miou_with_background": scores["miou"],
            "pixel_accuracy": scores["pixel_accuracy"], "iou": [None if math.isnan(v) else v for v in scores["iou"]],
            "final_loss": statistics.mean(losses[-20:]), "classes": list(test_ds.classes)}


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--binary", action="store_true", help="the garment/background task (its own recipe)")
    p.add_argument("--steps", type=int, default=None, help="default: the app's recipe")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--warmup", type=float, default=None)
    p.add_argument("--weight-decay", type=float, default=1e-2)
    p.add_argument("--dice-weight", type=float, default=1.0)
    p.add_argument("--width", type=int, default=None)
    p.add_argument("--depth", type=int, default=None)
    p.add_argument("--schedule", choices=["cosine", "constant"], default="cosine")
    p.add_argument("--test-canvases", type=int, default=1000)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--data", default=None)
    p.add_argument("--frameworks", nargs="+", default=["scratchnet", "torch"], choices=["scratchnet", "torch"])
    p.add_argument("--json", default=None, help="write the results here")
    p.add_argument("--checkpoints", default=None, metavar="DIR",
                   help="write each run's trained weights as a scratchnet checkpoint, DIR/{framework}_seed{seed}.npz, "
                        "which `scratchnet segment evaluate` scores and draws")
    p.add_argument("--worker")
    args = p.parse_args()
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return 0
    from scratchnet.apps.segment import recipe
    r = recipe(args.binary, steps=args.steps, batch_size=args.batch_size, lr=args.lr, warmup=args.warmup,
               width=args.width, depth=args.depth)   # what `scratchnet segment train` runs unless told otherwise
    args.steps = r.pop("steps")
    settings = dict(r, weight_decay=args.weight_decay, dice_weight=args.dice_weight, schedule=args.schedule,
                    binary=args.binary)
    fws = [fw for fw in args.frameworks if fw != "torch" or have("torch")]
    results, rows = {fw: [] for fw in fws}, []
    for seed in args.seeds:
        for fw in (fws if seed % 2 == 0 else fws[::-1]):
            r = run_worker(__file__, {"fw": fw, "seed": seed, "steps": args.steps, "data": args.data,
                                      "settings": settings, "test_canvases": args.test_canvases,
                                      "checkpoint": args.checkpoints and os.path.join(args.checkpoints,
                                                                                      f"{fw}_seed{seed}.npz")},
                           args.threads)
            results[fw].append(dict(r, seed=seed))
            rows.append([fw, seed, args.steps, f"{r['ms_per_step']:.0f}", f"{r['miou']:.4f}",
                         f"{r['pixel_accuracy']:.4f}"])
            print(f"{fw} seed {seed}: {r['ms_per_step']:.0f} ms/step ({r['cpu_s_per_step']:.3f} CPU s), mIoU "
                  f"{r['miou']:.4f}", file=sys.stderr)
    means = {}
    for fw in fws:
        means[fw] = {k: statistics.mean(v[k] for v in results[fw])
                     for k in ("ms_per_step", "cpu_s_per_step", "miou", "pixel_accuracy")}
        rows.append([fw, "mean", args.steps, f"{means[fw]['ms_per_step']:.0f}", f"{means[fw]['miou']:.4f}",
                     f"{means[fw]['pixel_accuracy']:.4f}"])
    print(table(["framework", "seed", "steps", "ms/step", "mIoU (garments)", "pixel accuracy"], rows))
    if len(means) == 2:
        a, b = means["scratchnet"], means["torch"]
        print(f"scratchnet/torch: step time {a['ms_per_step'] / b['ms_per_step']:.2f}x, "
              f"mIoU difference {a['miou'] - b['miou']:+.4f}")
    if args.json:
        from scratchnet.io import atomic_write_json
        atomic_write_json(args.json, {"steps": args.steps, "seeds": args.seeds, "threads": args.threads,
                                      "settings": settings, "runs": results, "means": means}, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
