"""A random multi-scale filter bank: the offline feature network for style transfer and texture synthesis.

Ustyuzhaninov et al. (2017), "What does it take to generate natural textures?": random filters, no training, are
enough for Gram-matrix texture statistics. The image goes through a binomial pyramid of `levels` levels; at every
level it is convolved (reflect padding, so borders carry no artificial edges) with `channels` zero-mean Gaussian
filters of each kernel size, then ReLU:
    F_{l,k} = ReLU(W_k ⋆ reflect_pad(P_l(x))),   W_k ~ N(0, 1/(3k²)) minus its mean,   P_l = l-th pyramid level
so 4 levels × 4 sizes give 16 feature maps of 64 channels. The weights are regenerated from `seed` on the host (the
same on every backend); there is no weight file.
"""
import numpy

from .. import creation, nn
from ..nn import functional as F
from ..ops.pad import pad
from .taps import check_taps


def binomial_blur(x):
    """Separable [1 4 6 4 1]/16 blur with reflect padding, channel by channel:
    y = b ⋆ (b ⋆ x)ᵀ, b = [1, 4, 6, 4, 1]/16 (a Gaussian of σ ≈ 1; linear, so dL/dx is the same blur flipped)."""
    c = x.shape[1]
    key = (c, x.dtype, x.device)
    if key not in _blur_kernels:   # made once per channel count, dtype and device (a GPU step uploads nothing)
        k = creation.tensor(numpy.array([1.0, 4.0, 6.0, 4.0, 1.0]) / 16, dtype=x.dtype, device=x.device)
        _blur_kernels[key] = (k.reshape(1, 1, 1, 5).repeat(c, 1, 1, 1), k.reshape(1, 1, 5, 1).repeat(c, 1, 1, 1))
    row, col = _blur_kernels[key]
    x = pad(x, (2, 2, 2, 2), mode="reflect")
    x = F.conv2d(x, row, groups=c)
    return F.conv2d(x, col, groups=c)


_blur_kernels = {}


def pyramid(x, levels=4):
    """[x, blur-and-halve(x), ...]: a binomial (Gaussian-like) image pyramid with `levels` levels."""
    out = [x]
    for _ in range(levels - 1):
        out.append(binomial_blur(out[-1])[:, :, ::2, ::2])
    return out


class FilterBank(nn.Module):
    """forward(x (N, 3, H, W) in [0, 1]) -> {"L{level}_k{size}": (N, channels, H/2^level, W/2^level)}."""

    def __init__(self, kernel_sizes=(3, 5, 7, 9), channels=64, levels=4, in_channels=3, seed=0):
        super().__init__()
        self.kernel_sizes, self.levels, self.seed = tuple(kernel_sizes), levels, seed
        rng = numpy.random.default_rng(seed)
        for k in self.kernel_sizes:
            w = rng.standard_normal((channels, in_channels, k, k)) / numpy.sqrt(in_channels * k * k)
            w -= w.mean(axis=(1, 2, 3), keepdims=True)   # blind to a uniform grey offset: only structure counts
            self.register_buffer(f"w{k}", creation.tensor(w, dtype="float32"), persistent=False)
        # reflect padding needs the coarsest level, ceil(H / 2^(levels-1)) px, to exceed the kernel's half width
        self.min_size = 2 ** (levels - 1) * max(max(self.kernel_sizes) // 2, 2) + 1

    @property
    def layer_names(self):
        return [f"L{level}_k{k}" for level in range(self.levels) for k in self.kernel_sizes]

    tap_names = layer_names   # the named-taps API every feature model shares (see models.taps)

    def taps(self, x, names):
        """{name: feature map} for the named maps (all of them are computed: every level needs the pyramid)."""
        check_taps(self, names)
        out = self.forward(x)
        return {n: out[n] for n in names}

    def forward(self, x):
        if x.ndim != 4 or x.shape[1] != getattr(self, f"w{self.kernel_sizes[0]}").shape[1]:
            raise ValueError(f"FilterBank: input must be (N, {getattr(self, f'w{self.kernel_sizes[0]}').shape[1]}, "
                             f"H, W), got {x.shape}")
        if min(x.shape[2:]) < self.min_size:
            raise ValueError(f"FilterBank: image {x.shape[2]}x{x.shape[3]} is too small for {self.levels} pyramid "
                             f"levels and kernel size {max(self.kernel_sizes)}; need at least {self.min_size} px")
        out = {}
        for level, p in enumerate(pyramid(x, self.levels)):
            for k in self.kernel_sizes:
                w = getattr(self, f"w{k}").to(dtype=x.dtype)
                h = k // 2
                out[f"L{level}_k{k}"] = F.relu(F.conv2d(pad(p, (h, h, h, h), mode="reflect"), w))
        return out
