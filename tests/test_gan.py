"""GAN models and losses: shapes, conditioning, and the gradient penalty checked against finite differences."""
import numpy
import pytest

import scratchnet as sn
from scratchnet.apps.gan_losses import LOSSES, discriminator_loss, generator_loss, gradient_penalty, mode_seeking
from scratchnet.models.gan import DCGANDiscriminator, DCGANGenerator, build_gan


@pytest.mark.parametrize("kind", ["dcgan", "dcgan-small", "mlp"])
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


def _conv_shapes(module):
    return [tuple(m.weight.shape) for m in module.modules() if isinstance(m, (sn.nn.Conv2d, sn.nn.ConvTranspose2d))]


def test_small_dcgan_has_a_3x3_stem():
    """dcgan keeps its layers (the benchmarks' network); dcgan-small's G has a 3x3 stride-1 stem in place of the
    5x5 one (most of G's multiply-adds), which is what makes the demo's GAN cheap; width and stem are options."""
    g, d = build_gan("dcgan", num_classes=10)
    assert _conv_shapes(g) == [(256, 128, 5, 5), (128, 64, 4, 4), (64, 1, 4, 4)]
    assert _conv_shapes(d) == [(64, 2, 4, 4), (128, 64, 4, 4)] and d.project.weight.shape == (10, 128 * 49)
    g, d = build_gan("dcgan-small", num_classes=10)
    assert _conv_shapes(g) == [(256, 128, 3, 3), (128, 64, 4, 4), (64, 1, 4, 4)]
    assert _conv_shapes(d) == [(64, 2, 4, 4), (128, 64, 4, 4)]
    g, d = DCGANGenerator(16, 10, width=32, stem=0), DCGANDiscriminator(10, width=32)
    assert _conv_shapes(g) == [(64, 32, 4, 4), (32, 1, 4, 4)] and g.fc.weight.shape == (64 * 49, 16 + 50)
    assert _conv_shapes(d) == [(32, 2, 4, 4), (64, 32, 4, 4)] and d.project.weight.shape == (10, 64 * 49)
    labels = sn.tensor([0, 9])
    assert d(g(sn.randn(2, 16), labels), labels).shape == (2, 1)


def test_unknown_choices_are_refused():
    with pytest.raises(ValueError, match="unknown GAN loss 'hinge'"):
        generator_loss(sn.zeros(2, 1), "hinge")
    with pytest.raises(ValueError, match="unknown GAN 'vae'"):
        build_gan("vae")


SAMPLE = __import__("os").path.join(__import__("os").path.dirname(sn.__file__), "data", "fashion_mnist_sample")


@pytest.mark.parametrize("model, conditional, loss", [("mlp", False, "bce"), ("mlp", True, "lsgan"),
                                                      ("dcgan", True, "bce"), ("dcgan", False, "wgan-gp")])
def test_few_step_runs_write_their_files(tmp_path, model, conditional, loss):
    from scratchnet.apps.gan import train_gan
    hist = train_gan(model, conditional, loss, steps=4, batch_size=16, data=SAMPLE, out=str(tmp_path),
                     sample_every=2, progress=False, limit=256, quality_samples=50)
    assert len(hist) >= 2 and all(numpy.isfinite(h["loss_d"]) for h in hist)
    names = set(__import__("os").listdir(tmp_path))
    expected = {"checkpoint.npz", "samples_step000002.png", "samples_final.png", "interpolation.png", "losses.png",
                "history.json", "quality.png"} | ({"per_class.png"} if conditional else set())
    assert expected <= names, expected - names
    quality = __import__("json").loads((tmp_path / "history.json").read_text())["quality"]
    assert [q["step"] for q in quality] == [2, 4] and all(q["fd"] > 1 for q in quality)  # 4 steps: far from real
    assert ("class_consistency" in quality[0]) == conditional


def test_resume_continues_identically(tmp_path):
    from scratchnet.apps.gan import train_gan
    kw = dict(model="dcgan", conditional=True, loss="bce", batch_size=8, data=SAMPLE, sample_every=3,
              progress=False, limit=128, quality_samples=40)
    full = train_gan(steps=6, out=str(tmp_path / "a"), **kw)
    train_gan(steps=3, out=str(tmp_path / "b"), **kw)
    resumed = train_gan(steps=6, out=str(tmp_path / "b"), resume=True, **kw)
    assert resumed == full
    a, b = sn.load(tmp_path / "a" / "checkpoint.npz"), sn.load(tmp_path / "b" / "checkpoint.npz")
    assert a["quality"] == b["quality"]  # measuring quality does not disturb the run's random stream
    for k in a["g"]:
        numpy.testing.assert_array_equal(a["g"][k].numpy(), b["g"][k].numpy())


