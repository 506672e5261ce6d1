"""PyTorch semantics of the engine: version counter and in-place ops, type promotion, division and bitwise operators,
indexing, and errors catchable as PyTorch's (issue 12, items 1, 3, 4, 9). Each compared with PyTorch where it runs."""
import numpy
import pytest
from hypothesis import given, strategies as st

import scratchnet as sn
from scratchnet.errors import ShapeError
from tests.conftest import load_torch, to_np

INT_DTYPES = ["int8", "int16", "int32", "int64", "uint8"]
ALL_DTYPES = ["bool"] + INT_DTYPES + ["float16", "float32", "float64"]


@pytest.fixture
def torch32(torch):
    """PyTorch with its own default dtype, float32, as a user has it (the shared fixture sets float64)."""
    torch.set_default_dtype(torch.float32)
    yield torch
    torch.set_default_dtype(torch.float64)


def _pair(torch, dtype, values, dim):
    a = numpy.asarray(values).astype(dtype)
    if not dim:
        a = a.reshape(-1)[:1].reshape(())
    return sn.tensor(a, dtype=dtype), torch.from_numpy(a.copy())


# ---- 1. the version counter ----

def test_inplace_on_saved_output_raises():
    a = sn.randn(3, requires_grad=True)
    y = a.exp()
    y.add_(1)
    with pytest.raises(RuntimeError, match=r"modified by an inplace operation.*shape \[3\].*Exp.*version 1; "
                                           r"expected version 0"):
        y.sum().backward()


def test_item_assignment_on_saved_input_raises():
    x, w = sn.randn(2, 3), sn.randn(2, 3, requires_grad=True)
    z = (x * w).sum()
    x[0] = 100
    assert x._version == 1
    with pytest.raises(RuntimeError, match=r"modified by an inplace operation.*\[2, 3\].*Mul"):
        z.backward()


@pytest.mark.parametrize("make_view", [lambda x: x[0], lambda x: x.reshape(-1), lambda x: x.t(), lambda x: x.detach(),
                                       lambda x: x[:, 1:]])
def test_views_share_the_version_counter(make_view):
    x = sn.randn(2, 3)
    v = make_view(x)
    v.add_(1)
    assert x._version == v._version == 1
    x.mul_(2)
    assert v._version == 2


def test_inplace_through_a_view_is_caught():
    x, w = sn.randn(2, 3), sn.randn(2, 3, requires_grad=True)
    z = (x * w).sum()
    x[0].fill_(5)  # writes x's memory through a view
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.backward()


def test_unsaved_inplace_is_allowed_and_recorded(torch):
    # y = x * 2 saves only the constant; y.mul_(w) then rebases y onto the in-place op, as PyTorch
    xv, wv = numpy.random.randn(4), numpy.random.randn(4)
    x, w = sn.tensor(xv, dtype="float64", requires_grad=True), sn.tensor(wv, dtype="float64", requires_grad=True)
    y = x * 2
    y.mul_(w)
    y += 1
    y.sub_(x, alpha=3)
    (y * y).sum().backward()
    tx, tw = torch.tensor(xv, requires_grad=True), torch.tensor(wv, requires_grad=True)
    ty = tx * 2
    ty.mul_(tw)
    ty += 1
    ty.sub_(tx, alpha=3)
    (ty * ty).sum().backward()
    numpy.testing.assert_allclose(x.grad.numpy(), to_np(tx.grad), rtol=1e-12)
    numpy.testing.assert_allclose(w.grad.numpy(), to_np(tw.grad), rtol=1e-12)
    assert y.grad_fn is not None and y._version == 3


def test_setitem_is_differentiable(torch):
    xv, vv = numpy.random.randn(5), numpy.random.randn(2)
    x, v = sn.tensor(xv, dtype="float64", requires_grad=True), sn.tensor(vv, dtype="float64", requires_grad=True)
    y = x * 3
    y[1:3] = v * v
    (y * y).sum().backward()
    tx, tv = torch.tensor(xv, requires_grad=True), torch.tensor(vv, requires_grad=True)
    ty = tx * 3
    ty[1:3] = tv * tv
    (ty * ty).sum().backward()
    numpy.testing.assert_allclose(x.grad.numpy(), to_np(tx.grad), rtol=1e-12)
    numpy.testing.assert_allclose(v.grad.numpy(), to_np(tv.grad), rtol=1e-12)


def test_fill_and_zero_cut_the_gradient(torch):
    x = sn.randn(3, dtype="float64", requires_grad=True)
    y = x * 2
    y.zero_()
    (y + x).sum().backward()
    numpy.testing.assert_allclose(x.grad.numpy(), numpy.ones(3))


