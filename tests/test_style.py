"""Style-transfer losses and image tools: closed forms, finite-difference checks (float64), PyTorch's blur."""
import numpy
import pytest
from hypothesis import given, settings, strategies as st

import scratchnet as sn
from scratchnet import testing as T
from scratchnet.apps import style


def test_gram_closed_forms():
    f = numpy.random.default_rng(0).standard_normal((2, 3, 4, 5))
    g = style.gram_matrix(sn.tensor(f, dtype="float64")).numpy()
    flat = f.reshape(2, 3, 20)
    numpy.testing.assert_allclose(g, flat @ flat.transpose(0, 2, 1) / 20, rtol=1e-12)
    gc = style.gram_matrix(sn.tensor(f, dtype="float64"), centered=True, mean_weight=0.1).numpy()
    mu = flat.mean(2, keepdims=True)
    cov = numpy.stack([numpy.cov(flat[i], bias=True) for i in range(2)])
    numpy.testing.assert_allclose(gc, cov + 0.1 * mu @ mu.transpose(0, 2, 1), rtol=1e-12)
    gn = style.gram_matrix(sn.tensor(f, dtype="float64"), normalize=True).numpy()
    numpy.testing.assert_allclose(numpy.diagonal(gn, axis1=1, axis2=2), 1, rtol=1e-6)


@settings(max_examples=100)
@given(data=st.data())
def test_losses_gradcheck(data):
    shape = (1, data.draw(st.integers(1, 3)), data.draw(st.integers(2, 4)), data.draw(st.integers(2, 4)))
    x, target = data.draw(T.arrays(shape)), data.draw(T.arrays(shape))
    t = sn.tensor(target, dtype="float64")
    centered = data.draw(st.booleans())
    g_target = style.gram_matrix(t, centered=centered)
    xs = [sn.tensor(x, dtype="float64", requires_grad=True)]
    assert sn.gradcheck(lambda a: style.style_loss([a], [g_target], centered=centered), xs)
    assert sn.gradcheck(lambda a: style.gram_matrix(a, centered=True, normalize=True), xs)
    assert sn.gradcheck(lambda a: style.content_loss(a, t), xs)
    assert sn.gradcheck(style.total_variation, xs)
    assert sn.gradgradcheck(lambda a: style.style_loss([a], [g_target]), xs)


def test_total_variation_of_constant_and_ramp():
    assert style.total_variation(sn.ones(1, 1, 4, 4)).item() == 0
    ramp = sn.tensor(numpy.tile(numpy.arange(5.0), (5, 1))[None, None], dtype="float64")
    assert style.total_variation(ramp).item() == pytest.approx(1.0)  # horizontal steps of 1, none vertical


def test_blur_and_pyramid_match_torch(torch):
    x = numpy.random.default_rng(1).standard_normal((1, 3, 16, 12))
    k = numpy.array([1, 4, 6, 4, 1.0]) / 16
    kk = torch.tensor(numpy.outer(k, k)).reshape(1, 1, 5, 5).repeat(3, 1, 1, 1)
    ref = torch.nn.functional.conv2d(torch.nn.functional.pad(torch.tensor(x), (2, 2, 2, 2), mode="reflect"), kk,
                                     groups=3)
    ours = style.binomial_blur(sn.tensor(x, dtype="float64"))
    numpy.testing.assert_allclose(ours.numpy(), ref.numpy(), rtol=1e-10)
    levels = style.pyramid(sn.tensor(x, dtype="float64"), 3)
    assert [lv.shape for lv in levels] == [(1, 3, 16, 12), (1, 3, 8, 6), (1, 3, 4, 3)]


def test_bad_input_errors():
    with pytest.raises(ValueError, match=r"gram_matrix: features must be \(N, C, H, W\), got shape \(3, 4\)"):
        style.gram_matrix(sn.zeros(3, 4))
    f = sn.zeros(1, 2, 3, 3)
    with pytest.raises(ValueError, match="2 feature maps, 1 targets"):
        style.style_loss([f, f], [style.gram_matrix(f)])
