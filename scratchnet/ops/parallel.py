"""The helpers that spread elementwise array work over the CPU's threads, so that an op's body stays its formula:
`elementwise` (a body writing its outputs in place), `binary` (one arithmetic ufunc, broadcast) and `negative`;
`reduce_trailing` (sums and means over the trailing axes, split over the leading rows); and `over_first_axis`
(a body that works on any range of the first axis: softmax along another axis, concatenation).

NumPy releases the GIL inside ufunc loops, so splitting a large elementwise pass into bands of rows uses every
core. Rows are N·C for (N, C, ...) arrays: even one image feeds every thread. On a GPU, or for small arrays, the
body runs once on the whole arrays. Each element is computed by the same ufunc loop whatever the split, so the
result is the same, bit for bit, on any number of threads.
"""
import math
import operator

import numpy

from .. import backend

# Below ~512 K elements a pass is over before the threads pay (2 threads, quiet machine: an add over 262 K floats
# 1.55 -> 1.98 ms, batch norm over 16 × 128 × 8 × 8 0.73x; over 524 K, batch norm 1.3x; over 1 M, adds 1.25-1.45x)
PARALLEL_MIN_SIZE = 2**19


def _pieces(arrays, shape, r0, r1):
    """The arrays' parts (all of `shape`, any strides) for rows [r0, r1): rows are the (i, j) pairs of the first two
    axes when there are three or more (slices of axis 1 under one index of axis 0: a broadcast operand's view need
    not merge the two axes), else the indices of axis 0."""
    if len(shape) < 3:
        return [[a[r0:r1] for a in arrays]]
    width, parts = shape[1], []
    while r0 < r1:
        i, j = divmod(r0, width)
        k = min(width, j + r1 - r0)
        parts.append([a[i, j:k] for a in arrays])
        r0 += k - j
    return parts


def elementwise(body, inputs, out_dtypes):
    """Outputs shaped like the inputs broadcast together (one per dtype in out_dtypes, C-contiguous) filled by
    body(*input_bands, *output_bands), each band the same rows of every array (a broadcast input's band is a view
    of it broadcast), bands split over threads on the CPU. The body writes its outputs in place (ufuncs with out=)
    and treats its bands elementwise, whatever their shape. Returns the output, or a tuple of them."""
    x = inputs[0]
    xp = backend.get_array_module(x)
    shape = x.shape
    for a in inputs[1:]:
        if a.shape != shape:
            shape = xp.broadcast_shapes(*[a.shape for a in inputs])
            break
    # empty() rather than empty_like: a transposed input's layout would make the row view of the output a copy
    outs = [xp.empty(shape, dtype=d) for d in out_dtypes]
    size = outs[0].size if outs else x.size
    n = max(shape[0] * shape[1] if len(shape) >= 3 else (shape[0] if shape else 1), 1)
    if xp is not numpy or size < PARALLEL_MIN_SIZE or n == 1:  # one band, the whole arrays: no row views made
        body(*inputs, *outs)
        return outs[0] if len(outs) == 1 else tuple(outs)
    errors = numpy.geterr()   # the caller's errstate (warnings about inf and NaN), for the worker threads too
    if all(a.shape == shape and a.flags.c_contiguous for a in inputs):
        rows = [a.reshape(n, -1) for a in inputs] + [o.reshape(n, -1) for o in outs]

        def band(r0, r1):
            with numpy.errstate(**errors):
                body(*(a[r0:r1] for a in rows))
    else:
        # a broadcast or strided input (a slice) would be copied by the reshape to rows: views of its pieces instead
        views = [xp.broadcast_to(a, shape) for a in inputs] + outs

        def band(r0, r1):
            with numpy.errstate(**errors):
                for part in _pieces(views, shape, r0, r1):
                    body(*part)
    backend.parallel_for(n, band)
    return outs[0] if len(outs) == 1 else tuple(outs)


# name: (the NumPy ufunc, the operator that computes it on any array module)
_BINARY = {"add": (numpy.add, operator.add), "subtract": (numpy.subtract, operator.sub),
           "multiply": (numpy.multiply, operator.mul), "divide": (numpy.divide, operator.truediv)}


