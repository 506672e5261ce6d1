"""Not part of CuPy: the stand-in's counters, for tests that assert a step makes no host round-trips."""
from ._state import COUNTS, DEVICE_COUNT, counting  # noqa: F401


def counts():
    """Totals since start-up: {'d2h': ..., 'h2d': ..., 'kernels': ...}."""
    return {k: COUNTS[k] for k in ("d2h", "h2d", "kernels")}
