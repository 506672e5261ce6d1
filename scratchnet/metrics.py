"""GAN quality measures in the features of a Fashion-MNIST classifier shipped with scratchnet.

Fréchet distance: fit a Gaussian (mean μ, covariance Σ) to each set's features and measure
    FD = ‖μ₁ − μ₂‖² + tr(Σ₁ + Σ₂ − 2·(Σ₁^½ Σ₂ Σ₁^½)^½)
(the FID recipe, with the shipped compact CNN's 128-d pooled features in place of Inception's). Lower is better;
two samples of the same data give a small positive floor. Class consistency: the share of a conditional
generator's samples that the classifier assigns to the class that was asked for.
"""
import os

import numpy

from . import backend, creation, io
from .models import compact_cnn
from .tensor import no_grad

WEIGHTS = os.path.join(os.path.dirname(__file__), "models", "weights", "fashion_compact.safetensors")


def load_classifier(path=WEIGHTS, device=None):
    """The shipped compact CNN (see tools/train_shipped_classifier.py for how its weights were made), in eval mode."""
    model = compact_cnn()
    state = io.load(path)
    model.load_state_dict(state)
    return model.to(device or backend.get_default_device()).eval()


@no_grad()
def features(model, images, batch_size=500):
    """128-d features (N, 128) of images (N, 28, 28) uint8 or (N, 1, 28, 28) float in [0, 1]."""
    x = numpy.asarray(images)
    if x.dtype == numpy.uint8:
        x = x.astype(numpy.float32) / 255.0
    if x.ndim == 3:
        x = x[:, None]
    body = model[:-1]  # everything but the last Linear
    dev = next(model.parameters()).device
    out = [body(creation.tensor(x[i:i + batch_size], device=dev)).numpy() for i in range(0, len(x), batch_size)]
    return numpy.concatenate(out).astype(numpy.float64)


def _sqrtm_psd(a):
    """Symmetric square root of a positive semi-definite matrix (tiny negative eigenvalues from rounding -> 0)."""
    w, v = numpy.linalg.eigh((a + a.T) / 2)
    return (v * numpy.sqrt(numpy.clip(w, 0, None))) @ v.T


def frechet_distance(feats_a, feats_b):
    """FD between Gaussians fitted to two feature sets (N, D) and (M, D), computed in float64 on the host."""
    a, b = numpy.asarray(feats_a, numpy.float64), numpy.asarray(feats_b, numpy.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"frechet_distance: need two (N, D) feature sets with the same D, got {a.shape} and {b.shape}")
    if min(len(a), len(b)) < 2:
        raise ValueError("frechet_distance: each set needs at least 2 samples")
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = numpy.atleast_2d(numpy.cov(a, rowvar=False)), numpy.atleast_2d(numpy.cov(b, rowvar=False))
    root_a = _sqrtm_psd(cov_a)
    cross = _sqrtm_psd(root_a @ cov_b @ root_a)
    return float(((mu_a - mu_b) ** 2).sum() + numpy.trace(cov_a) + numpy.trace(cov_b) - 2 * numpy.trace(cross))


@no_grad()
def class_consistency(model, images, requested):
    """Share of images the classifier assigns to the requested class."""
    f = numpy.asarray(images)
    x = f.astype(numpy.float32) / 255.0 if f.dtype == numpy.uint8 else f.astype(numpy.float32)
    if x.ndim == 3:
        x = x[:, None]
    dev = next(model.parameters()).device
    pred = numpy.concatenate([model(creation.tensor(x[i:i + 500], device=dev)).argmax(1).numpy()
                              for i in range(0, len(x), 500)])
    return float((pred == numpy.asarray(requested)).mean())
