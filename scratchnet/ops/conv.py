"""2-D convolution as im2col + one GEMM per group, and its transpose by col2im, for NumPy and CuPy alike.

im2col is a zero-copy `as_strided` view of the padded input, shape (N, C, kh, kw, OH, OW): element (n, c, i, j, p, q)
is x_pad[n, c, p*s + i*d, q*s + j*d]. Copying it to columns (N, C·kh·kw, OH·OW) turns the convolution into

    y[n, o, (p,q)] = Σ_(c,i,j) W[o, (c,i,j)] · col[n, (c,i,j), (p,q)]      (one batched GEMM, W shared by all n)

Keeping the batch axis first means neither the columns nor the output ever need a transpose (NCHW throughout).
Stride-1 convs with large kernels on small maps go through the convolution theorem instead (ops/conv_fft.py).

The three linear maps of a convolution close under differentiation, which makes conv differentiable to any order:
    y  = conv(x, W)             dx = convT(gy, W)     dW = gradW(x, gy)
    z  = convT(g, W)            dg = conv(gz, W)      dW = gradW(gz, g)
    v  = gradW(x, g)            dx = convT(g, gv)     dg = conv(x, gv)
"""
from collections import namedtuple

import numpy

from .. import backend
from ..autograd import Function
from . import conv_fft

# Bound on the column buffer; larger batches are processed in chunks with the same result.
IM2COL_LIMIT_BYTES = 256 * 2**20

ConvCfg = namedtuple("ConvCfg", "stride padding dilation groups")


def set_im2col_limit(nbytes):
    """Set the largest im2col buffer (bytes) a convolution may allocate; returns the previous limit."""
    global IM2COL_LIMIT_BYTES
    old, IM2COL_LIMIT_BYTES = IM2COL_LIMIT_BYTES, int(nbytes)
    return old


def out_size(size, k, s, p, d):
    """PyTorch's floor rule: (size + 2p - d(k-1) - 1) // s + 1."""
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def _pad(xp, x, ph, pw):
    if ph == 0 and pw == 0:
        return x
    out = xp.zeros(x.shape[:2] + (x.shape[2] + 2 * ph, x.shape[3] + 2 * pw), dtype=x.dtype)
    out[:, :, ph:ph + x.shape[2], pw:pw + x.shape[3]] = x
    return out


def windows(xp, x_pad, kh, kw, oh, ow, stride, dilation):
    """The zero-copy im2col view (N, C, kh, kw, OH, OW) of a padded input."""
    n, c = x_pad.shape[:2]
    s_n, s_c, s_h, s_w = x_pad.strides
    return xp.lib.stride_tricks.as_strided(
        x_pad, (n, c, kh, kw, oh, ow),
        (s_n, s_c, s_h * dilation[0], s_w * dilation[1], s_h * stride[0], s_w * stride[1]))


# Samples are processed a few at a time so that the columns of a block (~2 MiB) stay in cache between the GEMM and
# the kh·kw passes that read them back (col2im); measured 30% faster than whole-batch passes at batch 256.
CACHE_BLOCK_BYTES = 2 * 2**20
# The wide path (see SMALL_HW) runs one GEMM per block of samples; blocks of ~16 MiB of columns measured 10% faster
# than one block per thread (conditional DCGAN step, 2 threads), with still enough columns for BLAS to run well.
WIDE_BLOCK_BYTES = 16 * 2**20


def _batch_chunks(xp, n, per_sample_bytes, wide=False):
    """Ranges of samples whose columns fit the cache block (wide path: WIDE_BLOCK_BYTES) and the im2col limit.
    On a GPU there is no cache to fit: whole-batch kernels, cut only by the im2col memory limit."""
    if xp is not numpy:
        return backend.chunks(0, n, per_sample_bytes, IM2COL_LIMIT_BYTES)
    return backend.chunks(0, n, per_sample_bytes,
                          min(IM2COL_LIMIT_BYTES, WIDE_BLOCK_BYTES if wide else CACHE_BLOCK_BYTES))


