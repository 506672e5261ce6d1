"""The rest of PyTorch's commonly used elementwise and reduction names: the ops whose rules differ from the plain
float functions of test_ops_breadth_unary.py (frac refuses integers, square keeps them, nan_to_num, logit's eps, the
sign-bit tests, heaviside, float_power, ldexp, xlogy with numbers, nansum/nanmean/count_nonzero), PyTorch's aliases,
and the in-place variants: values, dtypes, gradients (float64 and float32) and errors against PyTorch.
"""
import numpy
import pytest
from hypothesis import given, strategies as st

import scratchnet as sn
from scratchnet import testing as T
from breadth_util import against_torch, check, leaf, torch_float32
from conftest import to_np

EDGES = numpy.array([0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 3.75, 1e-300, numpy.inf, -numpy.inf, numpy.nan])
DTYPES = {"float64": dict(rtol=1e-9, atol=0), "float32": dict(rtol=2e-6, atol=1e-7)}


def _both(torch, device, fs, ft, arrays, dtype, grad=True):
    with numpy.errstate(all="ignore"):
        return against_torch(torch, device, fs, ft, arrays, dtype=dtype, grad=grad, **DTYPES[dtype])


@pytest.mark.parametrize("dtype", sorted(DTYPES))
@pytest.mark.parametrize("name", ["frac", "square", "nan_to_num"])
def test_unary_with_own_integer_rules_match_torch(name, dtype, torch, device):
    _both(torch, device, getattr(sn, name), getattr(torch, name), [EDGES], dtype)
    x = numpy.random.default_rng(0).uniform(-5, 5, (3, 4))
    _both(torch, device, lambda t: getattr(t, name)(), lambda t: getattr(t, name)(), [x], dtype)
    for ints in (numpy.array([-3, 0, 2, 7]), numpy.array([True, False])):
        if name == "frac":  # PyTorch has no integer or bool kernel for frac
            with pytest.raises(NotImplementedError):
                sn.frac(leaf(ints, device, grad=False))
            continue
        ys, yt = getattr(sn, name)(leaf(ints, device, grad=False)), getattr(torch, name)(torch.tensor(ints))
        assert str(ys.dtype) == str(yt.dtype).replace("torch.", "") and (to_np(ys) == to_np(yt)).all()


@given(data=st.data())
def test_frac_square_nan_to_num_gradcheck(data):
    # frac jumps at the integers: kept away from them (its slope is 1 everywhere else)
    x = data.draw(T.arrays(data.draw(T.shapes()), low=-2.9, high=2.9, kinks=(-2, -1, 0, 1, 2)))
    for f in (sn.frac, sn.square, sn.nan_to_num, lambda t: sn.logit(t * 0.1 + 0.5, eps=0.2)):
        check(f, x)


@pytest.mark.parametrize("dtype", sorted(DTYPES))
def test_nan_to_num_and_logit_arguments_match_torch(dtype, torch, device):
    for kw in (dict(nan=1.5), dict(posinf=7.0), dict(neginf=-3.0), dict(nan=-1.0, posinf=2.0, neginf=-2.0)):
        _both(torch, device, lambda t: sn.nan_to_num(t, **kw), lambda t: torch.nan_to_num(t, **kw), [EDGES], dtype)
    x = numpy.array([0.0, 0.05, 0.1, 0.3, 0.5, 0.9, 0.95, 1.0, -1.0, 2.0, numpy.nan, numpy.inf])
    for eps in (None, 0.1, 0.0, 1e-6):  # gradient 0 outside [eps, 1 - eps], NaN outside [0, 1] without eps
        _both(torch, device, lambda t: sn.logit(t, eps), lambda t: torch.logit(t, eps), [x], dtype)
        _both(torch, device, lambda t: t.logit(eps=eps), lambda t: t.logit(eps=eps), [x], dtype)


@pytest.mark.parametrize("name", ["signbit", "isposinf", "isneginf"])
def test_sign_bit_and_infinity_tests_match_torch(name, torch, device):
    for x in (EDGES, EDGES.astype(numpy.float32), numpy.array([-2, 0, 3]), numpy.array([True, False]),
              numpy.zeros((0, 2)), numpy.array(-numpy.inf)):
        ys = getattr(sn, name)(leaf(x, device, dtype=x.dtype, grad=False))
        yt = getattr(torch, name)(torch.tensor(x))
        assert ys.dtype == numpy.bool_ and ys.shape == tuple(yt.shape) and (to_np(ys) == to_np(yt)).all(), x
        assert (to_np(getattr(leaf(x, device, dtype=x.dtype, grad=False), name)()) == to_np(yt)).all()


