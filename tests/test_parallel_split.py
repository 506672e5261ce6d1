"""Work split over the CPU's threads gives the one-pass result bit for bit, on any number of threads: the broadcast
arithmetic of ops/parallel.binary, and the passes that split a whole-array pass into rows (reductions over the
trailing axes). Every threshold is lowered to 1 so that small arrays take the split paths, and the thread count
is set past the row count too (more threads than rows)."""
import warnings

import numpy
import pytest

import scratchnet as sn
from scratchnet import backend
from scratchnet.ops import parallel

from conftest import to_np

SHAPES = [
    ((2, 3, 4, 5), (2, 3, 4, 5)),
    ((2, 3, 4, 5), (1, 3, 1, 1)),      # a per-channel operand (batch norm's factors)
    ((1, 6, 7), (1, 6, 1)),            # one image's maps minus their means (the filter bank's centred Grams)
    ((3, 1, 5), (1, 4, 5)),            # neither operand has the result's shape
    ((5, 7), (7,)),
    ((9,), ()),
    ((4, 2, 3), ()),
]


@pytest.fixture(params=[1, 2, 3, 16])
def threads(request, monkeypatch):
    monkeypatch.setattr(parallel, "PARALLEL_MIN_SIZE", 1)   # every size now takes the banded (threaded) path
    old = backend.num_threads()
    backend.set_num_threads(request.param)
    yield request.param
    backend.set_num_threads(old)


@pytest.mark.parametrize("name,op", [("add", numpy.add), ("subtract", numpy.subtract),
                                     ("multiply", numpy.multiply), ("divide", numpy.divide)])
