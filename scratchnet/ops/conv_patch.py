"""Convolution whose kernel tiles its input without overlap (kernel = stride, no padding, no dilation, one group):
the U-Net's and the DCGAN's 2×2 stride-2 transposed convs, and patch embeddings. One route of ops/conv.py.

With the input cut into kh×kw tiles, tile (p, q) of channel c holds every value that output place (p, q) reads:

    cols[n, (c,i,j), (p,q)] = x[n, c, p·kh + i, q·kw + j]

so im2col is a reshape and one transposed copy (no window overlaps, so nothing is read twice), and col2im, the
transposed conv's forward, writes each output value exactly once: no zero fill and no additions, where the
general col2im (ops/conv_kernels.py) zeroes its output and adds kh·kw strided slices into it. Rows and columns past
the last whole tile (the floor rule's remainder) are read by no output place: their gradient is 0.

    y = conv(x, W):     y_n  = W (O, C·kh·kw) @ cols_n            (+ b)
    z = convT(g, W):    cols_n = Wᵀ @ g_n, each entry put back at its one place in z
    v = gradW(x, g):    v  = Σ_n g_n @ cols_nᵀ

Readable twin: ops/conv_reference.py, as for every route (tests/test_reference_kernels.py compares them).
"""
from .. import backend
from . import conv_kernels

# Samples whose tiles stay in cache between the copy and the GEMM.
CACHE_BLOCK_BYTES = 2 * 2**20


def applies(geom):
    """Kernel = stride, no padding, no dilation, one group, 2-D; not 1×1 stride 1, which im2col already runs as one
    GEMM on the input itself (its columns are a view)."""
    return (geom.ndim == 2 and geom.k == geom.stride and geom.k != (1, 1) and geom.padding == (0, 0)
            and geom.dilation == (1, 1) and geom.groups == 1)


def _blocks(xp, n, per_sample_bytes):
    """Ranges of samples that fit the cache block; the whole range on a GPU (no cache to fit)."""
    if xp is not backend.numpy:
        return [(0, n)]
    return backend.chunks(0, n, per_sample_bytes, CACHE_BLOCK_BYTES)


def _tiles(xp, x, geom):
    """The zero-copy view (n, C, OH, kh, OW, kw) of x's whole tiles: element (n, c, p, i, q, j) is
    x[n, c, p·kh + i, q·kw + j]."""
    (kh, kw), (oh, ow) = geom.k, geom.out
    s_n, s_c, s_h, s_w = x.strides
    return xp.lib.stride_tricks.as_strided(x, (x.shape[0], x.shape[1], oh, kh, ow, kw),
                                           (s_n, s_c, s_h * kh, s_h, s_w * kw, s_w))


def _columns(xp, x, geom):
    """cols (n, C·kh·kw, OH·OW): one transposed copy of the tiles."""
    n, c = x.shape[:2]
    return _tiles(xp, x, geom).transpose(0, 1, 3, 5, 2, 4).reshape(n, c * geom.k[0] * geom.k[1], -1)


def forward(x, w, geom, bias=None):
    """y = W @ cols per sample (+ b), a cache block of samples at a time."""
    xp = backend.get_array_module(x)
    y = xp.empty((geom.n, geom.o, geom.out[0] * geom.out[1]), dtype=x.dtype)
    w2 = w.reshape(geom.o, -1)

    def body(b0, b1):
        for n0, n1 in _blocks(xp, b1 - b0, geom.column_bytes(x.itemsize)):
            n0, n1 = b0 + n0, b0 + n1
            xp.matmul(w2, _columns(xp, x[n0:n1], geom), out=y[n0:n1])
            if bias is not None:
                y[n0:n1] += bias[:, None]
    backend.over_batch(xp, geom.n, body)
    return y.reshape(geom.y_shape)


def backward_data(gy, w, geom, bias=None):
    """dx = convT(gy, W) (+ b per channel): cols = Wᵀ @ gy_n, each entry written to its one place (zeros only past
    the last tile; the bias is added to the columns while they are in cache, so there too only as an output)."""
    xp = backend.get_array_module(gy)
    (kh, kw), (oh, ow), (h, w_in) = geom.k, geom.out, geom.size
    covered = (h, w_in) == (oh * kh, ow * kw)
    dx = xp.empty(geom.x_shape, dtype=gy.dtype)
    if not covered:
        dx[...] = 0 if bias is None else bias.reshape(-1, 1, 1)
    w2t = w.reshape(geom.o, -1).T
    g3 = gy.reshape(geom.n, geom.o, geom.out[0] * geom.out[1])   # not -1: an empty batch has no size to infer

    def body(b0, b1):
        for n0, n1 in _blocks(xp, b1 - b0, geom.column_bytes(gy.itemsize)):
            n0, n1 = b0 + n0, b0 + n1
            cols = xp.matmul(w2t, g3[n0:n1]).reshape(n1 - n0, geom.c, kh, kw, oh, ow)
            if bias is not None:
                cols += bias.reshape(-1, 1, 1, 1, 1)
            _tiles(xp, dx[n0:n1], geom)[...] = cols.transpose(0, 1, 4, 2, 5, 3)
    backend.over_batch(xp, geom.n, body)
    return dx


def backward_filter(x, gy, geom):
    """dW = Σ_n gy_n @ cols_nᵀ; each thread sums its samples, the threads' sums are added in sample order."""
    xp = backend.get_array_module(x)
    if geom.n == 0:
        return xp.zeros(geom.w_shape, dtype=x.dtype)
    g3 = gy.reshape(geom.n, geom.o, geom.out[0] * geom.out[1])   # not -1: an empty batch has no size to infer
    partial = {}

    def body(b0, b1):
        acc = None
        for n0, n1 in _blocks(xp, b1 - b0, geom.column_bytes(x.itemsize)):
            n0, n1 = b0 + n0, b0 + n1
            part = conv_kernels.weight_product(xp, g3[n0:n1], _columns(xp, x[n0:n1], geom))
            acc = part if acc is None else acc + part
        partial[b0] = acc
    backend.over_batch(xp, geom.n, body)
    parts = [partial[k] for k in sorted(partial)]
    total = parts[0]
    for p in parts[1:]:
        total = total + p
    return total.reshape(geom.w_shape)
