"""Image restoration networks: super-resolution (SRCNN, ESPCN, SRResNet/EDSR-style), denoising (DnCNN) and
inpainting (a U-Net that is told where the holes are).

All take and return (N, C, H, W) images in [0, 1] (C = 3 by default; the outputs are not clipped, so the loss sees
the true error). The shape comments are for a batch of N RGB images, 48×48 high-resolution patches and scale 3.
- SRCNN (Dong et al. 2014) works on the bicubic-upsampled image: same size in and out.
- ESPCN (Shi et al. 2016) and SRResNet (Ledig et al. 2017) work on the low-resolution image and upsample at the
  end with sub-pixel convolution (a conv to C·r² channels, then PixelShuffle(r)), so every conv but the last runs
  on r² times fewer pixels.
- DnCNN (Zhang et al. 2017) predicts the noise and subtracts it (residual learning).
"""
from .. import nn
from ..errors import ShapeError
from ..nn import functional as F
from ..ops.math import where
from ..ops.shape import cat
from .unet import UNet


def _check_image(name, x, channels):
    if x.ndim != 4 or x.shape[1] != channels:
        raise ShapeError(f"{name}(channels={channels}) got input of shape {tuple(x.shape)}, expected "
                         f"(N, {channels}, H, W)")


def _positive(name, **values):
    for arg, v in values.items():
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name}: {arg} must be an integer >= 1, got {v!r}")


class SRCNN(nn.Module):
    """9-5-5 SRCNN: patch extraction (9×9, 64), non-linear mapping (5×5, 32), reconstruction (5×5). Padding keeps
    the size (the paper trained without it and cropped the target instead)."""

    def __init__(self, channels=3, widths=(64, 32)):
        super().__init__()
        _positive("srcnn", channels=channels)
        self.channels = channels
        w1, w2 = widths
        self.body = nn.Sequential(
            nn.Conv2d(channels, w1, 9, padding=4), nn.ReLU(),
            nn.Conv2d(w1, w2, 5, padding=2), nn.ReLU(),
            nn.Conv2d(w2, channels, 5, padding=2))

    def forward(self, x):                        # (N, 3, 48, 48): the bicubic-upsampled low-resolution image
        _check_image("srcnn", x, self.channels)
        return self.body(x)                      # (N, 64, 48, 48) -> (N, 32, 48, 48) -> (N, 3, 48, 48)


class ESPCN(nn.Module):
    """Efficient sub-pixel CNN: 5×5 (64), 3×3 (32) with tanh, then a 3×3 conv to C·r² channels and PixelShuffle."""

    def __init__(self, scale=3, channels=3, widths=(64, 32)):
        super().__init__()
        _positive("espcn", scale=scale, channels=channels)
        self.scale, self.channels = scale, channels
        w1, w2 = widths
        self.body = nn.Sequential(
            nn.Conv2d(channels, w1, 5, padding=2), nn.Tanh(),
            nn.Conv2d(w1, w2, 3, padding=1), nn.Tanh(),
            nn.Conv2d(w2, channels * scale * scale, 3, padding=1))
        self.shuffle = nn.PixelShuffle(scale)

    def forward(self, x):                        # (N, 3, 16, 16): the low-resolution image
        _check_image("espcn", x, self.channels)
        x = self.body(x)                         # (N, 64, 16, 16) -> (N, 32, 16, 16) -> (N, 27, 16, 16)
        return self.shuffle(x)                   # (N, 3, 48, 48)

    def extra_repr(self):
        return f"scale={self.scale}"


class ResidualBlock(nn.Module):
    """x + conv(act(conv(x))) with 3×3 convs; SRResNet puts BN after each conv and a PReLU between, EDSR removes
    the BN (it normalises away the range information SR needs, and costs memory) and uses ReLU; res_scale
    multiplies the branch (EDSR's 0.1 for wide networks)."""

    def __init__(self, width, batch_norm=False, res_scale=1.0):
        super().__init__()
        layers = [nn.Conv2d(width, width, 3, padding=1, bias=not batch_norm)]
        layers += [nn.BatchNorm2d(width)] if batch_norm else []
        layers += [nn.PReLU(width) if batch_norm else nn.ReLU(),
                   nn.Conv2d(width, width, 3, padding=1, bias=not batch_norm)]
        layers += [nn.BatchNorm2d(width)] if batch_norm else []
        self.body, self.res_scale = nn.Sequential(*layers), res_scale

    def forward(self, x):                        # (N, w, 16, 16) -> (N, w, 16, 16)
        y = self.body(x)
        return x + (y * self.res_scale if self.res_scale != 1 else y)


def upsampler(width, scale):
    """Sub-pixel upsampling by `scale`: ×2 stages for powers of 2 (×4 = two of them, as SRResNet), one ×3 stage
    for 3; each is a 3×3 conv to width·r² channels, PixelShuffle(r) and a PReLU."""
    if scale & (scale - 1) == 0:
        factors = [2] * (scale.bit_length() - 1)
    else:
        factors = [scale]
    layers = []
    for r in factors:
        layers += [nn.Conv2d(width, width * r * r, 3, padding=1), nn.PixelShuffle(r), nn.PReLU(width)]
    return nn.Sequential(*layers)


