"""F.unfold / F.fold (im2col / col2im) and nn.Unfold / nn.Fold: values and gradients against PyTorch over random
geometries, batched and unbatched, finite differences in float64, the adjoint identity, dtypes, and PyTorch's
errors for bad arguments."""
import numpy
import pytest
from hypothesis import given, strategies as st

import scratchnet as sn
import scratchnet.nn as nn
import scratchnet.nn.functional as F
from breadth_helpers import compare, gradchecks, on_device
from conftest import load_torch, to_np

pair = st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3)))
pads = st.one_of(st.integers(0, 2), st.tuples(st.integers(0, 2), st.integers(0, 2)))


def _p(v):
    return v if isinstance(v, tuple) else (v, v)


def _blocks(size, k, d, p, s):
    return tuple((n + 2 * pp - dd * (kk - 1) - 1) // ss + 1
                 for n, kk, dd, pp, ss in zip(size, _p(k), _p(d), _p(p), _p(s)))


@st.composite
def geometries(draw):
    """(batch shape prefix, C, (H, W), kernel_size, dilation, padding, stride) with at least one block each way."""
    k, d, p, s = draw(pair), draw(st.one_of(st.just(1), pair)), draw(pads), draw(pair)
    span = [dd * (kk - 1) + 1 - 2 * pp for kk, dd, pp in zip(_p(k), _p(d), _p(p))]
    size = tuple(draw(st.integers(max(1, sp), max(1, sp) + 5)) for sp in span)
    lead = draw(st.sampled_from([(), (1,), (2,), (3,)]))
    return lead, draw(st.integers(1, 3)), size, k, d, p, s


@given(g=geometries(), seed=st.integers(0, 2**31))
def test_unfold_matches_torch(g, seed):
    t = load_torch()
    lead, c, size, k, d, p, s = g
    x = numpy.random.default_rng(seed).standard_normal(lead + (c,) + size)
    compare(t, lambda a: F.unfold(a, k, d, p, s), lambda a: t.nn.functional.unfold(a, k, d, p, s), [x])


@given(g=geometries(), seed=st.integers(0, 2**31))
def test_fold_matches_torch(g, seed):
    t = load_torch()
    lead, c, size, k, d, p, s = g
    out = _blocks(size, k, d, p, s)
    kk = _p(k)[0] * _p(k)[1]
    y = numpy.random.default_rng(seed).standard_normal(lead + (c * kk, out[0] * out[1]))
    compare(t, lambda a: F.fold(a, size, k, d, p, s), lambda a: t.nn.functional.fold(a, size, k, d, p, s), [y])


