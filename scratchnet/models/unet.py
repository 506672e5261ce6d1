"""U-Net (Ronneberger et al. 2015) for semantic segmentation: per-pixel class scores of the same size as the input.

Encoder: `depth` stages of a conv block (3×3 conv-BN-ReLU twice, padding 1 so the size is kept) each followed by
2×2 max pooling; a bottleneck block; decoder: `depth` stages, each upsampling by 2 (a learned 2×2 stride-2
transposed conv, or bilinear upsampling then a 1×1 conv), concatenating the encoder's feature map of the same size
(the skip connection, which carries back the detail pooling threw away) and a conv block. A 1×1 conv gives the
class scores. Widths double per stage: width, 2·width, ..., width·2**depth at the bottleneck.

The shape comments below are for width=16, depth=3 and a (N, 1, 64, 64) input.
"""
from .. import nn
from ..errors import ShapeError
from ..ops.shape import cat


def conv_block(cin, cout):
    """(3×3 conv, BN, ReLU) × 2; the conv has no bias since BN's shift replaces it."""
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())


def _upsampler(cin, cout, up):
    if up == "transpose":
        return nn.ConvTranspose2d(cin, cout, 2, stride=2)
    # bilinear: a fixed resize, then a 1×1 conv so the channel count halves as with the transposed conv
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False), nn.Conv2d(cin, cout, 1))


class UNet(nn.Module):
    """Input (N, in_channels, H, W) with H and W divisible by 2**depth; output (N, num_classes, H, W) logits."""

    def __init__(self, in_channels=1, num_classes=11, width=16, depth=3, up="transpose"):
        super().__init__()
        for arg, v in (("in_channels", in_channels), ("num_classes", num_classes), ("width", width),
                       ("depth", depth)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"unet: {arg} must be an integer >= 1, got {v!r}")
        if up not in ("transpose", "bilinear"):
            raise ValueError(f"unet: up must be 'transpose' or 'bilinear', got {up!r}")
        self.in_channels, self.num_classes, self.width, self.depth, self.up = in_channels, num_classes, width, depth, up
        widths = [width * 2 ** i for i in range(depth + 1)]                 # [16, 32, 64, 128]
        self.down = nn.ModuleList([conv_block(in_channels if i == 0 else widths[i - 1], widths[i])
                                   for i in range(depth)])
        self.pool = nn.MaxPool2d(2)
        self.bottleneck = conv_block(widths[depth - 1], widths[depth])
        self.ups = nn.ModuleList([_upsampler(widths[i + 1], widths[i], up) for i in reversed(range(depth))])
        # after concatenation with the skip, 2·widths[i] channels come into stage i's block
        self.up_blocks = nn.ModuleList([conv_block(2 * widths[i], widths[i]) for i in reversed(range(depth))])
        self.head = nn.Conv2d(width, num_classes, 1)

    def _check(self, x):
        k = 2 ** self.depth
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ShapeError(f"unet(in_channels={self.in_channels}) got input of shape {tuple(x.shape)}, expected "
                             f"(N, {self.in_channels}, H, W)")
        if x.shape[2] % k or x.shape[3] % k:
            raise ShapeError(f"unet(depth={self.depth}): input height and width must be divisible by 2**depth = {k}, "
                             f"got input shape {tuple(x.shape)}")

    def forward(self, x):                                  # (N, 1, 64, 64)
        self._check(x)
        skips = []
        for block in self.down:
            x = block(x)                                   # (N, 16, 64, 64), (N, 32, 32, 32), (N, 64, 16, 16)
            skips.append(x)
            x = self.pool(x)                               # (N, 16, 32, 32), (N, 32, 16, 16), (N, 64, 8, 8)
        x = self.bottleneck(x)                             # (N, 128, 8, 8)
        for up, block, skip in zip(self.ups, self.up_blocks, reversed(skips)):
            x = up(x)                                      # (N, 64, 16, 16), (N, 32, 32, 32), (N, 16, 64, 64)
            x = block(cat([skip, x], dim=1))               # cat: (N, 128, 16, 16) -> block: (N, 64, 16, 16), ...
        return self.head(x)                                # (N, 11, 64, 64)

    def extra_repr(self):
        return f"width={self.width}, depth={self.depth}, up={self.up!r}"


def unet(in_channels=1, num_classes=11, width=16, depth=3, up="transpose"):
    """A U-Net; see UNet. width=16, depth=3: about 0.48M parameters (transpose), 0.45M (bilinear)."""
    return UNet(in_channels, num_classes, width, depth, up)
