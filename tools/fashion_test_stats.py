"""Write the Gaussian (μ, Σ) of the shipped classifier's features of the Fashion-MNIST test set beside its weights
(scratchnet/models/weights/fashion_compact_test_stats.npz), with the SHA-256s of the images and weights it was made
from: apps.gan_metrics.Quality reads it instead of running 10,000 images through the classifier at every GAN run.
Rerun after retraining the classifier (tools/train_shipped_classifier.py).
Run: python tools/fashion_test_stats.py [--data /usr/share/datasets/fashion-mnist]
"""
import argparse
import io as _io

import numpy

from scratchnet import io
from scratchnet.apps import gan_metrics as m
from scratchnet.data import FashionMNIST

p = argparse.ArgumentParser(description=__doc__)
p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
args = p.parse_args()
test = FashionMNIST(root=args.data, train=False)
mu, cov = m.gaussian(m.features(m.load_classifier(), test.images))
images_sha, weights_sha = m.fingerprint(test.images)
buf = _io.BytesIO()
numpy.savez(buf, mu=mu, cov=cov, images_sha256=numpy.array(images_sha), weights_sha256=numpy.array(weights_sha))
io.atomic_write(m.TEST_STATS, lambda f: f.write(buf.getvalue()))
print(f"{m.TEST_STATS}: {len(test.images)} test images from {test.source}, {mu.size}-d features")