def _c_ordered(a):
    """Whether a's strides fall from axis to axis (C-contiguous, or a slice of such an array): NumPy then gives an
    elementwise result of a's shape C order, as `elementwise` does."""
    last = None
    for n, s in zip(a.shape, a.strides):
        if n > 1:
            if s <= 0 or last is not None and s > last:
                return False
            last = s
    return True


def negative(x):
    """-x: split over threads (`elementwise`) for a large C-ordered host float array, else the operator."""
    if type(x) is not numpy.ndarray or x.size < PARALLEL_MIN_SIZE or x.dtype.kind != "f" or not _c_ordered(x) \
            or backend.num_threads() == 1:
        return -x
    return elementwise(lambda x, y: numpy.negative(x, out=y), (x,), (x.dtype,))


def binary(name, a, b):
    """a (op) b for one of _BINARY's names, broadcast: split over threads (`elementwise`) for large host float
    arrays of one dtype, the result C-contiguous as NumPy's would be (every operand of the result's shape
    C-ordered, `_c_ordered`); otherwise the operator on the whole arrays (small arrays, a GPU, mixed dtypes, other layouts).
    The test for small arrays comes first: it is all that the per-op path of small tensors pays."""
    ufunc, op = _BINARY[name]
    if (type(a) is not numpy.ndarray or a.size < PARALLEL_MIN_SIZE) and \
            (type(b) is not numpy.ndarray or b.size < PARALLEL_MIN_SIZE):
        return op(a, b)
    if not (isinstance(a, (numpy.ndarray, numpy.generic)) and isinstance(b, (numpy.ndarray, numpy.generic))
            and a.dtype == b.dtype and a.dtype.kind == "f") or backend.num_threads() == 1:
        return op(a, b)
    shape = a.shape if a.shape == b.shape else numpy.broadcast_shapes(a.shape, b.shape)
    # NumPy orders the result as its full operands are ordered; one broadcast to the full shape (a zero stride)
    # leaves the order to the other
    full = [t for t in (a, b) if t.shape == shape and (0 not in t.strides or t.size == 0)]
    if not all(_c_ordered(t) for t in full) or not full and a.shape == b.shape == shape:
        return op(a, b)
    return elementwise(lambda a, b, out: ufunc(a, b, out=out), (a, b), (a.dtype,))


def reduce_trailing(name, x, axes, keepdims=False):
    """x.sum or x.mean (`name`) over `axes`: where they are trailing axes (k, ..., ndim−1) of a large C-contiguous
    host float array, each thread reduces its rows of the (leading, trailing) matrix; every row is one contiguous
    run summed by NumPy's own loop either way, so the values are NumPy's bit for bit. Otherwise NumPy's call."""
    if type(x) is not numpy.ndarray or x.size < PARALLEL_MIN_SIZE or not isinstance(axes, tuple) or \
            backend.num_threads() == 1:
        return getattr(x, name)(axis=axes, keepdims=keepdims)
    k = x.ndim - len(axes)
    if not (0 < k < x.ndim and tuple(axes) == tuple(range(k, x.ndim)) and x.dtype.kind == "f"
            and x.flags.c_contiguous):
        return getattr(x, name)(axis=axes, keepdims=keepdims)
    lead = x.shape[:k]
    rows = x.reshape(math.prod(lead), -1)
    out = numpy.empty(rows.shape[0], dtype=x.dtype)

    def band(r0, r1):
        getattr(rows[r0:r1], name)(axis=1, out=out[r0:r1])
    backend.parallel_for(rows.shape[0], band)
    return out.reshape(lead + (1,) * len(axes) if keepdims else lead)


def over_first_axis(x, body, size=None):
    """body(i0, i1) over [0, len(x)), split over the CPU's threads for a large host array (`size` elements of work,
    x.size by default), else called once on the whole range: for a body whose rows are independent and computed
    alike however they are grouped (a softmax along a later axis, a concatenation along one), so its result does
    not depend on the thread count. The body writes disjoint parts of its outputs."""
    n = x.shape[0] if x.ndim else 0
    if type(x) is not numpy.ndarray or (x.size if size is None else size) < PARALLEL_MIN_SIZE:
        body(0, n)
        return
    errors = numpy.geterr()

    def part(i0, i1):
        with numpy.errstate(**errors):
            body(i0, i1)
    backend.parallel_for(n, part, min_items=1)