@pytest.mark.parametrize("shapes", SHAPES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_binary_equals_the_ufunc_bit_for_bit(threads, name, op, shapes, dtype):
    rng = numpy.random.default_rng(0)
    a, b = (rng.standard_normal(s).astype(dtype) if s else numpy.dtype(dtype).type(1.7) for s in shapes)
    for x, y in ((a, b), (b, a)):
        got, want = parallel.binary(name, x, y), op(x, y)
        assert got.shape == want.shape and got.dtype == want.dtype and got.flags.c_contiguous
        numpy.testing.assert_array_equal(got, want)


def test_binary_of_slices_and_broadcasts_keeps_numpys_layout(threads):
    x = numpy.random.default_rng(5).standard_normal((3, 8, 4, 5)).astype(numpy.float32)
    a, b = x[:, :4], x[:, 4:]                       # a concatenation's gradient pieces: strided, C-ordered
    spread = numpy.broadcast_to(x[:1, :4, :1], a.shape)   # a mean's gradient: zero strides, the full shape
    for y, z in ((a, b), (a, x[:1, :4, :1]), (x[:, ::2], b), (a[:, :, :, ::-1], b), (a.transpose(0, 1, 3, 2), b.mT),
                 (a, spread), (spread, a.mT.mT), (a.transpose(0, 1, 3, 2), numpy.broadcast_to(x[:1, :4, :1, :1], b.mT.shape)),
                 (spread, spread)):
        got, want = parallel.binary("add", y, z), y + z
        assert got.strides == want.strides
        numpy.testing.assert_array_equal(got, want)
        numpy.testing.assert_array_equal(parallel.negative(y), -y)
        assert parallel.negative(y).strides == (-y).strides


def test_binary_keeps_numpys_result_where_it_would_differ(threads):
    rng = numpy.random.default_rng(1)
    a = rng.integers(1, 9, (4, 6)).astype(numpy.float32)   # no zeros: the integer quotients are finite
    # a transposed operand (NumPy keeps its layout), mixed dtypes and integers (NumPy's promotion): the plain operator
    for x, y in ((a.T, a.T), (a, a.astype(numpy.float64)), (a.astype(numpy.int32), a.astype(numpy.int32))):
        got, want = parallel.binary("divide", x, y), numpy.divide(x, y)
        assert got.dtype == want.dtype and got.strides == want.strides
        numpy.testing.assert_array_equal(got, want)


def test_binary_keeps_the_callers_errstate_in_every_thread(threads):
    a = numpy.zeros((4, 8, 3), numpy.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with numpy.errstate(divide="ignore", invalid="ignore"):
            out = parallel.binary("divide", a, a)
    assert numpy.isnan(out).all()
    with pytest.warns(RuntimeWarning):
        with numpy.errstate(invalid="warn"):
            parallel.binary("divide", a, a)


def test_ops_on_the_split_paths_give_the_same_values_and_gradients(threads, device):
    # on a GPU the helpers hand the whole arrays to CuPy: the same values, and no host round trip
    rng = numpy.random.default_rng(2)
    a0, b0 = rng.standard_normal((3, 4, 5, 6)), rng.standard_normal((1, 4, 1, 6))
    out = []
    for split in (False, True):
        parallel.PARALLEL_MIN_SIZE = 1 if split else 2**60
        a, b = sn.tensor(a0, requires_grad=True, device=device), sn.tensor(b0, requires_grad=True, device=device)
        y = ((a + b) * (-a - b) / (b * b + 1)).mean(dim=(2, 3)).sum(dim=1)
        y.sum().backward()
        out.append([to_np(t) for t in (y, a.grad, b.grad)])
    for u, v in zip(*out):
        numpy.testing.assert_array_equal(u, v)


def test_helpers_make_no_host_round_trip_on_a_device(threads, device, transfer_counter):
    x = sn.tensor(numpy.ones((2, 3, 4, 5), numpy.float32), device=device).data
    with transfer_counter() as k:
        parallel.binary("add", x, x[:1])
        parallel.negative(x)
        parallel.reduce_trailing("sum", x, (2, 3))
    assert k.d2h == 0 and k.h2d == 0, k.log


@pytest.mark.parametrize("name", ["sum", "mean"])
@pytest.mark.parametrize("shape,axes", [((4, 5, 6), (2,)), ((4, 5, 6), (1, 2)), ((3, 20000), (1,)),
                                        ((2, 3, 4, 5), (3,)), ((1, 7, 9), (2,)), ((4, 5, 6), (0, 1, 2)),
                                        ((4, 5, 6), (0, 2)), ((4, 5, 6), (1,))])
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_trailing_reductions_equal_numpys_bit_for_bit(threads, name, shape, axes, keepdims, dtype):
    x = numpy.random.default_rng(3).standard_normal(shape).astype(dtype)   # 20,000 values a row: pairwise blocks
    got, want = parallel.reduce_trailing(name, x, axes, keepdims), getattr(x, name)(axis=axes, keepdims=keepdims)
    assert got.shape == want.shape and got.dtype == want.dtype
    numpy.testing.assert_array_equal(got, want)
    t = x.transpose(tuple(range(x.ndim))[::-1])    # not C-contiguous: NumPy's own call
    numpy.testing.assert_array_equal(parallel.reduce_trailing(name, t, axes, keepdims),
                                     getattr(t, name)(axis=axes, keepdims=keepdims))


def test_negative_equals_numpys(threads):
    x = numpy.random.default_rng(4).standard_normal((3, 4, 5)).astype(numpy.float32)
    x[0, 0, 0] = 0.0
    for t in (x, x.transpose(2, 1, 0), x.astype(numpy.int64)):
        got, want = parallel.negative(t), -t
        assert got.dtype == want.dtype and got.strides == want.strides
        numpy.testing.assert_array_equal(got, want)
        numpy.testing.assert_array_equal(numpy.signbit(got), numpy.signbit(want))   # -0.0 for 0.0


@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
@pytest.mark.parametrize("shape,dim", [((5, 4, 3, 2), 1), ((5, 4, 3, 2), -1), ((5, 4, 3, 2), 0), ((6, 3), 1),
                                       ((1, 7), -1), ((), 0), ((4, 0, 3), 2)])
def test_softmax_split_over_samples_equals_one_pass(threads, device, fn, shape, dim):
    rng = numpy.random.default_rng(6)
    x0, up = rng.standard_normal(shape).astype(numpy.float32), rng.standard_normal(shape).astype(numpy.float32)
    out = []
    for split in (False, True):
        parallel.PARALLEL_MIN_SIZE = 1 if split else 2**60
        x = sn.tensor(x0, requires_grad=True, device=device)
        y = getattr(sn.nn.functional, fn)(x, dim=dim)
        y.backward(sn.tensor(up, device=device))
        out.append([to_np(y), to_np(x.grad)])
    for u, v in zip(*out):
        numpy.testing.assert_array_equal(u, v)


@pytest.mark.parametrize("shapes,dim", [([(3, 2, 4), (3, 5, 4)], 1), ([(3, 2, 4), (3, 2, 1), (3, 2, 2)], -1),
                                        ([(2, 3), (4, 3)], 0), ([(1, 2, 3)], 1), ([(0, 2), (0, 3)], 1)])
def test_cat_split_over_samples_equals_one_pass(threads, device, shapes, dim):
    rng = numpy.random.default_rng(7)
    arrays = [rng.standard_normal(s).astype(numpy.float32) for s in shapes]
    out = []
    for split in (False, True):
        parallel.PARALLEL_MIN_SIZE = 1 if split else 2**60
        xs = [sn.tensor(a, requires_grad=True, device=device) for a in arrays]
        y = sn.cat(xs, dim=dim)
        (y * y).sum().backward()
        out.append([to_np(y)] + [to_np(x.grad) for x in xs])
    numpy.testing.assert_array_equal(out[1][0], numpy.concatenate(arrays, axis=dim))
    for u, v in zip(*out):
        numpy.testing.assert_array_equal(u, v)


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("c,o,size,stride,padding,dilation,groups", [
    (8, 32, (6, 6), 1, 1, 1, 1),     # a "same" conv whose input grad is col2im's (O large beside the pixels)
    (6, 4, (9, 7), 2, 1, 1, 1),      # strided: never a conv
    (6, 8, (8, 9), 1, 2, 2, 2),      # dilated, two groups
    (5, 6, (9, 9), 1, 1, 1, 1),      # small maps (the wide layout), channels not a multiple of the threads
])
def test_conv_of_a_small_batch_split_over_channels_or_rows_equals_the_twin(threads, n, c, o, size, stride, padding,
                                                                          dilation, groups):
    rng = numpy.random.default_rng(9)
    x0 = rng.standard_normal((n, c) + size)
    w0 = rng.standard_normal((o, c // groups, 3, 3))
    out = []
    for kernels in ("reference", "fast"):
        x, w = sn.tensor(x0, requires_grad=True), sn.tensor(w0, requires_grad=True)
        with sn.use_kernels(kernels):
            y = sn.nn.functional.conv2d(x, w, stride=stride, padding=padding, dilation=dilation, groups=groups)
            y.backward(sn.tensor(numpy.cos(numpy.arange(y.numel())).reshape(y.shape)))
        out.append([to_np(y), to_np(x.grad), to_np(w.grad)])
    for u, v in zip(*out):
        numpy.testing.assert_allclose(v, u, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("n", [1, 2])
def test_input_grad_to_a_few_channels_equals_the_twin(threads, n):
    # dx of a 64-filter conv to a 3-channel image (the filter bank's first convs): the GEMM split by rows
    rng = numpy.random.default_rng(10)
    x0, w0 = rng.standard_normal((n, 3, 12, 11)), rng.standard_normal((16, 3, 5, 5))
    out = []
    for kernels in ("reference", "fast"):
        x = sn.tensor(x0, requires_grad=True)
        with sn.use_kernels(kernels):
            y = sn.nn.functional.conv2d(x, sn.tensor(w0), padding=2)
            y.backward(sn.tensor(numpy.sin(numpy.arange(y.numel())).reshape(y.shape)))
        out.append(to_np(x.grad))
    numpy.testing.assert_allclose(out[1], out[0], rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("shapes", [((2, 8, 20000), (2, 20000, 6)),    # long: chunks of the depth
                                    ((1, 16, 32), (1, 32, 5000)),      # wide: columns
                                    ((3, 300, 40), (3, 40, 50))])      # rows
def test_threaded_matmul_is_the_product_on_any_thread_count(threads, shapes):
    from scratchnet.ops import linalg
    rng = numpy.random.default_rng(11)
    a, b = (rng.standard_normal(s).astype(numpy.float32) for s in shapes)
    got = linalg._threaded_matmul(a, b)
    numpy.testing.assert_allclose(got, numpy.matmul(a.astype(numpy.float64), b), rtol=1e-4, atol=1e-3)
    old = backend.num_threads()
    backend.set_num_threads(1)
    try:
        one = linalg._threaded_matmul(a, b)
    finally:
        backend.set_num_threads(old)
    if shapes[0][-1] >= 2 * linalg.DEPTH_CHUNK:   # chunks of the depth: the same sums in the same order
        numpy.testing.assert_array_equal(got, one)
    else:   # BLAS's edge tiles of a block of rows or columns may add in another order
        numpy.testing.assert_allclose(got, one, rtol=1e-5, atol=1e-5)


def test_batch_norm_split_over_samples_equals_one_pass(threads, device):
    # the per-thread channel sums are added in sample order: equal to the one-pass sums up to float rounding
    rng = numpy.random.default_rng(12)
    x0, up, g0, b0 = (rng.standard_normal(s) for s in ((6, 4, 5, 3), (6, 4, 5, 3), 4, 4))
    out = []
    for split in (False, True):
        parallel.PARALLEL_MIN_SIZE = 1 if split else 2**60
        x, g, b = (sn.tensor(a, requires_grad=True, device=device) for a in (x0, g0, b0))
        y = sn.nn.functional.batch_norm(x, None, None, g, b, training=True)
        y.backward(sn.tensor(up, device=device))
        out.append([to_np(t) for t in (y, x.grad, g.grad, b.grad)])
    for u, v in zip(*out):
        numpy.testing.assert_allclose(v, u, rtol=1e-12, atol=1e-12)