def test_nan_stops_training_with_last_good_checkpoint(tmp_path, monkeypatch):
    from scratchnet.apps import gan
    real_step = gan.GANRun.step
    calls = {"n": 0}

    def flaky(self, real, y):
        calls["n"] += 1
        figures = real_step(self, real, y)
        return {**figures, "loss_g": float("nan")} if calls["n"] == 5 else figures
    monkeypatch.setattr(gan.GANRun, "step", flaky)
    with pytest.raises(gan.GANDiverged, match="step 5: .*diverged; the last good checkpoint is"):
        gan.train_gan("mlp", steps=8, batch_size=8, data=SAMPLE, out=str(tmp_path), sample_every=2, progress=False,
                      limit=64, quality_samples=0)
    assert sn.load(tmp_path / "checkpoint.npz")["step"] == 4


def test_sample_command_for_a_class(tmp_path, capsys):
    from scratchnet.apps.gan import train_gan
    from scratchnet.cli import main
    train_gan("mlp", True, "bce", steps=2, batch_size=8, data=SAMPLE, out=str(tmp_path), progress=False, limit=64,
              quality_samples=0)
    out = tmp_path / "sneakers.png"
    assert main(["gan", "sample", str(tmp_path / "checkpoint.npz"), "--class", "sneaker", "-n", "16",
                 "-o", str(out)]) == 0
    assert out.stat().st_size > 0
    assert main(["gan", "sample", str(tmp_path / "checkpoint.npz"), "--class", "spaceship", "-o", str(out)]) == 2
    assert "unknown class 'spaceship'" in capsys.readouterr().err


def test_mode_seeking_term_matches_its_formula_and_finite_differences():
    rng = numpy.random.default_rng(0)
    a, b = (sn.tensor(rng.standard_normal((3, 1, 4, 4)), dtype="float64", requires_grad=True) for _ in range(2))
    za, zb = (sn.tensor(rng.standard_normal((3, 5)), dtype="float64") for _ in range(2))
    ratio = numpy.abs(a.numpy() - b.numpy()).mean() / numpy.abs(za.numpy() - zb.numpy()).mean()
    assert mode_seeking(a, b, za, zb, 0.1).item() == pytest.approx(0.1 / (ratio + 1e-5))
    assert sn.gradcheck(lambda p, q: mode_seeking(p, q, za, zb, 0.1), (a, b))


def test_projection_discriminator_reads_the_class(device):
    g, d = build_gan("dcgan", num_classes=10)
    d.to(device).eval()
    x = sn.randn(4, 1, 28, 28, device=device)
    y0, y1 = sn.tensor([0, 1, 2, 3], device=device), sn.tensor([3, 2, 1, 0], device=device)
    h = d.features(sn.cat([x, d.label_map(d.embed(y0)).reshape(-1, 1, 28, 28)], 1))
    expected = d.fc(h) + (d.project(y0) * h).sum(1, keepdim=True)
    numpy.testing.assert_allclose(d(x, y0).numpy(), expected.numpy(), rtol=1e-5, atol=1e-6)
    assert not numpy.allclose(d(x, y0).numpy(), d(x, y1).numpy())
    assert d.embed.weight.numpy().std() > 0.5          # class embeddings keep N(0, 1): the label is no whisper


def test_ema_generator_is_the_average_of_g_and_is_what_samples(tmp_path):
    from scratchnet.apps.gan import GANRun, train_gan
    run = GANRun("mlp", True, "bce", ema=0.8, lr_d=1e-3)
    assert run.opt_d.param_groups[0]["lr"] == 1e-3 and run.opt_g.param_groups[0]["lr"] == 2e-4
    rng = numpy.random.default_rng(0)
    expected = None
    for _ in range(3):
        run.step(sn.tensor(rng.uniform(-1, 1, (8, 1, 28, 28)).astype(numpy.float32)), rng.integers(0, 10, 8))
        w = run.g.net[0].weight.numpy().copy()
        expected = w if expected is None else 0.8 * expected + 0.2 * w
    got = run.sampler.net[0].weight.numpy()
    numpy.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)
    assert not numpy.allclose(got, run.g.net[0].weight.numpy())       # the average, not the last iterate
    # a run with ema keeps the average in its checkpoint and resumes it exactly
    kw = dict(model="dcgan", conditional=True, loss="bce", batch_size=8, data=SAMPLE, sample_every=2,
              progress=False, limit=64, quality_samples=40, ema=0.9)
    full = train_gan(steps=4, out=str(tmp_path / "a"), **kw)
    train_gan(steps=2, out=str(tmp_path / "b"), **kw)
    assert train_gan(steps=4, out=str(tmp_path / "b"), resume=True, **kw) == full
    a, b = sn.load(tmp_path / "a" / "checkpoint.npz"), sn.load(tmp_path / "b" / "checkpoint.npz")
    assert a["config"]["ema"] == 0.9 and a["quality"] == b["quality"]
    for k in a["g_ema"]:
        numpy.testing.assert_array_equal(numpy.asarray(a["g_ema"][k].numpy() if hasattr(a["g_ema"][k], "numpy")
                                                       else a["g_ema"][k]),
                                         numpy.asarray(b["g_ema"][k].numpy() if hasattr(b["g_ema"][k], "numpy")
                                                       else b["g_ema"][k]))
    with pytest.raises(ValueError, match="ema must be a decay"):
        GANRun("mlp", ema=1.0)


