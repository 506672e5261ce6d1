"""FashionSegmentation: deterministic canvases whose masks are exactly the garments pasted, split kept, clear errors."""
import os

import numpy
import pytest

import scratchnet
from scratchnet.data import DataLoader, FashionMNIST, FashionSegmentation

SAMPLE = os.path.join(os.path.dirname(scratchnet.__file__), "data", "fashion_mnist_sample")


def seg(**kw):
    kw.setdefault("root", SAMPLE)
    kw.setdefault("length", 12)
    return FashionSegmentation(**kw)


def redraw(garments, layout, size, cut, binary):
    """An independent rendering of a layout, pixel by pixel, from the recipe's words."""
    image = numpy.zeros((size, size))
    mask = numpy.zeros((size, size), numpy.int64)
    for g in layout:
        src = garments.images[g["index"]]
        s = g["side"]
        for r in range(s):
            for c in range(s):
                v = src[int((r + 0.5) * 28 / s), int((c + 0.5) * 28 / s)]
                if v / 255 > cut:
                    image[g["top"] + r, g["left"] + c] = v / 255
                    mask[g["top"] + r, g["left"] + c] = 1 if binary else garments.targets[g["index"]] + 1
    return image, mask


@pytest.mark.parametrize("binary", [False, True])
@pytest.mark.parametrize("train", [True, False])
def test_masks_are_the_garments_pasted(train, binary):
    ds = seg(train=train, binary=binary, seed=3, length=6)
    assert ds.garments.train is train  # test canvases draw garments from the test split only
    for i in range(len(ds)):
        x, y = ds[i]
        assert x.dtype == numpy.float32 and x.shape == (1, 64, 64)
        assert y.dtype == numpy.int64 and y.shape == (64, 64)
        lay = ds.layout(i)
        assert 1 <= len(lay) <= 4
        for g in lay:
            assert 21 <= g["side"] <= 42 and 0 <= g["top"] <= 64 - g["side"] and 0 <= g["left"] <= 64 - g["side"]
        image, mask = redraw(ds.garments, lay, 64, 0.05, binary)
        numpy.testing.assert_allclose(x[0], image, atol=1e-7)
        numpy.testing.assert_array_equal(y, mask)
        numpy.testing.assert_array_equal(x[0] > 0.05, y > 0)
        assert y.max() <= (1 if binary else 10)


def test_the_last_garment_is_drawn_on_top():
    ds = seg(max_objects=4, length=40, seed=1, max_hidden=1.0)
    seen = 0
    for i in range(len(ds)):
        lay = ds.layout(i)
        if len(lay) < 2:
            continue
        x, y = ds[i]
        last = lay[-1]
        win = (slice(last["top"], last["top"] + last["side"]), slice(last["left"], last["left"] + last["side"]))
        patch, _ = redraw(ds.garments, [dict(last, top=0, left=0)], last["side"], 0.05, False)
        drawn = patch > 0
        numpy.testing.assert_array_equal(y[win][drawn], last["label"])
        numpy.testing.assert_allclose(x[0][win][drawn], patch[drawn], atol=1e-7)
        seen += 1
    assert seen > 5


def _visible_shares(ds, lay):
    """Each garment's share of its own pixels that no later garment covers, from independent renderings."""
    alone = []
    for g in lay:
        img, _ = redraw(ds.garments, [g], ds.size, ds.threshold, False)
        alone.append(img > 0)
    return [(a & ~numpy.any(alone[k + 1:], axis=0)).sum() / a.sum() if k + 1 < len(alone) else 1.0
            for k, a in enumerate(alone)]


