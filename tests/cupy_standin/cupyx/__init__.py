"""cupyx parts scratchnet may use: scatter_add (documented as behaving identically to add.at,
https://docs.cupy.dev/en/stable/reference/generated/cupyx.scatter_add.html; CuPy has ufunc.at since v12 (cupy/cupy
#7561) and recommends it, and issue 11 reports a DeprecationWarning on every scatter_add call in CuPy 12-14, which
the stand-in raises so that the suite catches any use), scatter_max/min, rsqrt, pinned buffers, cupyx.scipy.special."""
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
