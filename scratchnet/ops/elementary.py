"""The elementary functions of one tensor, elementwise: neg, abs, exp, log, log1p, sqrt, sin, cos, tanh, sigmoid.

Integer and bool input becomes float32 first (except neg and abs), as in PyTorch; each backward is written with
Tensor ops, from the input x or the saved output y, so it is differentiable again. More of PyTorch's unary math
(tan, asin, erf, the rounding family, ...) is in ops/unary.py.
"""
import numpy

from .. import backend
from ..autograd import Function
from ..formula import formula
from ..tensor import Tensor, tensor
from . import parallel
from .cast import astype


class Neg(Function):
    """The elementwise negation.

    Forward:  y = -x
    Backward: dx = -gy
    """

    keeps_inputs = False

    def forward(self, x):
        return parallel.negative(x)   # -x, over the CPU's threads when large

    def backward(self, gy):
        return -gy


class Exp(Function):
    """The elementwise exponential (integer input becomes float32, as PyTorch).

    Forward:  y = e**x
    Backward: dx = gy * y
    """

    keeps_inputs = False

    def forward(self, x):
        y = backend.get_array_module(x).exp(x)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return formula(lambda gy, y: gy * y, gy, y)


class Log(Function):
    """The elementwise natural logarithm (-inf at 0, NaN below; integer input becomes float32).

    Forward:  y = ln x
    Backward: dx = gy / x
    """

    def forward(self, x):
        return backend.get_array_module(x).log(x)

    def backward(self, gy):
        return formula(lambda gy, x: gy / x, gy, self.inputs[0])


class Log1p(Function):
    """ln(1 + x), accurate for tiny x.

    Forward:  y = ln(1 + x)
    Backward: dx = gy / (1 + x)
    """

    def forward(self, x):
        return backend.get_array_module(x).log1p(x)

    def backward(self, gy):
        return formula(lambda gy, x: gy / (1 + x), gy, self.inputs[0])


class Sqrt(Function):
    """The elementwise square root (NaN below 0; integer input becomes float32).

    Forward:  y = sqrt(x)
    Backward: dx = gy / (2 y)
    """

    keeps_inputs = False

    def forward(self, x):
        y = backend.get_array_module(x).sqrt(x)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return formula(lambda gy, y: gy / (2 * y), gy, y)


class Abs(Function):
    """The elementwise absolute value.

    Forward:  y = |x|
    Backward: dx = gy * sign(x)  (0 at x = 0, as PyTorch)
    """

    def forward(self, x):
        return backend.get_array_module(x).abs(x)

    def backward(self, gy):
        x = self.inputs[0].data
        return gy * Tensor(backend.get_array_module(x).sign(x))


class Sin(Function):
    """The elementwise sine (radians).

    Forward:  y = sin x
    Backward: dx = gy * cos x
    """

    def forward(self, x):
        return backend.get_array_module(x).sin(x)

    def backward(self, gy):
        return gy * cos(self.inputs[0])


class Cos(Function):
    """The elementwise cosine (radians).

    Forward:  y = cos x
    Backward: dx = -gy * sin x
    """

    def forward(self, x):
        return backend.get_array_module(x).cos(x)

    def backward(self, gy):
        return -gy * sin(self.inputs[0])


class TanhFn(Function):
    """The elementwise hyperbolic tangent (the Function; nn.Tanh is the Module).

    Forward:  y = tanh x
    Backward: dx = gy * (1 - y**2)
    """

    keeps_inputs = False

    def forward(self, x):
        y = backend.get_array_module(x).tanh(x)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return formula(lambda gy, y: gy * (1 - y * y), gy, y)


class SigmoidFn(Function):
    """The logistic function (the Function; nn.Sigmoid is the Module).

    Forward:  y = 1 / (1 + e**-x)
    Backward: dx = gy * y * (1 - y)

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
        return formula(lambda gy, y: gy * y * (1 - y), gy, y)


def _float_unary(cls):
    def op(x):
        if not isinstance(x, Tensor):
            x = tensor(x)
        if x.data.dtype.kind not in "fc":
            x = astype(x, numpy.float32)
        return cls()(x)
    op.__name__ = op.__qualname__ = cls.__name__.lower().removesuffix("fn")
    op.__doc__ = cls.__doc__
    return op


exp, log, log1p, sqrt, sin, cos, tanh, sigmoid = (
    _float_unary(c) for c in (Exp, Log, Log1p, Sqrt, Sin, Cos, TanhFn, SigmoidFn))


def neg(x):
    """neg(input): the elementwise negation.

    Forward:  y = -x
    Backward: dx = -gy
    """
    return Neg()(x)


def abs(x):
    """abs(input): the elementwise absolute value.

    Forward:  y = |x|
    Backward: dx = gy * sign(x)  (0 at x = 0, as PyTorch)
    """
    return Abs()(x)
