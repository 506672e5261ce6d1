"""The activations beyond relu/tanh/sigmoid (silu, elu, celu, selu, gelu-tanh, hardtanh, relu6, hardsigmoid,
hardswish, mish, softsign, logsigmoid, softmin, softplus(beta, threshold)): values and gradients against PyTorch,
finite differences to second order, modules, and PyTorch's choices at the kinks."""
import numpy
import pytest
from hypothesis import given, strategies as st

import scratchnet as sn
import scratchnet.nn as nn
import scratchnet.nn.functional as F
from scratchnet import testing as T
from breadth_helpers import compare, gradchecks, on_device
from conftest import load_torch, to_np

# (name, scratchnet call, torch call, kinks the finite differences must stay away from)
CASES = [
    ("silu", lambda x: F.silu(x), lambda t, x: t.nn.functional.silu(x), ()),
    ("elu", lambda x: F.elu(x, 0.7), lambda t, x: t.nn.functional.elu(x, 0.7), (0,)),
    ("celu", lambda x: F.celu(x, 1.3), lambda t, x: t.nn.functional.celu(x, 1.3), (0,)),
    ("selu", lambda x: F.selu(x), lambda t, x: t.nn.functional.selu(x), (0,)),
    ("gelu_tanh", lambda x: F.gelu(x, approximate="tanh"), lambda t, x: t.nn.functional.gelu(x, approximate="tanh"),
     ()),
    ("hardtanh", lambda x: F.hardtanh(x, -0.5, 1.5), lambda t, x: t.nn.functional.hardtanh(x, -0.5, 1.5),
     (-0.5, 1.5)),
    ("relu6", lambda x: F.relu6(x * 4), lambda t, x: t.nn.functional.relu6(x * 4), (0, 1.5)),
    ("hardsigmoid", lambda x: F.hardsigmoid(x * 2), lambda t, x: t.nn.functional.hardsigmoid(x * 2), (-1.5, 1.5)),
    ("hardswish", lambda x: F.hardswish(x * 2), lambda t, x: t.nn.functional.hardswish(x * 2), (-1.5, 1.5)),
    ("mish", lambda x: F.mish(x), lambda t, x: t.nn.functional.mish(x), ()),
    ("softsign", lambda x: F.softsign(x), lambda t, x: t.nn.functional.softsign(x), (0,)),  # |x|: f" jumps at 0
    ("logsigmoid", lambda x: F.logsigmoid(x), lambda t, x: t.nn.functional.logsigmoid(x), ()),
    ("softmin", lambda x: F.softmin(x, -1), lambda t, x: t.nn.functional.softmin(x, -1), ()),
    ("softmin_implicit", lambda x: F.softmin(x), lambda t, x: t.nn.functional.softmin(x, dim=None), ()),
    ("softplus", lambda x: F.softplus(x), lambda t, x: t.nn.functional.softplus(x), ()),
    ("softplus_beta", lambda x: F.softplus(x * 3, beta=2.0, threshold=4.0),
     lambda t, x: t.nn.functional.softplus(x * 3, beta=2.0, threshold=4.0), (2 / 3,)),
]
IDS = [c[0] for c in CASES]


@pytest.mark.parametrize("case", CASES, ids=IDS)
@given(shape=T.shapes(0, 3), data=st.data())
def test_activation_matches_torch(case, shape, data):
    t = load_torch()
    _, fs, ft, kinks = case
    x = data.draw(T.arrays(shape, -3.0, 3.0, kinks=kinks, margin=0.02))
    # rtol 1e-7, not 1e-9: PyTorch's celu backward rounds 1/alpha to float32 (alpha.toFloat() in derivatives.yaml)
    compare(t, fs, lambda x: ft(t, x), [x], rtol=1e-7, atol=1e-12)


@pytest.mark.parametrize("case", CASES, ids=IDS)
@given(shape=T.shapes(0, 2, max_side=3), data=st.data())
def test_activation_gradcheck_to_second_order(case, shape, data):
    _, fs, _, kinks = case
    # the hinge points are kept 0.05 away: a central difference straddling one measures the mean of two slopes
    x = data.draw(T.arrays(shape, -3.0, 3.0, kinks=kinks, margin=0.05))
    gradchecks(fs, x)


