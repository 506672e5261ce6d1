"""The per-op fast paths compute what the general paths compute: a backward formula run on raw arrays (autograd's
`formula`) gives the Tensor ops' values and dtypes, and records a graph when asked; a number converted without the
overflow handling is the number PyTorch converts; data-less edges describe the array they stand for; small arrays
skip parallel.elementwise's bands with the same result. Each is checked against the slow path or PyTorch."""
import warnings

import numpy
import pytest

import scratchnet as sn
from scratchnet import autograd
from scratchnet.ops import parallel
from scratchnet.tensor import Tensor

torch = pytest.importorskip("torch")

FORMULAS = [
    (lambda gy, y: gy * (1 - y * y), 2),   # tanh
    (lambda gy, y: gy * y * (1 - y), 2),   # sigmoid
    (lambda gy, b: gy / b, 2),
    (lambda gy, a, b: -gy * a / (b * b), 3),
    (lambda gy, y: gy / (2 * y), 2),
]


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("shape", [(), (1,), (3, 4)])
@pytest.mark.parametrize("k", range(len(FORMULAS)))
def test_formula_on_arrays_equals_tensor_ops(k, shape, dtype):
    f, n = FORMULAS[k]
    rng = numpy.random.default_rng(k)
    xs = [Tensor(numpy.asarray(rng.uniform(0.5, 2.0, shape)).astype(dtype)) for _ in range(n)]
    with sn.no_grad():
        fast = autograd.formula(f, *xs)
    with sn.enable_grad():
        slow = f(*xs)  # the Tensor ops themselves
    assert fast.dtype == slow.dtype == numpy.dtype(dtype) and fast.shape == slow.shape == shape
    assert type(fast.data) is numpy.ndarray  # a 0-d result is an array, as every Tensor's data
    numpy.testing.assert_array_equal(fast.data, slow.data)


@pytest.mark.parametrize("zero_d_first", [False, True])
def test_formula_with_mixed_dtypes_promotes_as_pytorch(zero_d_first):
    # a float32 matrix with a float64 0-d tensor is float32 in PyTorch, whichever comes first (NumPy's operators
    # would give float64)
    a = Tensor(numpy.full((2, 3), 0.25, numpy.float32))
    b = Tensor(numpy.asarray(0.5, numpy.float64))
    ta, tb = torch.full((2, 3), 0.25, dtype=torch.float32), torch.tensor(0.5, dtype=torch.float64)
    if zero_d_first:
        a, b, ta, tb = b, a, tb, ta
    with sn.no_grad():
        out = autograd.formula(lambda a, b: a * (1 - b * b), a, b)
    want = ta * (1 - tb * tb)
    assert str(want.dtype) == "torch.float32" and out.dtype == numpy.float32
    numpy.testing.assert_allclose(out.data, want.numpy())


@pytest.mark.parametrize("op", ["tanh", "sigmoid", "exp", "log", "sqrt", "log1p", "mul", "div", "sub"])
def test_second_derivatives_still_recorded(op):
    # create_graph=True records the formulas as Tensor ops: the gradient differentiates again, as in PyTorch
    values = numpy.random.default_rng(0).uniform(0.5, 1.5, (5,))
    other = numpy.random.default_rng(1).uniform(0.5, 1.5, (5,))
    results = []
    for lib in (sn, torch):
        x = lib.tensor(values, dtype=lib.float64, requires_grad=True)
        w = lib.tensor(other, dtype=lib.float64)
        # (log1p through its op module: the Tensor method and scratchnet.log1p are missing)
        log1p = sn.ops.elementary.log1p if lib is sn else torch.log1p
        y = {"mul": lambda: x * w * x, "div": lambda: w / x, "sub": lambda: (w - x) ** 3,
             "log1p": lambda: log1p(x)}.get(op, lambda: getattr(x, op)())()
        (g,) = (sn.autograd if lib is sn else torch.autograd).grad(y.sum(), x, create_graph=True)
        (gg,) = (sn.autograd if lib is sn else torch.autograd).grad(g.sum(), x)
        results.append((numpy.asarray(g.detach().numpy()), numpy.asarray(gg.numpy())))
    numpy.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-12)
    numpy.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-10)


NUMBERS = [0.5, 1, -3, 65504.0, -65504.0, 65520.0, 70000.0, 1e39, -1e39, 2 ** 40, float("inf"), float("nan"),
           -0.0, 1e-8, True]


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_numbers_convert_as_pytorch(dtype):
    # the number joins a tensor of its dtype (it never widens it): overflow gives inf, as PyTorch's kernels
    for v in NUMBERS:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # an overflow to inf is PyTorch's answer, not a warning
            got = (sn.zeros(1, dtype=dtype) + v).numpy()
        want = (torch.zeros(1, dtype=getattr(torch, dtype)) + v).numpy()
        assert got.dtype == want.dtype, v
        numpy.testing.assert_array_equal(got, want, err_msg=f"{v!r} as {dtype}")
        numpy.testing.assert_array_equal(numpy.signbit(got), numpy.signbit(want), err_msg=repr(v))


