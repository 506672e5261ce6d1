"""cupyx.scipy.special.erf/erfc/erfinv (https://docs.cupy.dev/en/stable/reference/scipy_special.html): one kernel each."""
import math

import numpy as _np

from cupy._core import kernel as _kernel


def _elementwise(f):
    v = _np.frompyfunc(f, 1, 1)
    return lambda x: _np.asarray(v(x), dtype=x.dtype)


def _scratchnet_erfinv(x):
    from scratchnet.ops.special import erfinv_kernel  # scratchnet's own CPU kernel, run here on the host array
    return erfinv_kernel(x)


def _ufunc(name, fallback):
    """SciPy's function when SciPy is installed (it is no dependency of scratchnet), else `fallback` on host arrays."""
    try:
        import scipy.special
        f = getattr(scipy.special, name)
    except ImportError:
        f = fallback
    if name == "erfinv":  # CUDA's erfinv(±0) is ±0 (CUDA Math API); SciPy's erfinv(-0.0) is +0.0
        f = (lambda g: lambda x: _np.copysign(g(x), x))(f)
    return lambda x: _kernel(f, f"special.{name}", (x,), {})


erf = _ufunc("erf", _elementwise(math.erf))
erfc = _ufunc("erfc", _elementwise(math.erfc))
erfinv = _ufunc("erfinv", _scratchnet_erfinv)
