"""matmul's gradients when an operand is a transposed view (a Gram matrix F Fᵀ, aᵀ @ b): MatMul makes such a grad
in the view's memory order (ops/linalg.py), and the values must be the plain formulas da = gy @ bᵀ, db = aᵀ @ gy,
summed over broadcast batch axes, to first and second order."""
import numpy
import pytest

import scratchnet as sn
from conftest import to_np


def _t(a):
    return a.swapaxes(-1, -2)


@pytest.mark.parametrize("a_view, b_view", [(False, True), (True, False), (True, True)])
@pytest.mark.parametrize("batch_a, batch_b", [((), ()), ((2,), (2,)), ((3, 2), (2,)), ((), (2,))])
def test_grads_through_transposed_views(a_view, b_view, batch_a, batch_b):
    rng = numpy.random.default_rng(len(batch_a) + 2 * len(batch_b) + a_view + 2 * b_view)
    m, k, n = 4, 5, 3
    a0 = rng.standard_normal(batch_a + ((k, m) if a_view else (m, k)))
    b0 = rng.standard_normal(batch_b + ((n, k) if b_view else (k, n)))
    xa, xb = sn.tensor(a0, requires_grad=True), sn.tensor(b0, requires_grad=True)
    a = xa.transpose(-1, -2) if a_view else xa
    b = xb.transpose(-1, -2) if b_view else xb
    y = a @ b
    gy = rng.standard_normal(y.shape)
    (y * sn.tensor(gy)).sum().backward()
    an, bn = (_t(a0) if a_view else a0), (_t(b0) if b_view else b0)
    da, db = gy @ _t(bn), _t(an) @ gy
    da = da.reshape((-1,) + da.shape[-len(batch_a) - 2:]).sum(0) if da.ndim > an.ndim else da
    db = db.reshape((-1,) + db.shape[-len(batch_b) - 2:]).sum(0) if db.ndim > bn.ndim else db
    numpy.testing.assert_allclose(to_np(xa.grad), _t(da) if a_view else da, rtol=1e-12, atol=1e-12)
    numpy.testing.assert_allclose(to_np(xb.grad), _t(db) if b_view else db, rtol=1e-12, atol=1e-12)


def test_gram_gradient_and_second_order():
    """G = F Fᵀ: dF = (W + Wᵀ) F for Σ W·G, and its own gradient (a second derivative) by gradcheck."""
    rng = numpy.random.default_rng(0)
    f0, w0 = rng.standard_normal((2, 3, 7)), rng.standard_normal((2, 3, 3))
    f = sn.tensor(f0, requires_grad=True)
    ((f @ f.transpose(1, 2)) * sn.tensor(w0)).sum().backward()
    numpy.testing.assert_allclose(to_np(f.grad), (w0 + _t(w0)) @ f0, rtol=1e-12, atol=1e-12)
    assert sn.gradcheck(lambda x: ((x @ x.transpose(1, 2)) ** 2).sum(), (sn.tensor(f0, requires_grad=True),))
    assert sn.gradgradcheck(lambda x: (x @ x.transpose(1, 2)).sum(1), (sn.tensor(f0, requires_grad=True),))