def test_large_inputs_give_finite_gradients():
    """The exponential branch of elu/celu/selu is never evaluated at large x (0·inf would make the gradient NaN),
    softplus/logsigmoid/mish do not overflow, and all agree with PyTorch there."""
    t = load_torch()
    x = numpy.array([-800.0, -50.0, -1e-12, 0.0, 1e-12, 50.0, 800.0])
    for _, fs, ft, _ in CASES:
        compare(t, fs, lambda x: ft(t, x), [x], rtol=1e-7, atol=1e-12)
        xs = on_device(x)
        fs(xs).sum().backward()
        assert numpy.isfinite(to_np(xs.grad)).all()


def test_kinks_take_pytorchs_derivative():
    t = load_torch()
    pts = numpy.array([-3.0, 0.0, 3.0, 6.0, -1.0, 1.0])
    for fs, ft in [(F.hardtanh, t.nn.functional.hardtanh), (F.relu6, t.nn.functional.relu6),
                   (F.hardsigmoid, t.nn.functional.hardsigmoid), (F.hardswish, t.nn.functional.hardswish),
                   (F.elu, t.nn.functional.elu), (F.celu, t.nn.functional.celu), (F.selu, t.nn.functional.selu)]:
        compare(t, fs, ft, [pts], rtol=1e-7, atol=1e-12)


def test_float32_stays_float32():
    x = sn.randn(2, 3)
    for _, fs, _, _ in CASES:
        assert fs(x).dtype == numpy.float32


MODULES = [("SiLU", (), {}), ("ELU", (0.5,), {}), ("CELU", (), {"alpha": 2.0}), ("SELU", (), {}),
           ("Hardtanh", (-2.0, 2.0), {}), ("ReLU6", (), {}), ("Hardsigmoid", (), {}), ("Hardswish", (), {}),
           ("Mish", (), {}), ("Softsign", (), {}), ("LogSigmoid", (), {}), ("Softmin", (), {"dim": 1}),
           ("Softplus", (), {"beta": 2.0, "threshold": 5.0}), ("GELU", (), {"approximate": "tanh"})]


@pytest.mark.parametrize("name,args,kwargs", MODULES, ids=[m[0] for m in MODULES])
def test_modules_match_torch(torch, device, name, args, kwargs):
    x = numpy.random.default_rng(1).standard_normal((3, 4)) * 4
    ms, mt = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert ms.state_dict() == {} and len(mt.state_dict()) == 0
    compare(torch, ms, mt, [x], rtol=1e-7, atol=1e-12)


def test_bad_arguments():
    x = sn.randn(3)
    with pytest.raises(RuntimeError, match="min_val"):
        F.hardtanh(x, 2.0, 1.0)
    with pytest.raises(TypeError, match="floating point"):
        F.silu(sn.tensor([1, 2]))


@pytest.mark.parametrize("slope", [None, 0.1, -0.5, 2.0])  # relu, and leaky relu's both branches of its backward
def test_relu_family_with_non_contiguous_inputs_and_gradients(device, slope):
    """A transposed (non-contiguous) input or incoming gradient once gave garbage: the output buffer was made with
    the input's memory layout, so reshaping it copied, and the result was written into the copy."""
    rng = numpy.random.default_rng(0)
    x = rng.standard_normal((2, 3, 5, 4))
    g = rng.standard_normal((2, 3, 4, 5))
    s = 0.0 if slope is None else slope
    fn = F.relu if slope is None else (lambda t: F.leaky_relu(t, slope))
    a = sn.tensor(x, dtype=sn.float64, device=device, requires_grad=True)
    y = fn(a.transpose(2, 3))                              # forward on a non-contiguous view
    want_y = numpy.where(x > 0, x, s * x).swapaxes(2, 3)
    numpy.testing.assert_allclose(y.numpy(), want_y, rtol=1e-12)
    (y.transpose(2, 3) * sn.tensor(g.swapaxes(2, 3), dtype=sn.float64, device=device)).sum().backward()
    numpy.testing.assert_allclose(a.grad.numpy(), numpy.where(x > 0, 1, s) * g.swapaxes(2, 3), rtol=1e-12)
    b = sn.tensor(x, dtype=sn.float64, device=device, requires_grad=True)
    z = fn(b)                                              # the incoming gradient arrives transposed
    (z.transpose(2, 3) * sn.tensor(g, dtype=sn.float64, device=device)).sum().backward()
    numpy.testing.assert_allclose(b.grad.numpy(), numpy.where(x > 0, 1, s) * g.swapaxes(2, 3), rtol=1e-12)
