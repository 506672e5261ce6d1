"""LayerNorm and GroupNorm modules (PyTorch's parameters: weight = 1, bias = 0; the maths is in ops/feature_norm.py)."""
from .. import creation
from ..errors import ShapeError
from . import functional as F
from .module import Module, Parameter


def _ones_zeros(module, shape, weight, bias, device, dtype):
    module.register_parameter("weight", Parameter(creation.ones(*shape, device=device, dtype=dtype).data)
                              if weight else None)
    module.register_parameter("bias", Parameter(creation.zeros(*shape, device=device, dtype=dtype).data)
                              if bias else None)


class LayerNorm(Module):
    """y = (x − μ)/sqrt(σ² + eps)·γ + β over the trailing dims normalized_shape (γ, β elementwise, of that shape)"""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, device=None, dtype=None):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.normalized_shape, self.eps, self.elementwise_affine = tuple(int(s) for s in shape), eps, elementwise_affine
        _ones_zeros(self, self.normalized_shape, elementwise_affine, elementwise_affine and bias, device, dtype)

    def forward(self, x):
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class GroupNorm(Module):
    """y = (x − μ_g)/sqrt(σ_g² + eps)·γ_c + β_c with statistics per sample over each group of channels"""

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, device=None, dtype=None):
        super().__init__()
        if num_groups <= 0 or num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels={num_channels} must be divisible by num_groups={num_groups}")
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        _ones_zeros(self, (num_channels,), affine, affine, device, dtype)

    def forward(self, x):
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            raise ShapeError(f"{self!r} got input of shape {tuple(x.shape)}: expected (N, {self.num_channels}, *)")
        return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"
