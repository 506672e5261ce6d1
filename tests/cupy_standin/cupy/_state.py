"""The stand-in's global state: how many fake devices, the current device per host thread, and the counters."""
import collections
import contextlib
import os
import threading

DEVICE_COUNT = int(os.environ.get("CUPY_STANDIN_DEVICES", "2"))
_local = threading.local()
COUNTS = collections.Counter()   # d2h, h2d, kernels
_logs = []                        # open counting() logs: (kind, what) per event


def current():
    """The current device of this host thread; CUDA starts every thread on device 0."""
    return getattr(_local, "device", 0)


def set_current(i):
    _local.device = i


def count(kind, what):
    COUNTS[kind] += 1
    for log in _logs:
        log.append((kind, what))


class Counting:
    """Counts seen inside a `with cupy.standin.counting() as c:` block: c.d2h, c.h2d, c.kernels, and c.log."""

    def __init__(self):
        self.log = []

    def _n(self, kind):
        return sum(1 for k, _ in self.log if k == kind)

    d2h = property(lambda self: self._n("d2h"))
    h2d = property(lambda self: self._n("h2d"))
    kernels = property(lambda self: self._n("kernels"))

    def where(self, kind):
        """The events of one kind, as a Counter of what caused them (for failure messages)."""
        return collections.Counter(w for k, w in self.log if k == kind)

    def __repr__(self):
        return f"Counting(d2h={self.d2h}, h2d={self.h2d}, kernels={self.kernels})"


@contextlib.contextmanager
def counting():
    c = Counting()
    _logs.append(c.log)
    try:
        yield c
    finally:
        _logs.remove(c.log)
