"""Conversions that keep the gradient flowing: dtype casts, device moves and copies."""
import numpy

from .. import backend
from ..autograd import Function
from ..tensor import Tensor


class Cast(Function):
    """y = x converted to `dtype`;  dx = gy converted back to x's dtype"""

    keeps_inputs = False

    def __init__(self, dtype):
        self.dtype = dtype

    def forward(self, x):
        return x.astype(self.dtype)

    def backward(self, gy):
        return astype(gy, self.inputs[0].dtype)


@backend.follows_device
def astype(x, dtype):
    """x.astype(dtype): x converted to `dtype` (NumPy's name for Tensor.to(dtype)); a float result stays in the
    graph, an integer or bool one carries no gradient.

    Forward:  y = x converted to dtype
    Backward: dx = gy converted back to x's dtype  (none for an integer or bool result)
    """
    dtype = numpy.dtype(dtype)
    if x.dtype == dtype:
        return x
    if dtype.kind not in "fc" and x.requires_grad:
        return Tensor(x.data.astype(dtype))  # an integer result carries no gradient
    return Cast(dtype)(x)


class ToDevice(Function):
    """y = x copied to another device;  dx = gy copied back"""

    keeps_inputs = False

    def __init__(self, device):
        self.device = device

    def forward(self, x):
        return backend.to_device(x, self.device)

    def backward(self, gy):
        return to_device(gy, self.inputs[0].device)


def to_device(x, device):
    device = backend.device(device)
    return x if x.device == device else ToDevice(device)(x)


class Copy(Function):
    """y = a copy of x;  dx = gy"""

    keeps_inputs = False

    def forward(self, x):
        return x.copy()

    def backward(self, gy):
        return gy


def clone(x):
    """clone(input): a copy of x with its own memory, in the graph.

    Forward:  y = x  (copied)
    Backward: dx = gy
    """
    return Copy()(x)
