"""Fast kernels == their readable twins (scratchnet.use_kernels("reference")) on random float64 inputs: values and
gradients (and second derivatives for conv and norm), over odd geometries: stride, padding (numbers, 'same',
'valid', and the reflect/replicate/circular modes of nn.Conv*d), dilation, groups, output_padding, ceil_mode,
count_include_pad and divisor_override. Each fast 2-D conv route of ops/conv.py is compared in turn."""
import os
import subprocess
import sys

import numpy
import pytest
from hypothesis import given, strategies as st

import scratchnet as sn
import scratchnet.nn.functional as F
from scratchnet import kernel_mode
from scratchnet.ops import conv
from breadth_helpers import on_device, pool_case
from conftest import to_np

# None: the route choose_route picks; the others forced wherever they apply (force_route)
ROUTES = [None, "im2col", "im2col_wide", "im2col_small", "im2col_rows", "shift", "winograd", "fft", "patch", "im2col_nd"]


def run(mode, fn, arrays, seed, order, route=None):
    """fn's outputs, its input gradients of Σ w·y, and (order 2) the gradients of Σ v·grads, in kernel mode `mode`."""
    rng = numpy.random.default_rng(seed)
    with sn.use_kernels(mode), (conv.force_route(route) if route else _nothing()):
        xs = [on_device(a) for a in arrays]
        out = fn(*xs)
        outs = list(out) if isinstance(out, tuple) else [out]
        y = outs[0]
        loss = (y * on_device(rng.standard_normal(y.shape), grad=False)).sum()
        if order == 2:
            loss = loss + (y * y * y).sum() * 0.1    # something for the second derivative to see
        grads = sn.autograd.grad(loss, xs, create_graph=order == 2)
        result = [to_np(t) for t in outs] + [to_np(g) for g in grads]
        if order == 2:
            total = sum((g * on_device(rng.standard_normal(g.shape), grad=False)).sum() for g in grads)
            result += [to_np(g) for g in sn.autograd.grad(total, xs)]
    return result


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def assert_twins_agree(fn, arrays, seed=0, order=1, route=None):
    fast = run("fast", fn, arrays, seed, order, route)
    ref = run("reference", fn, arrays, seed, order)
    assert len(fast) == len(ref)
    for i, (a, b) in enumerate(zip(fast, ref)):
        assert a.shape == b.shape, (i, a.shape, b.shape)
        if a.dtype.kind in "iu":
            numpy.testing.assert_array_equal(a, b, err_msg=f"output {i}")
        else:
            numpy.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9 * max(1.0, numpy.abs(b).max(initial=0.0)),
                                          err_msg=f"output {i}")


@st.composite
def conv_case(draw, dims):
    groups = draw(st.sampled_from([1, 1, 2]))
    cin, cout = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    k = tuple(draw(st.integers(1, 3)) for _ in range(dims))
    s = tuple(draw(st.integers(1, 3)) for _ in range(dims))
    d = tuple(draw(st.integers(1, 2)) for _ in range(dims))
    padding = draw(st.sampled_from(["int", "int", "same", "valid"]))
    if padding == "same":
        s = (1,) * dims
    p = tuple(draw(st.integers(0, 2)) for _ in range(dims)) if padding == "int" else padding
    pads = p if padding == "int" else (0,) * dims
    top = 6 if dims == 3 else 9
    size = tuple(draw(st.integers(max(1, dd * (kk - 1) + 1 - 2 * pp), top)) for kk, dd, pp in zip(k, d, pads))
    n = draw(st.integers(1, 3))
    return dict(groups=groups, cin=cin, cout=cout, k=k, s=s, d=d, p=p, n=n, size=size, seed=draw(st.integers(0, 2**31)))


CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
CONV_T = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


