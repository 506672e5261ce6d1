"""Winograd F(2×2, 3×3): a 3×3 stride-1 convolution with 16 multiplies per 2×2 output tile where im2col makes 36
(2.25x fewer), as cuDNN and oneDNN do; one route of ops/conv.py (`choose_route`) for deep convs on large maps (VGG's
256- and 512-channel layers). Its readable twin is plain im2col + matmul (ops/conv_reference.py).

Cut the output into 2×2 tiles; tile t reads a 4×4 patch d_c of each padded input channel (patches overlap by 2).
With the transforms (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2016)

    Bᵀ = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]     V[ξ, c, t] = (Bᵀ d_c B)[ξ]   (ξ: 4×4)
    G  = [[1, 0, 0], [½, ½, ½], [½, -½, ½], [0, 0, 1]]                   U[ξ, o, c] = (G W[o, c] Gᵀ)[ξ]
    Aᵀ = [[1, 1, 1, 0], [0, 1, -1, -1]]                                  y_tile[o] = Aᵀ M[:, o, t] A

the products are 16 GEMMs, one per frequency ξ:  Mᵀ[ξ] = Vᵀ[ξ] (tiles × C) @ Uᵀ[ξ] (C × O). Bᵀ and Aᵀ hold
only 0 and ±1, so the input and output transforms are additions (a few passes over the data each), and G's halves are
exact: float32 rounding stays that of a direct sum (relative error ~1e-7; F(4×4, 3×3) would cut the products 4x
but its transforms amplify rounding ~10x, so it is not used).

The input grad of a "same" conv is the conv of gy with the flipped, transposed kernel (ops/conv.py
`adjoint_as_conv`), so it runs here too: flipping W reverses the 9 kernel taps, a reversed column order of the
weight transform, and transposing it is a transposed view of U. The weight grad is im2col's (frozen networks, as in
style transfer, never ask for it).
"""
import numpy

from .. import backend
from . import conv_kernels

_G = numpy.array([[1, 0, 0], [.5, .5, .5], [.5, -.5, .5], [0, 0, 1]])
# U[ξ = (a, b)] = Σ_(i, j) G[a, i] G[b, j] W[i, j]: the weight transform as one (16 × 9) matrix on the taps.
_KRON = numpy.kron(_G, _G)
# choose_route takes this route for convs with at least this many input and output channels (with fewer, the
# transforms' passes over the data cost about what the products save: VGG's 64-channel layers) ...
MIN_CHANNELS = 128
# ... at least this many output pixels per output channel in the batch: the weight transform (16·O·C values, a pass
# over W per call) is then small beside the products it saves; VGG's 512 × 512 layer on 16×16 stays on im2col ...
MIN_PIXELS_PER_CHANNEL = 2
# ... and maps of at least this many tiles (2×2 output places) per image, so that a band's GEMMs are wide enough.
MIN_MAP_TILES = 128
# Blocks of W transformed at a time (a copy of each when transposed; VGG's 512 × 512 W is 9 MB).
WEIGHT_BLOCK_BYTES = 2**20
# Tile rows per band: at least this many tiles a band, so that the 16 GEMMs have enough rows for BLAS.
MIN_BAND_TILES = 128


def applies(geom):
    """Whether this route computes the conv: 2-D, 3×3, stride 1, undilated, one group, output the floor rule's."""
    return (geom.ndim == 2 and geom.k == (3, 3) and geom.stride == (1, 1) and geom.dilation == (1, 1)
            and geom.groups == 1 and geom.out == tuple(s + 2 * p - 2 for s, p in zip(geom.size, geom.padding)))


def worth_it(geom, xp):
    """On the CPU, for deep convs (≥ MIN_CHANNELS in and out) on maps large enough for the weight transform and
    BLAS (see the constants; measured in benchmarks/README.md, "Convolution routes")."""
    per_image = geom.out[0] * geom.out[1]
    return (xp is numpy and applies(geom) and min(geom.c, geom.o) >= MIN_CHANNELS
            and geom.n * per_image >= MIN_PIXELS_PER_CHANNEL * geom.o and per_image >= 4 * MIN_MAP_TILES)