def test_heaviside_matches_torch_and_has_no_derivative(torch, device):
    x, v = numpy.array([[-1.5], [0.0], [-0.0], [2.0], [numpy.nan]]), numpy.array([0.25, 7.0])
    for dtype in ("float64", "float32"):
        _both(torch, device, sn.heaviside, torch.heaviside, [x, v], dtype, grad=False)
    ints = numpy.array([-2, 0, 3])
    ys = sn.heaviside(leaf(ints, device), leaf(numpy.array([5]), device))
    assert ys.dtype == numpy.int64 and to_np(ys).tolist() == torch.heaviside(torch.tensor(ints),
                                                                             torch.tensor([5])).tolist()
    with pytest.raises(RuntimeError, match="dtype"):
        sn.heaviside(sn.ones(2), sn.ones(2, dtype="float64"))
    y = sn.heaviside(leaf(x, device), leaf(v, device, grad=False))
    with pytest.raises(RuntimeError, match="heaviside"):
        y.sum().backward()


@pytest.mark.parametrize("dtype", sorted(DTYPES))
def test_float_power_and_ldexp_match_torch(dtype, torch, device):
    rng = numpy.random.default_rng(1)
    a, b = rng.uniform(0.2, 3, (3, 1)), rng.uniform(-2, 2, (4,))
    for name in ("float_power", "ldexp"):
        _both(torch, device, getattr(sn, name), getattr(torch, name), [a, b], dtype)
        _both(torch, device, lambda x, y: getattr(x, name)(y), lambda x, y: getattr(x, name)(y), [a, b], dtype)
    _both(torch, device, lambda x: sn.float_power(x, 2), lambda x: torch.float_power(x, 2), [a], dtype)
    _both(torch, device, lambda x: sn.float_power(2.5, x), lambda x: torch.float_power(2.5, x), [b], dtype)
    ints = [numpy.array([1, 2, -3]), numpy.array([3, 0, 2])]
    for name in ("float_power", "ldexp"):  # float64, and the default float dtype (float32 in both here)
        with torch_float32(torch):
            ys, yt = getattr(sn, name)(*[leaf(i, device) for i in ints]), getattr(torch, name)(*map(torch.tensor, ints))
        assert str(ys.dtype) == str(yt.dtype).replace("torch.", "") and numpy.allclose(to_np(ys), to_np(yt))


def test_xlogy_with_a_number_matches_torch(torch, device):
    b = numpy.array([0.0, 0.5, 2.0, numpy.nan, numpy.inf])
    for dtype in sorted(DTYPES):
        _both(torch, device, lambda t: sn.xlogy(t, 3.0), lambda t: torch.xlogy(t, 3.0), [b], dtype)
        _both(torch, device, lambda t: sn.xlogy(0.0, t), lambda t: torch.xlogy(0.0, t), [b], dtype)
        _both(torch, device, lambda t: sn.xlogy(2, t), lambda t: torch.xlogy(2, t), [b], dtype)


@pytest.mark.parametrize("dtype", sorted(DTYPES))
def test_nan_reductions_and_count_nonzero_match_torch(dtype, torch, device):
    x = numpy.array([[1.5, numpy.nan, 0.0], [numpy.nan, numpy.nan, -2.0], [numpy.inf, 3.0, 0.0]])[None]
    for dim in (None, 0, 1, -1, (1, 2), (0, 2)):
        kws = [{}] if dim is None else [dict(dim=dim), dict(dim=dim, keepdim=True)]
        for kw in kws:
            for name in ("nansum", "nanmean"):  # an all-NaN slice: nanmean NaN, its gradient NaN, as PyTorch
                _both(torch, device, lambda t: getattr(sn, name)(t, **kw), lambda t: getattr(torch, name)(t, **kw),
                      [x], dtype)
                _both(torch, device, lambda t: getattr(t, name)(**kw), lambda t: getattr(t, name)(**kw), [x], dtype)
        ys = sn.count_nonzero(leaf(x, device), dim)
        yt = torch.count_nonzero(torch.tensor(x), dim)
        assert ys.dtype == numpy.int64 and ys.shape == tuple(yt.shape) and (to_np(ys) == to_np(yt)).all()
    ints = numpy.array([[1, 0, 3], [0, 0, 5]])
    ys, yt = sn.nansum(leaf(ints, device), 1), torch.nansum(torch.tensor(ints), 1)
    assert ys.dtype == numpy.int64 and (to_np(ys) == to_np(yt)).all()
    assert (to_np(leaf(ints, device).count_nonzero(0)) == to_np(torch.tensor(ints).count_nonzero(0))).all()
    with pytest.raises(RuntimeError, match="floating point"):
        sn.nanmean(leaf(ints, device))


