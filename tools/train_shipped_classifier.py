"""Train the compact CNN whose weights ship with scratchnet (scratchnet/models/weights/fashion_compact.safetensors).

The GAN metric (scratchnet.apps.gan_metrics) compares images in its 128-d pooled features. Recipe: full
Fashion-MNIST (Debian's dataset-fashion-mnist), batch 64, Adam 1e-3 with cosine decay, random horizontal flips, seed 0.
Run: python tools/train_shipped_classifier.py [--epochs 8] [--data /usr/share/datasets/fashion-mnist]
"""
import argparse
import os

import numpy

import scratchnet as sn
from scratchnet.apps import classify

OUT = os.path.join(os.path.dirname(__file__), os.pardir, "scratchnet", "models", "weights",
                   "fashion_compact.safetensors")

p = argparse.ArgumentParser(description=__doc__)
p.add_argument("--epochs", type=int, default=8)
p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
p.add_argument("--run", default="out/shipped_classifier")
args = p.parse_args()
history = classify.train("compact", args.data, epochs=args.epochs, cosine=True, augment=True, out=args.run)
model, _ = classify.load_model(os.path.join(args.run, "checkpoint.npz"), "cpu")
os.makedirs(os.path.dirname(OUT), exist_ok=True)
sn.save({k: v for k, v in model.state_dict().items()}, OUT)
n = sum(int(numpy.prod(p.shape)) for p in model.parameters())
print(f"{n} parameters, test accuracy {history[-1]['test_acc']:.2%}; weights: {OUT} "
      f"({os.path.getsize(OUT) / 1024:.0f} KB)")
