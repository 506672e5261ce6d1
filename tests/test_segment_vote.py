"""The per-component vote (scratchnet.apps.segment_vote): components equal scikit-image's labelling for both
connectivities, every component takes the majority class of its pixels, the background is never changed, and the
arrays stay on their device."""
import numpy
import pytest

from scratchnet import backend
from scratchnet.apps.segment_vote import component_labels, component_vote

skimage_measure = pytest.importorskip("skimage.measure")


def _same_partition(a, b, keep):
    """True when the labellings a and b group the pixels `keep` into the same sets."""
    pairs = set(zip(a[keep].tolist(), b[keep].tolist()))
    return len(pairs) == len({p for p, _ in pairs}) == len({q for _, q in pairs})


@pytest.mark.parametrize("connectivity", [1, 2])
@pytest.mark.parametrize("density", [0.3, 0.55, 0.7])
def test_components_equal_scikit_image(device, connectivity, density):
    rng = numpy.random.default_rng(round(density * 100) + connectivity)
    fg = rng.random((4, 23, 31)) < density
    fg[1] = False                                          # an image with no foreground at all
    lab = component_labels(backend.to_device(fg, device), connectivity)
    assert backend.device_of(lab) == device
    lab = backend.to_numpy(lab)
    assert (lab[~fg] == -1).all()
    flat = numpy.arange(23 * 31).reshape(23, 31)
    for i in range(4):
        ref = skimage_measure.label(fg[i], connectivity=connectivity, background=0)
        assert _same_partition(ref, lab[i], fg[i])
        for k in range(1, ref.max() + 1):                  # each component carries its largest pixel index
            assert (lab[i][ref == k] == flat[ref == k].max()).all()


def test_vote_hand_case(device):
    # left: one component of 3 pixels of class 2 and 2 of class 5; right: a 7 and a 3 touching only diagonally
    pred = numpy.array([[[2, 2, 0, 0, 7, 0],
                         [5, 2, 0, 0, 0, 3],
                         [5, 0, 0, 0, 0, 0]]])
    want4 = numpy.array([[[2, 2, 0, 0, 7, 0],
                          [2, 2, 0, 0, 0, 3],
                          [2, 0, 0, 0, 0, 0]]])            # 4-connected: the 7 and the 3 are apart
    want8 = numpy.array([[[2, 2, 0, 0, 3, 0],
                          [2, 2, 0, 0, 0, 3],
                          [2, 0, 0, 0, 0, 0]]])            # 8-connected: one component, a 1-1 tie: the smaller label
    for connectivity, want in ((1, want4), (2, want8)):
        got = component_vote(backend.to_device(pred, device), 11, connectivity)
        numpy.testing.assert_array_equal(backend.to_numpy(got), want)


@pytest.mark.parametrize("seed", range(3))
def test_vote_is_the_majority_of_each_component_and_keeps_the_background(device, seed):
    rng = numpy.random.default_rng(seed)
    c = 6
    pred = numpy.where(rng.random((3, 17, 19)) < 0.5, 0, rng.integers(1, c, (3, 17, 19)))
    got = backend.to_numpy(component_vote(backend.to_device(pred, device), c, 2))
    assert got.dtype == pred.dtype
    numpy.testing.assert_array_equal(got == 0, pred == 0)
    for i in range(3):
        ref = skimage_measure.label(pred[i] > 0, connectivity=2, background=0)
        for k in range(1, ref.max() + 1):
            votes = numpy.bincount(pred[i][ref == k], minlength=c)[1:]
            assert (got[i][ref == k] == votes.argmax() + 1).all()


def test_bad_inputs():
    with pytest.raises(ValueError, match="connectivity must be 1 or 2"):
        component_labels(numpy.zeros((1, 3, 3), bool), connectivity=3)
    with pytest.raises(ValueError, match=r"expected \(N, H, W\) predicted masks, got shape \(3, 3\)"):
        component_vote(numpy.zeros((3, 3), int), 11)
