"""erf and erfinv (scratchnet/ops/special.py): float64 accuracy right up to ±1 against PyTorch (and mpmath where
PyTorch's own digits are in doubt), the edge values, the dtypes, one Erf shared with GELU, and no SciPy needed."""
import subprocess
import sys

import numpy
import pytest

import scratchnet as sn
from conftest import to_np

# (-1, 1) evenly, then geometrically close to ±1 (1 - 10**-k down to the last double below 1) and to 0
_NEAR_ONE = numpy.concatenate([1 - 10.0 ** -numpy.arange(1, 16, 0.25),
                               numpy.nextafter(1.0, 0) - numpy.arange(40) * 2.0 ** -53])
GRID = numpy.concatenate([numpy.linspace(-1, 1, 4001)[1:-1], _NEAR_ONE, -_NEAR_ONE, [1e-300, -1e-300, 5e-324, 1e-8]])


def _ulps(a, ref):
    return numpy.abs(a - ref) / numpy.spacing(numpy.abs(ref))


def test_erfinv_float64_matches_torch_to_round_off(torch, device):
    y = to_np(sn.erfinv(sn.tensor(GRID, dtype="float64", device=device)))
    ref = torch.erfinv(torch.tensor(GRID, dtype=torch.float64)).numpy()
    assert y.dtype == numpy.float64
    assert _ulps(y, ref).max() <= 4, GRID[_ulps(y, ref).argmax()]


def test_erfinv_float64_is_the_true_inverse_near_one():
    mpmath = pytest.importorskip("mpmath")  # arbitrary precision: the reference no float64 code can be
    mpmath.mp.dps = 40
    x = numpy.concatenate([_NEAR_ONE, -_NEAR_ONE, [0.3, -0.7, 0.5, 1e-200]])
    ref = numpy.array([float(mpmath.erfinv(mpmath.mpf(float(v)))) for v in x])
    y = sn.erfinv(sn.tensor(x, dtype="float64")).numpy()
    assert _ulps(y, ref).max() <= 2, x[_ulps(y, ref).argmax()]


def test_erfinv_edges_as_torch(torch, device):
    x = numpy.array([1.0, -1.0, 1.5, -2.0, numpy.inf, -numpy.inf, numpy.nan, 0.0, -0.0])
    for dtype in ("float32", "float64"):
        y = to_np(sn.erfinv(sn.tensor(x, dtype=dtype, device=device)))
        ref = torch.erfinv(torch.tensor(x, dtype=getattr(torch, dtype))).numpy()
        numpy.testing.assert_array_equal(y, ref)
        num = ~numpy.isnan(ref)  # (a NaN's sign bit means nothing)
        assert numpy.array_equal(numpy.signbit(y[num]), numpy.signbit(ref[num])), (y, ref)  # -0 stays -0
        assert y.dtype == ref.dtype


@pytest.mark.parametrize("dtype,rtol", [("float32", 2e-7), ("float64", 5e-16)])
def test_erf_and_erfinv_keep_dtype_and_match_torch(torch, device, dtype, rtol):
    x = numpy.random.default_rng(0).standard_normal(2000) * 2
    for fn, xs in ((sn.erf, x), (sn.erfinv, numpy.tanh(x))):
        y = fn(sn.tensor(xs, dtype=dtype, device=device))
        ref = getattr(torch, fn.__name__)(torch.tensor(xs, dtype=getattr(torch, dtype))).numpy()
        assert str(y.dtype) == dtype
        numpy.testing.assert_allclose(to_np(y), ref, rtol=rtol, atol=0 if fn is sn.erfinv else 1e-300)
    assert str(sn.erf(sn.tensor([0, 1, 2], device=device)).dtype) == "float32"  # integers: the default float
    assert str(sn.erf(sn.tensor(0.5, dtype="float64", device=device)).dtype) == "float64"  # and 0-d


def test_gelu_and_erf_share_one_erf():
    from scratchnet.ops import activation, special, unary
    assert activation.Erf is special.Erf and unary.Erf is special.Erf
    x = sn.tensor([-1.0, 0.5], dtype="float64", requires_grad=True)
    assert type(sn.erf(x).grad_fn) is special.Erf


def test_erf_erfinv_gelu_need_no_scipy():
    code = ("import sys; sys.modules['scipy'] = None\n"  # any `import scipy` now fails
            "import scratchnet as sn, scratchnet.nn.functional as F\n"
            "x = sn.tensor([-0.9, 0.0, 0.5, 1.0], dtype='float64', requires_grad=True)\n"
            "(sn.erf(x).sum() + sn.erfinv(x * 0.5).sum() + F.gelu(x).sum()).backward()\n"
            "print(sn.erfinv(sn.tensor([0.5], dtype='float64')).tolist()[0])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert abs(float(out.stdout) - 0.4769362762044699) < 1e-15
