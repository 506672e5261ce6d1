"""Helpers shared by the tests of the op-breadth families (tests/test_ops_breadth_*.py): a finite-difference check
on the device under test, and a side-by-side run against PyTorch of the same function of the same float64 inputs."""
import numpy

import scratchnet as sn
from conftest import to_np


def leaf(a, device, dtype="float64", grad=True):
    a = numpy.asarray(a)
    grad = grad and a.dtype.kind == "f"
    return sn.tensor(a, dtype=dtype if a.dtype.kind == "f" else None, device=device, requires_grad=grad)


def check(fn, *arrays, device=None, second=True, **kw):
    """gradcheck (and gradgradcheck unless second=False) of fn at float64 copies of `arrays` on `device`."""
    xs = [leaf(a, device) for a in arrays]
    assert sn.gradcheck(fn, xs, **kw)
    if second:
        assert sn.gradgradcheck(fn, xs, **kw)


def _outs(y):
    return list(y) if isinstance(y, (tuple, list)) else [y]


def against_torch(torch, device, fn_s, fn_t, arrays, rtol=1e-9, atol=1e-10, grad=True, seed=0, dtype="float64"):
    """Run fn on both frameworks with the same inputs (float arrays as `dtype` leaves, float64 unless asked);
    compare every output's values and dtype, then the input gradients of sum(w_i * out_i) over the float outputs
    for a random w (infinities and NaNs must sit in the same places)."""
    xs = [leaf(a, device, dtype) for a in arrays]
    arrays = [numpy.asarray(a, dtype=dtype) if numpy.asarray(a).dtype.kind == "f" else numpy.asarray(a)
              for a in arrays]
    xt = [torch.tensor(a, requires_grad=bool(grad and a.dtype.kind == "f")) for a in arrays]
    ys, yt = _outs(fn_s(*xs)), _outs(fn_t(*xt))
    assert len(ys) == len(yt)
    for s, t in zip(ys, yt):
        assert s.shape == tuple(t.shape), (s.shape, tuple(t.shape))
        assert str(s.dtype) == str(t.dtype).replace("torch.", ""), (s.dtype, t.dtype)
        numpy.testing.assert_allclose(to_np(s), to_np(t), rtol=rtol, atol=atol)
    if not grad:
        return ys
    rng = numpy.random.default_rng(seed)
    pairs = [(s, t) for s, t in zip(ys, yt) if s.dtype.kind == "f" and s.requires_grad]
    if not pairs:
        return ys
    ws = [rng.standard_normal(s.shape) for s, _ in pairs]
    sum(((s * leaf(w, device, grad=False)).sum() for (s, _), w in zip(pairs, ws))).backward()
    sum(((t * torch.tensor(w)).sum() for (_, t), w in zip(pairs, ws))).backward()
    for s, t in zip(xs, xt):
        if not t.requires_grad:
            continue
        gs = numpy.zeros(s.shape) if s.grad is None else to_np(s.grad)
        gt = numpy.zeros(s.shape) if t.grad is None else to_np(t.grad)
        numpy.testing.assert_allclose(gs, gt, rtol=rtol, atol=atol)
    return ys


class torch_float32:
    """PyTorch's default dtype as scratchnet's (float32) for a block: integer inputs to float functions then give
    the same dtype in both (the torch fixture sets float64 for everything else)."""

    def __init__(self, torch):
        self.torch = torch

    def __enter__(self):
        self.old = self.torch.get_default_dtype()
        self.torch.set_default_dtype(self.torch.float32)

    def __exit__(self, *exc):
        self.torch.set_default_dtype(self.old)


def run_case(fn, arrays, second=True, grad=True, rtol=1e-9, atol=1e-10):
    """One random configuration of an op written once for both libraries as fn(L, *tensors) (L is scratchnet or
    torch): finite differences on scratchnet (first order, and second unless second=False), then values, dtypes
    and gradients against PyTorch. Runs on scratchnet's default device."""
    from conftest import load_torch
    torch = load_torch()
    floats = [i for i, a in enumerate(arrays) if numpy.asarray(a).dtype.kind == "f"]
    if grad and floats:
        check(lambda *xs: fn(sn, *xs), *arrays, second=second)
    return against_torch(torch, None, lambda *xs: fn(sn, *xs), lambda *xs: fn(torch, *xs), arrays, rtol=rtol,
                         atol=atol, grad=grad)


def dims(ndim):
    """A valid dim for a tensor with ndim dims, negative ones included (0 and -1 for a 0-d tensor)."""
    from hypothesis import strategies as st
    return st.integers(-max(ndim, 1), max(ndim, 1) - 1)
