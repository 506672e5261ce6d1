"""Elementwise ops: arithmetic with broadcasting and PyTorch's type promotion (ops/promotion.py), unary functions,
where, clamp, casts.

Binary ops return gradients summed back to each input's shape with the one `sum_to`.
"""
import numpy

from .. import backend
from ..autograd import Function
from ..tensor import Tensor
from .shape import sum_to
from .cast import astype, to_device, clone  # noqa: F401  (re-exported: math is where users look for them)
from .promotion import promote, result_type, float_dtype, is_scalar, constant  # noqa: F401
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
        if a.shape != b.shape:
            _check_broadcast(name, a, b)
        return cls()(a, b)
    op.__name__ = name
    op.__doc__ = cls.__doc__
    return op


class Add(_Binary):
    """y = a + b;  da = gy, db = gy"""

    keeps_inputs = False

    def forward(self, a, b):
        return a + b

    def grads(self, gy, a, b):
        return gy, gy


class Sub(_Binary):
    """y = a - b;  da = gy, db = -gy"""

    keeps_inputs = False

    def forward(self, a, b):
        return a - b

    def grads(self, gy, a, b):
        return gy, (-gy if self.needs_input_grad[1] else None)


class Mul(_Binary):
    """y = a * b;  da = gy * b, db = gy * a"""

    multilinear = True
    def forward(self, a, b):
        return a * b

    def grads(self, gy, a, b):
        n = self.needs_input_grad
        return (gy * b if n[0] else None), (gy * a if n[1] else None)


class Div(_Binary):
    """y = a / b;  da = gy / b, db = -gy * a / b**2"""

    def forward(self, a, b):
        return a / b

    def grads(self, gy, a, b):
        n = self.needs_input_grad
        return (gy / b if n[0] else None), (-gy * a / (b * b) if n[1] else None)


class Pow(_Binary):
    """y = a ** b;  da = gy * b * a**(b-1), db = gy * y * log(a)"""

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
    """y = max(a, b) elementwise;  da = gy * [a > b], db = gy * [b > a]; at ties each gets gy / 2 (as PyTorch)"""

    def forward(self, a, b):
        return backend.get_array_module(a).maximum(a, b)

    def grads(self, gy, a, b):
        half = (a.data == b.data) * 0.5
        return gy * Tensor(((a.data > b.data) + half).astype(gy.dtype)), \
            gy * Tensor(((b.data > a.data) + half).astype(gy.dtype))


class Minimum(_Binary):
    """y = min(a, b) elementwise;  da = gy * [a < b], db = gy * [b < a]; at ties each gets gy / 2"""

    def forward(self, a, b):
        return backend.get_array_module(a).minimum(a, b)

    def grads(self, gy, a, b):
        half = (a.data == b.data) * 0.5
        return gy * Tensor(((a.data < b.data) + half).astype(gy.dtype)), \
            gy * Tensor(((b.data < a.data) + half).astype(gy.dtype))


add, sub, mul = _binary(Add, "add"), _binary(Sub, "sub"), _binary(Mul, "mul")
_true_div = _binary(Div, "div", to_float=True)


def div(a, b, rounding_mode=None):
    """a / b. True division (rounding_mode=None) of integers gives the default float dtype, as in PyTorch;
    rounding_mode="floor" or "trunc" rounds the quotient (see ops/division.py)."""
    if rounding_mode is not None:
        from .division import div_rounded
        return div_rounded(a, b, rounding_mode)
    return _true_div(a, b)
maximum, minimum = _binary(Maximum, "maximum"), _binary(Minimum, "minimum")
_pow_tensor = _binary(Pow, "pow")


class PowConst(Function):
    """y = x ** p for a constant p;  dx = gy * p * x**(p-1)"""

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


def pow(a, b):
    if isinstance(a, Tensor) and isinstance(b, (int, float)) and not isinstance(b, bool) and a.dtype.kind in "fc":
        return a if b == 1 else PowConst(b)(a)
    return _pow_tensor(a, b)


# ---- unary ----

class Neg(Function):
    """y = -x;  dx = -gy"""

    keeps_inputs = False

    def forward(self, x):
        return -x

    def backward(self, gy):
        return -gy


class Exp(Function):
    """y = e**x;  dx = gy * y"""

    keeps_inputs = False

    def forward(self, x):
        y = backend.get_array_module(x).exp(x)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return gy * y


class Log(Function):
    """y = ln x;  dx = gy / x"""

    def forward(self, x):
        return backend.get_array_module(x).log(x)

    def backward(self, gy):
        return gy / self.inputs[0]


