"""PyTorch's other names for ops defined elsewhere (subtract = sub, greater = gt, ...), and the one-sided clamps.

An alias is the same function object as its op, so `help()` and README's op table show the op's math once, with
every name it goes by.
"""
from . import math as M
from .division import div
from ..errors import DTypeError

__all__ = ["subtract", "multiply", "divide", "negative", "absolute", "positive", "greater", "greater_equal", "less",
           "less_equal", "not_equal", "clamp_min", "clamp_max"]

subtract, multiply, divide, negative, absolute = M.sub, M.mul, div, M.neg, M.abs
greater, greater_equal, less, less_equal, not_equal = M.gt, M.ge, M.lt, M.le, M.ne


def positive(input):
    """positive(input): the input itself, as unary `+x` (refused for bool tensors, as in PyTorch).

    Forward:  y = x
    Backward: dx = gy
    """
    if input.dtype.kind == "b":
        raise DTypeError("positive: the `+` operator on a bool tensor is not supported, as in PyTorch")
    return input


def clamp_min(input, min):
    """clamp_min(input, min): x clipped from below (= clamp(input, min=min)); min a number or a tensor.

    Forward:  y = max(x, min)
    Backward: dx = gy where x >= min else 0
    """
    return M.clamp(input, min=min)


def clamp_max(input, max):
    """clamp_max(input, max): x clipped from above (= clamp(input, max=max)); max a number or a tensor.

    Forward:  y = min(x, max)
    Backward: dx = gy where x <= max else 0
    """
    return M.clamp(input, max=max)


METHODS = {name: globals()[name] for name in __all__}
INPLACE = ["subtract_", "multiply_", "divide_", "negative_", "absolute_", "clamp_min_", "clamp_max_"]
