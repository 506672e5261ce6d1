"""The Fréchet distance against closed forms, and the shipped classifier behind the GAN metric."""
import os

import numpy
import pytest

import scratchnet as sn
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


def test_quality_reads_the_shipped_test_statistics_only_for_the_images_they_were_made_from(tmp_path, monkeypatch):
    """Quality's real-image Gaussian comes from the stats file only when the SHA-256s of the test images and the
    classifier weights match the file's; otherwise (other images, or a tampered file) it is computed."""
    from scratchnet.apps import gan_metrics as m
    from scratchnet.data import FashionMNIST
    images = FashionMNIST(train=False, root=os.path.join(os.path.dirname(sn.__file__), "data",
                                                         "fashion_mnist_sample")).images[:300]
    clf = m.load_classifier()
    mu, cov = m.gaussian(m.features(clf, images))
    path = str(tmp_path / "stats.npz")
    img_sha, w_sha = m.fingerprint(images)
    numpy.savez(path, mu=mu + 1, cov=cov * 2, images_sha256=numpy.array(img_sha), weights_sha256=numpy.array(w_sha))
    got = m.real_statistics(clf, images, path)            # the file's (deliberately shifted) values: read, not made
    numpy.testing.assert_array_equal(got[0], mu + 1)
    for other in (images[:299], images[::-1]):            # other images: computed, the file ignored
        expect = m.gaussian(m.features(clf, other))
        numpy.testing.assert_allclose(m.real_statistics(clf, other, path)[1], expect[1], rtol=1e-9)
    numpy.savez(path, mu=mu + 1, cov=cov, images_sha256=numpy.array(img_sha), weights_sha256=numpy.array("0" * 64))
    numpy.testing.assert_allclose(m.real_statistics(clf, images, path)[0], mu, rtol=1e-9)
    # the FD Quality reports is frechet_distance on the features
    monkeypatch.setattr(m, "TEST_STATS", path)
    x = numpy.random.default_rng(0).integers(0, 256, (50, 28, 28)).astype(numpy.uint8)
    assert m.frechet_distance_of(m.gaussian(m.features(clf, images)), m.gaussian(m.features(clf, x))) == \
        pytest.approx(m.frechet_distance(m.features(clf, images), m.features(clf, x)), rel=1e-12)


FULL = "/usr/share/datasets/fashion-mnist"


@pytest.mark.skipif(not os.path.isdir(FULL), reason="the full Fashion-MNIST is not installed here")
def test_shipped_test_statistics_are_those_of_the_full_test_set():
    from scratchnet.apps import gan_metrics as m
    from scratchnet.data import FashionMNIST
    images = FashionMNIST(root=FULL, train=False).images
    with numpy.load(m.TEST_STATS) as z:
        assert (str(z["images_sha256"]), str(z["weights_sha256"])) == m.fingerprint(images)
        mu, cov = m.gaussian(m.features(m.load_classifier(), images))
        numpy.testing.assert_allclose(z["mu"], mu, rtol=1e-5, atol=1e-6)
        numpy.testing.assert_allclose(z["cov"], cov, rtol=1e-4, atol=1e-6)
