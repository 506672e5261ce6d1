"""Grad mode: whether ops record the graph. One switch (`is_grad_enabled`) and the contexts that set it for a block:
`no_grad()` (inference, optimizer updates), `enable_grad()`, `set_grad_enabled(mode)`; each is also a decorator.
"""
import contextlib


class _Mode:
    grad_enabled = True


def is_grad_enabled():
    """True while ops record the graph (the default), False inside no_grad() or set_grad_enabled(False)."""
    return _Mode.grad_enabled


class set_grad_enabled(contextlib.ContextDecorator):
    """Context manager and decorator that turns graph recording on or off."""

    def __init__(self, mode):
        self.mode = bool(mode)

    def __enter__(self):
        self.prev = _Mode.grad_enabled
        _Mode.grad_enabled = self.mode

    def __exit__(self, *exc):
        _Mode.grad_enabled = self.prev


class no_grad(set_grad_enabled):
    """`with no_grad():` or `@no_grad()`: ops inside record no graph (inference, optimizer updates)."""

    def __init__(self):
        super().__init__(False)


class enable_grad(set_grad_enabled):
    """`with enable_grad():` or `@enable_grad()`: graph recording back on inside a no_grad region."""

    def __init__(self):
        super().__init__(True)
