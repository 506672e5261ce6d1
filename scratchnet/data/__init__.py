"""scratchnet.data: the IDX reader, (Fashion-)MNIST with offline fallbacks, DataLoader and batch transforms, and the
restoration photos and pairs (scratchnet.data.restoration)."""
from .idx import IDXError, read_idx, write_idx  # noqa: F401
from .datasets import FashionMNIST, MNIST, DataError, download  # noqa: F401
from .loader import DataLoader, compose, horizontal_flip, normalize, random_crop, to_float  # noqa: F401
from .segmentation import FashionSegmentation  # noqa: F401
from .restoration import RestorationPairs  # noqa: F401
