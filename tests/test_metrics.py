"""The Fréchet distance against closed forms, and the shipped classifier behind the GAN metric."""
import os

import numpy
import pytest

from scratchnet import metrics


def test_frechet_distance_closed_forms():
    rng = numpy.random.default_rng(0)
    a = rng.normal(1.0, 2.0, (4000, 3))
    b = rng.normal(-0.5, 0.5, (3000, 3))
    # Diagonal covariances: FD = Σ_d (μa − μb)² + (σa − σb)², computed here from the same sample statistics
    ma, mb = a.mean(0), b.mean(0)
    sa, sb = numpy.cov(a, rowvar=False), numpy.cov(b, rowvar=False)
    assert abs(sa[0, 1]) < 0.2  # nearly diagonal, so the closed form is close but not exact
    fd = metrics.frechet_distance(a, b)
    approx = ((ma - mb) ** 2).sum() + ((numpy.sqrt(numpy.diag(sa)) - numpy.sqrt(numpy.diag(sb))) ** 2).sum()
    assert fd == pytest.approx(approx, rel=0.02)
    one_a, one_b = a[:, :1], b[:, :1]  # 1-D: exact
    exact = (one_a.mean() - one_b.mean()) ** 2 + (one_a.std(ddof=1) - one_b.std(ddof=1)) ** 2
    assert metrics.frechet_distance(one_a, one_b) == pytest.approx(exact, rel=1e-9)
    assert metrics.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)
    assert metrics.frechet_distance(a, b) == pytest.approx(metrics.frechet_distance(b, a), rel=1e-9)


def test_frechet_distance_errors():
    with pytest.raises(ValueError, match=r"same D, got \(5, 3\) and \(5, 4\)"):
        metrics.frechet_distance(numpy.zeros((5, 3)), numpy.zeros((5, 4)))
    with pytest.raises(ValueError, match="at least 2 samples"):
        metrics.frechet_distance(numpy.zeros((1, 3)), numpy.zeros((5, 3)))


def test_shipped_classifier_separates_real_from_noise():
    assert os.path.exists(metrics.WEIGHTS), "the shipped weights are missing (tools/train_shipped_classifier.py)"
    from scratchnet.data import FashionMNIST
    from scratchnet.data import datasets as D
    ds = FashionMNIST(root=D.FASHION.bundled_dir, train=False)
    clf = metrics.load_classifier(device="cpu")
    assert metrics.class_consistency(clf, ds.images, ds.targets) > 0.85
    half = len(ds) // 2
    real_a, real_b = metrics.features(clf, ds.images[:half]), metrics.features(clf, ds.images[half:])
    noise = metrics.features(clf, numpy.random.default_rng(0).integers(0, 255, (half, 28, 28), dtype=numpy.uint8))
    assert metrics.frechet_distance(real_a, real_b) * 10 < metrics.frechet_distance(real_a, noise)
