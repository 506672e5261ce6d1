"""Unary math (tan ... erfinv), rounding, float tests and the two-tensor ops copysign/atan2/logaddexp/lerp,
isclose/allclose/all/any: finite differences (first and second order) and PyTorch's values, gradients, dtypes, errors.
"""
import numpy
import pytest
from hypothesis import assume, given, settings, strategies as st

import scratchnet as sn
from scratchnet import testing as T
from breadth_util import against_torch, check, leaf, torch_float32
from conftest import to_np

# name -> (low, high) of the inputs drawn. Domains stop short of where the derivative blows up (asin/acos/atanh/
# erfinv at ±1, acosh at 1, log/rsqrt at 0): finite differences there measure round-off, not a slope.
SMOOTH = {
    "tan": (-1.2, 1.2), "asin": (-0.9, 0.9), "acos": (-0.9, 0.9), "atan": (-3, 3), "sinh": (-2, 2),
    "cosh": (-2, 2), "asinh": (-3, 3), "acosh": (1.1, 3), "atanh": (-0.9, 0.9), "log2": (0.2, 3),
    "log10": (0.2, 3), "exp2": (-2, 2), "rsqrt": (0.2, 3), "erf": (-2, 2), "erfinv": (-0.9, 0.9),
    "expm1": (-2, 2), "log1p": (-0.8, 3), "logit": (0.1, 0.9), "reciprocal": (0.2, 3), "deg2rad": (-3, 3),
    "rad2deg": (-3, 3),
    "sinc": (-2, 2, 0),  # a third entry is a kink to keep away from: sinc's slope is 0/0 at 0 (written as 0 there)
}
# The functions added with their gradients checked at the edge values too, in float64 and float32: there PyTorch's
# formulas give inf, -0.0 or NaN, and a user's NaN hunt must not find a different one here.
EDGE_GRADS = ["expm1", "log1p", "logit", "reciprocal", "deg2rad", "rad2deg", "sinc", "log2", "log10", "exp2",
              "rsqrt", "atan", "asinh", "sinh", "cosh", "erf"]
# Values where each function is special (domain edges, poles, signed zero, NaN): forward must still match PyTorch.
EDGES = [0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.0, 1e-300, 40.0, -40.0, numpy.inf, -numpy.inf, numpy.nan]


@pytest.mark.parametrize("name", sorted(SMOOTH))
@given(data=st.data())
def test_smooth_gradcheck(name, data):
    low, high, *kinks = SMOOTH[name]
    x = data.draw(T.arrays(data.draw(T.shapes()), low=low, high=high, kinks=tuple(kinks)))
    check(getattr(sn, name), x)


