"""conv1d/conv3d, conv_transpose1d/3d, max_pool1d/3d and avg_pool1d/3d: PyTorch's argument handling and errors.

1-D ops run the tuned 2-D kernels on an (N, C, 1, L) view (what PyTorch does too). 3-D convolutions run the N-d
im2col of ops/convnd.py. 3-D pooling is separable: a window's max (or sum) over (d, h, w) is the max (sum) over d
of the 2-D window results over (h, w), so it is a 2-D pool over (H, W) followed by a 1-D pool over D, both the
tuned 2-D kernels; PyTorch's divisors factor the same way (a window clipped to a box is a box), and the max's
first-in-(d, h, w)-order tie rule is kept because each stage takes its first maximum.
"""
from .. import backend
from ..tensor import Tensor
from ..ops import conv as C, pool as P
from ..ops.errors import ShapeError
from ..ops.pad import pad
from ..ops.shape import reshape

def _tuple(v, dims, name, fn):
    if isinstance(v, int) or (hasattr(v, "__index__") and not isinstance(v, (tuple, list))):
        return (int(v),) * dims
    v = tuple(v)
    if len(v) == 1:
        v = v * dims
    if len(v) != dims or not all(hasattr(i, "__index__") for i in v):
        raise ShapeError(f"{fn}: {name} must be an int or a tuple of {dims} ints, got {v!r}")
    return tuple(int(i) for i in v)


