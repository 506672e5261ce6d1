"""cupy.random as CuPy has it (https://docs.cupy.dev/en/stable/reference/random.html):

- RandomState(seed=None, method=...) with random_sample/rand/randn/standard_normal/normal/uniform/randint/
  permutation/shuffle/choice/seed, and a `dtype` argument on the float samplers that accepts float32 and float64 only
  ("Random methods support dtype argument", https://docs.cupy.dev/en/stable/user_guide/difference.html).
  CuPy's RandomState has no get_state/set_state; code that needs to save a device stream must keep its own.
- One global RandomState per device: get_random_state() / set_random_state(rs) act on the current device, seed()
  reseeds the current device's (https://docs.cupy.dev/en/stable/reference/generated/cupy.random.get_random_state.html,
  .../cupy.random.seed.html).
- default_rng(seed) -> Generator with random/standard_normal/integers/uniform
  (https://docs.cupy.dev/en/stable/reference/generated/cupy.random.default_rng.html).
- Module-level samplers draw from the current device's RandomState.
Samples are made on the generator's device (a generator made under Device(1) used under Device(0) is refused here);
each draw is one kernel and uploads nothing.
"""
import numpy as _np

from . import _state
from ._core import _new, unwrap, _mismatch


def _float_dtype(dtype):
    dt = _np.dtype(dtype)
    if dt not in (_np.float32, _np.float64):
        raise TypeError(f"cupy.random only supports float32 and float64, got {dt}")
    return dt


def _size(size):
    return () if size is None else (tuple(size) if isinstance(size, (tuple, list)) else (int(size),))


class _Base:
    def __init__(self, seed):
        self._dev = _state.current()
        self._rng = _np.random.Generator(_np.random.Philox(None if seed is None else int(seed) % 2**64))

    def _out(self, name, make):
        if self._dev != _state.current():
            raise _mismatch(self._dev, f"random.{name}")
        _state.count("kernels", f"random.{name}")
        return _new(_np.asarray(make()))


class RandomState(_Base):
    def __init__(self, seed=None, method=None):
        super().__init__(seed)

    def seed(self, seed=None):
        self._rng = _np.random.Generator(_np.random.Philox(None if seed is None else int(seed) % 2**64))

    def random_sample(self, size=None, dtype=float):
        dt = _float_dtype(dtype)
        return self._out("random_sample", lambda: self._rng.random(_size(size), dtype=dt))

    def rand(self, *size, dtype=float):
        return self.random_sample(size, dtype)

    def randn(self, *size, dtype=float):
        return self.standard_normal(size, dtype)

    def standard_normal(self, size=None, dtype=float):
        dt = _float_dtype(dtype)
        return self._out("standard_normal", lambda: self._rng.standard_normal(_size(size), dtype=dt))

    def normal(self, loc=0.0, scale=1.0, size=None, dtype=float):
        dt = _float_dtype(dtype)
        loc, scale = unwrap(loc, "normal"), unwrap(scale, "normal")
        return self._out("normal", lambda: self._rng.normal(loc, scale, size).astype(dt))

    def uniform(self, low=0.0, high=1.0, size=None, dtype=float):
        dt = _float_dtype(dtype)
        low, high = unwrap(low, "uniform"), unwrap(high, "uniform")
        return self._out("uniform", lambda: self._rng.uniform(low, high, size).astype(dt))

    def randint(self, low, high=None, size=None, dtype="l"):
        return self._out("randint", lambda: self._rng.integers(low, high, _size(size), dtype=_np.dtype(dtype)))

    def permutation(self, num):
        return self._out("permutation", lambda: self._rng.permutation(unwrap(num, "permutation")))

    def shuffle(self, a):
        self._out("shuffle", lambda: self._rng.shuffle(unwrap(a, "shuffle")) or 0)

    def choice(self, a, size=None, replace=True, p=None):
        return self._out("choice", lambda: self._rng.choice(unwrap(a, "choice"), size, replace,
                                                            unwrap(p, "choice")))


class Generator(_Base):
    def __init__(self, seed=None):
        super().__init__(seed)

    def random(self, size=None, dtype=_np.float64, out=None):
        return self._out("random", lambda: self._rng.random(_size(size), dtype=_float_dtype(dtype)))

    def standard_normal(self, size=None, dtype=_np.float64, out=None):
        return self._out("standard_normal", lambda: self._rng.standard_normal(_size(size), dtype=_float_dtype(dtype)))

    def integers(self, low, high=None, size=None, dtype=_np.int64, endpoint=False):
        return self._out("integers", lambda: self._rng.integers(low, high, _size(size), dtype=dtype,
                                                                endpoint=endpoint))

    def uniform(self, low=0.0, high=1.0, size=None, dtype=_np.float64):
        return self._out("uniform", lambda: self._rng.uniform(low, high, size).astype(_float_dtype(dtype)))


def default_rng(seed=None):
    return seed if isinstance(seed, Generator) else Generator(seed)


_states = {}


def get_random_state():
    rs = _states.get(_state.current())
    if rs is None:
        rs = _states[_state.current()] = RandomState()
    return rs


def set_random_state(rs):
    _states[_state.current()] = rs


def reset_states():
    _states.clear()


def seed(seed=None):
    get_random_state().seed(seed)


def rand(*size, dtype=float):
    return get_random_state().rand(*size, dtype=dtype)


def randn(*size, dtype=float):
    return get_random_state().randn(*size, dtype=dtype)


def random_sample(size=None, dtype=float):
    return get_random_state().random_sample(size, dtype)


random = ranf = sample = random_sample


def standard_normal(size=None, dtype=float):
    return get_random_state().standard_normal(size, dtype)


def normal(loc=0.0, scale=1.0, size=None, dtype=float):
    return get_random_state().normal(loc, scale, size, dtype)


def uniform(low=0.0, high=1.0, size=None, dtype=float):
    return get_random_state().uniform(low, high, size, dtype)


def randint(low, high=None, size=None, dtype="l"):
    return get_random_state().randint(low, high, size, dtype)


def permutation(num):
    return get_random_state().permutation(num)


def shuffle(a):
    return get_random_state().shuffle(a)


def choice(a, size=None, replace=True, p=None):
    return get_random_state().choice(a, size, replace, p)
