"""Shared by the tests of the conv routes (ops/conv_*.py): one conv's values, first and second derivatives on a
route, and the thread count set for a block."""
import contextlib

import numpy

import scratchnet as sn
import scratchnet.nn.functional as F
from scratchnet.ops import conv
from conftest import to_np


def run_conv(case, dtype, route, kernels="fast", order=2):
    """case (n, c, o, (h, w), (kh, kw), padding, dilation): [y, dx, dW, db] of Σ up·y + 0.1·Σ y³ (something for the
    second derivative to see), and with order 2 the gradients of Σ v·grads, on `route` (None: as chosen)."""
    n, c, o, size, k, p, d = case
    rng = numpy.random.default_rng(sum(size) + c)
    x = sn.tensor(rng.standard_normal((n, c) + size), dtype=dtype, requires_grad=True)
    w = sn.tensor(rng.standard_normal((o, c) + k) / (c * k[0] * k[1]) ** 0.5, dtype=dtype, requires_grad=True)
    b = sn.tensor(rng.standard_normal(o), dtype=dtype, requires_grad=True)
    with sn.use_kernels(kernels), (conv.force_route(route) if route else contextlib.nullcontext()):
        y = F.conv2d(x, w, b, padding=p, dilation=d)
        up = sn.tensor(rng.standard_normal(y.shape), dtype=dtype)
        grads = sn.autograd.grad((y * up).sum() + 0.1 * (y * y * y).sum(), [x, w, b], create_graph=order == 2)
        out = [y] + list(grads)
        if order == 2:
            vs = [sn.tensor(rng.standard_normal(g.shape), dtype=dtype) for g in grads]
            out += list(sn.autograd.grad(sum((g * v).sum() for g, v in zip(grads, vs)), [x, w, b]))
    return [to_np(t) for t in out]


@contextlib.contextmanager
def num_threads(n):
    """scratchnet on n threads within the block, the setting before restored after."""
    old = sn.get_num_threads() if hasattr(sn, "get_num_threads") else None
    sn.set_num_threads(n)
    try:
        yield
    finally:
        sn.set_num_threads(old)
