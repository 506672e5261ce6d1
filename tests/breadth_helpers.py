"""Helpers of the nn breadth tests: PyTorch comparison of values and gradients, and finite-difference checks, on
the device under test ($SCRATCHNET_DEVICE)."""
import numpy
from hypothesis import strategies as st

import scratchnet as sn
from conftest import to_np


def on_device(a, grad=True, dtype="float64"):
    return sn.tensor(numpy.asarray(a), dtype=dtype, requires_grad=grad, device=sn.get_default_device())


def compare(t, fn_s, fn_t, arrays, rtol=1e-7, atol=1e-9, grads=True, ints=()):
    """Same float64 inputs through scratchnet and PyTorch: outputs equal, and input gradients of Σ w·y equal
    (w random). `ints` are extra non-differentiable arguments (index tensors) given to both as they are."""
    xs = [on_device(a) for a in arrays]
    xt = [t.tensor(numpy.asarray(a, dtype=numpy.float64), requires_grad=True) for a in arrays]
    ys, yt = fn_s(*xs), fn_t(*xt)
    ys_l, yt_l = (list(ys), list(yt)) if isinstance(ys, (tuple, list)) else ([ys], [yt])
    for a, b in zip(ys_l, yt_l):
        assert tuple(a.shape) == tuple(b.shape), (a.shape, b.shape)
        numpy.testing.assert_allclose(to_np(a), to_np(b), rtol=rtol, atol=atol)
    if not grads:
        return
    rng = numpy.random.default_rng(0)
    ls, lt = 0, 0
    for a, b in zip(ys_l, yt_l):
        if a.dtype.kind != "f":
            continue
        w = rng.standard_normal(a.shape)
        ls = ls + (a * on_device(w, False)).sum()
        lt = lt + (b * t.tensor(w)).sum()
    ls.backward()
    lt.backward()
    for i, (a, b) in enumerate(zip(xs, xt)):
        ga = numpy.zeros(a.shape) if a.grad is None else to_np(a.grad)
        gb = numpy.zeros(b.shape) if b.grad is None else to_np(b.grad)
        numpy.testing.assert_allclose(ga, gb, rtol=rtol, atol=atol, err_msg=f"gradient of input {i}")


def gradchecks(fn, *arrays, second=True, max_elements=120, **kw):
    """First (and second) order finite-difference checks of fn in float64 on the device under test."""
    xs = [on_device(a) for a in arrays]
    assert sn.gradcheck(fn, xs, max_elements=max_elements, **kw)
    if second:
        assert sn.gradgradcheck(fn, xs, max_elements=max_elements, **kw)


@st.composite
def pool_case(draw, dims, avg):
    """(F.max_poolNd / avg_poolNd keyword arguments, x): random windows, batched or not, distinct input values."""
    k = tuple(draw(st.integers(1, 3)) for _ in range(dims))
    s = tuple(draw(st.integers(1, 3)) for _ in range(dims))
    p = tuple(draw(st.integers(0, kk // 2)) for kk in k)
    d = (1,) * dims if avg else tuple(draw(st.integers(1, 2)) for _ in range(dims))
    # PyTorch's avg_pool3d wants the input at least as large as the kernel before padding (tested with the errors)
    # and a max-pool window wholly in the padding (a -inf output, index undefined) is left out
    sizes = tuple(draw(st.integers(kk if avg and dims == 3 else max(1, dd * (kk - 1) + 1 - (2 if avg else 1) * pp),
                                   6 if dims == 3 else 9)) for kk, dd, pp in zip(k, d, p))
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    unbatched = draw(st.booleans())
    shape = ((n,) if not unbatched else ()) + (c,) + sizes
    size = int(numpy.prod(shape))
    x = numpy.random.default_rng(draw(st.integers(0, 2**31))).permutation(size).reshape(shape) * 0.1 - size * 0.05
    kw = dict(kernel_size=k, stride=s, padding=p, ceil_mode=draw(st.booleans()))
    if avg:
        kw["count_include_pad"] = draw(st.booleans())
        if dims == 3 and draw(st.booleans()):
            kw["divisor_override"] = draw(st.integers(1, 5))
    else:
        kw["dilation"] = d
    return kw, x
