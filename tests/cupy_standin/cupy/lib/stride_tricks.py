"""cupy.lib.stride_tricks.as_strided: a view, no kernel."""
import numpy as _np

from .._core import view as _view


def as_strided(x, shape=None, strides=None):
    return _view(lambda a: _np.lib.stride_tricks.as_strided(a, shape, strides), "as_strided", x, (), {})
