"""In-place ops (`x.add_(1)`, `x += y`, `x[i] = v`, `x.zero_()`) with PyTorch's semantics, on the out-of-place ops.

An in-place op computes its result out of place, writes it into the tensor's own array (so views of that memory
see the change) and bumps the version counter the tensor shares with its views. While the graph is recorded and
the result needs a gradient, the tensor takes the result's place in the graph (its grad_fn becomes the op's, as
PyTorch "rebases" it), so `y = x * 2; y.mul_(3)` differentiates to 6. A Function that saved the old values sees the
bump when backward reaches it and raises PyTorch's "modified by an inplace operation" error instead of using them.
"""
import inspect
import weakref

from .. import backend
from ..rng import random_normal, random_uniform
from ..autograd import Function
from ..errors import DTypeError, ShapeError
from ..tensor import Tensor, is_grad_enabled
from . import math as M, division as D, activation as A
from ..creation import tensor
from .getitem import getitem_raw, raw_index
from .shape import broadcast_to, sum_to
from .cast import astype, clone
from .promotion import constant, is_scalar, checked_scalar


class Overwrite(Function):
    """y = v, replacing x's values (fill_, zero_, copy_ of a constant, random init);  dx = 0 (x's old values no
    longer reach the output), dv = gy summed to v's shape"""

    keeps_inputs = False

    def forward(self, x, v):
        xp = backend.get_array_module(x)
        return xp.broadcast_to(xp.asarray(v, dtype=x.dtype), x.shape).copy()

    def backward(self, gy):
        return None, (sum_to(gy, self.inputs[1].shape) if self.needs_input_grad[1] else None)


class IndexPut(Function):
    """y = x with y[index] = v;  dx = gy with gy[index] = 0,  dv = gy[index] summed to v's shape"""

    keeps_inputs = False

    def __init__(self, index):
        self.index = index

    def forward(self, x, v):
        y = x.copy()
        y[self.index] = v
        return y

    def backward(self, gy):
        gx = gv = None
        if self.needs_input_grad[0]:
            gx = IndexPut(self.index)(gy, constant(0, gy.dtype))
        if self.needs_input_grad[1]:
            gv = sum_to(getitem_raw(gy, self.index), self.inputs[1].shape)
        return gx, gv


def _is_view(t):
    fn = t._ctx
    return fn is not None and fn.is_view


@backend.follows_device   # on a GPU, work on self's device (CuPy runs on the current one)
def source(self):
    """What an in-place op computes from: `self`, or, when the graph is recorded through self, a copy of its values
    that keeps self's place in the graph (the op's backward may need the old values, which the write destroys)."""
    if not (is_grad_enabled() and self.requires_grad and self._ctx is not None):
        return self
    old = Tensor(self.data.copy(), True)
    old._ctx, old._gen = self._ctx, self._gen
    return old


@backend.follows_device
def commit(self, result, what):
    """Write `result` into `self` in place, bump its version, and (when recorded) make it the result's graph node."""
    self._check_inplace(what)
    if result.dtype != self.dtype:
        if (self.dtype.kind in "biu" and result.dtype.kind in "fc") or (self.dtype.kind == "b" and
                                                                       result.dtype.kind != "b"):
            raise DTypeError(f"{what}: result type {result.dtype} can't be cast to the desired output type "
                             f"{self.dtype}")
        result = astype(result, self.dtype)
    if result.shape != self.shape:
        raise ShapeError(f"{what}: output with shape {self.shape} doesn't match the broadcast shape {result.shape}")
    record = is_grad_enabled() and (result.requires_grad or self.requires_grad)
    if record:
        if _is_view(self):
            raise RuntimeError(f"{what} on a view of a tensor that requires grad is not recorded by scratchnet's "
                               "autograd: apply it to the base tensor, or use the out-of-place op")
        if result is self or (result._ctx is not None and result._ctx is self._ctx):
            # the op was the identity (pow_(1)): a fresh node, so self's old one is not disturbed
            result = clone(result)
        elif result._ctx is None:  # a constant (fill_, zero_, random): the old values get no gradient
            result = Overwrite()(self, result)
    self.data[...] = result.data
    self._vc[0] += 1
    if record:
        fn = result._ctx
        self._ctx, self._gen, self.requires_grad = fn, result._gen, True
        fn._out = weakref.ref(self)
        if fn._out_vc is not None:
            fn._out_vc, fn._out_ver = self._vc, self._vc[0]
    return self


def _inplace(op, name):
    def method(self, *args, **kwargs):
        return commit(self, op(source(self), *args, **kwargs), f"{name}()")
    method.__name__, method.__qualname__ = name, f"Tensor.{name}"
    method.__doc__ = (f"x.{name}(...): {op.__name__} written back into x (x itself, returned);\nautograd records it "
                      f"as PyTorch does, so the gradient is the out-of-place op's.\n\n"
                      + inspect.cleandoc(op.__doc__ or ""))
    return method


def _add_(self, other, alpha=1):
    """x.add_(other, alpha=1) and `x += other`: other (times alpha) added into x in place, broadcast to x's shape.

    Forward:  x <- x + alpha * other
    Backward: dx_old = gy, dother = sum_to(alpha * gy, other.shape)
    """
    # Add and Sub never read their inputs' values (they keep data-less edges), so self needs no copy (`x += r`)
    return commit(self, M.add(self, other if alpha == 1 else M.mul(other, alpha)), "add_()")