@pytest.mark.parametrize("max_hidden", [0.0, 0.3])
def test_occlusion_rule_keeps_each_garment_visible(max_hidden):
    ds = seg(length=60, seed=2, max_hidden=max_hidden)
    free = seg(length=60, seed=2, max_hidden=1.0)
    counts = []
    for i in range(len(ds)):
        lay = ds.layout(i)
        counts.append(len(lay))
        assert all(v >= 1 - max_hidden - 1e-9 for v in _visible_shares(ds, lay)), (i, lay)
        # the rule only ever drops garments or moves them: the first garment is the free rule's first
        assert 1 <= len(lay) <= len(free.layout(i)) and lay[0] == free.layout(i)[0]
        if max_hidden == 0:   # nothing overlaps: every garment's pixels all carry its label
            _, y = ds[i]
            for g in lay:
                img, _ = redraw(ds.garments, [g], ds.size, ds.threshold, False)
                assert (y[img > 0] == g["label"]).all()
    assert max(counts) >= 3   # several garments still fit on most canvases
    # the free rule does hide garments (so the rule above is not vacuous)
    assert min(min(_visible_shares(free, free.layout(i))) for i in range(len(free))) < 0.5


def test_deterministic_from_seed_and_random_access():
    a, b, c = seg(seed=7), seg(seed=7), seg(seed=8)
    for i in (5, 0, 11):  # order of access does not matter
        numpy.testing.assert_array_equal(a[i][1], b[i][1])
        numpy.testing.assert_array_equal(a[i][0], b[i][0])
    assert any((a[i][1] != c[i][1]).any() for i in range(len(a)))
    assert any((a[i][1] != a[i + 1][1]).any() for i in range(len(a) - 1))
    numpy.testing.assert_array_equal(a[-1][1], a[len(a) - 1][1])


def test_train_and_test_canvases_differ_and_use_their_split():
    tr, te = seg(train=True, seed=0), seg(train=False, seed=0)
    test_garments = FashionMNIST(root=SAMPLE, train=False)
    assert len(te.garments) == len(test_garments)
    numpy.testing.assert_array_equal(te.garments.images, test_garments.images)
    assert any((tr[i][1] != te[i][1]).any() for i in range(4))


def test_classes_sizes_and_defaults():
    ds = FashionSegmentation(root=SAMPLE, train=False, size=48, max_objects=1, scale=(1, 1))
    assert len(ds) == len(ds.garments)
    assert ds.classes[0] == "background" and ds.classes[1] == "T-shirt/top" and ds.num_classes == 11
    assert seg(binary=True).classes == ["background", "garment"]
    x, y = ds[0]
    assert x.shape == (1, 48, 48) and len(ds.layout(0)) == 1 and ds.layout(0)[0]["side"] == 28


def test_dataloader_batches():
    loader = DataLoader(seg(length=5), batch_size=2, shuffle=True, seed=0)
    batches = list(loader)
    assert [tuple(x.shape) for x, _ in batches] == [(2, 1, 64, 64), (2, 1, 64, 64), (1, 1, 64, 64)]
    x, y = batches[0]
    assert str(x.dtype) == "float32" and str(y.dtype) == "int64" and tuple(y.shape) == (2, 64, 64)


@pytest.mark.parametrize("kw, err, msg", [
    (dict(size=16), ValueError, "size=16 is smaller than the smallest garment side 21"),
    (dict(size=64.0), TypeError, "size must be an int"),
    (dict(max_objects=0), ValueError, "max_objects must be an int >= 1"),
    (dict(seed=-1), ValueError, "seed must be a non-negative int"),
    (dict(length=-2), ValueError, "length must be a non-negative int"),
    (dict(scale=(2, 1)), ValueError, "scale must be"),
    (dict(threshold=1.5), ValueError, "threshold must be in"),
    (dict(max_hidden=-0.1), ValueError, "max_hidden must be a fraction in \\[0, 1\\], got -0.1"),
    (dict(tries=0), ValueError, "tries must be an int >= 1, got 0"),
])
def test_bad_arguments(kw, err, msg):
    with pytest.raises(err, match=msg):
        seg(**kw)


def test_index_out_of_range():
    ds = seg(length=3)
    with pytest.raises(IndexError, match="index 3 out of range for 3 canvases"):
        ds[3]
    assert len(list(ds)) == 3  # the sequence protocol stops at the end
