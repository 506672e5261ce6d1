"""Sorting along one axis: sort, argsort, msort, topk. The indices come from a stable argsort (NaN sorts as the
largest value, as in PyTorch); the values are a gather at those indices, so the gradient goes back to exactly the
entries that were selected (a scatter-add), and is differentiable again.
"""
import numpy

from .. import backend
from ..tensor import Tensor
from .cast import clone
from .index import gather_raw
from .reduce import ValuesIndices
from .shape import _norm_dim
from .unary import _tensor

__all__ = ["sort", "argsort", "msort", "topk"]


def order(data, dim, descending):
    """int64 indices that sort `data` along `dim`, stable: equal entries keep their order, descending too."""
    xp = backend.get_array_module(data)
    if not descending:
        return xp.argsort(data, axis=dim, kind="stable").astype(numpy.int64)
    # sort the reversed array ascending and reverse the answer: equal entries come out in their original order
    n = data.shape[dim]
    rev = xp.argsort(xp.flip(data, axis=dim), axis=dim, kind="stable")
    return (n - 1 - xp.flip(rev, axis=dim)).astype(numpy.int64)


def _selected(x, dim, idx):
    """(values, indices) with values = x gathered at idx along dim."""
    return ValuesIndices(gather_raw(x, dim, idx), Tensor(idx))


def sort(input, dim=-1, descending=False, stable=False):
    """sort(input, dim=-1, descending=False, stable=False): (values, indices), x sorted along `dim` (ascending
    unless descending=True; always stable, so equal entries keep their order; NaN sorts as the largest).

    Forward:  values = x gathered at indices along dim,  indices = the stable argsort of x along dim
    Backward: dx = gy scatter-added back to the places each value came from
    """
    x = _tensor(input)
    dim = _norm_dim(dim, x.ndim)
    if x.ndim == 0:
        return ValuesIndices(clone(x), Tensor(backend.get_array_module(x.data).zeros((), dtype=numpy.int64)))
    return _selected(x, dim, order(x.data, dim, descending))


def argsort(input, dim=-1, descending=False, stable=False):
    """argsort(input, dim=-1, descending=False, stable=False): the int64 indices that sort x along `dim`
    (stable).

    Forward:  y = the permutation p with x[p_0] <= x[p_1] <= ... along dim (>= when descending)
    Backward: not differentiable (an integer result carries no gradient)
    """
    x = _tensor(input)
    dim = _norm_dim(dim, x.ndim)
    if x.ndim == 0:
        return Tensor(backend.get_array_module(x.data).zeros((), dtype=numpy.int64))
    return Tensor(order(x.data, dim, descending))


def msort(input):
    """msort(input): x sorted along its first dim, as torch.msort.

    Forward:  y = sort(x, dim=0).values
    Backward: dx = gy scatter-added back to the places each value came from
    """
    return sort(input, 0).values


def topk(input, k, dim=-1, largest=True, sorted=True):
    """topk(input, k, dim=-1, largest=True, sorted=True): (values, indices) of the k largest (largest=False:
    smallest) entries along `dim`, best first.

    Forward:  values = the first k entries of x sorted along dim (descending when largest),  indices = their places
    Backward: dx = gy scattered back to the selected places, 0 elsewhere
    """
    x = _tensor(input)
    dim = _norm_dim(dim, x.ndim)
    n = x.shape[dim] if x.ndim else 1
    if not 0 <= k <= n:
        raise RuntimeError(f"topk(): selected index k out of range: k={k} for dimension {dim} of size {n}")
    if x.ndim == 0:
        return sort(x)
    idx = order(x.data, dim, largest)
    idx = idx[(slice(None),) * dim + (slice(0, k),)]
    return _selected(x, dim, idx)


METHODS = {name: globals()[name] for name in __all__}