@pytest.mark.parametrize("shape", [(), (0, 3), (2, 3, 4)])
def test_data_less_edge_describes_its_array(shape):
    a = numpy.zeros(shape, numpy.float16)
    meta = autograd.Meta(a)
    assert (meta.shape, meta.dtype, meta.ndim, meta.size, meta.itemsize, meta.device) == \
        (a.shape, a.dtype, a.ndim, a.size, a.itemsize, sn.backend.device_of(a))


@pytest.mark.parametrize("shape", [(7,), (3, 5), (2, 3, 4, 5), ()])
def test_elementwise_one_band_equals_bands(shape, monkeypatch):
    x = numpy.random.default_rng(0).standard_normal(shape).astype(numpy.float32)

    def body(x, y, mask):
        numpy.greater(x, 0, out=mask)
        numpy.multiply(x, 0.1, out=y)
        numpy.maximum(x, y, out=y)
    whole = parallel.elementwise(body, (x,), (x.dtype, bool))
    monkeypatch.setattr(parallel, "PARALLEL_MIN_SIZE", 1)  # every size now takes the banded (threaded) path
    bands = parallel.elementwise(body, (x,), (x.dtype, bool))
    for a, b in zip(whole, bands):
        assert a.shape == b.shape == shape and a.dtype == b.dtype
        numpy.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dims", [(1, 0), (2, 0, 1), (0, 2, 1, 3), (3, 1, 0, 2)])
def test_permute_gradient_is_the_inverse_permutation(dims):
    values = numpy.random.default_rng(0).standard_normal(tuple(range(2, 2 + len(dims))))
    up = numpy.random.default_rng(1).standard_normal(values.transpose(dims).shape)
    grads = []
    for lib in (sn, torch):
        x = lib.tensor(values, requires_grad=True)
        x.permute(*dims).backward(lib.tensor(up))
        grads.append(numpy.asarray(x.grad.numpy()))
    numpy.testing.assert_array_equal(grads[0], grads[1])


@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
@pytest.mark.parametrize("batch", [(), (2,)])
def test_backward_products_on_arrays_equal_the_op(ta, tb, batch):
    from scratchnet.ops.linalg import MatMul, _gemm
    rng = numpy.random.default_rng(0)
    x = Tensor(rng.standard_normal(batch + ((4, 3) if ta else (3, 4))).astype(numpy.float32))
    y = Tensor(rng.standard_normal(batch + ((5, 4) if tb else (4, 5))).astype(numpy.float32))
    with sn.no_grad():
        fast, op = _gemm(ta, tb, x, y), MatMul(ta, tb)(x, y)
    assert fast.dtype == op.dtype and fast.shape == op.shape == batch + (3, 5) and fast.grad_fn is None
    numpy.testing.assert_array_equal(fast.data, op.data)
    x.requires_grad_()
    assert _gemm(ta, tb, x, y).grad_fn is not None  # recorded while the graph is


def test_matmul_hessian_and_accumulated_leaf_grads_match_pytorch():
    # a leaf used by several ops sums its gradients; with create_graph the sums and products stay differentiable
    rng = numpy.random.default_rng(3)
    w0, x0 = rng.standard_normal((4, 4)), rng.standard_normal((3, 4))
    out = []
    for lib in (sn, torch):
        w = lib.tensor(w0, requires_grad=True)
        x = lib.tensor(x0)
        h = ((x @ w).tanh() @ w).sigmoid() @ w
        (g,) = (sn.autograd if lib is sn else torch.autograd).grad(h.sum(), w, create_graph=True)
        (gg,) = (sn.autograd if lib is sn else torch.autograd).grad((g * g).sum(), w)
        h2 = ((x @ w).tanh() @ w).sigmoid() @ w
        h2.sum().backward()
        out.append([numpy.asarray(t.detach().numpy()) for t in (g, gg, w.grad)])
    for a, b in zip(*out):
        numpy.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_large_host_arrays_keep_the_threaded_tensor_path():
    # one raw NumPy pass runs on one core; past ops/parallel's threshold the Tensor ops split it over threads
    from scratchnet import autograd
    from scratchnet.ops import parallel
    assert autograd.ONE_PASS_SIZE == parallel.PARALLEL_MIN_SIZE
    seen = []
    big = sn.tensor(numpy.ones(parallel.PARALLEL_MIN_SIZE, dtype=numpy.float32), device="cpu")  # host arrays only
    with sn.no_grad():
        out = autograd.formula(lambda a: seen.append(type(a)) or a * 2, big)
    assert seen == [sn.Tensor] and float(out.sum()) == 2 * parallel.PARALLEL_MIN_SIZE
