"""More elementwise functions of two tensors: copysign, atan2, logaddexp(2), xlogy, hypot, fmax/fmin,
float_power, ldexp, heaviside, lerp; and the comparisons that answer "how close" or "are all true": isclose, allclose,
all, any.

The differentiable ones broadcast and promote as `+` does (integers become the default float dtype), and return
their gradients summed back to each input's shape by the one `sum_to`.
"""
import builtins
import math

import numpy

from .. import backend
from ..autograd import Function
from ..errors import DTypeError
from ..tensor import Tensor
from . import math as M, reduce as R
from .cast import astype
from .unary import _tensor

__all__ = ["copysign", "atan2", "arctan2", "logaddexp", "logaddexp2", "xlogy", "hypot", "fmax", "fmin", "float_power",
           "ldexp", "heaviside", "lerp", "isclose", "allclose", "all", "any"]
LN2 = math.log(2.0)


def _float_pair(name, a, b):
    a, b = M.promote(a, b)
    if a.shape != b.shape:
        M._check_broadcast(name, a, b)
    if a.dtype.kind not in "fc":
        a, b = astype(a, numpy.float32), astype(b, numpy.float32)
    return a, b


class Copysign(M._Binary):
    """copysign(input, other): |a| with the sign of b (the sign bit: -0.0 counts as negative), broadcast; integer
    operands become float32.

    Forward:  y = |a| * (-1 if signbit(b) else 1)
    Backward: da = sum_to(gy * y / a, a.shape)  (= ±1; 0 where a = 0, NaN where a is ±inf or NaN, as PyTorch),
              db = 0
    """

    def forward(self, a, b):
        return backend.get_array_module(a, b).copysign(a, b)

    def grads(self, gy, a, b):
        if not self.needs_input_grad[0]:
            return None, None
        xp = backend.get_array_module(a.data, b.data)
        # the ratio y / a is the sign flip, +1 or -1 (NaN at an infinite or NaN a, as PyTorch's): a constant, so it
        # is read off the data, never differentiated
        with numpy.errstate(invalid="ignore"):
            flip = xp.where(a.data == 0, 0, xp.copysign(a.data, b.data) / a.data)
        return gy * Tensor(flip.astype(gy.dtype)), None


class Atan2(M._Binary):
    """atan2(input, other) (alias arctan2): the angle of the point (b, a) in (-pi, pi], broadcast; integer
    operands become float32.

    Forward:  y = atan2(a, b)
    Backward: da = sum_to(gy * b / (a**2 + b**2), a.shape), db = sum_to(-gy * a / (a**2 + b**2), b.shape)
    """

    def forward(self, a, b):
        return backend.get_array_module(a, b).arctan2(a, b)

    def grads(self, gy, a, b):
        n = self.needs_input_grad
        r2 = a * a + b * b
        return (gy * b / r2 if n[0] else None), (-gy * a / r2 if n[1] else None)


class Logaddexp(M._Binary):
    """logaddexp(input, other): log(e**a + e**b), computed as max(a, b) + log1p(e**-|a - b|) so nothing
    overflows; broadcast (integer tensors are refused, as in PyTorch).

    Forward:  y = ln(e**a + e**b)
    Backward: da = sum_to(gy * e**(a - y), a.shape) = sum_to(gy * sigmoid(a - b), a.shape),
              db = sum_to(gy * sigmoid(b - a), b.shape)
    """

    def forward(self, a, b):
        return backend.get_array_module(a, b).logaddexp(a, b)

    def grads(self, gy, a, b):
        n = self.needs_input_grad
        return (gy * M.sigmoid(a - b) if n[0] else None), (gy * M.sigmoid(b - a) if n[1] else None)


