"""The error raised for bad shapes and arguments at the nn boundary: a ValueError that is also a RuntimeError, so
code written for PyTorch (which raises RuntimeError there) catches it too."""


class ShapeError(ValueError, RuntimeError):
    """A shape or argument mismatch, named in the user's terms (the op, the argument, the shapes)."""
