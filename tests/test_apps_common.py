"""What the apps share (apps.common: eval_mode, the random state, the one fit loop), the models' named feature taps,
and the GAN metrics' new home."""
import os

import numpy
import pytest

import scratchnet as sn
from scratchnet import nn, optim
from scratchnet.apps import common
from scratchnet.data import DataLoader

SAMPLE = os.path.join(os.path.dirname(sn.__file__), "data", "fashion_mnist_sample")


class _Data:
    """A tiny labelled image set (the shape DataLoader reads: images, targets, classes)."""

    def __init__(self, n=40, seed=0):
        rng = numpy.random.default_rng(seed)
        self.images = rng.integers(0, 256, (n, 6, 6), dtype=numpy.uint8)
        self.targets = rng.integers(0, 3, n).astype(numpy.int64)
        self.classes = ["a", "b", "c"]
        self.transform = None

    def __len__(self):
        return len(self.targets)


def _net():
    sn.manual_seed(1)
    return nn.Sequential(nn.Flatten(), nn.Linear(36, 8), nn.Dropout(0.3), nn.ReLU(), nn.Linear(8, 3))


def _weights(net):
    return {k: v.numpy().copy() for k, v in net.state_dict().items()}


# ---- eval_mode ----

def test_eval_mode_restores_each_modules_own_flag():
    net = _net()
    net[2].eval()                                  # a part that was already in eval mode stays so
    with common.eval_mode(net) as inside:
        assert inside is net and not any(m.training for m in net.modules())
    assert net.training and net[1].training and not net[2].training
    net.eval()
    with common.eval_mode(net):
        pass
    assert not any(m.training for m in net.modules())   # eval before: still eval after (no blanket .train())


def test_eval_mode_restores_after_an_exception():
    net = _net()
    with pytest.raises(RuntimeError, match="inside"):
        with common.eval_mode(net):
            raise RuntimeError("inside")
    assert all(m.training for m in net.modules())


# ---- the random state a checkpoint keeps ----

def test_rng_state_round_trip_repeats_every_draw(device):
    sn.manual_seed(3)
    text = common.rng_state()
    assert isinstance(text, str)
    first = (sn.randn(5, device=device).numpy(), sn.rand(4).numpy())
    sn.manual_seed(99)                              # anything in between
    common.set_rng_state(text)
    again = (sn.randn(5, device=device).numpy(), sn.rand(4).numpy())
    for a, b in zip(first, again):
        numpy.testing.assert_array_equal(a, b)


# ---- the one fit loop ----

