"""More elementwise functions of one tensor: the rest of PyTorch's unary math (tan, asin, ..., erf, erfinv, log2,
exp2, rsqrt, expm1, sinc, logit, reciprocal, square, nan_to_num, ...), the rounding family (sign, round, floor, ceil,
trunc: zero gradient, as PyTorch) and the float tests (isnan, isinf, isfinite, signbit, ...: bool results, no
gradient). Adding one is a line: `_smooth(name, "forward;  backward", f(xp, x), f'(x, y) with Tensor ops)`.

Every backward is written with Tensor ops (so it is differentiable again), from the input x or the output y.
"""
import math

import numpy

from .. import backend
from ..autograd import Function
from ..tensor import Tensor
from . import math as M
from ..creation import tensor
from .cast import astype
from .elementary import log1p  # noqa: F401  (an elementary Function; listed here so it is public like the rest)
from .special import Erf, Erfinv

__all__ = ["tan", "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh", "log2", "log10", "exp2", "rsqrt",
           "erf", "erfinv", "arcsin", "arccos", "arctan", "arcsinh", "arccosh", "arctanh", "sign", "sgn", "floor",
           "ceil", "trunc", "fix", "round", "log1p", "expm1", "sinc", "logit", "reciprocal", "deg2rad", "rad2deg",
           "frac", "square", "nan_to_num", "isnan", "isinf", "isfinite", "signbit", "isposinf", "isneginf"]
TESTS = ("isnan", "isinf", "isfinite", "signbit", "isposinf", "isneginf")  # bool results: no in-place variant


def _tensor(x, name="input"):
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (bool, int, float, numpy.number, numpy.ndarray, list, tuple)):
        return tensor(x)
    raise TypeError(f"{name}: expected a Tensor, got {type(x).__name__}")


def _floating(x):
    """Integer and bool tensors become the default float dtype first, as PyTorch's float functions do."""
    x = _tensor(x)
    return x if x.dtype.kind in "fc" else astype(x, numpy.float32)


class _Smooth(Function):
    """y = f(x) elementwise; dx = gy * f'(x), where f' is `grad(x, y)` written with Tensor ops."""

    def forward(self, x):
        y = self.f(backend.get_array_module(x), x)
        y = y.astype(x.dtype, copy=False)
        self.save_for_backward(x, y)
        return y

    def backward(self, gy):
        x, y = self.saved_tensors
        return gy * self.grad(x, y)


def _math_doc(name, math, what):
    """A docstring in the op convention from "forward;  backward" (ops/doctable.py)."""
    forward, backward = math.split(";  ")
    return f"{name}(input): {what}\n\nForward:  {forward}\nBackward: {backward}\n"


def _smooth(name, math, f, grad, floats_only=False):
    doc = _math_doc(name, math, "elementwise; " + ("floating point input only, as in PyTorch." if floats_only else
                                                  "integer and bool input becomes float32, as in PyTorch."))
    cls = type(name.capitalize() + "Fn", (_Smooth,), {"__doc__": doc, "f": staticmethod(f),
                                                       "grad": staticmethod(grad)})

    def op(input):
        x = _tensor(input)
        if floats_only and x.dtype.kind not in "fc":
            raise NotImplementedError(f"{name} is not implemented for {x.dtype} tensors, as in PyTorch")
        return cls()(_floating(x))
    op.__name__, op.__qualname__, op.__doc__ = name, name, doc
    return op


def _sqrt(x):
    return M.sqrt(x)


LN2, LN10 = math.log(2.0), math.log(10.0)

tan = _smooth("tan", "y = tan x;  dx = gy * (1 + y**2)",
              lambda xp, x: xp.tan(x), lambda x, y: 1 + y * y)
asin = _smooth("asin", "y = asin x (NaN outside [-1, 1]);  dx = gy / sqrt(1 - x**2)",
               lambda xp, x: xp.arcsin(x), lambda x, y: 1 / _sqrt(1 - x * x))
