"""Matrix products: `matmul` (batched, broadcast, 1-D operands as in NumPy/PyTorch) on one GEMM op.

The op multiplies optionally transposed operands, y = op(a) @ op(b), so its backward is two more calls of the same
op and needs no explicit transposes:  for y = a @ b,  da = gy @ bᵀ  and  db = aᵀ @ gy.
"""
import numpy

from .. import backend
from ..autograd import Function
from ..grad_mode import _Mode
from ..tensor import Tensor
from .shape import sum_to, reshape
from ..errors import ShapeError
from .promotion import check_same_dtype

PARALLEL_GEMM_FLOPS = 2**21  # below ~2 MFLOP a GEMM is over before threads would pay off
DEPTH_CHUNK = 8192           # a long product (F Fᵀ) is summed over chunks of this many values of its depth ...
SMALL_RESULT = 512 * 512     # ... when its result has at most this many entries
ONE_THREAD_GEMM = 65536 * 4  # m·k·n up to which OpenBLAS runs a GEMM on one thread by itself (interface/gemm.c:
#                              SMP_THRESHOLD_MIN · GEMM_MULTITHREAD_THRESHOLD): no thread limit to set around it


class MatMul(Function):
    """y = A @ B with A = aᵀ if ta else a, B = bᵀ if tb else b (transposes act on the last two axes);
    dA = gy @ Bᵀ, dB = Aᵀ @ gy, then transposed back where a or b was, and summed over broadcast batch axes."""

    multilinear = True

    def __init__(self, ta=False, tb=False):
        self.ta, self.tb = ta, tb

    def forward(self, a, b):
        xp = backend.get_array_module(a)
        if self.ta:
            a = a.swapaxes(-1, -2)
        if self.tb:
            b = b.swapaxes(-1, -2)
        if xp is not numpy or a.shape[-2] * a.shape[-1] * b.shape[-1] <= ONE_THREAD_GEMM:
            return xp.matmul(a, b)
        return _threaded_matmul(a, b)

    def backward(self, gy):
        a, b = self.inputs
        na, nb = self.needs_input_grad
        ga = gb = None
        # Each grad is made in its input's memory order: for a transposed view (the b of F Fᵀ in a Gram matrix)
        # the product of the transposes, transposed back, so that adding it to the other grads of the tensor it
        # views runs over contiguous memory (a strided add measured 4x slower at 64 × 16384)
        if self.ta:  # A = aᵀ: da = (dA)ᵀ = B @ gyᵀ
            ga = _gemm(self.tb, True, b, gy) if na else None
        elif na and _f_ordered(a.data):  # da = gy @ Bᵀ = (B @ gyᵀ)ᵀ
            ga = _gemm(self.tb, True, b, gy).transpose(-1, -2)
        else:        # da = gy @ Bᵀ
            ga = _gemm(False, not self.tb, gy, b) if na else None
        if self.tb:  # B = bᵀ: db = (dB)ᵀ = gyᵀ @ A
            gb = _gemm(True, self.ta, gy, a) if nb else None
        elif nb and _f_ordered(b.data):  # db = Aᵀ @ gy = (gyᵀ @ A)ᵀ
            gb = _gemm(True, self.ta, gy, a).transpose(-1, -2)
        else:        # db = Aᵀ @ gy
            gb = _gemm(not self.ta, False, a, gy) if nb else None
        return (sum_to(ga, a.shape) if ga is not None else None,
                sum_to(gb, b.shape) if gb is not None else None)


def _gemm(ta, tb, x, y):
    """MatMul(ta, tb)(x, y), as backward uses it: the op itself while a graph is recorded (create_graph=True, so the
    gradient differentiates again), else its forward on the raw arrays (nothing to record: see formula.py)."""
    if _Mode.grad_enabled:
        return MatMul(ta, tb)(x, y)
    with backend.on(x.data):  # CuPy computes on the current device: make it the arrays'
        return Tensor(MatMul(ta, tb).forward(x.data, y.data))


