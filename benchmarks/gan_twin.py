"""The conditional DCGAN in scratchnet and its PyTorch twin: same architecture, hyperparameters, steps and data order.

Reports each framework's time per step and the quality of its samples measured with the same scratchnet metric
(Fréchet distance in the shipped classifier's features against the real test set, and class consistency).
Each (framework, seed) trains in its own process.
Run: python benchmarks/gan_twin.py [--steps 2000] [--seeds 0 1] [--threads 2] [--data DIR]
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import time

import numpy

from _harness import efficiency, have, run_worker, sgemm_peak, table

Z, EMBED, CLASSES = 100, 50, 10


def _torch_models(torch):
    nn = torch.nn

    class G(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(CLASSES, EMBED)
            self.fc = nn.Linear(Z + EMBED, 256 * 7 * 7, bias=False)
            self.bn = nn.BatchNorm1d(256 * 7 * 7)
            self.act = nn.LeakyReLU(0.2)
            self.net = nn.Sequential(
                nn.ConvTranspose2d(256, 128, 5, 1, 2, bias=False), nn.BatchNorm2d(128), nn.LeakyReLU(0.2),
                nn.ConvTranspose2d(128, 64, 4, 2, 1, bias=False), nn.BatchNorm2d(64), nn.LeakyReLU(0.2),
                nn.ConvTranspose2d(64, 1, 4, 2, 1), nn.Tanh())

        def forward(self, z, y):
            h = self.act(self.bn(self.fc(torch.cat([z, self.embed(y)], 1))))
            return self.net(h.reshape(-1, 256, 7, 7))

    class D(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(CLASSES, EMBED)
            self.label_map = nn.Linear(EMBED, 28 * 28)
            self.features = nn.Sequential(nn.Conv2d(2, 64, 4, 2, 1), nn.LeakyReLU(0.2), nn.Dropout(0.3),
                                          nn.Conv2d(64, 128, 4, 2, 1), nn.LeakyReLU(0.2), nn.Dropout(0.3),
                                          nn.Flatten())
            self.fc = nn.Linear(128 * 7 * 7, 1)
            self.project = nn.Embedding(CLASSES, 128 * 7 * 7)

        def forward(self, x, y):
            h = self.features(torch.cat([x, self.label_map(self.embed(y)).reshape(-1, 1, 28, 28)], 1))
            return self.fc(h) + (self.project(y) * h).sum(1, keepdim=True)

    def init(m):
        for mod in m.modules():
            if isinstance(mod, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
                nn.init.normal_(mod.weight, 0, 0.02)
                if getattr(mod, "bias", None) is not None:
                    nn.init.zeros_(mod.bias)
            elif isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d)):
                nn.init.normal_(mod.weight, 1, 0.02)
                nn.init.zeros_(mod.bias)
            elif isinstance(mod, nn.Embedding) and mod.embedding_dim == 128 * 7 * 7:   # the projection
                nn.init.normal_(mod.weight, 0, 0.02)
        return m
    return init(G()), init(D())


def worker(job):
    """Train `steps` steps, then write 1,000 samples per class to job['out'] (npz); returns ms per step."""
    from scratchnet.apps.gan import _batch
    from scratchnet.data import FashionMNIST
    ds = FashionMNIST(root=job["data"], train=True)
    steps, bs, seed = job["steps"], 64, job["seed"]
    labels = numpy.repeat(numpy.arange(CLASSES), 1000)
    if job["fw"] == "torch":
        import torch
        torch.manual_seed(seed)
        g, d = _torch_models(torch)
        og = torch.optim.Adam(g.parameters(), 2e-4, betas=(0.5, 0.999))
        od = torch.optim.Adam(d.parameters(), 2e-4, betas=(0.5, 0.999))
        bce = torch.nn.functional.binary_cross_entropy_with_logits

        def step(x, y):
            real, lab = torch.from_numpy(x.astype(numpy.float32)[:, None] / 127.5 - 1), torch.from_numpy(y)
            fake = g(torch.randn(len(y), Z), lab).detach()
            dr, df = d(real, lab), d(fake, lab)
            ld = bce(dr, torch.ones_like(dr)) + bce(df, torch.zeros_like(df))
            od.zero_grad(), ld.backward(), od.step()
            h = len(y) // 2           # two noises per class for the mode-seeking term (weight 0.1)
            lab2 = torch.cat([lab[:h], lab[:h]])
            z = torch.randn(2 * h, Z)
            fake = g(z, lab2)
            df = d(fake, lab2)
            ms = (fake[:h] - fake[h:]).abs().mean() / (z[:h] - z[h:]).abs().mean()
            lg = bce(df, torch.ones_like(df)) + 0.1 / (ms + 1e-5)
            og.zero_grad(), lg.backward(), og.step()

        def sample():
            g.eval()
            with torch.no_grad():
                return g(torch.randn(len(labels), Z), torch.from_numpy(labels)).numpy()
    else:
        import scratchnet as sn
        from scratchnet.apps.gan import GANRun
        sn.manual_seed(seed)
        run = GANRun("dcgan", True, "bce")

        def step(x, y):
            run.step(sn.tensor(x.astype(numpy.float32)[:, None] / 127.5 - 1), y)

        def sample():
            return run.sample(len(labels), labels).numpy()
    times = []
    for t in range(steps):
        x, y = _batch(ds.images, ds.targets, t, bs, seed)
        start = time.perf_counter()
        step(x, y)
        times.append(time.perf_counter() - start)
    numpy.savez(job["out"], images=((numpy.clip(sample()[:, 0], -1, 1) + 1) * 127.5).astype(numpy.uint8),
                labels=labels)
    return {"ms_per_step": statistics.median(times[min(5, steps - 1):]) * 1e3}


def _diversity(images, labels):
    """Mean over classes of the per-pixel standard deviation across that class's images, in [0, 1] units."""
    x = numpy.asarray(images, numpy.float32) / 255
    return float(numpy.mean([x[labels == c].std(0).mean() for c in numpy.unique(labels)]))


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--data", default=None)
    p.add_argument("--frameworks", nargs="+", default=["scratchnet", "torch"])
    p.add_argument("--worker")
    args = p.parse_args()
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return
    from scratchnet.apps import gan_metrics as metrics
    from scratchnet.data import FashionMNIST
    clf = metrics.load_classifier()
    test = FashionMNIST(root=args.data, train=False)
    real = metrics.features(clf, test.images)
    fws = [fw for fw in args.frameworks if fw != "torch" or have("torch")]
    rows, tmp = [], tempfile.mkdtemp()
    results = {fw: [] for fw in fws}
    for seed in args.seeds:
        for fw in (fws if seed % 2 == 0 else fws[::-1]):
            out = os.path.join(tmp, f"{fw}-{seed}.npz")
            r = run_worker(__file__, {"fw": fw, "seed": seed, "steps": args.steps, "data": args.data, "out": out},
                           args.threads)
            z = numpy.load(out)
            fd = metrics.frechet_distance(real, metrics.features(clf, z["images"]))
            cc = metrics.class_consistency(clf, z["images"], z["labels"])
            div = _diversity(z["images"], z["labels"])
            results[fw].append((r["ms_per_step"], fd, cc, div))
            rows.append([fw, seed, args.steps, f"{r['ms_per_step']:.0f}", f"{fd:.2f}", f"{cc:.1%}", f"{div:.3f}"])
    for fw in fws:
        ms, fd, cc, div = (statistics.mean(v[i] for v in results[fw]) for i in range(4))
        rows.append([fw, "mean", args.steps, f"{ms:.0f}", f"{fd:.2f}", f"{cc:.1%}", f"{div:.3f}"])
    print(f"within-class diversity: mean pixel std across one class's samples (real test images: "
          f"{_diversity(test.images, test.targets):.3f}; 0 = every sample of a class identical)")
    from scratchnet.bench import flops
    peak, f = sgemm_peak(args.threads), flops({"name": "dcgan_step", "batch": 64})
    for row in rows:   # achieved GFLOP/s of a step (counted FLOPs, scratchnet/bench.py) and its share of the peak
        row.append(efficiency(f, float(row[3]), peak))
    print(f"GFLOP/s: counted FLOPs of one D+G step at batch 64 over the step time, against the measured sgemm peak "
          f"({peak:.0f} GFLOP/s on {args.threads} thread(s))")
    print(table(["framework", "seed", "steps", "ms/step", "Fréchet distance", "class consistency", "diversity",
                 "GFLOP/s (% peak)"], rows))
    if "torch" in results and "scratchnet" in results:
        ms = [statistics.mean(v[0] for v in results[fw]) for fw in fws]
        fd = [statistics.mean(v[1] for v in results[fw]) for fw in fws]
        print(f"scratchnet/torch: step time {ms[0] / ms[1]:.2f}x, Fréchet distance {fd[0] / fd[1]:.2f}x")


if __name__ == "__main__":
    sys.exit(main())
