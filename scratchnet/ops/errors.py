"""The errors of the op layer: one class each, defined in scratchnet/errors.py and named here for the ops."""
from ..errors import ShapeError, DTypeError  # noqa: F401
