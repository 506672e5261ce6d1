"""The fast kernels behind ops/norm.py for batch norm's axes (the batch and every spatial axis, per channel): the
same forward and backward formulas as NormTrainFn, computed a cache-sized block of samples at a time, split over
the CPU's threads, with each pass's per-channel sums taken while the block is in cache.

ops/norm.py states the math (and its readable twin, norm_train_reference, computes it in tensor ops); this module
only makes it fast. Per channel, with m = N·Πspatial values, a = γ·r and x̂ = (x − μ)·r never stored (backward
recomputes x − μ block by block, as PyTorch keeps x rather than x̂):

    forward:   μ = Σx / m,  σ² = Σ(x − μ)² / m  (two passes, as the twin: no cancellation in float32),
               r = 1/sqrt(σ² + eps),  y = x·a + (β − μ·a)
    backward:  S₁ = Σgy,  S₂ = Σgy·x̂ = r·Σgy·(x − μ)  (one pass),
               dx = a·(gy − S₁/m − x̂·S₂/m) = gy·a + (x − μ)·(−a·r·S₂/m) − a·S₁/m   (one pass)

Per-channel factors are laid out as (C, Πspatial) rows so that NumPy's loops run over two contiguous operands
(a per-channel (C, 1) column, stride 0 along the row, runs 2-3x slower). Per-channel sums are added per sample
(contiguous rows), then over the samples in a fixed order: the same result on every run, whatever the threads.
"""
from .. import backend
from . import parallel

# Samples whose block stays in cache between the passes of one block.
CACHE_BLOCK_BYTES = 1 * 2**20


def applies(x, axes, gamma, beta):
    """Batch norm's axes (0, 2, 3, ...) of a non-empty input with at least one spatial axis, and γ, β of its dtype,
    each one value or one per channel (shape (1, C, 1, ...))."""
    keep = (1, x.shape[1]) + (1,) * (x.ndim - 2) if x.ndim > 2 else None
    return (x.ndim > 2 and x.size > 0 and tuple(axes) == (0,) + tuple(range(2, x.ndim))
            and all(t.dtype == x.dtype and (t.size == 1 or t.shape == keep) for t in (gamma, beta)))


def _blocks(xp, n, per_sample_bytes):
    """Ranges of samples that fit the cache block; the whole range on a GPU (no cache to fit)."""
    if xp is not backend.numpy:
        return [(0, n)]
    return backend.chunks(0, n, per_sample_bytes, CACHE_BLOCK_BYTES)


def _dots(xp, a, b):
    """Σ_l a[n, c, l]·b[n, c, l] as (n, c): stacked dot products, one read of each and no temporary."""
    return xp.matmul(a[:, :, None, :], b[:, :, :, None]).reshape(a.shape[:2])


def _over_samples(xp, n, body, size):
    """body(b0, b1) over the batch, split over the CPU's threads for an input of at least parallel.PARALLEL_MIN_SIZE
    values (smaller, the split cost more than it saved: the U-Net's 16 × 128 × 8 × 8 norm 0.73x on two threads)."""
    if size < parallel.PARALLEL_MIN_SIZE:
        body(0, n)
    else:
        backend.over_batch(xp, n, body, min_items=1)


def _channel_sums(xp, n, per_block, block_bytes, size):
    """Σ over the batch of per_block(n0, n1) -> (n1 − n0, ...) sums, split over threads by samples, each thread's
    blocks in cache; the threads' parts are added in sample order (the same sum on every run)."""
    parts = {}

    def body(b0, b1):
        acc = None
        for n0, n1 in _blocks(xp, b1 - b0, block_bytes):
            s = per_block(b0 + n0, b0 + n1).sum(axis=0)
            acc = s if acc is None else acc + s
        parts[b0] = acc
    _over_samples(xp, n, body, size)
    keys = sorted(parts)
    total = parts[keys[0]]
    for k in keys[1:]:
        total = total + parts[k]
    return total


def _rows(xp, column, length, dtype):
    """A per-channel (C, 1) column as contiguous (C, length) rows of dtype (see the module docstring)."""
    return xp.ascontiguousarray(xp.broadcast_to(column.astype(dtype, copy=False), (column.shape[0], length)))


