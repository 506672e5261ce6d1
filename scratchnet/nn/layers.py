"""Layers as Modules: dense, convolution, pooling, resizing, embedding, dropout, activations and reshaping.

Parameter names, shapes and default initialisation follow PyTorch, so a PyTorch state_dict converted to arrays
loads as it is.
"""
import math

from .. import backend, creation
from . import functional as F, init
from .module import Module, Parameter
from ..errors import ShapeError
from ..ops.pad import pad


def _param(*shape, device=None, dtype=None):
    return Parameter(creation.empty(*shape, device=device, dtype=dtype).data)


def _reset_fan_in(weight, bias, fan_in):
    """PyTorch's default: kaiming_uniform(a=√5) for the weight, i.e. U(±1/√fan_in), and the same bound for bias."""
    if weight.data.size:   # a zero-element weight (in_features=0) has nothing to draw, as in PyTorch
        init.kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        init.uniform_(bias, -bound, bound)


class Linear(Module):
    """y = x Wᵀ + b, W of shape (out_features, in_features)"""

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = _param(out_features, in_features, device=device, dtype=dtype)
        self.register_parameter("bias", _param(out_features, device=device, dtype=dtype) if bias else None)
        _reset_fan_in(self.weight, self.bias, in_features)

    def forward(self, x):
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ShapeError(f"{self!r} got input with {x.shape[-1] if x.ndim else 0} features: input shape "
                             f"{x.shape}, expected (..., {self.in_features})")
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _check_padding_mode(name, padding_mode, transposed):
    """PyTorch's errors: an unknown mode, or any mode but 'zeros' on a transposed convolution."""
    if padding_mode not in PADDING_MODES:
        raise ValueError(f"{name}: padding_mode must be one of {list(PADDING_MODES)}, but got "
                         f"padding_mode={padding_mode!r}")
    if transposed and padding_mode != "zeros":
        raise ValueError(f"{name}: only 'zeros' padding mode is supported for {name} (as PyTorch), got "
                         f"padding_mode={padding_mode!r}")


def _mode_pad(x, padding_mode, padding, kernel_size, dilation):
    """(x, padding) for the convolution itself: for reflect/replicate/circular, x padded with that mode by F.pad and
    padding 0 (PyTorch's `_reversed_padding_repeated_twice`); 'same' pads d·(k − 1) in total per dim, the odd one at
    the end, as PyTorch."""
    if padding_mode == "zeros" or padding == "valid":
        return x, padding
    if padding == "same":
        tot = [d * (k - 1) for k, d in zip(kernel_size, dilation)]
        widths = [w for t in reversed(tot) for w in (t // 2, t - t // 2)]
    else:
        widths = [w for p in reversed(padding) for w in (p, p)]
    return pad(x, widths, mode=padding_mode), 0


class _ConvNd(Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, transposed,
                 output_padding=0, padding_mode="zeros", device=None, dtype=None):
        super().__init__()
        name = type(self).__name__
        _check_padding_mode(name, padding_mode, transposed)
        if isinstance(padding, str) and (padding not in ("same", "valid") or transposed):
            raise ValueError(f"{name}: padding must be an int or a tuple{'' if transposed else ', same or valid'}, "
                             f"got {padding!r}")
        if padding == "same" and _pair(stride) != (1, 1):   # checked here: a padding mode bypasses conv2d's check
            raise ValueError(f"{name}: padding='same' is not supported for strided convolutions, stride={stride}")
        self.padding_mode = padding_mode
        for arg, v, least in (("in_channels", in_channels, 1), ("out_channels", out_channels, 0),
                              ("groups", groups, 1)):
            if isinstance(v, bool) or not isinstance(v, int) or v < least:
                raise ValueError(f"{name}: {arg} must be an integer >= {least}, got {v!r}")
        if in_channels % groups or out_channels % groups:
            raise ShapeError(f"{type(self).__name__}: in_channels={in_channels} and out_channels={out_channels} "
                             f"must both be divisible by groups={groups}")
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, _pair(kernel_size)
        self.stride, self.dilation, self.groups = _pair(stride), _pair(dilation), groups
        self.padding = padding if isinstance(padding, str) else _pair(padding)
        self.output_padding = _pair(output_padding)
        shape = (in_channels, out_channels // groups) if transposed else (out_channels, in_channels // groups)
        self.weight = _param(*shape, *self.kernel_size, device=device, dtype=dtype)
        self.register_parameter("bias", _param(out_channels, device=device, dtype=dtype) if bias else None)
        fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
        _reset_fan_in(self.weight, self.bias, fan_in)

    def _check(self, x):
        if x.ndim not in (3, 4) or x.shape[-3] != self.in_channels:
            got = x.shape[-3] if x.ndim >= 3 else "no"
            raise ShapeError(f"{type(self).__name__}(in_channels={self.in_channels}) got input with {got} "
                             f"channel(s): input shape {x.shape}, expected (N, {self.in_channels}, H, W)")

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding not in ((0, 0), 0):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s + (f", padding_mode={self.padding_mode}" if self.padding_mode != "zeros" else "")   # PyTorch's order


class Conv2d(_ConvNd):
    """y = x ⋆ W + b, W of shape (out_channels, in_channels/groups, kh, kw)"""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True,
                 padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, False,
                         padding_mode=padding_mode, device=device, dtype=dtype)

    def forward(self, x):
        self._check(x)
        x, padding = _mode_pad(x, self.padding_mode, self.padding, self.kernel_size, self.dilation)
        return F.conv2d(x, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)


class ConvTranspose2d(_ConvNd):
    """The adjoint of Conv2d in its input (a learned upsampling), W of shape (in, out/groups, kh, kw)"""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, True,
                         output_padding, padding_mode, device=device, dtype=dtype)

    def forward(self, x):
        self._check(x)
        return F.conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding, self.output_padding,
                                  self.groups, self.dilation)


