"""Modules: registration, state_dict round trips with PyTorch layouts, modes, devices, and bad-input errors."""
import numpy
import pytest

import scratchnet as sn
from scratchnet import nn
import scratchnet.nn.functional as F
from conftest import to_np


def reference_cnn():
    return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1600, 128), nn.ReLU(), nn.Linear(128, 10))


def test_parameters_buffers_and_names():
    m = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU())
    names = [n for n, _ in m.named_parameters()]
    assert names == ["0.weight", "0.bias", "1.weight", "1.bias"]
    assert set(m.state_dict()) == {"0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var",
                                   "1.num_batches_tracked"}
    assert len(list(m.modules())) == 4 and len(list(m.children())) == 3
    assert "Conv2d(3, 4, kernel_size=(3, 3)" in repr(m)


def test_torch_state_dict_loads_and_outputs_match(torch):
    tm = torch.nn.Sequential(torch.nn.Conv2d(1, 32, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                             torch.nn.Conv2d(32, 64, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
                             torch.nn.Linear(1600, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10)).double()
    m = reference_cnn().double()
    bn_t, bn_s = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2)), \
        nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    assert list(bn_s.state_dict()) == list(bn_t.state_dict())  # same keys in the same order
    m.load_state_dict({k: v.numpy() for k, v in tm.state_dict().items()})
    x = numpy.random.default_rng(0).standard_normal((2, 1, 28, 28))
    numpy.testing.assert_allclose(m(sn.tensor(x, dtype="float64")).numpy(), to_np(tm(torch.tensor(x))), rtol=1e-10)


def test_default_init_matches_torch_statistics(torch):
    ours = nn.Conv2d(16, 32, 3).weight.numpy()
    ref = to_np(torch.nn.Conv2d(16, 32, 3).weight)
    bound = 1 / numpy.sqrt(16 * 9)
    assert abs(ours).max() <= bound and abs(ref).max() <= bound
    assert abs(ours.std() - ref.std()) < 0.1 * ref.std()
    ct = nn.ConvTranspose2d(8, 4, 3).weight
    assert ct.shape == (8, 4, 3, 3) and abs(ct.numpy()).max() <= 1 / numpy.sqrt(4 * 9)


def test_batchnorm_train_eval_and_running_stats(torch):
    x = numpy.random.default_rng(1).standard_normal((8, 3, 4, 4)) * 2 + 1
    ours, ref = nn.BatchNorm2d(3).double(), torch.nn.BatchNorm2d(3).double()
    for _ in range(3):
        ys, yt = ours(sn.tensor(x, dtype="float64")), ref(torch.tensor(x))
    numpy.testing.assert_allclose(ys.numpy(), to_np(yt), rtol=1e-10)
    numpy.testing.assert_allclose(ours.running_var.numpy(), to_np(ref.running_var), rtol=1e-12)
    assert ours.num_batches_tracked.item() == 3
    ours.eval(), ref.eval()
    numpy.testing.assert_allclose(ours(sn.tensor(x, dtype="float64")).numpy(), to_np(ref(torch.tensor(x))), rtol=1e-10)


def test_load_state_dict_errors_list_keys_and_shapes():
    m = nn.Linear(3, 2)
    sd = m.state_dict()
    with pytest.raises(RuntimeError, match=r'Missing key\(s\) in state_dict: "bias"'):
        m.load_state_dict({"weight": sd["weight"]})
    with pytest.raises(RuntimeError, match=r'Unexpected key\(s\) in state_dict: "extra"'):
        m.load_state_dict({**sd, "extra": sn.zeros(1)})
    with pytest.raises(RuntimeError, match=r"size mismatch for weight: copying a param with shape \(4, 3\)"):
        m.load_state_dict({"weight": sn.zeros(4, 3), "bias": sd["bias"]})
    before = m.weight.numpy()
    with pytest.raises(RuntimeError):
        m.load_state_dict({"weight": sn.zeros(2, 3), "bias": sn.zeros(5)})
    numpy.testing.assert_array_equal(m.weight.numpy(), before)  # nothing half-loaded
    m.load_state_dict({"weight": sn.zeros(2, 3)}, strict=False)
    assert not m.weight.numpy().any()


