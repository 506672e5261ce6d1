"""Ready-made models."""
from .cnn import reference_cnn, strong_cnn, compact_cnn, build, MODELS, shipped_classifier  # noqa: F401
from .taps import TappedSequential  # noqa: F401
from .bank import FilterBank  # noqa: F401
from .vgg import VGG, vgg16, vgg19, load_pretrained, WeightsError  # noqa: F401
from .unet import UNet, unet  # noqa: F401
from .restoration import (SRCNN, ESPCN, SRResNet, DnCNN, InpaintUNet, srcnn, espcn, srresnet, dncnn,  # noqa: F401
                          inpaint_unet)
