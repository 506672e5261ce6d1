"""Figures of a training loop (loss sums, correct counts, objective values) kept on the device where they are
computed, and read to the host only every N steps: a GPU step then never waits for the host (`--log-every`)."""
import math

import numpy

from .. import backend
from ..tensor import Tensor


class Readout:
    """Running sums of named figures. add() is free of syncs; read() is one device->host transfer for all of them."""

    def __init__(self, every=20):
        if int(every) < 1:
            raise ValueError(f"log_every must be at least 1, got {every}")
        self.every = int(every)
        self._sums = {}

    def add(self, **figures):
        for k, v in figures.items():
            v = v.detach() if isinstance(v, Tensor) else v
            self._sums[k] = v if k not in self._sums else self._sums[k] + v

    def due(self, step, last):
        """Whether step (1-based) is a read point: every `every` steps and the last one."""
        return step % self.every == 0 or step == last

    def read(self):
        """{name: float} of the sums so far."""
        return read_floats(self._sums)

    def reset(self):
        self._sums = {}


def read_floats(figures):
    """{name: Tensor or number} -> {name: float} with one transfer per device (a stack of the 0-d values)."""
    out, by_dev = {}, {}
    for k, v in figures.items():
        if isinstance(v, Tensor) and v.device.type != "cpu":
            by_dev.setdefault(v.device, []).append(k)
        else:
            out[k] = float(v.item() if isinstance(v, Tensor) else v)
    for dev, keys in by_dev.items():
        xp = backend.xp_for(dev)
        with backend.using(dev):
            values = backend.to_numpy(xp.stack([figures[k].data.reshape(()).astype(numpy.float64) for k in keys]))
        out.update({k: float(x) for k, x in zip(keys, values)})
    return {k: out[k] for k in figures}


def read_rows(rows):
    """[{name: Tensor or number}] -> [{name: float}], all device values in one transfer per device."""
    flat = {(i, k): v for i, row in enumerate(rows) for k, v in row.items()}
    values = read_floats(flat)
    return [{k: values[(i, k)] for k in row} for i, row in enumerate(rows)]


class FirstNonFinite:
    """The first step whose figures were not all finite, kept on the device: update() adds no sync, and read()
    (at the next sync point) says which step went wrong even if that step's own figures were never read."""

    def __init__(self):
        self._flag = None      # device: that step, or -1
        self._host = None      # the same for figures that were already host numbers

    def update(self, step, figures):
        dev = [v for v in figures.values() if isinstance(v, Tensor) and v.device.type != "cpu"]
        if self._host is None and any(not math.isfinite(float(v.item() if isinstance(v, Tensor) else v))
                                      for v in figures.values() if not (isinstance(v, Tensor) and v in dev)):
            self._host = step
        if dev:
            xp = backend.get_array_module(dev[0].data)
            with backend.on(dev[0].data):
                bad = ~xp.isfinite(sum(v.data for v in dev[1:]) + dev[0].data)   # NaN and inf propagate
                self._flag = xp.where(bad, step, -1) if self._flag is None else \
                    xp.where((self._flag < 0) & bad, step, self._flag)

    def read(self):
        """The first bad step (as passed to update), or None."""
        steps = [self._host] if self._host is not None else []
        if self._flag is not None:
            s = read_floats({"s": Tensor(self._flag)})["s"]
            if s >= 0:
                steps.append(int(s))
        return min(steps) if steps else None
