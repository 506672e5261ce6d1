"""Stride-1 2-D convolution with few output channels on large maps (the U-Net's 16- and 32-channel layers on 64×64
and 32×32): shifted GEMMs as in ops/conv_shift.py, with the kw kernel columns stacked into one taller GEMM. One
route of ops/conv.py (`choose_route`); its readable twin is im2col (ops/conv_reference.py).

conv_shift.py's notation: xf the padded input flattened row after row (Wp values a row), X3 the kh row-shifted
copies of it stacked (rows (c, i)), T = rows·Wp "wide" output places. It computes y = Σ_j W_j @ X3[:, j·d : j·d + T]
as kw GEMMs of O rows. With O = 16 those run far below BLAS's peak (OpenBLAS, one core, in cache: 16 × 96 × 1056
at 84 GFLOP/s, 48 × 96 × 1056 at 117). So here the kw weight slices are stacked as rows of one GEMM over X3:

    P = W_s (kw·O × C·kh) @ X3 (C·kh × T + (kw−1)·d),     W_s[(j, o), (c, i)] = W[o, c, i, j]
    y[o, t] = Σ_j P[(j, o), t + j·d]                      (kw − 1 shifted adds, the wide places dropped)

the same products, in one GEMM kw times taller. The input grad of a "same" conv is the conv of gy with the flipped
kernel (conv_kernels.backward_data), so it takes this route too; the weight grad is conv_shift's (its GEMMs have
O columns, not rows: conv_kernels.weight_product). The constants were measured (benchmarks/README.md,
"Convolution routes").
"""
import threading

import numpy

from .. import backend
from . import conv_kernels, conv_shift

# At most this many output channels: from 64 on conv_shift's GEMMs of O rows run near BLAS's peak already.
MAX_ROWS = 32
# The band's stacked input and its product P stay about this size: in a 2 MiB L2 between the GEMM and the adds.
BAND_BYTES = 1 * 2**20
# Fewer output pixels per image than this: too few columns per GEMM (im2col's wide layout does better).
MIN_PIXELS = 256
# Below this GEMM depth (C·kh) BLAS runs far below its peak: a 1-channel image's conv stays on im2col.
MIN_DEPTH = 8


def worth_it(geom, xp):
    """On the CPU, for stride-1 ungrouped convs with few output channels (at most MAX_ROWS) on maps of at least
    MIN_PIXELS output places, deep enough per kernel row (C·kh >= MIN_DEPTH), whose wide rows waste at most a
    quarter of the work."""
    (kh, kw), dw = geom.k, geom.dilation[1]
    wp = geom.size[1] + 2 * geom.padding[1]
    return (xp is numpy and conv_shift.applies(geom) and kw > 1 and geom.o <= MAX_ROWS
            and geom.cg * kh >= MIN_DEPTH and geom.out[0] * geom.out[1] >= MIN_PIXELS
            and (kw - 1) * dw * 4 <= wp)


def _bands(geom, wp, itemsize):
    """Output rows per band: its stacked input (C·kh rows) and product (kw·O rows) near BAND_BYTES together."""
    per_row = (geom.c * geom.k[0] + geom.k[1] * geom.o) * wp * itemsize
    return max(1, min(geom.out[0], BAND_BYTES // max(per_row, 1)))


def forward(x, w, geom, bias=None):
    """y = conv(x, W) + b with W_s[(j, o), (c, i)] = W[o, c, i, j] (one copy of W)."""
    kw = geom.k[1]
    ws = backend.get_array_module(w).ascontiguousarray(w.transpose(3, 0, 1, 2)).reshape(kw * geom.o, -1)
    return _stacked(x, ws, geom, bias)


def backward_data(gy, w, geom, always=False):
    """dx = convT(gy, W): for a "same" conv where it pays (`always`: wherever it is one), the conv of gy with the
    flipped kernel on this route, W̃_s[(j, c), (o, i)] = W[o, c, kh−1−i, kw−1−j]; otherwise as conv_shift
    chooses (col2im or its own)."""
    xp = backend.get_array_module(gy)
    flipped = geom.adjoint_as_conv()
    if flipped is None or not (always or worth_it(flipped, xp) and conv_kernels.adjoint_conv_pays(geom)):
        return conv_shift.backward_data(gy, w, geom)
    kw = geom.k[1]
    ws = xp.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(3, 1, 0, 2)).reshape(kw * geom.c, -1)
    return _stacked(gy, ws, flipped)


def backward_filter(x, gy, geom):
    """dW = gradW(x, gy): conv_shift's kernel (kw GEMMs X3 @ gyᵀ with O columns a band)."""
    return conv_shift.backward_filter(x, gy, geom)


def _stacked(x, ws, geom, bias=None):
    """y = Σ_j P[(j, ·), shifted by j·d] with P = ws @ X3, per sample and band of rows (split over threads as
    conv_shift does); the wide rows' extra places dropped and the bias added by the same adds."""
    xp = backend.get_array_module(x)
    (kh, kw), ow, dw, o = geom.k, geom.out[1], geom.dilation[1], geom.o
    (ph, pw), (h, w) = geom.padding, geom.size
    hp, wp = h + 2 * ph, w + 2 * pw
    y = xp.empty(geom.y_shape, dtype=x.dtype)
    band = _bands(geom, wp, x.itemsize)
    longest = band * wp + (kw - 1) * dw
    local = threading.local()

    def body(part, n, a, b):
        if getattr(local, "flat", None) is None:
            # the thread's padded sample (C, Hp·Wp + tail): zeroed once, only its interior rewritten per sample,
            # so the border stays zero and no padded copy of the whole batch is made
            local.flat = xp.zeros((geom.c, hp * wp + (kw - 1) * dw), dtype=x.dtype)
            local.x3, local.p, local.sample = (xp.empty((geom.c, kh, longest), dtype=x.dtype),
                                               xp.empty(kw * o * longest, dtype=x.dtype), None)
        if local.sample != n:
            local.flat[:, :hp * wp].reshape(geom.c, hp, wp)[:, ph:ph + h, pw:pw + w] = x[n]
            local.sample = n
        x3 = conv_shift._stack(xp, local.flat, a, b, wp, geom, local.x3)   # (C·kh, T + (kw−1)·d)
        p_buf = local.p
        t, length = (b - a) * wp, x3.shape[1]
        p = p_buf[:kw * o * length].reshape(kw * o, length)
        xp.matmul(ws, x3, out=p)
        # the sum over j into P's first block as whole wide rows (long contiguous runs: 3x faster than adding
        # (O, rows, OW) views), then the wide places dropped on the copy out
        acc = p[:o, :t]
        for j in range(1, kw):
            xp.add(acc, p[j * o:(j + 1) * o, j * dw:j * dw + t], out=acc)
        rows = acc.reshape(o, b - a, wp)[:, :, :ow]
        if bias is not None:
            xp.add(rows, bias[:, None, None], out=y[n, :, a:b])
        else:
            y[n, :, a:b] = rows
    conv_shift._run(xp, geom, band, body)
    return y
