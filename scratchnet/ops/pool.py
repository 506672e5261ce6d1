"""Max and average pooling over kh×kw windows, written as a loop over the kernel offsets (i, j).

Each offset selects one strided slice of the padded input, x_pad[:, :, i·d : ... : s, j·d : ... : s], of output shape,
so pooling is kh·kw whole-batch vectorised passes with no im2col copy. Max pooling pads with -inf and records the
winning offset per output (the first maximum, as PyTorch); its backward sends gy back to that offset.
Both backward passes are again linear ops of this file, so pooling is differentiable twice.

`max_pool` and `avg_pool` are the entry points (F.max_pool*d, F.avg_pool*d). Their readable twins, used in
reference mode (scratchnet.use_kernels), are max_pool_reference and avg_pool_reference at the end of this file: the
windows as columns (the Im2Col of ops/conv_reference.py), then a max or a mean along each column.
"""
import numpy

from .. import backend, kernel_mode
from ..autograd import Function
from ..tensor import Tensor
from .conv import out_size
from .conv_reference import Im2Col, zero_pad
from .reduce import max as max_along
from .shape import reshape
from .conv_kernels import CACHE_BLOCK_BYTES


def blocks(xp, b0, b1, per_sample_bytes):
    """Split samples b0:b1 into cache-sized blocks: the kh·kw passes over one block then hit the cache. On a GPU:
    one block (whole-batch kernels)."""
    if xp is not numpy:
        return [(b0, b1)]
    return backend.chunks(b0, b1, per_sample_bytes, CACHE_BLOCK_BYTES)


