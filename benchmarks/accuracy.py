"""Test accuracy and training time on the full Fashion-MNIST (Debian's dataset-fashion-mnist).

reference: the reference CNN, batch 64, Adam 1e-3, 3 epochs (PyTorch on the same recipe: 86.4 / 88.0 / 88.3%).
strong:    the conv-BN-ReLU model, batch 64, Adam 1e-3 with cosine decay over 14 epochs, random flips.
Run: python benchmarks/accuracy.py [--models reference strong] [--data DIR] [--out out/accuracy]
"""
import argparse
import os
import sys

from _harness import table
from scratchnet.apps import classify

RECIPES = {"reference": dict(epochs=3), "strong": dict(epochs=14, cosine=True, augment=True)}


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--models", nargs="+", default=["reference", "strong"], choices=list(RECIPES))
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--out", default="out/accuracy")
    args = p.parse_args()
    rows = []
    for name in args.models:
        hist = classify.train(name, args.data, out=os.path.join(args.out, name), **RECIPES[name])
        minutes = sum(h["seconds"] for h in hist) / 60
        rows.append([name, len(hist), " / ".join(f"{h['test_acc']:.2%}" for h in hist[-3:]),
                     f"{max(h['test_acc'] for h in hist):.2%}", f"{minutes:.1f}"])
    print(table(["model", "epochs", "test accuracy, last 3 epochs", "best", "training minutes"], rows))


if __name__ == "__main__":
    sys.exit(main())
