"""einsum (Einstein summation over named axes) and outer, its simplest case.

An equation like "bij,bjk->bik" names every axis of every operand with a letter; letters shared between operands are
multiplied together, letters missing from the output are summed. The gradient for operand k is again an einsum:
the upstream gradient (named by the output's letters) times the other operands, with operand k's letters as output.
Two cases need more than that one einsum, and each is written with einsum again (so it is differentiable to any
order): a letter that only operand k has (summed away: its gradient is broadcast back along it), and a letter that
repeats inside operand k (a diagonal: the gradient is written back on it by multiplying with an identity matrix).
"""
import string

import numpy

from .. import backend
from ..autograd import Function
from ..errors import DTypeError, ShapeError
from ..tensor import Tensor
from .shape import broadcast_to, reshape
from .unary import _tensor

__all__ = ["einsum", "outer", "ger"]


def _unique(s):
    return "".join(dict.fromkeys(s))


class Einsum(Function):
    """y = einsum(equation, *operands) on explicit letters (no ellipsis, sizes already equal per letter);
    d operand_k = einsum(gy and the other operands -> operand k's letters), see the module docstring"""

    def __init__(self, inputs, output):
        self.subs, self.out = inputs, output

    def forward(self, *arrays):
        xp = backend.get_array_module(*arrays)
        kw = {"optimize": True} if xp is numpy and len(arrays) > 2 else {}
        return xp.einsum(",".join(self.subs) + "->" + self.out, *arrays, **kw)

    def backward(self, gy):
        xs = self.inputs
        return tuple(self._grad(k, gy, xs) if need else None for k, need in enumerate(self.needs_input_grad))

    def _grad(self, k, gy, xs):
        sub = self.subs[k]
        sizes = dict(zip(sub, xs[k].shape))
        others = [s for i, s in enumerate(self.subs) if i != k]
        seen = set(self.out).union(*others)
        letters = _unique(sub)
        kept = "".join(c for c in letters if c in seen)
        g = Einsum((self.out,) + tuple(others), kept)(gy, *[x for i, x in enumerate(xs) if i != k])
        if kept != letters:  # letters summed inside operand k alone: the gradient is constant along them
            g = reshape(g, tuple(sizes[c] if c in kept else 1 for c in letters))
            g = broadcast_to(g, tuple(sizes[c] for c in letters))
        if letters == sub:
            return g
        # a repeated letter (a diagonal): fresh letters for the repeats, tied to the first by identity matrices
        free = iter(c for c in string.ascii_letters if c not in set("".join(self.subs) + self.out))
        target, eyes, ties = "", [], []
        xp = backend.get_array_module(gy.data)
        for c in sub:
            if c in target:
                f = next(free)
                target += f
                eyes.append(Tensor(xp.eye(sizes[c], dtype=gy.dtype)))
                ties.append(c + f)
            else:
                target += c
        return Einsum((letters,) + tuple(ties), target)(g, *eyes)


