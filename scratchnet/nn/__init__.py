"""scratchnet.nn: Module, Parameter and the layers (PyTorch's names), plus functional and init."""
from . import functional, init, utils  # noqa: F401
from .module import Module, Parameter  # noqa: F401
from .container import Sequential, ModuleList, ModuleDict  # noqa: F401
from .layers import (Linear, Conv2d, ConvTranspose2d, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, Upsample,  # noqa
                     Embedding, Dropout, Flatten, Unflatten, Identity, ReLU, LeakyReLU, Tanh, Sigmoid, GELU, Softmax,
                     LogSoftmax)
from .norm import BatchNorm1d, BatchNorm2d, InstanceNorm2d  # noqa: F401
from .loss import CrossEntropyLoss, NLLLoss, MSELoss, L1Loss, BCELoss, BCEWithLogitsLoss  # noqa: F401
from .loss import KLDivLoss, SmoothL1Loss, HuberLoss, TripletMarginLoss  # noqa: F401
from .activation import (SiLU, ELU, CELU, SELU, Hardtanh, ReLU6, Hardsigmoid, Hardswish, Mish, Softsign,  # noqa
                         LogSigmoid, Softmin, Softplus, PReLU)
from .distance import CosineSimilarity, PairwiseDistance  # noqa: F401
from .normalization import LayerNorm, GroupNorm  # noqa: F401
from .pixel import PixelShuffle, PixelUnshuffle, MaxUnpool2d  # noqa: F401
from .fold import Fold, Unfold  # noqa: F401
from .attention import MultiheadAttention  # noqa: F401
from .conv_more import (Conv1d, Conv3d, ConvTranspose1d, ConvTranspose3d, MaxPool1d, MaxPool3d, AvgPool1d,  # noqa
                        AvgPool3d)