class SRResNet(nn.Module):
    """Head conv (9×9) + PReLU, `blocks` residual blocks, a 3×3 conv (+BN) added to the head's features (the
    global skip), sub-pixel upsampling, and a tail conv to C channels. `image_skip` also adds the bicubic
    upsampling of the input to the output, so the network learns only the detail interpolation misses: the same
    function class, but training starts from bicubic quality instead of grey, which matters on a CPU budget."""

    def __init__(self, scale=4, channels=3, blocks=16, width=64, batch_norm=False, image_skip=True, tail_kernel=9):
        super().__init__()
        _positive("srresnet", scale=scale, channels=channels, blocks=blocks, width=width, tail_kernel=tail_kernel)
        if tail_kernel % 2 == 0:
            raise ValueError(f"srresnet: tail_kernel must be odd (the output keeps the size), got {tail_kernel}")
        self.scale, self.channels, self.blocks, self.width = scale, channels, blocks, width
        self.batch_norm, self.image_skip = batch_norm, image_skip
        self.head = nn.Sequential(nn.Conv2d(channels, width, 9, padding=4), nn.PReLU(width))
        self.body = nn.Sequential(*[ResidualBlock(width, batch_norm) for _ in range(blocks)])
        self.fuse = nn.Sequential(nn.Conv2d(width, width, 3, padding=1, bias=not batch_norm),
                                  *([nn.BatchNorm2d(width)] if batch_norm else []))
        self.up = upsampler(width, scale)
        self.tail = nn.Conv2d(width, channels, tail_kernel, padding=tail_kernel // 2)
        self.skip = nn.Upsample(scale_factor=scale, mode="bicubic", align_corners=False) if image_skip else None

    def forward(self, x):                        # (N, 3, 16, 16): the low-resolution image
        _check_image("srresnet", x, self.channels)
        h = self.head(x)                         # (N, w, 16, 16)
        h = h + self.fuse(self.body(h))          # (N, w, 16, 16): the global skip
        y = self.tail(self.up(h))                # up: (N, w, 48, 48); tail: (N, 3, 48, 48)
        return y + self.skip(x) if self.skip is not None else y

    def extra_repr(self):
        return f"scale={self.scale}, blocks={self.blocks}, width={self.width}, batch_norm={self.batch_norm}"


class DnCNN(nn.Module):
    """conv+ReLU, (depth − 2) × (conv+BN+ReLU), conv: the network estimates the noise n̂ and returns x − n̂.

    Initialisation (He et al. 2015, as the DnCNN paper): every conv but the last N(0, 2/fan_in), biases 0, so a
    plain ReLU stack keeps its signal through the depth; the last conv N(0, 1e-3²), so training starts from
    "no noise" (out ≈ x). PyTorch's default conv init (kaiming_uniform with a=√5, variance 1/(3·fan_in)) shrinks
    the signal about √6-fold per layer: without BN a 10-layer net then sat at the noisy input's PSNR for hundreds
    of steps (22.8 dB after 400 steps at σ = 25, against 28.5 dB with this init)."""

    def __init__(self, channels=3, depth=17, width=64, batch_norm=True):
        super().__init__()
        _positive("dncnn", channels=channels, width=width)
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 2:
            raise ValueError(f"dncnn: depth must be an integer >= 2, got {depth!r}")
        self.channels, self.depth, self.width = channels, depth, width
        layers = [nn.Conv2d(channels, width, 3, padding=1), nn.ReLU()]
        for _ in range(depth - 2):
            layers += [nn.Conv2d(width, width, 3, padding=1, bias=not batch_norm)]
            layers += [nn.BatchNorm2d(width)] if batch_norm else []
            layers += [nn.ReLU()]
        layers += [nn.Conv2d(width, channels, 3, padding=1)]
        self.body = nn.Sequential(*layers)
        convs = [m for m in layers if isinstance(m, nn.Conv2d)]
        for conv in convs[:-1]:
            nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
        nn.init.normal_(convs[-1].weight, 0.0, 1e-3)
        for conv in convs:
            if conv.bias is not None:
                nn.init.zeros_(conv.bias)

    def forward(self, x):                        # (N, 3, 48, 48): the noisy image
        _check_image("dncnn", x, self.channels)
        return x - self.body(x)                  # body: (N, w, 48, 48) ... -> (N, 3, 48, 48), the noise

    def extra_repr(self):
        return f"depth={self.depth}, width={self.width}"


def push_pull(image, mask):
    """Holes filled from the known pixels, coarse to fine (the push-pull fill of Gortler et al. 1996): pull: halve
    the resolution, each pixel the mean of its known children (image·mask and mask average-pooled 2×2, divided);
    recurse until 1×1; push: up-sample the filled coarse level (bilinear) into the holes of the finer one. A hole
    gets the colours around it, smoothly, however large it is. image (N, C, H, W), mask (N, 1, H, W) in {0, 1};
    known pixels are kept. Made of differentiable ops, so it runs on any device."""
    h, w = image.shape[-2:]
    known = image * mask
    if h == 1 and w == 1:
        return known
    padded = (0, w % 2, 0, h % 2)    # a zero row/column of mask 0 counts for nothing in the mean
    m = F.avg_pool2d(F.pad(mask, padded), 2)
    colour = F.avg_pool2d(F.pad(known, padded), 2) / m.clamp(min=1e-12)
    coarse = push_pull(colour, where(m > 0, 1.0, 0.0).to(image.dtype))
    up = F.interpolate(coarse, scale_factor=2, mode="bilinear", align_corners=False)[..., :h, :w]
    return known + up * (1 - mask)


class InpaintUNet(nn.Module):
    """U-Net on the image and the mask (1 = known pixel, 0 = hole), C + 1 channels; the known pixels are kept.
    prefill=True: the holes are first filled by push_pull (smooth colours from the surroundings, for holes of any
    size, even wider than the U-Net sees) and the U-Net adds its correction:
        f = push_pull(x·m, m);  out = m·x + (1 − m)·(f + unet(f, m)).
    prefill=False: the U-Net alone paints the holes from the masked image: out = m·x + (1 − m)·unet(x·m, m).
    prefill="input": the input's holes already hold the pre-fill, f = x (the app computes push_pull on the whole
    image, and training patches are cut from fills of whole photos, so train and test see the same fill; a fill
    computed on a patch cut through a hole wider than it is not what the whole photo's fill holds there);
    then as with True: out = m·x + (1 − m)·(f + unet(f, m)).
    The U-Net's last conv starts at zero, so an untrained net returns the pre-fill (or black holes): whatever
    training adds to the pre-fill is the network's own. H and W must be divisible by 2**depth (the app pads)."""

    def __init__(self, channels=3, width=16, depth=3, prefill=True):
        super().__init__()
        _positive("inpaint_unet", channels=channels, width=width, depth=depth)
        if prefill not in (True, False, "input"):
            raise ValueError(f"inpaint_unet: prefill must be True, False or 'input', got {prefill!r}")
        self.channels, self.prefill = channels, prefill
        self.net = UNet(in_channels=channels + 1, num_classes=channels, width=width, depth=depth)
        nn.init.zeros_(self.net.head.weight)
        nn.init.zeros_(self.net.head.bias)

    def forward(self, x):                        # (N, 4, 48, 48): masked image (3) and mask (1)
        if x.ndim != 4 or x.shape[1] != self.channels + 1:
            raise ShapeError(f"inpaint_unet(channels={self.channels}) got input of shape {tuple(x.shape)}, "
                             f"expected (N, {self.channels + 1}, H, W): the masked image and the mask")
        image, mask = x[:, :self.channels], x[:, self.channels:]
        # what lies in the holes is never read: push_pull reads image·mask only
        filled = image if self.prefill == "input" else push_pull(image, mask) if self.prefill else image * mask
        pred = self.net(cat([filled, mask], dim=1))                            # (N, 3, 48, 48)
        if self.prefill:
            pred = filled + pred
        return image * mask + pred * (1 - mask)  # (N, 3, 48, 48)

    def extra_repr(self):
        return f"prefill={self.prefill!r}"


def srcnn(channels=3):
    """SRCNN 9-5-5 (about 20k parameters for RGB); input is the bicubic-upsampled image."""
    return SRCNN(channels)


def espcn(scale=3, channels=3):
    """ESPCN for ×scale (about 24k parameters for RGB ×3); input is the low-resolution image."""
    return ESPCN(scale, channels)


def srresnet(scale=4, blocks=16, width=64, batch_norm=False, channels=3, image_skip=True, tail_kernel=9):
    """SRResNet/EDSR-style network for ×scale; batch_norm=False is EDSR's choice. blocks=16, width=64 is the
    paper's size (1.5M parameters); the app's default is smaller (see scratchnet.apps.restore)."""
    return SRResNet(scale, channels, blocks, width, batch_norm, image_skip, tail_kernel)


def dncnn(depth=17, width=64, channels=3, batch_norm=True):
    """DnCNN-S (depth 17, width 64: 0.56M parameters for RGB): returns the denoised image."""
    return DnCNN(channels, depth, width, batch_norm)


def inpaint_unet(width=16, depth=3, channels=3, prefill=True):
    """Inpainting U-Net; input (N, channels + 1, H, W) = image and mask; prefill: start from the push-pull fill
    (True: computed by the network on its input; 'input': already in the input's holes; False: none)."""
    return InpaintUNet(channels, width, depth, prefill)


# the --model names of `scratchnet restore`, per task
MODELS = {"sr": {"srcnn": srcnn, "espcn": espcn, "srresnet": srresnet}, "denoise": {"dncnn": dncnn},
          "inpaint": {"unet": inpaint_unet}}
