"""scratchnet.nn.functional: PyTorch's functional API over the ops, with the argument checks users hit first.

Errors are raised here, at the public boundary, once, in the user's terms (argument names and shapes).
"""

import numpy

from .. import backend
from ..rng import random_uniform as _random_uniform
from ..tensor import Tensor, no_grad
from ..ops import conv as C, pool as P
from ..ops.activation import relu, leaky_relu, gelu, softmax, log_softmax  # noqa: F401
from ..ops.activation_more import (prelu, elu, celu, selu, silu, mish, softsign, logsigmoid, softplus, softmin,  # noqa
                                   hardtanh, relu6, hardsigmoid, hardswish)
from ..ops.distance import normalize, cosine_similarity, pairwise_distance  # noqa: F401
from ..ops.loss_more import kl_div, smooth_l1_loss, huber_loss, triplet_margin_loss, cross_entropy  # noqa: F401
from ..ops.math import tanh, sigmoid  # noqa: F401
from ..ops.math import where
from ..ops.linalg import MatMul, matmul
from ..ops.norm import norm_train as _norm_train
from ..ops.shape import reshape, unsqueeze, getitem  # noqa: F401
from ..ops.pad import pad  # noqa: F401
from ..ops.feature_norm import layer_norm, group_norm  # noqa: F401
from ..ops.rearrange import pixel_shuffle, pixel_unshuffle, one_hot  # noqa: F401
from ..ops.unpool import max_unpool2d  # noqa: F401
from ..ops.fold import unfold, fold  # noqa: F401
from ..ops.attention import scaled_dot_product_attention, multi_head_attention_forward  # noqa: F401
from .conv_functional import (conv1d, conv3d, conv_transpose1d, conv_transpose3d, max_pool1d, max_pool3d,  # noqa
                              avg_pool1d, avg_pool3d)
from ..ops.loss import (nll_loss, mse_loss, l1_loss, binary_cross_entropy,  # noqa: F401
                        binary_cross_entropy_with_logits)
from ..errors import ShapeError
from ..ops.promotion import check_same_dtype as _check_same_dtype
from ..ops.resize import interpolate  # noqa: F401


def _pair(v, name, fn):
    if isinstance(v, int):
        return (v, v)
    v = tuple(v)
    if len(v) != 2 or not all(isinstance(i, (int, numpy.integer)) for i in v):
        raise ShapeError(f"{fn}: {name} must be an int or a pair of ints, got {v!r}")
    return tuple(int(i) for i in v)


def _check_4d(fn, input):
    if not isinstance(input, Tensor):
        raise TypeError(f"{fn}: input must be a Tensor, got {type(input).__name__}")
    if input.ndim not in (3, 4):
        raise ShapeError(f"{fn}: expected a 4-D input (N, C, H, W) or 3-D (C, H, W), got shape {input.shape}")
    if input.dtype.kind != "f":
        raise TypeError(f"{fn}: input must be floating point, got dtype {input.dtype} (use .float())")
    return (unsqueeze(input, 0), True) if input.ndim == 3 else (input, False)


def _finish(y, unbatched):
    return reshape(y, y.shape[1:]) if unbatched else y


def _check_window(fn, x_shape, k, s, p, d):
    for axis, size in ((0, x_shape[2]), (1, x_shape[3])):
        if s[axis] < 1 or d[axis] < 1 or p[axis] < 0:
            raise ShapeError(f"{fn}: stride {s} and dilation {d} must be >= 1 and padding {p} >= 0")
        span = d[axis] * (k[axis] - 1) + 1
        if span > size + 2 * p[axis]:
            raise ShapeError(f"{fn}: kernel size {k} (dilated extent {span}) is larger than the padded input "
                             f"{x_shape[2] + 2 * p[0]}x{x_shape[3] + 2 * p[1]} (input shape {tuple(x_shape)}, "
                             f"padding {p})")