def _threaded_matmul(a, b):
    """a @ b on the host for a product past ONE_THREAD_GEMM: one BLAS thread for small work (as inside scratchnet's
    parallel regions: see set_num_threads), else the rows of every product split over scratchnet's threads."""
    m, k, n = a.shape[-2], a.shape[-1], b.shape[-1]
    batch = a.shape[:-2]
    count = 1  # the number of products in the batch
    for d in batch:
        count *= d
    if a.ndim != b.ndim or b.shape[:-2] != batch or m * k * n * count < PARALLEL_GEMM_FLOPS:
        with backend.one_blas_thread():
            return numpy.matmul(a, b)
    # A large GEMM (or a few of them, e.g. one image's Gram matrices) split over scratchnet's threads (BLAS itself
    # runs single-threaded there, see backend.one_blas_thread): a long product of a small result (F Fᵀ of feature
    # maps, 64 × 65,536 by 65,536 × 64) by chunks of its depth; a wide one (G F, 64 × 64 by 64 × 65,536) by
    # columns; else by rows. Each thread reading all of the other operand for its half of the rows spent the
    # second core on memory traffic (the filter bank's Gram products: 1.1x from two threads).
    if k >= DEPTH_CHUNK * 2 and m * n <= SMALL_RESULT:
        return _depth_split(a, b)
    out = numpy.empty(batch + (m, n), dtype=numpy.result_type(a, b))
    if n >= 4 * m:   # blocks of 64 columns, the last one wider (BLAS's edge tiles: equal up to float rounding)
        units = n // 64

        def cols(u0, u1):
            c0, c1 = u0 * 64, (n if u1 == units else u1 * 64)
            numpy.matmul(a, b[..., c0:c1], out=out[..., c0:c1])
        backend.parallel_for(units, cols, min_items=1)
    else:
        backend.parallel_for(m, lambda r0, r1: numpy.matmul(a[..., r0:r1, :], b, out=out[..., r0:r1, :]),
                             min_items=16)
    return out


def _depth_split(a, b):
    """a @ b as the sum of the products of fixed chunks of the shared axis (DEPTH_CHUNK values each), the chunks
    split over threads and their products added in chunk order: the same sums whatever the thread count."""
    k = a.shape[-1]
    cuts = list(range(0, k, DEPTH_CHUNK)) + [k]
    parts = [None] * (len(cuts) - 1)

    def chunks(i0, i1):
        for i in range(i0, i1):
            parts[i] = numpy.matmul(a[..., cuts[i]:cuts[i + 1]], b[..., cuts[i]:cuts[i + 1], :])
    backend.parallel_for(len(parts), chunks, min_items=1)
    out = parts[0]
    for p in parts[1:]:
        out += p
    return out


def _f_ordered(x):
    """Whether x's last two axes are stored column-major (a transposed view), not row-major."""
    return x.ndim >= 2 and x.shape[-1] > 1 and x.shape[-2] > 1 and x.strides[-2] == x.itemsize < x.strides[-1]


def matmul(a, b):
    """matmul(input, other) (`a @ b`): the matrix product with NumPy's/PyTorch's rules: a 1-D operand gets a
    dimension added (then removed), batch axes broadcast; both operands must have the same dtype, as in PyTorch.
    Shapes: (..., m, k) @ (..., k, n) -> (..., m, n).

    Forward:  y[..., i, j] = sum_k a[..., i, k] b[..., k, j]
    Backward: da = sum_to(gy @ bᵀ, a.shape), db = sum_to(aᵀ @ gy, b.shape)  (ᵀ: the last two axes swapped)
    """
    sa, sb = a.shape, b.shape
    if len(sa) == 2 == len(sb) and sa[1] == sb[0] and a.dtype == b.dtype:
        return MatMul()(a, b)  # two matrices that fit: the general rules below would let them through unchanged
    if a.dtype != b.dtype:
        check_same_dtype("matmul", input=a, other=b)  # raises, naming both
    if not sa or not sb:
        raise ShapeError(f"matmul: both operands need at least 1 dimension, got shapes {sa} and {sb}")
    a2 = reshape(a, 1, sa[0]) if len(sa) == 1 else a
    b2 = reshape(b, sb[0], 1) if len(sb) == 1 else b
    sa2, sb2 = a2.shape, b2.shape
    if sa2[-1] != sb2[-2]:
        raise ShapeError(f"matmul: shapes {sa} and {sb} cannot be multiplied ({sa2[-1]} != {sb2[-2]})")
    try:
        batch = sa2[:-2] if sa2[:-2] == sb2[:-2] else numpy.broadcast_shapes(sa2[:-2], sb2[:-2])
    except ValueError:
        raise ShapeError(f"matmul: batch dimensions of {sa} and {sb} cannot be broadcast") from None
    y = MatMul()(a2, b2)
    if len(sa) == 1 or len(sb) == 1:
        y = reshape(y, batch + ((sa2[-2],) if len(sa) > 1 else ()) + ((sb2[-1],) if len(sb) > 1 else ()))
    return y