@pytest.mark.parametrize("route", ROUTES)
@given(c=conv_case(2))
def test_conv2d_twin(route, c):
    """conv2d, every fast route against Im2Col + matmul: y, dx, dW, db and their second derivatives."""
    rng = numpy.random.default_rng(c["seed"])
    arrays = [rng.standard_normal((c["n"], c["cin"]) + c["size"]),
              rng.standard_normal((c["cout"], c["cin"] // c["groups"]) + c["k"]), rng.standard_normal(c["cout"])]
    kw = dict(stride=c["s"], padding=c["p"], dilation=c["d"], groups=c["groups"])
    assert_twins_agree(lambda x, w, b: F.conv2d(x, w, b, **kw), arrays, c["seed"], order=2, route=route)


@pytest.mark.parametrize("dims", [1, 3])
@given(data=st.data())
def test_conv1d_conv3d_twin(dims, data):
    c = data.draw(conv_case(dims))
    rng = numpy.random.default_rng(c["seed"])
    arrays = [rng.standard_normal((c["n"], c["cin"]) + c["size"]),
              rng.standard_normal((c["cout"], c["cin"] // c["groups"]) + c["k"]), rng.standard_normal(c["cout"])]
    kw = dict(stride=c["s"], padding=c["p"], dilation=c["d"], groups=c["groups"])
    assert_twins_agree(lambda x, w, b: CONV[dims](x, w, b, **kw), arrays, c["seed"])


@pytest.mark.parametrize("dims, route", [(1, None), (2, None), (2, "im2col_wide"), (2, "shift"), (2, "winograd"),
                                         (2, "fft"), (3, None)])
@given(data=st.data())
def test_conv_transpose_twin(dims, route, data):
    """conv_transposeNd (Col2Im of Wᵀ @ g) with output_padding, groups and dilation: values, first and second
    derivatives."""
    c = data.draw(conv_case(dims))
    if isinstance(c["p"], str):
        c["p"] = (0,) * dims
    s, d = c["s"], c["d"]
    op = tuple(data.draw(st.integers(0, max(ss, dd) - 1)) for ss, dd in zip(s, d))
    out = [(n - 1) * ss - 2 * pp + dd * (kk - 1) + o + 1 for n, ss, pp, dd, kk, o in zip(c["size"], s, c["p"], d,
                                                                                         c["k"], op)]
    if min(out) < 1:
        return
    rng = numpy.random.default_rng(c["seed"])
    arrays = [rng.standard_normal((c["n"], c["cin"]) + c["size"]),
              rng.standard_normal((c["cin"], c["cout"] // c["groups"]) + c["k"]), rng.standard_normal(c["cout"])]
    kw = dict(stride=s, padding=c["p"], output_padding=op, groups=c["groups"], dilation=d)
    assert_twins_agree(lambda x, w, b: CONV_T[dims](x, w, b, **kw), arrays, c["seed"], order=2, route=route)


@pytest.mark.parametrize("transposed", [False, True])
@given(seed=st.integers(0, 2**31), k=st.tuples(st.integers(1, 3), st.integers(1, 3)).filter(lambda k: k != (1, 1)),
       n=st.integers(0, 3),
       tiles=st.tuples(st.integers(1, 3), st.integers(1, 3)), rest=st.tuples(st.integers(0, 2), st.integers(0, 2)),
       bias=st.booleans())
def test_patch_route_twin(transposed, seed, k, n, tiles, rest, bias):
    """Kernel = stride (the U-Net's 2×2 stride-2 transposed conv): the non-overlapping tile route (ops/conv_patch.py)
    against the twin, with rows past the last whole tile (conv) or output_padding (transposed), bias or none, empty
    batches: values, first and second derivatives."""
    rng = numpy.random.default_rng(seed)
    cin, cout = rng.integers(1, 4, 2)
    rest = tuple(min(r, kk - 1) for r, kk in zip(rest, k))   # a remainder (or output_padding) smaller than a tile
    b = [rng.standard_normal(cout)] if bias else []
    if transposed:
        x, w = rng.standard_normal((n, cin) + tiles), rng.standard_normal((cin, cout) + k)
        fn = lambda x, w, *b: F.conv_transpose2d(x, w, *b, stride=k, output_padding=rest)  # noqa: E731
    else:
        size = tuple(t * kk + r for t, kk, r in zip(tiles, k, rest))
        x, w = rng.standard_normal((n, cin) + size), rng.standard_normal((cout, cin) + k)
        fn = lambda x, w, *b: F.conv2d(x, w, *b, stride=k)  # noqa: E731
    geom = conv.ConvGeometry((n, cin, 4 * k[0], 4 * k[1]), (cout, cin) + k, conv.ConvCfg(k, (0, 0), (1, 1), 1))
    assert conv.choose_route(geom).name == "patch"
    assert_twins_agree(fn, [x, w] + b, seed, order=2, route="patch")


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@given(seed=st.integers(0, 2**31), k=st.integers(1, 3), p=st.integers(1, 2), s=st.integers(1, 2),
       dims=st.sampled_from([1, 2]))
def test_conv_padding_modes_twin(mode, seed, k, p, s, dims):
    """A conv after reflect/replicate/circular padding (what nn.Conv*d's padding_mode does)."""
    rng = numpy.random.default_rng(seed)
    x, w, b = rng.standard_normal((2, 2) + (6,) * dims), rng.standard_normal((3, 2) + (k,) * dims), \
        rng.standard_normal(3)
    assert_twins_agree(lambda x, w, b: CONV[dims](F.pad(x, (p, p) * dims, mode=mode), w, b, stride=s),
                       [x, w, b], seed)


MAX_POOL = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
AVG_POOL = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}


@pytest.mark.parametrize("dims", [1, 2, 3])
@given(data=st.data())
def test_max_pool_twin(dims, data):
    """max_poolNd (the max along each Im2Col column): values, indices and gradients, with ceil_mode and dilation."""
    kw, x = data.draw(pool_case(dims, avg=False))
    assert_twins_agree(lambda t: MAX_POOL[dims](t, return_indices=True, **kw), [x], order=2)


@pytest.mark.parametrize("dims", [1, 2, 3])
@given(data=st.data(), override=st.sampled_from([None, None, 3]))
def test_avg_pool_twin(dims, data, override):
    """avg_poolNd (the mean along each Im2Col column), with ceil_mode, count_include_pad and divisor_override."""
    kw, x = data.draw(pool_case(dims, avg=True))
    if dims == 2:
        kw["divisor_override"] = override
    assert_twins_agree(lambda t: AVG_POOL[dims](t, **kw), [x], order=2)


@given(seed=st.integers(0, 2**31), shape=st.sampled_from([(4, 3), (3, 2, 5), (2, 3, 4, 5), (2, 2, 3, 2, 3)]),
       momentum=st.sampled_from([0.1, 0.5]), order=st.sampled_from([1, 2]))
def test_batch_norm_twin(seed, shape, momentum, order):
    """Training-mode batch norm: y, dx, dγ, dβ, second derivatives, and the running statistics it updates. Order 1
    takes the fused kernels' backward (ops/norm_kernels.py), order 2 the differentiable one."""
    rng = numpy.random.default_rng(seed)
    c = shape[1]
    running, start = {}, (rng.standard_normal(c), rng.random(c) + 0.5)

    def fn(x, w, b):
        rm, rv = on_device(start[0], grad=False), on_device(start[1], grad=False)
        y = F.batch_norm(x, rm, rv, w, b, training=True, momentum=momentum)
        running[kernel_mode.mode()] = (to_np(rm), to_np(rv))
        return y
    assert_twins_agree(fn, [rng.standard_normal(shape), rng.standard_normal(c), rng.standard_normal(c)], seed,
                       order=order)
    for a, b in zip(running["fast"], running["reference"]):
        numpy.testing.assert_allclose(a, b, rtol=1e-12)


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("threads", [1, 3])
def test_batch_norm_fused_blocks_and_threads(monkeypatch, affine, threads):
    """The fused batch norm cut into one-sample cache blocks and split over threads computes what its twin does,
    with a mean far from 0 (x − μ is formed before it is scaled, so nothing cancels)."""
    from scratchnet.ops import norm_kernels
    monkeypatch.setattr(norm_kernels, "CACHE_BLOCK_BYTES", 1)
    saved = sn.get_num_threads()
    sn.set_num_threads(threads)
    try:
        rng = numpy.random.default_rng(threads)
        x = rng.standard_normal((7, 3, 5, 4)) * 3 + 100
        if affine:
            fn, arrays = (lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True)), \
                [x, rng.standard_normal(3), rng.standard_normal(3)]
        else:
            fn, arrays = (lambda x: F.batch_norm(x, None, None, training=True)), [x]
        assert_twins_agree(fn, arrays, order=1)
    finally:
        sn.set_num_threads(saved)


@given(seed=st.integers(0, 2**31), which=st.sampled_from(["instance", "layer", "group"]))
def test_feature_norms_twin(seed, which):
    """instance, layer and group norm, which run on the same fused normaliser (and its twin)."""
    rng = numpy.random.default_rng(seed)
    x = rng.standard_normal((2, 4, 3, 5))
    if which == "instance":
        fn, params = (lambda x, w, b: F.instance_norm(x, weight=w, bias=b)), [rng.standard_normal(4)] * 2
    elif which == "layer":
        fn, params = (lambda x, w, b: F.layer_norm(x, (3, 5), w, b)), [rng.standard_normal((3, 5))] * 2
    else:
        fn, params = (lambda x, w, b: F.group_norm(x, 2, w, b)), [rng.standard_normal(4)] * 2
    assert_twins_agree(fn, [x] + params, seed, order=2)


@given(seed=st.integers(0, 2**31), slope=st.sampled_from([0.01, 0.2, 1.0, 1.5, -0.3]),
       shape=st.sampled_from([(7,), (3, 4), (2, 3, 4, 5), (1, 2, 3)]))
def test_activation_twins(seed, slope, shape):
    """relu and leaky_relu (fused masks) against their `where` twins, zeros included (the gradient at 0)."""
    x = numpy.random.default_rng(seed).standard_normal(shape)
    x.reshape(-1)[::3] = 0.0
    assert_twins_agree(F.relu, [x], seed, order=2)
    assert_twins_agree(lambda t: F.leaky_relu(t, slope), [x], seed, order=2)


def test_reference_mode_runs_the_twins():
    """The switch really changes what runs: the fast Functions outside, the twins' graph inside."""
    x = sn.randn(2, 3, 8, 8, requires_grad=True)
    w = sn.randn(4, 3, 3, 3, requires_grad=True)
    with sn.use_kernels("fast"):
        assert type(F.conv2d(x, w).grad_fn).__name__ == "ConvFn"
        assert type(F.max_pool2d(x, 2).grad_fn).__name__ == "MaxPool2dFn"
        assert type(F.relu(x).grad_fn).__name__ == "ReLUFn"
    with sn.use_kernels("reference"):
        assert kernel_mode.mode() == "reference"
        assert type(F.conv2d(x, w).grad_fn).__name__ != "ConvFn"
        assert type(F.max_pool2d(x, 2).grad_fn).__name__ != "MaxPool2dFn"
        assert type(F.relu(x).grad_fn).__name__ != "ReLUFn"
        with sn.use_kernels("fast"):
            assert kernel_mode.mode() == "fast"
        assert kernel_mode.mode() == "reference"
    with pytest.raises(ValueError, match="use_kernels"):
        with sn.use_kernels("quick"):
            pass


@pytest.mark.parametrize("value, expected", [("reference", "reference"), ("fast", "fast"), ("", "fast")])
def test_environment_variable_sets_the_mode_at_import(value, expected):
    env = dict(os.environ, SCRATCHNET_KERNELS=value)
    out = subprocess.run([sys.executable, "-c", "import scratchnet.kernel_mode as k; print(k.mode())"], env=env,
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == expected


def test_environment_variable_refuses_an_unknown_mode():
    env = dict(os.environ, SCRATCHNET_KERNELS="turbo")
    out = subprocess.run([sys.executable, "-c", "import scratchnet"], env=env, capture_output=True, text=True)
    assert out.returncode != 0 and "SCRATCHNET_KERNELS" in out.stderr and "turbo" in out.stderr
