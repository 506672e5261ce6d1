"""The N-d convolution kernels (3-D volumes, or any number of spatial dims): im2col + one GEMM per group, and col2im.
One route of ops/conv.py (`choose_route`), which states the math; the readable twin is ops/conv_reference.py.

The same method as the tuned 2-D kernels (ops/conv_kernels.py), written once for D spatial dims: im2col is a
zero-copy `as_strided` view of the padded input, shape (N, C, k_1..k_D, O_1..O_D), whose element (n, c, i.., p..)
is x_pad[n, c, p_1·s_1 + i_1·d_1, ...]. Copied to columns (N, C·Πk, ΠO) it makes the convolution

    y[n, o, p] = Σ_(c,i) W[o, (c,i)] · col[n, (c,i), p]          (a batched GEMM per group)

The adjoint in x (col2im) adds the columns W_gᵀ @ gy back one kernel offset i at a time, each a strided slice-add.
"""
import itertools
import math

from .. import backend
from . import conv_kernels


def _pad(xp, x, p):
    if not any(p):
        return x
    out = xp.zeros(x.shape[:2] + tuple(n + 2 * q for n, q in zip(x.shape[2:], p)), dtype=x.dtype)
    out[(slice(None), slice(None)) + tuple(slice(q, q + n) for n, q in zip(x.shape[2:], p))] = x
    return out


def _columns(xp, x_pad, geom):
    """(n, C·Πk, ΠO) columns of a padded block: the as_strided window view copied in its own order."""
    n, c = x_pad.shape[:2]
    s_n, s_c, *s_sp = x_pad.strides
    view = xp.lib.stride_tricks.as_strided(
        x_pad, (n, c) + geom.k + geom.out,
        (s_n, s_c) + tuple(st * d for st, d in zip(s_sp, geom.dilation)) +
        tuple(st * s for st, s in zip(s_sp, geom.stride)))
    return view.reshape(n, c * math.prod(geom.k), math.prod(geom.out))


def _offset_slices(i, geom):
    """Where kernel offset i's column entries land in the padded input: one strided slice per spatial dim."""
    return tuple(slice(ii * d, ii * d + s * (o - 1) + 1, s)
                 for ii, o, s, d in zip(i, geom.out, geom.stride, geom.dilation))


def _blocks(geom, itemsize):
    return backend.chunks(0, geom.n, geom.column_bytes(itemsize), conv_kernels.IM2COL_LIMIT_BYTES)


def forward(x, w, geom, bias=None):
    """y = conv(x, W) + b: (N, C, *S) * (O, C/G, *k) -> (N, O, *out), one batched GEMM per group and batch chunk."""
    xp = backend.get_array_module(x)
    cg, og, L = geom.cg, geom.og, math.prod(geom.out)
    y = xp.empty((geom.n, geom.o, L), dtype=x.dtype)
    w2 = [w[j * og:(j + 1) * og].reshape(og, -1) for j in range(geom.groups)]
    for b0, b1 in _blocks(geom, x.itemsize):
        x_pad = _pad(xp, x[b0:b1], geom.padding)
        for j in range(geom.groups):
            col = _columns(xp, x_pad[:, j * cg:(j + 1) * cg], geom)
            y[b0:b1, j * og:(j + 1) * og] = xp.matmul(w2[j], col)
    if bias is not None:
        y += bias[:, None]
    return y.reshape(geom.y_shape)


def backward_data(gy, w, geom):
    """dx = convT(gy, W): columns W_gᵀ @ gy_g, added back (col2im) one kernel offset at a time."""
    xp = backend.get_array_module(gy)
    cg, og, L, k, out = geom.cg, geom.og, math.prod(geom.out), geom.k, geom.out
    gx = xp.zeros((geom.n, geom.c) + tuple(s + 2 * p for s, p in zip(geom.size, geom.padding)), dtype=gy.dtype)
    w2t = [w[j * og:(j + 1) * og].reshape(og, -1).T for j in range(geom.groups)]
    offsets = list(itertools.product(*(range(kk) for kk in k)))
    for b0, b1 in _blocks(geom, gy.itemsize):
        for j in range(geom.groups):
            g_j = gy[b0:b1, j * og:(j + 1) * og].reshape(b1 - b0, og, L)
            col = xp.matmul(w2t[j], g_j).reshape((b1 - b0, cg) + k + out)
            target = gx[b0:b1, j * cg:(j + 1) * cg]
            for i in offsets:
                target[(slice(None), slice(None)) + _offset_slices(i, geom)] += col[(slice(None), slice(None)) + i]
    if any(geom.padding):
        gx = gx[(slice(None), slice(None)) + tuple(slice(p, p + s) for s, p in zip(geom.size, geom.padding))]
    return gx


def backward_filter(x, gy, geom):
    """dW = gradW(x, gy):  dW_r = Σ_n gy_n,r (O/G, ΠO) @ col_n,rᵀ for each group r of the G."""
    xp = backend.get_array_module(x)
    cg, og, L = geom.cg, geom.og, math.prod(geom.out)
    gw = xp.zeros((geom.o, cg * math.prod(geom.k)), dtype=x.dtype)
    for b0, b1 in _blocks(geom, x.itemsize):
        x_pad = _pad(xp, x[b0:b1], geom.padding)
        for j in range(geom.groups):
            col = _columns(xp, x_pad[:, j * cg:(j + 1) * cg], geom)
            g_j = gy[b0:b1, j * og:(j + 1) * og].reshape(b1 - b0, og, L)
            gw[j * og:(j + 1) * og] += conv_kernels.weight_product(xp, g_j, col)
    return gw.reshape(geom.w_shape)
