"""Convolution: its three linear maps as Functions, and the one place that picks a kernel for them.

With x_pad the input zero-padded by p, stride s, dilation d and G groups (channel c in output channel o's group),
and g an upstream gradient:

    y  = conv(x, W)      y[n,o,p]  = b[o] + Σ_(c,i) x_pad[n, c, p·s + i·d] · W[o,c,i]
    z  = convT(g, W)     the adjoint of conv in x:  <conv(x, W), g> = <x, convT(g, W)>
    v  = gradW(x, g)     v[o,c,i]  = Σ_(n,p) g[n,o,p] · x_pad[n, c, p·s + i·d]   (the adjoint of conv in W)

(p and i multi-indices: (p,q) and (i,j) in 2-D.) The three maps close under differentiation, which makes
convolution differentiable to any order:

    y = conv(x, W):   dx = convT(gy, W),   dW = gradW(x, gy),   db = Σ_(n,p) gy
    z = convT(g, W):  dg = conv(gz, W),    dW = gradW(gz, g)
    v = gradW(x, g):  dx = convT(g, gv),   dg = conv(x, gv)

The kernels that compute them are elsewhere, chosen by `choose_route(geometry)`: im2col + GEMM in three layouts
(ops/conv_kernels.py), shifted GEMMs with no im2col for deep stride-1 convs on large maps (ops/conv_shift.py),
the same with the kernel columns stacked into one taller GEMM for few output channels (ops/conv_stack.py),
Winograd F(2×2, 3×3) for deep 3×3 convs (ops/conv_winograd.py), the
convolution theorem for small maps and large kernels (ops/conv_fft.py), tiles that do not overlap (kernel = stride:
ops/conv_patch.py), and the same im2col written once for any number of spatial dims (ops/convnd.py). The readable
twin of them all, a differentiable
Im2Col/Col2Im pair and a matmul, is ops/conv_reference.py: `scratchnet.use_kernels("reference")` runs on it.
"""
import contextlib
import functools
import math
from collections import namedtuple

import numpy

from .. import backend, kernel_mode
from ..autograd import Function
from . import parallel
from . import conv_fft, conv_kernels, conv_patch, conv_shift, conv_stack, conv_winograd, convnd, conv_reference

ConvCfg = namedtuple("ConvCfg", "stride padding dilation groups")   # tuples of one int per spatial dim, and an int
NdCfg = ConvCfg


class ConvFn(Function):
    """Convolution, the Function of F.conv1d/2d/3d and nn.Conv*d (the bias is optional).

    Forward:  y[n,o,p] = b[o] + Σ_(c,i) x_pad[n, c, p·s + i·d] · W[o,c,i]
    Backward: dx = convT(gy, W),  dW = gradW(x, gy),  db = Σ_(n,p) gy
    """

    def __init__(self, cfg, out=None):
        self.cfg, self.out = cfg, out

    def forward(self, x, w, b=None):
        geom = ConvGeometry(x.shape, w.shape, self.cfg, self.out)
        return choose_route(geom, backend.get_array_module(x)).forward(x, w, geom, b)

    def backward(self, gy):
        x, w = self.inputs[:2]
        needs = self.needs_input_grad
        grads = (ConvTransposeFn(self.cfg, x.shape)(gy, w) if needs[0] else None,
                 ConvWeightGradFn(self.cfg, w.shape)(x, gy) if needs[1] else None)
        if len(needs) == 3:
            grads += (_bias_grad(gy) if needs[2] else None,)
        return grads


def _bias_grad(gy):
    """db = Σ_(n,p) gy: each sample's contiguous rows summed first, much faster than a strided reduce (the size
    spelled out: an empty batch has none to infer)."""
    rows = gy.reshape(gy.shape[0], gy.shape[1], math.prod(gy.shape[2:]))
    return parallel.reduce_trailing("sum", rows, (2,)).sum(0)   # the rows' sums over the CPU's threads


class ConvTransposeFn(Function):
    """Transposed convolution, the adjoint of conv in its input (x_shape: that input's shape); the Function of
    F.conv_transpose1d/2d/3d and nn.ConvTranspose*d (the bias is optional).

    Forward:  z = convT(g, W) + b, <conv(x, W), g> = <x, convT(g, W)>;  z[n,c,p·s + i·d] += Σ_o W[o,c,i]·g[n,o,p]
    Backward: dg = conv(gz, W),  dW = gradW(gz, g),  db = Σ_(n,p) gz
    """

    def __init__(self, cfg, x_shape):
        self.cfg, self.x_shape = cfg, tuple(x_shape)

    def forward(self, g, w, b=None):
        geom = ConvGeometry(self.x_shape, w.shape, self.cfg, g.shape[2:])
        route = choose_route(geom, backend.get_array_module(g))
        if route is ROUTES["patch"]:   # adds the bias to each block of columns while it is in cache
            return conv_patch.backward_data(g, w, geom, b)
        z = route.backward_data(g, w, geom)
        if b is not None:              # in place: z is this call's own array
            z += b.reshape((1, -1) + (1,) * geom.ndim)
        return z

    def backward(self, gz):
        g, w = self.inputs[:2]
        needs = self.needs_input_grad
        grads = (ConvFn(self.cfg, g.shape[2:])(gz, w) if needs[0] else None,
                 ConvWeightGradFn(self.cfg, w.shape)(gz, g) if needs[1] else None)
        if len(needs) == 3:
            grads += (_bias_grad(gz) if needs[2] else None,)
        return grads