def _same_padding(k, d):
    total = [d[i] * (k[i] - 1) for i in range(2)]
    return [(t // 2, t - t // 2) for t in total]


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1), as PyTorch's: input
    (N, C, H, W) or (C, H, W), weight (O, C/groups, kh, kw), bias (O,); padding an int, a pair, "same" (stride 1) or
    "valid". Output (N, O, (H + 2p - d(kh-1) - 1)//s + 1, ...). The math and its kernels: ops/conv.py.

    Forward:  y[n, o, i, j] = b[o] + sum_{c, u, v} W[o, c, u, v] x_pad[n, r(o)·C/groups + c, i·s + u·d, j·s + v·d]
    Backward: dx = conv_transpose2d(gy, W) (same stride/padding/dilation/groups), dW = the correlation of x with gy,
              db = sum of gy over n, i, j
    """
    x, unbatched = _check_4d("conv2d", input)
    _check_same_dtype("conv2d", input=input, weight=weight, bias=bias)
    if weight.ndim != 4:
        raise ShapeError(f"conv2d: weight must be 4-D (out_channels, in_channels/groups, kh, kw), got {weight.shape}")
    if x.shape[1] != weight.shape[1] * groups or weight.shape[0] % groups:
        raise ShapeError(f"conv2d: input has {x.shape[1]} channels (input shape {x.shape}) but weight {weight.shape} "
                         f"with groups={groups} expects {weight.shape[1] * groups}")
    s, d, k = _pair(stride, "stride", "conv2d"), _pair(dilation, "dilation", "conv2d"), weight.shape[2:]
    if isinstance(padding, str):
        if padding == "valid":
            padding = 0
        elif padding == "same":
            if s != (1, 1):
                raise ShapeError("conv2d: padding='same' needs stride=1")
            (t, b), (l, r) = _same_padding(k, d)
            if (t, l) != (b, r):  # odd total: PyTorch puts the extra row/column at the bottom/right
                x = pad(x, (l, r, t, b))
                padding = 0
            else:
                padding = (t, l)
        else:
            raise ShapeError(f"conv2d: padding must be an int, a pair, 'same' or 'valid', got {padding!r}")
    p = _pair(padding, "padding", "conv2d")
    _check_window("conv2d", x.shape, k, s, p, d)
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ShapeError(f"conv2d: bias has shape {bias.shape}, expected ({weight.shape[0]},) "
                         f"for weight {weight.shape}")
    return _finish(C.conv(x, weight, bias, C.ConvCfg(s, p, d, groups)), unbatched)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
    dilation=1): the adjoint of conv2d in its input: input (N, Cin, H, W), weight (Cin, Cout/groups, kh, kw) give
    (N, Cout, (H-1)·s - 2p + d·(k-1) + output_padding + 1, ...).

    Forward:  y = conv2d's input-gradient map applied to x: y[n, o, i·s + u·d - p, ...] += W[c, o, u, v] x[n, c, i, j]
    Backward: dx = conv2d(gy, W) (same stride/padding/dilation/groups), dW = the correlation of gy with x,
              db = sum of gy over n and the spatial axes
    """
    x, unbatched = _check_4d("conv_transpose2d", input)
    _check_same_dtype("conv_transpose2d", input=input, weight=weight, bias=bias)
    if weight.ndim != 4 or x.shape[1] != weight.shape[0] or weight.shape[0] % groups:
        raise ShapeError(f"conv_transpose2d: input has {x.shape[1]} channels (input shape {x.shape}) but weight "
                         f"{weight.shape} expects {weight.shape[0]} (weight is (in, out/groups, kh, kw))")
    s, p = _pair(stride, "stride", "conv_transpose2d"), _pair(padding, "padding", "conv_transpose2d")
    d, op = _pair(dilation, "dilation", "conv_transpose2d"), _pair(output_padding, "output_padding", "conv_transpose2d")
    k = weight.shape[2:]
    if any(op[i] >= max(s[i], d[i]) for i in range(2)):
        raise ShapeError(f"conv_transpose2d: output_padding {op} must be smaller than stride {s} or dilation {d}")
    out_hw = [(x.shape[2 + i] - 1) * s[i] - 2 * p[i] + d[i] * (k[i] - 1) + op[i] + 1 for i in range(2)]
    if min(out_hw) < 1:
        raise ShapeError(f"conv_transpose2d: input {x.shape} with kernel {k}, stride {s}, padding {p} gives an "
                         f"empty output {tuple(out_hw)}")
    x_shape = (x.shape[0], weight.shape[1] * groups, *out_hw)
    return _finish(C.conv_transpose(x, weight, C.ConvCfg(s, p, d, groups), x_shape, bias), unbatched)


def _pool_args(fn, x, kernel_size, stride, padding, dilation, ceil_mode=False):
    if 0 in x.shape[1:]:  # only the batch may be empty (PyTorch: "optional 0 dim batch size")
        raise ShapeError(f"{fn}: expected an input whose non-batch dims are non-zero, got shape {tuple(x.shape)}")
    k = _pair(kernel_size, "kernel_size", fn)
    s = k if stride is None or stride == [] else _pair(stride, "stride", fn)
    p, d = _pair(padding, "padding", fn), _pair(dilation, "dilation", fn)
    if p[0] > k[0] // 2 or p[1] > k[1] // 2:
        raise ShapeError(f"{fn}: padding {p} must be at most half the kernel size {k}")
    _check_window(fn, x.shape, k, s, p, d)
    return P.PoolGeom(x.shape, k, s, p, d, ceil_mode)


@backend.follows_device
def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
    return_indices=False): the maximum over each window (stride defaults to kernel_size; padding counts as -inf, and is
    at most half the kernel); with return_indices, the flat positions h·W + w in x of each maximum, as PyTorch's.

    Forward:  y[n, c, i, j] = max_{u, v} x_pad[n, c, i·s + u·d, j·s + v·d]
    Backward: dx = gy sent to the position of each window's (first) maximum, adding where windows overlap
    """
    x, unbatched = _check_4d("max_pool2d", input)
    geom = _pool_args("max_pool2d", x, kernel_size, stride, padding, dilation, ceil_mode)
    if not return_indices:
        return _finish(P.max_pool(x, geom), unbatched)
    y, argmax = P.max_pool(x, geom, return_argmax=True)
    y = _finish(y, unbatched)
    xp = backend.get_array_module(x.data)
    i, j = argmax // geom.k[1], argmax % geom.k[1]
    rows = xp.arange(geom.oh).reshape(-1, 1) * geom.s[0] - geom.p[0] + i * geom.d[0]
    cols = xp.arange(geom.ow) * geom.s[1] - geom.p[1] + j * geom.d[1]
    idx = (rows * x.shape[3] + cols).astype(xp.int64)
    return y, Tensor(idx[0] if unbatched else idx)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
    divisor_override=None): the mean over each window (stride defaults to kernel_size); count_include_pad=False leaves
    the zero padding out of the count; output size by PyTorch's floor rule (ceil with ceil_mode=True).

    Forward:  y[n, c, i, j] = (1 / divisor) sum_{u, v} x_pad[n, c, i·s + u, j·s + v]
    Backward: dx = gy / divisor spread evenly over each window's entries, adding where windows overlap
    """
    x, unbatched = _check_4d("avg_pool2d", input)
    geom = _pool_args("avg_pool2d", x, kernel_size, stride, padding, 1, ceil_mode)
    div = P._avg_divisor(backend.get_array_module(x.data), geom, x.dtype, count_include_pad, divisor_override)
    return _finish(P.avg_pool(x, geom, div), unbatched)


def _adaptive_matrix(xp, n_in, n_out, dtype):
    """Row i averages inputs [floor(i·n_in/n_out), ceil((i+1)·n_in/n_out)), PyTorch's adaptive windows."""
    m = numpy.zeros((n_out, n_in))
    for i in range(n_out):
        a, b = (i * n_in) // n_out, -(-((i + 1) * n_in) // n_out)
        m[i, a:b] = 1.0 / (b - a)
    return Tensor(xp.asarray(m.astype(dtype)))


@backend.follows_device
def adaptive_avg_pool2d(input, output_size):
    """adaptive_avg_pool2d(input, output_size): the mean over PyTorch's adaptive windows, row i of
    the output averaging inputs [floor(i·H/oh), ceil((i+1)·H/oh)) (likewise columns); None in output_size keeps a size.

    Forward:  y = A_h · x · A_wᵀ with the averaging matrices A (exact for any sizes)
    Backward: dx = A_hᵀ · gy · A_w
    """
    x, unbatched = _check_4d("adaptive_avg_pool2d", input)
    oh, ow = _pair(output_size, "output_size", "adaptive_avg_pool2d")
    oh, ow = oh or x.shape[2], ow or x.shape[3]
    xp = backend.get_array_module(x.data)
    y = matmul(matmul(_adaptive_matrix(xp, x.shape[2], oh, x.dtype), x),
               _adaptive_matrix(xp, x.shape[3], ow, x.dtype).T)
    return _finish(y, unbatched)


def linear(input, weight, bias=None):
    """linear(input, weight, bias=None): the affine map of the last axis, as PyTorch's: input (..., in), weight
    (out, in), bias (out,) give (..., out).

    Forward:  y = x Wᵀ + b
    Backward: dx = gy W,  dW = gyᵀ x (summed over the leading axes),  db = sum of gy over the leading axes
    """
    if input.shape[-1:] != weight.shape[-1:] or weight.ndim != 2:
        raise ShapeError(f"linear: input has {input.shape[-1] if input.ndim else 0} features (input shape "
                         f"{input.shape}) but weight of shape {weight.shape} expects {weight.shape[-1]}")
    _check_same_dtype("linear", input=input, weight=weight, bias=bias)
    x = input if input.ndim > 1 else reshape(input, 1, -1)
    y = MatMul(False, True)(x, weight)
    if bias is not None:
        y = y + bias
    return y if input.ndim > 1 else reshape(y, -1)


def _norm_axes(fn, x):
    if x.ndim < 2:
        raise ShapeError(f"{fn}: expected input of shape (N, C, ...), got {x.shape}")
    return (0,) + tuple(range(2, x.ndim))


def _channel(t, x):
    return None if t is None else reshape(t, (1, -1) + (1,) * (x.ndim - 2))


@backend.follows_device
def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
    eps=1e-5): normalised per channel (axis 1) over the batch and spatial axes. Training uses the batch statistics and
    updates the running ones in place (running_var with the unbiased variance); evaluation uses the running ones.

    Forward:  y = γ · (x - μ) / sqrt(σ² + eps) + β,  μ, σ² the channel's mean and biased variance (training)
    Backward: training: dx = γ/σ̂ · (gy - mean(gy) - x̂ · mean(gy · x̂)) with x̂ = (x - μ)/σ̂, σ̂ = sqrt(σ² + eps);
              dγ = sum(gy · x̂), dβ = sum(gy);  evaluation: dx = gy · γ / sqrt(running_var + eps)
    """
    axes = _norm_axes("batch_norm", input)
    c = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                    ("bias", bias)):
        if t is not None and t.shape != (c,):
            raise ShapeError(f"batch_norm: {name} has shape {t.shape}, expected ({c},) for input {input.shape}")
    if training and input.data.size == 0:
        # An empty batch has no statistics: PyTorch returns the (empty) affine map and leaves the running ones alone
        y = input if weight is None else input * _channel(weight, input)
        return y if bias is None else y + _channel(bias, input)
    if training:
        n = input.data.size // c
        if n <= 1:
            raise ShapeError(f"batch_norm: expected more than 1 value per channel when training, got input "
                             f"{input.shape}")
        y, mean, var = _norm_train(input, _channel(weight, input), _channel(bias, input), axes, eps)
        if running_mean is not None:
            with no_grad():
                m = mean.reshape(-1)
                v = var.reshape(-1) * (n / (n - 1))
                running_mean.data[...] = (1 - momentum) * running_mean.data + momentum * m
                running_var.data[...] = (1 - momentum) * running_var.data + momentum * v
        return y
    if running_mean is None or running_var is None:
        raise ShapeError("batch_norm: running_mean and running_var are needed when training=False")
    r = Tensor((1.0 / backend.get_array_module(running_var.data).sqrt(running_var.data + eps)).astype(input.dtype))
    y = (input - _channel(running_mean.detach(), input)) * _channel(r, input)
    if weight is not None:
        y = y * _channel(weight, input)
    if bias is not None:
        y = y + _channel(bias, input)
    return y


@backend.follows_device
def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True,
                  momentum=0.1, eps=1e-5):
    """instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,
    use_input_stats=True, momentum=0.1, eps=1e-5): normalised per sample and channel over the spatial axes. With
    running_mean/running_var given and use_input_stats=True they are updated in place as PyTorch does (the batch average
    of the per-instance mean, or unbiased variance); use_input_stats=False normalises with the running statistics.

    Forward:  y = γ · (x - μ) / sqrt(σ² + eps) + β,  μ, σ² per (n, c) over the spatial axes
    Backward: dx = γ/σ̂ · (gy - mean(gy) - x̂ · mean(gy · x̂)) per (n, c), dγ = sum(gy · x̂), dβ = sum(gy)
    """
    if input.ndim < 3:
        raise ShapeError(f"instance_norm: expected input of shape (N, C, H, W) or (N, C, L), got {input.shape}")
    axes, c = tuple(range(2, input.ndim)), input.shape[1]
    for name, r in (("running_mean", running_mean), ("running_var", running_var)):
        if r is not None and r.shape != (c,):
            raise ShapeError(f"instance_norm: {name} must have shape ({c},) for input of shape {input.shape}, "
                             f"got {r.shape}")
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise ShapeError("instance_norm: expected running_mean and running_var to be defined when "
                             "use_input_stats is false")
        shape = (1, c) + (1,) * len(axes)
        y = (input - reshape(running_mean, shape)) / (reshape(running_var, shape) + eps) ** 0.5
        w, b = _channel(weight, input), _channel(bias, input)
        y = y if w is None else y * w
        return y if b is None else y + b
    y, _, _ = _norm_train(input, _channel(weight, input), _channel(bias, input), axes, eps)
    if running_mean is not None or running_var is not None:
        x = input.data
        n = int(numpy.prod([x.shape[a] for a in axes]))
        with no_grad():
            if running_mean is not None:
                running_mean.mul_(1 - momentum).add_(Tensor(x.mean(axis=axes).mean(axis=0) * momentum))
            if running_var is not None:
                var = x.var(axis=axes) * (n / max(n - 1, 1))
                running_var.mul_(1 - momentum).add_(Tensor(var.mean(axis=0) * momentum))
    return y


@backend.follows_device
def dropout(input, p=0.5, training=True):
    """dropout(input, p=0.5, training=True): inverted dropout: entries zeroed with probability p and the rest
    scaled by 1/(1 - p), so evaluation (training=False) is the identity.

    Forward:  y = x · m / (1 - p),  m_i ~ Bernoulli(1 - p)
    Backward: dx = gy · m / (1 - p)
    """
    if not 0 <= p <= 1:
        raise ShapeError(f"dropout: p must be in [0, 1], got {p}")
    if not training or p == 0:
        return input
    if p == 1:
        return input * 0
    mask = (_random_uniform(input.shape, input.dtype, input.device) >= p).astype(input.dtype)
    mask *= input.dtype.type(1.0 / (1 - p))   # in the input's dtype: no float64 array the size of the input
    return input * Tensor(mask)


@backend.follows_device
def embedding(input, weight, padding_idx=None):
    """embedding(input, weight, padding_idx=None): rows of weight (num_embeddings, dim) looked up by integer
    indices of any shape, giving input.shape + (dim,); the padding_idx row gets no gradient.

    Forward:  y[..., :] = W[idx[...], :]
    Backward: dW = gy scatter-added into the looked-up rows (none to the padding row); idx has no gradient
    """
    if input.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got dtype {input.dtype}")
    if input.data.size:
        idx, n = input.data, weight.shape[0]

        def error():
            host = backend.to_numpy(idx)
            return IndexError(f"embedding: indices must be in [0, {n}), got min {int(host.min())} max {int(host.max())}")
        with backend.on(idx):  # on a GPU, reported at the next sync point instead of stalling here
            backend.check_later((idx.min() < 0) | (idx.max() >= n), error)
    y = getitem(weight, input)
    if padding_idx is not None:
        y = where(Tensor((input.data != padding_idx)[..., None]), y, y.detach())  # value kept, gradient not
    return y