def pool_out_size(size, k, s, p, d, ceil_mode):
    """PyTorch's rule: floor (or ceil) of (size + 2p − d(k−1) − 1)/s, plus 1; with ceil_mode the last window must
    still start inside the input or its left padding."""
    if not ceil_mode:
        return out_size(size, k, s, p, d)
    n = -(-(size + 2 * p - d * (k - 1) - 1) // s) + 1
    return n - 1 if (n - 1) * s >= size + p else n


class PoolGeom:
    """Where the windows of a pooling op lie: kernel k, stride s, padding p, dilation d, output size, and the extra
    bottom/right padding that ceil_mode's last windows may reach into."""

    def __init__(self, x_shape, kernel, stride, padding, dilation, ceil_mode=False):
        self.x_shape = tuple(x_shape)
        self.k, self.s, self.p, self.d = kernel, stride, padding, dilation
        self.oh, self.ow = (pool_out_size(x_shape[2 + i], kernel[i], stride[i], padding[i], dilation[i], ceil_mode)
                            for i in range(2))
        self.extra = tuple(max(0, (n - 1) * stride[i] + dilation[i] * (kernel[i] - 1) + 1 - x_shape[2 + i] -
                               2 * padding[i]) for i, n in enumerate((self.oh, self.ow)))

    def offsets(self):
        for i in range(self.k[0]):
            for j in range(self.k[1]):
                yield i * self.k[1] + j, self.slice(i, j)

    def slice(self, i, j):
        (sh, sw), (dh, dw) = self.s, self.d
        return (slice(None), slice(None), slice(i * dh, i * dh + sh * (self.oh - 1) + 1, sh),
                slice(j * dw, j * dw + sw * (self.ow - 1) + 1, sw))

    def padded_shape(self, n_c):
        (ph, pw), (eh, ew) = self.p, self.extra
        return n_c + (self.x_shape[2] + 2 * ph + eh, self.x_shape[3] + 2 * pw + ew)

    def padded(self, xp, x, fill):
        ph, pw = self.p
        if not (ph or pw or any(self.extra)):
            return x
        out = xp.full(self.padded_shape(x.shape[:2]), fill, dtype=x.dtype)
        out[:, :, ph:ph + x.shape[2], pw:pw + x.shape[3]] = x
        return out

    def empty_padded(self, xp, n_c, dtype):
        return xp.zeros(self.padded_shape(n_c), dtype=dtype)

    def tiles(self):
        """Windows that tile the input without overlap or padding (k = s, d = 1): the common 2×2 pool."""
        return self.k == self.s and self.d == (1, 1) and not any(self.p) and not any(self.extra)

    def tiled(self, x):
        """(n, c, OH, OW, kh·kw): every window's elements in a row (a copy; the GPU path's one gather)."""
        (kh, kw), n_c = self.k, x.shape[:2]
        v = x[:, :, :self.oh * kh, :self.ow * kw].reshape(n_c + (self.oh, kh, self.ow, kw))
        return v.transpose(0, 1, 2, 4, 3, 5).reshape(n_c + (self.oh, self.ow, kh * kw))

    def crop(self, g):
        ph, pw = self.p
        h, w = self.x_shape[2:]
        return g[:, :, ph:ph + h, pw:pw + w] if g.shape[2:] != (h, w) else g


def max_pool_kernel(x, geom):
    """The window maxima of x (raw array) and the offset i·kw + j of each window's first maximum."""
    xp = backend.get_array_module(x)
    if xp is not numpy and geom.tiles():
        # GPU: a handful of whole-batch kernels instead of ~3 per window offset (argmax keeps the first maximum)
        win = geom.tiled(x)
        argmax = win.argmax(axis=-1)
        return xp.take_along_axis(win, argmax[..., None], axis=-1)[..., 0], argmax
    best = xp.empty(x.shape[:2] + (geom.oh, geom.ow), dtype=x.dtype)
    idx = xp.zeros(best.shape, dtype=xp.uint8 if geom.k[0] * geom.k[1] < 256 else xp.int32)

    def body(b0, b1):
        for n0, n1 in blocks(xp, b0, b1, x[0].nbytes):
            x_pad = geom.padded(xp, x[n0:n1], -xp.inf)
            views = [x_pad[sl] for _, sl in geom.offsets()]
            top = best[n0:n1]
            top[...] = views[0]
            for v in views[1:]:
                xp.maximum(top, v, out=top)
            # The first offset holding the max = how many offsets in a row did not hold it: bool arithmetic,
            # no masked copies (benchmarks/README.md, "Kernel tuning notes"). A NaN is the max (it propagates
            # through maximum) and holds it, as in PyTorch: v != top alone would skip it.
            # On the CPU one NaN test of the maxima decides whether the extra v == v compare is needed (it doubled
            # the forward's time); a GPU array must not be read back here, so it always pays for it.
            nan_aware = xp is not numpy or bool(xp.isnan(top).any())
            missed, count = None, idx[n0:n1]
            for v in views[:-1]:
                miss = v != top
                if nan_aware:
                    miss &= v == v
                missed = miss if missed is None else missed & miss
                count += missed
    backend.over_batch(xp, x.shape[0], body)
    return best, idx


class MaxPool2dFn(Function):
    """y[n,c,p,q] = max_(i,j) x_pad[n, c, p·s + i·d, q·s + j·d]  (x padded with -inf)
    dx = gy routed to the argmax of each window (scatter);  argmax ties go to the first offset, as PyTorch; a window
    holding a NaN gives NaN and routes to its first NaN (PyTorch: its last; both route to a NaN)"""

    keeps_inputs = False

    def __init__(self, geom):
        self.geom = geom

    def forward(self, x):
        y, argmax = max_pool_kernel(x, self.geom)   # readable twin: max_pool_reference
        self.save_for_backward(argmax)
        return y

    def backward(self, gy):
        (argmax,) = self.saved_tensors
        return MaxPoolScatter(self.geom, argmax.data)(gy)


class MaxPoolScatter(Function):
    """dx = zeros; dx_pad[window argmax] += g   (linear in g);  its backward gathers: dg = dx_grad[argmax]"""

    keeps_inputs = False

    def __init__(self, geom, argmax):
        self.geom, self.argmax = geom, argmax

    def forward(self, g):
        xp = backend.get_array_module(g)
        geom = self.geom
        if geom.tiles():
            # Fast path: windows tile the input without overlap, so every covered element is written exactly once
            gx = xp.empty(g.shape[:2] + geom.x_shape[2:], dtype=g.dtype)
            h, w = geom.oh * geom.k[0], geom.ow * geom.k[1]
            if xp is not numpy:
                # GPU: one one-hot product for all offsets, written back through a (kh, kw)-split view of gx
                (kh, kw), n_c = geom.k, g.shape[:2]
                hot = g[..., None] * (self.argmax[..., None] == xp.arange(kh * kw, dtype=self.argmax.dtype))
                if (h, w) != geom.x_shape[2:]:
                    gx[...] = 0
                gx[:, :, :h, :w].reshape(n_c + (geom.oh, kh, geom.ow, kw))[...] = \
                    hot.reshape(n_c + (geom.oh, geom.ow, kh, kw)).transpose(0, 1, 2, 4, 3, 5)
                return gx

            def body(b0, b1):
                for n0, n1 in blocks(xp, b0, b1, gx[0].nbytes):
                    part = gx[n0:n1]
                    if (h, w) != geom.x_shape[2:]:
                        part[:, :, h:] = 0
                        part[:, :, :, w:] = 0
                    for off, sl in geom.offsets():
                        xp.multiply(g[n0:n1], self.argmax[n0:n1] == off, out=part[sl])
            backend.over_batch(xp, g.shape[0], body)
            return gx
        gx = geom.empty_padded(xp, g.shape[:2], g.dtype)
        for off, sl in geom.offsets():
            gx[sl] += g * (self.argmax == off)
        return geom.crop(gx)

    def backward(self, ggx):
        return MaxPoolGather(self.geom, self.argmax)(ggx)


class MaxPoolGather(Function):
    """y = x_pad at each window's recorded argmax (linear in x);  dx = scatter of gy back to those places"""

    keeps_inputs = False

    def __init__(self, geom, argmax):
        self.geom, self.argmax = geom, argmax

    def forward(self, x):
        xp = backend.get_array_module(x)
        x_pad = self.geom.padded(xp, x, 0)
        y = xp.zeros(self.argmax.shape, dtype=x.dtype)
        for off, sl in self.geom.offsets():
            xp.copyto(y, x_pad[sl], where=self.argmax == off)
        return y

    def backward(self, gy):
        return MaxPoolScatter(self.geom, self.argmax)(gy)


def _avg_divisor(xp, geom, dtype, count_include_pad, divisor_override):
    """What each window's sum is divided by: k·k; or, as PyTorch, the window's size clipped to the padded input
    (count_include_pad) or to the real input (not count_include_pad) where windows run past them."""
    if divisor_override:
        return divisor_override
    if not any(geom.extra) and (count_include_pad or not any(geom.p)):
        return geom.k[0] * geom.k[1]
    mask = xp.zeros(geom.padded_shape((1, 1)), dtype=dtype)
    (ph, pw), (h, w) = geom.p, geom.x_shape[2:]
    if count_include_pad:
        mask[:, :, :h + 2 * ph, :w + 2 * pw] = 1
    else:
        mask[:, :, ph:ph + h, pw:pw + w] = 1
    return sum(mask[sl] for _, sl in geom.offsets())  # (1, 1, OH, OW)


class AvgPool2dFn(Function):
    """y[n,c,p,q] = (1/D) Σ_(i,j) x_pad[n, c, p·s + i·d, q·s + j·d]   (D = kh·kw, or the count of real inputs)
    dx_pad[window] += gy / D  (the transposed op below)"""

    keeps_inputs = False

    def __init__(self, geom, divisor):
        self.geom, self.divisor = geom, divisor

    def forward(self, x):
        xp = backend.get_array_module(x)
        x_pad = self.geom.padded(xp, x, 0)
        y = None
        for _, sl in self.geom.offsets():
            y = x_pad[sl].copy() if y is None else y.__iadd__(x_pad[sl])
        y /= self.divisor
        return y.astype(x.dtype, copy=False)

    def backward(self, gy):
        return AvgPool2dTFn(self.geom, self.divisor)(gy)


class AvgPool2dTFn(Function):
    """The adjoint of average pooling: each window gets g / D added back;  its backward is AvgPool2d"""

    keeps_inputs = False

    def __init__(self, geom, divisor):
        self.geom, self.divisor = geom, divisor

    def forward(self, g):
        xp = backend.get_array_module(g)
        gx = self.geom.empty_padded(xp, g.shape[:2], g.dtype)
        share = (g / self.divisor).astype(g.dtype, copy=False)
        for _, sl in self.geom.offsets():
            gx[sl] += share
        return self.geom.crop(gx)

    def backward(self, gz):
        return AvgPool2dFn(self.geom, self.divisor)(gz)


def max_pool(x, geom, return_argmax=False):
    """y = the maximum of each window (Tensor): MaxPool2dFn, or max_pool_reference in reference mode. With
    return_argmax, also each window's argmax offset i·kw + j (a raw array, for the indices F.max_pool2d returns)."""
    if kernel_mode.reference():
        y, argmax = max_pool_reference(x, geom)
        return (y, argmax) if return_argmax else y
    y = MaxPool2dFn(geom)(x)
    return (y, max_pool_kernel(x.data, geom)[1]) if return_argmax else y


def avg_pool(x, geom, divisor):
    """y = the sum of each window / divisor (a number, or an (1, 1, OH, OW) array): AvgPool2dFn, or
    avg_pool_reference in reference mode."""
    return avg_pool_reference(x, geom, divisor) if kernel_mode.reference() else AvgPool2dFn(geom, divisor)(x)


def _window_columns(x, geom, fill):
    """The readable twins' windows: (N, C, kh·kw, OH·OW), column (p, q) holding window (p, q) of x padded with
    `fill` (and the extra bottom/right rows ceil_mode may reach)."""
    return Im2Col(geom.k, geom.s, geom.d, (geom.oh, geom.ow))(zero_pad(x, geom.p, geom.extra, value=fill))


def max_pool_reference(x, geom):
    """The readable twin of MaxPool2dFn: the max along each window's column, and where it is (the first maximum);
    autograd routes dx through the max's index and Im2Col's adjoint."""
    y, argmax = max_along(_window_columns(x, geom, -numpy.inf), dim=2)
    shape = x.shape[:2] + (geom.oh, geom.ow)
    return reshape(y, shape), argmax.data.reshape(shape)


def avg_pool_reference(x, geom, divisor):
    """The readable twin of AvgPool2dFn: the sum along each window's column over the divisor."""
    y = reshape(_window_columns(x, geom, 0.0).sum(2), x.shape[:2] + (geom.oh, geom.ow))
    return y / (Tensor(divisor) if hasattr(divisor, "shape") else divisor)