acos = _smooth("acos", "y = acos x (NaN outside [-1, 1]);  dx = -gy / sqrt(1 - x**2)",
               lambda xp, x: xp.arccos(x), lambda x, y: -1 / _sqrt(1 - x * x))
atan = _smooth("atan", "y = atan x;  dx = gy / (1 + x**2)",
               lambda xp, x: xp.arctan(x), lambda x, y: 1 / (1 + x * x))
sinh = _smooth("sinh", "y = sinh x;  dx = gy * cosh x",
               lambda xp, x: xp.sinh(x), lambda x, y: cosh(x))
cosh = _smooth("cosh", "y = cosh x;  dx = gy * sinh x",
               lambda xp, x: xp.cosh(x), lambda x, y: sinh(x))
asinh = _smooth("asinh", "y = asinh x = ln(x + sqrt(x**2 + 1));  dx = gy / sqrt(x**2 + 1)",
                lambda xp, x: xp.arcsinh(x), lambda x, y: 1 / _sqrt(x * x + 1))
acosh = _smooth("acosh", "y = acosh x (NaN below 1);  dx = gy / sqrt((x - 1)(x + 1))",
                lambda xp, x: xp.arccosh(x), lambda x, y: 1 / _sqrt((x - 1) * (x + 1)))
atanh = _smooth("atanh", "y = atanh x (±inf at ±1, NaN beyond);  dx = gy / (1 - x**2)",
                lambda xp, x: xp.arctanh(x), lambda x, y: 1 / (1 - x * x))
log2 = _smooth("log2", "y = log2 x;  dx = gy / (x ln 2)",
               lambda xp, x: xp.log2(x), lambda x, y: 1 / (x * LN2))
log10 = _smooth("log10", "y = log10 x;  dx = gy / (x ln 10)",
                lambda xp, x: xp.log10(x), lambda x, y: 1 / (x * LN10))
exp2 = _smooth("exp2", "y = 2**x;  dx = gy * y * ln 2",
               lambda xp, x: xp.exp2(x), lambda x, y: y * LN2)
rsqrt = _smooth("rsqrt", "y = 1 / sqrt(x);  dx = -gy * y**3 / 2",
                lambda xp, x: 1 / xp.sqrt(x), lambda x, y: -0.5 * y * y * y)
expm1 = _smooth("expm1", "y = e**x - 1 (accurate for tiny x);  dx = gy * (y + 1)",
                lambda xp, x: xp.expm1(x), lambda x, y: y + 1)
reciprocal = _smooth("reciprocal", "y = 1 / x;  dx = -gy * y**2",
                     lambda xp, x: 1 / x, lambda x, y: -(y * y))
deg2rad = _smooth("deg2rad", "y = x * pi / 180;  dx = gy * pi / 180",
                  lambda xp, x: x * (math.pi / 180), lambda x, y: math.pi / 180)
rad2deg = _smooth("rad2deg", "y = x * 180 / pi;  dx = gy * 180 / pi",
                  lambda xp, x: x * (180 / math.pi), lambda x, y: 180 / math.pi)
frac = _smooth("frac", "y = x - trunc(x), the sign of x kept;  dx = gy", lambda xp, x: x - xp.trunc(x),
               lambda x, y: 1, floats_only=True)


def _sinc_slope(x, y):
    # (cos(pi x) - y) / x is 0/0 at x = 0, where the slope is 0 (sinc is even); PyTorch writes 0 there too
    zero = Tensor(x.data == 0)
    with numpy.errstate(divide="ignore", invalid="ignore"):
        return M.where(zero, 0.0, (M.cos(math.pi * x) - y) / x)


sinc = _smooth("sinc", "y = sin(pi x) / (pi x), 1 at x = 0;  dx = gy * (cos(pi x) - y) / x, 0 at x = 0",
               lambda xp, x: xp.sinc(x), _sinc_slope)


