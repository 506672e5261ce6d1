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
kernel (conv_kernels.backward_data), so it takes this route too; the weight grad stacks the kernel columns as
the GEMM's columns (`backward_filter`). The constants were measured (benchmarks/README.md,
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
# The weight grad's one stacked GEMM (C·kh × kw·O) needs both sides at least this long; narrower (8 channels in or
# out), conv_shift's kw GEMMs did better (8→8 on 64² at batch 16: 3.6 vs 4.9 ms).
MIN_STACKED_WEIGHT_GRAD = 48


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


def backward_filter(x, gy, geom, always=False):
    """dW = gradW(x, gy) as one GEMM a band with the kw kernel columns stacked too, now as columns:

        dW_s (C·kh × kw·O) = Σ_bands X3 @ G3ᵀ,     G3[(j, o), t + j·d] = gy_wide[o, t]  (zero elsewhere)

    so dW[o, c, i, j] = Σ_t X3[(c, i), t + j·d]·gy_wide[o, t] (gy_wide: gy with zeros in the wide places). Each
    thread sums its bands; the threads' sums are added in a fixed order (the same result on every run). With few
    channels (MIN_STACKED_WEIGHT_GRAD) conv_shift's kernel instead, unless `always`."""
    xp = backend.get_array_module(x)
    (kh, kw), ow, dw, o = geom.k, geom.out[1], geom.dilation[1], geom.o
    if min(geom.c * kh, kw * o) < MIN_STACKED_WEIGHT_GRAD and not always:
        return conv_shift.backward_filter(x, gy, geom)
    if geom.n == 0:
        return xp.zeros(geom.w_shape, dtype=x.dtype)
    pad = _Padded(xp, x, geom)
    sums = {}

    def body(part, n, a, b):
        x3, g3_buf = pad.stack(n, a, b)
        t, length = (b - a) * pad.wp, x3.shape[1]
        g3 = g3_buf[:kw * o * length].reshape(kw * o, length)
        g3[...] = 0
        for j in range(kw):
            g3[j * o:(j + 1) * o, j * dw:j * dw + t].reshape(o, b - a, pad.wp)[:, :, :ow] = gy[n, :, a:b]
        prod = x3 @ g3.T
        if part in sums:
            sums[part] += prod
        else:
            sums[part] = prod
    conv_shift._run(xp, geom, pad.band, body)
    parts = [sums[k] for k in sorted(sums)]
    total = parts[0]
    for p in parts[1:]:
        total += p
    # (C, kh, kw, O) -> (O, C, kh, kw)
    return xp.ascontiguousarray(total.reshape(geom.c, kh, kw, o).transpose(3, 0, 1, 2))


def _stacked(x, ws, geom, bias=None):
    """y = Σ_j P[(j, ·), shifted by j·d] with P = ws @ X3, per sample and band of rows (split over threads as
    conv_shift does); the wide rows' extra places dropped and the bias added by the same adds."""
    xp = backend.get_array_module(x)
    kw, ow, dw, o = geom.k[1], geom.out[1], geom.dilation[1], geom.o
    pad = _Padded(xp, x, geom)
    wp = pad.wp
    y = xp.empty(geom.y_shape, dtype=x.dtype)

    def body(part, n, a, b):
        x3, p_buf = pad.stack(n, a, b)                                    # (C·kh, T + (kw−1)·d)
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
    conv_shift._run(xp, geom, pad.band, body)
    return y


class _Padded:
    """Per-thread buffers for one call: the padded sample (C, Hp·Wp + tail), zeroed once and only its interior
    rewritten per sample, so that its border stays zero and no padded copy of the whole batch is made; the band's
    stacked input X3; and a buffer of kw·O rows for the band's other operand."""

    def __init__(self, xp, x, geom):
        self.xp, self.x, self.geom, self.local = xp, x, geom, threading.local()
        (self.h, self.w), (self.ph, self.pw) = geom.size, geom.padding
        self.hp, self.wp = self.h + 2 * self.ph, self.w + 2 * self.pw
        self.tail = (geom.k[1] - 1) * geom.dilation[1]
        self.band = _bands(geom, self.wp, x.itemsize)
        self.longest = self.band * self.wp + self.tail

    def stack(self, n, a, b):
        """(X3 for output rows [a, b) of sample n, the thread's kw·O-row buffer)."""
        xp, geom, local = self.xp, self.geom, self.local
        if getattr(local, "flat", None) is None:
            dtype, (kh, kw) = self.x.dtype, geom.k
            local.flat = xp.zeros((geom.c, self.hp * self.wp + self.tail), dtype=dtype)
            local.x3 = xp.empty((geom.c, kh, self.longest), dtype=dtype)
            local.other, local.sample = xp.empty(kw * geom.o * self.longest, dtype=dtype), None
        if local.sample != n:
            interior = local.flat[:, :self.hp * self.wp].reshape(geom.c, self.hp, self.wp)
            interior[:, self.ph:self.ph + self.h, self.pw:self.pw + self.w] = self.x[n]
            local.sample = n
        return conv_shift._stack(xp, local.flat, a, b, self.wp, geom, local.x3), local.other
