"""The weight gradient's GEMM in either orientation (conv_kernels.weight_product): every route that uses it equals
the readable twin (values and second derivatives, float64, groups, dilation, padding, odd batches) whichever
orientation the output-channel count picks, and float32 stays float32."""
import numpy
import pytest

import scratchnet as sn
import scratchnet.nn.functional as F
from scratchnet.ops import conv, conv_kernels

# (n, C, O, groups, size, kernel, stride, padding, dilation, routes that apply)
CASES = [
    (3, 4, 6, 2, (9, 8), (3, 2), (2, 1), (1, 0), (1, 2), ["im2col", "im2col_wide", "im2col_nd"]),
    (5, 3, 4, 1, (10, 9), (3, 3), (1, 1), (1, 1), (1, 1), ["im2col", "im2col_wide", "im2col_rows", "shift"]),
    (1, 5, 7, 1, (12, 11), (3, 3), (1, 1), (2, 1), (2, 1), ["im2col", "im2col_rows", "shift"]),
    (3, 2, 5, 1, (9, 8), (2, 2), (2, 2), (0, 0), (1, 1), ["patch", "im2col"]),
]


def _grads(case, route, dtype, kernels="fast"):
    n, c, o, g, size, k, s, p, d, _ = case
    rng = numpy.random.default_rng(n * 100 + c)
    x = sn.tensor(rng.standard_normal((n, c) + size), dtype=dtype, requires_grad=True)
    w = sn.tensor(rng.standard_normal((o, c // g) + k), dtype=dtype, requires_grad=True)
    with sn.use_kernels(kernels), conv.force_route(route):
        y = F.conv2d(x, w, None, s, p, d, g)
        u = sn.tensor(rng.standard_normal(y.shape), dtype=dtype)
        gx, gw = sn.autograd.grad((y * u).sum(), [x, w], create_graph=True)
        # a second derivative through the weight gradient (ConvWeightGradFn's own backward)
        v = sn.tensor(rng.standard_normal(gw.shape), dtype=dtype)
        (hx,) = sn.autograd.grad((gw * v).sum(), [x])
    return [t.numpy() for t in (y, gx, gw, hx)]


@pytest.fixture(params=[0, 10**6], ids=["gy@colT", "col@gyT"])
def orientation(request, monkeypatch):
    """Every weight gradient in one orientation: 0 rows or fewer never transposes, 10**6 wherever K >= O."""
    monkeypatch.setattr(conv_kernels, "WEIGHT_GRAD_TRANSPOSE_MAX_ROWS", request.param)


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"n{c[0]}c{c[1]}o{c[2]}g{c[3]}k{c[5]}s{c[6]}")
def test_weight_grad_equals_reference(case, orientation):
    ref = _grads(case, "im2col", "float64", "reference")
    for route in case[-1]:
        for i, (a, b) in enumerate(zip(_grads(case, route, "float64"), ref)):
            numpy.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10 * max(1.0, numpy.abs(b).max()),
                                          err_msg=f"{route} output {i}")


def test_weight_grad_float32(orientation):
    case = CASES[1]
    ref = _grads(case, "im2col", "float64", "reference")
    for route in case[-1]:
        for i, (a, b) in enumerate(zip(_grads(case, route, "float32"), ref)):
            assert a.dtype == numpy.float32, (route, i, a.dtype)
            numpy.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4 * max(1.0, numpy.abs(b).max()),
                                          err_msg=f"{route} output {i}")


@pytest.mark.parametrize("n", [1, 3])
@pytest.mark.parametrize("rows", [2, 5, 9])
def test_weight_product_is_the_sum_of_products(n, rows, orientation):
    """Σ_n g_n @ col_nᵀ for stacked and single matrices, in both orientations, equals einsum's; the result is the
    caller's own (adding into it leaves the inputs alone)."""
    rng = numpy.random.default_rng(rows)
    g, col = rng.standard_normal((n, rows, 7)), rng.standard_normal((n, 5, 7))
    want = numpy.einsum("nol,nkl->ok", g, col)
    got = conv_kernels.weight_product(numpy, g, col)
    numpy.testing.assert_allclose(got, want, rtol=1e-12)
    got += 1.0
    numpy.testing.assert_allclose(conv_kernels.weight_product(numpy, g[0], col[0]), g[0] @ col[0].T, rtol=1e-12)
