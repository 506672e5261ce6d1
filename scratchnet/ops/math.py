"""Elementwise ops: arithmetic with broadcasting and PyTorch's type promotion (ops/promotion.py), where, clamp,
comparisons; the elementary functions (exp, log, sin, ...) are in ops/elementary.py and re-exported here.

Binary ops return gradients summed back to each input's shape with the one `sum_to`.
"""
import numpy

from .. import backend
from ..autograd import Function
from ..formula import formula
from ..tensor import Tensor
from . import parallel
from .shape import sum_to
from .cast import astype, to_device, clone  # noqa: F401  (re-exported: math is where users look for them)
from .elementary import neg, abs, exp, log, log1p, sqrt, sin, cos, tanh, sigmoid  # noqa: F401  (likewise)
from .promotion import promote, result_type, float_dtype, is_scalar, constant, scalar, checked_scalar  # noqa: F401
from ..errors import ShapeError


def _check_broadcast(name, a, b):
    try:
        numpy.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ShapeError(f"{name}: shapes {a.shape} and {b.shape} cannot be broadcast together") from None


class _Binary(Function):
    def backward(self, gy):
        a, b = self.inputs
        ga, gb = self.grads(gy, a, b)
        return (sum_to(ga, a.shape) if ga is not None else None,
                sum_to(gb, b.shape) if gb is not None else None)


def _binary(cls, name, to_float=False):
    def op(a, b):
        a, b = promote(a, b, to_float=to_float)
        if a.data.shape != b.data.shape and a.data.shape and b.data.shape:  # a 0-d operand goes with any shape
            _check_broadcast(name, a, b)
        return cls()(a, b)
    op.__name__ = name
    op.__doc__ = cls.__doc__
    return op


class Add(_Binary):
    """add(input, other): the elementwise sum, broadcast, with PyTorch's type promotion (a number may stand for
    either operand).

    Forward:  y = a + b
    Backward: da = sum_to(gy, a.shape), db = sum_to(gy, b.shape)
    """

    keeps_inputs = False

    def forward(self, a, b):
        return parallel.binary("add", a, b)   # a + b, its passes over the CPU's threads when large

    def grads(self, gy, a, b):
        return gy, gy


class Sub(_Binary):
    """sub(input, other): the elementwise difference, broadcast, with PyTorch's type promotion.

    Forward:  y = a - b
    Backward: da = sum_to(gy, a.shape), db = -sum_to(gy, b.shape)
    """

    keeps_inputs = False

    def forward(self, a, b):
        return parallel.binary("subtract", a, b)   # a - b, its passes over the CPU's threads when large

    def grads(self, gy, a, b):
        return gy, (formula(lambda gy: -gy, gy) if self.needs_input_grad[1] else None)


class Mul(_Binary):
    """mul(input, other): the elementwise product, broadcast, with PyTorch's type promotion.

    Forward:  y = a * b
    Backward: da = sum_to(gy * b, a.shape), db = sum_to(gy * a, b.shape)
    """

    multilinear = True
    def forward(self, a, b):
        return parallel.binary("multiply", a, b)   # a * b, its passes over the CPU's threads when large

    def grads(self, gy, a, b):
        n = self.needs_input_grad
        return (formula(lambda gy, b: gy * b, gy, b) if n[0] else None), \
            (formula(lambda gy, a: gy * a, gy, a) if n[1] else None)


class Div(_Binary):
    """True division, broadcast; integer operands give the default float dtype, as in PyTorch.

    Forward:  y = a / b
    Backward: da = sum_to(gy / b, a.shape), db = sum_to(-gy * a / b**2, b.shape)
    """

    def forward(self, a, b):
        return parallel.binary("divide", a, b)   # a / b, its passes over the CPU's threads when large

    def grads(self, gy, a, b):
        n = self.needs_input_grad
        return (formula(lambda gy, b: gy / b, gy, b) if n[0] else None), \
            (formula(lambda gy, a, b: -gy * a / (b * b), gy, a, b) if n[1] else None)


class Pow(_Binary):
    """pow(input, exponent) for two tensors (or a number base), broadcast.

    Forward:  y = a ** b
    Backward: da = sum_to(gy * b * a**(b-1), a.shape) (0 where a = b = 0),
              db = sum_to(gy * y * ln a, b.shape) (0 where a = 0 and b >= 0), PyTorch's conventions at 0·inf
    """

    def forward(self, a, b):
        return a ** b

    def grads(self, gy, a, b):
        # PyTorch's conventions where the formulas give 0·inf: da = 0 where b = 0 (so d(x**0)/dx = 0 at x = 0; masked
        # only at a = 0, where the formula fails, so the second derivative stays exact elsewhere), and
        # db = 0 where a = 0 and b >= 0 (so d(0**x)/dx = 0)
        n = self.needs_input_grad
        with numpy.errstate(divide="ignore", invalid="ignore"):
            ga = where((b.data == 0) & (a.data == 0), 0.0, gy * b * a ** (b - 1)) if n[0] else None
            gb = where((a.data == 0) & (b.data >= 0), 0.0, gy * self.output_or_recompute(a, b) * log(a)) \
                if n[1] else None
        return ga, gb

    def output_or_recompute(self, a, b):
        y = self.output
        return y if y is not None else a ** b


