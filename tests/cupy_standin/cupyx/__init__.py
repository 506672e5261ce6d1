"""cupyx parts scratchnet may use: scatter_add (deprecated in CuPy 12+ in favour of cupy.add.at, a warning on every
call: https://docs.cupy.dev/en/stable/reference/generated/cupyx.scatter_add.html and the CuPy v12 upgrade guide),
scatter_max/min, rsqrt, pinned host buffers, and cupyx.scipy.special."""
import warnings

import numpy as _np

from . import scipy  # noqa: F401


def _scatter(ufunc, name):
    def f(a, slices, value):
        warnings.warn(f"cupyx.{name} is deprecated. Use cupy.{ufunc}.at instead.", DeprecationWarning, stacklevel=2)
        import cupy
        getattr(cupy, ufunc).at(a, slices, value)
    return f


scatter_add = _scatter("add", "scatter_add")
scatter_max = _scatter("maximum", "scatter_max")
scatter_min = _scatter("minimum", "scatter_min")


def rsqrt(x):
    import cupy
    return 1 / cupy.sqrt(x)


def empty_pinned(shape, dtype=float, order="C"):
    return _np.empty(shape, dtype, order=order)


def zeros_pinned(shape, dtype=float, order="C"):
    return _np.zeros(shape, dtype, order=order)