def _parse(equation, shapes):
    """The equation made explicit: ellipses replaced by letters, the implicit output spelled out."""
    eq = equation.replace(" ", "")
    lhs, arrow, out = eq.partition("->")
    subs = lhs.split(",")
    if len(subs) != len(shapes):
        more = "more" if len(shapes) > len(subs) else "fewer"
        raise RuntimeError(f"einsum(): {more} operands were provided than specified in the equation {equation!r}: "
                           f"{len(subs)} subscripts, {len(shapes)} operands")
    for s in subs + [out]:
        bad = set(s.replace("...", "")) - set(string.ascii_letters)
        if bad or s.count("...") > 1:
            raise RuntimeError(f"einsum(): invalid subscript in equation {equation!r}: subscripts must be letters "
                               "a-z, A-Z with at most one ellipsis per operand")
    used = set(lhs + out)
    spare = iter(c for c in string.ascii_letters if c not in used)
    n_ell = 0
    for s, shape in zip(subs, shapes):
        named = len(s.replace("...", ""))
        if ("..." in s and named > len(shape)) or ("..." not in s and named != len(shape)):
            raise ShapeError(f"einsum(): the number of subscripts in the equation ({named}) does not match the "
                               f"number of dimensions ({len(shape)}) for operand {subs.index(s)}"
                               + ("" if "..." in s else " and no ellipsis was given"))
        if "..." in s:
            n_ell = max(n_ell, len(shape) - named)
    ell = "".join(next(spare) for _ in range(n_ell))
    explicit = [s.replace("...", ell[n_ell - (len(shape) - len(s.replace("...", ""))):]) for s, shape in
                zip(subs, shapes)]
    if not arrow:
        counts = {}
        for c in "".join(s.replace("...", "") for s in subs):
            counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1))
    else:
        if "..." in out and not any("..." in s for s in subs):
            raise RuntimeError(f"einsum(): output subscript '...' in {equation!r} has no ellipsis in the inputs")
        out = out.replace("...", ell)
        for c in out:
            if out.count(c) > 1:
                raise RuntimeError(f"einsum(): output subscript {c} appears more than once in the output")
            if not any(c in s for s in explicit):
                raise RuntimeError(f"einsum(): output subscript {c} does not appear in the equation for any input "
                                   "operand")
    return explicit, out


def _sublist(args):
    """einsum(a, [0, 1], b, [1, 2], [0, 2]): the sublist format, turned into an equation."""
    def letters(sub):
        return "".join("..." if i is Ellipsis else string.ascii_letters[i] for i in sub)
    ops, subs = list(args[0::2]), [letters(s) for s in args[1::2]]
    out = None
    if len(ops) > len(subs):  # an odd count: the last item is the output sublist
        out = letters(ops.pop())
    return ",".join(subs) + ("" if out is None else "->" + out), ops


def einsum(equation, *operands):
    """einsum(equation, *operands): Einstein summation over named axes, as torch.einsum ("ij,jk->ik",
    ellipses and the implicit output included; also the sublist format); size-1 axes broadcast, as in PyTorch.

    Forward:  y[out letters] = sum over the letters missing from the output of prod_k operand_k[its letters]
    Backward: d operand_k = einsum(gy and the other operands -> operand k's letters)
    """
    if not isinstance(equation, str):
        equation, operands = _sublist((equation,) + operands)
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    xs = [_tensor(x, "einsum operand") for x in operands]
    if len({x.dtype for x in xs}) > 1:
        raise DTypeError(f"einsum(): expected all operands to have the same dtype, got "
                           f"{[str(x.dtype) for x in xs]}")
    subs, out = _parse(equation, [x.shape for x in xs])
    sizes = {}
    for k, (s, x) in enumerate(zip(subs, xs)):
        for c, n in zip(s, x.shape):
            if sizes.get(c, 1) not in (1, n) and n != 1:
                raise ShapeError(f"einsum(): operands do not broadcast: subscript {c} has size {sizes[c]} and "
                                   f"{n} (operand {k}, shape {x.shape}) in {equation!r}")
            sizes[c] = max(sizes.get(c, 1), n)
    for k, (s, x) in enumerate(zip(subs, xs)):
        full = tuple(sizes[c] for c in s)
        if full != x.shape:
            xs[k] = broadcast_to(x, full)
    return Einsum(tuple(subs), out)(*xs)


def outer(input, vec2):
    """outer(input, vec2) (alias ger): the outer product of two 1-D tensors.

    Forward:  y[i, j] = a[i] * b[j]
    Backward: da = gy @ b, db = gyᵀ @ a
    """
    a, b = _tensor(input), _tensor(vec2, "vec2")
    if a.ndim != 1 or b.ndim != 1:
        raise ShapeError(f"outer: expected 1-D tensors, got shapes {a.shape} and {b.shape}")
    return reshape(a, (-1, 1)) * reshape(b, (1, -1))


ger = outer

METHODS = {"outer": outer, "ger": ger}
