"""Classifiers for 28×28 grayscale images (Fashion-MNIST): the reference CNN of the benchmarks and a stronger one."""
from .. import nn


def reference_cnn(num_classes=10):
    """conv(1→32,3) ReLU maxpool2 conv(32→64,3) ReLU maxpool2 Linear(1600→128) ReLU Linear(128→classes)"""
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),          # (N, 32, 13, 13)
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),         # (N, 64, 5, 5)
        nn.Flatten(), nn.Linear(1600, 128), nn.ReLU(),            # (N, 128)
        nn.Linear(128, num_classes))                               # (N, classes)


def _block(cin, cout):
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]


def strong_cnn(num_classes=10):
    """Two conv-BN-ReLU pairs per stage, max pooling and dropout: ~92-93% on Fashion-MNIST."""
    return nn.Sequential(
        *_block(1, 32), *_block(32, 32), nn.MaxPool2d(2), nn.Dropout(0.25),     # (N, 32, 14, 14)
        *_block(32, 64), *_block(64, 64), nn.MaxPool2d(2), nn.Dropout(0.25),    # (N, 64, 7, 7)
        nn.Flatten(), nn.Linear(64 * 7 * 7, 256, bias=False), nn.BatchNorm1d(256), nn.ReLU(),
        nn.Dropout(0.5), nn.Linear(256, num_classes))                            # (N, classes)


def compact_cnn(num_classes=10):
    """A small fully convolutional classifier (~93k parameters): three conv-BN-ReLU stages, global average pooling.
    Its 128-d pooled features are what scratchnet.metrics compares, and it runs on images of any size."""
    return nn.Sequential(
        *_block(1, 32), nn.MaxPool2d(2),                                   # (N, 32, 14, 14)
        *_block(32, 64), nn.MaxPool2d(2),                                  # (N, 64, 7, 7)
        *_block(64, 128),                                                  # (N, 128, 7, 7)
        nn.AdaptiveAvgPool2d(1), nn.Flatten(),                             # (N, 128): the features
        nn.Linear(128, num_classes))


MODELS = {"reference": reference_cnn, "strong": strong_cnn, "compact": compact_cnn}


def build(name, num_classes=10):
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}: choose from {', '.join(MODELS)}")
    return MODELS[name](num_classes)
