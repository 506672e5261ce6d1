"""A Python number as a value of a tensor's dtype, by PyTorch's rules: what wraps, what becomes inf, what is refused.

Arithmetic (`int8_tensor + 1000`, `float16_tensor + 1e5`) converts without a check, as PyTorch's kernels do:
integers wrap, floats overflow to ±inf. The ops that PyTorch checks (where, clamp, pow, fill_, full) refuse a value
outside the dtype's range instead. An int that fits in neither int64 nor uint64 is refused everywhere.
"""
import math

import numpy

from .errors import ScalarOverflowError

_SCALARS = (bool, int, float, complex, numpy.number, numpy.bool_)


def is_scalar(x):
    """A Python (or NumPy) number, as opposed to a Tensor or an array."""
    return isinstance(x, _SCALARS)


# Below this magnitude a number converts to every float dtype without overflow (float16's largest is 65504): the
# common `1 - y`, `x * 0.5` skip `scalar`'s overflow handling, whose errstate costs more than the rest of an op
_SAFE_FLOAT = 65504.0


def scalar(value, dtype):
    """`value` as a NumPy scalar of `dtype`, as PyTorch's arithmetic takes a Python number: an int out of an
    integer dtype's range wraps around (two's complement), a float out of a float dtype's range becomes ±inf
    (float16 + 1e5 is inf); an int that fits in neither int64 nor uint64 is refused with OverflowError whatever
    the dtype (PyTorch: "int too big to convert")."""
    dtype = numpy.dtype(dtype)
    if dtype.kind == "f" and (type(value) is float or type(value) is int) and -_SAFE_FLOAT <= value <= _SAFE_FLOAT:
        return dtype.type(value)  # the fast path: nothing below can change this value
    if isinstance(value, int) and not isinstance(value, bool) and not -2**63 <= value < 2**64:
        raise ScalarOverflowError(f"the Python int {value} does not fit in 64 bits (int64 or uint64), so it cannot "
                                  f"be used with a {dtype} tensor (PyTorch: int too big to convert)")
    if dtype.kind in "iu" and not isinstance(value, (bool, numpy.bool_)):
        value = int(value)
        bits = 8 * dtype.itemsize
        value &= (1 << bits) - 1
        if dtype.kind == "i" and value >= 1 << (bits - 1):
            value -= 1 << bits
    with numpy.errstate(over="ignore"):  # float32(1e40) is inf, as in PyTorch
        return dtype.type(value)


def checked_scalar(value, dtype, op, float16=True):
    """`value` as a NumPy scalar of `dtype` where PyTorch checks the conversion instead of wrapping (where, clamp,
    pow, fill_, full): a number outside an integer dtype's range (an unsigned one wraps negatives down to -max), or
    a finite number beyond a float dtype's largest, is refused with PyTorch's "value cannot be converted to type
    ... without overflow". float16=False skips the float16 check, as PyTorch's where does (it gives inf
    there)."""
    dtype = numpy.dtype(dtype)
    if is_scalar(value) and not isinstance(value, (bool, numpy.bool_, complex)):
        if dtype.kind in "iu":
            info = numpy.iinfo(dtype)
            # an unsigned dtype takes a negative number down to -max, wrapping it (c10's two's complement rule)
            low = info.min if dtype.kind == "i" else -int(info.max)
            bad = not low <= value <= info.max
        elif dtype.kind == "f" and (float16 or dtype != numpy.float16):
            big = float(numpy.finfo(dtype).max)  # a Python float: comparing with a float32 would cast the value
            bad = (abs(int(value)) > big) if isinstance(value, (int, numpy.integer)) else \
                (math.isfinite(float(value)) and abs(float(value)) > big)
        else:
            bad = False
        if bad:
            raise ScalarOverflowError(f"{op}: value {value} cannot be converted to type {dtype} without overflow")
    return scalar(value, dtype)