def _column(t, c):
    """γ or β (one value, or one per channel) as a (C, 1) column."""
    return backend.get_array_module(t).broadcast_to(t.reshape(-1, 1), (c, 1))


def forward(x, gamma, beta, eps):
    """(y, μ, r, σ²) of batch norm over x (N, C, *S) with γ, β as `applies` takes them; μ, r and σ² keep the dims
    (1, C, 1, ...)."""
    xp = backend.get_array_module(x)
    n, c = x.shape[:2]
    m, keep = x.size // c, (1, c) + (1,) * (x.ndim - 2)
    x3 = x.reshape(n, c, -1)
    length, sample_bytes = x3.shape[2], x3[0].size * x.itemsize
    mean = _channel_sums(xp, n, lambda n0, n1: x3[n0:n1].sum(axis=2), sample_bytes, x.size) / m
    mean = mean.astype(x.dtype, copy=False)
    mean_rows = _rows(xp, mean.reshape(c, 1), length, x.dtype)

    def squares(n0, n1):   # Σ(x − μ)², x − μ made a block at a time while the block is in cache
        xc = xp.subtract(x3[n0:n1], mean_rows)
        return _dots(xp, xc, xc)
    var = (_channel_sums(xp, n, squares, sample_bytes, x.size) / m).astype(x.dtype, copy=False)
    r = (1.0 / xp.sqrt(var + eps)).astype(x.dtype, copy=False)
    a = _column(gamma, c) * r.reshape(c, 1)
    scale, shift = _rows(xp, a, length, x.dtype), _rows(xp, _column(beta, c) - mean.reshape(c, 1) * a, length,
                                                        x.dtype)
    y = xp.empty_like(x3)

    def normalise(b0, b1):
        for n0, n1 in _blocks(xp, b1 - b0, sample_bytes):
            out = y[b0 + n0:b0 + n1]
            xp.multiply(x3[b0 + n0:b0 + n1], scale, out=out)
            xp.add(out, shift, out=out)
    _over_samples(xp, n, normalise, x.size)
    return y.reshape(x.shape), mean.reshape(keep), r.reshape(keep), var.reshape(keep)


def backward(gy, x, mean, r, gamma, need_dx):
    """(dx or None, S₁ = Σgy, S₂ = Σgy·x̂) for upstream gy, the sums per channel (C,) (see the module docstring)."""
    xp = backend.get_array_module(gy)
    n, c = gy.shape[:2]
    m = gy.size // c
    g3, x3 = gy.reshape(n, c, -1), x.reshape(n, c, -1)
    length, sample_bytes = g3.shape[2], 2 * g3[0].size * gy.itemsize
    mean_rows = _rows(xp, mean.reshape(c, 1), length, gy.dtype)

    def sums(n0, n1):
        xc = xp.subtract(x3[n0:n1], mean_rows)
        return xp.stack([g3[n0:n1].sum(axis=2), _dots(xp, g3[n0:n1], xc)], axis=2)
    both = _channel_sums(xp, n, sums, sample_bytes, gy.size)
    r1 = r.reshape(c)
    sum_gy, sum_gyx = both[:, 0], both[:, 1] * r1                 # (C,) each
    if not need_dx:
        return None, sum_gy, sum_gyx
    a = _column(gamma, c) * r.reshape(c, 1)                         # γr, (C, 1)
    scale = _rows(xp, a, length, gy.dtype)
    slope = _rows(xp, -a * r.reshape(c, 1) * (sum_gyx / m).reshape(c, 1), length, gy.dtype)
    shift = _rows(xp, -a * (sum_gy / m).reshape(c, 1), length, gy.dtype)
    dx = xp.empty_like(g3)

    def apply(b0, b1):
        for n0, n1 in _blocks(xp, b1 - b0, sample_bytes):
            out, xc = dx[b0 + n0:b0 + n1], xp.subtract(x3[b0 + n0:b0 + n1], mean_rows)
            xp.multiply(xc, slope, out=xc)
            xp.multiply(g3[b0 + n0:b0 + n1], scale, out=out)
            xp.add(out, xc, out=out)
            xp.add(out, shift, out=out)
    _over_samples(xp, n, apply, gy.size)
    return dx.reshape(gy.shape), sum_gy, sum_gyx