def _columns(xp, x_pad, kh, kw, oh, ow, cfg, c0, c1):
    """Columns (n, Cg·kh·kw, OH·OW) for input channels c0:c1 (one group): the strided view copied in its own
    order, so each sample's block is contiguous and NCHW order is kept without any transpose."""
    view = windows(xp, x_pad[:, c0:c1], kh, kw, oh, ow, cfg.stride, cfg.dilation)
    return view.reshape(x_pad.shape[0], (c1 - c0) * kh * kw, oh * ow)


def _batch_last(xp, x, ph, pw):
    """(n, C, H, W) -> zero-padded (C, H + 2ph, W + 2pw, n): the layout of the wide path (see SMALL_HW)."""
    n, c, h, w = x.shape
    out = xp.zeros((c, h + 2 * ph, w + 2 * pw, n), dtype=x.dtype)
    out[:, ph:ph + h, pw:pw + w] = x.transpose(1, 2, 3, 0)
    return out


def _columns_wide(xp, x_last, kh, kw, oh, ow, cfg, c0, c1):
    """Columns (Cg·kh·kw, OH·OW·n) of a batch-last padded block (C, Hp, Wp, n): the block's samples side by side
    for one wide GEMM. Element ((c,i,j), (p,q,m)) is x_last[c, p·s + i·d, q·s + j·d, m], so the copy moves runs of
    n (stride 2) or OW·n (stride 1) floats where NCHW order would move runs of OW (or single floats)."""
    (sh, sw), (dh, dw) = cfg.stride, cfg.dilation
    s_c, s_h, s_w, s_n = x_last.strides
    n = x_last.shape[3]
    view = xp.lib.stride_tricks.as_strided(
        x_last[c0:c1], (c1 - c0, kh, kw, oh, ow, n), (s_c, s_h * dh, s_w * dw, s_h * sh, s_w * sw, s_n))
    return view.reshape((c1 - c0) * kh * kw, oh * ow * n)


def _to_batch_last(g):
    """(n, O, OH, OW) or (n, O, OH·OW) -> (O, OH·OW·n), the column order of _columns_wide."""
    n, o = g.shape[:2]
    return g.reshape(n, o, -1).transpose(1, 2, 0).reshape(o, -1)


# Below this many output pixels per image, a per-sample GEMM has too few columns for BLAS to run well (a 7×7 map
# gives 49); the block's samples are then laid side by side in one wide GEMM, in batch-last order (see
# _columns_wide), at the price of transposing the (small) input and output. Measured (2 threads): conditional
# DCGAN step 278 -> 247 ms with 100 (NCHW-ordered columns); raising it to 256 moved the reference CNN's 11×11
# conv onto this path and slowed its batch-256 step 43.5 -> 48 ms.
SMALL_HW = 100


def _geometry(x_shape, w_shape, cfg, out_hw=None):
    """Sizes of a convolution. `out_hw` fixes the output size when it is smaller than the floor rule gives (the
    conv that is the adjoint of a transposed conv with output_padding leaves the padded rows out)."""
    n, c, h, w = x_shape
    o, cg, kh, kw = w_shape
    oh, ow = out_hw or (out_size(h, kh, cfg.stride[0], cfg.padding[0], cfg.dilation[0]),
                        out_size(w, kw, cfg.stride[1], cfg.padding[1], cfg.dilation[1]))
    return n, c, o, cg, kh, kw, oh, ow


