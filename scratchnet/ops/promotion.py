"""PyTorch's type promotion: which dtype `a + b` has, and the operands converted to it.

Operands fall in three groups, from strongest to weakest: tensors with at least one dimension, 0-d tensors, and
Python numbers. Within a group dtypes promote as usual (int32 + int64 -> int64; an int with a float -> the float). A
weaker group only matters when it is of a higher category (bool < integer < float < complex): `int8_tensor + 1000`
stays int8 (the number wraps, as in PyTorch), `int32_tensor + 2.5` is float32 (the default float dtype),
`float16_tensor + float64_0d_tensor` stays float16. True division of integers gives the default float, float32.

A Python number goes to the kernel as a NumPy scalar of the result dtype, never as a new array: on a GPU an array
would be a host-to-device upload per operation.
"""
import numpy

from ..creation import tensor
from ..errors import DTypeError
from ..scalars import is_scalar, scalar, checked_scalar  # noqa: F401  (a number as a dtype's value: its own module)
from ..tensor import Tensor
from .cast import astype

DEFAULT_FLOAT = numpy.dtype(numpy.float32)
_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}
def scalar_dtype(value):
    """The dtype PyTorch gives a Python number standing alone: bool, int64, the default float, complex64."""
    if isinstance(value, (bool, numpy.bool_)):
        return numpy.dtype(bool)
    if isinstance(value, (int, numpy.integer)):
        return numpy.dtype(numpy.int64)
    if isinstance(value, (float, numpy.floating)):
        return DEFAULT_FLOAT
    return numpy.dtype(numpy.complex64)


def promote_types(a, b):
    """Two dtypes' common dtype (None stands for 'no operand'): the higher category wins outright, so int32 with
    float16 is float16 (NumPy would say float64), except that a complex keeps a float's precision (float64 with
    complex64 is complex128); within a category NumPy's table agrees with PyTorch's."""
    if a is None or a == b:
        return b
    if b is None:
        return a
    ca, cb = _CATEGORY[a.kind], _CATEGORY[b.kind]
    if ca != cb and {ca, cb} != {2, 3}:
        return a if ca > cb else b
    return numpy.promote_types(a, b)  # a complex with a float keeps the float's precision (float64: complex128)


def _combine(higher, lower):
    """A stronger group's dtype `higher` against a weaker group's `lower` (c10's combine_categories)."""
    if higher is None:
        return lower
    if lower is None:
        return higher
    ch, cl = _CATEGORY[higher.kind], _CATEGORY[lower.kind]
    if ch == 3:
        return higher
    if cl == 3:
        return numpy.promote_types(higher, numpy.complex64) if ch == 2 else lower
    if ch == 2:
        return higher
    if ch == 0 or cl == 2:
        return promote_types(higher, lower)
    return higher


def result_type(*xs):
    """The dtype of a PyTorch elementwise op on the operands `xs` (Tensors and Python numbers)."""
    dim = zero = number = None
    for x in xs:
        if isinstance(x, Tensor):
            if x.data.ndim:
                dim = promote_types(dim, x.data.dtype)
            else:
                zero = promote_types(zero, x.data.dtype)
        else:
            number = promote_types(number, scalar_dtype(x))
    return _combine(dim, _combine(zero, number))


def constant(value, dtype):
    """A Python number as a 0-d constant Tensor whose data is a NumPy scalar of `dtype` (no array is made, so
    nothing is uploaded to a GPU: NumPy and CuPy kernels both take the scalar as it is)."""
    t = Tensor(None)  # then its data, which Tensor() itself would turn into an array
    t.data = scalar(value, dtype)
    return t


def _as_tensor(x, like):
    return tensor(x, device=like.device)


def promote(*xs, dtype=None, to_float=False):
    """The operands (Tensors, numbers, array-likes) as Tensors of one dtype: `dtype` if given, else the promoted
    one (made floating with `to_float`, as true division and float functions do)."""
    if dtype is None and len(xs) == 2:  # the common cases, answered without the general rules (they agree)
        a, b = xs
        same = _same_float_dtype(a, b) if type(a) is Tensor else _same_float_dtype(b, a) if type(b) is Tensor else None
        if same is not None:
            return same if same[0] is a else same[::-1]
    like = next((x for x in xs if isinstance(x, Tensor)), None)
    if like is None:
        raise TypeError(f"expected at least one Tensor, got {[type(x).__name__ for x in xs]}")
    xs = [x if isinstance(x, Tensor) or is_scalar(x) else _as_tensor(x, like) for x in xs]
    if dtype is None:
        dtype = result_type(*xs)
        if to_float:
            dtype = float_dtype(dtype)
    return [_convert(x, dtype) for x in xs]


def _same_float_dtype(t, other):
    """(t, other) as one dtype when no rule can change it, else None: t floating, and `other` a Tensor of t's very
    dtype or a Python float or int (a number never widens a tensor of its own category or above)."""
    dt = t.data.dtype
    if dt.kind != "f":
        return None
    if type(other) is Tensor:
        return (t, other) if other.data.dtype == dt else None
    if type(other) is float or type(other) is int:
        return t, constant(other, dt)
    return None


def _convert(x, dtype):
    if isinstance(x, Tensor):
        return x if x.data.dtype == dtype else astype(x, dtype)
    return constant(x, dtype)


def float_dtype(dtype):
    """The dtype a true division or a float function gives: `dtype` if floating, else the default float."""
    return dtype if dtype.kind in "fc" else DEFAULT_FLOAT


def check_same_dtype(fn, **tensors):
    """Matrix products and convolutions do not promote (PyTorch refuses float32 input with a float64 weight rather
    than silently computing in one of them): all named tensors must share one dtype."""
    named = [(k, t) for k, t in tensors.items() if t is not None]
    if len({t.dtype for _, t in named}) > 1:
        raise DTypeError(f"{fn}: expected all operands to have the same dtype, got " +
                         ", ".join(f"{k} {t.dtype}" for k, t in named) + " (convert one with .to(dtype))")