class MaxPool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride or kernel_size
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, x):
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                            self.return_indices)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride or kernel_size, padding
        self.ceil_mode, self.count_include_pad, self.divisor_override = ceil_mode, count_include_pad, divisor_override

    def forward(self, x):
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad,
                            self.divisor_override)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool2d(Module):
    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, x):
        return F.adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class Upsample(Module):
    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None):
        super().__init__()
        self.size, self.scale_factor, self.mode, self.align_corners = size, scale_factor, mode, align_corners

    def forward(self, x):
        return F.interpolate(x, self.size, self.scale_factor, self.mode, self.align_corners)

    def extra_repr(self):
        return f"size={self.size}, scale_factor={self.scale_factor}, mode='{self.mode}'"


class Embedding(Module):
    """y = W[idx], W of shape (num_embeddings, embedding_dim), initialised N(0, 1) (padding row zero)"""

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, device=None, dtype=None):
        super().__init__()
        self.num_embeddings, self.embedding_dim, self.padding_idx = num_embeddings, embedding_dim, padding_idx
        self.weight = _param(num_embeddings, embedding_dim, device=device, dtype=dtype)
        init.normal_(self.weight)
        if padding_idx is not None:
            with backend.on(self.weight.data):
                self.weight.data[padding_idx] = 0

    def forward(self, idx):
        return F.embedding(idx, self.weight, self.padding_idx)

    def extra_repr(self):
        return f"{self.num_embeddings}, {self.embedding_dim}"


class Dropout(Module):
    def __init__(self, p=0.5):
        super().__init__()
        if not 0 <= p <= 1:
            raise ShapeError(f"Dropout: p must be in [0, 1], got {p}")
        self.p = p

    def forward(self, x):
        return F.dropout(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}"


class Flatten(Module):
    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return x.flatten(self.start_dim, self.end_dim)


class Unflatten(Module):
    def __init__(self, dim, unflattened_size):
        super().__init__()
        self.dim, self.unflattened_size = dim, tuple(unflattened_size)

    def forward(self, x):
        d = self.dim % x.ndim
        return x.reshape(x.shape[:d] + self.unflattened_size + x.shape[d + 1:])


class Identity(Module):
    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x


def _activation(name, fn, doc, **defaults):
    def __init__(self, *args, inplace=False, **kwargs):
        Module.__init__(self)
        params = dict(defaults)
        params.update(zip(defaults, args))
        params.update(kwargs)
        self.__dict__.update(params)
        self._keys = tuple(defaults)

    def forward(self, x):
        return fn(x, **{k: getattr(self, k) for k in self._keys})

    def extra_repr(self):
        return ", ".join(f"{k}={getattr(self, k)}" for k in self._keys)

    return type(name, (Module,), {"__init__": __init__, "forward": forward, "extra_repr": extra_repr, "__doc__": doc})


ReLU = _activation("ReLU", lambda x: F.relu(x), "y = max(x, 0)")
LeakyReLU = _activation("LeakyReLU", lambda x, negative_slope: F.leaky_relu(x, negative_slope),
                        "y = x if x > 0 else negative_slope·x", negative_slope=0.01)
Tanh = _activation("Tanh", lambda x: F.tanh(x), "y = tanh x")
Sigmoid = _activation("Sigmoid", lambda x: F.sigmoid(x), "y = 1 / (1 + e^−x)")
GELU = _activation("GELU", lambda x, approximate: F.gelu(x, approximate), "y = x·Φ(x)", approximate="none")
Softmax = _activation("Softmax", lambda x, dim: F.softmax(x, dim), "y = softmax(x) along dim", dim=-1)
LogSoftmax = _activation("LogSoftmax", lambda x, dim: F.log_softmax(x, dim), "y = log softmax(x) along dim", dim=-1)
