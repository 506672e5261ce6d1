"""Resizing (F.interpolate) of 1-D, 2-D and 3-D signals (N, C, L), (N, C, H, W), (N, C, D, H, W), one axis at a time.

Every mode is separable: an output index o along an axis of n_in -> n_out samples reads source position src(o).
    nearest:        src = floor(o · scale)               (scale = in/out, or 1/scale_factor when that was given)
    nearest-exact:  src = floor((o + 0.5) · scale)
    (bi/tri)linear: src = (o + 0.5) · scale − 0.5, clamped at 0, or o · (in − 1)/(out − 1) with align_corners;
                    y[o] = (1 − λ)·x[i] + λ·x[i + 1] with i = floor(src), λ = src − i.
    bicubic:        src as (bi)linear but not clamped; y[o] = Σ_{k=-1..2} w_k(λ)·x[clamp(i + k)], Keys' cubic
                    convolution with a = −0.75 (PyTorch's choice; Pillow and MATLAB use −0.5).
Nearest modes are a gather along the axis (backward: scatter-add); linear and cubic modes multiply the axis by an
(n_out, n_in) matrix A of tent or cubic weights (backward: Aᵀ), so both are differentiable to any order.
"""
import math

import numpy

from .. import backend
from ..errors import ShapeError
from ..tensor import Tensor
from .linalg import matmul
from .getitem import getitem
from .shape import transpose

_LINEAR = {"linear": 3, "bilinear": 4, "bicubic": 4, "trilinear": 5}
MODES = ("nearest", "nearest-exact") + tuple(_LINEAR)
CUBIC_A = -0.75


def _per_axis(value, k, name):
    if isinstance(value, (list, tuple)):
        if len(value) != k:
            raise ShapeError(f"interpolate: {name} has {len(value)} entries for {k} spatial dims")
        return tuple(value)
    return (value,) * k


def source_positions(n_in, n_out, scale, mode, align_corners):
    """src(o) for o = 0..n_out-1 (see the module docstring), as float64 on the host."""
    o = numpy.arange(n_out, dtype=numpy.float64)
    if mode == "nearest":
        return numpy.minimum(numpy.floor(o * scale), n_in - 1)
    if mode == "nearest-exact":
        return numpy.minimum(numpy.floor((o + 0.5) * scale), n_in - 1)
    if align_corners:
        return o * ((n_in - 1) / (n_out - 1)) if n_out > 1 else numpy.zeros(n_out)
    return numpy.maximum((o + 0.5) * scale - 0.5, 0.0)


def tent_matrix(n_in, n_out, scale, align_corners):
    """A (n_out, n_in): row o holds 1 − λ at i = floor(src(o)) and λ at i + 1 (both at n_in − 1 at the edge)."""
    src = source_positions(n_in, n_out, scale, "linear", align_corners)
    i0 = numpy.minimum(numpy.floor(src).astype(numpy.int64), n_in - 1)
    i1 = numpy.minimum(i0 + 1, n_in - 1)
    lam = src - i0
    m = numpy.zeros((n_out, n_in))
    numpy.add.at(m, (numpy.arange(n_out), i0), 1 - lam)
    numpy.add.at(m, (numpy.arange(n_out), i1), lam)
    return m


def cubic_matrix(n_in, n_out, scale, align_corners):
    """A (n_out, n_in) of bicubic weights: row o holds Keys' w_k(λ) at clamp(i + k), k = −1..2 (repeated indices at
    the edges add up, as PyTorch's border handling), with i = floor(src(o)), λ = src(o) − i."""
    o = numpy.arange(n_out, dtype=numpy.float64)
    src = (o * ((n_in - 1) / (n_out - 1)) if n_out > 1 else numpy.zeros(n_out)) if align_corners else \
        (o + 0.5) * scale - 0.5
    i = numpy.floor(src).astype(numpy.int64)
    t, a = src - i, CUBIC_A

    def near(d):   # |d| <= 1
        return ((a + 2) * d - (a + 3)) * d * d + 1

    def far(d):    # 1 < |d| < 2
        return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a
    m = numpy.zeros((n_out, n_in))
    for k, w in ((-1, far(t + 1)), (0, near(t)), (1, near(1 - t)), (2, far(2 - t))):
        numpy.add.at(m, (numpy.arange(n_out), numpy.clip(i + k, 0, n_in - 1)), w)
    return m


@backend.follows_device
def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
    recompute_scale_factor=None, antialias=False), as PyTorch's F.interpolate: (N, C, *spatial) with 1 to 3 spatial
    dims resized to `size` or by `scale_factor`; modes "nearest", "nearest-exact", "linear", "bilinear",
    "bicubic", "trilinear". Each axis maps o -> src(o) by PyTorch's coordinate rule (see the module docstring).

    Forward:  nearest: y[o] = x[floor(src(o))];  linear: y[o] = (1-λ)·x[i] + λ·x[i+1], i = floor(src(o)), per axis;
              bicubic: y[o] = Σ_k w_k(λ)·x[clamp(i+k)], k = -1..2 (Keys, a = -0.75)
    Backward: dx = the transposed map: gy scatter-added to x[i] (nearest), or with the same weights (linear, cubic)
    """
    k = input.ndim - 2
    if not 1 <= k <= 3:
        raise ShapeError(f"interpolate: expected a 3-D (N, C, L), 4-D (N, C, H, W) or 5-D (N, C, D, H, W) input, "
                         f"got shape {input.shape}")
    if mode not in MODES:
        raise ShapeError(f"interpolate: mode must be one of {', '.join(MODES)}, got {mode!r}")
    if mode in _LINEAR and _LINEAR[mode] != input.ndim:
        raise ShapeError(f"interpolate: got {input.ndim}D input, but {mode} mode needs {_LINEAR[mode]}D input")
    if align_corners is not None and mode not in _LINEAR:
        raise ShapeError("interpolate: align_corners option can only be set with the interpolating modes: "
                         "linear | bilinear | bicubic | trilinear")
    if antialias:
        raise ShapeError("interpolate: antialias=True is not supported")
    if (size is None) == (scale_factor is None):
        raise ShapeError("interpolate: give exactly one of size and scale_factor")
    n_in = input.shape[2:]
    if size is not None:
        n_out = tuple(int(s) for s in _per_axis(size, k, "size"))
        scales = tuple(i / o for i, o in zip(n_in, n_out))
    else:
        factors = tuple(float(f) for f in _per_axis(scale_factor, k, "scale_factor"))
        n_out = tuple(int(math.floor(i * f)) for i, f in zip(n_in, factors))
        scales = tuple(i / o for i, o in zip(n_in, n_out)) if recompute_scale_factor else \
            tuple(1 / f for f in factors)
    if min(n_out) <= 0:
        raise ShapeError(f"interpolate: output size {n_out} for input {input.shape} must be positive")
    xp = backend.get_array_module(input.data)
    y = input
    for axis, (i, o, s) in enumerate(zip(n_in, n_out, scales), start=2):
        if i == o and (s == 1 or (mode in _LINEAR and align_corners)):  # the identity
            continue
        if mode in _LINEAR:
            weights = cubic_matrix if mode == "bicubic" else tent_matrix
            a = Tensor(xp.asarray(weights(i, o, s, bool(align_corners)).T.astype(input.dtype)))
            y = transpose(matmul(transpose(y, axis, -1), a), axis, -1)
        else:
            idx = xp.asarray(source_positions(i, o, s, mode, align_corners).astype(numpy.int64))
            y = getitem(y, (slice(None),) * axis + (idx,))
    return y
