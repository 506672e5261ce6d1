"""Losses for training restoration networks: L1, L2, SSIM, the L1 + SSIM mix, and a perceptual loss in the features
of a frozen scratchnet network (the shipped Fashion-MNIST classifier, or any Sequential or VGG you load weights into).

Pick one by name with restoration_loss('l1' | 'l2' | 'ssim' | 'l1+ssim'); each takes (output, target) Tensors
(N, C, H, W) and returns a scalar Tensor. The SSIM is scratchnet.restoration_metrics.ssim_loss (the metric's SSIM,
differentiable); 'l1+ssim' is Zhao et al.'s (2017) mix 0.84·(1 - SSIM) + 0.16·L1.
"""
import numbers

from .. import nn
from ..errors import ShapeError
from ..nn import functional as F
from ..restoration_metrics import ssim_loss

MIX_ALPHA = 0.84     # Zhao, Gallo, Frosio, Kautz: "Loss Functions for Image Restoration with Neural Networks"


def l1_ssim_loss(output, target, alpha=MIX_ALPHA):
    """alpha·(1 - SSIM(output, target)) + (1 - alpha)·mean|output - target|"""
    return alpha * ssim_loss(output, target) + (1 - alpha) * F.l1_loss(output, target)


LOSSES = {"l1": F.l1_loss, "l2": F.mse_loss, "ssim": ssim_loss, "l1+ssim": l1_ssim_loss}


def restoration_loss(name):
    """The loss function called `name`: one of l1, l2, ssim, l1+ssim."""
    if name not in LOSSES:
        raise ValueError(f"unknown restoration loss {name!r}: choose from {', '.join(LOSSES)}")
    return LOSSES[name]


class PerceptualLoss(nn.Module):
    """Σ_l w_l · mean((φ_l(output) − φ_l(target))²) over chosen layers l of a frozen feature network φ
    (Johnson et al. 2016's feature reconstruction loss), plus pixel_weight · mean|output − target|.

    network: an nn.Sequential (layers are indices: the output of network[l] is tapped) or a VGG from
    scratchnet.models.vgg (layers are names such as 'relu2_2'). Its parameters are frozen (requires_grad False) and it
    stays in eval mode (batch norm uses its running statistics) whatever .train() is called on; gradients flow to
    `output` only. The target's features are computed without a graph. weights: one per layer (default all 1).
    Backward: autograd through the network's ops; for one layer with n features,
        ∂/∂output of w·mean((φ(o) − φ(t))²) = (2w/n)·J_φ(o)ᵀ(φ(o) − φ(t)).
    """

    def __init__(self, network, layers, weights=None, pixel_weight=0.0):
        super().__init__()
        layers = list(layers)
        if not layers:
            raise ValueError("PerceptualLoss: layers must name at least one layer")
        self.vgg = hasattr(network, "layer_index")
        choices = "names: " + ", ".join(network.layer_index) if self.vgg else f"indices 0..{len(network) - 1}"
        for l in layers:
            known = l in network.layer_index if self.vgg else \
                isinstance(l, numbers.Integral) and 0 <= l < len(network)
            if not known:
                raise ValueError(f"PerceptualLoss: unknown layer {l!r} of {type(network).__name__} ({choices})")
        weights = [1.0] * len(layers) if weights is None else list(weights)
        if len(weights) != len(layers):
            raise ValueError(f"PerceptualLoss: {len(weights)} weights for {len(layers)} layers")
        self.network, self.layers, self.weights, self.pixel_weight = network, layers, weights, float(pixel_weight)
        network.requires_grad_(False)
        self.train()

    def train(self, mode=True):
        super().train(mode)
        self.network.eval()          # the feature network is a fixed measuring instrument
        return self

    def features(self, x):
        """{layer: activation} of the tapped layers."""
        if self.vgg:
            return self.network(x, self.layers)
        out, last = {}, max(self.layers)
        for i in range(last + 1):
            x = self.network[i](x)
            if i in self.layers:
                out[i] = x
        return out

    def forward(self, output, target):
        if tuple(output.shape) != tuple(target.shape):
            raise ShapeError(f"PerceptualLoss: output {tuple(output.shape)} and target {tuple(target.shape)} "
                             f"must have the same shape")
        fo = self.features(output)
        ft = self.features(target.detach())
        loss = sum(w * F.mse_loss(fo[l], ft[l].detach()) for l, w in zip(self.layers, self.weights))
        if self.pixel_weight:
            loss = loss + self.pixel_weight * F.l1_loss(output, target)
        return loss


def fashion_perceptual_loss(layers=(2, 6), weights=None, pixel_weight=0.0, device=None):
    """PerceptualLoss in the shipped Fashion-MNIST classifier (scratchnet.metrics.load_classifier, the compact CNN):
    by default after the ReLUs of its first two stages, (N, 32, H, W) and (N, 64, H/2, W/2). For 1-channel images in
    [0, 1], the Fashion-MNIST track."""
    from ..metrics import load_classifier
    return PerceptualLoss(load_classifier(device=device), layers, weights, pixel_weight)
