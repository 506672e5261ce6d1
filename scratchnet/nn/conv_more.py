"""Conv1d/Conv3d, ConvTranspose1d/3d, MaxPool1d/3d, AvgPool1d/3d: PyTorch's parameters (names, shapes, default
initialisation, so a PyTorch state_dict loads) over the functionals of nn/conv_functional.py."""
from . import conv_functional as CF
from .layers import _check_padding_mode, _mode_pad, _param, _reset_fan_in
from . import init
from .module import Module


def _ntuple(v, dims):
    return (v,) * dims if isinstance(v, int) else tuple(v)


class _ConvAnyD(Module):
    dims = 1
    transposed = False

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True,
                 padding_mode="zeros", output_padding=0, device=None, dtype=None):
        super().__init__()
        name, n = type(self).__name__, self.dims
        if groups <= 0 or in_channels % groups or out_channels % groups:
            raise ValueError(f"{name}: in_channels={in_channels} and out_channels={out_channels} must both be "
                             f"divisible by groups={groups}")
        _check_padding_mode(name, padding_mode, self.transposed)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"{name}: padding must be an int, a tuple, 'same' or 'valid', got {padding!r}")
            if padding == "same" and any(s != 1 for s in _ntuple(stride, n)):
                raise ValueError(f"{name}: padding='same' is not supported for strided convolutions")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride = _ntuple(kernel_size, n), _ntuple(stride, n)
        self.padding = padding if isinstance(padding, str) else _ntuple(padding, n)
        self.dilation, self.groups, self.padding_mode = _ntuple(dilation, n), groups, padding_mode
        self.output_padding = _ntuple(output_padding, n)
        shape = (in_channels, out_channels // groups) if self.transposed else (out_channels, in_channels // groups)
        self.weight = _param(*shape, *self.kernel_size, device=device, dtype=dtype)
        self.register_parameter("bias", _param(out_channels, device=device, dtype=dtype) if bias else None)
        fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
        _reset_fan_in(self.weight, self.bias, fan_in)

    def _check(self, x):
        if x.ndim not in (self.dims + 1, self.dims + 2) or x.shape[-self.dims - 1] != self.in_channels:
            got = x.shape[-self.dims - 1] if x.ndim > self.dims else "no"
            raise CF.ShapeError(f"{self!r} got input with {got} channel(s): input shape {tuple(x.shape)}, expected "
                                f"(N, {self.in_channels}, {', '.join('DHW'[3 - self.dims:])})")

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * self.dims:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * self.dims:
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s + (f", padding_mode={self.padding_mode}" if self.padding_mode != "zeros" else "")   # PyTorch's order


class _Conv(_ConvAnyD):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True,
                 padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, device=device, dtype=dtype)

    def forward(self, x):
        self._check(x)
        fn = CF.conv1d if self.dims == 1 else CF.conv3d
        x, padding = _mode_pad(x, self.padding_mode, self.padding, self.kernel_size, self.dilation)
        return fn(x, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)


class Conv1d(_Conv):
    """y = x ⋆ W + b over (N, C, L), W of shape (out_channels, in_channels/groups, k)"""
    dims = 1


class Conv3d(_Conv):
    """y = x ⋆ W + b over (N, C, D, H, W), W of shape (out_channels, in_channels/groups, kd, kh, kw)"""
    dims = 3


class _ConvTranspose(_ConvAnyD):
    transposed = True

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, output_padding, device=device, dtype=dtype)

    def forward(self, x, output_size=None):
        self._check(x)
        op = self.output_padding
        if output_size is not None:   # the output_padding that gives this size (PyTorch's output_size argument)
            size = tuple(output_size)[-self.dims:]
            base = [(n - 1) * s - 2 * p + d * (k - 1) + 1 for n, s, p, d, k in
                    zip(x.shape[-self.dims:], self.stride, self.padding, self.dilation, self.kernel_size)]
            op = tuple(o - b for o, b in zip(size, base))
            if any(v < 0 or v >= max(s, d) for v, s, d in zip(op, self.stride, self.dilation)):
                raise CF.ShapeError(f"{self!r}: requested output_size {tuple(output_size)} is not reachable from "
                                    f"input {tuple(x.shape)} (smallest {tuple(base)})")
        fn = CF.conv_transpose1d if self.dims == 1 else CF.conv_transpose3d
        return fn(x, self.weight, self.bias, self.stride, self.padding, op, self.groups, self.dilation)


class ConvTranspose1d(_ConvTranspose):
    """The adjoint of Conv1d in its input, W of shape (in_channels, out_channels/groups, k)"""
    dims = 1


class ConvTranspose3d(_ConvTranspose):
    """The adjoint of Conv3d in its input, W of shape (in_channels, out_channels/groups, kd, kh, kw)"""
    dims = 3


class _MaxPool(Module):
    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride if stride is not None else kernel_size
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, x):
        fn = CF.max_pool1d if self.dims == 1 else CF.max_pool3d
        return fn(x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode, self.return_indices)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(_MaxPool):
    dims = 1


class MaxPool3d(_MaxPool):
    dims = 3


class AvgPool1d(Module):
    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride if stride is not None else kernel_size
        self.padding, self.ceil_mode, self.count_include_pad = padding, ceil_mode, count_include_pad

    def forward(self, x):
        return CF.avg_pool1d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool3d(Module):
    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride if stride is not None else kernel_size
        self.padding, self.ceil_mode, self.count_include_pad = padding, ceil_mode, count_include_pad
        self.divisor_override = divisor_override

    def forward(self, x):
        return CF.avg_pool3d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad,
                             self.divisor_override)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"