def test_inplace_on_leaf_requiring_grad_refused():
    w = sn.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        w.add_(1)
    with sn.no_grad():
        w.add_(1)
    assert w._version == 1


def test_inplace_keeps_dtype_and_refuses_float_into_int(torch):
    x = sn.tensor([1, 2, 3])
    with pytest.raises(RuntimeError, match="can't be cast"):
        x.add_(1.5)
    with pytest.raises(RuntimeError):
        torch.tensor([1, 2, 3]).add_(1.5)
    f = sn.tensor([1.0, 2.0])
    f.add_(sn.tensor([1, 1]))
    assert f.dtype == numpy.float32 and f.tolist() == [2.0, 3.0]


# ---- 3. type promotion ----

@given(a=st.sampled_from(ALL_DTYPES), b=st.sampled_from(ALL_DTYPES), da=st.booleans(), db=st.booleans(),
       op=st.sampled_from(["add", "mul", "sub", "div", "eq"]))
def test_tensor_tensor_promotion_matches_torch(a, b, da, db, op):
    torch = load_torch()
    torch.set_default_dtype(torch.float32)
    try:
        if op == "sub" and "bool" in (a, b):
            return  # PyTorch refuses bool subtraction
        x, tx = _pair(torch, a, [1, 2, 3], da)
        y, ty = _pair(torch, b, [3, 1, 2], db)
        r, tr = getattr(sn, op)(x, y), getattr(torch, op)(tx, ty)
        assert str(r.dtype) == str(tr.dtype).replace("torch.", "")
        numpy.testing.assert_allclose(r.numpy().astype(float), to_np(tr).astype(float), rtol=1e-3)
    finally:
        torch.set_default_dtype(torch.float64)


@given(a=st.sampled_from(ALL_DTYPES), s=st.sampled_from([True, 3, -2, 2.5, 1000, -129, 2**40, 2**63 - 1]),
       op=st.sampled_from(["+", "*", "/", "-", "r-", "%", "//", "r/"]), dim=st.booleans())
def test_tensor_scalar_promotion_matches_torch(a, s, op, dim):
    torch = load_torch()
    torch.set_default_dtype(torch.float32)
    try:
        if a == "bool" and op in ("-", "r-") or isinstance(s, bool) and op in ("-", "r-", "%", "//", "/", "r/"):
            return  # PyTorch refuses bool subtraction; bool divisors are zero-division traps
        if op in ("%", "//") and a == "bool":
            return
        x, tx = _pair(torch, a, [1, 2, 3], dim)
        f = {"+": lambda p, q: p + q, "*": lambda p, q: p * q, "/": lambda p, q: p / q, "-": lambda p, q: p - q,
             "r-": lambda p, q: q - p, "%": lambda p, q: p % q, "//": lambda p, q: p // q,
             "r/": lambda p, q: q / p}[op]
        try:
            tr = f(tx, s)
        except RuntimeError:
            with pytest.raises(RuntimeError):
                f(x, s)
            return
        r = f(x, s)
        assert str(r.dtype) == str(tr.dtype).replace("torch.", ""), (a, s, op)
        numpy.testing.assert_allclose(r.numpy().astype(float), to_np(tr).astype(float), rtol=1e-3)
    finally:
        torch.set_default_dtype(torch.float64)


def test_int_division_gives_float32(torch32):
    assert (sn.tensor([1, 2]) / sn.tensor([2, 4])).dtype == numpy.float32
    assert (sn.tensor([1, 2]) / 2).dtype == numpy.float32
    assert (sn.tensor([5]) % 2.5).dtype == numpy.float32
    assert (sn.tensor([5], dtype="int32") + sn.tensor(1.0, dtype="float64")).dtype == numpy.float64
    assert (sn.ones(2, dtype="float16") + sn.tensor(1.0, dtype="float64")).dtype == numpy.float16


def test_int_overflow_wraps_as_torch(torch32):
    for dtype, tdt in (("int8", torch32.int8), ("uint8", torch32.uint8), ("int64", torch32.int64)):
        for v in (1000, -129, 2**63 - 1, 2**63):
            x, tx = sn.tensor([1, 2, 3], dtype=dtype), torch32.tensor([1, 2, 3], dtype=tdt)
            assert (x + v).tolist() == (tx + v).tolist()
            assert (x * v).tolist() == (tx * v).tolist()


def test_scalar_operands_stay_numpy_scalars():
    """A Python number reaches the kernel as a NumPy scalar (no new 0-d array: on a GPU that is an upload)."""
    seen = []

    class Spy(sn.autograd.Function):
        def forward(self, a, b):
            seen.append(type(b))
            return a + b

    from scratchnet.ops.promotion import promote
    Spy()(*promote(sn.ones(2), 3))
    assert seen == [numpy.float32]


