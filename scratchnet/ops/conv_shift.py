"""Stride-1 2-D convolution as a few shifted GEMMs on the flattened padded input, with no im2col: one route of
ops/conv.py (`choose_route`), for convs with many channels (VGG, the U-Net). Its readable twin is im2col
(ops/conv_reference.py).

Flatten each padded input channel row after row, Wp values a row: x_pad[c, h, w] = xf[c, h·Wp + w]. An output place
(p, q) read as t = p·Wp + q ("wide" output rows of Wp places, the last Wp − OW of them thrown away) reads

    y[o, t] = Σ_(c,i,j) W[o,c,i,j] · xf[c, t + i·d·Wp + j·d]

so for one kernel offset (i, j) the (C × T) matrix it multiplies is xf shifted by i·d·Wp + j·d: a plain strided
view that BLAS takes as it is. Stacking the kh row offsets (a copy of kh shifted slices, rows (c, i)) turns the kh·kw
GEMMs of depth C into kw GEMMs of depth kh·C over views of that stack:

    y = Σ_j  W_j (O × C·kh) @ X3[:, j·d : j·d + T],     X3[(c,i), t] = xf[c, t + i·d·Wp],   W_j[o,(c,i)] = W[o,c,i,j]
    dW_j = gy_wide (O × T) @ X3[:, j·d : j·d + T]ᵀ        (gy_wide: gy with zeros in the thrown-away places)

im2col copies kh·kw values per input value; this copies kh, and its GEMMs are as deep (C·kh: 1,536 at 512
channels). The wide rows cost (kw − 1)·d extra columns per row (12% on a 16-wide map with a 3×3 kernel, 2% at 128).
The input grad of a "same" conv is a conv of gy (ops/conv_kernels.py `backward_data`), so it takes this route too.
The constants below were measured; the numbers are in benchmarks/README.md ("Convolution routes").
"""
import threading

import numpy

from .. import backend
from . import conv_kernels

# Rows of output are processed in bands whose stacked input (C·kh × band) stays about this size, so that it is
# still in cache for the kw GEMMs that read it.
BAND_BYTES = 2 * 2**20
# Below this GEMM depth (C·kh) BLAS runs far from its peak and im2col's deeper GEMM (C·kh·kw) does better.
MIN_DEPTH = 96
# ... and below this many output channels (the GEMMs' rows): the input grad of a 3-channel image's conv is col2im's.
MIN_ROWS = 32
MAX_WEIGHT_SHARE = 0.5


def applies(geom):
    """Whether this route can compute the conv: 2-D, stride 1, one group, the output the floor rule's size."""
    return geom.ndim == 2 and geom.stride == (1, 1) and geom.groups == 1 and geom.out == _floor_out(geom)


def worth_it(geom, xp):
    """On the CPU, for convs deep enough per kernel row that their GEMMs run near BLAS's peak, whose wide rows
    waste at most a quarter of the work, on maps large enough that the one copy of W this route makes (O·C·kh·kw
    values, j outermost) is small beside the im2col copies it saves (C·kh·kw·OH·OW): at most MAX_WEIGHT_SHARE of
    them. VGG's 512-channel layers on 16×16 maps stay on im2col."""
    (kh, kw), dw = geom.k, geom.dilation[1]
    wp = geom.size[1] + 2 * geom.padding[1]
    return (xp is numpy and applies(geom) and geom.cg * kh >= MIN_DEPTH and geom.o >= MIN_ROWS and kw > 1
            and (kw - 1) * dw * 4 <= wp and geom.o <= MAX_WEIGHT_SHARE * geom.n * geom.out[0] * geom.out[1])


def _floor_out(geom):
    return tuple(s + 2 * p - d * (k - 1) for s, p, d, k in zip(geom.size, geom.padding, geom.dilation, geom.k))


