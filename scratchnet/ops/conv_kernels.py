"""The fast 2-D convolution kernels behind ops/conv.py: im2col + GEMM in three layouts, and col2im.

ops/conv.py states the math and picks a route (`choose_route`); this module only makes it fast. im2col is a
zero-copy `as_strided` view of the padded input, shape (N, C, kh, kw, OH, OW), whose element (n, c, i, j, p, q) is
x_pad[n, c, p·s + i·d, q·s + j·d]; copied to columns (N, C·kh·kw, OH·OW) it turns the convolution into one batched
GEMM per group. Three layouts of the same products:
    "nchw"  per-sample GEMMs, samples split over threads in cache-sized blocks (batch axis first: no transposes)
    "wide"  small maps: a block's samples side by side in one wide GEMM, in batch-last order
    "rows"  one image (or a batch smaller than the thread count): threads take bands of output rows
Readable twin: ops/conv_reference.py (a differentiable Im2Col/Col2Im pair and a matmul). The constants below were
measured; the numbers are in benchmarks/README.md ("Convolution routes").
"""
import numpy

from .. import backend

# Bound on the column buffer; larger batches are processed in chunks with the same result.
IM2COL_LIMIT_BYTES = 256 * 2**20
# Columns of one block of samples stay in cache between the GEMM and the kh·kw passes of col2im.
CACHE_BLOCK_BYTES = 2 * 2**20
# A GEMM with fewer columns runs well below BLAS's peak (OpenBLAS sgemm 512×4608 by 112 columns: 109 GFLOP/s, by
# 256: 128 GFLOP/s on one SkylakeX core), whatever it saves in cache misses.
MIN_GEMM_COLUMNS = 128
# The wide layout runs one GEMM per block of samples: bigger blocks, still enough columns for BLAS.
WIDE_BLOCK_BYTES = 16 * 2**20
# Its backward passes hold two buffers a block (columns and their product, or the batch-last block): they keep to
# CACHE_BLOCK_BYTES, which kept the reference CNN's step at batch 256 at the per-sample layout's peak memory (66 MB;
# 84 with 16 MiB blocks) and measured as fast (conv 32→64 on 13×13 at batch 256, backward: 45–52 vs 62–67 ms).
# Below this many output pixels per image a per-sample GEMM has too few columns for BLAS: the wide layout pays.
SMALL_HW = 100
# ... and below this many, in a batch, for the two backward kernels of the shifted-GEMM route (ops/conv_shift.py).
SMALL_HW_BACKWARD = 200
# The adjoint as a conv of gy copies O·kh·kw values per pixel into columns where col2im adds back C·kh·kw: with far
# fewer input channels than output channels (dx to a 3-channel image) col2im is several times faster.
ADJOINT_MIN_RATIO = 4
# ... and it copies W flipped (O·C·kh·kw values): on maps with fewer pixels than this many times O (VGG's 512-channel
# layers on 16×16 at batch 1), that copy costs more than col2im's adds.
ADJOINT_MIN_PIXELS_PER_CHANNEL = 4


# The weight gradient's GEMM Σ_n gy_n (O, L) @ col_nᵀ (L, K) runs up to twice as fast transposed, as col_n @ gy_nᵀ,
# when gy has this many rows or fewer (OpenBLAS sgemm, one core: O=16, K=288, L=4096: 38 vs 72 GFLOP/s; O=64,
# K=288, L=256: 81 vs 119); from 128 on both run alike and transposing the (K, O) result back costs more.
WEIGHT_GRAD_TRANSPOSE_MAX_ROWS = 64


def set_im2col_limit(nbytes):
    """Set the largest im2col buffer (bytes) a convolution may allocate; returns the previous limit."""
    global IM2COL_LIMIT_BYTES
    old, IM2COL_LIMIT_BYTES = IM2COL_LIMIT_BYTES, int(nbytes)
    return old


def wide_pays(geom):
    """Small maps: too few output pixels per image for a per-sample GEMM."""
    return geom.out[0] * geom.out[1] < SMALL_HW


def wide_backward_pays(geom):
    """A batch of maps too small for per-sample GEMMs in the backward passes (the reference CNN's 11×11 conv at
    batch 64: dx 7.2 -> 5.0 ms, dW 5.4 -> 4.8 ms), though large enough for the forward's."""
    return geom.n >= 8 and geom.out[0] * geom.out[1] < SMALL_HW_BACKWARD


