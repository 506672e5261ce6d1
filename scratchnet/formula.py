"""`formula`: how a backward's elementwise formula runs. Written once with Tensor operators, it runs as Tensor ops
while the graph is recorded (so it can be differentiated again) and on the raw arrays otherwise (speed, not math:
one NumPy/CuPy call per operator instead of an op and its bookkeeping). The engine itself is autograd.py.
"""
import numpy

from . import backend
from .grad_mode import _Mode
from .tensor import Tensor

ONE_PASS_SIZE = 2**19   # ops/parallel.PARALLEL_MIN_SIZE: larger host arrays take the Tensor ops, whose passes are
#                         split over the CPU's threads (one raw NumPy pass runs on one core)


def formula(f, *tensors):
    """f(*tensors): a backward's elementwise formula, written with Tensor operators (`gy * (1 - y * y)`). While the
    graph is recorded (create_graph=True) it runs as Tensor ops, so it can be differentiated again; in an ordinary
    backward it runs on the raw arrays, one NumPy/CuPy call per operator instead of an op and its bookkeeping. Both
    agree: arrays of one dtype with Python numbers promote as PyTorch does; any other mix takes the Tensor path."""
    arrays = [t.data for t in tensors]
    if not _Mode.grad_enabled and (type(arrays[0]) is not numpy.ndarray or arrays[0].size < ONE_PASS_SIZE):
        dtype = arrays[0].dtype
        if all([a.dtype == dtype for a in arrays]):
            if type(arrays[0]) is numpy.ndarray:
                y = f(*arrays)
            else:
                with backend.on(arrays[0]):  # CuPy computes on the current device: make it the arrays'
                    y = f(*arrays)
            if y.dtype == dtype:
                return Tensor(y)
    return f(*tensors)