def _padded_flat(xp, x, geom):
    """x zero-padded, (N, C, Hp·Wp + (kw − 1)·d): the tail lets the last wide row's shifted reads stay in bounds."""
    (ph, pw), (h, w), (kw, dw) = geom.padding, geom.size, (geom.k[1], geom.dilation[1])
    n, c = x.shape[:2]
    hp, wp = h + 2 * ph, w + 2 * pw
    flat = xp.zeros((n, c, hp * wp + (kw - 1) * dw), dtype=x.dtype)
    flat[:, :, :hp * wp].reshape(n, c, hp, wp)[:, :, ph:ph + h, pw:pw + w] = x
    return flat, wp


def _bands(geom, wp, itemsize):
    """Output rows per band: its stacked input (C·kh rows of band·Wp values) near BAND_BYTES."""
    per_row = geom.c * geom.k[0] * wp * itemsize
    return max(1, min(geom.out[0], BAND_BYTES // max(per_row, 1)))


def _stack(xp, flat_n, a, b, wp, geom, buf):
    """X3 for output rows [a, b) of one sample: rows (c, i) = the sample's flat channels from row a + i·d on,
    (b − a)·Wp + (kw − 1)·d values each, copied into buf (C, kh, length)."""
    kh, dh = geom.k[0], geom.dilation[0]
    length = (b - a) * wp + (geom.k[1] - 1) * geom.dilation[1]
    out = buf[:, :, :length]
    for i in range(kh):
        start = (a + i * dh) * wp
        out[:, i] = flat_n[:, start:start + length]
    return out.reshape(geom.c * kh, length)


def _run(xp, geom, band, body):
    """body(part, n, a, b) for every sample n and band [a, b) of output rows, split across threads over the batch,
    or over the rows when the batch is smaller than the thread count; `part` names the thread's share (its first
    sample or row), the same on every run."""
    oh, threads = geom.out[0], backend.num_threads()
    if geom.n >= threads:
        def share(n0, n1):
            for n in range(n0, n1):
                for a, b in conv_kernels.even_blocks(0, oh, band):
                    body(n0, n, a, b)
        backend.over_batch(xp, geom.n, share, min_items=1)
        return

    def rows(r0, r1):
        for n in range(geom.n):
            for a, b in conv_kernels.even_blocks(r0, r1, band):
                body(r0, n, a, b)
    backend.parallel_for(oh, rows, min_items=1)


def forward(x, w, geom, bias=None):
    """y = Σ_j W_j @ X3 shifted by j·d (W_j[o, (c, i)] = W[o, c, i, j]: one copy of W with j outermost)."""
    kw = geom.k[1]
    wj = backend.get_array_module(w).ascontiguousarray(w.transpose(3, 0, 1, 2)).reshape(kw, geom.o, -1)
    return _shifted(x, wj, geom, bias)


def backward_data(gy, w, geom, always=False):
    """dx = convT(gy, W). For a "same" conv it is the conv of gy with the flipped kernel (see
    conv_kernels.backward_data), taken on this route where it pays (`always`: wherever it applies):
    W̃_j[c, (o, i)] = W[o, c, kh−1−i, kw−1−j], made as the transpose of a copy with c innermost (copying W with o and
    c swapped is 3x slower). Else col2im."""
    xp = backend.get_array_module(gy)
    flipped = geom.adjoint_as_conv()
    if flipped is None or not (applies(flipped) if always else
                               worth_it(flipped, xp) and conv_kernels.adjoint_conv_pays(geom)):
        wide = not always and conv_kernels.wide_backward_pays(geom)
        return conv_kernels.backward_data(gy, w, geom, layout="wide" if wide else "nchw")
    kw = geom.k[1]
    w_oic = xp.ascontiguousarray(w.transpose(3, 0, 2, 1)[::-1, :, ::-1]).reshape(kw, -1, geom.c)  # [j, (o, i), c]
    return _shifted(gy, w_oic.transpose(0, 2, 1), flipped)


def _shifted(x, wj, geom, bias=None):
    """y = Σ_j wj[j] @ X3 shifted by j·d, per sample and band of rows; the wide rows' extra places dropped on the way
    out, the bias added while the band is in cache."""
    xp = backend.get_array_module(x)
    (kh, kw), ow, dw = geom.k, geom.out[1], geom.dilation[1]
    flat, wp = _padded_flat(xp, x, geom)
    y = xp.empty(geom.y_shape, dtype=x.dtype)
    band = _bands(geom, wp, x.itemsize)
    local = _Scratch(xp, x.dtype)

    def body(part, n, a, b):
        bufs = local.get((geom.c, kh, band * wp + (kw - 1) * dw), (2, geom.o * band * wp))
        x3 = _stack(xp, flat[n], a, b, wp, geom, bufs[0])
        t = (b - a) * wp
        acc, tmp = (bufs[1][k][:geom.o * t].reshape(geom.o, t) for k in (0, 1))
        xp.matmul(wj[0], x3[:, :t], out=acc)
        for j in range(1, kw):
            xp.matmul(wj[j], x3[:, j * dw:j * dw + t], out=tmp)
            acc += tmp
        rows = acc.reshape(geom.o, b - a, wp)[:, :, :ow]
        if bias is not None:
            xp.add(rows, bias[:, None, None], out=y[n, :, a:b])
        else:
            y[n, :, a:b] = rows
    _run(xp, geom, band, body)
    return y


def backward_filter(x, gy, geom, always=False):
    """dW_j = Σ_(n, bands) gy_wide @ X3 shifted by j·d, transposed; one sum per thread, added in a fixed order.
    A batch of small maps goes to im2col's wide layout instead (conv_kernels.wide_backward_pays), unless `always`."""
    xp = backend.get_array_module(x)
    if not always and conv_kernels.wide_backward_pays(geom):
        return conv_kernels.backward_filter(x, gy, geom, layout="wide")
    (kh, kw), (oh, ow), dw = geom.k, geom.out, geom.dilation[1]
    flat, wp = _padded_flat(xp, x, geom)
    band = _bands(geom, wp, x.itemsize)
    local = _Scratch(xp, x.dtype)
    sums = {}

    def body(part, n, a, b):
        bufs = local.get((geom.c, kh, band * wp + (kw - 1) * dw), (geom.o * band * wp,))
        x3 = _stack(xp, flat[n], a, b, wp, geom, bufs[0])
        t = (b - a) * wp
        g = bufs[1].reshape(-1)[:t * geom.o].reshape(geom.o, b - a, wp)
        g[:, :, :ow] = gy[n, :, a:b]
        g[:, :, ow:] = 0
        g = g.reshape(geom.o, t)
        acc = sums.get(part)
        if acc is None:
            acc = sums[part] = xp.zeros((kw, geom.o, geom.c * kh), dtype=x.dtype)
        for j in range(kw):
            acc[j] += conv_kernels.weight_product(xp, g, x3[:, j * dw:j * dw + t])
    _run(xp, geom, band, body)
    parts = [sums[k] for k in sorted(sums)]  # a fixed order, so the sum is the same on every run
    if not parts:   # an empty batch
        return xp.zeros(geom.w_shape, dtype=x.dtype)
    total = parts[0]
    for p in parts[1:]:
        total += p
    # (kw, O, C, kh) -> (O, C, kh, kw)
    return xp.ascontiguousarray(total.reshape(kw, geom.o, geom.c, kh).transpose(1, 2, 3, 0))


class _Scratch:
    """Per-thread reusable buffers of given shapes (the band buffers are rewritten for every band)."""

    def __init__(self, xp, dtype):
        self.xp, self.dtype, self.local = xp, dtype, threading.local()

    def get(self, *shapes):
        bufs = getattr(self.local, "bufs", None)
        if bufs is None:
            bufs = self.local.bufs = [self.xp.empty(s, dtype=self.dtype) for s in shapes]
        return bufs
