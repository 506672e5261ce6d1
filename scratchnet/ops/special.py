"""The error function and its inverse: the one Erf/Erfinv pair (used by scratchnet.erf/erfinv and by exact GELU)
and their array kernels. NumPy has neither and SciPy is no dependency, so the CPU kernels are written here (erf from
math.erf, erfinv by Giles's approximation polished with Newton steps); on the GPU, cupyx.scipy.special."""
import math

from .. import backend
from ..autograd import Function

TWO_OVER_SQRT_PI, SQRT_PI_OVER_TWO = 2.0 / math.sqrt(math.pi), math.sqrt(math.pi) / 2.0


def _elementwise(xp, f, x, dtype=None):
    """f (a float -> float from math) on every element: as exact as the C library's erf, unlike a short polynomial."""
    return xp.asarray(xp.frompyfunc(f, 1, 1)(x), dtype=dtype or x.dtype)


def erf_kernel(x):
    """erf of a floating array, same dtype."""
    xp = backend.get_array_module(x)
    if xp is not backend.numpy:
        import cupyx.scipy.special
        return cupyx.scipy.special.erf(x)
    return _elementwise(xp, math.erf, x)


def _giles(xp, x):
    """Giles (2010), "Approximating the erfinv function": ~1e-7 relative on (-1, 1), the start for Newton."""
    w = -xp.log((1.0 - x) * (1.0 + x))
    central = w < 5.0
    # two polynomials, both evaluated (one pass of array ops beats masking), the right one kept per element
    c = w - 2.5
    p = 2.81022636e-08
    for a in (3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503, -0.00417768164,
              0.246640727, 1.50140941):
        p = a + p * c
    t = xp.sqrt(xp.maximum(w, 5.0)) - 3.0
    q = -0.000200214257
    for a in (0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613, 0.00943887047,
              1.00167406, 2.83297682):
        q = a + q * t
    return xp.where(central, p, q) * x


def _tail_start(xp, m):
    """erfinv(1 - m) for tiny m, where Giles's polynomial (fit for float32) runs out: erfc(y) ~ e**(-y**2)/(y sqrt(pi))
    solved for y by two fixed-point steps, ~1e-3 relative, enough for Newton."""
    big_l = -xp.log(m)
    y = xp.sqrt(big_l)
    for _ in range(2):
        y = xp.sqrt(big_l - xp.log(y * math.sqrt(math.pi)))
    return y


def erfinv_kernel(x):
    """erfinv of a floating array, same dtype: ±inf at ±1 and NaN beyond, as PyTorch.

    On the CPU, for a = |x|: y0 from Giles's approximation (the asymptote of erfc very near 1), then three Newton
    steps. Up to a = 1/2 on f(y) = erf(y) - a, f' = 2/sqrt(pi) e**(-y**2). Beyond, on f(y) = log(erfc(y) / (1 - a)),
    f' = -2/sqrt(pi) e**(-y**2) / erfc(y): 1 - a is exact there (Sterbenz), erfc keeps the digits that erf(y) - a
    would cancel away, and the log makes f nearly quadratic in y, so Newton converges fast even at 1 - 2**-53."""
    xp = backend.get_array_module(x)
    if xp is not backend.numpy:
        import cupyx.scipy.special
        return cupyx.scipy.special.erfinv(x)
    a = xp.abs(x.astype(xp.float64))
    inside = a < 1.0
    a = xp.where(inside, a, 0.0)  # keep ±1 and beyond (and NaN) out of the arithmetic; set at the end
    m = 1.0 - a
    far = m < 1e-7  # past Giles's float32 range
    y = xp.where(far, _tail_start(xp, xp.where(far, m, 0.5)), _giles(xp, a))
    tail = a > 0.5
    for _ in range(3):  # quadratic convergence from ~1e-7 (1e-3 far out): the last step settles the last bits
        step = xp.empty_like(y)
        yc, yt = y[~tail], y[tail]
        step[~tail] = (_elementwise(xp, math.erf, yc) - a[~tail]) / (TWO_OVER_SQRT_PI * xp.exp(-yc * yc))
        c = _elementwise(xp, math.erfc, yt)
        step[tail] = -xp.log1p((c - m[tail]) / m[tail]) * c / (TWO_OVER_SQRT_PI * xp.exp(-yt * yt))
        y = y - step
    y = xp.where(inside, y, xp.where(xp.abs(x) == 1.0, xp.inf, xp.nan))
    return xp.copysign(y, x).astype(x.dtype, copy=False)


class Erf(Function):
    """y = erf x = 2/sqrt(pi) * integral_0^x e**(-t**2) dt;  dx = gy * 2/sqrt(pi) * e**(-x**2)"""

    def forward(self, x):
        return erf_kernel(x)

    def backward(self, gy):
        x = self.inputs[0]
        return gy * (x * x * -1).exp() * TWO_OVER_SQRT_PI


class Erfinv(Function):
    """y = erfinv x, so erf(y) = x (±inf at ±1, NaN beyond);  dx = gy * sqrt(pi)/2 * e**(y**2)"""

    keeps_inputs = False

    def forward(self, x):
        y = erfinv_kernel(x)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return gy * (y * y).exp() * SQRT_PI_OVER_TWO
