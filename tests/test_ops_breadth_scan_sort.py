"""Scans (cumsum, cumprod, cummax, cummin, logcumsumexp) and sorting (sort, argsort, msort, topk): finite
differences to second order and PyTorch's values, indices, dtypes, gradients and errors on random configurations.
"""
import numpy
import pytest
from hypothesis import given, settings, strategies as st

import scratchnet as sn
from scratchnet import testing as T
from breadth_util import against_torch, check, dims, leaf, run_case
from conftest import to_np


@given(data=st.data())
def test_cumsum_logcumsumexp(data):
    shape = data.draw(T.shapes(max_dims=3))
    d = data.draw(dims(len(shape)))
    x = data.draw(T.arrays(shape))
    run_case(lambda L, t: L.cumsum(t, d), [x])
    run_case(lambda L, t: t.cumsum(dim=d) * t, [x])
    run_case(lambda L, t: L.logcumsumexp(t * 3, d), [x])


@given(data=st.data())
def test_cumprod(data):
    shape = data.draw(T.shapes(max_dims=3))
    d = data.draw(dims(len(shape)))
    # one entry may be exactly 0: the gradient there is the product of the others, which dividing y by x would turn
    # into 0/0. cumprod is linear in each entry, so central differences are exact even at 0. The others are kept
    # off 0: with two zeros in a slice the second derivative is not continuous (test_cumprod_zeros_match_torch).
    x = data.draw(T.arrays(shape, low=-1.5, high=1.5, kinks=(0,)))
    if x.size and data.draw(st.booleans()):
        x.reshape(-1)[data.draw(st.integers(0, x.size - 1))] = 0.0
    run_case(lambda L, t: L.cumprod(t, d), [x])
    run_case(lambda L, t: t.cumprod(d).sum(d) if t.ndim else t.cumprod(d), [x])


def test_cumprod_zeros_match_torch(torch, device):
    x = numpy.array([[2.0, 0.0, 3.0, 0.0, 4.0], [0.0, 0.0, 1.5, 2.0, -1.0], [1.0, 2.0, 3.0, 4.0, 0.0]])
    against_torch(torch, device, lambda t: sn.cumprod(t, 1), lambda t: torch.cumprod(t, 1), [x])
    check(lambda t: sn.cumprod(t, 1), x, device=device, second=False)  # two zeros in a row: first order only


@given(data=st.data())
def test_cummax_cummin(data):
    shape = data.draw(T.shapes(max_dims=3))
    d = data.draw(dims(len(shape)))
    # distinct entries: at a tie the running max is not differentiable (and which index wins is a convention)
    x = data.draw(T.distinct_arrays(shape))
    run_case(lambda L, t: L.cummax(t, d), [x])
    run_case(lambda L, t: t.cummin(d).values * 2, [x])


def test_cummax_ties_nan_and_ints_match_torch(torch, device):
    x = numpy.array([[1.0, 3.0, 3.0, 2.0, numpy.nan, 5.0, numpy.nan], [2.0, 2.0, 1.0, 1.0, 0.0, 2.0, 2.0]])
    for name in ("cummax", "cummin"):
        against_torch(torch, device, lambda t: getattr(sn, name)(t, 1), lambda t: getattr(torch, name)(t, 1), [x],
                      grad=False)
        ints = numpy.array([[3, 1, 3, 0, 5]])
        against_torch(torch, device, lambda t: getattr(t, name)(-1), lambda t: getattr(t, name)(-1), [ints])
    ys = sn.cummax(leaf(x, device), 1)
    yt = torch.cummax(torch.tensor(x), 1)
    assert (to_np(ys.indices) == to_np(yt.indices)).all() and ys.indices.dtype == numpy.int64