def weight_transform(w, flipped=False, transposed=False):
    """U (16, O, C) from W (O, C, 3, 3): a GEMM with the (16 × 9) matrix kron(G, G), in blocks of output channels
    split over the threads (BLAS left to run on several threads here, its idle ones spin: 1.5x the CPU time of a
    whole style evaluation on 2 threads). `flipped`: the transform of W[o, c, 2 − i, 2 − j] (the taps reversed);
    `transposed`: Uᵀ (16, C, O), from W with o and c swapped a block at a time (no whole copy of W at once)."""
    xp = backend.get_array_module(w)
    src = w.transpose(1, 0, 2, 3) if transposed else w
    rows, cols = src.shape[:2]
    kron = xp.asarray(_KRON[:, ::-1] if flipped else _KRON, dtype=w.dtype)
    u = xp.empty((16, rows, cols), dtype=w.dtype)
    block = max(1, WEIGHT_BLOCK_BYTES // (cols * 9 * w.itemsize))

    def part(r0, r1):
        for a, b in conv_kernels.even_blocks(r0, r1, block):
            taps = src[a:b].reshape((b - a) * cols, 9)     # a copy of the block when transposed
            xp.matmul(kron, taps.T, out=u[:, a:b].reshape(16, (b - a) * cols))
    backend.over_batch(xp, rows, part, min_items=16)
    return u


def forward(x, w, geom, bias=None):
    """y = conv(x, W) + b by 16 GEMMs on transformed tiles. Uᵀ is made as the transform of W with o and c swapped:
    the GEMMs ran ~10% faster on it than on the transposed view of U (128 → 128 on 128²: 45.6 vs 50.8 ms)."""
    return _run(x, weight_transform(w, transposed=True), geom, bias)


def backward_data(gy, w, geom):
    """dx = convT(gy, W): for a "same" conv the conv of gy with W̃[c, o] = W[o, c] flipped (whose transform,
    transposed, is the flipped transform of W as it is), else col2im (conv_kernels.backward_data)."""
    flipped = geom.adjoint_as_conv()
    if flipped is None or not applies(flipped):
        return conv_kernels.backward_data(gy, w, geom)
    return _run(gy, weight_transform(w, flipped=True), flipped)


def backward_filter(x, gy, geom):
    """dW = gradW(x, gy): im2col's (conv_kernels.backward_filter)."""
    return conv_kernels.backward_filter(x, gy, geom)


def _parity_planes(xp, x, geom, th, tw):
    """x zero-padded to (2·th + 2) × (2·tw + 2), channels last, split into its even and odd columns: planes
    (2, N, 2th + 2, tw + 1, C). Channels last, every pass of the transforms runs over long contiguous rows (tw·C
    values; a channels-first tile row of 8 to 32 values left NumPy's loop overhead several times the work)."""
    n, c, h, w_in = x.shape
    ph, pw = geom.padding
    planes = xp.zeros((2, n, 2 * th + 2, tw + 1, c), dtype=x.dtype)
    x_last = x.transpose(0, 2, 3, 1)
    for parity in (0, 1):
        first = (parity - pw) % 2               # x's columns j with (j + pw) % 2 == parity
        cols = x_last[:, :, first::2]
        k0 = (first + pw - parity) // 2
        planes[parity, :, ph:ph + h, k0:k0 + cols.shape[2]] = cols
    return planes


def _input_transform(xp, even, odd, a, b, tw, v, u):
    """V (4, 4, b − a, tw, C) for tile rows [a, b): Bᵀ d B, first along each tile's columns (into u), then along
    its rows. even/odd: one sample's parity planes (rows, tw + 1, C)."""
    r0, r1 = 2 * a, 2 * b + 2
    d0, d1, d2, d3 = even[r0:r1, :tw], odd[r0:r1, :tw], even[r0:r1, 1:], odd[r0:r1, 1:]
    xp.subtract(d0, d2, out=u[0])
    xp.add(d1, d2, out=u[1])
    xp.subtract(d2, d1, out=u[2])
    xp.subtract(d1, d3, out=u[3])
    t = b - a
    for col in range(4):
        e0, e1, e2, e3 = (u[col][i:i + 2 * t:2] for i in range(4))
        xp.subtract(e0, e2, out=v[0, col])
        xp.add(e1, e2, out=v[1, col])
        xp.subtract(e2, e1, out=v[2, col])
        xp.subtract(e1, e3, out=v[3, col])


def _output_transform(xp, m, y, z, tmp):
    """y (2t, 2tw, O) = Aᵀ M A per tile, M (4, 4, t, tw, O): along the tile's columns into z (2, 4, t, tw, O),
    then along its rows, each 2×2 output place written to its strided slice of y."""
    for a in range(4):
        xp.add(m[a, 1], m[a, 2], out=tmp)
        xp.add(tmp, m[a, 0], out=z[0, a])
        xp.subtract(m[a, 1], m[a, 2], out=tmp)
        xp.subtract(tmp, m[a, 3], out=z[1, a])
    for q in range(2):
        xp.add(z[q, 1], z[q, 2], out=tmp)
        xp.add(tmp, z[q, 0], out=y[0::2, q::2])
        xp.subtract(z[q, 1], z[q, 2], out=tmp)
        xp.subtract(tmp, z[q, 3], out=y[1::2, q::2])


def _run(x, ut, geom, bias=None):
    """y = conv(x, W) with Uᵀ = W's transform, (16, C, O): per sample and band of tile rows, the input
    transform, 16 GEMMs Vᵀ[ξ] (tiles × C) @ Uᵀ[ξ] (C × O) and the output transform, channels last while the
    band is in cache, then the band moved to NCHW; threads over the batch, or over the bands when the batch is
    smaller than the thread count."""
    xp = backend.get_array_module(x)
    (oh, ow), c, o = geom.out, ut.shape[1], ut.shape[2]
    th, tw = -(-oh // 2), -(-ow // 2)
    planes = _parity_planes(xp, x, geom, th, tw)
    y = xp.empty((geom.n, o, 2 * th, 2 * tw), dtype=x.dtype)
    band = max(1, min(th, -(-MIN_BAND_TILES // tw)))
    threads = backend.num_threads()
    if xp is numpy and geom.n < threads:   # bands for every thread, however narrow
        band = max(1, min(band, -(-th // threads)))

    def body(n, a, b):
        t, dt = b - a, x.dtype
        v = xp.empty((4, 4, t, tw, c), dtype=dt)
        _input_transform(xp, planes[0, n], planes[1, n], a, b, tw, v, xp.empty((4, 2 * t + 2, tw, c), dtype=dt))
        m = xp.matmul(v.reshape(16, t * tw, c), ut).reshape(4, 4, t, tw, o)
        rows = xp.empty((2 * t, 2 * tw, o), dtype=dt)
        _output_transform(xp, m, rows, xp.empty((2, 4, t, tw, o), dtype=dt), xp.empty((t, tw, o), dtype=dt))
        if bias is None:
            y[n, :, 2 * a:2 * b] = rows.transpose(2, 0, 1)
        else:   # added on the way to NCHW: no pass of its own
            xp.add(rows.transpose(2, 0, 1), bias[:, None, None], out=y[n, :, 2 * a:2 * b])

    blocks = conv_kernels.even_blocks(0, th, band)
    if xp is not numpy or geom.n >= threads:
        def samples(n0, n1):
            for n in range(n0, n1):
                for a, b in blocks:
                    body(n, a, b)
        backend.over_batch(xp, geom.n, samples, min_items=1)
    else:
        def bands(i0, i1):
            for n in range(geom.n):
                for a, b in blocks[i0:i1]:
                    body(n, a, b)
        backend.parallel_for(len(blocks), bands, min_items=1)
    if (2 * th, 2 * tw) != (oh, ow):   # an odd output size: the last tile's extra row or column is dropped
        return xp.ascontiguousarray(y[:, :, :oh, :ow])
    return y
