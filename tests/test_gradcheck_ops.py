"""One Hypothesis property per op: backward equals central finite differences in float64, first and second order.

Inputs are drawn away from kinks on purpose (relu/abs at 0, clamp at its bounds, ties in max/min/maximum):
a finite difference straddling a kink measures the mean of two slopes, which no backward should return.
"""
import numpy
import pytest
from hypothesis import given, strategies as st

import scratchnet as sn
from scratchnet import testing as T


def check(fn, *arrays, second=True):
    xs = [sn.tensor(a, dtype="float64", requires_grad=True) for a in arrays]
    assert sn.gradcheck(fn, xs)
    if second:
        assert sn.gradgradcheck(fn, xs)


UNARY = {
    "neg": (lambda x: -x, {}),
    "exp": (sn.exp, {}),
    "log": (sn.log, dict(low=0.2, high=3.0)),
    "sqrt": (sn.sqrt, dict(low=0.2, high=3.0)),
    "abs": (sn.abs, dict(kinks=(0,))),
    "sin": (sn.sin, {}),
    "cos": (sn.cos, {}),
    "tanh": (sn.tanh, {}),
    "sigmoid": (sn.sigmoid, {}),
    "relu": (sn.relu, dict(kinks=(0,))),
    "leaky_relu": (lambda x: sn.leaky_relu(x, 0.2), dict(kinks=(0,))),
    "clamp": (lambda x: sn.clamp(x, -0.5, 0.7), dict(kinks=(-0.5, 0.7))),
    "pow_const": (lambda x: x ** 3, {}),
    "pow_half": (lambda x: x ** 0.5, dict(low=0.2, high=3.0)),
    "rpow": (lambda x: 2.0 ** x, {}),
    "clone": (sn.clone, {}),
    "log1p": (lambda x: sn.ops.math.log1p(x), dict(low=-0.5, high=3.0)),
    "softplus": (lambda x: sn.nn.functional.softplus(x * 3), {}),
    "cast_roundtrip": (lambda x: x.float().double() * 1.0, dict(low=-1, high=1)),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@given(data=st.data())
def test_unary(name, data):
    fn, kw = UNARY[name]
    tol = dict(atol=1e-3, rtol=1e-2) if name == "cast_roundtrip" else {}
    x = data.draw(T.arrays(data.draw(T.shapes()), **kw))
    if tol:  # float32 rounding inside: only the first-order check, with float32 tolerances
        assert sn.gradcheck(fn, [sn.tensor(x, dtype="float64", requires_grad=True)], eps=1e-3, **tol)
    else:
        check(fn, x)


BINARY = {
    "add": (lambda a, b: a + b, {}, {}),
    "sub": (lambda a, b: a - b, {}, {}),
    "mul": (lambda a, b: a * b, {}, {}),
    "div": (lambda a, b: a / b, {}, dict(low=0.5, high=2.0)),
    "pow": (lambda a, b: a ** b, dict(low=0.5, high=2.0), {}),
}


@pytest.mark.parametrize("name", sorted(BINARY))
@given(data=st.data())
def test_binary_broadcast(name, data):
    fn, ka, kb = BINARY[name]
    sa, sb = data.draw(T.broadcastable_shapes())
    check(fn, data.draw(T.arrays(sa, **ka)), data.draw(T.arrays(sb, **kb)))


def _grid(shape, offset):
    """Multiples of 0.1 (offset 0) or odd multiples of 0.05 (offset 0.5): the two never tie."""
    return T.hnp.arrays(numpy.float64, shape, elements=st.integers(-20, 20).map(lambda k: (k + offset) * 0.1))


@pytest.mark.parametrize("op", [sn.maximum, sn.minimum])
@given(data=st.data())
def test_maximum_minimum(op, data):
    sa, sb = data.draw(T.broadcastable_shapes())
    check(op, data.draw(_grid(sa, 0)), data.draw(_grid(sb, 0.5)))


@given(data=st.data())
def test_where(data):
    sc, sa, sb = data.draw(T.broadcastable_shapes(3))
    cond = sn.tensor(data.draw(T.hnp.arrays(bool, sc)))
    check(lambda a, b: sn.where(cond, a, b), data.draw(T.arrays(sa)), data.draw(T.arrays(sb)))


@st.composite
def matmul_shapes(draw):
    n, k, m = (draw(st.integers(1, 4)) for _ in range(3))
    batch_a = draw(st.sampled_from([(), (2,), (1,), (3, 1)]))
    batch_b = draw(st.sampled_from([(), (2,), (1,)])) if batch_a != (3, 1) else draw(st.sampled_from([(), (2,)]))
    a = draw(st.sampled_from([(k,), batch_a + (n, k)]))
    b = draw(st.sampled_from([(k,), batch_b + (k, m)]))
    return a, b


@given(data=st.data())
def test_matmul(data):
    sa, sb = data.draw(matmul_shapes())
    check(sn.matmul, data.draw(T.arrays(sa)), data.draw(T.arrays(sb)))


def _dims(ndim):
    return st.one_of(st.none(), st.integers(-ndim, ndim - 1)) if ndim else st.none()


REDUCE = {
    "sum": (lambda x, d, k: x.sum(d, keepdim=k), {}),
    "mean": (lambda x, d, k: x.mean(d, keepdim=k), {}),
    "var": (lambda x, d, k: x.var(d, keepdim=k), {}),
    "std": (lambda x, d, k: x.std(d, keepdim=k), "distinct"),
    "logsumexp": (lambda x, d, k: x.logsumexp(d, keepdim=k), {}),
    "prod": (lambda x, d, k: x.prod(d, keepdim=k), dict(low=0.5, high=1.5)),
    "max": (lambda x, d, k: x.max() if d is None else x.max(d, keepdim=k).values, "distinct"),
    "min": (lambda x, d, k: x.min() if d is None else x.min(d, keepdim=k).values, "distinct"),
    "softmax": (lambda x, d, k: x.softmax(0 if d is None else d), {}),
    "log_softmax": (lambda x, d, k: x.log_softmax(0 if d is None else d), {}),
}


@pytest.mark.parametrize("name", sorted(REDUCE))
@given(data=st.data())
def test_reduction(name, data):
    fn, kw = REDUCE[name]
    min_dims = 1 if name in ("softmax", "log_softmax", "var", "std") else 0
    shape = data.draw(T.shapes(min_dims=min_dims, min_side=2 if name in ("var", "std") else 1))
    x = data.draw(T.distinct_arrays(shape) if kw == "distinct" else T.arrays(shape, **kw))
    d, k = data.draw(_dims(len(shape))), data.draw(st.booleans())
    check(lambda t: fn(t, d, k), x)


@given(data=st.data())
def test_shape_ops(data):
    shape = data.draw(T.shapes(min_dims=2, max_dims=3))
    x = data.draw(T.arrays(shape))
    nd = len(shape)
    perm = data.draw(st.permutations(range(nd)))
    d0, d1 = data.draw(st.integers(0, nd - 1)), data.draw(st.integers(0, nd - 1))
    reps = data.draw(st.tuples(*[st.integers(1, 2)] * nd))
    check(lambda t: t.reshape(-1, shape[-1]) * 1.5, x)
    check(lambda t: t.permute(*perm).flatten(), x)
    check(lambda t: t.transpose(d0, d1).unsqueeze(1).squeeze(1), x)
    check(lambda t: t.unsqueeze(0).expand(2, *shape), x)
    check(lambda t: t.repeat(*reps), x)


@given(data=st.data())
def test_join_split(data):
    shape = data.draw(T.shapes(min_dims=1, max_dims=3))
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    x, y = data.draw(T.arrays(shape)), data.draw(T.arrays(shape))
    check(lambda a, b: sn.cat([a, b * 2], dim), x, y)
    check(lambda a, b: sn.stack([a, b], dim), x, y)
    n = data.draw(st.integers(1, 3))
    check(lambda a: sn.cat([p * (i + 1) for i, p in enumerate(a.split(n, dim))], dim), x)
    check(lambda a: sn.cat([p * (i + 1) for i, p in enumerate(a.chunk(n, dim))], dim), x)


@given(data=st.data())
def test_pad(data):
    shape = data.draw(T.shapes(min_dims=2, max_dims=3, min_side=2))
    mode = data.draw(st.sampled_from(["constant", "reflect", "replicate"]))
    most = 1 if mode == "reflect" else 2
    widths = data.draw(st.tuples(*[st.integers(0, most)] * 4))
    value = 0.5 if mode == "constant" else None  # the other modes refuse a value, as PyTorch's F.pad does
    check(lambda t: sn.pad(t, widths, mode=mode, value=value), data.draw(T.arrays(shape)))


@given(data=st.data())
def test_getitem(data):
    shape = data.draw(T.shapes(min_dims=1, max_dims=3, min_side=2))
    x = data.draw(T.arrays(shape))
    idx = data.draw(T.hnp.arrays(numpy.int64, st.integers(1, 5), elements=st.integers(0, shape[0] - 1)))
    mask = data.draw(T.hnp.arrays(bool, shape))
    check(lambda t: t[1:, ...] * t[:-1], x)                       # basic slicing
    check(lambda t: t[sn.tensor(idx)], x)                         # advanced, with repeats: grads must add up
    check(lambda t: t[sn.tensor(mask)], x, second=mask.any())     # boolean mask
    check(lambda t: t[..., None][-1], x)
