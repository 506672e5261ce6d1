"""Random numbers: one generator per device (NumPy's Generator on the CPU, a counter-based stream per GPU),
reseeded by manual_seed and saved whole by get_rng_state, so a resumed run draws what an uninterrupted one would.
"""
import contextlib

import numpy

from . import backend
from .backend import Device, cupy, device, using

_generators = {}
_seed = None


def manual_seed(seed):
    """Seed every backend's generator, so runs on the same backend repeat exactly."""
    global _seed
    _seed = int(seed)
    _generators.clear()
    numpy.random.seed(_seed % 2**32)  # for code that still uses the legacy global state
    if backend._cupy is not None:
        backend._cupy.random.seed(_seed)  # CuPy's own global stream (current device), for user code that draws from it


class DeviceGenerator:
    """The random stream of one GPU, counter-based: draw i comes from a CuPy RandomState seeded with a hash of
    (entropy, i). CuPy's RandomState cannot report or restore its state, so this one keeps its own: the
    pair (entropy, draws) is the whole state, and restoring it continues the stream exactly (get_rng_state).
    Seeding happens on the host and nothing is read back from the device. As torch.manual_seed does for every GPU,
    one seed gives every device the same stream, so a run on cuda:1 repeats one on cuda:0 (and data-parallel ranks,
    each on its own GPU, draw what one process would)."""

    def __init__(self, dev, entropy):
        self.dev, self.entropy, self.draws = dev, int(entropy), 0

    def _next(self):
        seq = numpy.random.SeedSequence(self.entropy, spawn_key=(self.draws,))
        self.draws += 1
        return cupy().random.RandomState(int(seq.generate_state(1, numpy.uint64)[0]) >> 1)

    def standard_normal(self, shape, dtype):
        return self._next().standard_normal(shape, dtype=dtype)

    def random_sample(self, shape, dtype):
        return self._next().random_sample(shape, dtype=dtype)

    def randint(self, low, high, shape, dtype):
        return self._next().randint(low, high, shape, dtype=dtype)

    @property
    def state(self):
        return {"entropy": self.entropy, "draws": self.draws}

    @state.setter
    def state(self, value):
        self.entropy, self.draws = int(value["entropy"]), int(value["draws"])


def generator(dev=None):
    """The random generator of a device: numpy.random.Generator on the CPU, a DeviceGenerator on a GPU."""
    dev = device(dev)
    gen = _generators.get(dev)
    if gen is None:
        if dev.type == "cpu":
            gen = numpy.random.default_rng(_seed)
        else:
            gen = DeviceGenerator(dev, _seed if _seed is not None else numpy.random.SeedSequence().entropy)
        _generators[dev] = gen
    return gen


def get_rng_state():
    """The state of every generator in use (CPU and each GPU) as a JSON-able dict, for checkpoints: with
    set_rng_state it makes a resumed run draw exactly what an uninterrupted one would, on any device."""
    out = {"seed": _seed, "cpu": generator("cpu").bit_generator.state, "cuda": {}}
    for dev, gen in _generators.items():
        if dev.type == "cuda":
            out["cuda"][str(dev.index)] = gen.state
    return out


def set_rng_state(state):
    """Restore what get_rng_state returned. Older checkpoints held only the CPU generator's bit-generator state."""
    global _seed
    if "cpu" not in state:  # a bare numpy bit-generator state, as checkpoints before device states saved
        generator("cpu").bit_generator.state = state
        return
    _seed = state.get("seed")
    generator("cpu").bit_generator.state = state["cpu"]
    for index, st in state.get("cuda", {}).items():
        dev = Device("cuda", int(index))
        gen = _generators.get(dev)
        if gen is None:
            gen = _generators[dev] = DeviceGenerator(dev, st["entropy"])
        gen.state = st


_row_shard = None


@contextlib.contextmanager
def sharded_rows(lo, hi, n):
    """Inside: a random draw whose first dimension is hi − lo (this process's rows lo:hi of a global batch of n)
    is drawn for all n rows and cut to lo:hi. Every data-parallel rank then draws exactly what one process would
    for the whole batch (noise, dropout masks), and the ranks' generators stay in step."""
    global _row_shard
    old, _row_shard = _row_shard, (lo, hi, n)
    try:
        yield
    finally:
        _row_shard = old


def _draw(draw, shape):
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    s = _row_shard
    if s is None or not shape or shape[0] != s[1] - s[0] or s[1] - s[0] == s[2]:
        return draw(shape)
    return draw((s[2],) + shape[1:])[s[0]:s[1]]


def random_normal(shape, dtype, dev=None):
    gen = generator(dev)
    with using(device(dev)):
        return _draw(lambda sh: gen.standard_normal(sh, dtype=dtype), shape)


def random_uniform(shape, dtype, dev=None):
    gen = generator(dev)
    with using(device(dev)):
        if isinstance(gen, numpy.random.Generator):
            return _draw(lambda sh: gen.random(sh, dtype=dtype), shape)
        return _draw(lambda sh: gen.random_sample(sh, dtype=dtype), shape)


def random_integers(low, high, shape, dev=None):
    gen = generator(dev)
    with using(device(dev)):
        if isinstance(gen, numpy.random.Generator):
            return _draw(lambda sh: gen.integers(low, high, sh, dtype=numpy.int64), shape)
        return _draw(lambda sh: gen.randint(low, high, sh, dtype=numpy.int64), shape)