def test_scan_dtypes_and_errors(torch, device):
    for arr in (numpy.array([True, False, True]), numpy.array([1, 2, 3], dtype=numpy.int32)):
        for name in ("cumsum", "cumprod"):
            against_torch(torch, device, lambda t: getattr(sn, name)(t, 0), lambda t: getattr(torch, name)(t, 0),
                          [arr])
    x = numpy.random.default_rng(0).standard_normal((2, 3))
    against_torch(torch, device, lambda t: sn.cumsum(t, 1, dtype=sn.float32),
                  lambda t: torch.cumsum(t, 1, dtype=torch.float32), [x], rtol=1e-6, atol=1e-6)
    for name in ("cumsum", "cumprod", "logcumsumexp", "cummax", "cummin"):
        with pytest.raises(IndexError):
            getattr(sn, name)(sn.ones(2, 3), 2)
        with pytest.raises(IndexError):
            getattr(sn, name)(sn.ones(2, 3), -3)
        y = getattr(sn, name)(sn.zeros(0, 3), 0)  # empty slices are fine
        assert (y[0] if isinstance(y, tuple) else y).shape == (0, 3)
    with pytest.raises(NotImplementedError):
        sn.logcumsumexp(sn.tensor([1, 2]), 0)


def test_logcumsumexp_extremes_match_torch(torch, device):
    # PyTorch's log-space backward stays finite where exp(x) would overflow or underflow
    x = numpy.array([[1e4, -1e4, 1e4 - 1, 0.0], [-numpy.inf, -numpy.inf, 1.0, -numpy.inf], [-800, -801, -799, -900]])
    against_torch(torch, device, lambda t: sn.logcumsumexp(t, 1), lambda t: torch.logcumsumexp(t, 1), [x])


# ---- sorting ----

@given(data=st.data())
def test_sort_topk_gradients(data):
    shape = data.draw(T.shapes(max_dims=3))
    d = data.draw(dims(len(shape)))
    # distinct entries: with ties the sorted order (and so where the gradient goes) is a convention
    x = data.draw(T.distinct_arrays(shape))
    desc = data.draw(st.booleans())
    run_case(lambda L, t: L.sort(t, d, descending=desc), [x])
    run_case(lambda L, t: t.sort(dim=d, descending=desc, stable=True).values * t, [x])
    run_case(lambda L, t: L.argsort(t, d, descending=desc), [x], grad=False)
    n = shape[d] if shape else 1
    k = data.draw(st.integers(0, n))
    largest, srt = data.draw(st.booleans()), True
    run_case(lambda L, t: L.topk(t, k, d, largest=largest, sorted=srt), [x])


@settings(max_examples=40)
@given(data=st.data())
def test_stable_sort_with_ties_and_nan_matches_torch(data):
    shape = data.draw(T.shapes(min_dims=1, max_dims=3, max_side=6))
    d = data.draw(dims(len(shape)))
    x = data.draw(T.hnp.arrays(numpy.float64, shape, elements=st.sampled_from([0.0, 1.0, -1.0, 2.0, numpy.nan,
                                                                               numpy.inf, -numpy.inf])))
    desc = data.draw(st.booleans())
    run_case(lambda L, t: L.sort(t, dim=d, descending=desc, stable=True), [x], grad=False)
    run_case(lambda L, t: L.argsort(t, dim=d, descending=desc, stable=True), [x], grad=False)
    ints = data.draw(T.hnp.arrays(numpy.int64, shape, elements=st.integers(-3, 3)))
    run_case(lambda L, t: L.sort(t, dim=d, descending=desc, stable=True), [ints], grad=False)


def test_sort_edge_cases(torch, device):
    for x in (numpy.array(3.0), numpy.zeros((0, 4)), numpy.zeros((3, 0))):
        against_torch(torch, device, lambda t: sn.sort(t, -1), lambda t: torch.sort(t, -1), [x])
        against_torch(torch, device, lambda t: sn.argsort(t, 0), lambda t: torch.argsort(t, 0), [x], grad=False)
    against_torch(torch, device, lambda t: sn.msort(t), lambda t: torch.msort(t), [numpy.array([[3.0, 1], [2, 4]])])
    vals, idx = sn.sort(sn.tensor([3.0, 1.0]))  # unpacks like torch.return_types.sort
    assert idx.dtype == numpy.int64 and vals.tolist() == [1.0, 3.0]
    with pytest.raises(RuntimeError, match="k out of range"):
        sn.topk(sn.ones(3), 4)
    with pytest.raises(RuntimeError, match="k out of range"):
        sn.ones(3).topk(-1)
    with pytest.raises(IndexError):
        sn.sort(sn.ones(3), 1)
