"""The stacked shifted-GEMM conv route (ops/conv_stack.py), for few output channels on large maps: values, dx, dW,
db and second derivatives equal the reference twin (float64; float32 stays float32), with odd batches, padding,
dilation, non-square kernels, bands of rows, threads over the batch or the rows; and its choice rule."""
import numpy
import pytest

import scratchnet as sn
import scratchnet.nn.functional as F
from scratchnet import backend
from scratchnet.ops import conv, conv_stack
from conftest import to_np
from conv_route_helpers import run_conv as _run   # values, first and second derivatives of one case on a route

# (n, c, o, (h, w), (kh, kw), padding, dilation): "same" convs (dx is a conv of gy on this route, the flipped
# kernel stacked), valid and over-padded ones (dx by col2im), dilation, rectangular kernels, odd batches
CASES = [
    (3, 16, 16, (12, 11), (3, 3), (1, 1), (1, 1)),
    (1, 5, 7, (9, 13), (3, 3), (1, 1), (1, 1)),
    (5, 4, 3, (8, 9), (3, 3), (0, 0), (1, 1)),
    (2, 6, 5, (10, 9), (5, 3), (2, 1), (1, 1)),
    (3, 3, 4, (11, 12), (3, 3), (2, 2), (2, 2)),
    (2, 7, 6, (7, 10), (3, 2), (1, 0), (1, 2)),
    (3, 2, 9, (8, 8), (2, 3), (0, 1), (1, 1)),
]


@pytest.fixture(params=[None, 1])
def bands(request, monkeypatch):
    """The whole map in one band, or one output row per band (BAND_BYTES cut down) so that the band loop and the
    reuse of a thread's padded sample across its bands run."""
    if request.param:
        monkeypatch.setattr(conv_stack, "BAND_BYTES", request.param)


@pytest.fixture(params=[1, 2])
def threads(request):
    old = backend.num_threads()
    backend.set_num_threads(request.param)
    yield request.param
    backend.set_num_threads(old)


@pytest.mark.parametrize("case", CASES)
def test_stack_equals_reference_float64(case, bands, threads):
    fast, ref = _run(case, "float64", "stack"), _run(case, "float64", "im2col", "reference")
    for i, (a, b) in enumerate(zip(fast, ref)):
        numpy.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10 * max(1.0, numpy.abs(b).max()), err_msg=str(i))


@pytest.mark.parametrize("case", CASES[:2])
def test_stack_equals_reference_float32(case):
    fast, ref = _run(case, "float32", "stack"), _run(case, "float64", "im2col", "reference")
    for i, (a, b) in enumerate(zip(fast, ref)):
        assert a.dtype == numpy.float32, (i, a.dtype)
        numpy.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-4 * max(1.0, numpy.abs(b).max()), err_msg=str(i))


def test_stack_as_chosen_equals_reference():
    """A U-Net-like layer as choose_route picks it (dx then the stacked conv of gy by itself, not forced)."""
    case = (3, 8, 16, (20, 18), (3, 3), (1, 1), (1, 1))
    geom = conv.ConvGeometry((3, 8, 20, 18), (16, 8, 3, 3), conv.ConvCfg((1, 1), (1, 1), (1, 1), 1))
    assert conv.choose_route(geom).name == "stack" and conv_stack.worth_it(geom.adjoint_as_conv(), numpy)
    fast, ref = _run(case, "float64", None), _run(case, "float64", "im2col", "reference")
    for i, (a, b) in enumerate(zip(fast, ref)):
        numpy.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10 * max(1.0, numpy.abs(b).max()), err_msg=str(i))


def test_choose_route_takes_stack_where_it_pays():
    """Few output channels on large maps take the stack route; one input channel (too shallow), 64 output channels
    (conv_shift's GEMMs are tall enough), small maps, 1-wide kernels, strides and groups do not."""
    def route(x_shape, w_shape, stride=1, padding=1, groups=1):
        cfg = conv.ConvCfg((stride,) * 2, (padding,) * 2, (1, 1), groups)
        return conv.choose_route(conv.ConvGeometry(x_shape, w_shape, cfg)).name
    assert route((16, 16, 64, 64), (16, 16, 3, 3)) == "stack"            # U-Net, width 16, first block
    assert route((16, 32, 64, 64), (16, 32, 3, 3)) == "stack"            # ... its last block, after the cat
    assert route((16, 64, 32, 32), (32, 64, 3, 3)) == "stack"
    assert route((16, 1, 64, 64), (16, 1, 3, 3)) != "stack"              # one input channel: depth 3
    assert route((16, 64, 32, 32), (64, 64, 3, 3)) != "stack"
    assert route((16, 64, 8, 8), (32, 64, 3, 3)) != "stack"              # 64 output places an image
    assert route((16, 16, 64, 64), (16, 16, 3, 1), padding=0) != "stack"
    assert route((16, 16, 64, 64), (16, 16, 3, 3), stride=2) != "stack"
    assert route((16, 16, 64, 64), (16, 8, 3, 3), groups=2) != "stack"


def test_empty_batch():
    x = sn.zeros(0, 8, 20, 20, requires_grad=True)
    w = sn.tensor(numpy.ones((16, 8, 3, 3)), dtype="float32", requires_grad=True)
    with conv.force_route("stack"):
        y = F.conv2d(x, w, padding=1)
        y.sum().backward()
    assert y.shape == (0, 16, 20, 20) and x.grad.shape == x.shape and not to_np(w.grad).any()
