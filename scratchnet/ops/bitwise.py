"""Bitwise and shift operators on bool and integer tensors (`&`, `|`, `^`, `~`, `<<`, `>>`), promoted like `+`.

They carry no gradient (their inputs cannot require one); a float operand is refused as PyTorch refuses it.
"""
from .. import backend
from ..errors import DTypeError
from ..tensor import Tensor
from .math import _check_broadcast
from .promotion import promote


def _check_integral(name, x):
    if x.dtype.kind not in "biu":
        raise DTypeError(f"{name} is only defined for bool and integer tensors, got dtype {x.dtype}")


def _bitwise(ufunc_name, name, symbol, shift=False):
    def op(a, b):
        a, b = promote(a, b)
        _check_integral(name, a)
        if shift and a.dtype.kind == "b":
            raise DTypeError(f"{name} is not defined for bool tensors")
        if a.shape != b.shape:
            _check_broadcast(name, a, b)
        return Tensor(getattr(backend.get_array_module(a.data), ufunc_name)(a.data, b.data))
    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"""{name}(input, other): `a {symbol} b` on bool or integer tensors, broadcast, after PyTorch's type
    promotion (a float operand is refused{"; shifts refuse bool too" if shift else ""}).

    Forward:  y = a {symbol} b  (bitwise)
    Backward: not differentiable (integer and bool tensors carry no gradient)
    """
    return op


bitwise_and = _bitwise("bitwise_and", "bitwise_and", "&")
bitwise_or = _bitwise("bitwise_or", "bitwise_or", "|")
bitwise_xor = _bitwise("bitwise_xor", "bitwise_xor", "^")
bitwise_left_shift = _bitwise("left_shift", "bitwise_left_shift", "<<", shift=True)
bitwise_right_shift = _bitwise("right_shift", "bitwise_right_shift", ">>", shift=True)


def bitwise_not(x):
    """bitwise_not(input): `~x`, logical not for bool, two's-complement not for integers (a float is refused).

    Forward:  y = ~x  (for integers, -x - 1)
    Backward: not differentiable (integer and bool tensors carry no gradient)
    """
    _check_integral("bitwise_not", x)
    return Tensor(backend.get_array_module(x.data).invert(x.data))
