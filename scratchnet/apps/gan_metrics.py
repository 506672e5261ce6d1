"""How good a GAN's samples are, measured in the features of the Fashion-MNIST classifier shipped with scratchnet.

Fréchet distance: fit a Gaussian (mean μ, covariance Σ) to each set's features and measure
    FD = ‖μ₁ − μ₂‖² + tr(Σ₁ + Σ₂ − 2·(Σ₁^½ Σ₂ Σ₁^½)^½)
(the FID recipe, with the shipped compact CNN's 128-d pooled features in place of Inception's). Lower is better;
two samples of the same data give a small positive floor. Class consistency: the share of a conditional
generator's samples that the classifier assigns to the class that was asked for. Quality measures both for a
training run at its checkpoints. The real test set's Gaussian is shipped beside the classifier
(TEST_STATS, made by tools/fashion_test_stats.py) and used where the test images and the weights are the very ones it
was made from (their SHA-256s match): computing it takes ~8 CPU-s a run (10,000 images through the classifier).
"""
import hashlib
import os

import numpy

from .. import creation
from ..models.cnn import SHIPPED_WEIGHTS as WEIGHTS, shipped_classifier
from ..tensor import no_grad
from .common import eval_mode


TEST_STATS = os.path.join(os.path.dirname(WEIGHTS), "fashion_compact_test_stats.npz")


def load_classifier(path=WEIGHTS, device=None):
    """The shipped compact CNN (see tools/train_shipped_classifier.py for how its weights were made), in eval mode."""
    return shipped_classifier(path, device)


def _unit_batches(images, batch_size):
    """(N, 28, 28) uint8 or (N, 1, 28, 28) float in [0, 1] -> float32 (N, 1, 28, 28) host batches."""
    x = numpy.asarray(images)
    x = x.astype(numpy.float32) / 255.0 if x.dtype == numpy.uint8 else x.astype(numpy.float32)
    if x.ndim == 3:
        x = x[:, None]
    return (x[i:i + batch_size] for i in range(0, len(x), batch_size))


@no_grad()
def features(model, images, batch_size=500):
    """128-d features (N, 128) (the model's "features" tap) of images (N, 28, 28) uint8 or (N, 1, 28, 28) float in
    [0, 1], as float64 on the host."""
    dev = next(model.parameters()).device
    out = [model.taps(creation.tensor(x, device=dev), ("features",))["features"].numpy()
           for x in _unit_batches(images, batch_size)]
    return numpy.concatenate(out).astype(numpy.float64)


def _sqrtm_psd(a):
    """Symmetric square root of a positive semi-definite matrix (tiny negative eigenvalues from rounding -> 0)."""
    w, v = numpy.linalg.eigh((a + a.T) / 2)
    return (v * numpy.sqrt(numpy.clip(w, 0, None))) @ v.T


def gaussian(feats):
    """(mean μ, covariance Σ) of a feature set (N, D), in float64: what the Fréchet distance compares."""
    a = numpy.asarray(feats, numpy.float64)
    return a.mean(0), numpy.atleast_2d(numpy.cov(a, rowvar=False))


def frechet_distance(feats_a, feats_b):
    """FD between Gaussians fitted to two feature sets (N, D) and (M, D), computed in float64 on the host."""
    a, b = numpy.asarray(feats_a, numpy.float64), numpy.asarray(feats_b, numpy.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"frechet_distance: need two (N, D) feature sets with the same D, got {a.shape} and {b.shape}")
    if min(len(a), len(b)) < 2:
        raise ValueError("frechet_distance: each set needs at least 2 samples")
    return frechet_distance_of(gaussian(a), gaussian(b))


def frechet_distance_of(stats_a, stats_b):
    """FD between two Gaussians given as (μ, Σ) pairs."""
    (mu_a, cov_a), (mu_b, cov_b) = stats_a, stats_b
    root_a = _sqrtm_psd(cov_a)
    cross = _sqrtm_psd(root_a @ cov_b @ root_a)
    return float(((mu_a - mu_b) ** 2).sum() + numpy.trace(cov_a) + numpy.trace(cov_b) - 2 * numpy.trace(cross))


def fingerprint(images, weights=WEIGHTS):
    """SHA-256s of a test set's images (as uint8 bytes, with their shape) and of a classifier weights file."""
    x = numpy.ascontiguousarray(images)
    img = hashlib.sha256(repr((x.dtype.str, x.shape)).encode() + x.tobytes()).hexdigest()
    with open(weights, "rb") as f:
        return img, hashlib.sha256(f.read()).hexdigest()


def real_statistics(clf, test_images, stats=TEST_STATS):
    """(μ, Σ) of the shipped classifier's features of test_images: read from `stats` when that file was made from
    these very images and weights, else computed."""
    if stats and os.path.exists(stats):
        with numpy.load(stats) as z:
            if (str(z["images_sha256"]), str(z["weights_sha256"])) == fingerprint(test_images):
                return z["mu"], z["cov"]
    return gaussian(features(clf, test_images))


@no_grad()
def class_consistency(model, images, requested):
    """Share of images the classifier assigns to the requested class."""
    dev = next(model.parameters()).device
    pred = numpy.concatenate([model(creation.tensor(x, device=dev)).argmax(1).numpy()
                              for x in _unit_batches(images, 500)])
    return float((pred == numpy.asarray(requested)).mean())


class Quality:
    """FD and class consistency of a GAN run's samples (apps.gan.GANRun) against real test images. Noise comes from
    a private generator, so measuring never changes the run's own random stream."""

    def __init__(self, test_images, n=1000, device=None):
        self.n = n
        self.clf = load_classifier(device=device)
        self.real = real_statistics(self.clf, test_images)   # (μ, Σ) of the real test images' features

    def __call__(self, run, step):
        rng = numpy.random.default_rng(step)
        labels = numpy.arange(self.n) % run.config["num_classes"] if run.config["conditional"] else None
        z = creation.tensor(rng.standard_normal((self.n, run.config["z_dim"])).astype(numpy.float32),
                            device=run.device)
        g = getattr(run, "sampler", run.g)   # the weight average when the run keeps one
        with no_grad(), eval_mode(g):
            x = g(z, run.labels(labels) if labels is not None else None)
        img = ((numpy.clip(x.numpy()[:, 0], -1, 1) + 1) * 127.5).astype(numpy.uint8)
        out = {"step": step, "fd": frechet_distance_of(self.real, gaussian(features(self.clf, img)))}
        if labels is not None:
            out["class_consistency"] = class_consistency(self.clf, img, labels)
        return out
