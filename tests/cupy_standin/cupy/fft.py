"""cupy.fft over numpy.fft (https://docs.cupy.dev/en/stable/reference/fft.html); each transform one kernel.
CuPy keeps single precision (float32 in, complex64 out), as NumPy 2 does."""
import numpy as _np

from ._core import kernel as _kernel


def __getattr__(name):
    f = getattr(_np.fft, name, None)
    if f is None or name.startswith("__"):
        raise AttributeError(name)
    return lambda *a, **k: _kernel(f, f"fft.{name}", a, k)
