"""The error scratchnet raises for a shape or argument mismatch, catchable the way PyTorch's is.

PyTorch raises RuntimeError for most shape and argument mismatches (matmul, reshape, cat, conv); NumPy and Python
code raise ValueError. `ShapeError` is both, so `except RuntimeError` written around PyTorch code and
`except ValueError` written around NumPy code each catch it.
"""


class ShapeError(ValueError, RuntimeError):
    """A shape, dtype or argument that does not fit the op; the message names the op, the argument and the shapes."""


class DTypeError(TypeError, RuntimeError):
    """An op given a dtype it is not defined for (bitwise ops on floats); PyTorch raises a RuntimeError there."""


class EmptyReductionError(IndexError, ShapeError):
    """A reduction without an identity (max, min, argmax, ...) over an empty dim. PyTorch raises IndexError there,
    so this is one too, and a ShapeError (so RuntimeError and ValueError) like scratchnet's other shape errors."""


class ScalarOverflowError(OverflowError, RuntimeError):
    """A Python number that cannot stand for a value of the tensor's dtype: an int past 64 bits (PyTorch raises
    OverflowError, "int too big to convert") or, where PyTorch checks the conversion (where, clamp, pow, fill_,
    full), a value outside the dtype's range (RuntimeError there, "value cannot be converted to type ... without
    overflow"). Both, so either `except` catches it."""