def rows_pay(geom, xp):
    """A batch too small to split over the CPU's threads, with enough output rows to split instead."""
    return xp is numpy and geom.n < 2 * backend.num_threads() <= geom.out[0]


def _pad(xp, x, ph, pw):
    if ph == 0 and pw == 0:
        return x
    out = xp.zeros(x.shape[:2] + (x.shape[2] + 2 * ph, x.shape[3] + 2 * pw), dtype=x.dtype)
    out[:, :, ph:ph + x.shape[2], pw:pw + x.shape[3]] = x
    return out


def adjoint_conv_pays(geom):
    """Whether dx = convT(gy, W) of a "same" conv is cheaper as the conv of gy with the flipped kernel than by
    col2im: not with far fewer input than output channels, nor when W is large beside the batch's maps."""
    pixels = geom.n * geom.size[0] * geom.size[1]
    return geom.c * ADJOINT_MIN_RATIO >= geom.o and geom.o * ADJOINT_MIN_PIXELS_PER_CHANNEL <= pixels


def even_blocks(start, stop, most):
    """[start, stop) cut into the fewest near-equal ranges of at most `most` items: 8 rows in blocks of at most 7
    are 4 + 4, not 7 + 1 (a 1-row block is a GEMM too narrow for BLAS)."""
    count = -(-(stop - start) // max(most, 1))
    return [(start + (stop - start) * i // count, start + (stop - start) * (i + 1) // count) for i in range(count)]


def flip(w):
    """W̃[c, o, i, j] = W[o, c, kh−1−i, kw−1−j]: the kernel of the conv that is a stride-1 conv's adjoint in x. A
    transposed view of a copy in (o, i, j, c) order, which the GEMM reads as it is: copying W with o and c swapped
    measured 3x slower (6 ms at 512×512×3×3)."""
    xp = backend.get_array_module(w)
    return xp.ascontiguousarray(w.transpose(0, 2, 3, 1)[:, ::-1, ::-1]).transpose(3, 0, 1, 2)


def windows(xp, x_pad, kh, kw, oh, ow, stride, dilation):
    """The zero-copy im2col view (N, C, kh, kw, OH, OW) of a padded input."""
    n, c = x_pad.shape[:2]
    s_n, s_c, s_h, s_w = x_pad.strides
    return xp.lib.stride_tricks.as_strided(
        x_pad, (n, c, kh, kw, oh, ow),
        (s_n, s_c, s_h * dilation[0], s_w * dilation[1], s_h * stride[0], s_w * stride[1]))


def _batch_chunks(xp, n, per_sample_bytes, block_bytes=CACHE_BLOCK_BYTES):
    """Ranges of samples whose columns fit `block_bytes` (a cache block, or a wide layout's block) and the im2col
    limit.
    On a GPU there is no cache to fit: whole-batch kernels, cut only by the im2col memory limit."""
    if xp is not numpy:
        return backend.chunks(0, n, per_sample_bytes, IM2COL_LIMIT_BYTES)
    return backend.chunks(0, n, per_sample_bytes,
                          min(IM2COL_LIMIT_BYTES, block_bytes))


def _columns(xp, x_pad, geom, first, last, oh=None):
    """Columns (n, Cg·kh·kw, OH·OW) for input channels first:last (one group; `oh` output rows, all by default):
    the strided view copied in its own order, so each sample's block is contiguous and NCHW order is kept."""
    (kh, kw), ow = geom.k, geom.out[1]
    oh = geom.out[0] if oh is None else oh
    view = windows(xp, x_pad[:, first:last], kh, kw, oh, ow, geom.stride, geom.dilation)
    return view.reshape(x_pad.shape[0], (last - first) * kh * kw, oh * ow)


def _batch_last(xp, x, ph, pw):
    """(n, C, H, W) -> zero-padded (C, H + 2ph, W + 2pw, n): the wide layout."""
    n, c, h, w = x.shape
    out = xp.zeros((c, h + 2 * ph, w + 2 * pw, n), dtype=x.dtype)
    out[:, ph:ph + h, pw:pw + w] = x.transpose(1, 2, 3, 0)
    return out


def _columns_wide(xp, x_last, geom, first, last):
    """Columns (Cg·kh·kw, OH·OW·n) of a batch-last padded block (C, Hp, Wp, n): the block's samples side by side
    for one wide GEMM. Element ((c,i,j), (p,q,m)) is x_last[c, p·s + i·d, q·s + j·d, m], so the copy moves runs of
    n (stride 2) or OW·n (stride 1) floats where NCHW order would move runs of OW (or single floats)."""
    (kh, kw), (oh, ow), (sh, sw), (dh, dw) = geom.k, geom.out, geom.stride, geom.dilation
    s_c, s_h, s_w, s_n = x_last.strides
    n = x_last.shape[3]
    view = xp.lib.stride_tricks.as_strided(
        x_last[first:last], (last - first, kh, kw, oh, ow, n), (s_c, s_h * dh, s_w * dw, s_h * sh, s_w * sw, s_n))
    return view.reshape((last - first) * kh * kw, oh * ow * n)


def _to_batch_last(g):
    """(n, O, OH, OW) or (n, O, OH·OW) -> (O, OH·OW·n), the column order of _columns_wide."""
    n, o = g.shape[:2]
    return g.reshape(n, o, -1).transpose(1, 2, 0).reshape(o, -1)


def weight_product(xp, g, col):
    """Σ_n g_n @ col_nᵀ as an (O, K) array (possibly a transposed view) for g (n, O, L) and col (n, K, L), or one
    product for 2-D g (O, L) and col (K, L): the weight gradient's GEMM, in the orientation BLAS runs faster
    (WEIGHT_GRAD_TRANSPOSE_MAX_ROWS; on the CPU). The array is this call's own, so callers may add into it."""
    # on a GPU one kernel fewer untransposed; and only with col's side the longer (K >= O: the 2-channel 4×4
    # conv of the DCGAN, K = 32 by O = 64, measured 1.4 vs 1.6 ms untransposed)
    few = xp is numpy and col.shape[-2] >= g.shape[-2] and g.shape[-2] <= WEIGHT_GRAD_TRANSPOSE_MAX_ROWS
    p = xp.matmul(col, xp.swapaxes(g, -1, -2)) if few else xp.matmul(g, xp.swapaxes(col, -1, -2))
    if p.ndim == 3:
        p = p[0] if p.shape[0] == 1 else p.sum(axis=0)
    return p.T if few else p


def _weight_blocks(w, geom):
    """W_k as (O/G, Cg·kh·kw) matrices, one per group k of the G groups."""
    og = geom.og
    return [w[k * og:(k + 1) * og].reshape(og, -1) for k in range(geom.groups)]


def forward(x, w, geom, bias=None, layout="nchw"):
    """y = conv(x, W) + b, one GEMM per group k: y_n,k = W_k (O/G, K) @ col_n,k (K, OH·OW); the bias is added to each
    block while it is still in cache."""
    xp = backend.get_array_module(x)
    if layout == "rows" or layout == "wide" and rows_pay(geom, xp):   # one image's small maps: rows, not one GEMM
        return _forward_rows(xp, x, w, geom, bias)
    n, o, (oh, ow), cg, og = geom.n, geom.o, geom.out, geom.cg, geom.og
    y = xp.empty((n, o, oh * ow), dtype=x.dtype)
    w2, wide = _weight_blocks(w, geom), layout == "wide"

    def body(b0, b1):
        for n0, n1 in _batch_chunks(xp, b1 - b0, geom.column_bytes(x.itemsize),
                                      WIDE_BLOCK_BYTES if wide else CACHE_BLOCK_BYTES):
            n0, n1 = b0 + n0, b0 + n1
            x_pad = (_batch_last if wide else _pad)(xp, x[n0:n1], *geom.padding)
            for k in range(geom.groups):
                if wide:
                    col = _columns_wide(xp, x_pad, geom, k * cg, (k + 1) * cg)
                    y[n0:n1, k * og:(k + 1) * og] = (w2[k] @ col).reshape(og, -1, n1 - n0).transpose(2, 0, 1)
                    continue
                col = _columns(xp, x_pad, geom, k * cg, (k + 1) * cg)
                if geom.groups == 1:
                    xp.matmul(w2[k], col, out=y[n0:n1])
                else:
                    y[n0:n1, k * og:(k + 1) * og] = xp.matmul(w2[k], col)
            if bias is not None:
                y[n0:n1] += bias[:, None]
    backend.over_batch(xp, n, body)
    return y.reshape(geom.y_shape)


def _forward_rows(xp, x, w, geom, bias):
    """The forward for a batch too small to split over threads (style transfer and DeepDream run on one image):
    the threads take bands of output rows instead, each band's columns built from the input rows it reads, a few
    rows at a time so that they stay in cache."""
    (kh, kw), (oh, ow), cg, og = geom.k, geom.out, geom.cg, geom.og
    sh, dh = geom.stride[0], geom.dilation[0]
    y = xp.empty((geom.n, geom.o, oh * ow), dtype=x.dtype)
    w2 = _weight_blocks(w, geom)
    x_pad = _pad(xp, x, *geom.padding)
    # blocks of rows whose columns fit the cache, but wide enough (MIN_GEMM_COLUMNS) for BLAS to run at its peak
    rows_per_block = max(-(-MIN_GEMM_COLUMNS // ow),
                         CACHE_BLOCK_BYTES // max(1, geom.n * cg * kh * kw * ow * x.itemsize))

    def rows(r0, r1):
        for a, b in even_blocks(r0, r1, rows_per_block):
            band = x_pad[:, :, a * sh:(b - 1) * sh + dh * (kh - 1) + 1]
            for k in range(geom.groups):
                col = _columns(xp, band, geom, k * cg, (k + 1) * cg, b - a)
                y[:, k * og:(k + 1) * og, a * ow:b * ow] = xp.matmul(w2[k], col)
            if bias is not None:
                y[:, :, a * ow:b * ow] += bias[:, None]
    backend.parallel_for(oh, rows, min_items=1)
    return y.reshape(geom.y_shape)


def backward_data(gy, w, geom, layout="nchw"):
    """dx = convT(gy, W): the adjoint of conv in x. Columns W_gᵀ @ gy_n,g are added back (col2im) one kernel
    offset (i, j) at a time, each a strided slice-add over a whole slice of the batch.

    For a stride-1, "same"-or-wider padded convolution the adjoint is itself a convolution: the full correlation
    dx = conv(gy, W̃, padding = k−1−p) with W̃[c, o, i, j] = W[o, c, k−1−i, k−1−j]. That skips col2im (faster,
    see benchmarks/README.md); with less padding the full correlation would compute rows that are thrown away."""
    xp = backend.get_array_module(gy)
    flipped = geom.adjoint_as_conv()
    if flipped is not None and adjoint_conv_pays(geom):
        return forward(gy, flip(w), flipped, layout="rows" if layout == "nchw" and rows_pay(flipped, xp) else layout)
    (kh, kw), (oh, ow), (sh, sw), (ph, pw), (dh, dw) = geom.k, geom.out, geom.stride, geom.padding, geom.dilation
    n, c, cg, og, h, w_in = geom.n, geom.c, geom.cg, geom.og, *geom.size
    gx = xp.empty((n, c, h + 2 * ph, w_in + 2 * pw), dtype=gy.dtype)
    w2t = [m.T for m in _weight_blocks(w, geom)]
    if xp is numpy and n < 2 * backend.num_threads():   # too few samples to split: split the channels
        _col2im_channels(xp, gy, w2t, geom, gx)
        return gx[:, :, ph:ph + h, pw:pw + w_in] if ph or pw else gx
    wide = layout == "wide"

    def body(b0, b1):
        for n0, n1 in _batch_chunks(xp, b1 - b0, geom.column_bytes(gy.itemsize)):
            n0, n1 = b0 + n0, b0 + n1
            # the wide layout adds back into a batch-last block (C, Hp, Wp, n), moved to NCHW at the end
            block = xp.zeros((c,) + gx.shape[2:] + (n1 - n0,), dtype=gy.dtype) if wide else gx[n0:n1]
            if not wide:
                block[...] = 0
            for k in range(geom.groups):
                g_k = gy[n0:n1, k * og:(k + 1) * og]
                if wide:  # one GEMM over the block: (K, O) @ (O, OH·OW·n)
                    col = (w2t[k] @ _to_batch_last(g_k)).reshape(cg, kh, kw, oh, ow, n1 - n0)
                    target = block[k * cg:(k + 1) * cg]
                else:
                    col = xp.matmul(w2t[k], g_k.reshape(n1 - n0, og, oh * ow)).reshape(n1 - n0, cg, kh, kw, oh, ow)
                    target = block[:, k * cg:(k + 1) * cg]
                _add_back(xp, target, col, geom, wide)
            if wide:
                gx[n0:n1] = block.transpose(3, 0, 1, 2)
    backend.over_batch(xp, n, body)
    return gx[:, :, ph:ph + h, pw:pw + w_in] if ph or pw else gx


def _add_back(xp, target, col, geom, batch_last=False):
    """col2im's adds at each kernel offset's strided places: target (…, C, Hp, Wp) += col (…, C, kh, kw, OH, OW), or
    batch last (the wide layout): target (C, Hp, Wp, n) += col (C, kh, kw, OH, OW, n)."""
    (kh, kw), (oh, ow), (sh, sw), (dh, dw) = geom.k, geom.out, geom.stride, geom.dilation
    for i in range(kh):
        for j in range(kw):
            rows = slice(i * dh, i * dh + sh * (oh - 1) + 1, sh)
            cols = slice(j * dw, j * dw + sw * (ow - 1) + 1, sw)
            # add with out= into the strided view: one kernel (`+=` on a slice is two on CuPy)
            if batch_last:
                view = target[:, rows, cols]
                xp.add(view, col[:, i, j], out=view)
            else:
                view = target[..., rows, cols]
                xp.add(view, col[..., i, j, :, :], out=view)


def _col2im_channels(xp, gy, w2t, geom, gx):
    """backward_data's columns and adds for a batch too small to split over the CPU's threads (one image: VGG's
    512-channel layers on 16×16 maps, whose input grad is not a conv worth its flipped kernel): the threads take
    blocks of input channels, whose columns W_gᵀ[channels] @ gy_n,g and adds write only those channels of dx, a
    cache-sized block at a time."""
    (kh, kw), (oh, ow), cg, og = geom.k, geom.out, geom.cg, geom.og
    block = max(1, CACHE_BLOCK_BYTES // (kh * kw * oh * ow * gy.itemsize))
    if geom.groups == 1 and cg < 4 * backend.num_threads():
        # few channels (dx to a 3-channel image) would split the GEMM, most of the work, unevenly: its rows are
        # split instead, then the adds by channel
        for n in range(geom.n):
            g = gy[n].reshape(og, oh * ow)
            col = xp.empty((cg * kh * kw, oh * ow), dtype=gy.dtype)
            backend.parallel_for(col.shape[0], lambda r0, r1: xp.matmul(w2t[0][r0:r1], g, out=col[r0:r1]), 16)
            col = col.reshape(cg, kh, kw, oh, ow)

            def adds(c0, c1):
                gx[n, c0:c1] = 0
                _add_back(xp, gx[n, c0:c1], col[c0:c1], geom)
            backend.parallel_for(cg, adds, min_items=1)
        return

    def channels(c0, c1):
        for a, b in even_blocks(c0, c1, block):
            while a < b:   # within one group at a time
                k = a // cg
                e = min(b, (k + 1) * cg)
                rows = w2t[k][(a - k * cg) * kh * kw:(e - k * cg) * kh * kw]
                for n in range(geom.n):
                    col = (rows @ gy[n, k * og:(k + 1) * og].reshape(og, oh * ow)).reshape(e - a, kh, kw, oh, ow)
                    target = gx[n, a:e]
                    target[...] = 0
                    _add_back(xp, target, col, geom)
                a = e
    backend.parallel_for(geom.c, channels, min_items=1)


def backward_filter(x, gy, geom, layout="nchw"):
    """dW = gradW(x, gy):  dW_k = Σ_n gy_n,k (O/G, OH·OW) @ col_n,kᵀ  (each thread sums its slice of the batch; the
    per-sample products in the faster orientation, `weight_product`)."""
    xp = backend.get_array_module(x)
    cg, og, wide = geom.cg, geom.og, layout == "wide"
    partial = {}

    def body(b0, b1):
        acc = [None] * geom.groups   # per group: the first chunk's product is the sum (no zero fill, no copy)
        for n0, n1 in _batch_chunks(xp, b1 - b0, geom.column_bytes(x.itemsize)):
            n0, n1 = b0 + n0, b0 + n1
            x_pad = (_batch_last if wide else _pad)(xp, x[n0:n1], *geom.padding)
            for k in range(geom.groups):
                g_k = gy[n0:n1, k * og:(k + 1) * og].reshape(n1 - n0, og, -1)
                if wide:
                    part = _to_batch_last(g_k) @ _columns_wide(xp, x_pad, geom, k * cg, (k + 1) * cg).T
                else:
                    part = weight_product(xp, g_k, _columns(xp, x_pad, geom, k * cg, (k + 1) * cg))
                if acc[k] is None:
                    acc[k] = part
                else:
                    acc[k] += part
        partial[b0] = acc[0] if geom.groups == 1 else xp.concatenate(acc, axis=0)
    backend.over_batch(xp, geom.n, body)
    parts = [partial[k] for k in sorted(partial)]  # fixed order, so the sum is the same on every run
    if not parts:   # an empty batch
        return xp.zeros(geom.w_shape, dtype=x.dtype)
    total = parts[0]
    for p in parts[1:]:
        total += p
    return total.reshape(geom.w_shape)