def conv_forward(x, w, cfg, out_hw=None, bias=None):
    """y = conv(x, W) + b: (N, C, H, W) * (O, C/g, kh, kw) -> (N, O, OH, OW), one batched GEMM per group:
    y_n,g = W_g (O/g, K) @ col_n,g (K, OH·OW); the bias is added to each block while it is still in cache."""
    xp = backend.get_array_module(x)
    n, c, o, cg, kh, kw, oh, ow = _geometry(x.shape, w.shape, cfg, out_hw)
    if conv_fft.worth_it(x.shape, w.shape, (oh, ow), cfg):
        y = conv_fft.fft_conv_forward(x, w, cfg, (oh, ow), IM2COL_LIMIT_BYTES)
        if bias is not None:
            y += bias[:, None, None]
        return y
    g, og = cfg.groups, o // cfg.groups
    y = xp.empty((n, o, oh * ow), dtype=x.dtype)
    w2 = [w[k * og:(k + 1) * og].reshape(og, -1) for k in range(g)]
    wide = oh * ow < SMALL_HW
    if xp is backend.numpy and not wide and n < 2 * backend.num_threads() <= oh:
        _conv_forward_rows(xp, x, w2, y, bias, cfg, (n, cg, og, g, kh, kw, oh, ow))
        return y.reshape(n, o, oh, ow)

    def body(b0, b1):
        for c0, c1 in _batch_chunks(xp, b1 - b0, cg * kh * kw * oh * ow * x.itemsize, wide):
            c0, c1 = b0 + c0, b0 + c1
            x_pad = (_batch_last if wide else _pad)(xp, x[c0:c1], *cfg.padding)
            for k in range(g):
                if wide:
                    col = _columns_wide(xp, x_pad, kh, kw, oh, ow, cfg, k * cg, (k + 1) * cg)
                    y[c0:c1, k * og:(k + 1) * og] = (w2[k] @ col).reshape(og, -1, c1 - c0).transpose(2, 0, 1)
                    continue
                col = _columns(xp, x_pad, kh, kw, oh, ow, cfg, k * cg, (k + 1) * cg)
                if g == 1:
                    xp.matmul(w2[k], col, out=y[c0:c1])
                else:
                    y[c0:c1, k * og:(k + 1) * og] = xp.matmul(w2[k], col)
            if bias is not None:
                y[c0:c1] += bias[:, None]
    backend.over_batch(xp, n, body)
    return y.reshape(n, o, oh, ow)