def test_remainder_and_floordiv_are_graph_ops(torch):
    xv, yv = numpy.array([3.5, -2.5, 7.0]), numpy.array([2.0, 1.5, -3.0])
    x, y = (sn.tensor(v, dtype="float64", requires_grad=True) for v in (xv, yv))
    tx, ty = (torch.tensor(v, requires_grad=True) for v in (xv, yv))
    for name, f, tf in [("rem", lambda a, b: a % b, lambda a, b: a % b), ("fmod", sn.fmod, torch.fmod),
                        ("floor", lambda a, b: sn.div(a, b, rounding_mode="floor"),
                         lambda a, b: torch.div(a, b, rounding_mode="floor")),
                        ("trunc", lambda a, b: sn.div(a, b, rounding_mode="trunc"),
                         lambda a, b: torch.div(a, b, rounding_mode="trunc"))]:
        x.grad = y.grad = tx.grad = ty.grad = None
        r, tr = f(x, y), tf(tx, ty)
        numpy.testing.assert_allclose(r.detach().numpy(), to_np(tr), err_msg=name)
        (r * r).sum().backward()
        (tr * tr).sum().backward()
        numpy.testing.assert_allclose(x.grad.numpy(), to_np(tx.grad), err_msg=name)
        numpy.testing.assert_allclose(y.grad.numpy(), to_np(ty.grad), err_msg=name)
    z = x // 2
    assert z.requires_grad
    with pytest.raises(RuntimeError, match="floor_divide"):
        z.sum().backward()


@given(a=st.lists(st.integers(-50, 50), min_size=1, max_size=6), b=st.integers(-7, 7).filter(bool),
       dtype=st.sampled_from(["int32", "int64", "float32", "float64"]))
def test_division_family_matches_torch(a, b, dtype):
    torch = load_torch()
    x = sn.tensor(a, dtype=dtype)
    tx = torch.tensor(a, dtype=getattr(torch, dtype))
    pairs = [(x // b, tx // b), (x % b, tx % b), (sn.fmod(x, b), torch.fmod(tx, b)), (b % x if 0 not in a else x, b % tx
             if 0 not in a else tx), (sn.div(x, b, rounding_mode="trunc"), torch.div(tx, b, rounding_mode="trunc")),
             (sn.div(x, b, rounding_mode="floor"), torch.div(tx, b, rounding_mode="floor")),
             (sn.remainder(x, sn.tensor(b, dtype=dtype)), torch.remainder(tx, torch.tensor(b, dtype=tx.dtype)))]
    for r, tr in pairs:
        assert str(r.dtype) == str(tr.dtype).replace("torch.", "")
        numpy.testing.assert_allclose(r.numpy(), to_np(tr), rtol=1e-6)


def test_integer_division_by_zero_raises_on_cpu(torch):
    """On the CPU as PyTorch's CPU kernels (on a GPU the check would cost a sync, and PyTorch's CUDA kernels do not
    raise either)."""
    with pytest.raises(RuntimeError):
        torch.tensor([7]) // 0
    for f in (lambda x: x // 0, lambda x: x % 0, lambda x: sn.fmod(x, sn.tensor([0], device="cpu")),
              lambda x: sn.div(x, 0, rounding_mode="trunc")):
        with pytest.raises(RuntimeError, match="ZeroDivisionError"):
            f(sn.tensor([7], device="cpu"))


@given(a=st.sampled_from(["bool", "int8", "int32", "int64", "uint8"]), b=st.sampled_from(["bool", "int8", "int64"]),
       op=st.sampled_from(["&", "|", "^", "<<", ">>"]), scalar=st.booleans())
def test_bitwise_ops_match_torch(a, b, op, scalar):
    torch = load_torch()
    if op in ("<<", ">>") and "bool" in (a, b):
        return
    x, tx = _pair(torch, a, [1, 2, 3], True)
    y, ty = (2, 2) if scalar else _pair(torch, b, [3, 1, 0], True)
    f = {"&": lambda p, q: p & q, "|": lambda p, q: p | q, "^": lambda p, q: p ^ q, "<<": lambda p, q: p << q,
         ">>": lambda p, q: p >> q}[op]
    for r, tr in ((f(x, y), f(tx, ty)), (f(y, x), f(ty, tx)), (~x, ~tx)):
        assert str(r.dtype) == str(tr.dtype).replace("torch.", "")
        assert r.tolist() == tr.tolist()


def test_bitwise_on_float_refused():
    with pytest.raises(RuntimeError):
        sn.ones(2) & 1
    with pytest.raises(TypeError):
        ~sn.ones(2)