class ConvWeightGradFn(Function):
    """Conv's gradient in W, a Function so that it is differentiable again.

    Forward:  v[o,c,i] = gradW(x, g) = Σ_(n,p) g[n,o,p] · x_pad[n, c, p·s + i·d]
    Backward: dx = convT(g, gv),  dg = conv(x, gv)
    """

    def __init__(self, cfg, w_shape):
        self.cfg, self.w_shape = cfg, tuple(w_shape)

    def forward(self, x, g):
        geom = ConvGeometry(x.shape, self.w_shape, self.cfg, g.shape[2:])
        return choose_route(geom, backend.get_array_module(x)).backward_filter(x, g, geom)

    def backward(self, gv):
        x, g = self.inputs
        nx, ng = self.needs_input_grad
        return (ConvTransposeFn(self.cfg, x.shape)(g, gv) if nx else None,
                ConvFn(self.cfg, g.shape[2:])(x, gv) if ng else None)


def conv(x, w, b, cfg):
    """y = conv(x, W) + b on Tensors (b may be None): ConvFn, or its readable twin in reference mode."""
    if kernel_mode.reference():
        return conv_reference.conv(x, w, b, cfg)
    return ConvFn(cfg)(x, w) if b is None else ConvFn(cfg)(x, w, b)


def conv_transpose(g, w, cfg, x_shape, b=None):
    """z = convT(g, W) + b on Tensors (b may be None), x_shape the shape of the conv input it is the adjoint for:
    ConvTransposeFn, or its readable twin in reference mode."""
    if kernel_mode.reference():
        return conv_reference.conv_transpose(g, w, cfg, x_shape, b)
    return ConvTransposeFn(cfg, x_shape)(g, w) if b is None else ConvTransposeFn(cfg, x_shape)(g, w, b)


# A route: the three kernels (raw arrays) of one way to compute conv, convT and gradW.
#   forward(x, w, geom, bias) -> y;  backward_data(gy, w, geom) -> dx;  backward_filter(x, gy, geom) -> dW
Route = namedtuple("Route", "name forward backward_data backward_filter")


def _im2col(layout, data_layout=None):
    return Route("im2col" + ("" if layout == "nchw" else "_" + layout),
                 functools.partial(conv_kernels.forward, layout=layout),
                 functools.partial(conv_kernels.backward_data, layout=data_layout or layout),
                 functools.partial(conv_kernels.backward_filter, layout=data_layout or layout))


ROUTES = {r.name: r for r in (
    _im2col("nchw"), _im2col("wide"), _im2col("rows", data_layout="nchw"),
    _im2col("nchw", data_layout="wide")._replace(name="im2col_small"),
    Route("shift", conv_shift.forward, lambda gy, w, geom: conv_shift.backward_data(gy, w, geom, _forced == "shift"),
          lambda x, gy, geom: conv_shift.backward_filter(x, gy, geom, _forced == "shift")),
    Route("stack", conv_stack.forward, lambda gy, w, geom: conv_stack.backward_data(gy, w, geom, _forced == "stack"),
          lambda x, gy, geom: conv_stack.backward_filter(x, gy, geom, _forced == "stack")),
    Route("fft", conv_fft.forward, conv_fft.backward_data, conv_fft.backward_filter),
    Route("patch", conv_patch.forward, conv_patch.backward_data, conv_patch.backward_filter),
    Route("winograd", conv_winograd.forward, conv_winograd.backward_data, conv_winograd.backward_filter),
    Route("im2col_nd", convnd.forward, convnd.backward_data, convnd.backward_filter))}

_forced = None


