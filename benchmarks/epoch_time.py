"""One training epoch of the reference CNN on full Fashion-MNIST, data loading included: scratchnet vs PyTorch CPU.

Both read the same IDX files with scratchnet's reader (PyTorch then batches with its own tensors), batch 64, Adam
1e-3; each framework runs in its own process, alternated, medians reported.
Run: python benchmarks/epoch_time.py [--rounds 3] [--threads 2] [--data /usr/share/datasets/fashion-mnist]
"""
import argparse
import json
import statistics
import sys
import time

import numpy

from _harness import alternate, have, table


def worker(job):
    from scratchnet.data import read_idx
    folder = job["data"]
    if job["fw"] == "torch":
        import torch
        torch.manual_seed(0)
        t0 = time.perf_counter()
        x = read_idx(f"{folder}/train-images-idx3-ubyte.gz", 3)
        y = read_idx(f"{folder}/train-labels-idx1-ubyte.gz", 1).astype(numpy.int64)
        nn = torch.nn
        model = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(),
                              nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1600, 128), nn.ReLU(), nn.Linear(128, 10))
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        order = numpy.random.default_rng(0).permutation(len(y))
        for s in range(0, len(y), 64):
            idx = order[s:s + 64]
            xb = torch.from_numpy(x[idx]).float().div_(255).unsqueeze(1)
            loss = torch.nn.functional.cross_entropy(model(xb), torch.from_numpy(y[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
        return {"s": time.perf_counter() - t0}
    import scratchnet as sn
    from scratchnet.data import DataLoader, FashionMNIST
    from scratchnet.models import reference_cnn
    sn.manual_seed(0)
    t0 = time.perf_counter()
    ds = FashionMNIST(root=folder, train=True)
    model = reference_cnn()
    opt = sn.optim.Adam(model.parameters(), lr=1e-3)
    for xb, yb in DataLoader(ds, 64, shuffle=True, seed=0):
        loss = sn.nn.functional.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return {"s": time.perf_counter() - t0}


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--worker")
    args = p.parse_args()
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return
    fws = ["scratchnet"] + (["torch"] if have("torch") else [])
    jobs = [{"fw": fw, "data": args.data} for fw in fws]
    res = alternate(__file__, jobs, args.rounds, args.threads)
    med = {j["fw"]: statistics.median(r["s"] for r in res[json.dumps(j, sort_keys=True)]) for j in jobs}
    row = ["epoch, batch 64", args.threads] + [f"{med[fw]:.1f}" for fw in fws]
    if "torch" in med:
        row.append(f"{med['scratchnet'] / med['torch']:.2f}x")
    print(f"one epoch of the reference CNN, data loading included (median of {args.rounds} alternated processes)")
    print(table(["case", "threads"] + [f"{fw} s" for fw in fws] + (["scratchnet/torch"] if "torch" in med else []),
                [row]))


if __name__ == "__main__":
    sys.exit(main())