def test_aliases_are_the_same_functions():
    pairs = {"subtract": "sub", "multiply": "mul", "divide": "div", "negative": "neg", "absolute": "abs",
             "greater": "gt", "greater_equal": "ge", "less": "lt", "less_equal": "le", "not_equal": "ne",
             "sgn": "sign"}
    for alias, name in pairs.items():
        assert getattr(sn, alias) is getattr(sn, name), alias
        x = sn.tensor([1.0, -2.0])
        assert getattr(x, alias).__doc__ == getattr(x, name).__doc__, alias


def test_positive_and_one_sided_clamps_match_torch(torch, device):
    x, m = numpy.array([[-1.5, 0.5, 2.0]]), numpy.array([[0.0], [1.0]])
    for dtype in sorted(DTYPES):
        _both(torch, device, sn.positive, torch.positive, [x], dtype)
        for name in ("clamp_min", "clamp_max"):
            _both(torch, device, lambda t: getattr(sn, name)(t, 0.25), lambda t: getattr(torch, name)(t, 0.25), [x],
                  dtype)
            _both(torch, device, lambda t, u: getattr(t, name)(u), lambda t, u: getattr(t, name)(u), [x, m], dtype)
    with pytest.raises(RuntimeError, match="bool"):
        sn.positive(sn.tensor([True]))


INPLACE = {  # name_ -> extra arguments; each must equal the out-of-place op and give its gradient
    "log1p_": (), "expm1_": (), "sinc_": (), "logit_": (), "reciprocal_": (), "deg2rad_": (), "rad2deg_": (),
    "frac_": (), "square_": (), "nan_to_num_": (), "sgn_": (), "negative_": (), "absolute_": (),
    "subtract_": (0.5,), "multiply_": (3.0,), "divide_": (4.0,), "clamp_min_": (0.3,), "clamp_max_": (0.3,),
    "xlogy_": (2.0,), "hypot_": (numpy.array([1.5, -2.0, 0.5]),), "ldexp_": (numpy.array([2.0, -1.0, 0.0]),),
}


@pytest.mark.parametrize("name", sorted(INPLACE))
def test_inplace_variants_match_torch(name, torch, device):
    x = numpy.random.default_rng(2).uniform(0.1, 0.9, (2, 3))
    args = INPLACE[name]

    def on(lib, make):
        return lambda t: getattr(t * 1, name)(*[make(a) if isinstance(a, numpy.ndarray) else a for a in args])
    # sgn's gradient is PyTorch's ZeroTensor, which refuses to become an array: its 0 is checked by the step tests
    ys = _both(torch, device, on(sn, lambda a: leaf(a, device, grad=False)), on(torch, torch.tensor), [x],
               "float64", grad=name != "sgn_")
    assert ys[0].requires_grad
    t = leaf(x, device, grad=False)
    assert getattr(t, name)(*[leaf(a, device, grad=False) if isinstance(a, numpy.ndarray) else a for a in args]) is t
    if name in ("logit_", "reciprocal_", "sinc_", "expm1_"):  # a float result cannot be written into an integer x
        with pytest.raises(RuntimeError, match="can't be cast"):
            getattr(sn.tensor([1, 2]), name)()
        with pytest.raises(RuntimeError, match="can't be cast"):
            getattr(torch.tensor([1, 2]), name)()
    if name == "frac_":  # no integer kernel at all, as PyTorch
        with pytest.raises(NotImplementedError):
            sn.tensor([1, 2]).frac_()
