"""Readable twins of the convolution kernels: conv as a differentiable Im2Col and one matmul, as in DeZero's
`conv2d_simple`, so autograd derives dx (through Col2Im, Im2Col's adjoint) and dW (through the matmul) by itself.

`scratchnet.use_kernels("reference")` runs every convolution (and, through the same Im2Col, pooling) on these;
tests/test_reference_kernels.py checks them against the fast routes of ops/conv.py. With x_pad the padded input,

    cols[n, c, i, p] = x_pad[n, c, p·s + i·d]                 (Im2Col: one column of Πk values per output place p)
    y[n, r, :, p]    = W_r (O/G × Cg·Πk) @ cols[n, r, :, p]   (one matmul per group r of the G groups) + b

Im2Col is linear, and its adjoint adds every column entry back where it was read from (Col2Im); the adjoint of
Col2Im is Im2Col again, so the twin is differentiable to any order, like the fast Functions.
"""
import itertools
import math

from .. import backend
from ..autograd import Function
from .linalg import matmul
from .getitem import getitem
from .pad import pad
from .shape import reshape, transpose


def _offsets(k):
    """Every kernel offset i (a tuple, one entry per spatial dim), in row-major order."""
    return itertools.product(*(range(kk) for kk in k))


def _window_slices(i, stride, dilation, out):
    """x_pad[:, :, these] holds, at output place p, the entry p·s + i·d: one strided slice per spatial dim."""
    return (slice(None), slice(None)) + tuple(slice(ii * d, ii * d + s * (o - 1) + 1, s)
                                              for ii, s, d, o in zip(i, stride, dilation, out))


class Im2Col(Function):
    """cols[n, c, i, p] = x[n, c, p·s + i·d] for a padded x (N, C, *S): (N, C, Πk, ΠO);  dx = Col2Im(gcols)"""

    keeps_inputs = False

    def __init__(self, k, stride, dilation, out):
        self.k, self.stride, self.dilation, self.out = tuple(k), tuple(stride), tuple(dilation), tuple(out)

    def forward(self, x):
        xp = backend.get_array_module(x)
        n, c = x.shape[:2]
        cols = xp.empty((n, c, math.prod(self.k), math.prod(self.out)), dtype=x.dtype)
        for col, i in enumerate(_offsets(self.k)):
            cols[:, :, col] = x[_window_slices(i, self.stride, self.dilation, self.out)].reshape(
                n, c, cols.shape[3])  # not -1: an empty batch (n = 0) has no size to infer
        return cols

    def backward(self, gcols):
        return Col2Im(self.k, self.stride, self.dilation, self.out, self.inputs[0].shape[2:])(gcols)


class Col2Im(Function):
    """x[n, c, p·s + i·d] += cols[n, c, i, p] into zeros of spatial size `size` (Im2Col's adjoint);
    dcols = Im2Col(gx)"""

    keeps_inputs = False

    def __init__(self, k, stride, dilation, out, size):
        self.k, self.stride, self.dilation, self.out = tuple(k), tuple(stride), tuple(dilation), tuple(out)
        self.size = tuple(size)

    def forward(self, cols):
        xp = backend.get_array_module(cols)
        n, c = cols.shape[:2]
        x = xp.zeros((n, c) + self.size, dtype=cols.dtype)
        for col, i in enumerate(_offsets(self.k)):
            x[_window_slices(i, self.stride, self.dilation, self.out)] += cols[:, :, col].reshape((n, c) + self.out)
        return x

    def backward(self, gx):
        return Im2Col(self.k, self.stride, self.dilation, self.out)(gx)


def zero_pad(x, padding, extra=None, value=0.0):
    """x with `padding` entries of `value` on both sides of each spatial dim (and `extra` more at the end)."""
    extra = extra or (0,) * len(padding)
    widths = [w for p, e in zip(reversed(padding), reversed(extra)) for w in (p, p + e)]
    return pad(x, widths, value=value) if any(widths) else x


def _out(size, k, cfg):
    """PyTorch's floor rule per spatial dim: (size + 2p − d(k − 1) − 1) // s + 1."""
    return tuple((n + 2 * p - d * (kk - 1) - 1) // s + 1
                 for n, kk, s, p, d in zip(size, k, cfg.stride, cfg.padding, cfg.dilation))


def conv(x, w, b, cfg):
    """y = W_r @ Im2Col(x_pad) per group r, + b. x (N, C, *S), w (O, C/G, *k), b (O,) or None."""
    n, o, groups, k = x.shape[0], w.shape[0], cfg.groups, w.shape[2:]
    out = _out(x.shape[2:], k, cfg)
    cols = Im2Col(k, cfg.stride, cfg.dilation, out)(zero_pad(x, cfg.padding))               # (N, C, Πk, ΠO)
    cols = reshape(cols, (n, groups, cols.shape[1] // groups * cols.shape[2], cols.shape[3]))  # (N, G, Cg·Πk, ΠO)
    y = matmul(reshape(w, (groups, o // groups, -1)), cols)                                  # (N, G, O/G, ΠO)
    y = reshape(y, (n, o) + out)
    return y if b is None else y + reshape(b, (1, o) + (1,) * len(k))


def conv_transpose(g, w, cfg, x_shape, b=None):
    """z = convT(g, W) (+ b), the adjoint of conv(·, W) for inputs of shape x_shape: Col2Im(W_rᵀ @ g_r) per group r,
    cropped."""
    n, o, groups, k = g.shape[0], w.shape[0], cfg.groups, w.shape[2:]
    out, size = g.shape[2:], x_shape[2:]
    gg = reshape(g, (n, groups, o // groups, math.prod(out)))                                # (N, G, O/G, ΠO)
    cols = matmul(transpose(reshape(w, (groups, o // groups, -1)), 1, 2), gg)                # (N, G, Cg·Πk, ΠO)
    cols = reshape(cols, (n, x_shape[1], math.prod(k), math.prod(out)))
    padded = tuple(s + 2 * p for s, p in zip(size, cfg.padding))
    z = Col2Im(k, cfg.stride, cfg.dilation, out, padded)(cols)
    if any(cfg.padding):
        z = getitem(z, (slice(None), slice(None)) + tuple(slice(p, p + s) for p, s in zip(cfg.padding, size)))
    return z if b is None else z + reshape(b, (1, -1) + (1,) * len(k))