class LogitFn(Function):
    """logit(input, eps=None): the log-odds, the inverse of sigmoid; with eps, x is first clamped into
    [eps, 1 - eps] (integer input becomes float32).

    Forward:  y = ln(z / (1 - z)), z = clamp(x, eps, 1 - eps) (z = x without eps)
    Backward: dx = gy / (x (1 - x)); with eps 0 outside [eps, 1 - eps], without eps NaN outside [0, 1] (PyTorch's)
    """

    def __init__(self, eps):
        self.eps = eps

    def forward(self, x):
        xp = backend.get_array_module(x)
        z = x if self.eps is None else xp.clip(x, self.eps, 1 - self.eps)
        with numpy.errstate(divide="ignore", invalid="ignore"):
            return xp.log(z / (1 - z)).astype(x.dtype, copy=False)

    def backward(self, gy):
        (x,) = self.inputs
        with numpy.errstate(divide="ignore", invalid="ignore"):  # |x|: -0.0 gives +inf like 0, as in PyTorch
            slope = gy / (M.abs(x) * (1 - x))
        lo, hi = (0.0, 1.0) if self.eps is None else (self.eps, 1 - self.eps)
        outside = Tensor((x.data < lo) | (x.data > hi))  # False at NaN: the NaN slope stays
        return M.where(outside, float("nan") if self.eps is None else 0.0, slope)


def logit(input, eps=None):
    return LogitFn(None if eps is None else float(eps))(_floating(input))


logit.__doc__ = LogitFn.__doc__


def square(input):
    """square(input): x times itself; integer input stays integer and bool becomes int64, as in PyTorch.

    Forward:  y = x**2
    Backward: dx = 2 x gy
    """
    x = _tensor(input)
    return M.pow(astype(x, numpy.int64) if x.dtype.kind == "b" else x, 2)


class NanToNumFn(Function):
    """nan_to_num(input, nan=0.0, posinf=None, neginf=None): NaN, +inf and -inf replaced by finite numbers (by
    default 0 and the dtype's largest and smallest); integer and bool input is returned unchanged.

    Forward:  y = x where x is finite, else nan / posinf / neginf
    Backward: dx = gy where x is finite, else 0
    """

    def __init__(self, nan, posinf, neginf):
        self.nan, self.posinf, self.neginf = nan, posinf, neginf

    def forward(self, x):
        return backend.get_array_module(x).nan_to_num(x, nan=self.nan, posinf=self.posinf, neginf=self.neginf)

    def backward(self, gy):
        x = self.inputs[0].data
        return gy * Tensor(backend.get_array_module(x).isfinite(x).astype(gy.dtype))


def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    x = _tensor(input)
    if x.dtype.kind not in "fc":
        return M.clone(x)
    return NanToNumFn(nan, posinf, neginf)(x)


nan_to_num.__doc__ = NanToNumFn.__doc__


def erf(input):
    """erf(input): the error function, elementwise (ops/special.py); integer input becomes float32.

    Forward:  y = erf x = 2/sqrt(pi) * integral_0^x e**(-t**2) dt
    Backward: dx = gy * 2/sqrt(pi) * e**(-x**2)
    """
    return Erf()(_floating(input))


def erfinv(input):
    """erfinv(input): the inverse error function, elementwise (±inf at ±1, NaN beyond; ops/special.py).

    Forward:  y = erfinv x, so erf(y) = x
    Backward: dx = gy * sqrt(pi)/2 * e**(y**2)
    """
    return Erfinv()(_floating(input))


arcsin, arccos, arctan, arcsinh, arccosh, arctanh = asin, acos, atan, asinh, acosh, atanh


# ---- piecewise constant: the derivative is 0 wherever it exists, and PyTorch returns 0 everywhere ----

class _Step(Function):
    """y = f(x), piecewise constant: dx = 0 (the derivative wherever it exists; PyTorch returns 0 everywhere)"""

    keeps_inputs = False

    def forward(self, x):
        return self.f(backend.get_array_module(x), x)

    def backward(self, gy):
        return Tensor(backend.get_array_module(gy.data).zeros(gy.shape, dtype=gy.dtype))


