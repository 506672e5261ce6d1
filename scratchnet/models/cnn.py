"""Classifiers for 28×28 grayscale images (Fashion-MNIST): the reference CNN of the benchmarks, a stronger one, and
the compact one whose trained weights ship with scratchnet (the GAN metric's and DeepDream's network).

Each is a TappedSequential (see taps): blockN is the output of the N-th convolutional stage (its last ReLU, before
pooling), features the vector the last Linear reads, logits the class scores.
"""
import os

from .. import backend, io, nn
from .taps import TappedSequential

SHIPPED_WEIGHTS = os.path.join(os.path.dirname(__file__), "weights", "fashion_compact.safetensors")


def reference_cnn(num_classes=10):
    """conv(1→32,3) ReLU maxpool2 conv(32→64,3) ReLU maxpool2 Linear(1600→128) ReLU Linear(128→classes)"""
    return TappedSequential([
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),          # (N, 32, 13, 13)
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),         # (N, 64, 5, 5)
        nn.Flatten(), nn.Linear(1600, 128), nn.ReLU(),            # (N, 128)
        nn.Linear(128, num_classes)],                              # (N, classes)
        dict(block1=1, block2=4, features=8, logits=9))


def _block(cin, cout):
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]


def strong_cnn(num_classes=10):
    """Two conv-BN-ReLU pairs per stage, max pooling and dropout: ~92-93% on Fashion-MNIST."""
    return TappedSequential([
        *_block(1, 32), *_block(32, 32), nn.MaxPool2d(2), nn.Dropout(0.25),     # (N, 32, 14, 14)
        *_block(32, 64), *_block(64, 64), nn.MaxPool2d(2), nn.Dropout(0.25),    # (N, 64, 7, 7)
        nn.Flatten(), nn.Linear(64 * 7 * 7, 256, bias=False), nn.BatchNorm1d(256), nn.ReLU(),
        nn.Dropout(0.5), nn.Linear(256, num_classes)],                           # (N, classes)
        dict(block1=5, block2=13, features=19, logits=21))


def compact_cnn(num_classes=10):
    """A small fully convolutional classifier (~93k parameters): three conv-BN-ReLU stages, global average pooling.
    Its 128-d pooled features are what the GAN metric compares (apps.gan_metrics), and it runs on images of any
    size."""
    return TappedSequential([
        *_block(1, 32), nn.MaxPool2d(2),                                   # (N, 32, 14, 14)
        *_block(32, 64), nn.MaxPool2d(2),                                  # (N, 64, 7, 7)
        *_block(64, 128),                                                  # (N, 128, 7, 7)
        nn.AdaptiveAvgPool2d(1), nn.Flatten(),                             # (N, 128): the features
        nn.Linear(128, num_classes)],
        dict(block1=2, block2=6, block3=10, features=12, logits=13))


MODELS = {"reference": reference_cnn, "strong": strong_cnn, "compact": compact_cnn}


def build(name, num_classes=10):
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}: choose from {', '.join(MODELS)}")
    return MODELS[name](num_classes)


def shipped_classifier(path=SHIPPED_WEIGHTS, device=None):
    """The compact CNN with the weights shipped in models/weights (tools/train_shipped_classifier.py made them),
    in eval mode on `device`."""
    model = compact_cnn()
    model.load_state_dict(io.load(path))
    return model.to(device or backend.get_default_device()).eval()
