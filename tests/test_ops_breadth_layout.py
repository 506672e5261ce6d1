"""flip, roll, movedim, unflatten, Tensor.unfold, repeat_interleave, meshgrid, tril, triu, diagonal, diag,
diag_embed, trace: finite differences to second order and PyTorch's values, gradients and errors."""
import numpy
import pytest
from hypothesis import given, strategies as st

import scratchnet as sn
from scratchnet import testing as T
from breadth_util import against_torch, dims, run_case


@given(data=st.data())
def test_flip_roll_movedim(data):
    shape = data.draw(T.shapes(max_dims=3))
    nd = len(shape)
    x = data.draw(T.arrays(shape))
    fd = data.draw(st.lists(dims(nd), unique_by=lambda d: d % max(nd, 1), max_size=max(nd, 1)))
    run_case(lambda L, t: L.flip(t, fd) * t, [x])
    run_case(lambda L, t: t.flip(dims=fd), [x])
    if fd:
        run_case(lambda L, t: t.flip(*fd), [x])
    shifts = data.draw(st.lists(st.integers(-5, 5), min_size=1, max_size=max(nd, 1)))
    rd = data.draw(st.lists(dims(nd), min_size=len(shifts), max_size=len(shifts)))
    if nd:
        run_case(lambda L, t: L.roll(t, shifts, rd) * t, [x])
    else:
        with pytest.raises(IndexError):  # as PyTorch: a 0-d tensor has no dim to roll along
            sn.roll(sn.tensor(x), shifts, rd)
    run_case(lambda L, t: t.roll(shifts[0]) * t, [x])
    if nd:
        src, dst = data.draw(dims(nd)), data.draw(dims(nd))
        run_case(lambda L, t: L.movedim(t, src, dst), [x])


@given(data=st.data())
def test_unflatten_unfold_repeat_interleave(data):
    shape = data.draw(T.shapes(min_dims=1, max_dims=3))
    d = data.draw(dims(len(shape)))
    n = shape[d]
    x = data.draw(T.arrays(shape))
    divisors = [k for k in range(1, n + 1) if n % k == 0]
    k = data.draw(st.sampled_from(divisors))
    run_case(lambda L, t: t.unflatten(d, (k, -1)), [x])
    run_case(lambda L, t: L.unflatten(t, d, (1, n)), [x])
    size, step = data.draw(st.integers(0, n)), data.draw(st.integers(1, 3))
    run_case(lambda L, t: t.unfold(d, size, step) * 1.5, [x])  # overlapping windows: gradients add up
    r = data.draw(st.integers(0, 3))
    run_case(lambda L, t: L.repeat_interleave(t, r, d), [x])
    run_case(lambda L, t: t.repeat_interleave(2), [x])
    counts = data.draw(T.hnp.arrays(numpy.int64, (n,), elements=st.integers(0, 3)))
    run_case(lambda L, t: L.repeat_interleave(t, L.tensor(counts), dim=d), [x])


def test_repeat_interleave_counts_only_and_errors(torch, device):
    against_torch(torch, device, lambda t: t.unfold(0, 1, 1), lambda t: t.unfold(0, 1, 1), [numpy.array(2.0)])
    against_torch(torch, device, lambda c: sn.repeat_interleave(c), lambda c: torch.repeat_interleave(c),
                  [numpy.array([2, 0, 3])])
    with pytest.raises(RuntimeError):
        sn.repeat_interleave(sn.ones(3), sn.tensor([1, 2]), dim=0)
    with pytest.raises(RuntimeError, match="negative"):
        sn.repeat_interleave(sn.ones(3), -1)
    with pytest.raises(RuntimeError, match="multiply"):
        sn.unflatten(sn.ones(2, 6), 1, (4, -1))
    with pytest.raises(RuntimeError, match="size"):
        sn.ones(2, 3).unfold(1, 4, 1)
    with pytest.raises(RuntimeError, match="step"):
        sn.ones(2, 3).unfold(1, 2, 0)
    with pytest.raises(RuntimeError, match="duplicates"):
        sn.flip(sn.ones(2, 3), (0, -2))
    with pytest.raises(RuntimeError, match="align"):
        sn.roll(sn.ones(2, 3), (1, 2), 0)
    with pytest.raises(IndexError):
        sn.flip(sn.ones(2, 3), 2)


@given(data=st.data())
def test_meshgrid(data):
    sizes = data.draw(st.lists(st.integers(1, 4), min_size=1, max_size=3))
    xs = [data.draw(T.arrays((s,))) for s in sizes]
    indexing = data.draw(st.sampled_from(["ij", "xy"]))
    run_case(lambda L, *ts: [g * (i + 1) for i, g in enumerate(L.meshgrid(*ts, indexing=indexing))], xs)
    run_case(lambda L, *ts: L.meshgrid(list(ts), indexing=indexing)[0], xs)


@given(data=st.data())
def test_triangles_and_diagonals(data):
    shape = data.draw(T.shapes(min_dims=2, max_dims=4))
    x = data.draw(T.arrays(shape))
    k = data.draw(st.integers(-4, 4))
    run_case(lambda L, t: L.tril(t, k), [x])
    run_case(lambda L, t: t.triu(k) * t, [x])
    nd = len(shape)
    d1, d2 = data.draw(dims(nd)), data.draw(dims(nd))
    if d1 % nd != d2 % nd:
        run_case(lambda L, t: L.diagonal(t, k, d1, d2), [x])
        run_case(lambda L, t: t.diagonal(offset=k, dim1=d1, dim2=d2), [x])
    v = data.draw(T.arrays(shape[-1:]))
    run_case(lambda L, t: L.diag(t, k), [v])
    run_case(lambda L, t: L.diag(t, k), [x[..., 0, 0] if nd > 2 else x] if nd == 2 else [x[(0,) * (nd - 2)]])
    e1, e2 = data.draw(dims(nd + 1)), data.draw(dims(nd + 1))
    if e1 % (nd + 1) != e2 % (nd + 1):
        run_case(lambda L, t: L.diag_embed(t, k, e1, e2), [x])
    run_case(lambda L, t: L.trace(t), [x[(0,) * (nd - 2)]])


def test_diag_ints_and_errors(torch, device):
    m = numpy.arange(12).reshape(3, 4)
    for fn in (lambda L, t: L.tril(t, -1), lambda L, t: L.triu(t), lambda L, t: L.diag(t, 1),
               lambda L, t: L.trace(t), lambda L, t: L.diagonal(t, -1)):
        against_torch(torch, device, lambda t: fn(sn, t), lambda t: fn(torch, t), [m])
    with pytest.raises(RuntimeError, match="2 dimensions"):
        sn.tril(sn.ones(3))
    with pytest.raises(RuntimeError, match="identical"):
        sn.diagonal(sn.ones(3, 3), 0, 1, -1)
    with pytest.raises(RuntimeError, match="1D or 2D"):
        sn.diag(sn.ones(2, 2, 2))