def _sub_(self, other, alpha=1):
    """x.sub_(other, alpha=1) and `x -= other`: other (times alpha) subtracted from x in place.

    Forward:  x <- x - alpha * other
    Backward: dx_old = gy, dother = -sum_to(alpha * gy, other.shape)
    """
    return commit(self, M.sub(self, other if alpha == 1 else M.mul(other, alpha)), "sub_()")


def _constant_like(self, value):
    if isinstance(value, Tensor):
        return value
    if is_scalar(value):
        return constant(value, self.dtype)
    return tensor(value, dtype=self.dtype, device=self.device)


@backend.follows_device
def fill_(self, value):
    """x.fill_(value): every entry set to value (a number, or a one-element tensor that may require grad).

    Forward:  x <- value everywhere
    Backward: dx_old = 0, dvalue = sum(gy)
    """
    if isinstance(value, Tensor):
        return copy_(self, value)
    xp = backend.get_array_module(self.data)
    value = checked_scalar(value, self.dtype, "fill_")  # PyTorch checks, rather than wraps
    return commit(self, Tensor(xp.full(self.shape, value, dtype=self.dtype)), "fill_()")


def zero_(self):
    """x.zero_(): every entry set to 0, in place.

    Forward:  x <- 0
    Backward: dx_old = 0
    """
    return fill_(self, 0)


@backend.follows_device
def copy_(self, src):
    """x.copy_(src): src written into x, broadcast and cast to x's dtype and device.

    Forward:  x <- broadcast_to(src, x.shape)
    Backward: dx_old = 0, dsrc = sum_to(gy, src.shape) (cast back to src's dtype and device)
    """
    if not isinstance(src, Tensor):
        src = _constant_like(self, src)
    if src.device != self.device:
        src = M.to_device(src, self.device)
    try:
        backend.numpy.broadcast_shapes(src.shape, self.shape)
        if len(src.shape) > len(self.shape) or backend.numpy.broadcast_shapes(src.shape, self.shape) != self.shape:
            raise ValueError
    except ValueError:
        raise ShapeError(f"copy_(): source shape {src.shape} does not broadcast to {self.shape}") from None
    src = broadcast_to(astype(src, self.dtype), self.shape)
    return commit(self, clone(src) if src.requires_grad else Tensor(src.data), "copy_()")


@backend.follows_device
def uniform_(self, a=0.0, b=1.0):
    """x.uniform_(a=0.0, b=1.0): x filled with independent draws from U(a, b), in place (scratchnet's generator).

    Forward:  x <- u, u_i ~ U(a, b)
    Backward: dx_old = 0 (random fill, no gradient to a or b)
    """
    r = random_uniform(self.shape, self.dtype, self.device) * (b - a) + a
    return commit(self, Tensor(r.astype(self.dtype, copy=False)), "uniform_()")


@backend.follows_device
def normal_(self, mean=0.0, std=1.0):
    """x.normal_(mean=0.0, std=1.0): x filled with independent draws from N(mean, std**2), in place.

    Forward:  x <- z, z_i ~ N(mean, std**2)
    Backward: dx_old = 0 (random fill, no gradient to mean or std)
    """
    r = random_normal(self.shape, self.dtype, self.device) * std + mean
    return commit(self, Tensor(r.astype(self.dtype, copy=False)), "normal_()")


@backend.follows_device
def setitem(self, index, value):
    """x[index] = value, in place (PyTorch's index_put_), with getitem's index rules; value broadcasts.

    Forward:  x[index] <- value
    Backward: dx_old = gy with the places at index zeroed, dvalue = sum_to(gy[index], value.shape)
    """
    idx = raw_index(index, self.data)
    v = _constant_like(self, value)
    if is_grad_enabled() and (self.requires_grad or v.requires_grad):
        return commit(self, IndexPut(idx)(source(self), astype(v, self.dtype)), "setitem")
    self._check_inplace("setitem")
    self.data[idx] = v.data
    self._vc[0] += 1
    return self


def install(Tensor):
    unary = {"neg_": M.neg, "exp_": M.exp, "log_": M.log, "sqrt_": M.sqrt, "abs_": M.abs, "sin_": M.sin,
             "cos_": M.cos, "tanh_": M.tanh, "sigmoid_": M.sigmoid, "relu_": A.relu}
    binary = {"mul_": M.mul, "div_": D.div, "pow_": M.pow, "clamp_": M.clamp, "clip_": M.clamp,
              "floor_divide_": D.floor_divide, "remainder_": D.remainder, "fmod_": D.fmod,
              "__imul__": M.mul, "__itruediv__": M.true_divide, "__ipow__": M.pow, "__ifloordiv__": D.floor_divide,
              "__imod__": D.remainder}
    for name, op in {**unary, **binary}.items():
        setattr(Tensor, name, _inplace(op, name))
    Tensor.add_, Tensor.sub_ = _add_, _sub_
    Tensor.__iadd__, Tensor.__isub__ = _add_, _sub_
    Tensor.fill_, Tensor.zero_, Tensor.copy_ = fill_, zero_, copy_
    Tensor.uniform_, Tensor.normal_ = uniform_, normal_
    Tensor.__setitem__ = setitem