def test_ema_and_lr_d_options_on_the_command_line(tmp_path, capsys):
    from scratchnet.cli import main
    assert main(["gan", "--ema", "1", "--out", str(tmp_path)]) == 2
    assert "--ema" in capsys.readouterr().err
    assert main(["gan", "--model", "mlp", "--conditional", "--steps", "2", "--batch-size", "8", "--limit", "64",
                 "--ema", "0.5", "--lr-d", "1e-3", "--quality-samples", "0", "--data", SAMPLE,
                 "--out", str(tmp_path)]) == 0
    c = sn.load(tmp_path / "checkpoint.npz")
    assert c["config"]["ema"] == 0.5 and c["config"]["lr_d"] == 1e-3 and "g_ema" in c


def test_reuse_fake_runs_one_generator_forward_a_step(tmp_path, monkeypatch):
    """reuse_fake: D's update and G's update share one G forward (PyTorch's DCGAN example); it trains both
    players, resumes exactly, is kept in the checkpoint, and is refused where D takes several updates a step."""
    from scratchnet.apps.gan import GANRun, train_gan
    rng = numpy.random.default_rng(0)
    real, y = sn.tensor(rng.uniform(-1, 1, (8, 1, 28, 28)).astype(numpy.float32)), rng.integers(0, 10, 8)
    for reuse, forwards in ((False, 2), (True, 1)):
        sn.manual_seed(0)
        run = GANRun("dcgan-small", True, "bce", reuse_fake=reuse)
        calls = []
        forward = run.g.forward
        monkeypatch.setattr(run.g, "forward", lambda *a: calls.append(a[0].shape) or forward(*a))
        d0, g0 = run.d.fc.weight.numpy().copy(), run.g.fc.weight.numpy().copy()
        figures = run.step(real, y)
        assert len(calls) == forwards and calls[0] == (8, 100)
        assert not numpy.allclose(d0, run.d.fc.weight.numpy()) and not numpy.allclose(g0, run.g.fc.weight.numpy())
        assert all(numpy.isfinite(float(v.numpy())) for v in figures.values())
    kw = dict(model="dcgan-small", conditional=True, loss="bce", batch_size=8, data=SAMPLE, sample_every=2,
              progress=False, limit=64, quality_samples=0, reuse_fake=True, ema=0.9)
    full = train_gan(steps=4, out=str(tmp_path / "a"), **kw)
    train_gan(steps=2, out=str(tmp_path / "b"), **kw)
    assert train_gan(steps=4, out=str(tmp_path / "b"), resume=True, **kw) == full
    ck = sn.load(tmp_path / "b" / "checkpoint.npz")
    assert ck["config"]["reuse_fake"] and ck["settings"]["reuse_fake"]
    plain = train_gan(steps=4, out=str(tmp_path / "c"), **{**kw, "reuse_fake": False})
    assert plain != full        # a different algorithm, not a relabelled one
    with pytest.raises(ValueError, match="reuse_fake"):
        GANRun("dcgan", True, "wgan-gp", reuse_fake=True)


def test_cosine_anneals_both_learning_rates_per_step(tmp_path):
    import math
    from scratchnet.apps.gan import train_gan
    from scratchnet.apps.resume import SettingsMismatch
    kw = dict(model="mlp", conditional=True, loss="bce", batch_size=8, data=SAMPLE, sample_every=2, progress=False,
              limit=64, quality_samples=0, lr=1e-3, lr_d=3e-3, cosine=True)
    full = train_gan(steps=4, out=str(tmp_path / "a"), **kw)
    ck = sn.load(tmp_path / "a" / "checkpoint.npz")
    last = (1 + math.cos(math.pi * 3 / 4)) / 2          # the rate of the last step, t = 3 of 4
    assert math.isclose(ck["opt_g"]["param_groups"][0]["lr"], 1e-3 * last, rel_tol=1e-12)
    assert math.isclose(ck["opt_d"]["param_groups"][0]["lr"], 3e-3 * last, rel_tol=1e-12)
    train_gan(steps=4, out=str(tmp_path / "b"), **kw)
    with pytest.raises(SettingsMismatch, match="steps"):   # the run's length is part of its schedule
        train_gan(steps=6, out=str(tmp_path / "b"), resume=True, **kw)
    assert train_gan(steps=4, out=str(tmp_path / "c"), **{**kw, "cosine": False}) != full