def test_where_with_scalar_branches(torch32):
    c = sn.tensor([True, False, True])
    tc = torch32.tensor([True, False, True])
    for a, b in ((1.0, 0), (1, 2), (sn.tensor([1, 2, 3], dtype="int32"), 2.5), (sn.tensor([1, 2, 3], dtype="int32"), 2),
                 (0.5, sn.tensor([1.0, 2.0, 3.0], dtype="float64"))):
        ta = torch32.from_numpy(a.numpy()) if isinstance(a, sn.Tensor) else a
        tb = torch32.from_numpy(b.numpy()) if isinstance(b, sn.Tensor) else b
        r, tr = sn.where(c, a, b), torch32.where(tc, ta, tb)
        assert str(r.dtype) == str(tr.dtype).replace("torch.", "")
        numpy.testing.assert_allclose(r.numpy(), to_np(tr))
    x = sn.randn(3, requires_grad=True)
    sn.where(c, x, 0.0).sum().backward()
    assert x.grad.tolist() == [1.0, 0.0, 1.0]


# ---- 4. indexing ----

@given(shape=st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 4), st.integers(1, 2)),
       pattern=st.sampled_from(["i:a", "i::a", "a:i", ":i:a", "i:a:", "i.a", "a:a", "i:aa"]))
def test_mixed_int_and_array_index_matches_torch(shape, pattern):
    torch = load_torch()
    x = numpy.arange(numpy.prod(shape), dtype=numpy.float64).reshape(shape)
    idx = numpy.array([0, 0, 1]) % 1
    index = {"i:a": (0, slice(None), idx), "i::a": (0, slice(None), slice(None), idx), "a:i": (idx, slice(None), 0),
             ":i:a": (slice(None), 0, slice(None), idx), "i:a:": (0, slice(None), idx, slice(None)),
             "i.a": (0, Ellipsis, idx), "a:a": (idx, slice(None), idx), "i:aa": (0, slice(None), idx, idx)}[pattern]
    t = sn.tensor(x, dtype="float64", requires_grad=True)
    tt = torch.tensor(x, requires_grad=True)
    tindex = tuple(torch.from_numpy(i) if isinstance(i, numpy.ndarray) else i for i in index)
    r, tr = t[tuple(sn.tensor(i) if isinstance(i, numpy.ndarray) else i for i in index)], tt[tindex]
    assert r.shape == tuple(tr.shape)
    numpy.testing.assert_array_equal(r.detach().numpy(), to_np(tr))
    g = numpy.random.randn(*r.shape)
    r.backward(sn.tensor(g, dtype="float64"))
    tr.backward(torch.from_numpy(g))
    numpy.testing.assert_allclose(t.grad.numpy(), to_np(tt.grad))


@pytest.mark.parametrize("mask_shape,index", [((3,), lambda m: m), ((2, 4), lambda m: m), ((5,), lambda m: (0, m)),
                                              ((3,), lambda m: (Ellipsis, m))])
def test_bool_mask_of_wrong_shape_raises_indexerror(torch, mask_shape, index):
    x = sn.randn(2, 3, 4)
    m = numpy.ones(mask_shape, dtype=bool)
    with pytest.raises(IndexError):
        torch.randn(2, 3, 4)[index(torch.from_numpy(m))]
    with pytest.raises(IndexError, match="mask"):
        x[index(sn.tensor(m))]


def test_bool_mask_of_right_shape_still_works(torch):
    xv = numpy.random.randn(2, 3, 4)
    m = xv > 0
    numpy.testing.assert_array_equal(sn.tensor(xv, dtype="float64")[sn.tensor(m)].numpy(), xv[m])
    numpy.testing.assert_array_equal(sn.tensor(xv, dtype="float64")[1, :, sn.tensor(m[0, 0])].numpy(),
                                     xv[1][:, m[0, 0]])


# ---- 9. errors catchable as PyTorch's ----

@pytest.mark.parametrize("call", [
    lambda: sn.ones(2, 3) @ sn.ones(2, 3),
    lambda: sn.ones(6).reshape(4, 2),
    lambda: sn.ones(2, 3).permute(0, 0),
    lambda: sn.cat([sn.ones(2, 3), sn.ones(2, 4)]),
    lambda: sn.ones(2, 3) + sn.ones(4),
    lambda: sn.nn.functional.conv2d(sn.ones(1, 1, 2, 2), sn.ones(1, 1, 3, 3)),
    lambda: sn.nn.functional.max_pool2d(sn.ones(1, 1, 2, 2), 3),
    lambda: sn.nn.functional.linear(sn.ones(2, 3), sn.ones(4, 5)),
])
def test_shape_errors_are_runtime_errors_like_torch(call):
    with pytest.raises(RuntimeError):
        call()
    with pytest.raises(ValueError):
        call()