class Maximum(_Binary):
    """maximum(input, other): the elementwise larger of two tensors, broadcast.

    Forward:  y = max(a, b)
    Backward: da = sum_to(gy * ([a > b] + [a = b] / 2), a.shape), db likewise with a and b swapped
              (a tie shares gy equally, as PyTorch)
    """

    def forward(self, a, b):
        return backend.get_array_module(a).maximum(a, b)

    def grads(self, gy, a, b):
        half = (a.data == b.data) * 0.5
        return gy * Tensor(((a.data > b.data) + half).astype(gy.dtype)), \
            gy * Tensor(((b.data > a.data) + half).astype(gy.dtype))


class Minimum(_Binary):
    """minimum(input, other): the elementwise smaller of two tensors, broadcast.

    Forward:  y = min(a, b)
    Backward: da = sum_to(gy * ([a < b] + [a = b] / 2), a.shape), db likewise with a and b swapped
    """

    def forward(self, a, b):
        return backend.get_array_module(a).minimum(a, b)

    def grads(self, gy, a, b):
        half = (a.data == b.data) * 0.5
        return gy * Tensor(((a.data < b.data) + half).astype(gy.dtype)), \
            gy * Tensor(((b.data < a.data) + half).astype(gy.dtype))


add, sub, mul = _binary(Add, "add"), _binary(Sub, "sub"), _binary(Mul, "mul")
_divide = _binary(Div, "div", to_float=True)


def true_divide(a, b):
    """true_divide(input, other): a / b, broadcast; integer operands give the default float dtype, as in PyTorch
    (div(a, b, rounding_mode) is in ops/division.py). A float16 tensor with a Python number is divided in float32
    and rounded once, as PyTorch does (so x / 70000 is not x / inf = 0).

    Forward:  y = a / b
    Backward: da = sum_to(gy / b, a.shape), db = sum_to(-gy * a / b**2, b.shape)
    """
    for t, n in ((a, b), (b, a)):
        if type(t) is Tensor and t.data.dtype == numpy.float16 and is_scalar(n) and not isinstance(n, complex):
            wide = astype(t, numpy.float32)
            return astype(_divide(wide, n) if t is a else _divide(n, wide), numpy.float16)
    return _divide(a, b)


maximum, minimum = _binary(Maximum, "maximum"), _binary(Minimum, "minimum")
_pow_tensor = _binary(Pow, "pow")


class PowConst(Function):
    """x raised to a constant Python number p.

    Forward:  y = x ** p
    Backward: dx = gy * p * x**(p-1)  (0 for p = 0, x = 0 included)
    """

    def __init__(self, p):
        self.p = p

    def forward(self, x):
        return x ** self.p

    def backward(self, gy):
        (x,) = self.inputs
        if self.p == 0:  # d(x**0)/dx = 0 everywhere, x = 0 included (the formula would give 0·inf)
            return gy * constant(0, gy.dtype)
        if self.p == 2:
            return gy * 2 * x
        return gy * self.p * x ** (self.p - 1)


def _check_exponent(a, b):
    """PyTorch's checks of a number exponent: an int past 64 bits, a negative power of an integer tensor, and (for
    integer and float16 tensors) a value the dtype cannot hold are refused."""
    if a.dtype.kind == "f" and a.dtype.itemsize > 2 and (type(b) is float or type(b) is int and -2**63 <= b < 2**64):
        return  # the common x ** 2.0 on float32/64: nothing to check
    dtype = result_type(a, b)
    if type(b) is int:
        scalar(b, dtype)  # an int past 64 bits is refused, as everywhere
    if dtype.kind in "iu" and b < 0:
        raise ShapeError(f"pow: integers to negative integer powers are not allowed (a {dtype} tensor to the power "
                         f"{b})")
    if dtype.kind in "iu" or dtype == numpy.float16:  # float32/64 give inf instead
        checked_scalar(b, dtype, "pow")


def pow(a, b):
    """pow(input, exponent), as torch.pow: a tensor to a number or a tensor power, or a number to a tensor power;
    broadcast, with PyTorch's type promotion.

    Forward:  y = a ** b
    Backward: da = sum_to(gy * b * a**(b-1), a.shape) (0 where b = 0),
              db = sum_to(gy * y * ln a, b.shape) (0 where a = 0 and b >= 0)
    """
    if isinstance(a, Tensor) and is_scalar(b):
        _check_exponent(a, b)
        if isinstance(b, (int, float)) and not isinstance(b, bool) and a.dtype.kind in "fc":
            return a if b == 1 else PowConst(b)(a)
    return _pow_tensor(a, b)


