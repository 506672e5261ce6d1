"""Which kernels the ops run: "fast" (threads, cache blocks, layouts, FFT) or "reference" (their readable,
differentiable twins). Read from SCRATCHNET_KERNELS at import; `scratchnet.use_kernels(mode)` switches it in a block.

The twins compute the same values and gradients (tests/test_reference_kernels.py checks them against each other),
so a reader can step through the short path and trust that the fast one computes the same thing.
"""
import contextlib
import os

MODES = ("fast", "reference")


def _check(mode, where):
    if mode not in MODES:
        raise ValueError(f"{where}: kernel mode must be 'fast' or 'reference', got {mode!r}")
    return mode


_mode = _check(os.environ.get("SCRATCHNET_KERNELS", "fast") or "fast", "SCRATCHNET_KERNELS")


def mode():
    """The current kernel mode: "fast" or "reference"."""
    return _mode


def reference():
    """Whether ops run their readable twins."""
    return _mode == "reference"


@contextlib.contextmanager
def use_kernels(mode):
    """Run the block on the "fast" kernels or on their "reference" twins (process-wide, restored on exit):

        with scratchnet.use_kernels("reference"):
            loss = model(x).sum(); loss.backward()      # every conv, pool, norm and activation on its twin
    """
    global _mode
    old, _mode = _mode, _check(mode, "use_kernels")
    try:
        yield
    finally:
        _mode = old