def test_shape_error_is_both():
    assert issubclass(ShapeError, RuntimeError) and issubclass(ShapeError, ValueError)


def test_dim_out_of_range_is_indexerror_like_torch(torch):
    with pytest.raises(IndexError):
        torch.ones(2, 3).sum(5)
    with pytest.raises(IndexError):
        sn.ones(2, 3).sum(5)


# ---- 2. finite gradients where PyTorch's are finite; 5. 0-d tensors ----

def _grad_pair(torch, f, tf, values):
    x = sn.tensor(numpy.asarray(values, dtype=numpy.float64), dtype="float64", requires_grad=True)
    tx = torch.tensor(numpy.asarray(values, dtype=numpy.float64), requires_grad=True)
    y, ty = f(x), tf(tx)
    y.sum().backward()
    ty.sum().backward()
    numpy.testing.assert_allclose(y.detach().numpy(), to_np(ty), rtol=1e-6, atol=1e-12)
    numpy.testing.assert_allclose(x.grad.numpy(), to_np(tx.grad), rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("name", ["x**0", "0**x", "x**y_x", "x**y_y", "std_const", "var_const", "std_one_biased",
                                  "amax_ties", "amin_ties", "amax_tuple", "max_dim_ties", "lse_big"])
def test_no_nan_gradients_where_torch_is_finite(torch, name):
    c = {"x**0": (lambda x: x ** 0, lambda x: x ** 0, [0.0, 1.0, -2.0]),
         "0**x": (lambda x: 0 ** x, lambda x: 0 ** x, [0.0, 1.0, 2.0]),
         "x**y_x": (lambda x: x ** (x * 0 + sn.tensor([0.0, 1.0, 2.0], dtype="float64")),
                    lambda x: x ** (x * 0 + torch.tensor([0.0, 1.0, 2.0])), [0.0, 0.0, 0.0]),
         "x**y_y": (lambda y: sn.tensor([0.0, 0.0, 1.0], dtype="float64") ** y,
                    lambda y: torch.tensor([0.0, 0.0, 1.0]) ** y, [0.0, 1.0, 2.0]),
         "std_const": (lambda x: x.std(), lambda x: x.std(), [3.0, 3.0, 3.0]),
         "var_const": (lambda x: x.var(), lambda x: x.var(), [3.0, 3.0, 3.0]),
         "std_one_biased": (lambda x: x.std(unbiased=False), lambda x: x.std(unbiased=False), [2.0]),
         "amax_ties": (lambda x: x.amax(1), lambda x: x.amax(1), [[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]]),
         "amin_ties": (lambda x: x.amin(0), lambda x: x.amin(0), [[1.0, 3.0], [1.0, 2.0]]),
         "amax_tuple": (lambda x: x.amax((0, 1)), lambda x: x.amax((0, 1)), [[1.0, 3.0], [3.0, 2.0]]),
         "max_dim_ties": (lambda x: x.max(1).values, lambda x: x.max(1).values, [[1.0, 3.0, 3.0]]),
         "lse_big": (lambda x: sn.logsumexp(x, 0), lambda x: torch.logsumexp(x, 0), [1e4, -1e4, 3.0, 1e4])}[name]
    _grad_pair(torch, *c)


def test_bce_at_saturated_probabilities_matches_torch(torch):
    torch.set_default_dtype(torch.float32)
    try:
        z = numpy.array([30.0, -30.0, 30.0, -30.0], dtype=numpy.float32)
        t = numpy.array([0.0, 1.0, 1.0, 0.0], dtype=numpy.float32)
        p = sn.sigmoid(sn.tensor(z)).detach().requires_grad_()
        tp = torch.sigmoid(torch.tensor(z)).detach().requires_grad_()
        loss = sn.nn.functional.binary_cross_entropy(p, sn.tensor(t))
        tloss = torch.nn.functional.binary_cross_entropy(tp, torch.tensor(t))
        loss.backward()
        tloss.backward()
        assert numpy.isfinite(p.grad.numpy()).all()
        numpy.testing.assert_allclose(loss.item(), tloss.item(), rtol=1e-6)
        numpy.testing.assert_allclose(p.grad.numpy(), to_np(tp.grad), rtol=1e-5)
    finally:
        torch.set_default_dtype(torch.float64)


@pytest.mark.parametrize("name", ["sum0", "sum-1", "mean0", "lse0", "softmax0", "log_softmax-1", "amax0", "max0"])
def test_reductions_on_0d_tensors_match_torch(torch, name):
    f = {"sum0": lambda m, x: x.sum(0), "sum-1": lambda m, x: x.sum(-1), "mean0": lambda m, x: x.mean(0),
         "lse0": lambda m, x: m.logsumexp(x, 0), "softmax0": lambda m, x: m.softmax(x, 0),
         "log_softmax-1": lambda m, x: m.log_softmax(x, -1), "amax0": lambda m, x: x.amax(0),
         "max0": lambda m, x: x.max(0)[0]}[name]
    _grad_pair(torch, lambda x: f(sn, x), lambda x: f(torch, x), 2.5)
    with pytest.raises(IndexError):
        sn.tensor(1.0).sum(1)


def test_optimizer_step_bumps_versions_so_stale_graphs_raise(torch):
    for lib, make in ((sn, lambda: sn.randn(3, requires_grad=True)),
                      (torch, lambda: torch.randn(3, requires_grad=True))):
        w = make()
        opt = lib.optim.SGD([w], lr=0.1)
        (w * 2).sum().backward()
        stale = (w ** 2).sum()       # pow saves w: stale after the step
        fine = (w * (w.detach() + 1)).sum()  # mul saves only the factor w's gradient reads, not w
        opt.step()
        assert w._version >= 1
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            stale.backward()
        fine.backward()


# ---- 8. nothing half-loaded ----

def _model():
    return sn.nn.Sequential(sn.nn.Linear(3, 4), sn.nn.BatchNorm1d(4), sn.nn.Linear(4, 2))


def _snapshot(model):
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("spoil", ["shape_last", "missing", "unexpected", "string", "complex", "ragged"])
def test_module_load_state_dict_refused_changes_nothing(spoil):
    model, other = _model(), _model()
    before = _snapshot(model)
    sd = {k: v.numpy() for k, v in other.state_dict().items()}
    last = list(sd)[-1]
    if spoil == "shape_last":
        sd[last] = numpy.zeros((7,), dtype=numpy.float32)
    elif spoil == "missing":
        del sd[last]
    elif spoil == "unexpected":
        sd["extra.weight"] = numpy.zeros(2)
    elif spoil == "string":
        sd[last] = "oops"
    elif spoil == "complex":
        sd[last] = sd[last].astype(numpy.complex64)
    elif spoil == "ragged":
        sd[last] = [[1.0], [2.0, 3.0]]
    with pytest.raises(RuntimeError):
        model.load_state_dict(sd)
    after = _snapshot(model)
    assert before.keys() == after.keys()
    for k in before:
        numpy.testing.assert_array_equal(before[k], after[k], err_msg=k)


def test_module_load_state_dict_accepts_good_state():
    model, other = _model(), _model()
    model.load_state_dict(other.state_dict())
    for k, v in other.state_dict().items():
        numpy.testing.assert_array_equal(model.state_dict()[k].numpy(), v.numpy())


def _trained_opt(cls, **kw):
    p = [sn.nn.Parameter(sn.randn(3, 2)), sn.nn.Parameter(sn.randn(2))]
    opt = cls(p, **kw)
    for _ in range(2):
        opt.zero_grad()
        ((p[0] ** 2).sum() + (p[1] ** 2).sum()).backward()
        opt.step()
    return opt


def _opt_snapshot(opt):
    state = {id(p): {k: (v.copy() if hasattr(v, "copy") else v) for k, v in s.items()} for p, s in opt.state.items()}
    groups = [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups]
    return state, groups


@pytest.mark.parametrize("cls,kw", [(sn.optim.SGD, dict(lr=0.1, momentum=0.9)), (sn.optim.Adam, dict(lr=0.01)),
                                    (sn.optim.AdamW, dict(lr=0.01))])
@pytest.mark.parametrize("spoil", ["shape", "index", "groups", "string", "params_len"])
def test_optimizer_load_state_dict_refused_changes_nothing(cls, kw, spoil):
    opt, other = _trained_opt(cls, **kw), _trained_opt(cls, **{**kw, "lr": 0.5})
    sd = other.state_dict()
    before = _opt_snapshot(opt)
    last = max(sd["state"])
    key = sorted(sd["state"][last])[-1]
    if spoil == "shape":
        sd["state"][last] = {**sd["state"][last], key: numpy.zeros((5, 5), dtype=numpy.float32)}
    elif spoil == "index":
        sd["state"][7] = sd["state"][last]
    elif spoil == "groups":
        sd["param_groups"] = sd["param_groups"] * 2
    elif spoil == "string":
        sd["state"][last] = {**sd["state"][last], key: "oops"}
    elif spoil == "params_len":
        sd["param_groups"][0] = {**sd["param_groups"][0], "params": [0]}
    with pytest.raises(RuntimeError):
        opt.load_state_dict(sd)
    state, groups = _opt_snapshot(opt)
    assert groups == before[1]
    assert state.keys() == before[0].keys()
    for pid in state:
        for k, v in state[pid].items():
            numpy.testing.assert_array_equal(sn.backend.to_numpy(v), sn.backend.to_numpy(before[0][pid][k]))


# ---- 7. mixed dtypes, class weights, instance norm's running statistics ----

@pytest.mark.parametrize("call", [
    lambda F, m, d: m.ones(2, 3) @ m.ones(3, dtype=d),
    lambda F, m, d: F.linear(m.ones(2, 3), m.ones(4, 3, dtype=d)),
    lambda F, m, d: F.conv2d(m.ones(1, 1, 4, 4), m.ones(1, 1, 3, 3, dtype=d)),
    lambda F, m, d: F.conv2d(m.ones(1, 1, 4, 4), m.ones(1, 1, 3, 3), m.ones(1, dtype=d)),
    lambda F, m, d: F.conv_transpose2d(m.ones(1, 1, 4, 4), m.ones(1, 1, 3, 3, dtype=d)),
])
def test_mixed_dtypes_in_products_raise_like_torch(torch32, call):
    with pytest.raises(RuntimeError):
        call(torch32.nn.functional, torch32, torch32.float64)
    with pytest.raises(RuntimeError, match="same dtype"):
        call(sn.nn.functional, sn, "float64")


def test_cross_entropy_weight_of_wrong_length_raises(torch):
    x, t = torch.randn(4, 3), torch.tensor([0, 1, 2, 0])
    for w in (torch.ones(2), torch.ones(4), torch.ones(3, 1)):
        with pytest.raises(RuntimeError):
            torch.nn.functional.cross_entropy(x, t, weight=w)
        with pytest.raises(RuntimeError, match="weight"):
            sn.nn.functional.cross_entropy(sn.tensor(x.numpy()), sn.tensor(t.numpy()), weight=sn.tensor(w.numpy()))
        with pytest.raises(RuntimeError, match="weight"):
            sn.nn.functional.nll_loss(sn.tensor(x.numpy()), sn.tensor(t.numpy()), weight=sn.tensor(w.numpy()))


@pytest.mark.parametrize("use_input_stats", [True, False])
def test_instance_norm_running_stats_match_torch(torch, use_input_stats):
    xv = numpy.random.randn(3, 2, 4, 5)
    rm, rv = numpy.random.randn(2), numpy.random.rand(2) + 0.5
    srm, srv = sn.tensor(rm, dtype="float64"), sn.tensor(rv, dtype="float64")
    trm, trv = torch.tensor(rm), torch.tensor(rv)
    x, tx = sn.tensor(xv, dtype="float64", requires_grad=True), torch.tensor(xv, requires_grad=True)
    y = sn.nn.functional.instance_norm(x, srm, srv, use_input_stats=use_input_stats, momentum=0.3)
    ty = torch.nn.functional.instance_norm(tx, trm, trv, use_input_stats=use_input_stats, momentum=0.3)
    numpy.testing.assert_allclose(y.detach().numpy(), to_np(ty), rtol=1e-6, atol=1e-9)
    numpy.testing.assert_allclose(srm.numpy(), to_np(trm), rtol=1e-9)
    numpy.testing.assert_allclose(srv.numpy(), to_np(trv), rtol=1e-9)
    g = numpy.random.randn(*xv.shape)
    y.backward(sn.tensor(g, dtype="float64"))
    ty.backward(torch.tensor(g))
    numpy.testing.assert_allclose(x.grad.numpy(), to_np(tx.grad), rtol=1e-6, atol=1e-9)


def test_instance_norm_module_tracks_running_stats(torch):
    xv = numpy.random.randn(2, 3, 4, 4)
    m, tm = sn.nn.InstanceNorm2d(3, track_running_stats=True), torch.nn.InstanceNorm2d(3, track_running_stats=True)
    x = sn.tensor(xv, dtype="float32")
    tx = torch.tensor(xv, dtype=torch.float32)
    tm.float()
    m(x), tm(tx)
    numpy.testing.assert_allclose(m.running_mean.numpy(), to_np(tm.running_mean), rtol=1e-5, atol=1e-7)
    numpy.testing.assert_allclose(m.running_var.numpy(), to_np(tm.running_var), rtol=1e-5)
    m.eval(), tm.eval()
    numpy.testing.assert_allclose(m(x).numpy(), to_np(tm(tx)), rtol=1e-4, atol=1e-5)


# ---- axis= / keepdims= aliases ----

@pytest.mark.parametrize("name", ["sum", "mean", "var", "std", "amax", "amin", "argmax", "argmin", "logsumexp", "prod",
                                  "all", "any", "max", "min", "std_mean", "var_mean"])
def test_reductions_accept_numpy_names(torch, name):
    xv = numpy.random.rand(2, 3, 4) + 0.5
    x, tx = sn.tensor(xv, dtype="float64"), torch.tensor(xv)
    r = getattr(sn, name)(x, axis=1, keepdims=True)
    tr = getattr(torch, name)(tx, axis=1, keepdims=True)
    r, tr = (r[0], tr[0]) if isinstance(tr, tuple) else (r, tr)
    assert r.shape == tuple(tr.shape)
    numpy.testing.assert_allclose(r.numpy().astype(float), to_np(tr).astype(float), rtol=1e-12)
    if name not in ("all", "any", "std_mean", "var_mean"):
        m = getattr(x, name)(axis=-1, keepdims=False)
        m = m[0] if isinstance(m, tuple) else m
        assert m.shape == (2, 3)


# ---- 6. interpolate: 1-D, 2-D and 3-D signals, every mode ----

@given(k=st.integers(1, 3), mode=st.sampled_from(["nearest", "nearest-exact", "linear"]),
       ins=st.lists(st.integers(1, 5), min_size=3, max_size=3),
       outs=st.lists(st.integers(1, 7), min_size=3, max_size=3), by_scale=st.booleans(),
       factor=st.sampled_from([0.5, 1.5, 2.0, 3.0, 0.75]), align=st.sampled_from([None, True, False]))
def test_interpolate_matches_torch(k, mode, ins, outs, by_scale, factor, align):
    torch = load_torch()
    if mode == "linear":
        mode = {1: "linear", 2: "bilinear", 3: "trilinear"}[k]
    else:
        align = None
    shape = (2, 3) + tuple(ins[:k])
    xv = numpy.random.randn(*shape)
    kw = dict(scale_factor=factor) if by_scale else dict(size=tuple(outs[:k]))
    if by_scale and any(int(i * factor) < 1 for i in ins[:k]):
        return
    x, tx = sn.tensor(xv, dtype="float64", requires_grad=True), torch.tensor(xv, requires_grad=True)
    y = sn.nn.functional.interpolate(x, mode=mode, align_corners=align, **kw)
    ty = torch.nn.functional.interpolate(tx, mode=mode, align_corners=align, **kw)
    assert y.shape == tuple(ty.shape)
    numpy.testing.assert_allclose(y.detach().numpy(), to_np(ty), rtol=1e-10, atol=1e-12)
    g = numpy.random.randn(*y.shape)
    y.backward(sn.tensor(g, dtype="float64"))
    ty.backward(torch.tensor(g))
    numpy.testing.assert_allclose(x.grad.numpy(), to_np(tx.grad), rtol=1e-10, atol=1e-12)


def test_interpolate_mode_needs_matching_dims():
    with pytest.raises(RuntimeError):
        sn.nn.functional.interpolate(sn.ones(1, 1, 4), scale_factor=2, mode="bilinear")
    with pytest.raises(RuntimeError):
        sn.nn.functional.interpolate(sn.ones(1, 1, 4, 4), scale_factor=2, mode="linear")


@given(dtype=st.sampled_from(["int8", "int64", "uint8", "float16", "float32", "float64"]),
       lo=st.sampled_from([None, 0.5, 1, -2, 2.5]), hi=st.sampled_from([None, 2, 2.5, 3.5]))
def test_clamp_promotes_like_torch(dtype, lo, hi):
    torch = load_torch()
    torch.set_default_dtype(torch.float32)
    try:
        if lo is None and hi is None or dtype == "uint8" and lo == -2:
            return
        x, tx = sn.tensor([0, 1, 2, 3], dtype=dtype), torch.tensor([0, 1, 2, 3], dtype=getattr(torch, dtype))
        r, tr = sn.clamp(x, min=lo, max=hi), torch.clamp(tx, min=lo, max=hi)
        assert str(r.dtype) == str(tr.dtype).replace("torch.", "")
        numpy.testing.assert_allclose(r.numpy().astype(float), to_np(tr).astype(float))
    finally:
        torch.set_default_dtype(torch.float64)


def test_clamp_bound_out_of_integer_range_raises(torch):
    with pytest.raises(RuntimeError):
        torch.clamp(torch.tensor([1], dtype=torch.int8), min=-1000)
    with pytest.raises(RuntimeError, match="overflow"):
        sn.clamp(sn.tensor([1], dtype="int8"), min=-1000)
