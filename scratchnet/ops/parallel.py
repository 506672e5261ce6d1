"""The one helper that spreads elementwise array work over the CPU's threads, so that an op's body stays its formula.

NumPy releases the GIL inside ufunc loops, so splitting a large elementwise pass into bands of rows uses every
core. Rows are N·C for (N, C, ...) arrays: even one image feeds every thread. On a GPU, or for small arrays, the
body runs once on the whole arrays.
"""
import numpy

from .. import backend

PARALLEL_MIN_SIZE = 2**18   # below ~256 K elements a pass is over before the threads would start


def _n_rows(x):
    """Rows to split over: N·C for (N, C, ...) arrays. At least one: an empty batch (N = 0) then reshapes to (1, 0)
    rather than to the ambiguous (0, -1)."""
    return max(x.shape[0] * x.shape[1] if x.ndim >= 3 else (x.shape[0] if x.ndim else 1), 1)


def elementwise(body, inputs, out_dtypes):
    """Outputs shaped like inputs[0] (one per dtype in out_dtypes, C-contiguous) filled by
    body(*input_bands, *output_bands), each band the same rows of every array, bands split over threads on the CPU.
    The body writes its outputs in place (ufuncs with out=). Returns the output, or a tuple of them."""
    x = inputs[0]
    xp = backend.get_array_module(x)
    # empty() rather than empty_like: a transposed input's layout would make the row view of the output a copy
    outs = [xp.empty(x.shape, dtype=d) for d in out_dtypes]
    n = _n_rows(x)
    if xp is not numpy or x.size < PARALLEL_MIN_SIZE or n == 1:  # one band, the whole arrays: no row views made
        body(*inputs, *outs)
        return outs[0] if len(outs) == 1 else tuple(outs)
    rows = [a.reshape(n, -1) for a in inputs] + [o.reshape(n, -1) for o in outs]

    def band(r0, r1):
        body(*(a[r0:r1] for a in rows))
    backend.parallel_for(n, band)
    return outs[0] if len(outs) == 1 else tuple(outs)