@pytest.mark.parametrize("make, match", [
    (lambda: nn.Conv2d(3, 8, 3)(sn.randn(8, 1, 28, 28)),
     r"Conv2d\(in_channels=3\) got input with 1 channel\(s\): input shape \(8, 1, 28, 28\)"),
    (lambda: F.conv2d(sn.randn(1, 2, 4, 4), sn.randn(3, 2, 5, 5)),
     r"kernel size \(5, 5\) .* larger than the padded input 4x4"),
    (lambda: nn.Conv2d(1, 2, 3)(sn.randn(28, 28)), r"got input with no channel\(s\): input shape \(28, 28\)"),
    (lambda: F.max_pool2d(sn.randn(2, 28, 28, 1, 1), 2), r"expected a 4-D input .* got shape \(2, 28, 28, 1, 1\)"),
    (lambda: nn.Linear(1024, 10)(sn.randn(64, 1600)), r"Linear\(in_features=1024.*got input with 1600 features"),
    (lambda: F.cross_entropy(sn.randn(4, 10), sn.rand(4)), r"target must hold integer class indices.*float32"),
    (lambda: F.cross_entropy(sn.randn(4, 10), sn.tensor([0, 3, 10, 2])), r"target values \[10\] are out of range for "
                                                                          r"10 classes"),
    (lambda: F.cross_entropy(sn.randn(4, 10), sn.tensor([0, 3])), r"needs target of shape \(4,\), got \(2,\)"),
    (lambda: F.mse_loss(sn.randn(4, 2), sn.randn(4, 3)), r"input shape \(4, 2\) and target shape \(4, 3\)"),
    (lambda: nn.BatchNorm2d(3)(sn.randn(2, 4, 5, 5)), r"BatchNorm2d\(3\) got input of shape \(2, 4, 5, 5\)"),
    (lambda: F.conv2d(sn.tensor(numpy.zeros((1, 1, 3, 3), numpy.int64)), sn.randn(1, 1, 2, 2)),
     r"input must be floating point, got dtype int64"),
    (lambda: F.binary_cross_entropy(sn.randn(3) * 5, sn.rand(3)), r"probabilities in \[0, 1\]"),
])
def test_bad_input_errors(make, match):
    # on a GPU, checks of values (class indices, probabilities) are reported at the next sync point, as PyTorch's
    # device-side asserts are: reading the result is that point
    with pytest.raises((ValueError, TypeError, IndexError), match=match):
        out = make()
        out.sum().item()


def test_train_eval_dropout_and_freezing():
    m = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5))
    x = sn.ones(2, 4)
    m.eval()
    numpy.testing.assert_array_equal(m(x).numpy(), m(x).numpy())
    assert not m[1].training
    m.train()
    m[0].requires_grad_(False)
    m(x).sum().backward() if any(p.requires_grad for p in m.parameters()) else None
    assert all(p.grad is None for p in m.parameters())


def test_module_to_dtype_and_device(device):
    m = reference_cnn().to(device).double()
    assert all(p.dtype == numpy.float64 and p.device == device for p in m.parameters())
    y = m(sn.randn(2, 1, 28, 28, dtype="float64", device=device))
    assert y.shape == (2, 10) and y.device == device


def test_gradient_penalty_through_cnn_double_backprop():
    """A WGAN-GP style penalty: ||d D(x)/dx||² through convolutions, pooling and batch norm is trainable."""
    d = nn.Sequential(nn.Conv2d(1, 4, 3, stride=2, padding=1), nn.LeakyReLU(0.2), nn.AvgPool2d(2),
                      nn.Conv2d(4, 4, 3, padding=1), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 2 * 2, 1)).double()
    x = sn.randn(3, 1, 16, 16, dtype="float64", requires_grad=True)
    (g,) = sn.autograd.grad(d(x).sum(), x, create_graph=True)
    penalty = ((g.flatten(1) ** 2).sum(1).sqrt() - 1) ** 2
    penalty.mean().backward()
    # dD/dx does not depend on the last bias, so (as in PyTorch) it gets no gradient; every weight does
    assert all(p.grad is not None and numpy.isfinite(p.grad.numpy()).all() for p in d.parameters() if p.ndim > 1)

    def gp(w1, w2, w3):  # the same penalty written functionally, checked against finite differences
        (gx,) = sn.autograd.grad(critic(x, w1, w2, w3).sum(), x, create_graph=True)
        return ((gx.flatten(1) ** 2).sum(1) - 1) ** 2

    def critic(t, w1, w2, w3):
        h = F.avg_pool2d(F.leaky_relu(F.conv2d(t, w1, stride=2, padding=1), 0.2), 2)
        return F.linear(F.max_pool2d(F.conv2d(h, w2, padding=1), 2).flatten(1), w3)

    ws = [sn.randn(*s, dtype="float64", requires_grad=True) for s in [(2, 1, 3, 3), (2, 2, 3, 3), (1, 8)]]
    assert sn.gradcheck(gp, ws)


@pytest.mark.parametrize("n, c, h, w, o, k, s, p, d, g", [(1, 4, 23, 19, 6, 3, 2, 1, 2, 2),
                                                           (3, 3, 40, 33, 8, 5, 1, 2, 1, 1),
                                                           (1, 3, 300, 20, 4, 3, 1, 1, 1, 1)])
def test_one_image_conv_split_over_rows_matches_reference(n, c, h, w, o, k, s, p, d, g):
    """Batches smaller than 2 × threads split the output rows over threads (style transfer runs on one image):
    the "im2col_rows" route against the readable twin (fast kernels: this tests a route)."""
    import scratchnet.nn.functional as F
    from scratchnet.ops import conv
    rng = numpy.random.default_rng(0)
    x, wt, b = rng.standard_normal((n, c, h, w)), rng.standard_normal((o, c // g, k, k)), rng.standard_normal(o)
    args = [sn.tensor(a, dtype="float64") for a in (x, wt, b)]
    with sn.use_kernels("fast"), conv.force_route("im2col_rows"):
        y = F.conv2d(*args, stride=s, padding=p, dilation=d, groups=g)
    with sn.use_kernels("reference"):
        ref = F.conv2d(*args, stride=s, padding=p, dilation=d, groups=g)
    numpy.testing.assert_allclose(y.numpy(), ref.numpy(), atol=1e-12)