@given(g=geometries(), seed=st.integers(0, 2**31))
def test_fold_is_the_adjoint_of_unfold(g, seed):
    """<unfold(x), y> = <x, fold(y)> for every x, y: fold sums the overlaps that unfold copied out."""
    lead, c, size, k, d, p, s = g
    r = numpy.random.default_rng(seed)
    x = r.standard_normal(lead + (c,) + size)
    ux = F.unfold(on_device(x, False), k, d, p, s)
    y = r.standard_normal(tuple(ux.shape))
    fy = F.fold(on_device(y, False), size, k, d, p, s)
    assert tuple(fy.shape) == x.shape
    numpy.testing.assert_allclose(numpy.sum(to_np(ux) * y), numpy.sum(x * to_np(fy)), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("k,d,p,s", [(2, 1, 0, 1), ((2, 3), (2, 1), (1, 0), (2, 1)), (3, 2, 2, 3)])
@pytest.mark.parametrize("batched", [True, False])
def test_gradcheck_float64_to_second_order(k, d, p, s, batched):
    lead = (2,) if batched else ()
    r = numpy.random.default_rng(1)
    size = (5, 6)
    out = _blocks(size, k, d, p, s)
    x = r.standard_normal(lead + (2,) + size)
    y = r.standard_normal(lead + (2 * _p(k)[0] * _p(k)[1], out[0] * out[1]))
    gradchecks(lambda a: F.unfold(a, k, d, p, s), x)
    gradchecks(lambda a: F.fold(a, size, k, d, p, s), y)
    # unfold(x)² and fold(y)² make the second derivative depend on the input, not just pass a constant through
    gradchecks(lambda a: (F.unfold(a, k, d, p, s) ** 2).sum(), x)
    gradchecks(lambda a: (F.fold(a, size, k, d, p, s) ** 2).sum(), y)


def test_backward_of_each_is_the_other():
    """unfold's gradient is fold of the upstream gradient, and fold's is unfold of it."""
    r = numpy.random.default_rng(2)
    x = on_device(r.standard_normal((2, 3, 6, 5)))
    g = r.standard_normal((2, 3 * 6, 12))
    F.unfold(x, (2, 3), padding=1, stride=2).backward(on_device(g, False))
    numpy.testing.assert_allclose(to_np(x.grad), to_np(F.fold(on_device(g, False), (6, 5), (2, 3), padding=1,
                                                              stride=2)), rtol=1e-12)
    y = on_device(g)
    gx = r.standard_normal((2, 3, 6, 5))
    F.fold(y, (6, 5), (2, 3), padding=1, stride=2).backward(on_device(gx, False))
    numpy.testing.assert_allclose(to_np(y.grad), to_np(F.unfold(on_device(gx, False), (2, 3), padding=1,
                                                                stride=2)), rtol=1e-12)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dtype_is_kept(dtype):
    t = load_torch()
    x = numpy.random.default_rng(3).standard_normal((2, 3, 5, 4)).astype(dtype)
    u = F.unfold(on_device(x, dtype=dtype), 2, stride=(1, 2))
    assert u.dtype == numpy.dtype(dtype)
    ref = t.nn.functional.unfold(t.tensor(x), 2, stride=(1, 2))
    numpy.testing.assert_array_equal(to_np(u), to_np(ref))   # a copy: exact in any dtype
    f = F.fold(u, (5, 4), 2, stride=(1, 2))
    assert f.dtype == numpy.dtype(dtype)
    numpy.testing.assert_allclose(to_np(f), to_np(t.nn.functional.fold(ref, (5, 4), 2, stride=(1, 2))),
                                  rtol=1e-6 if dtype == "float32" else 1e-14)


def test_empty_batch():
    t = load_torch()
    x = on_device(numpy.zeros((0, 3, 5, 5)))
    u = F.unfold(x, 3)
    assert tuple(u.shape) == tuple(t.nn.functional.unfold(t.zeros(0, 3, 5, 5), 3).shape) == (0, 27, 9)
    assert tuple(F.fold(u, (5, 5), 3).shape) == (0, 3, 5, 5)


def test_modules_match_functional_and_torch_repr():
    t = load_torch()
    x = numpy.random.default_rng(4).standard_normal((2, 2, 6, 6))
    un, fo = nn.Unfold((2, 3), dilation=2, padding=1, stride=(2, 1)), nn.Fold((6, 6), (2, 3), 2, 1, (2, 1))
    tun, tfo = t.nn.Unfold((2, 3), dilation=2, padding=1, stride=(2, 1)), t.nn.Fold((6, 6), (2, 3), 2, 1, (2, 1))
    assert repr(un) == repr(tun) and repr(fo) == repr(tfo)
    compare(t, lambda a: fo(un(a)), lambda a: tfo(tun(a)), [x])
    assert list(un.parameters()) == [] and list(fo.parameters()) == []


def test_tensor_unfold_is_still_the_strided_view():
    """Tensor.unfold(dim, size, step) is a different op from F.unfold; adding im2col must not change it."""
    x = sn.arange(10.0)
    numpy.testing.assert_array_equal(to_np(x.unfold(0, 3, 2)), numpy.arange(10.0)[[[0, 1, 2], [2, 3, 4],
                                                                                   [4, 5, 6], [6, 7, 8]]])


X4, Y3 = (2, 3, 5, 5), (2, 27, 9)
BAD_UNFOLD = [
    ((5,), 3, {}),                      # 1-D input
    ((3, 5, 5)[1:], 3, {}),             # 2-D input (PyTorch raises IndexError here; ours is a ShapeError)
    ((1,) + X4, 3, {}),                 # 5-D input
    ((2, 0, 5, 5), 3, {}),              # an empty non-batch dim
    (X4, (3,), {}),                     # kernel_size of length 1
    (X4, (3, 3, 3), {}),                # kernel_size of length 3
    (X4, 0, {}),
    (X4, (3, -1), {}),
    (X4, 3, {"stride": 0}),
    (X4, 3, {"dilation": (1, 0)}),
    (X4, 3, {"padding": -1}),
    (X4, 6, {}),                        # kernel larger than the padded input: no block fits
    (X4, 3, {"dilation": 3}),
]


@pytest.mark.parametrize("shape,k,kw", BAD_UNFOLD)
def test_unfold_errors_where_torch_raises(shape, k, kw):
    t = load_torch()
    x = numpy.zeros(shape)
    with pytest.raises(Exception):
        t.nn.functional.unfold(t.tensor(x), k, **kw)
    with pytest.raises((RuntimeError, ValueError)) as info:
        F.unfold(on_device(x), k, **kw)
    assert "unfold" in str(info.value)


BAD_FOLD = [
    ((9,), (5, 5), 3, {}),              # 1-D input
    ((1,) + Y3, (5, 5), 3, {}),         # 4-D input
    ((2, 27, 0), (5, 5), 3, {}),        # L = 0
    ((2, 28, 9), (5, 5), 3, {}),        # C·kh·kw not divisible by kh·kw
    (Y3, (5, 5), 3, {"padding": 1}),    # L does not match the block count (25)
    (Y3, (4, 4), 3, {}),
    (Y3, (2, 2), 3, {}),                # no block fits
    (Y3, (0, 5), 3, {}),
    (Y3, (5, 5, 5), 3, {}),             # output_size of length 3
    (Y3, (5,), 3, {}),
    (Y3, (5, 5), 0, {}),
    (Y3, (5, 5), 3, {"stride": (1, 0)}),
    (Y3, (5, 5), 3, {"dilation": -1}),
    (Y3, (5, 5), 3, {"padding": (0, -1)}),
]


@pytest.mark.parametrize("shape,size,k,kw", BAD_FOLD)
def test_fold_errors_where_torch_raises(shape, size, k, kw):
    t = load_torch()
    y = numpy.zeros(shape)
    with pytest.raises(RuntimeError):
        t.nn.functional.fold(t.tensor(y), size, k, **kw)
    with pytest.raises((RuntimeError, ValueError)) as info:
        F.fold(on_device(y), size, k, **kw)
    assert "fold" in str(info.value)


def test_error_messages_name_the_argument_and_shapes():
    x = on_device(numpy.zeros((2, 27, 9)))
    with pytest.raises(sn.errors.ShapeError, match=r"output_size=\(5, 5\).*padding=\(1, 1\).*25.*9.*\(2, 27, 9\)"):
        F.fold(x, (5, 5), 3, padding=1)
    with pytest.raises(sn.errors.ShapeError, match=r"stride.*\(1, 0\)"):
        F.unfold(on_device(numpy.zeros((2, 3, 5, 5))), 3, stride=(1, 0))
    with pytest.raises(sn.errors.ShapeError, match=r"\(5, 5\)"):
        F.unfold(on_device(numpy.zeros((5, 5))), 3)


@pytest.mark.parametrize("bad", [2.0, True, (2, 2.5), "2"])
def test_non_int_arguments_are_type_errors_like_torch(bad):
    t = load_torch()
    with pytest.raises(TypeError):
        t.nn.functional.unfold(t.zeros(1, 1, 4, 4), bad)
    with pytest.raises(TypeError, match="kernel_size"):
        F.unfold(on_device(numpy.zeros((1, 1, 4, 4))), bad)
    with pytest.raises(TypeError, match="output_size"):
        F.fold(on_device(numpy.zeros((1, 4, 9))), (4, bad) if bad != "2" else bad, 2)


def test_integer_input_is_refused_like_torch():
    t = load_torch()
    with pytest.raises(RuntimeError):
        t.nn.functional.unfold(t.zeros(1, 1, 4, 4, dtype=t.int64), 2)
    with pytest.raises(RuntimeError, match="int64"):
        F.unfold(sn.zeros((1, 1, 4, 4), dtype="int64", device=sn.get_default_device()), 2)
    with pytest.raises(RuntimeError, match="int32"):
        F.fold(sn.zeros((1, 4, 9), dtype="int32", device=sn.get_default_device()), 4, 2)
