"""Rounded division and remainders, with PyTorch's semantics: div(rounding_mode="floor"/"trunc"), floor_divide,
remainder (the sign of the divisor, Python's %) and fmod (the sign of the dividend, C's fmod).

Integer division by zero raises, as in PyTorch (checked on the CPU only: on a GPU the check would need a sync).
"""
from .. import backend
from ..autograd import Function
from ..errors import ShapeError
from .math import _Binary, _check_broadcast, constant, true_divide
from .promotion import promote


class DivRounded(_Binary):
    """y = floor(a / b) or trunc(a / b);  da = db = 0 (a step function: PyTorch's gradient is 0 too)"""

    keeps_inputs = False

    def __init__(self, mode):
        self.mode = mode

    def forward(self, a, b):
        xp = backend.get_array_module(a)
        with backend.numpy.errstate(divide="ignore", invalid="ignore"):
            if self.mode == "floor":
                return xp.floor_divide(a, b)
            if a.dtype.kind in "fc":
                return xp.trunc(a / b)
            q = xp.floor_divide(a, b)  # integers: round toward zero = floor, plus one where the division was inexact
            return q + ((q < 0) & (q * b != a)).astype(q.dtype)

    def grads(self, gy, a, b):
        zero = gy * constant(0, gy.dtype)
        n = self.needs_input_grad
        return (zero if n[0] else None), (zero if n[1] else None)


class FloorDivide(DivRounded):
    """y = floor(a / b), as `a // b`;  no derivative (PyTorch raises when backward reaches floor_divide)"""

    def __init__(self):
        super().__init__("floor")

    def grads(self, gy, a, b):
        raise RuntimeError("derivative for floor_divide is not implemented (as in PyTorch); use "
                           "div(a, b, rounding_mode='floor'), whose gradient is 0")


class Remainder(_Binary):
    """y = a - b·floor(a / b) (the sign of b, Python's %);  da = gy,  db = -gy · floor(a / b)"""

    def forward(self, a, b):
        with backend.numpy.errstate(divide="ignore", invalid="ignore"):
            return backend.get_array_module(a).remainder(a, b)

    def grads(self, gy, a, b):
        n = self.needs_input_grad
        return (gy if n[0] else None), (-gy * DivRounded("floor")(a, b) if n[1] else None)


class Fmod(_Binary):
    """y = a - b·trunc(a / b) (the sign of a, C's fmod);  da = gy,  db = -gy · trunc(a / b)"""

    def forward(self, a, b):
        with backend.numpy.errstate(divide="ignore", invalid="ignore"):
            return backend.get_array_module(a).fmod(a, b)

    def grads(self, gy, a, b):
        n = self.needs_input_grad
        return (gy if n[0] else None), (-gy * DivRounded("trunc")(a, b) if n[1] else None)


def _apply(fn, name, a, b):
    a, b = promote(a, b)
    if a.shape != b.shape:
        _check_broadcast(name, a, b)
    if a.dtype.kind in "biu":
        xp = backend.get_array_module(b.data)
        if xp is backend.numpy and (b.data == 0).any():
            raise ShapeError(f"ZeroDivisionError: {name} of integers by zero (divisor of shape {b.shape})")
    return fn(a, b)


def div_rounded(a, b, rounding_mode):
    if rounding_mode not in ("floor", "trunc"):
        raise ShapeError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
                         f"{rounding_mode!r}")
    return _apply(DivRounded(rounding_mode), "div", a, b)


def div(a, b, rounding_mode=None):
    """div(input, other, rounding_mode=None): a / b, broadcast. True division (rounding_mode=None) of integers
    gives the default float dtype, as in PyTorch; rounding_mode="floor" or "trunc" rounds the quotient (see
    ops/division.py, whose gradient is 0).

    Forward:  y = a / b  (floor(a / b) or trunc(a / b) with a rounding_mode)
    Backward: da = sum_to(gy / b, a.shape), db = sum_to(-gy * a / b**2, b.shape); 0 with a rounding_mode
    """
    if rounding_mode is None:
        return true_divide(a, b)
    return div_rounded(a, b, rounding_mode)


def floor_divide(a, b):
    """floor_divide(input, other): `a // b`, broadcast, in the promoted dtype (int // int stays int); integer
    division by zero raises, as in PyTorch.

    Forward:  y = floor(a / b)
    Backward: not differentiable (PyTorch raises when backward reaches floor_divide; div(a, b,
              rounding_mode="floor") has gradient 0)
    """
    return _apply(FloorDivide(), "floor_divide", a, b)


def remainder(a, b):
    """remainder(input, other): `a % b`, Python's modulus (the result has the sign of b), broadcast.

    Forward:  y = a - b * floor(a / b)
    Backward: da = sum_to(gy, a.shape), db = sum_to(-gy * floor(a / b), b.shape)
    """
    return _apply(Remainder(), "remainder", a, b)


def fmod(a, b):
    """fmod(input, other): C's fmod (the result has the sign of a), broadcast.

    Forward:  y = a - b * trunc(a / b)
    Backward: da = sum_to(gy, a.shape), db = sum_to(-gy * trunc(a / b), b.shape)
    """
    return _apply(Fmod(), "fmod", a, b)