class Logaddexp2(M._Binary):
    """logaddexp2(input, other): log2(2**a + 2**b), without overflow; broadcast (integer tensors are refused, as in
    PyTorch).

    Forward:  y = log2(2**a + 2**b)
    Backward: da = sum_to(gy * sigmoid((a - b) ln 2), a.shape), db = sum_to(gy * sigmoid((b - a) ln 2), b.shape)
    """

    def forward(self, a, b):
        return backend.get_array_module(a, b).logaddexp2(a, b)

    def grads(self, gy, a, b):
        n = self.needs_input_grad
        return (gy * M.sigmoid((a - b) * LN2) if n[0] else None), (gy * M.sigmoid((b - a) * LN2) if n[1] else None)


class Xlogy(M._Binary):
    """xlogy(input, other): a * ln(b), and 0 where a = 0 (unless b is NaN), so 0 * ln 0 = 0 as entropy needs;
    broadcast, either may be a number; integer operands become float32.

    Forward:  y = a ln b  (0 where a = 0 and b is not NaN)
    Backward: da = sum_to(xlogy(gy, b), a.shape) (0 where a = 0 and b <= 0, as PyTorch),
              db = sum_to(gy * a / b, b.shape)
    """

    def forward(self, a, b):
        xp = backend.get_array_module(a, b)  # either may be a number's host constant
        with numpy.errstate(divide="ignore", invalid="ignore"):
            return xp.where((a == 0) & ~xp.isnan(b), 0, a * xp.log(b)).astype(a.dtype, copy=False)

    def grads(self, gy, a, b):
        n = self.needs_input_grad
        ga = M.where(Tensor((a.data == 0) & (b.data <= 0)), 0.0, xlogy(gy, b)) if n[0] else None
        with numpy.errstate(divide="ignore", invalid="ignore"):
            return ga, (gy * a / b if n[1] else None)


class Hypot(M._Binary):
    """hypot(input, other): the length of the vector (a, b), without overflow; broadcast (integer tensors are
    refused, as in PyTorch).

    Forward:  y = sqrt(a**2 + b**2)
    Backward: da = sum_to(gy * a / y, a.shape), db = sum_to(gy * b / y, b.shape)  (NaN at a = b = 0, as PyTorch)
    """

    def forward(self, a, b):
        return backend.get_array_module(a, b).hypot(a, b)

    def grads(self, gy, a, b):
        n, y = self.needs_input_grad, hypot(a, b)
        with numpy.errstate(divide="ignore", invalid="ignore"):
            return (gy * a / y if n[0] else None), (gy * b / y if n[1] else None)


class _NanIgnoring(M._Binary):
    """fmax/fmin: the larger (smaller) value, a NaN operand ignored; the whole gradient goes to a where a wins, ties
    included, or b is NaN (PyTorch's rule), else to b."""

    def forward(self, a, b):
        return getattr(backend.get_array_module(a, b), self.name)(a, b)

    def grads(self, gy, a, b):
        xp = backend.get_array_module(a.data, b.data)
        wins = (a.data >= b.data) if self.name == "fmax" else (a.data <= b.data)
        to_a = (wins | xp.isnan(b.data)).astype(gy.dtype)
        return gy * Tensor(to_a), gy * Tensor(1 - to_a)


class FmaxFn(_NanIgnoring):
    """fmax(input, other): the elementwise larger, ignoring a NaN (NaN only where both are); broadcast.

    Forward:  y = max(a, b), the other operand where one is NaN
    Backward: da = sum_to(gy * [a >= b or b is NaN], a.shape), db = sum_to(gy * [not that], b.shape)
    """
    name = "fmax"


class FminFn(_NanIgnoring):
    """fmin(input, other): the elementwise smaller, ignoring a NaN (NaN only where both are); broadcast.

    Forward:  y = min(a, b), the other operand where one is NaN
    Backward: da = sum_to(gy * [a <= b or b is NaN], a.shape), db = sum_to(gy * [not that], b.shape)
    """
    name = "fmin"


fmax, fmin = M._binary(FmaxFn, "fmax"), M._binary(FminFn, "fmin")


