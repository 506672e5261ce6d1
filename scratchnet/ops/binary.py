"""More elementwise functions of two tensors: copysign, atan2, logaddexp, lerp; and the comparisons that answer
"how close" or "are all true": isclose, allclose, all, any.

The differentiable ones broadcast and promote as `+` does (integers become the default float dtype), and return
their gradients summed back to each input's shape by the one `sum_to`.
"""
import builtins

import numpy

from .. import backend
from ..autograd import Function
from ..errors import DTypeError
from ..tensor import Tensor
from . import math as M, reduce as R
from .cast import astype
from .unary import _tensor

__all__ = ["copysign", "atan2", "arctan2", "logaddexp", "lerp", "isclose", "allclose", "all", "any"]


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
    Backward: da = sum_to(gy * y / a, a.shape)  (= ±1; 0 where a = 0, as PyTorch), db = 0
    """

    def forward(self, a, b):
        return backend.get_array_module(a).copysign(a, b)

    def grads(self, gy, a, b):
        if not self.needs_input_grad[0]:
            return None, None
        xp = backend.get_array_module(a.data)
        # the ratio y / a is the sign flip, +1 or -1: a constant, so it is read off the data, never differentiated
        flip = xp.where(a.data == 0, 0, xp.where(xp.signbit(a.data) == xp.signbit(b.data), 1, -1))
        return gy * Tensor(flip.astype(gy.dtype)), None


class Atan2(M._Binary):
    """atan2(input, other) (alias arctan2): the angle of the point (b, a) in (-pi, pi], broadcast; integer
    operands become float32.

    Forward:  y = atan2(a, b)
    Backward: da = sum_to(gy * b / (a**2 + b**2), a.shape), db = sum_to(-gy * a / (a**2 + b**2), b.shape)
    """

    def forward(self, a, b):
        return backend.get_array_module(a).arctan2(a, b)

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
        return backend.get_array_module(a).logaddexp(a, b)

    def grads(self, gy, a, b):
        n = self.needs_input_grad
        return (gy * M.sigmoid(a - b) if n[0] else None), (gy * M.sigmoid(b - a) if n[1] else None)


def copysign(input, other):
    return Copysign()(*_float_pair("copysign", input, other))


def atan2(input, other):
    return Atan2()(*_float_pair("atan2", input, other))


def logaddexp(input, other):
    if builtins.all(isinstance(t, Tensor) and t.dtype.kind in "biu" for t in (input, other)):
        raise NotImplementedError(f"logaddexp is not implemented for integer tensors ({input.dtype}, {other.dtype}), "
                                  "as in PyTorch: convert to float first")
    return Logaddexp()(*_float_pair("logaddexp", input, other))


copysign.__doc__, atan2.__doc__, logaddexp.__doc__ = Copysign.__doc__, Atan2.__doc__, Logaddexp.__doc__
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
