"""GAN models and losses: shapes, conditioning, and the gradient penalty checked against finite differences."""
import numpy
import pytest

import scratchnet as sn
from scratchnet.apps.gan_losses import LOSSES, discriminator_loss, generator_loss, gradient_penalty
from scratchnet.models.gan import build_gan


@pytest.mark.parametrize("kind", ["dcgan", "mlp"])
@pytest.mark.parametrize("classes", [None, 10])
def test_gan_shapes_and_conditioning(kind, classes):
    sn.manual_seed(0)
    g, d = build_gan(kind, z_dim=16, num_classes=classes)
    z = sn.randn(4, 16)
    labels = sn.tensor([0, 3, 7, 9]) if classes else None
    x = g(z, labels)
    assert x.shape == (4, 1, 28, 28) and -1 <= x.numpy().min() and x.numpy().max() <= 1
    assert d(x, labels).shape == (4, 1)
    if classes:  # the class really enters the generator
        other = g(z, sn.tensor([1, 1, 1, 1]))
        assert not numpy.allclose(x.numpy(), other.numpy())


@pytest.mark.parametrize("loss", LOSSES)
def test_losses_train_both_players(loss):
    sn.manual_seed(1)
    g, d = build_gan("mlp", z_dim=8)
    real = sn.rand(6, 1, 28, 28) * 2 - 1
    fake = g(sn.randn(6, 8))
    ld = discriminator_loss(d(real), d(fake.detach()), loss)
    ld.backward()
    assert all(p.grad is not None for p in d.parameters()) and all(p.grad is None for p in g.parameters())
    generator_loss(d(fake), loss).backward()
    assert all(p.grad is not None for p in g.parameters())


def test_gradient_penalty_matches_finite_differences():
    """The penalty as a function of the critic's weights: its gradient needs double backprop through conv layers."""
    import scratchnet.nn.functional as F
    rng = numpy.random.default_rng(0)
    real = sn.tensor(rng.uniform(-1, 1, (2, 1, 8, 8)), dtype="float64")
    fake = sn.tensor(rng.uniform(-1, 1, (2, 1, 8, 8)), dtype="float64")
    eps = sn.tensor(rng.uniform(0, 1, (2, 1, 1, 1)), dtype="float64")

    def penalty(w1, w2):
        critic = lambda x: F.linear(F.leaky_relu(F.conv2d(x, w1, stride=2, padding=1), 0.2).flatten(1), w2)  # noqa
        return gradient_penalty(critic, real, fake, eps=eps)

    w1 = sn.tensor(rng.standard_normal((3, 1, 3, 3)), dtype="float64", requires_grad=True)
    w2 = sn.tensor(rng.standard_normal((1, 48)), dtype="float64", requires_grad=True)
    assert sn.gradcheck(penalty, [w1, w2])


def test_unknown_choices_are_refused():
    with pytest.raises(ValueError, match="unknown GAN loss 'hinge'"):
        generator_loss(sn.zeros(2, 1), "hinge")
    with pytest.raises(ValueError, match="unknown GAN 'vae'"):
        build_gan("vae")
