"""Empty tensors (a zero-size dim, e.g. an empty batch) and 0-d tensors against PyTorch: forward shape, dtype and
values, input-gradient shapes and values; and where PyTorch raises, scratchnet raises the same kind of error."""
import builtins
import warnings

import numpy
import pytest

import scratchnet as sn
import scratchnet.nn.functional as F
from conftest import to_np


def _builtin_base(exc):
    """The nearest built-in exception class of `exc` (torch raises its own subclasses of RuntimeError/IndexError)."""
    return next(c for c in type(exc).__mro__ if getattr(builtins, c.__name__, None) is c)


def _run(lib, fn, x):
    with warnings.catch_warnings():  # mean/var of an empty slice warn (nan) in both libraries, as they should
        warnings.simplefilter("ignore")
        return fn(lib, x)


def check(torch, device, fn, shape, grad=True, seed=0):
    """fn(lib, x) on both libraries with the same float32 input of `shape`: same outcome, shape, dtype, values
    (nan where PyTorch has nan), and the same gradient of sum(y · w) for a fixed random w."""
    import torch.nn.functional as TF
    a = numpy.random.default_rng(seed).standard_normal(shape).astype(numpy.float32)
    xt = torch.tensor(a, requires_grad=True)
    xs = sn.tensor(a, device=device, requires_grad=True)
    libs = {"torch": (torch, TF), "sn": (sn, F)}
    try:
        yt = _run(libs["torch"], fn, xt)
    except Exception as e:
        with pytest.raises(_builtin_base(e)):
            _run(libs["sn"], fn, xs)
        return
    ys = _run(libs["sn"], fn, xs)
    assert tuple(ys.shape) == tuple(yt.shape), (tuple(ys.shape), tuple(yt.shape))
    assert str(ys.dtype) == str(yt.dtype).replace("torch.", ""), (ys.dtype, yt.dtype)
    numpy.testing.assert_allclose(to_np(ys), to_np(yt), rtol=1e-5, atol=1e-6, equal_nan=True)
    if not grad or not yt.dtype.is_floating_point:
        return
    w = numpy.random.default_rng(seed + 1).standard_normal(tuple(yt.shape)).astype(numpy.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (yt * torch.tensor(w)).sum().backward()
        (ys * sn.tensor(w, device=device)).sum().backward()
    gt = xt.grad if xt.grad is not None else torch.zeros_like(xt)
    assert xs.grad is not None and tuple(xs.grad.shape) == tuple(gt.shape), (xs.grad, tuple(gt.shape))
    numpy.testing.assert_allclose(to_np(xs.grad), to_np(gt), rtol=1e-4, atol=1e-5, equal_nan=True)


EMPTY = [(0, 3), (3, 0), (0, 3, 4, 4), (2, 0, 3)]
SCALAR = [()]

# The ops the probe found broken, each on the inputs that broke it (and a few neighbours)
NAMED = {
    "relu": (lambda m, x: x.relu(), [(0, 3), (2, 0), (0, 3, 4, 4), ()]),
    "leaky_relu": (lambda m, x: m[1].leaky_relu(x, 0.1), [(0, 3), (0, 3, 4, 4), ()]),
    "flatten1": (lambda m, x: x.flatten(1), [(0, 3, 4, 4), (2, 0, 3), ()]),
    "flatten_mid": (lambda m, x: x.flatten(1, 2), [(0, 3, 4, 4), (3, 0, 2, 2)]),
    "reshape_0_-1": (lambda m, x: x.reshape(0, -1), [(0, 3)]),  # ambiguous: both raise
    "max_pool2d": (lambda m, x: m[1].max_pool2d(x, 2), [(0, 3, 4, 4), (2, 0, 4, 4), (0, 3, 0, 4)]),
    "max_pool2d_pad": (lambda m, x: m[1].max_pool2d(x, 3, 2, 1), [(0, 3, 5, 5)]),
    "softmax-1": (lambda m, x: m[1].softmax(x, -1), [(0, 3), (3, 0), ()]),
    "softmax0": (lambda m, x: m[1].softmax(x, 0), [(0, 3), (3, 0), ()]),
    "log_softmax0": (lambda m, x: m[1].log_softmax(x, 0), [(0, 3), (3, 0), ()]),
    "log_softmax-1": (lambda m, x: m[1].log_softmax(x, -1), [(0, 3), (3, 0), ()]),
    "max0": (lambda m, x: x.max(0)[0], [(3, 0), (0, 3), ()]),
    "max0_indices": (lambda m, x: x.max(0)[1], [(3, 0), ()]),
    "max1_keepdim": (lambda m, x: x.max(1, keepdim=True)[0], [(0, 3), (3, 0)]),
    "min0": (lambda m, x: x.min(0)[0], [(3, 0), (0, 3)]),
    "max_all": (lambda m, x: x.max(), [(3, 0), ()]),
    "amax0": (lambda m, x: x.amax(0), [(3, 0), (0, 3), ()]),
    "amin01": (lambda m, x: x.amin((0, 2)), [(3, 0, 2), (2, 3, 0)]),
    "amax_all": (lambda m, x: x.amax(), [(0, 3)]),
    "argmax0": (lambda m, x: x.argmax(0), [(3, 0), (0, 3), ()]),
    "argmin_all": (lambda m, x: x.argmin(), [(0, 3), ()]),
    "logsumexp0": (lambda m, x: x.logsumexp(0), [(0, 3), (3, 0), ()]),
    "logsumexp01": (lambda m, x: x.logsumexp((0, 1)), [(0, 3)]),
    "layer_norm": (lambda m, x: m[1].layer_norm(x, (3,)), [(0, 3), (0, 2, 3)]),
    "layer_norm_affine": (lambda m, x: m[1].layer_norm(x, (3,), _w(m, 3), _w(m, 3)), [(0, 3)]),
    "gelu": (lambda m, x: m[1].gelu(x), [(0, 3), ()]),
    "gelu_tanh": (lambda m, x: m[1].gelu(x, approximate="tanh"), [(0, 3), ()]),
}


def _ids(table):
    return [(name, s) for name, (_, shapes) in table.items() for s in shapes]


@pytest.mark.parametrize("name,shape", _ids(NAMED), ids=lambda v: str(v))
def test_named_edge_cases(torch, device, name, shape):
    check(torch, device, NAMED[name][0], shape)


UNARY = {
    "sigmoid": lambda m, x: x.sigmoid(), "tanh": lambda m, x: x.tanh(), "exp": lambda m, x: x.exp(),
    "log_abs": lambda m, x: (x.abs() + 1).log(), "sqrt_abs": lambda m, x: (x.abs() + 1).sqrt(),
    "abs": lambda m, x: x.abs(), "neg": lambda m, x: -x, "sin": lambda m, x: x.sin(), "cos": lambda m, x: x.cos(),
    "rsqrt": lambda m, x: (x.abs() + 1).rsqrt(), "sign": lambda m, x: x.sign(), "floor": lambda m, x: x.floor(),
    "erf": lambda m, x: x.erf(), "pow2": lambda m, x: x ** 2, "pow0": lambda m, x: x ** 0,
    "clamp": lambda m, x: x.clamp(-0.5, 0.5), "softplus": lambda m, x: m[1].softplus(x),
    "elu": lambda m, x: m[1].elu(x), "silu": lambda m, x: m[1].silu(x), "selu": lambda m, x: m[1].selu(x),
    "mish": lambda m, x: m[1].mish(x), "hardtanh": lambda m, x: m[1].hardtanh(x),
    "softsign": lambda m, x: m[1].softsign(x), "where": lambda m, x: m[0].where(x > 0, x, x * 2),
}


@pytest.mark.parametrize("shape", EMPTY + SCALAR, ids=str)
@pytest.mark.parametrize("name", sorted(UNARY))
def test_elementwise_unary(torch, device, name, shape):
    check(torch, device, UNARY[name], shape)


REDUCE = {
    "sum": lambda m, x, d, k: x.sum(d, keepdim=k) if d is not None else x.sum(),
    "mean": lambda m, x, d, k: x.mean(d, keepdim=k) if d is not None else x.mean(),
    "prod": lambda m, x, d, k: x.prod(d, keepdim=k) if d is not None else x.prod(),
    "amax": lambda m, x, d, k: x.amax(d, keepdim=k) if d is not None else x.amax(),
    "amin": lambda m, x, d, k: x.amin(d, keepdim=k) if d is not None else x.amin(),
    "max": lambda m, x, d, k: x.max(d, keepdim=k)[0] if d is not None else x.max(),
    "min": lambda m, x, d, k: x.min(d, keepdim=k)[0] if d is not None else x.min(),
    "argmax": lambda m, x, d, k: x.argmax(d, keepdim=k) if d is not None else x.argmax(),
    "logsumexp": lambda m, x, d, k: x.logsumexp(d, keepdim=k) if d is not None else x.logsumexp((0, 1)),
    "var": lambda m, x, d, k: x.var(d, keepdim=k) if d is not None else x.var(),
    "std": lambda m, x, d, k: x.std(d, keepdim=k) if d is not None else x.std(),
    "norm": lambda m, x, d, k: x.norm(dim=d, keepdim=k) if d is not None else x.norm(),
}


@pytest.mark.parametrize("dim,keepdim", [(None, False), (0, False), (0, True), (1, False), (1, True), (-1, False)])
@pytest.mark.parametrize("shape", [(0, 3), (3, 0), (0, 0), (2, 0, 3)], ids=str)
@pytest.mark.parametrize("name", sorted(REDUCE))
def test_reductions_on_empty(torch, device, name, shape, dim, keepdim):
    check(torch, device, lambda m, x: REDUCE[name](m, x, dim, keepdim), shape)


@pytest.mark.parametrize("dim", [None, 0, -1])
@pytest.mark.parametrize("name", sorted(set(REDUCE) - {"logsumexp", "norm"}))
def test_reductions_on_0d(torch, device, name, dim):
    check(torch, device, lambda m, x: REDUCE[name](m, x, dim, False), ())


def _w(m, *shape):
    """A fixed non-trivial weight (values 0.1, 0.2, ...) on both libraries."""
    n = int(numpy.prod(shape))
    return (m[0].arange(n, dtype=m[0].float32).reshape(*shape) % 7 + 1) * 0.1


NN = {
    "conv2d": (lambda m, x: m[1].conv2d(x, _w(m, 2, 3, 3, 3), _w(m, 2), padding=1), [(0, 3, 4, 4)]),
    "conv2d_stride": (lambda m, x: m[1].conv2d(x, _w(m, 4, 3, 2, 2), stride=2), [(0, 3, 6, 6)]),
    "conv_transpose2d": (lambda m, x: m[1].conv_transpose2d(x, _w(m, 3, 2, 3, 3), _w(m, 2), stride=2),
                         [(0, 3, 4, 4)]),
    "conv1d": (lambda m, x: m[1].conv1d(x, _w(m, 2, 3, 3)), [(0, 3, 5)]),
    "linear": (lambda m, x: m[1].linear(x, _w(m, 5, 3), _w(m, 5)), [(0, 3), (2, 0, 3)]),
    "linear_in0": (lambda m, x: m[1].linear(x, m[0].ones(5, 0, dtype=m[0].float32)), [(4, 0)]),
    "matmul": (lambda m, x: x @ _w(m, 3, 2), [(0, 3)]),
    "batch_norm_eval": (lambda m, x: m[1].batch_norm(x, _w(m, 3), _w(m, 3) + 1, _w(m, 3), _w(m, 3), training=False),
                        [(0, 3, 2, 2), (0, 3)]),
    "batch_norm_train": (lambda m, x: m[1].batch_norm(x, _w(m, 3), _w(m, 3) + 1, _w(m, 3), _w(m, 3), training=True),
                         [(0, 3, 2, 2)]),
    "instance_norm": (lambda m, x: m[1].instance_norm(x), [(0, 3, 4, 4)]),
    "group_norm": (lambda m, x: m[1].group_norm(x, 3), [(0, 3, 4, 4)]),
    "cross_entropy": (lambda m, x: m[1].cross_entropy(x, m[0].zeros(0, dtype=m[0].int64)), [(0, 3)]),
    "cross_entropy_sum": (lambda m, x: m[1].cross_entropy(x, m[0].zeros(0, dtype=m[0].int64), reduction="sum"),
                          [(0, 3)]),
    "cross_entropy_none": (lambda m, x: m[1].cross_entropy(x, m[0].zeros(0, dtype=m[0].int64), reduction="none"),
                           [(0, 3)]),
    "mse": (lambda m, x: m[1].mse_loss(x, x.detach() * 0.5), [(0, 3), ()]),
    "mse_sum": (lambda m, x: m[1].mse_loss(x, x.detach() * 0.5, reduction="sum"), [(0, 3)]),
    "l1": (lambda m, x: m[1].l1_loss(x, x.detach() * 0.5), [(0, 3), ()]),
    "bce_logits": (lambda m, x: m[1].binary_cross_entropy_with_logits(x, x.detach().sigmoid()), [(0, 3), ()]),
    "max_pool1d": (lambda m, x: m[1].max_pool1d(x, 2), [(0, 3, 6), (2, 0, 6)]),
    "avg_pool1d": (lambda m, x: m[1].avg_pool1d(x, 2), [(0, 3, 6), (2, 0, 6)]),
    "avg_pool2d_empty_c": (lambda m, x: m[1].avg_pool2d(x, 2), [(2, 0, 4, 4)]),
    "max_pool3d": (lambda m, x: m[1].max_pool3d(x, 2), [(0, 2, 4, 4, 4)]),
    "avg_pool3d": (lambda m, x: m[1].avg_pool3d(x, 2), [(0, 2, 4, 4, 4)]),
    "avg_pool2d": (lambda m, x: m[1].avg_pool2d(x, 2), [(0, 3, 4, 4)]),
    "adaptive_avg_pool2d": (lambda m, x: m[1].adaptive_avg_pool2d(x, 1), [(0, 3, 4, 4)]),
    "dropout": (lambda m, x: m[1].dropout(x, 0.5, training=True), [(0, 3)]),
    "cat": (lambda m, x: m[0].cat([x, x], 0), [(0, 3)]),
    "stack": (lambda m, x: m[0].stack([x, x], 0), [(0, 3), ()]),
}


@pytest.mark.parametrize("name,shape", _ids(NN), ids=lambda v: str(v))
def test_nn_on_empty_batch(torch, device, name, shape):
    check(torch, device, NN[name][0], shape)


def test_empty_reduction_error_is_catchable_as_pytorch_s():
    """max over an empty dim: PyTorch raises IndexError; scratchnet's error is one, and a RuntimeError too."""
    x = sn.zeros(0, 3)
    for fn in (lambda: x.max(0), lambda: x.amax(0), lambda: x.argmax(0), lambda: x.min(0)):
        with pytest.raises(IndexError, match="dim 0"):
            fn()
        with pytest.raises(RuntimeError):
            fn()
    with pytest.raises(RuntimeError, match=r"\(0, 3\)"):
        x.max()