def _manual(net, opt, loader, epochs):
    """The loop fit replaces, written out: mean cross-entropy, zero_grad, backward, step."""
    for epoch in range(epochs):
        loader.set_epoch(epoch)
        net.train()
        for x, y in loader:
            loss = sn.nn.functional.cross_entropy(net(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()


def test_fit_takes_the_same_steps_as_the_loop_it_replaces(device):
    data = _Data()
    a, b = _net().to(device), _net().to(device)
    sn.manual_seed(5)
    _manual(a, optim.Adam(a.parameters(), lr=1e-2), DataLoader(data, 8, shuffle=True, seed=2, device=device), 3)
    sn.manual_seed(5)
    seen = []
    last = common.fit(b, optim.Adam(b.parameters(), lr=1e-2), DataLoader(data, 8, shuffle=True, seed=2, device=device),
                      3, on_epoch_end=lambda e, f: seen.append((e, f)))
    for k, v in _weights(a).items():
        numpy.testing.assert_allclose(_weights(b)[k], v, rtol=1e-6, atol=1e-7, err_msg=k)
    assert [e for e, _ in seen] == [0, 1, 2] and last is seen[-1][1]
    for _, f in seen:
        assert 0 < f["train_loss"] < 10 and 0 <= f["train_acc"] <= 1 and f["seconds"] >= 0


def test_fit_figures_are_the_epochs_mean_loss_and_accuracy(device):
    data = _Data(n=24)
    net = _net().to(device)
    net[2].p = 0.0                                  # no dropout: the figures can be recomputed exactly
    opt = optim.SGD(net.parameters(), lr=0.0)       # lr 0: every batch sees the same weights
    f = common.fit(net, opt, DataLoader(data, 5, device=device), 1)
    with sn.no_grad():
        x = sn.tensor(data.images[:, None].astype(numpy.float32) / 255, device=device)
        logits = net(x)
        y = sn.tensor(data.targets, device=device)
        loss = sn.nn.functional.cross_entropy(logits, y).numpy()
        acc = (logits.argmax(1).numpy() == data.targets).mean()
    assert f["train_loss"] == pytest.approx(float(loss), rel=1e-5) and f["train_acc"] == pytest.approx(acc)


def test_fit_resumed_from_a_checkpoint_ends_where_an_unbroken_run_ends(device, tmp_path):
    data = _Data()
    whole = _net().to(device)
    sn.manual_seed(7)
    common.fit(whole, optim.Adam(whole.parameters(), lr=1e-2), DataLoader(data, 8, shuffle=True, seed=4,
                                                                          device=device), 3)
    first = _net().to(device)
    opt = optim.Adam(first.parameters(), lr=1e-2)
    sn.manual_seed(7)
    common.fit(first, opt, DataLoader(data, 8, shuffle=True, seed=4, device=device), 1)
    sn.save({"model": first.state_dict(), "opt": opt.state_dict(), "rng": common.rng_state()},
            str(tmp_path / "ck.npz"))
    ck = sn.load(str(tmp_path / "ck.npz"))
    second = _net().to(device)
    opt2 = optim.Adam(second.parameters(), lr=1e-2)
    second.load_state_dict(ck["model"])
    opt2.load_state_dict(ck["opt"])
    sn.manual_seed(123)                             # a fresh process's generators, replaced by the checkpoint's
    common.set_rng_state(ck["rng"])
    common.fit(second, opt2, DataLoader(data, 8, shuffle=True, seed=4, device=device), 3, start=1)
    for k, v in _weights(whole).items():
        numpy.testing.assert_allclose(_weights(second)[k], v, rtol=1e-6, atol=1e-7, err_msg=k)


def test_fit_leaves_frozen_parameters_alone(device):
    net = _net().to(device)
    net[1].requires_grad_(False)
    before = _weights(net)
    opt = optim.Adam([p for p in net.parameters() if p.requires_grad], lr=1e-2)
    common.fit(net, opt, DataLoader(_Data(), 8, device=device), 1)
    after = _weights(net)
    numpy.testing.assert_array_equal(after["1.weight"], before["1.weight"])
    assert not numpy.array_equal(after["4.weight"], before["4.weight"])


def test_transfer_runs_tiny_and_writes_its_table(tmp_path):
    from scratchnet.apps.transfer import MODES, transfer
    summary = transfer(SAMPLE, shots=(3,), pretrain_epochs=1, finetune_epochs=2, seeds=(0,), out=str(tmp_path),
                       progress=False)
    assert set(summary[3]) == set(MODES) and all(0 <= v <= 1 for v in summary[3].values())
    table = (tmp_path / "results.md").read_text()
    assert "| 3 |" in table and (tmp_path / "results.json").exists() and (tmp_path / "transfer.png").exists()


# ---- named feature taps ----

@pytest.mark.parametrize("name", ["reference", "strong", "compact"])
def test_classifier_taps_are_the_outputs_of_their_layers(name, device):
    from scratchnet.models import build
    sn.manual_seed(0)
    model = build(name).to(device).eval()
    x = sn.rand(2, 1, 28, 28, device=device)
    taps = model.taps(x, model.tap_names)
    assert list(taps) == model.tap_names and {"block1", "block2", "features", "logits"} <= set(taps)
    numpy.testing.assert_allclose(taps["logits"].numpy(), model(x).numpy(), rtol=1e-6)
    for tap, i in model.tap_index.items():
        numpy.testing.assert_allclose(taps[tap].numpy(), model[:i + 1](x).numpy(), rtol=1e-6, err_msg=tap)
    assert model.taps(x, ("block2", "block1"))["block1"].shape == taps["block1"].shape   # any order
    assert model.tap_layer("logits") is model[len(model) - 1]
    assert "0.weight" in model.state_dict()       # Sequential's keys: saved checkpoints still load


def test_taps_refuse_unknown_names_and_a_bare_string(device):
    from scratchnet.models import compact_cnn
    model, x = compact_cnn().to(device), sn.rand(1, 1, 28, 28, device=device)
    with pytest.raises(ValueError, match=r"unknown tap\(s\) \['block9'\]; known: block1, block2"):
        model.taps(x, ("block9",))
    with pytest.raises(TypeError, match=r"sequence of tap names, e.g. \('block1',\)"):
        model.taps(x, "block1")


def test_the_shipped_weights_load_into_the_tapped_compact_cnn(device):
    from scratchnet.models import shipped_classifier
    model = shipped_classifier(device=device)
    x = sn.rand(3, 1, 28, 28, device=device)
    assert not model.training and model.taps(x, ("features",))["features"].shape == (3, 128)


def test_vgg_and_bank_share_the_taps_api(device):
    from scratchnet.models import FilterBank, vgg16
    sn.manual_seed(0)
    vgg, x = vgg16().to(device), sn.rand(1, 3, 32, 32, device=device)
    with sn.no_grad():
        via_taps = vgg.taps(x, ("relu1_1", "relu2_2"))
        via_forward = vgg(x, layers=("relu1_1", "relu2_2"))
    assert vgg.tap_names == vgg.layer_names
    for k in via_forward:
        numpy.testing.assert_array_equal(via_taps[k].numpy(), via_forward[k].numpy())
    bank = FilterBank(channels=4, levels=2).to(device)
    x = sn.rand(1, 3, 24, 24, device=device)
    picked = bank.taps(x, ("L1_k5",))
    assert list(picked) == ["L1_k5"] and bank.tap_names == bank.layer_names
    numpy.testing.assert_array_equal(picked["L1_k5"].numpy(), bank(x)["L1_k5"].numpy())
    with pytest.raises(ValueError, match="unknown tap"):
        bank.taps(x, ("L9_k5",))


# ---- the GAN metrics live with the apps ----

def test_scratchnet_metrics_is_the_apps_gan_metrics():
    from scratchnet import metrics
    from scratchnet.apps import gan_metrics
    for name in ("frechet_distance", "class_consistency", "features", "load_classifier", "WEIGHTS"):
        assert getattr(metrics, name) is getattr(gan_metrics, name)
