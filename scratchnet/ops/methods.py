"""Tensor's operators and methods (`a + b`, `x.sum(1)`, `x[idx]`), each a thin name over a function of ops/.

Kept apart from tensor.py so that the engine reads on one screen and the op families stay the place to learn from.
"""
import functools
import inspect

import numpy

from .. import backend
from ..errors import ShapeError
from ..tensor import Tensor
from . import math as M, reduce as R, shape as S, linalg as L, activation as A, division as D, bitwise as B
from . import unary, binary, scan, sort, index, layout, diag, einsum, stats, aliases, inplace as I

BREADTH = (unary, binary, scan, sort, index, layout, diag, einsum, stats, aliases)  # families with a METHODS table
# x.floor_(), x.masked_fill_(m, v), ...: the out-of-place op written back into x (inplace.commit rebases the graph)
BREADTH_INPLACE = [f"{n}_" for n in unary.__all__ if n not in unary.TESTS] + [
    "copysign_", "atan2_", "arctan2_", "xlogy_", "hypot_", "ldexp_", "heaviside_", "lerp_", "cumsum_", "cumprod_", "scatter_", "scatter_add_", "scatter_reduce_",
    "masked_fill_", "tril_", "triu_"] + aliases.INPLACE


def _rev(f):
    """`other OP self` as a method of self (Python's reflected operators), with f's docstring."""
    @functools.wraps(f)
    def reflected(self, other):
        return f(other, self)
    reflected.__doc__ = f"The reflected operator: {f.__name__}(other, self).\n\n" + inspect.cleandoc(f.__doc__)
    return reflected


def _sizes_method(f):
    """f(self, *sizes) as a method taking sizes as arguments or one tuple (`x.view(2, 3)`, `x.view((2, 3))`)."""
    @functools.wraps(f)
    def method(self, *sizes):
        return f(self, *sizes)
    return method


def _pos(self):
    """`+x`: x itself.

    Forward:  y = x
    Backward: dx = gy
    """
    return self


def expand_as(self, other):
    """x.expand_as(other): x broadcast to other's shape (a view).

    Forward:  y = broadcast_to(x, other.shape)
    Backward: dx = sum_to(gy, x.shape)
    """
    return S.broadcast_to(self, other.shape)


def view_as(self, other):
    """x.view_as(other): x reshaped to other's shape.

    Forward:  y = reshape(x, other.shape)
    Backward: dx = reshape(gy, x.shape)
    """
    return S.reshape(self, other.shape)


def contiguous(self):
    """x.contiguous(): x itself (PyTorch copies a strided view into one block; the arrays here are used as they
    are, and every op accepts a strided one).

    Forward:  y = x
    Backward: dx = gy
    """
    return self


def t(self):
    """x.t(): a matrix transposed; 0-D and 1-D tensors are returned as they are, as in PyTorch.

    Forward:  y[j, i] = x[i, j]
    Backward: dx = gy.t()
    """
    return S.transpose(self, 0, 1) if self.ndim == 2 else self


def _all_axes_reversed(self):
    """x.T: every axis reversed (for a matrix, the transpose).

    Forward:  y = permute(x, ndim-1, ..., 1, 0)
    Backward: dx = gy.T
    """
    return S.permute(self, *reversed(range(self.ndim)))


def _matrix_transpose(self):
    """x.mT: the last two axes swapped (a batch of matrices transposed).

    Forward:  y[..., j, i] = x[..., i, j]
    Backward: dx = gy.mT
    """
    return S.transpose(self, -2, -1)


def _dtype_argument(a):
    """A dtype given to .to(), or a clear error for something that is neither a device nor a dtype."""
    try:
        return numpy.dtype(a)
    except TypeError:
        raise ShapeError(f"to: {a!r} is neither a device ('cpu', 'cuda', 'cuda:N') nor a dtype (e.g. 'float32', "
                         f"scratchnet.float64)") from None


def to(self, *args, dtype=None, device=None):
    """x.to(device), x.to(dtype), x.to(other) (other's device and dtype), x.to(device, dtype): x cast and moved,
    or x itself when nothing changes.

    Forward:  y = x converted to dtype on device
    Backward: dx = gy converted back to x's dtype and moved back to x's device
    """
    for a in args:
        if isinstance(a, Tensor):
            device, dtype = a.device, a.dtype
        elif isinstance(a, backend.Device) or (isinstance(a, str) and a.split(":")[0] in ("cpu", "cuda")):
            device = a
        else:
            dtype = _dtype_argument(a)
    out = self
    if dtype is not None and numpy.dtype(dtype) != self.dtype:
        out = M.astype(out, dtype)
    if device is not None and backend.device(device) != self.device:
        out = M.to_device(out, device)
    return out