class Log1p(Function):
    """y = ln(1 + x), accurate for tiny x;  dx = gy / (1 + x)"""

    def forward(self, x):
        return backend.get_array_module(x).log1p(x)

    def backward(self, gy):
        return gy / (1 + self.inputs[0])


class Sqrt(Function):
    """y = sqrt(x);  dx = gy / (2 y)"""

    keeps_inputs = False

    def forward(self, x):
        y = backend.get_array_module(x).sqrt(x)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return gy / (2 * y)


class Abs(Function):
    """y = |x|;  dx = gy * sign(x) (0 at x = 0, as PyTorch)"""

    def forward(self, x):
        return backend.get_array_module(x).abs(x)

    def backward(self, gy):
        x = self.inputs[0].data
        return gy * Tensor(backend.get_array_module(x).sign(x))


class Sin(Function):
    """y = sin x;  dx = gy * cos x"""

    def forward(self, x):
        return backend.get_array_module(x).sin(x)

    def backward(self, gy):
        return gy * cos(self.inputs[0])


class Cos(Function):
    """y = cos x;  dx = -gy * sin x"""

    def forward(self, x):
        return backend.get_array_module(x).cos(x)

    def backward(self, gy):
        return -gy * sin(self.inputs[0])


class Tanh(Function):
    """y = tanh x;  dx = gy * (1 - y**2)"""

    keeps_inputs = False

    def forward(self, x):
        y = backend.get_array_module(x).tanh(x)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return gy * (1 - y * y)


class Sigmoid(Function):
    """y = 1 / (1 + e**-x);  dx = gy * y * (1 - y)

    Computed from e = e**-|x| as 1/(1 + e) for x >= 0 and e/(1 + e) for x < 0: nothing overflows, and tiny
    results for very negative x keep their digits (so log(sigmoid(-40)) is -40, not -inf)."""

    keeps_inputs = False

    def forward(self, x):
        xp = backend.get_array_module(x)
        e = xp.exp(-xp.abs(x))
        y = xp.where(x >= 0, 1, e) / (1 + e)
        y = y.astype(x.dtype, copy=False)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return gy * y * (1 - y)


def _float_unary(cls):
    def op(x):
        if not isinstance(x, Tensor):
            from ..creation import tensor
            x = tensor(x)
        if x.dtype.kind not in "fc":
            x = astype(x, numpy.float32)
        return cls()(x)
    op.__name__ = cls.__name__.lower()
    op.__doc__ = cls.__doc__
    return op


exp, log, log1p, sqrt, sin, cos, tanh, sigmoid = (
    _float_unary(c) for c in (Exp, Log, Log1p, Sqrt, Sin, Cos, Tanh, Sigmoid))


def neg(x):
    return Neg()(x)


def abs(x):
    return Abs()(x)


# ---- selection ----

class Where(Function):
    """y = a where cond else b;  da = gy where cond else 0, db = gy where not cond else 0"""

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
    """condition ? input : other, elementwise with broadcasting; either branch may be a Python number."""
    if is_scalar(input) and is_scalar(other):
        dtype = result_type(input, other)
        a, b = constant(input, dtype), constant(other, dtype)
    else:
        a, b = promote(input, other)
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
    """y = min(max(x, lo), hi);  dx = gy where lo <= x <= hi else 0"""

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
    """min(max(x, min), max), promoted as PyTorch: an integer tensor with a float bound becomes float32."""
    if min is None and max is None:
        raise ShapeError("clamp: at least one of min and max must be given")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        y = x if min is None else maximum(x, min)
        return y if max is None else minimum(y, max)
    dtype = result_type(x, *(b for b in (min, max) if b is not None))
    if dtype.kind in "iu":
        info = numpy.iinfo(dtype)
        for b in (min, max):
            if b is not None and not info.min <= b <= info.max:
                raise ShapeError(f"clamp: value {b} cannot be converted to type {dtype} without overflow")
    x = x if x.dtype == dtype else astype(x, dtype)
    lo, hi = (None if b is None else constant(b, dtype).data for b in (min, max))
    return Clamp(lo, hi)(x)


# ---- comparisons: results are bool tensors and carry no gradient ----

def _compare(ufunc_name):
    def op(a, b):
        a, b = promote(a, b)
        if a.shape != b.shape:
            _check_broadcast(ufunc_name, a, b)
        with backend.on(a.data):
            return Tensor(getattr(backend.get_array_module(a.data), ufunc_name)(a.data, b.data))
    op.__name__ = ufunc_name
    return op


eq, ne, lt, le, gt, ge = (_compare(n) for n in ("equal", "not_equal", "less", "less_equal", "greater", "greater_equal"))