class HeavisideFn(Function):
    """heaviside(input, values): the step function, `values` where x = 0; input and values of one dtype
    (broadcast). Its derivative is not implemented, as in PyTorch: backward through it raises.

    Forward:  y = 0 where x < 0, values where x = 0, 1 where x > 0
    Backward: not implemented (RuntimeError, as PyTorch)
    """

    def forward(self, x, values):
        # PyTorch's definition, which gives 0 at NaN (NumPy's heaviside gives NaN there)
        return backend.get_array_module(x, values).where(x == 0, values, x > 0).astype(x.dtype, copy=False)

    def backward(self, gy):
        raise RuntimeError("the derivative for 'heaviside' is not implemented (as in PyTorch)")


def heaviside(input, values):
    x, v = _tensor(input), _tensor(values, "values")
    if x.dtype != v.dtype:
        raise DTypeError(f"heaviside is not yet implemented for tensors with different dtypes ({x.dtype} and "
                         f"{v.dtype}), as in PyTorch")
    M._check_broadcast("heaviside", x, v)
    return HeavisideFn()(x, v)


heaviside.__doc__ = HeavisideFn.__doc__


def float_power(input, exponent):
    """float_power(input, exponent): pow computed in float64 whatever the operands' dtypes (one may be a number).

    Forward:  y = float64(a) ** float64(b)
    Backward: da = sum_to(gy * b * a**(b-1), a.shape), db = sum_to(gy * y * ln a, b.shape), cast back to each
              input's dtype (pow's conventions at 0)
    """
    if not isinstance(input, Tensor) and not isinstance(exponent, Tensor):
        raise TypeError("float_power: expected a Tensor for input or exponent, got two numbers")
    a, b = (astype(t, numpy.float64) if isinstance(t, Tensor) else float(t) for t in (input, exponent))
    return M.pow(a, b)


def ldexp(input, other):
    """ldexp(input, other): a times 2 to the power b, as torch.ldexp (= input * 2.0 ** other, so integer
    operands give the default float dtype).

    Forward:  y = a * 2**b
    Backward: da = sum_to(gy * 2**b, a.shape), db = sum_to(gy * y * ln 2, b.shape)
    """
    return M.mul(_tensor(input), M.pow(2.0, _tensor(other, "other")))


def copysign(input, other):
    return Copysign()(*_float_pair("copysign", input, other))


def atan2(input, other):
    return Atan2()(*_float_pair("atan2", input, other))


def _floats_only(name, cls):
    """An op PyTorch defines for floating point tensors only: two integer tensors are refused."""
    def op(input, other):
        if builtins.all(isinstance(t, Tensor) and t.dtype.kind in "biu" for t in (input, other)):
            raise NotImplementedError(f"{name} is not implemented for integer tensors ({input.dtype}, {other.dtype}), "
                                      "as in PyTorch: convert to float first")
        return cls()(*_float_pair(name, input, other))
    op.__name__, op.__qualname__, op.__doc__ = name, name, cls.__doc__
    return op


logaddexp, logaddexp2, hypot = (_floats_only(n, c) for n, c in (("logaddexp", Logaddexp), ("logaddexp2", Logaddexp2),
                                                               ("hypot", Hypot)))


def xlogy(input, other):
    return Xlogy()(*_float_pair("xlogy", input, other))


copysign.__doc__, atan2.__doc__, xlogy.__doc__ = Copysign.__doc__, Atan2.__doc__, Xlogy.__doc__
arctan2 = atan2


