"""The engine's contract: accumulation, graph freeing, grad modes, grad(), deep graphs, and its error messages."""
import sys

import numpy
import pytest

import scratchnet as sn


def test_reused_tensor_accumulates():
    x = sn.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * x + x * 3 + x  # x used four times: dy/dx = 2x + 4
    y.sum().backward()
    numpy.testing.assert_allclose(x.grad.numpy(), [6, 8, 10])
    (x * 2).sum().backward()  # a second backward adds into .grad, like PyTorch
    numpy.testing.assert_allclose(x.grad.numpy(), [8, 10, 12])


def test_backward_twice_without_retain_graph_raises():
    x = sn.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * 2).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_retain_graph_allows_second_backward():
    x = sn.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * 2).sum()
    y.backward(retain_graph=True)
    y.backward()
    numpy.testing.assert_allclose(x.grad.numpy(), 4 * numpy.exp([1.0, 2.0]), rtol=1e-6)


def test_graph_buffers_freed_after_backward():
    x = sn.tensor([1.0, 2.0], requires_grad=True)
    y = x.tanh()
    fn = y.grad_fn
    y.sum().backward()
    assert fn.inputs is None and fn._saved is None


def test_non_scalar_backward_needs_gradient():
    x = sn.randn(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"shape \(2, 3\)"):
        (x * 2).backward()
    with pytest.raises(RuntimeError, match=r"gradient for output 0 has shape \(3,\)"):
        (x * 2).backward(sn.ones(3))
    (x * 2).backward(sn.ones(2, 3))
    numpy.testing.assert_allclose(x.grad.numpy(), 2 * numpy.ones((2, 3)))


def test_backward_through_no_grad_result_raises():
    x = sn.randn(3, requires_grad=True)
    with sn.no_grad():
        y = (x * 2).sum()
    assert not y.requires_grad and y.grad_fn is None
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()


def test_no_grad_and_enable_grad_nest_and_decorate():
    x = sn.randn(3, requires_grad=True)

    @sn.no_grad()
    def f(t):
        with sn.enable_grad():
            inner = t * 2
        return t * 2, inner

    outer, inner = f(x)
    assert not outer.requires_grad and inner.requires_grad
    assert sn.is_grad_enabled()


def test_grad_does_not_touch_dot_grad_and_supports_nonleaf_inputs():
    x = sn.tensor([0.5, -1.0], requires_grad=True)
    h = x * 3
    y = (h * h).sum()
    gh, gx = sn.autograd.grad(y, [h, x])
    numpy.testing.assert_allclose(gh.numpy(), 2 * h.numpy())
    numpy.testing.assert_allclose(gx.numpy(), 18 * x.numpy())
    assert x.grad is None


def test_grad_unused_input():
    x, z = sn.randn(2, requires_grad=True), sn.randn(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="not used"):
        sn.autograd.grad((x * 2).sum(), [x, z])
    gx, gz = sn.autograd.grad((x * 2).sum(), [x, z], allow_unused=True)
    assert gz is None


def test_double_backprop_hessian_vector_product():
    # f(x) = sum(x**3) -> grad = 3x**2 -> Hessian = diag(6x); H v = 6 x v
    x = sn.tensor([1.0, -2.0, 0.5], dtype="float64", requires_grad=True)
    v = sn.tensor([0.3, 0.1, -1.0], dtype="float64")
    (g,) = sn.autograd.grad((x ** 3).sum(), x, create_graph=True)
    (hv,) = sn.autograd.grad((g * v).sum(), x)
    numpy.testing.assert_allclose(hv.numpy(), 6 * x.numpy() * v.numpy())


def test_create_graph_backward_gives_differentiable_grad():
    x = sn.tensor([2.0], dtype="float64", requires_grad=True)
    (x.sin() * x).sum().backward(create_graph=True)
    g = x.grad  # sin x + x cos x
    assert g.requires_grad
    (g2,) = sn.autograd.grad(g.sum(), x)  # 2 cos x - x sin x
    numpy.testing.assert_allclose(g2.numpy(), 2 * numpy.cos(2.0) - 2 * numpy.sin(2.0))


def test_100k_op_chain_does_not_recurse():
    x = sn.tensor([1.0], dtype="float64", requires_grad=True)
    y = x
    limit = sys.getrecursionlimit()
    for _ in range(100_000):
        y = y * 1.0 + 0.0  # 200,000 ops
    y.sum().backward()
    assert sys.getrecursionlimit() == limit
    numpy.testing.assert_allclose(x.grad.numpy(), [1.0])


def test_retain_grad_on_nonleaf():
    x = sn.tensor([1.0, 2.0], requires_grad=True)
    h = (x * 2).retain_grad()
    (h * h).sum().backward()
    numpy.testing.assert_allclose(h.grad.numpy(), 2 * h.numpy())


def test_freezing_skips_gradient():
    w = sn.randn(3, requires_grad=True)
    c = sn.randn(3)
    (w * c).sum().backward()
    assert c.grad is None and w.grad is not None


def test_float32_stays_float32_through_backward():
    x = sn.randn(4, 3, requires_grad=True)
    w = sn.randn(3, 2, requires_grad=True)
    y = ((x @ w).tanh() * 2.5 + 1).softmax(1).log().mean()
    assert y.dtype == numpy.float32
    y.backward()
    assert x.grad.dtype == numpy.float32 and w.grad.dtype == numpy.float32


def test_seeded_runs_repeat():
    sn.manual_seed(7)
    a = sn.randn(5).numpy(), sn.rand(3).numpy(), sn.randint(0, 10, (4,)).numpy()
    sn.manual_seed(7)
    b = sn.randn(5).numpy(), sn.rand(3).numpy(), sn.randint(0, 10, (4,)).numpy()
    for u, v in zip(a, b):
        numpy.testing.assert_array_equal(u, v)


def test_gradcheck_reports_input_element_and_values():
    class Wrong(sn.autograd.Function):
        def forward(self, x):
            return x * x

        def backward(self, gy):
            return gy * self.inputs[0] * 3  # should be 2x

    x = sn.tensor([[1.0, 2.0]], dtype="float64", requires_grad=True)
    with pytest.raises(sn.GradcheckError, match=r"input 0 \(shape \(1, 2\)\) element \(0, 0\): analytic .* numeric"):
        sn.gradcheck(lambda t: Wrong()(t), [x])


def test_gradcheck_large_input_uses_sampling_and_directions():
    x = sn.randn(40, 30, dtype="float64", requires_grad=True)
    assert sn.gradcheck(lambda t: (t.tanh() @ t.T).sum(1), [x], max_elements=50)


def test_to_dot_shows_functions_and_leaves():
    from scratchnet.viz import to_dot
    w = sn.randn(3, 2, requires_grad=True)
    x = sn.randn(4, 3)
    dot = to_dot((x @ w).tanh().sum())
    assert dot.startswith("digraph") and dot.count("MatMul") == 1 and "Tanh" in dot and "Sum" in dot
    assert "leaf\\n(3, 2)" in dot and "(4, 3)" not in dot  # x needs no grad, so backward never reaches it
