"""einsum, outer, norm, std_mean, var_mean: finite differences to second order and PyTorch's values, gradients
(norm's subgradient 0 at a zero vector, ties of the inf-norm shared evenly) and errors."""
import math

import numpy
import pytest
from hypothesis import given, strategies as st

import scratchnet as sn
from scratchnet import testing as T
from breadth_util import against_torch, check, dims, run_case

EQUATIONS = [  # (equation, operand shapes): matmul, batched, traces, diagonals, outer, sums, ellipses, broadcasting
    ("ij,jk->ik", [(2, 3), (3, 4)]), ("bij,bjk->bik", [(2, 2, 3), (2, 3, 1)]), ("ii->", [(3, 3)]),
    ("ii->i", [(3, 3)]), ("iij->ji", [(2, 2, 3)]), ("i,j->ij", [(3,), (2,)]), ("ij->", [(2, 3)]),
    ("ij->j", [(2, 3)]), ("ij", [(2, 3)]), ("ji", [(2, 3)]), ("ij,ij->ij", [(2, 3), (2, 3)]),
    ("...ij,...jk->...ik", [(2, 1, 2, 3), (4, 3, 2)]), ("...ii->...i", [(2, 3, 3)]), ("i...->...", [(2, 3, 4)]),
    ("ij,jk,kl->il", [(2, 3), (3, 2), (2, 2)]), ("bi,bi->b", [(3, 4), (1, 4)]), ("i,i", [(3,), (3,)]),
    ("ab,cd->", [(1, 2), (2, 1)]), ("aab,bc->ac", [(2, 2, 3), (3, 2)]), ("Ab,bC->AC", [(2, 3), (3, 2)]),
    ("ij,jk", [(2, 3), (3, 2)]), ("i,i,i->", [(2,), (2,), (2,)]), ("...,...->...", [(2, 1), (3,)]),
]


@pytest.mark.parametrize("equation,shapes", EQUATIONS, ids=[e for e, _ in EQUATIONS])
@given(data=st.data())
def test_einsum(equation, shapes, data):
    arrays = [data.draw(T.arrays(s)) for s in shapes]
    run_case(lambda L, *xs: L.einsum(equation, *xs), arrays)
    run_case(lambda L, *xs: L.einsum(equation, list(xs)), arrays, second=False)


def test_einsum_sublist_and_errors(torch, device):
    rng = numpy.random.default_rng(0)
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((3, 4))
    against_torch(torch, device, lambda x, y: sn.einsum(x, [0, 1], y, [1, 2], [0, 2]),
                  lambda x, y: torch.einsum(x, [0, 1], y, [1, 2], [0, 2]), [a, b])
    x = sn.ones(2, 3)
    for eq, ops, msg in [("ij,jk->ik", [x], "fewer"), ("ij->ik", [x], "does not appear"),
                         ("ij->ii", [x], "more than once"), ("ijk->i", [x], "number of subscripts"),
                         ("ij,jk->ik", [x, sn.ones(2, 2)], "broadcast"), ("i1->i", [x], "invalid")]:
        with pytest.raises(RuntimeError, match=msg):
            sn.einsum(eq, *ops)
    with pytest.raises(RuntimeError, match="dtype"):
        sn.einsum("i,i->", sn.ones(2), sn.ones(2, dtype=sn.float64))


@given(data=st.data())
def test_outer(data):
    a, b = data.draw(T.arrays((data.draw(st.integers(0, 4)),))), data.draw(T.arrays((data.draw(st.integers(1, 4)),)))
    run_case(lambda L, x, y: L.outer(x, y), [a, b])
    run_case(lambda L, x, y: x.outer(y) * 2, [a, b])
    with pytest.raises(RuntimeError, match="1-D"):
        sn.outer(sn.ones(2, 2), sn.ones(2))


NORM_P = [2, 1, 3, 1.5, 0.5, math.inf, -math.inf, 0, "fro"]


@pytest.mark.parametrize("p", NORM_P, ids=str)
@given(data=st.data())
def test_norm(p, data):
    shape = data.draw(T.shapes(max_dims=3))
    nd = len(shape)
    dim = data.draw(st.one_of(st.none(), dims(nd) if nd else st.none(),
                              st.lists(dims(nd), min_size=1, max_size=2, unique_by=lambda d: d % nd) if nd
                              else st.none()))
    keepdim = data.draw(st.booleans())
    # distinct magnitudes away from 0: |x| has a kink at 0 (p <= 1 also a pole there), and the inf-norms tie
    # when two magnitudes are equal (PyTorch shares the gradient then; tested below)
    x = data.draw(T.distinct_arrays(shape, spacing=0.13)) + 0.05
    second = p not in (0, math.inf, -math.inf)
    run_case(lambda L, t: L.norm(t, p, dim, keepdim), [x], second=second)
    run_case(lambda L, t: t.norm(p=p, dim=dim, keepdim=keepdim), [x], second=False)


def test_norm_at_zero_ties_and_errors_match_torch(torch, device):
    z = numpy.zeros((2, 3))
    z[1] = [3.0, -3.0, 1.0]  # row 0: the zero vector (gradient 0, not NaN); row 1: a tie for the inf-norm
    for p in (2, 1, 3, 1.5, 0.5, math.inf, -math.inf, 0):
        against_torch(torch, device, lambda t: sn.norm(t, p, 1), lambda t: torch.norm(t, p, 1), [z])
    against_torch(torch, device, lambda t: sn.norm(t), lambda t: torch.norm(t), [numpy.zeros(4)])
    against_torch(torch, device, lambda t: t.norm(), lambda t: t.norm(), [numpy.array(-2.0)])
    against_torch(torch, device, lambda t: sn.norm(t, 2, (0, 1)), lambda t: torch.norm(t, 2, (0, 1)), [z])
    against_torch(torch, device, lambda t: sn.norm(t, dim=0), lambda t: torch.norm(t, dim=0), [numpy.zeros((0, 2))])
    with pytest.raises(RuntimeError, match="floating point"):
        sn.norm(sn.tensor([1, 2]))
    with pytest.raises(RuntimeError, match="empty"):
        sn.norm(sn.zeros(0), math.inf)
    with pytest.raises(NotImplementedError):
        sn.norm(sn.ones(2, 2), "nuc")
    assert sn.norm(sn.tensor([1, 2]), dtype=sn.float64).dtype == numpy.float64


@given(data=st.data())
def test_std_mean_var_mean(data):
    shape = data.draw(T.shapes(min_dims=1, max_dims=3, min_side=2))
    d = data.draw(st.one_of(st.none(), dims(len(shape))))
    keepdim = data.draw(st.booleans())
    x = data.draw(T.distinct_arrays(shape))  # distinct: std of a constant slice sits on the kink of sqrt at 0
    c = data.draw(st.sampled_from([0, 1]))
    run_case(lambda L, t: L.std_mean(t, d, keepdim=keepdim), [x])
    run_case(lambda L, t: L.var_mean(t, d, keepdim=keepdim, correction=c), [x])
    run_case(lambda L, t: L.var_mean(t, d, unbiased=False), [x])
    run_case(lambda L, t: L.std_mean(t, False), [x])