@pytest.mark.parametrize("name", sorted(SMOOTH))
def test_smooth_matches_torch(name, torch, device):
    low, high, *_ = SMOOTH[name]
    x = numpy.random.default_rng(1).uniform(low, high, (3, 5))
    against_torch(torch, device, getattr(sn, name), getattr(torch, name), [x])
    against_torch(torch, device, lambda t: getattr(t, name)(), lambda t: getattr(t, name)(), [x])
    with numpy.errstate(all="ignore"):
        against_torch(torch, device, getattr(sn, name), getattr(torch, name), [numpy.array(EDGES)], grad=False,
                      rtol=1e-7)
    ints = numpy.array([0, 1, 2, 3])  # integers become float32, as PyTorch's float functions make them
    with numpy.errstate(all="ignore"), torch_float32(torch):
        against_torch(torch, device, getattr(sn, name), getattr(torch, name), [ints], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", EDGE_GRADS)
def test_smooth_gradients_at_edges_match_torch(name, dtype, torch, device):
    tol = dict(rtol=1e-9, atol=0) if dtype == "float64" else dict(rtol=2e-6, atol=1e-7)
    with numpy.errstate(all="ignore"):
        against_torch(torch, device, getattr(sn, name), getattr(torch, name), [numpy.array(EDGES)], dtype=dtype,
                      **tol)
        x = numpy.random.default_rng(7).uniform(*SMOOTH.get(name, (0.2, 3))[:2], (4, 3))
        against_torch(torch, device, lambda t: getattr(t, name)(), lambda t: getattr(t, name)(), [x], dtype=dtype,
                      **tol)


def test_aliases_and_help():
    assert sn.arcsin is sn.asin and sn.arctanh is sn.atanh and sn.arctan2 is sn.atan2 and sn.fix is sn.trunc
    for name in list(SMOOTH) + ["sign", "round", "floor", "ceil", "trunc", "lerp"] + list(BINARY):
        assert "d" in getattr(sn, name).__doc__ and "y" in getattr(sn, name).__doc__, name


STEP = {"sign": (0,), "floor": (), "ceil": (), "trunc": (), "round": ()}


@pytest.mark.parametrize("name", sorted(STEP))
@given(data=st.data())
def test_step_functions_have_zero_gradient(name, data):
    # kept away from the jumps (integers for floor/ceil/trunc, halves for round, 0 for sign): across a jump the
    # finite difference is huge, while PyTorch (and we) define the gradient as 0 everywhere
    jumps = tuple(k / 2 for k in range(-6, 7))
    x = data.draw(T.arrays(data.draw(T.shapes()), low=-2.9, high=2.9, kinks=jumps, margin=0.01))
    check(getattr(sn, name), x, second=False)  # the zero gradient is a constant: nothing to differentiate again
    xt = leaf(x, None)
    getattr(sn, name)(xt).sum().backward()
    assert (to_np(xt.grad) == 0).all()


@pytest.mark.parametrize("name", sorted(STEP))
def test_step_functions_match_torch(name, torch, device):
    x = numpy.concatenate([numpy.random.default_rng(2).uniform(-4, 4, 20), [0.5, 1.5, 2.5, -0.5, -2.5, 0.0, -0.0,
                                                                           numpy.inf, -numpy.inf, numpy.nan]])
    against_torch(torch, device, getattr(sn, name), getattr(torch, name), [x])
    ints = numpy.array([-3, 0, 2, 7])
    against_torch(torch, device, getattr(sn, name), getattr(torch, name), [ints])  # int64 in, int64 out
    bools = numpy.array([True, False])
    if name == "sign":
        against_torch(torch, device, sn.sign, torch.sign, [bools])
    else:  # PyTorch has no bool kernel for the rounding functions
        with pytest.raises(NotImplementedError):
            getattr(sn, name)(sn.tensor(bools))


def test_round_decimals_matches_torch(torch, device):
    x = numpy.random.default_rng(3).uniform(-500, 500, 30)
    for d in (1, 2, 3, -1, -2):
        against_torch(torch, device, lambda t: sn.round(t, decimals=d), lambda t: torch.round(t, decimals=d), [x])
        against_torch(torch, device, lambda t: t.round(decimals=d), lambda t: t.round(decimals=d), [x])


@pytest.mark.parametrize("name", ["isnan", "isinf", "isfinite"])
def test_float_tests_match_torch(name, torch, device):
    x = numpy.array([[0.0, numpy.nan, numpy.inf], [-numpy.inf, -1.5, 3e38]])
    for arr in (x, x.astype(numpy.float32), numpy.array([1, -2, 0]), numpy.zeros((0, 3)), numpy.array(numpy.nan)):
        ys = getattr(sn, name)(leaf(arr, device, dtype=arr.dtype, grad=False))
        yt = getattr(torch, name)(torch.tensor(arr))
        assert ys.dtype == numpy.bool_ and ys.shape == tuple(yt.shape)
        assert (to_np(ys) == to_np(yt)).all()
        assert (to_np(getattr(leaf(arr, device, dtype=arr.dtype, grad=False), name)()) == to_np(yt)).all()


# ---- two tensors ----

BINARY = {  # name -> (a's range, b's range, kinks of a, kinks of b)
    # copysign: a kept off 0 (the flip is 0 there: not differentiable) and b off 0 (its sign flips there)
    "copysign": ((-2, 2), (-2, 2), (0,), (0,)),
    # atan2: b kept positive so (b, a) stays off the branch cut on the negative x axis and off the origin
    "atan2": ((-2, 2), (0.3, 2), (), ()),
    "logaddexp": ((-3, 3), (-3, 3), (), ()),
    "logaddexp2": ((-3, 3), (-3, 3), (), ()),
    "xlogy": ((-2, 2), (0.3, 2), (), ()),  # b > 0: ln b is defined and smooth there
    "hypot": ((-2, 2), (-2, 2), (0,), (0,)),  # not differentiable at a = b = 0 (PyTorch gives NaN there)
    # fmax/fmin: random draws do not tie (at a tie the whole gradient goes to a, the subgradient PyTorch picks)
    "fmax": ((-2, 2), (-2, 2), (), ()),
    "fmin": ((-2, 2), (-2, 2), (), ()),
}
FLOATS_ONLY = ("logaddexp", "logaddexp2", "hypot")  # PyTorch has no integer kernel for these


@pytest.mark.parametrize("name", sorted(BINARY))
@given(data=st.data())
def test_binary_gradcheck(name, data):
    (la, ha), (lb, hb), ka, kb = BINARY[name]
    sa, sb = data.draw(T.broadcastable_shapes())
    a = data.draw(T.arrays(sa, low=la, high=ha, kinks=ka))
    b = data.draw(T.arrays(sb, low=lb, high=hb, kinks=kb))
    if name in ("fmax", "fmin"):  # away from ties, where the gradient jumps from one operand to the other
        assume(numpy.abs(a - b).min(initial=1.0) > 0.01)
    check(getattr(sn, name), a, b)


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_matches_torch(name, torch, device):
    rng = numpy.random.default_rng(4)
    (la, ha), (lb, hb), _, _ = BINARY[name]
    a, b = rng.uniform(la, ha, (3, 1, 4)), rng.uniform(lb, hb, (5, 1))
    against_torch(torch, device, getattr(sn, name), getattr(torch, name), [a, b])
    against_torch(torch, device, lambda x, y: getattr(x, name)(y), lambda x, y: getattr(x, name)(y), [a, b])
    edge = numpy.array([0.0, -0.0, numpy.inf, -numpy.inf, numpy.nan, 1.0, -1.0])
    against_torch(torch, device, getattr(sn, name), getattr(torch, name), [edge[:, None], edge[None, :]],
                  grad=False)
    ints = [numpy.array([1, -2, 3]), numpy.array([-1, 0, 2])]
    if name in FLOATS_ONLY:
        with pytest.raises(NotImplementedError):
            getattr(sn, name)(*[sn.tensor(i) for i in ints])
        return
    with torch_float32(torch):  # int -> float32 in both (fmax/fmin: int64 stays int64 in both)
        against_torch(torch, device, getattr(sn, name), getattr(torch, name), ints, rtol=1e-6)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_gradients_at_edges_match_torch(name, dtype, torch, device):
    # every pair of edge values: 0 * ln 0, hypot(0, 0), fmax with a NaN, ... give PyTorch's inf/NaN/0 gradients
    edge = numpy.array([0.0, -0.0, numpy.inf, -numpy.inf, numpy.nan, 1.0, -1.0, 0.5])
    # atol: logaddexp2(-1, -1) is 0 here and -4.8e-17 in PyTorch (one rounding of its log1p route)
    tol = dict(rtol=1e-9, atol=1e-15) if dtype == "float64" else dict(rtol=2e-6, atol=1e-7)
    with numpy.errstate(all="ignore"):
        against_torch(torch, device, getattr(sn, name), getattr(torch, name), [edge[:, None], edge[None, :]],
                      dtype=dtype, **tol)


@given(data=st.data())
def test_lerp_gradcheck(data):
    s1, s2, s3 = data.draw(T.broadcastable_shapes(3))
    a, b, w = (data.draw(T.arrays(s)) for s in (s1, s2, s3))
    check(sn.lerp, a, b, w)
    check(lambda x, y: sn.lerp(x, y, 0.3), a, b)


def test_lerp_matches_torch(torch, device):
    rng = numpy.random.default_rng(5)
    a, b, w = rng.standard_normal((2, 3)), rng.standard_normal((3,)), rng.uniform(0, 1, (2, 1))
    against_torch(torch, device, sn.lerp, torch.lerp, [a, b, w])
    against_torch(torch, device, lambda x, y, z: x.lerp(y, 0.75), lambda x, y, z: x.lerp(y, 0.75), [a, b, w])
    with pytest.raises(RuntimeError, match="dtype"):
        sn.lerp(sn.ones(2), sn.ones(2, dtype="float64"), 0.5)


@settings(max_examples=30)
@given(data=st.data())
def test_isclose_matches_torch(data):
    torch = pytest.importorskip("torch")
    device = sn.get_default_device()
    vals = st.sampled_from([0.0, 1.0, -1.0, 1e-9, 1.00001, 1.0001, numpy.inf, -numpy.inf, numpy.nan, 1e8, 1e8 + 1])
    a = numpy.array(data.draw(st.lists(vals, min_size=1, max_size=8)))
    b = numpy.array(data.draw(st.lists(vals, min_size=len(a), max_size=len(a))))
    rtol, atol = data.draw(st.sampled_from([0, 1e-5, 1e-3])), data.draw(st.sampled_from([0, 1e-8, 1e-4]))
    nan = data.draw(st.booleans())
    for dtype in ("float64", "float32"):
        ys = sn.isclose(leaf(a, device, dtype), leaf(b, device, dtype), rtol=rtol, atol=atol, equal_nan=nan)
        yt = torch.isclose(torch.tensor(a, dtype=getattr(torch, dtype)), torch.tensor(b, dtype=getattr(torch, dtype)),
                           rtol=rtol, atol=atol, equal_nan=nan)
        assert ys.dtype == numpy.bool_ and (to_np(ys) == to_np(yt)).all(), (a, b, rtol, atol, nan, dtype)
        assert sn.allclose(leaf(a, device, dtype), leaf(b, device, dtype), rtol, atol, nan) == \
            torch.allclose(torch.tensor(a, dtype=getattr(torch, dtype)), torch.tensor(b, dtype=getattr(torch, dtype)),
                           rtol, atol, nan)


def test_isclose_integers_broadcast_and_errors(torch, device):
    a, b = numpy.array([[1, 100, 1000]]), numpy.array([[1], [101], [1001]])
    ys = sn.isclose(leaf(a, device), leaf(b, device), rtol=0.01, atol=0)
    assert (to_np(ys) == to_np(torch.isclose(torch.tensor(a), torch.tensor(b), rtol=0.01, atol=0))).all()
    assert leaf(a, device).isclose(leaf(a, device)).all().item() and leaf(a, device).allclose(leaf(a, device))
    with pytest.raises(RuntimeError, match="did not match"):
        sn.isclose(sn.ones(2), sn.ones(2, dtype="float64"))
    with pytest.raises(RuntimeError, match="rtol"):
        sn.isclose(sn.ones(2), sn.ones(2), rtol=-1)
    with pytest.raises(RuntimeError, match="atol"):
        sn.isclose(sn.ones(2), sn.ones(2), atol=-1)


@pytest.mark.parametrize("name", ["all", "any"])
def test_all_any_match_torch(name, torch, device):
    rng = numpy.random.default_rng(6)
    cases = [rng.integers(0, 2, (3, 4, 2)).astype(bool), rng.integers(-1, 2, (2, 3)), rng.standard_normal((2, 2)),
             numpy.zeros((0, 3)), numpy.array(True), numpy.array(0.0)]
    for x in cases:
        xs, xt = leaf(x, device, dtype=x.dtype, grad=False), torch.tensor(x)
        dims = [None] + list(range(-x.ndim, x.ndim)) + ([(0, -1)] if x.ndim >= 2 else []) + ([0] if not x.ndim else [])
        for dim in dims:
            for keepdim in (False, True):
                ys = getattr(sn, name)(xs) if dim is None else getattr(xs, name)(dim, keepdim=keepdim)
                yt = getattr(torch, name)(xt) if dim is None else getattr(xt, name)(dim, keepdim=keepdim)
                assert ys.dtype == numpy.bool_ and ys.shape == tuple(yt.shape), (x.shape, dim, keepdim)
                assert (to_np(ys) == to_np(yt)).all()
    with pytest.raises(IndexError):
        getattr(sn, name)(sn.ones(2, 3), 2)
