"""Figures of a training loop (loss sums, correct counts, objective values) kept on the device where they are
computed, and read to the host only every N steps: a GPU step then never waits for the host (`--log-every`)."""
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