def _conv_forward_rows(xp, x, w2, y, bias, cfg, sizes):
    """conv_forward for a batch too small to split over threads (style transfer and DeepDream run on one image):
    the threads take bands of output rows instead, each band's columns built from the input rows it reads, a few
    rows at a time so that they stay in cache."""
    n, cg, og, g, kh, kw, oh, ow = sizes
    (sh, _), (dh, _) = cfg.stride, cfg.dilation
    x_pad = _pad(xp, x, *cfg.padding)
    rows_per_block = max(1, CACHE_BLOCK_BYTES // max(1, n * cg * kh * kw * ow * x.itemsize))

    def rows(r0, r1):
        for a in range(r0, r1, rows_per_block):
            b = min(r1, a + rows_per_block)
            band = x_pad[:, :, a * sh:(b - 1) * sh + dh * (kh - 1) + 1]
            for k in range(g):
                col = _columns(xp, band, kh, kw, b - a, ow, cfg, k * cg, (k + 1) * cg)
                y[:, k * og:(k + 1) * og, a * ow:b * ow] = xp.matmul(w2[k], col)
            if bias is not None:
                y[:, :, a * ow:b * ow] += bias[:, None]
    backend.parallel_for(oh, rows, min_items=1)


def conv_backward_data(gy, w, x_shape, cfg):
    """dx = convT(gy, W): the adjoint of conv in x. Columns W_gᵀ @ gy_n,g are added back (col2im) one kernel
    offset (i, j) at a time, each a strided slice-add over a whole slice of the batch.

    For a stride-1, "same"-or-wider padded convolution the adjoint is itself a convolution: the full correlation
    dx = conv(gy, W̃, padding = k−1−p) with W̃[c, o, i, j] = W[o, c, k−1−i, k−1−j]. That skips col2im and is ~25%
    faster there; with less padding the full correlation would compute rows that are thrown away, so col2im stays.
    """
    xp = backend.get_array_module(gy)
    n, c, o, cg, kh, kw, oh, ow = _geometry(x_shape, w.shape, cfg, gy.shape[2:])
    if conv_fft.worth_it(x_shape, w.shape, (oh, ow), cfg):
        return conv_fft.fft_conv_backward_data(gy, w, x_shape, cfg, IM2COL_LIMIT_BYTES)
    if cfg.stride == (1, 1) and cfg.dilation == (1, 1) and cfg.groups == 1 and \
            kh - 1 >= cfg.padding[0] >= (kh - 1) / 2 and kw - 1 >= cfg.padding[1] >= (kw - 1) / 2 and \
            (oh, ow) == (x_shape[2] + 2 * cfg.padding[0] - kh + 1, x_shape[3] + 2 * cfg.padding[1] - kw + 1):
        w_flip = xp.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))
        full = ConvCfg((1, 1), (kh - 1 - cfg.padding[0], kw - 1 - cfg.padding[1]), (1, 1), 1)
        return conv_forward(gy, w_flip, full)
    (sh, sw), (ph, pw), (dh, dw) = cfg.stride, cfg.padding, cfg.dilation
    g, og = cfg.groups, o // cfg.groups
    gx = xp.empty((n, c, x_shape[2] + 2 * ph, x_shape[3] + 2 * pw), dtype=gy.dtype)
    w2t = [w[k * og:(k + 1) * og].reshape(og, -1).T for k in range(g)]

    wide = oh * ow < SMALL_HW

    def body(b0, b1):
        for c0, c1 in _batch_chunks(xp, b1 - b0, cg * kh * kw * oh * ow * gy.itemsize, wide):
            c0, c1 = b0 + c0, b0 + c1
            # the wide path adds back into a batch-last block (C, Hp, Wp, n), moved to NCHW at the end
            block = xp.zeros((c,) + gx.shape[2:] + (c1 - c0,), dtype=gy.dtype) if wide else gx[c0:c1]
            if not wide:
                block[...] = 0
            for k in range(g):
                g_k = gy[c0:c1, k * og:(k + 1) * og]
                if wide:  # one GEMM over the block: (K, O) @ (O, OH·OW·n)
                    col = (w2t[k] @ _to_batch_last(g_k)).reshape(cg, kh, kw, oh, ow, c1 - c0)
                    target = block[k * cg:(k + 1) * cg]
                else:
                    col = xp.matmul(w2t[k], g_k.reshape(c1 - c0, og, oh * ow)).reshape(c1 - c0, cg, kh, kw, oh, ow)
                    target = block[:, k * cg:(k + 1) * cg]
                for i in range(kh):
                    for j in range(kw):
                        rows = slice(i * dh, i * dh + sh * (oh - 1) + 1, sh)
                        cols = slice(j * dw, j * dw + sw * (ow - 1) + 1, sw)
                        # add with out= into the strided view: one kernel (`+=` on a slice is two on CuPy)
                        if wide:
                            view = target[:, rows, cols]
                            xp.add(view, col[:, i, j], out=view)
                        else:
                            view = target[:, :, rows, cols]
                            xp.add(view, col[:, :, i, j], out=view)
            if wide:
                gx[c0:c1] = block.transpose(3, 0, 1, 2)
    backend.over_batch(xp, n, body)
    return gx[:, :, ph:ph + x_shape[2], pw:pw + x_shape[3]] if ph or pw else gx


def conv_backward_filter(x, gy, w_shape, cfg):
    """dW = gradW(x, gy):  dW_g = Σ_n gy_n,g (O/g, OH·OW) @ col_n,gᵀ  (each thread sums its slice of the batch)."""
    xp = backend.get_array_module(x)
    n, c, o, cg, kh, kw, oh, ow = _geometry(x.shape, w_shape, cfg, gy.shape[2:])
    if conv_fft.worth_it(x.shape, w_shape, (oh, ow), cfg):
        return conv_fft.fft_conv_backward_filter(x, gy, w_shape, cfg, IM2COL_LIMIT_BYTES)
    g, og = cfg.groups, o // cfg.groups
    partial = {}

    wide = oh * ow < SMALL_HW

    def body(b0, b1):
        acc = [None] * g   # per group: the first chunk's product is the sum (no zero fill, no copy)
        for c0, c1 in _batch_chunks(xp, b1 - b0, cg * kh * kw * oh * ow * x.itemsize, wide):
            c0, c1 = b0 + c0, b0 + c1
            x_pad = (_batch_last if wide else _pad)(xp, x[c0:c1], *cfg.padding)
            for k in range(g):
                g_k = gy[c0:c1, k * og:(k + 1) * og].reshape(c1 - c0, og, oh * ow)
                if wide:
                    col = _columns_wide(xp, x_pad, kh, kw, oh, ow, cfg, k * cg, (k + 1) * cg)
                    part = _to_batch_last(g_k) @ col.T
                else:
                    col = _columns(xp, x_pad, kh, kw, oh, ow, cfg, k * cg, (k + 1) * cg)
                    part = xp.matmul(g_k, col.transpose(0, 2, 1)).sum(axis=0)
                if acc[k] is None:
                    acc[k] = part
                else:
                    acc[k] += part
        partial[b0] = acc[0] if g == 1 else xp.concatenate(acc, axis=0)
    backend.over_batch(xp, n, body)
    parts = [partial[k] for k in sorted(partial)]  # fixed order, so the sum is the same on every run
    total = parts[0]
    for p in parts[1:]:
        total += p
    return total.reshape(w_shape)


