"""Helpers of the nn breadth tests: PyTorch comparison of values and gradients, and finite-difference checks, on
the device under test ($SCRATCHNET_DEVICE)."""
import numpy

import scratchnet as sn
from conftest import to_np


def on_device(a, grad=True, dtype="float64"):
    return sn.tensor(numpy.asarray(a), dtype=dtype, requires_grad=grad, device=sn.get_default_device())


def compare(t, fn_s, fn_t, arrays, rtol=1e-7, atol=1e-9, grads=True, ints=()):
    """Same float64 inputs through scratchnet and PyTorch: outputs equal, and input gradients of Σ w·y equal
    (w random). `ints` are extra non-differentiable arguments (index tensors) given to both as they are."""
    xs = [on_device(a) for a in arrays]
    xt = [t.tensor(numpy.asarray(a, dtype=numpy.float64), requires_grad=True) for a in arrays]
    ys, yt = fn_s(*xs), fn_t(*xt)
    ys_l, yt_l = (list(ys), list(yt)) if isinstance(ys, (tuple, list)) else ([ys], [yt])
    for a, b in zip(ys_l, yt_l):
        assert tuple(a.shape) == tuple(b.shape), (a.shape, b.shape)
        numpy.testing.assert_allclose(to_np(a), to_np(b), rtol=rtol, atol=atol)
    if not grads:
        return
    rng = numpy.random.default_rng(0)
    ls, lt = 0, 0
    for a, b in zip(ys_l, yt_l):
        if a.dtype.kind != "f":
            continue
        w = rng.standard_normal(a.shape)
        ls = ls + (a * on_device(w, False)).sum()
        lt = lt + (b * t.tensor(w)).sum()
    ls.backward()
    lt.backward()
    for i, (a, b) in enumerate(zip(xs, xt)):
        ga = numpy.zeros(a.shape) if a.grad is None else to_np(a.grad)
        gb = numpy.zeros(b.shape) if b.grad is None else to_np(b.grad)
        numpy.testing.assert_allclose(ga, gb, rtol=rtol, atol=atol, err_msg=f"gradient of input {i}")


def gradchecks(fn, *arrays, second=True, max_elements=120, **kw):
    """First (and second) order finite-difference checks of fn in float64 on the device under test."""
    xs = [on_device(a) for a in arrays]
    assert sn.gradcheck(fn, xs, max_elements=max_elements, **kw)
    if second:
        assert sn.gradgradcheck(fn, xs, max_elements=max_elements, **kw)