def lerp(input, end, weight):
    """lerp(input, end, weight): linear interpolation from input (start) to end, as torch.lerp; weight is a number
    or a tensor of the same dtype, all three broadcast.

    Forward:  y = start + weight * (end - start)
    Backward: dstart = gy * (1 - weight), dend = gy * weight, dweight = gy * (end - start)  (each summed to its
              input's shape)
    """
    start, end = _tensor(input), _tensor(end, "end")
    if start.dtype != end.dtype:
        raise DTypeError(f"lerp: expected dtype {start.dtype} for `end` but got dtype {end.dtype}")
    if start.dtype.kind not in "fc":
        raise DTypeError(f"lerp: expected a floating point tensor, got dtype {start.dtype}")
    if isinstance(weight, Tensor) and weight.dtype != start.dtype:
        raise DTypeError(f"lerp: expected dtype {start.dtype} for `weight` but got dtype {weight.dtype}")
    return start + weight * (end - start)


# ---- closeness and truth: bool results, no gradient ----

def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False): elementwise closeness as a bool tensor.
    Equal values (equal infinities too) are close; NaN equals NaN only with equal_nan=True. Both tensors must have
    the same dtype, as in PyTorch.

    Forward:  y = [|a - b| <= atol + rtol * |b|  or  a == b]
    Backward: not differentiable (a bool result carries no gradient)
    """
    a, b = _tensor(input), _tensor(other, "other")
    if a.dtype != b.dtype:
        raise DTypeError(f"isclose: {a.dtype} did not match {b.dtype} (input and other must have the same dtype)")
    if rtol < 0:
        raise RuntimeError(f"isclose: rtol must be greater than or equal to zero, but got {rtol}")
    if atol < 0:
        raise RuntimeError(f"isclose: atol must be greater than or equal to zero, but got {atol}")
    M._check_broadcast("isclose", a, b)
    xp = backend.get_array_module(a.data)
    x, y = a.data, b.data
    close = x == y
    if equal_nan and a.dtype.kind in "fc":
        close = close | (xp.isnan(x) & xp.isnan(y))
    if rtol == 0 and atol == 0:
        return Tensor(close)
    if a.dtype.kind not in "fc":  # PyTorch measures integer and bool errors in the default float dtype
        x, y = x.astype(numpy.float32), y.astype(numpy.float32)
    with numpy.errstate(invalid="ignore"):  # inf - inf and 0 * inf are NaN here on purpose: not finite, not close
        actual = xp.abs(x - y)
        allowed = atol + xp.abs(rtol * y)
        return Tensor(close | (xp.isfinite(actual) & (actual <= allowed)))


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False): a Python bool, isclose everywhere (this
    reads one value back from the device, as PyTorch does).

    Forward:  y = all(|a - b| <= atol + rtol * |b|  or  a == b)
    Backward: not differentiable (a Python bool)
    """
    return bool(isclose(input, other, rtol, atol, equal_nan).data.all())


def _truth(name, reduce):
    def op(input, dim=None, keepdim=False):
        x = _tensor(input)
        xp = backend.get_array_module(x.data)
        data = x.data if x.dtype == bool else x.data != 0
        axes = R._axes(dim, x.ndim)
        if x.ndim == 0:  # dims 0 and -1 of a 0-d tensor are valid (checked above) and reduce nothing
            axes = ()
        return Tensor(xp.asarray(reduce(data, axis=axes, keepdims=keepdim)))
    op.__name__ = op.__qualname__ = name
    return op


all = _truth("all", lambda a, **kw: a.all(**kw))
any = _truth("any", lambda a, **kw: a.any(**kw))
all, any = R.numpy_names(all), R.numpy_names(any)
all.__doc__ = """all(input, dim=None, keepdim=False): True where every element is nonzero, over `dim` (an int or a
    tuple) or everywhere, as a bool tensor; empty gives True.

    Forward:  y = AND_i [x_i != 0]
    Backward: not differentiable (a bool result carries no gradient)
    """
any.__doc__ = """any(input, dim=None, keepdim=False): True where some element is nonzero, over `dim` (an int or a
    tuple) or everywhere, as a bool tensor; empty gives False.

    Forward:  y = OR_i [x_i != 0]
    Backward: not differentiable (a bool result carries no gradient)
    """

METHODS = {name: globals()[name] for name in __all__}
