"""Hypothesis strategies for testing ops (used by scratchnet's own tests, reusable by yours): small shapes,
broadcastable shape pairs, and float64 arrays kept away from the kinks where a derivative does not exist.

Needs the `test` extra (hypothesis).
"""
import numpy
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from . import backend
from .tensor import Tensor


def shapes(min_dims=0, max_dims=3, min_side=1, max_side=4):
    """Small shapes, size-1 axes included on purpose (they are where broadcasting bugs hide)."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, min_side=1, max_side=4):
    """Tuples of shapes that broadcast together (one may have fewer axes or size-1 axes)."""
    return hnp.mutually_broadcastable_shapes(num_shapes=num_shapes, min_dims=min_dims, max_dims=max_dims,
                                             min_side=min_side, max_side=max_side).map(lambda r: r.input_shapes)


def _away(kinks, margin):
    def push(v):
        for k in kinks:
            if abs(v - k) < margin:
                return k + (margin if v >= k else -margin)
        return v
    return push


def arrays(shape, low=-2.0, high=2.0, kinks=(), margin=0.05, dtype=numpy.float64):
    """Arrays with entries in [low, high], none closer than `margin` to a kink (e.g. kinks=(0,) for relu/abs):
    central differences straddling a kink measure the average of two slopes, not the derivative."""
    elems = st.floats(low, high, allow_nan=False, allow_infinity=False, width=64).map(_away(kinks, margin))
    return hnp.arrays(dtype, shape, elements=elems)


def distinct_arrays(shape, spacing=0.1, dtype=numpy.float64):
    """Arrays whose entries all differ by at least `spacing` (max/min/sort are not differentiable at ties)."""
    n = int(numpy.prod(shape, dtype=numpy.int64))
    return st.permutations(list(range(n))).map(
        lambda p: (numpy.asarray(p, dtype=dtype).reshape(shape) - n / 2) * spacing)


def tensors(shape, requires_grad=True, device=None, **kw):
    """float64 leaf Tensors on `device` (default device if None) built from `arrays(shape, **kw)`."""
    return arrays(shape, **kw).map(
        lambda a: Tensor(backend.to_device(a, backend.device(device)), requires_grad))
