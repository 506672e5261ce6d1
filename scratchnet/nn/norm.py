"""Normalisation layers: BatchNorm1d/2d (running statistics, eval mode) and InstanceNorm2d."""
from .. import creation
from ..tensor import Tensor
from . import functional as F
from .module import Module, Parameter
from ..errors import ShapeError


def _affine(module, num_features, affine, device, dtype):
    """γ = 1 and β = 0 per channel (the identity affine map), or no parameters at all."""
    if affine:
        module.weight = Parameter(creation.ones(num_features, device=device, dtype=dtype).data)
        module.bias = Parameter(creation.zeros(num_features, device=device, dtype=dtype).data)
    else:
        module.register_parameter("weight", None)
        module.register_parameter("bias", None)


class _BatchNorm(Module):
    """y = γ·(x − μ)/sqrt(σ² + eps) + β per channel; batch statistics in train(), running ones in eval()"""

    dims = ()

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, device=None,
                 dtype=None):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        _affine(self, num_features, affine, device, dtype)
        if track_running_stats:
            self.register_buffer("running_mean", creation.zeros(num_features, device=device, dtype=dtype))
            self.register_buffer("running_var", creation.ones(num_features, device=device, dtype=dtype))
            self.register_buffer("num_batches_tracked", creation.tensor(0, device=device))
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None

    def forward(self, x):
        if x.ndim not in self.dims or x.shape[1] != self.num_features:
            raise ShapeError(f"{type(self).__name__}({self.num_features}) got input of shape {x.shape}: expected "
                             f"{' or '.join(f'{d}-D' for d in self.dims)} input with {self.num_features} channels "
                             "in dim 1")
        use_batch = self.training or not self.track_running_stats
        momentum = self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.data += 1
            if momentum is None:  # cumulative moving average
                momentum = 1.0 / int(self.num_batches_tracked.item())
        return F.batch_norm(x, self.running_mean if not use_batch or self.training else None,
                            self.running_var if not use_batch or self.training else None, self.weight, self.bias,
                            use_batch, momentum if momentum is not None else 0.0, self.eps)

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}"


class BatchNorm1d(_BatchNorm):
    dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    dims = (4,)


class InstanceNorm2d(Module):
    """y = γ·(x − μ)/sqrt(σ² + eps) + β with statistics per sample and channel (style transfer's normaliser)"""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False, track_running_stats=False, device=None,
                 dtype=None):
        super().__init__()
        self.num_features, self.eps, self.affine = num_features, eps, affine
        self.momentum, self.track_running_stats = momentum, track_running_stats
        _affine(self, num_features, affine, device, dtype)
        if track_running_stats:  # as PyTorch: updated in training, used in evaluation
            from ..creation import zeros, ones
            self.register_buffer("running_mean", zeros(num_features, dtype=dtype, device=device))
            self.register_buffer("running_var", ones(num_features, dtype=dtype, device=device))

    def forward(self, x: Tensor):
        if x.ndim not in (3, 4) or x.shape[-3] != self.num_features:
            raise ShapeError(f"InstanceNorm2d({self.num_features}) got input of shape {x.shape}: expected "
                             f"(N, {self.num_features}, H, W)")
        unbatched = x.ndim == 3
        track = self.track_running_stats
        y = F.instance_norm(x.unsqueeze(0) if unbatched else x, self.running_mean if track else None,
                            self.running_var if track else None, weight=self.weight, bias=self.bias,
                            use_input_stats=self.training or not track, momentum=self.momentum, eps=self.eps)
        return y.squeeze(0) if unbatched else y

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")