def choose_route(geom, xp=numpy):
    """The kernel for this geometry on this array module: the FFT where it pays (ops/conv_fft.py, `worth_it`),
    non-overlapping tiles where kernel = stride (ops/conv_patch.py), Winograd F(2×2, 3×3) for deep 3×3 convs on large
    maps where it pays (ops/conv_winograd.py, `worth_it`), else im2col's wide layout on small maps (for a batch of
    maps under conv_kernels.SMALL_HW_BACKWARD pixels, stride 1, only in the backward: "im2col_small"), else
    on the CPU stacked shifted GEMMs for few output channels (ops/conv_stack.py, `worth_it`) or shifted GEMMs
    where they pay (ops/conv_shift.py, `worth_it`), else im2col in the layout that suits
    the batch (ops/conv_kernels.py); any other number of spatial dims than 2 takes the N-d im2col. Inside
    `force_route(name)`, that route wherever it applies."""
    forced = _forced
    if geom.ndim != 2 or forced == "im2col_nd":
        return ROUTES["im2col_nd"]
    if conv_fft.applies(geom) and (forced == "fft" or forced is None and conv_fft.worth_it(geom)):
        return ROUTES["fft"]
    if conv_patch.applies(geom) and forced in (None, "patch"):
        return ROUTES["patch"]
    if forced in ("im2col", "im2col_wide", "im2col_small") or forced == "im2col_rows" and xp is numpy:
        return ROUTES[forced]
    if conv_winograd.applies(geom) and (
            forced == "winograd" or forced is None and conv_winograd.worth_it(geom, xp)):
        return ROUTES["winograd"]
    if conv_kernels.wide_pays(geom) and forced != "shift":
        return ROUTES["im2col_wide"]
    if xp is numpy and forced is None and conv_shift.applies(geom) and conv_kernels.wide_backward_pays(geom):
        # a batch of small maps (the reference CNN's 11×11): per-sample GEMMs forward, the wide layout backward;
        # the shifted GEMMs' many small calls per sample ran no faster on two threads than on one
        return ROUTES["im2col_small"]
    if xp is numpy and conv_shift.applies(geom) and geom.k[1] > 1 and (
            forced == "stack" or forced is None and conv_stack.worth_it(geom, xp)):
        return ROUTES["stack"]
    if xp is numpy and conv_shift.applies(geom) and (
            forced == "shift" or forced is None and conv_shift.worth_it(geom, xp)):
        return ROUTES["shift"]
    return ROUTES["im2col_rows" if conv_kernels.rows_pay(geom, xp) else "im2col"]


@contextlib.contextmanager
def force_route(name):
    """Within the block every convolution takes route `name` (one of ROUTES) where that route applies: "fft" for
    stride-1, undilated, ungrouped 2-D convs whatever their size; "shift" for stride-1 ungrouped 2-D convs on NumPy
    arrays (and their input grad where it is a conv); "stack" likewise, kernels at least 2 wide; "winograd" for
    3×3 stride-1, undilated, ungrouped 2-D convs (and their input grad where it is a conv); "patch" for ungrouped 2-D convs with kernel = stride (not
    1×1), no padding or dilation; "im2col_rows" on NumPy arrays; the others always.
    Tests use it to compare the routes; the choice is process-wide, like a module constant."""
    global _forced
    if name not in ROUTES:
        raise ValueError(f"force_route: unknown route {name!r}, expected one of {sorted(ROUTES)}")
    old, _forced = _forced, name
    try:
        yield
    finally:
        _forced = old


def out_size(size, k, s, p, d):
    """PyTorch's floor rule: (size + 2p - d(k-1) - 1) // s + 1."""
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


class ConvGeometry:
    """The sizes of one convolution: batch n, channels c → o in `groups` groups (cg = c/groups, og = o/groups),
    kernel k, input size `size`, output size `out` (per spatial dim), stride, padding, dilation.

    `out` may be given smaller than the floor rule (the conv that is the adjoint of a transposed conv with
    output_padding leaves the extra rows out)."""

    def __init__(self, x_shape, w_shape, cfg, out=None):
        self.n, self.c, *size = x_shape
        self.o, self.cg, *k = w_shape
        self.size, self.k = tuple(size), tuple(k)
        self.stride, self.padding, self.dilation, self.groups = (tuple(cfg.stride), tuple(cfg.padding),
                                                                 tuple(cfg.dilation), cfg.groups)
        self.og = self.o // self.groups
        self.out = tuple(out) if out is not None else tuple(
            out_size(*a) for a in zip(self.size, self.k, self.stride, self.padding, self.dilation))

    ndim = property(lambda self: len(self.k))
    x_shape = property(lambda self: (self.n, self.c) + self.size)
    w_shape = property(lambda self: (self.o, self.cg) + self.k)
    y_shape = property(lambda self: (self.n, self.o) + self.out)

    def column_bytes(self, itemsize):
        """Bytes of one sample's im2col columns for one group: Cg·Πk × ΠO values."""
        return self.cg * math.prod(self.k) * math.prod(self.out) * itemsize

    def adjoint_as_conv(self):
        """For a stride-1, ungrouped, "same"-or-wider padded 2-D conv, the geometry of the full correlation that
        equals its adjoint in x (padding k−1−p, see conv_kernels.backward_data); None otherwise."""
        if self.ndim != 2 or self.stride != (1, 1) or self.dilation != (1, 1) or self.groups != 1:
            return None
        if not all(k - 1 >= p >= (k - 1) / 2 and o == s + 2 * p - k + 1
                   for k, p, s, o in zip(self.k, self.padding, self.size, self.out)):
            return None
        full = ConvCfg((1, 1), tuple(k - 1 - p for k, p in zip(self.k, self.padding)), (1, 1), 1)
        return ConvGeometry(self.y_shape, (self.c, self.o) + self.k, full)

    def __repr__(self):
        return (f"ConvGeometry(x={self.x_shape}, w={self.w_shape}, out={self.out}, stride={self.stride}, "
                f"padding={self.padding}, dilation={self.dilation}, groups={self.groups})")