def install():
    ops = {
        "__add__": M.add, "__radd__": _rev(M.add), "__sub__": M.sub, "__rsub__": _rev(M.sub),
        "__mul__": M.mul, "__rmul__": _rev(M.mul), "__truediv__": M.true_divide, "__rtruediv__": _rev(M.true_divide),
        "__pow__": M.pow, "__rpow__": _rev(M.pow), "__matmul__": L.matmul, "__rmatmul__": _rev(L.matmul),
        "__neg__": M.neg, "__pos__": _pos, "__abs__": M.abs,
        "__eq__": M.eq, "__ne__": M.ne, "__lt__": M.lt, "__le__": M.le, "__gt__": M.gt, "__ge__": M.ge,
        "__getitem__": S.getitem, "to": to,
        "__floordiv__": D.floor_divide, "__rfloordiv__": _rev(D.floor_divide),
        "__mod__": D.remainder, "__rmod__": _rev(D.remainder),
        "__invert__": B.bitwise_not, "__and__": B.bitwise_and, "__rand__": _rev(B.bitwise_and),
        "__or__": B.bitwise_or, "__ror__": _rev(B.bitwise_or),
        "__xor__": B.bitwise_xor, "__rxor__": _rev(B.bitwise_xor),
        "__lshift__": B.bitwise_left_shift, "__rlshift__": _rev(B.bitwise_left_shift),
        "__rshift__": B.bitwise_right_shift, "__rrshift__": _rev(B.bitwise_right_shift),
        "true_divide": M.true_divide, "floor_divide": D.floor_divide, "remainder": D.remainder, "fmod": D.fmod,
        "bitwise_and": B.bitwise_and, "bitwise_or": B.bitwise_or, "bitwise_xor": B.bitwise_xor,
        "bitwise_not": B.bitwise_not, "bitwise_left_shift": B.bitwise_left_shift,
        "bitwise_right_shift": B.bitwise_right_shift,
        "add": M.add, "sub": M.sub, "mul": M.mul, "div": D.div, "pow": M.pow, "matmul": L.matmul,
        "neg": M.neg, "exp": M.exp, "log": M.log, "sqrt": M.sqrt, "abs": M.abs, "sin": M.sin, "cos": M.cos,
        "tanh": M.tanh, "sigmoid": M.sigmoid, "relu": A.relu, "leaky_relu": A.leaky_relu,
        "softmax": A.softmax, "log_softmax": A.log_softmax,
        "clamp": M.clamp, "clip": M.clamp, "maximum": M.maximum, "minimum": M.minimum,
        "eq": M.eq, "ne": M.ne, "lt": M.lt, "le": M.le, "gt": M.gt, "ge": M.ge,
        "astype": M.astype, "clone": M.clone,
        "sum": R.sum, "mean": R.mean, "var": R.var, "std": R.std, "max": R.max, "min": R.min,
        "amax": R.amax, "amin": R.amin,
        "argmax": R.argmax, "argmin": R.argmin, "logsumexp": R.logsumexp, "prod": R.prod,
        "reshape": _sizes_method(S.reshape), "view": _sizes_method(S.reshape), "flatten": S.flatten,
        "squeeze": S.squeeze, "unsqueeze": S.unsqueeze, "transpose": S.transpose,
        "permute": _sizes_method(S.permute), "expand": _sizes_method(S.expand),
        "expand_as": expand_as,
        "broadcast_to": S.broadcast_to, "sum_to": S.sum_to, "repeat": _sizes_method(S.repeat),
        "split": S.split, "chunk": S.chunk,
        "view_as": view_as, "contiguous": contiguous, "t": t,
        "T": property(_all_axes_reversed), "mT": property(_matrix_transpose),
    }
    for family in BREADTH:
        ops.update(family.METHODS)
    for name, f in ops.items():
        setattr(Tensor, name, f)
    I.install(Tensor)
    for name in BREADTH_INPLACE:
        setattr(Tensor, name, I._inplace(ops[name[:-1]], name))