# ---- selection ----

class Where(Function):
    """The elementwise choice between two tensors by a fixed bool mask.

    Forward:  y = a where cond else b
    Backward: da = sum_to(gy where cond else 0, a.shape), db = sum_to(gy where not cond else 0, b.shape)
    """

    keeps_inputs = False

    def __init__(self, cond):
        self.cond = cond

    def forward(self, a, b):  # the module of the condition too: a branch may be a NumPy scalar constant
        return backend.get_array_module(self.cond, a, b).where(self.cond, a, b)

    def backward(self, gy):
        a, b = self.inputs
        zero = constant(0, gy.dtype)
        n = self.needs_input_grad
        return (sum_to(Where(self.cond)(gy, zero), a.shape) if n[0] else None,
                sum_to(Where(self.cond)(zero, gy), b.shape) if n[1] else None)


def where(condition, input, other):
    """where(condition, input, other): the elementwise choice by a bool condition, condition, input and other
    broadcast together; either branch may be a Python number, and the branches are type-promoted as PyTorch.

    Forward:  y = input where condition else other
    Backward: dinput = sum_to(gy where condition else 0, input.shape),
              dother = sum_to(gy where not condition else 0, other.shape); the condition has no gradient
    """
    if is_scalar(input) and is_scalar(other):
        dtype = result_type(input, other)
        a, b = constant(input, dtype), constant(other, dtype)
    else:
        a, b = promote(input, other)
    for v in (input, other):  # a number branch must fit the result dtype (PyTorch checks it; float16 excepted)
        if is_scalar(v):
            checked_scalar(v, a.dtype, "where", float16=False)
    cond = condition.data if isinstance(condition, Tensor) else \
        backend.get_array_module(condition, a.data, b.data).asarray(condition)  # a raw GPU mask stays on the GPU
    if cond.dtype != bool:
        raise TypeError(f"where: condition must be a bool tensor, got dtype {cond.dtype}")
    try:
        numpy.broadcast_shapes(cond.shape, a.shape, b.shape)
    except ValueError:
        raise ShapeError(f"where: condition {cond.shape}, input {a.shape} and other {b.shape} "
                         "cannot be broadcast together") from None
    return Where(cond)(a, b)


class Clamp(Function):
    """x clipped into [lo, hi] by constant bounds (either may be None).

    Forward:  y = min(max(x, lo), hi)
    Backward: dx = gy where lo <= x <= hi else 0
    """

    def __init__(self, lo, hi):
        self.lo, self.hi = lo, hi

    def forward(self, x):
        return backend.get_array_module(x).clip(x, self.lo, self.hi)

    def backward(self, gy):
        x = self.inputs[0].data
        mask = backend.get_array_module(x).ones(x.shape, dtype=bool)
        if self.lo is not None:
            mask &= x >= self.lo
        if self.hi is not None:
            mask &= x <= self.hi
        return gy * Tensor(mask.astype(gy.dtype))


def clamp(x, min=None, max=None):
    """clamp(input, min=None, max=None) (alias clip): x clipped into [min, max]; at least one bound is given,
    each a number or a tensor (broadcast). Promoted as PyTorch: an integer tensor with a float bound becomes float32;
    a bound that does not fit the dtype (int8 with 1000, float16 with 1e5) is an error, as in PyTorch.

    Forward:  y = min(max(x, min), max)
    Backward: dx = gy where min <= x <= max else 0  (tensor bounds: as maximum/minimum, ties share gy)
    """
    if min is None and max is None:
        raise ShapeError("clamp: at least one of min and max must be given")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        y = x if min is None else maximum(x, min)
        return y if max is None else minimum(y, max)
    dtype = result_type(x, *(b for b in (min, max) if b is not None))
    x = x if x.dtype == dtype else astype(x, dtype)
    lo, hi = (None if b is None else checked_scalar(b, dtype, "clamp") for b in (min, max))
    return Clamp(lo, hi)(x)


# ---- comparisons: results are bool tensors and carry no gradient ----

def _compare(name, ufunc_name, symbol):
    def op(a, b):
        a, b = promote(a, b)
        if a.shape != b.shape:
            _check_broadcast(name, a, b)
        with backend.on(a.data):
            return Tensor(getattr(backend.get_array_module(a.data), ufunc_name)(a.data, b.data))
    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"""{name}(input, other): the elementwise comparison a {symbol} b, broadcast, as a bool tensor; the
    operands are type-promoted first (so an int tensor compares exactly with a float).

    Forward:  y = [a {symbol} b]
    Backward: not differentiable (a bool result carries no gradient)
    """
    return op


eq, ne, lt, le, gt, ge = (_compare(*c) for c in (("eq", "equal", "=="), ("ne", "not_equal", "!="), ("lt", "less", "<"),
                                                 ("le", "less_equal", "<="), ("gt", "greater", ">"),
                                                 ("ge", "greater_equal", ">=")))