def _batched(fn, x, dims):
    """(N, C, *S) as it is, or an unbatched (C, *S) with a batch dim of 1 added; errors as PyTorch words them."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{fn}: input must be a Tensor, got {type(x).__name__}")
    if x.ndim not in (dims + 1, dims + 2):
        raise ShapeError(f"{fn}: expected {dims + 1}-D (unbatched) or {dims + 2}-D (batched) input, got input of "
                         f"shape {tuple(x.shape)}")
    if x.dtype.kind != "f":
        raise TypeError(f"{fn}: input must be floating point, got dtype {x.dtype}")
    return (reshape(x, (1,) + x.shape), True) if x.ndim == dims + 1 else (x, False)


def _unbatch(y, unbatched):
    return reshape(y, y.shape[1:]) if unbatched else y


def _check_window(fn, spatial, k, s, p, d, x_shape):
    if min(s) < 1 or min(d) < 1:
        raise ShapeError(f"{fn}: stride {s} and dilation {d} must be positive")
    if min(p) < 0:
        raise ShapeError(f"{fn}: negative padding {p} is not supported")
    padded = tuple(n + 2 * q for n, q in zip(spatial, p))
    span = tuple(dd * (kk - 1) + 1 for kk, dd in zip(k, d))
    if any(a > b for a, b in zip(span, padded)):
        raise ShapeError(f"{fn}: calculated padded input size per channel {padded} is smaller than the (dilated) "
                         f"kernel size {span}: input shape {tuple(x_shape)}, padding {p}")


def _conv_args(fn, dims, x, weight, bias, stride, padding, dilation, groups, transposed=False):
    if weight.ndim != dims + 2:
        raise ShapeError(f"{fn}: weight must be {dims + 2}-D, got weight of shape {tuple(weight.shape)}")
    cin = weight.shape[0] if transposed else weight.shape[1] * groups
    if groups < 1 or x.shape[1] != cin or (weight.shape[0] % groups):
        raise ShapeError(f"{fn}: given groups={groups}, weight of shape {tuple(weight.shape)} expects input "
                         f"{tuple(x.shape)} to have {cin} channels, but got {x.shape[1]} channels"
                         + (" (weight's dim 0 must be divisible by groups)" if weight.shape[0] % groups else ""))
    out_c = weight.shape[1] * groups if transposed else weight.shape[0]
    if bias is not None and tuple(bias.shape) != (out_c,):
        raise ShapeError(f"{fn}: given weight of shape {tuple(weight.shape)}, expected bias of shape ({out_c},), "
                         f"got {tuple(bias.shape)}")
    s, d = _tuple(stride, dims, "stride", fn), _tuple(dilation, dims, "dilation", fn)
    return s, d


def _same(fn, x, k, s, d):
    """padding='same': total d·(k − 1) per dim, the odd one extra at the end (PyTorch pads the input for that)."""
    if any(v != 1 for v in s):
        raise ShapeError(f"{fn}: padding='same' is not supported for strided convolutions (stride {s})")
    total = [dd * (kk - 1) for kk, dd in zip(k, d)]
    extra = [t % 2 for t in total]
    if any(extra):
        x = pad(x, [v for e in reversed(extra) for v in (0, e)])
    return x, tuple(t // 2 for t in total)


def _conv(fn, dims, input, weight, bias, stride, padding, dilation, groups):
    x, unbatched = _batched(fn, input, dims)
    s, d = _conv_args(fn, dims, x, weight, bias, stride, padding, dilation, groups)
    k = weight.shape[2:]
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise ShapeError(f"{fn}: padding must be an int, a tuple, 'same' or 'valid', got {padding!r}")
        x, p = _same(fn, x, k, s, d) if padding == "same" else (x, (0,) * dims)
    else:
        p = _tuple(padding, dims, "padding", fn)
    _check_window(fn, x.shape[2:], k, s, p, d, x.shape)
    if dims == 1:   # the 2-D kernels on (N, C, 1, L)
        x4 = reshape(x, x.shape[:2] + (1,) + x.shape[2:])
        w4 = reshape(weight, weight.shape[:2] + (1,) + weight.shape[2:])
        y = C.conv(x4, w4, bias, C.ConvCfg((1, s[0]), (0, p[0]), (1, d[0]), groups))
        y = reshape(y, y.shape[:2] + y.shape[3:])
    else:
        y = C.conv(x, weight, bias, C.ConvCfg(s, p, d, groups))
    return _unbatch(y, unbatched)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1), as PyTorch's: input (N, C, L)
    or (C, L), weight (O, C/groups, k), bias (O,); the 2-D kernels run on an (N, C, 1, L) view.

    Forward:  y[n, o, t] = b[o] + sum_{c, i} W[o, c, i] x_pad[n, c, t·s + i·d]
    Backward: dx = conv_transpose1d(gy, W), dW = sum over n, t of gy ⊗ the windows of x, db = sum of gy over n, t
    """
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1), as PyTorch's: input
    (N, C, D, H, W) or unbatched, weight (O, C/groups, kd, kh, kw), bias (O,); N-d im2col (ops/convnd.py).

    Forward:  y[n, o, p] = b[o] + sum_{c, i} W[o, c, i] x_pad[n, c, p·s + i·d]  (p, i: 3-D positions)
    Backward: dx = conv_transpose3d(gy, W), dW = sum over n, p of gy ⊗ the windows of x, db = sum of gy over n, p
    """
    return _conv("conv3d", 3, input, weight, bias, stride, padding, dilation, groups)


def _conv_transpose(fn, dims, input, weight, bias, stride, padding, output_padding, groups, dilation):
    x, unbatched = _batched(fn, input, dims)
    s, d = _conv_args(fn, dims, x, weight, bias, stride, padding, dilation, groups, transposed=True)
    p = _tuple(padding, dims, "padding", fn)
    op = _tuple(output_padding, dims, "output_padding", fn)
    k = weight.shape[2:]
    if min(s) < 1 or min(d) < 1 or min(p) < 0 or min(op) < 0:
        raise ShapeError(f"{fn}: stride {s} and dilation {d} must be positive, padding {p} and output_padding {op} "
                         "non-negative")
    if any(o >= max(ss, dd) for o, ss, dd in zip(op, s, d)):
        raise ShapeError(f"{fn}: output_padding {op} must be smaller than either stride {s} or dilation {d}")
    out = tuple((n - 1) * ss - 2 * pp + dd * (kk - 1) + o + 1
                for n, ss, pp, dd, kk, o in zip(x.shape[2:], s, p, d, k, op))
    if min(out) < 1:
        raise ShapeError(f"{fn}: input {tuple(input.shape)} with kernel {tuple(k)}, stride {s}, padding {p} gives "
                         f"an empty output {out}")
    cout = weight.shape[1] * groups
    if dims == 1:
        x4 = reshape(x, x.shape[:2] + (1,) + x.shape[2:])
        w4 = reshape(weight, weight.shape[:2] + (1,) + weight.shape[2:])
        cfg = C.ConvCfg((1, s[0]), (0, p[0]), (1, d[0]), groups)
        y = C.conv_transpose(x4, w4, cfg, (x.shape[0], cout, 1) + out, bias)
        y = reshape(y, y.shape[:2] + y.shape[3:])
    else:
        y = C.conv_transpose(x, weight, C.ConvCfg(s, p, d, groups), (x.shape[0], cout) + out, bias)
    return _unbatch(y, unbatched)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
    dilation=1): the adjoint of conv1d in its input: (N, Cin, L) with W (Cin, Cout/groups, k) gives
    (N, Cout, (L-1)·s - 2p + d·(k-1) + output_padding + 1).

    Forward:  y[n, o, t·s + i·d - p] += W[c, o, i] x[n, c, t]  (+ b[o])
    Backward: dx = conv1d(gy, W), dW = the correlation of gy with x, db = sum of gy over n, t
    """
    return _conv_transpose("conv_transpose1d", 1, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
    dilation=1): the adjoint of conv3d in its input: (N, Cin, D, H, W) with W (Cin, Cout/groups, kd, kh, kw); out =
    (in - 1)·s - 2p + d·(k - 1) + output_padding + 1 per dim.

    Forward:  y[n, o, p·s + i·d - pad] += W[c, o, i] x[n, c, p]  (+ b[o]; p, i: 3-D positions)
    Backward: dx = conv3d(gy, W), dW = the correlation of gy with x, db = sum of gy over n and the spatial axes
    """
    return _conv_transpose("conv_transpose3d", 3, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)


def _pool_args(fn, dims, x, kernel_size, stride, padding, dilation):
    if 0 in x.shape[1:]:  # only the batch may be empty (PyTorch: "optional 0 dim batch size")
        raise ShapeError(f"{fn}: expected an input whose non-batch dims are non-zero, got shape {tuple(x.shape)}")
    k = _tuple(kernel_size, dims, "kernel_size", fn)
    s = k if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0) else \
        _tuple(stride, dims, "stride", fn)
    p, d = _tuple(padding, dims, "padding", fn), _tuple(dilation, dims, "dilation", fn)
    if min(k) < 1:
        raise ShapeError(f"{fn}: kernel_size {k} must be positive")
    if any(pp > kk // 2 for pp, kk in zip(p, k)):
        raise ShapeError(f"{fn}: padding {p} should be at most half of the kernel size {k}")
    _check_window(fn, x.shape[2:], k, s, p, d, x.shape)
    return k, s, p, d


@backend.follows_device  # the index arithmetic below runs on raw arrays: on x's device, not the current one
def _max_pool_2d_stage(x, k, s, p, d, ceil_mode, indices=True):
    """2-D max pool over the last two dims of a 4-D x; returns y and (with `indices`) each maximum's row, column and
    flat index h·W + w (as max_pool2d)."""
    geom = P.PoolGeom(x.shape, k, s, p, d, ceil_mode)
    if not indices:
        return P.max_pool(x, geom), None, None, None
    y, argmax = P.max_pool(x, geom, return_argmax=True)
    xp = backend.get_array_module(x.data)
    i, j = argmax // geom.k[1], argmax % geom.k[1]
    rows = xp.arange(geom.oh).reshape(-1, 1) * geom.s[0] - geom.p[0] + i * geom.d[0]
    cols = xp.arange(geom.ow) * geom.s[1] - geom.p[1] + j * geom.d[1]
    return y, rows, cols, (rows * x.shape[3] + cols).astype(xp.int64)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
    return_indices=False): the maximum over each window of (N, C, L) (padding is -inf); indices are positions in L. The
    2-D kernel on an (N, C, 1, L) view.

    Forward:  y[n, c, t] = max_i x_pad[n, c, t·s + i·d]
    Backward: dx = gy routed to each window's first maximum, adding where windows overlap
    """
    x, unbatched = _batched("max_pool1d", input, 1)
    k, s, p, d = _pool_args("max_pool1d", 1, x, kernel_size, stride, padding, dilation)
    y, _, _, idx = _max_pool_2d_stage(reshape(x, x.shape[:2] + (1, x.shape[2])), (1,) + k, (1,) + s, (0,) + p,
                                      (1,) + d, ceil_mode, return_indices)
    y = _unbatch(reshape(y, y.shape[:2] + y.shape[3:]), unbatched)
    if not return_indices:
        return y
    idx = idx.reshape(idx.shape[:2] + idx.shape[3:])
    return y, Tensor(idx[0] if unbatched else idx)


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
    return_indices=False): the maximum over each (kd, kh, kw) window (padding -inf); indices are flat positions
    d·H·W + h·W + w. Separable: a 2-D pool over (H, W), then one over D.

    Forward:  y[n, c, p] = max_i x_pad[n, c, p·s + i·d]  (p, i: 3-D positions)
    Backward: dx = gy routed to each window's first maximum in (d, h, w) order, adding where windows overlap
    """
    x, unbatched = _batched("max_pool3d", input, 3)
    k, s, p, d = _pool_args("max_pool3d", 3, x, kernel_size, stride, padding, dilation)
    n, c, D, H, W = x.shape
    y1, _, _, idx1 = _max_pool_2d_stage(reshape(x, (n, c * D, H, W)), k[1:], s[1:], p[1:], d[1:], ceil_mode,
                                        return_indices)
    oh, ow = y1.shape[2:]
    y2, rows, _, _ = _max_pool_2d_stage(reshape(y1, (n, c, D, oh * ow)), (k[0], 1), (s[0], 1), (p[0], 0),
                                        (d[0], 1), ceil_mode, return_indices)
    od = y2.shape[2]
    y = _unbatch(reshape(y2, (n, c, od, oh, ow)), unbatched)
    if not return_indices:
        return y
    xp = backend.get_array_module(x.data)
    src_d = rows.reshape(n, c, od, oh * ow)             # the depth each output's maximum came from
    hw = xp.take_along_axis(idx1.reshape(n, c, D, oh * ow), src_d.astype(xp.int64), axis=2)
    idx = (src_d * (H * W) + hw).astype(xp.int64).reshape(n, c, od, oh, ow)
    return y, Tensor(idx[0] if unbatched else idx)


def _avg_2d_stage(x, k, s, p, ceil_mode, count_include_pad, divisor_override):
    geom = P.PoolGeom(x.shape, k, s, p, (1, 1), ceil_mode)
    div = P._avg_divisor(backend.get_array_module(x.data), geom, x.dtype, count_include_pad, divisor_override)
    return P.avg_pool(x, geom, div)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True): the
    mean over each window of (N, C, L); D = k, or the count of real inputs without count_include_pad. The 2-D kernel on
    an (N, C, 1, L) view.

    Forward:  y[n, c, t] = (1/D) sum_i x_pad[n, c, t·s + i]
    Backward: dx = gy / D added back over each window
    """
    x, unbatched = _batched("avg_pool1d", input, 1)
    k, s, p, _ = _pool_args("avg_pool1d", 1, x, kernel_size, stride, padding, 1)
    y = _avg_2d_stage(reshape(x, x.shape[:2] + (1, x.shape[2])), (1,) + k, (1,) + s, (0,) + p, ceil_mode,
                      count_include_pad, None)
    return _unbatch(reshape(y, y.shape[:2] + y.shape[3:]), unbatched)


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
    divisor_override=None): the mean over each (kd, kh, kw) window, D = kd·kh·kw, the window clipped to the (padded,
    with count_include_pad) input, or divisor_override. Separable: the (H, W) average, then the D average.

    Forward:  y[n, c, p] = (1/D) sum_i x_pad[n, c, p·s + i]  (p, i: 3-D positions)
    Backward: dx = gy / D added back over each window
    """
    x, unbatched = _batched("avg_pool3d", input, 3)
    k, s, p, _ = _pool_args("avg_pool3d", 3, x, kernel_size, stride, padding, 1)
    if any(n < kk for n, kk in zip(x.shape[2:], k)):   # PyTorch's avg_pool3d checks this before any padding
        raise ShapeError(f"avg_pool3d: input image {tuple(x.shape[2:])} is smaller than the kernel size {k} "
                         f"(input shape {tuple(input.shape)})")
    if divisor_override is not None and divisor_override == 0:
        raise ShapeError("avg_pool3d: divisor_override must not be zero")
    n, c, D, H, W = x.shape
    sums = divisor_override is not None   # sum both stages, then divide once
    y1 = _avg_2d_stage(reshape(x, (n, c * D, H, W)), k[1:], s[1:], p[1:], ceil_mode, count_include_pad,
                       1 if sums else None)
    oh, ow = y1.shape[2:]
    y2 = _avg_2d_stage(reshape(y1, (n, c, D, oh * ow)), (k[0], 1), (s[0], 1), (p[0], 0), ceil_mode,
                       count_include_pad, 1 if sums else None)
    y = reshape(y2, (n, c, y2.shape[2], oh, ow))
    if sums:
        y = y * (1.0 / divisor_override)
    return _unbatch(y, unbatched)


__all__ = ["conv1d", "conv3d", "conv_transpose1d", "conv_transpose3d", "max_pool1d", "max_pool3d", "avg_pool1d",
           "avg_pool3d"]
