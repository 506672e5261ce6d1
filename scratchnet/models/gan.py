"""GAN models for 28×28 images in [-1, 1]: DCGAN and a small MLP GAN, each optionally conditional on a class.

Conditional models join a learned class embedding to the noise (generator) and to the image (discriminator: as an
extra 28×28 channel for DCGAN, as extra inputs for the MLP), so G can be asked for a class and D judges image and
class together. The conditional DCGAN discriminator also has a projection term (Miyato & Koyama 2018):
    D(x, y) = w·φ(x, y) + b + e_y·φ(x, y),   φ = the flattened conv features, e_y a learned vector per class
which lets D compare the image's features with the class directly; with the label channel alone D judged the class
weakly (measured on this recipe, PyTorch twin, 1,000 steps: class consistency 51% -> 73% with the projection and
the mode-seeking term of scratchnet.apps.gan_losses).
"""
from .. import nn
from ..ops.shape import cat


def init_gan_weights(module):
    """DCGAN's initialisation: conv/linear weights ~ N(0, 0.02), batch-norm scales ~ N(1, 0.02), biases 0.
    Class embeddings keep their N(0, 1) init: at N(0, 0.02) the label is a whisper next to N(0, 1) noise and
    [-1, 1] pixels, both networks learn to ignore it, and a conditional G collapses to class-blind samples."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
    return module


class DCGANGenerator(nn.Module):
    """z (N, z_dim) [+ class] -> Linear -> BN -> LeakyReLU -> (N, 4w, 7, 7) -> ConvT stack with BN -> tanh
    -> (N, 1, 28, 28), w = width. The first ConvT is a stride-1 stem on 7×7 (4w -> 2w) with a stem×stem kernel:
    at 5×5 it is about 85% of G's multiply-adds (w = 64), at 3×3 a third of that; stem=0 drops it (the linear
    layer then writes (N, 2w, 7, 7) straight into the upsampling layers)."""

    def __init__(self, z_dim=100, num_classes=None, embed_dim=50, width=64, stem=5):
        super().__init__()
        self.z_dim, self.num_classes = z_dim, num_classes
        self.embed = nn.Embedding(num_classes, embed_dim) if num_classes else None
        self.start = (4 if stem else 2) * width          # channels of the 7×7 map the linear layer writes
        self.fc = nn.Linear(z_dim + (embed_dim if num_classes else 0), self.start * 7 * 7, bias=False)
        self.bn = nn.BatchNorm1d(self.start * 7 * 7)
        self.act = nn.LeakyReLU(0.2)
        stem_layers = [nn.ConvTranspose2d(4 * width, 2 * width, stem, stride=1, padding=stem // 2, bias=False),
                       nn.BatchNorm2d(2 * width), nn.LeakyReLU(0.2)] if stem else []
        self.net = nn.Sequential(
            *stem_layers,
            nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1, bias=False), nn.BatchNorm2d(width),
            nn.LeakyReLU(0.2),
            nn.ConvTranspose2d(width, 1, 4, stride=2, padding=1), nn.Tanh())   # (N, 2w, 7, 7) -> (N, 1, 28, 28)
        init_gan_weights(self)

    def forward(self, z, labels=None):
        if self.embed is not None:
            z = cat([z, self.embed(labels)], 1)
        h = self.act(self.bn(self.fc(z))).reshape(-1, self.start, 7, 7)
        return self.net(h)


class DCGANDiscriminator(nn.Module):
    """x (N, 1, 28, 28) [+ class map] -> strided Conv, LeakyReLU(0.2), Dropout(0.3) ×2 -> Linear -> logit (N, 1);
    the convs have w and 2w channels (w = width)"""

    def __init__(self, num_classes=None, embed_dim=50, width=64):
        super().__init__()
        self.num_classes = num_classes
        self.embed = nn.Embedding(num_classes, embed_dim) if num_classes else None
        self.label_map = nn.Linear(embed_dim, 28 * 28) if num_classes else None
        self.features = nn.Sequential(
            nn.Conv2d(2 if num_classes else 1, width, 4, stride=2, padding=1), nn.LeakyReLU(0.2), nn.Dropout(0.3),
            nn.Conv2d(width, 2 * width, 4, stride=2, padding=1), nn.LeakyReLU(0.2), nn.Dropout(0.3),  # (N, 2w, 7, 7)
            nn.Flatten())
        self.fc = nn.Linear(2 * width * 7 * 7, 1)
        self.project = nn.Embedding(num_classes, 2 * width * 7 * 7) if num_classes else None
        init_gan_weights(self)
        if self.project is not None:   # starts near zero like the other weights: the label channel leads at first
            nn.init.normal_(self.project.weight, 0.0, 0.02)

    def forward(self, x, labels=None):
        if self.embed is None:
            return self.fc(self.features(x))
        h = self.features(cat([x, self.label_map(self.embed(labels)).reshape(-1, 1, 28, 28)], 1))
        return self.fc(h) + (self.project(labels) * h).sum(1, keepdim=True)


class MLPGenerator(nn.Module):
    """z [+ class] -> Dense 128 -> LeakyReLU -> Dense 784 -> tanh -> (N, 1, 28, 28)"""

    def __init__(self, z_dim=100, num_classes=None, embed_dim=50, hidden=128):
        super().__init__()
        self.z_dim, self.num_classes = z_dim, num_classes
        self.embed = nn.Embedding(num_classes, embed_dim) if num_classes else None
        self.net = nn.Sequential(nn.Linear(z_dim + (embed_dim if num_classes else 0), hidden), nn.LeakyReLU(0.2),
                                 nn.Linear(hidden, 784), nn.Tanh())
        init_gan_weights(self)

    def forward(self, z, labels=None):
        if self.embed is not None:
            z = cat([z, self.embed(labels)], 1)
        return self.net(z).reshape(-1, 1, 28, 28)


class MLPDiscriminator(nn.Module):
    """x (N, 1, 28, 28) [+ class] -> Dense 128 -> LeakyReLU(0.2) -> Dense 1 (logit)"""

    def __init__(self, num_classes=None, embed_dim=50, hidden=128):
        super().__init__()
        self.num_classes = num_classes
        self.embed = nn.Embedding(num_classes, embed_dim) if num_classes else None
        self.net = nn.Sequential(nn.Linear(784 + (embed_dim if num_classes else 0), hidden), nn.LeakyReLU(0.2),
                                 nn.Linear(hidden, 1))
        init_gan_weights(self)

    def forward(self, x, labels=None):
        h = x.flatten(1)
        if self.embed is not None:
            h = cat([h, self.embed(labels)], 1)
        return self.net(h)


# kind -> (generator, its options, discriminator, its options). dcgan-small is the demo gallery's: G's stride-1
# stem layer 3×3 instead of 5×5, the rest as dcgan: ~57% of dcgan's multiply-adds per step (recipe and quality:
# apps.gallery, docs/gan_demo_recipe.json), though on the CPU a step takes about as long (the 5×5 layer's fast route)
GANS = {"dcgan": (DCGANGenerator, {}, DCGANDiscriminator, {}),
        "dcgan-small": (DCGANGenerator, dict(width=64, stem=3), DCGANDiscriminator, {}),
        "mlp": (MLPGenerator, {}, MLPDiscriminator, {})}


def build_gan(kind="dcgan", z_dim=100, num_classes=None):
    """(generator, discriminator) of a kind (a key of GANS), conditional when num_classes is given."""
    if kind not in GANS:
        raise ValueError(f"unknown GAN {kind!r}: choose from {', '.join(GANS)}")
    g_cls, g_opts, d_cls, d_opts = GANS[kind]
    return g_cls(z_dim, num_classes, **g_opts), d_cls(num_classes, **d_opts)
