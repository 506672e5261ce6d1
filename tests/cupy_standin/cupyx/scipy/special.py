"""cupyx.scipy.special.erf/erfc/erfinv (https://docs.cupy.dev/en/stable/reference/scipy_special.html): one kernel each."""
import math

import numpy as _np

from cupy._core import kernel as _kernel


def _ufunc(name, fallback):
    try:
        import scipy.special
        f = getattr(scipy.special, name)
    except ImportError:
        v = _np.frompyfunc(fallback, 1, 1)
        f = lambda x: v(x).astype(x.dtype)  # noqa: E731
    return lambda x: _kernel(f, f"special.{name}", (x,), {})


erf = _ufunc("erf", math.erf)
erfc = _ufunc("erfc", math.erfc)


def _erfinv_needs_scipy(x):
    raise ImportError("the CuPy stand-in's erfinv needs SciPy")


erfinv = _ufunc("erfinv", _erfinv_needs_scipy)
