"""The in-place forms of the breadth ops (x.floor_(), x.masked_fill_(m, v), x.scatter_(...), x.tril_(), ...):
the same values as PyTorch, written into x, and gradients through the rebased graph as in PyTorch."""
import numpy
import pytest

import scratchnet as sn
from breadth_util import against_torch

INPLACE = {  # name -> (args built from the library L, input values)
    "floor_": (lambda L: (), None), "ceil_": (lambda L: (), None), "trunc_": (lambda L: (), None),
    "round_": (lambda L: (), None), "sign_": (lambda L: (), None), "tan_": (lambda L: (), None),
    "atan_": (lambda L: (), None), "sinh_": (lambda L: (), None), "erf_": (lambda L: (), None),
    "exp2_": (lambda L: (), None), "rsqrt_": (lambda L: (), "positive"), "log2_": (lambda L: (), "positive"),
    "erfinv_": (lambda L: (), "unit"), "cosh_": (lambda L: (), None),
    "copysign_": (lambda L: (L.tensor([1.0, -1.0, 1.0], dtype=L.float64),), None), "atan2_": (lambda L: (L.tensor([0.5, 2.0, 1.0], dtype=L.float64),), None),
    "lerp_": (lambda L: (L.tensor([1.0, 2.0, 3.0], dtype=L.float64), 0.25), None), "cumsum_": (lambda L: (1,), None),
    "cumprod_": (lambda L: (1,), None), "tril_": (lambda L: (), None), "triu_": (lambda L: (1,), None),
    "masked_fill_": (lambda L: (L.tensor([[True, False, True], [False, False, True]]), -0.5), None),
    "scatter_": (lambda L: (1, L.tensor([[2], [0]]), 9.0), None),
    "scatter_add_": (lambda L: (1, L.tensor([[2, 2], [0, 1]]), L.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=L.float64)), None),
    "scatter_reduce_": (lambda L: (1, L.tensor([[2, 2], [0, 1]]), L.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=L.float64), "amax"), None),
}


@pytest.mark.parametrize("name", sorted(INPLACE))
def test_inplace_matches_torch(name, torch, device):
    args, kind = INPLACE[name]
    rng = numpy.random.default_rng(0)
    x = rng.uniform(0.2, 2.0, (2, 3)) if kind == "positive" else rng.uniform(-0.9, 0.9, (2, 3)) if kind == "unit" \
        else rng.uniform(-2.7, 2.7, (2, 3))

    def run(L, t):
        y = t * 1.0  # a non-leaf, so the in-place op may be recorded
        out = getattr(y, name)(*args(L))
        assert out is y
        return y * 2
    against_torch(torch, device, lambda t: run(sn, t), lambda t: run(torch, t), [x])


def test_inplace_on_leaf_requiring_grad_is_refused():
    x = sn.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError):
        x.floor_()
    with sn.no_grad():
        x.masked_fill_(sn.tensor([True, False, False]), 0.0)
    assert x.tolist() == [0.0, 1.0, 1.0]