# The three Functions below serve every convolution; what differs between 2-D and N-d (ops/convnd.py) is only the
# kernels, passed in as this triple and handed on to the Functions that backward builds.
Kernels = namedtuple("Kernels", "forward backward_data backward_filter")
KERNELS_2D = Kernels(conv_forward, conv_backward_data, conv_backward_filter)


class Conv(Function):
    """y[n,o,p] = b[o] + Σ_(c,i) x_pad[n, c, p·s + i·d] · W[o,c,i]   (p, i multi-indices, (p,q) and (i,j) in 2-D;
    c within o's group)
    dx = convT(gy, W);  dW = gradW(x, gy);  db = Σ_(n,p) gy   (the bias is optional)"""

    def __init__(self, cfg, out=None, kernels=KERNELS_2D):
        self.cfg, self.out, self.kernels = cfg, out, kernels

    def forward(self, x, w, b=None):
        return self.kernels.forward(x, w, self.cfg, self.out, b)

    def backward(self, gy):
        x, w = self.inputs[:2]
        needs = self.needs_input_grad
        grads = (ConvTranspose(self.cfg, x.shape, self.kernels)(gy, w) if needs[0] else None,
                 ConvWeightGrad(self.cfg, w.shape, self.kernels)(x, gy) if needs[1] else None)
        if len(needs) == 3:  # summing each sample's contiguous rows first is much faster than a strided reduce
            grads += (gy.reshape(gy.shape[0], gy.shape[1], -1).sum(2).sum(0) if needs[2] else None,)
        return grads


class ConvTranspose(Function):
    """z = convT(g, W), the adjoint of conv in its input (x_shape says which input size);
    dg = conv(gz, W);  dW = gradW(gz, g)"""

    def __init__(self, cfg, x_shape, kernels=KERNELS_2D):
        self.cfg, self.x_shape, self.kernels = cfg, tuple(x_shape), kernels

    def forward(self, g, w):
        return self.kernels.backward_data(g, w, self.x_shape, self.cfg)

    def backward(self, gz):
        g, w = self.inputs
        ng, nw = self.needs_input_grad
        return (Conv(self.cfg, g.shape[2:], self.kernels)(gz, w) if ng else None,
                ConvWeightGrad(self.cfg, w.shape, self.kernels)(gz, g) if nw else None)


class ConvWeightGrad(Function):
    """v = gradW(x, g)[o,c,i] = Σ_(n,p) g[n,o,p] · x_pad[n, c, p·s + i·d]
    dx = convT(g, gv);  dg = conv(x, gv)"""

    def __init__(self, cfg, w_shape, kernels=KERNELS_2D):
        self.cfg, self.w_shape, self.kernels = cfg, tuple(w_shape), kernels

    def forward(self, x, g):
        return self.kernels.backward_filter(x, g, self.w_shape, self.cfg)

    def backward(self, gv):
        x, g = self.inputs
        nx, ng = self.needs_input_grad
        return (ConvTranspose(self.cfg, x.shape, self.kernels)(g, gv) if nx else None,
                Conv(self.cfg, g.shape[2:], self.kernels)(x, gv) if ng else None)


Conv2d, ConvTranspose2d = Conv, ConvTranspose  # the names nn.functional uses (2-D kernels by default)
