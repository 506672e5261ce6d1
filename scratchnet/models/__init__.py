"""Ready-made models."""
from .cnn import reference_cnn, strong_cnn, compact_cnn, build, MODELS  # noqa: F401
