"""N-d convolution (3-D volumes, or any number of spatial dims) as im2col + one GEMM per group, and its adjoints.

The 2-D path (ops/conv.py) is tuned for the reference CNN; this is the same method written once for D spatial dims:
im2col is a zero-copy `as_strided` view of the padded input, shape (N, C, k_1..k_D, O_1..O_D), whose element
(n, c, i.., p..) is x_pad[n, c, p_1·s_1 + i_1·d_1, ...]. Copied to columns (N, C·Πk, ΠO) it makes the convolution

    y[n, o, p] = Σ_(c,i) W[o, (c,i)] · col[n, (c,i), p]          (a batched GEMM per group)

The adjoint in x (col2im) adds the columns W_gᵀ @ gy back one kernel offset i at a time, each a strided slice-add.
As in 2-D, the three linear maps close under differentiation, so conv is differentiable to any order; the Functions
are conv.py's, given these kernels:
    y = conv(x, W):  dx = convT(gy, W),  dW = gradW(x, gy)
    z = convT(g, W): dg = conv(gz, W),   dW = gradW(gz, g)
    v = gradW(x, g): dx = convT(g, gv),  dg = conv(x, gv)
"""
import functools
import itertools
import math
from collections import namedtuple

from .. import backend
from . import conv as _conv2d

NdCfg = namedtuple("NdCfg", "stride padding dilation groups")   # tuples of D ints, and an int


def out_sizes(spatial, k, cfg):
    """PyTorch's floor rule per dim: (size + 2p − d(k − 1) − 1) // s + 1."""
    return tuple(_conv2d.out_size(n, kk, s, p, d)
                 for n, kk, s, p, d in zip(spatial, k, cfg.stride, cfg.padding, cfg.dilation))


def _pad(xp, x, p):
    if not any(p):
        return x
    out = xp.zeros(x.shape[:2] + tuple(n + 2 * q for n, q in zip(x.shape[2:], p)), dtype=x.dtype)
    out[(slice(None), slice(None)) + tuple(slice(q, q + n) for n, q in zip(x.shape[2:], p))] = x
    return out


def _columns(xp, x_pad, k, out, cfg):
    """(n, C·Πk, ΠO) columns of a padded block: the as_strided window view copied in its own order."""
    n, c = x_pad.shape[:2]
    s_n, s_c, *s_sp = x_pad.strides
    view = xp.lib.stride_tricks.as_strided(
        x_pad, (n, c) + tuple(k) + tuple(out),
        (s_n, s_c) + tuple(st * d for st, d in zip(s_sp, cfg.dilation)) +
        tuple(st * s for st, s in zip(s_sp, cfg.stride)))
    return view.reshape(n, c * math.prod(k), math.prod(out))


def _offset_slices(i, out, cfg):
    """Where kernel offset i's column entries land in the padded input: one strided slice per spatial dim."""
    return tuple(slice(ii * d, ii * d + s * (o - 1) + 1, s) for ii, o, s, d in zip(i, out, cfg.stride, cfg.dilation))


def _blocks(n, per_sample_bytes):
    return backend.chunks(0, n, per_sample_bytes, _conv2d.IM2COL_LIMIT_BYTES)


def conv_forward(x, w, cfg, out=None, bias=None):
    """y = conv(x, W) + b: (N, C, *S) * (O, C/g, *k) -> (N, O, *out), one batched GEMM per group and batch chunk."""
    xp = backend.get_array_module(x)
    n, o, cg, k = x.shape[0], w.shape[0], w.shape[1], w.shape[2:]
    out = tuple(out or out_sizes(x.shape[2:], k, cfg))
    g, og, L = cfg.groups, o // cfg.groups, math.prod(out)
    y = xp.empty((n, o, L), dtype=x.dtype)
    w2 = [w[j * og:(j + 1) * og].reshape(og, -1) for j in range(g)]
    for b0, b1 in _blocks(n, cg * math.prod(k) * L * x.itemsize):
        x_pad = _pad(xp, x[b0:b1], cfg.padding)
        for j in range(g):
            col = _columns(xp, x_pad[:, j * cg:(j + 1) * cg], k, out, cfg)
            y[b0:b1, j * og:(j + 1) * og] = xp.matmul(w2[j], col)
    if bias is not None:
        y += bias[:, None]
    return y.reshape((n, o) + out)


def conv_backward_data(gy, w, x_shape, cfg):
    """dx = convT(gy, W): columns W_gᵀ @ gy_g, added back (col2im) one kernel offset at a time."""
    xp = backend.get_array_module(gy)
    n, c, o, cg, k, out = x_shape[0], x_shape[1], w.shape[0], w.shape[1], w.shape[2:], gy.shape[2:]
    g, og, L = cfg.groups, o // cfg.groups, math.prod(out)
    gx = xp.zeros((n, c) + tuple(s + 2 * p for s, p in zip(x_shape[2:], cfg.padding)), dtype=gy.dtype)
    w2t = [w[j * og:(j + 1) * og].reshape(og, -1).T for j in range(g)]
    offsets = list(itertools.product(*(range(kk) for kk in k)))
    for b0, b1 in _blocks(n, cg * math.prod(k) * L * gy.itemsize):
        for j in range(g):
            g_j = gy[b0:b1, j * og:(j + 1) * og].reshape(b1 - b0, og, L)
            col = xp.matmul(w2t[j], g_j).reshape((b1 - b0, cg) + tuple(k) + tuple(out))
            target = gx[b0:b1, j * cg:(j + 1) * cg]
            for i in offsets:
                target[(slice(None), slice(None)) + _offset_slices(i, out, cfg)] += \
                    col[(slice(None), slice(None)) + i]
    if any(cfg.padding):
        gx = gx[(slice(None), slice(None)) + tuple(slice(p, p + s) for s, p in zip(x_shape[2:], cfg.padding))]
    return gx


def conv_backward_filter(x, gy, w_shape, cfg):
    """dW = gradW(x, gy):  dW_g = Σ_n gy_n,g (O/g, ΠO) @ col_n,gᵀ."""
    xp = backend.get_array_module(x)
    n, o, cg, k, out = x.shape[0], w_shape[0], w_shape[1], w_shape[2:], gy.shape[2:]
    g, og, L = cfg.groups, o // cfg.groups, math.prod(out)
    gw = xp.zeros((o, cg * math.prod(k)), dtype=x.dtype)
    for b0, b1 in _blocks(n, cg * math.prod(k) * L * x.itemsize):
        x_pad = _pad(xp, x[b0:b1], cfg.padding)
        for j in range(g):
            col = _columns(xp, x_pad[:, j * cg:(j + 1) * cg], k, out, cfg)
            g_j = gy[b0:b1, j * og:(j + 1) * og].reshape(b1 - b0, og, L)
            gw[j * og:(j + 1) * og] += xp.matmul(g_j, col.transpose(0, 2, 1)).sum(axis=0)
    return gw.reshape(w_shape)


KERNELS_ND = _conv2d.Kernels(conv_forward, conv_backward_data, conv_backward_filter)

# conv.py's three Functions (forward and backward math in their docstrings), given these kernels
ConvNd = functools.partial(_conv2d.Conv, kernels=KERNELS_ND)                      # (cfg, out=None)
ConvTransposeNd = functools.partial(_conv2d.ConvTranspose, kernels=KERNELS_ND)    # (cfg, x_shape)
ConvWeightGradNd = functools.partial(_conv2d.ConvWeightGrad, kernels=KERNELS_ND)  # (cfg, w_shape)