def _step(name, math, f):
    doc = _math_doc(name, math, "elementwise; integer input is returned unchanged (no gradient), as in PyTorch.")
    cls = type(name.capitalize() + "Fn", (_Step,), {"__doc__": doc, "f": staticmethod(f)})

    def op(input):
        x = _tensor(input)
        if x.dtype.kind not in "fc":  # integers are already whole; PyTorch returns them unchanged (sign: -1/0/1)
            if x.dtype.kind == "b" and name != "sign":
                raise NotImplementedError(f"{name} is not implemented for bool tensors, as in PyTorch")
            xp = backend.get_array_module(x.data)
            return Tensor(f(xp, x.data) if x.dtype.kind != "b" else x.data.copy())
        return cls()(x)
    op.__name__, op.__qualname__, op.__doc__ = name, name, doc
    return op


sign = _step("sign", "y = -1, 0 or 1 by the sign of x (NaN gives 0, as PyTorch);  dx = 0",
             lambda xp, x: xp.where(xp.isnan(x), 0, xp.sign(x)).astype(x.dtype, copy=False))
floor = _step("floor", "y = the largest integer <= x;  dx = 0", lambda xp, x: xp.floor(x))
ceil = _step("ceil", "y = the smallest integer >= x;  dx = 0", lambda xp, x: xp.ceil(x))
trunc = _step("trunc", "y = x rounded toward zero;  dx = 0", lambda xp, x: xp.trunc(x))
fix = trunc
sgn = sign  # PyTorch's sign for complex numbers too; on real tensors the same function
_round0 = _step("round", "y = x rounded to the nearest integer, halves to even;  dx = 0",
                lambda xp, x: xp.round(x))


class _RoundDecimals(_Step):
    """Rounding to d decimal places.

    Forward:  y = round(x * 10**d) / 10**d  (halves to even)
    Backward: dx = 0
    """

    def __init__(self, decimals):
        self.decimals = decimals

    def f(self, xp, x):
        return xp.round(x, self.decimals)


def round(input, decimals=0):
    """round(input, decimals=0): x rounded to `decimals` decimal places (negative: to tens, hundreds...), halves
    to even, as torch.round; decimals != 0 needs a floating point tensor.

    Forward:  y = round(x * 10**decimals) / 10**decimals
    Backward: dx = 0  (piecewise constant; PyTorch's zero gradient)
    """
    if decimals == 0:
        return _round0(input)
    x = _tensor(input)
    if x.dtype.kind not in "fc":
        raise TypeError(f"round(decimals={decimals}) needs a floating point tensor, got dtype {x.dtype}")
    return _RoundDecimals(int(decimals))(x)


# ---- float tests: bool results, outside the graph ----

def _test(name, what, f=None, on_integers=None):
    doc = _math_doc(name, f"y = [{what}];  not differentiable (a bool result carries no gradient)",
                    f"True where {what}; integer input is never NaN or infinite.")
    f = f or (lambda xp, x: getattr(xp, name)(x))

    def op(input):
        x = _tensor(input)
        xp = backend.get_array_module(x.data)
        if x.dtype.kind not in "fc":  # an integer is never NaN or infinite
            if on_integers is not None:
                return Tensor(on_integers(xp, x.data))
            return Tensor(xp.full(x.shape, name == "isfinite", dtype=bool))
        return Tensor(f(xp, x.data))
    op.__name__, op.__qualname__, op.__doc__ = name, name, doc
    return op


isnan = _test("isnan", "x is NaN")
isinf = _test("isinf", "x = +inf or x = -inf")
isfinite = _test("isfinite", "x is neither NaN nor infinite")
isposinf = _test("isposinf", "x = +inf", lambda xp, x: x == xp.inf)
isneginf = _test("isneginf", "x = -inf", lambda xp, x: x == -xp.inf)
signbit = _test("signbit", "the sign bit of x is set (-0.0 and -NaN included; an integer: x < 0)",
                lambda xp, x: xp.signbit(x), lambda xp, x: x < 0)

METHODS = {name: globals()[name] for name in __all__}
