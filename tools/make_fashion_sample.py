"""Rebuild scratchnet's bundled Fashion-MNIST sample (600/100 images per class) from a full copy of the dataset.

Run: python tools/make_fashion_sample.py [/usr/share/datasets/fashion-mnist]
"""
import os
import sys

import numpy

from scratchnet.data.idx import read_idx, write_idx

SRC = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/datasets/fashion-mnist"
OUT = os.path.join(os.path.dirname(__file__), os.pardir, "scratchnet", "data", "fashion_mnist_sample")

for prefix, per_class in (("train", 600), ("t10k", 100)):
    x = read_idx(os.path.join(SRC, f"{prefix}-images-idx3-ubyte.gz"), 3)
    y = read_idx(os.path.join(SRC, f"{prefix}-labels-idx1-ubyte.gz"), 1)
    # the first `per_class` images of each class in file order: deterministic, balanced, order kept
    keep = numpy.sort(numpy.concatenate([numpy.flatnonzero(y == c)[:per_class] for c in range(10)]))
    write_idx(os.path.join(OUT, f"{prefix}-images-idx3-ubyte.gz"), x[keep])
    write_idx(os.path.join(OUT, f"{prefix}-labels-idx1-ubyte.gz"), y[keep])
    print(prefix, x[keep].shape, numpy.bincount(y[keep]).tolist())
