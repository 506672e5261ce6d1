"""Readable twins of the fast kernels: loops over output positions, straight from the definitions.

They are slow on purpose; tests compare the fast kernels against them, and a reader can learn the maths here first.
"""
import numpy


def conv2d_naive(x, w, b=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    """y[n,o,p,q] = b[o] + Σ_(c in o's group, i, j) x_pad[n, c, p·s + i·d, q·s + j·d] · w[o, c, i, j]"""
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    xp = numpy.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (wd + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    og = o // groups
    y = numpy.zeros((n, o, oh, ow), dtype=numpy.result_type(x, w))
    for oc in range(o):
        g = oc // og
        for p in range(oh):
            for q in range(ow):
                rows = slice(p * sh, p * sh + dh * (kh - 1) + 1, dh)
                cols = slice(q * sw, q * sw + dw * (kw - 1) + 1, dw)
                patch = xp[:, g * cg:(g + 1) * cg, rows, cols]
                y[:, oc, p, q] = (patch * w[oc]).sum(axis=(1, 2, 3))
    if b is not None:
        y += b.reshape(1, -1, 1, 1)
    return y


def max_pool2d_naive(x, kernel=(2, 2), stride=None, padding=(0, 0), dilation=(1, 1)):
    """y[n,c,p,q] = max over the window of x padded with −inf"""
    stride = stride or kernel
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    xp = numpy.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=-numpy.inf)
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    y = numpy.empty((n, c, oh, ow), dtype=x.dtype)
    for p in range(oh):
        for q in range(ow):
            rows = slice(p * sh, p * sh + dh * (kh - 1) + 1, dh)
            cols = slice(q * sw, q * sw + dw * (kw - 1) + 1, dw)
            y[:, :, p, q] = xp[:, :, rows, cols].max(axis=(2, 3))
    return y
