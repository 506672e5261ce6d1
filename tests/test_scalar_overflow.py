"""Python numbers that do not fit the tensor's dtype, against PyTorch: arithmetic wraps integers and overflows floats
to inf, an int past 64 bits is an OverflowError everywhere, and where/clamp/pow/fill_/full check the conversion
(RuntimeError). Each case is run through both libraries; the outcome (the values and dtype, or an error of the same
class) must agree."""
import warnings

import numpy
import pytest

import scratchnet as sn
from breadth_util import torch_float32
from conftest import to_np

VALUES = {  # dtype -> numbers past (or at) its range
    "float16": [2**70, -2**70, 70000, 1e5, -1e5, 65504, 65520, 1e300, float("inf")],
    "float32": [1e39, -1e39, 2**64 - 1, 2**64, 10**400, -2**63 - 1],
    "float64": [10**400, 2**64 - 1, 1e308],
    "int8": [1000, 128, -129, 2**63, 2**64, -2**63 - 1, 1e300, 1.5],
    "int16": [2**40, -40000],
    "int32": [2**31, -2**31 - 1, 2**62],
    "int64": [2**63, 2**64 - 1, 2**64, -2**63 - 1],
    "uint8": [-1, -255, -256, 256, 2**64],
}
OPS = {
    "add": lambda L, t, v: t + v, "radd": lambda L, t, v: v + t, "sub": lambda L, t, v: t - v,
    "rsub": lambda L, t, v: v - t, "mul": lambda L, t, v: t * v, "div": lambda L, t, v: t / v,
    "eq": lambda L, t, v: t == v, "lt": lambda L, t, v: t < v, "floor_divide": lambda L, t, v: t // v,
    "remainder": lambda L, t, v: t % v, "where": lambda L, t, v: L.where(t > 0, t, v),
    "where_first": lambda L, t, v: L.where(t > 0, v, t), "clamp": lambda L, t, v: L.clamp(t, max=v),
    "pow": lambda L, t, v: L.pow(t, v), "fill_": lambda L, t, v: t.clone().fill_(v),
    "full": lambda L, t, v: L.full((2,), v, dtype=t.dtype), "maximum": lambda L, t, v: L.maximum(t, L.tensor(v)),
}
# maximum takes the number through torch.tensor(value), which itself refuses an int past 64 bits (test_tensor_dtype
# covers the factory): those pairs are left out rather than skipped
CASES = [(dt, v, op) for dt, vs in VALUES.items() for v in vs for op in OPS
         if not (op == "maximum" and isinstance(v, int) and not -2**63 <= v < 2**63)]
IDS = [f"{d}-{v if not isinstance(v, int) or abs(v) < 2**32 else ('-' if v < 0 else '') + f'2^{v.bit_length()}'}-{o}"
       for d, v, o in CASES]


def _outcome(L, torch, dtype, value, op):
    t = L.tensor([1, 3], dtype=getattr(torch, dtype) if L is torch else dtype)
    try:
        with warnings.catch_warnings(), torch_float32(torch):  # the default float dtype: float32 in both
            warnings.simplefilter("ignore")
            y = OPS[op](L, t, value)
        return str(y.dtype).replace("torch.", ""), to_np(y)
    except (RuntimeError, OverflowError, ValueError, ZeroDivisionError) as e:
        return e


@pytest.mark.parametrize("dtype,value,op", CASES, ids=IDS)
def test_numbers_past_the_dtype_match_torch(dtype, value, op, torch, device):
    expected = _outcome(torch, torch, dtype, value, op)
    got = _outcome(sn, torch, dtype, value, op)
    if isinstance(expected, Exception):
        assert isinstance(got, Exception), f"PyTorch raises {expected!r}, scratchnet gives {got}"
        assert isinstance(got, type(expected)) or isinstance(expected, ValueError) and isinstance(got, RuntimeError), \
            (expected, got)
        return
    assert not isinstance(got, Exception), f"PyTorch gives {expected}, scratchnet raises {got!r}"
    assert got[0] == expected[0]
    if got[1].dtype.kind == "f":  # inf, NaN and finite values alike; a float power may differ in its last bit
        numpy.testing.assert_allclose(got[1], expected[1], rtol=1e-6)
    else:
        numpy.testing.assert_array_equal(got[1], expected[1])


def test_the_error_names_the_value_and_the_dtype():
    with pytest.raises(OverflowError, match=r"1180591620717411303424.*float16"):
        sn.tensor([1.0], dtype="float16") + 2**70
    with pytest.raises(RuntimeError, match=r"1180591620717411303424.*int8"):  # catchable as PyTorch's RuntimeError
        sn.tensor([1], dtype="int8") * 2**70
    with pytest.raises(RuntimeError, match=r"where: value 1000 cannot be converted to type int8 without overflow"):
        sn.where(sn.tensor([True]), sn.tensor([1], dtype="int8"), 1000)
    with pytest.raises(RuntimeError, match=r"fill_: value 1e\+39 .*float32"):
        sn.zeros(2).fill_(1e39)


def test_float16_division_by_a_large_number_is_computed_wide(device):
    # PyTorch divides a half tensor by a number in float32 and rounds once: 1 / 70000 is 1.43e-5, not 1 / inf = 0
    x = sn.tensor([1.0, 3.0], dtype="float16", requires_grad=True)
    y = x / 70000
    assert y.dtype == numpy.float16 and (to_np(y) == numpy.float16(numpy.array([1.0, 3.0]) / 70000)).all()
    y.sum().backward()
    assert x.grad.dtype == numpy.float16 and (to_np(x.grad) == numpy.float16(1 / 70000)).all()
