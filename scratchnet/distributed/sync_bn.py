"""SyncBatchNorm: batch normalisation whose statistics are those of the global batch (all ranks together).

Per channel, each rank r computes its count n_r, mean m_r and centred sum of squares M2_r = Σ(x − m_r)² (its
sum, sum of squares and count, in the form that does not cancel catastrophically when |μ| ≫ σ); one all-gather of
[m_r, M2_r, n_r] (2C+1 numbers per rank) gives every rank all of them, and Chan's parallel formula merges them:

    N = Σ n_r,   μ = Σ n_r·m_r / N,   σ² = Σ (M2_r + n_r·(m_r − μ)²) / N,   y = γ·(x − μ)/sqrt(σ² + eps) + β

which is BatchNorm over the concatenated batch (PyTorch's SyncBatchNorm gathers the same statistics).

Backward: the gathered rows are copies of every rank's statistics, so the gradient reaching rank r's own row is
the sum over ranks k of the upstream gradient of row r on rank k: an all-reduce sum of the upstream (p, 2C+1)
gradient, of which r keeps row r (written with the same Functions, so it is differentiable twice). Everything
else is ordinary Tensor ops, so SyncBatchNorm's gradient is BatchNorm's gradient over the global batch, each rank
receiving the part for its own samples. Cost per layer and step: one all-gather of p·(2C+1) numbers forward and
one all-reduce of as many backward (latency-bound: ~log2(p)·α each).
"""
import numpy

from .. import backend
from ..autograd import Function
from ..nn.module import Module
from ..nn.norm import _BatchNorm, BatchNorm1d, BatchNorm2d
from ..ops.shape import cat
from ..tensor import Tensor, no_grad
from . import _world_ref
from .comm import ReduceOp


class AllReduceSum(Function):
    """y = Σ_ranks x on every rank;  dx = Σ_ranks gy (the same all-reduce)"""

    def forward(self, x):
        return _world_ref().all_reduce(x.copy(), ReduceOp.SUM)

    def backward(self, gy):
        return AllReduceSum()(gy)


class AllGather(Function):
    """y[k] = x of rank k, stacked (p, ...) on every rank;  dx = (Σ_ranks gy)[own rank]"""

    def forward(self, x):
        return backend.get_array_module(x).stack(_world_ref().all_gather(x))

    def backward(self, gy):
        return AllReduceSum()(gy)[_world_ref().rank]


def sync_batch_norm(x, running_mean, running_var, weight, bias, momentum, eps):
    """Training-mode batch norm over the global batch; updates the running statistics in place (unbiased σ²)."""
    xp = backend.get_array_module(x.data)
    c, axes = x.shape[1], (0,) + tuple(range(2, x.ndim))
    view = (1, c) + (1,) * (x.ndim - 2)
    n_local = x.data.size // c
    m_local = x.sum(axes) / max(n_local, 1)                # an empty shard has m = 0 and weight n = 0
    d = x - m_local.reshape(view)
    stats = AllGather()(cat([m_local, (d * d).sum(axes), Tensor(xp.full(1, n_local, dtype=x.dtype))]))
    m_r, m2_r, n_r = stats[:, :c], stats[:, c:2 * c], stats[:, 2 * c:]     # (p, C), (p, C), (p, 1)
    n = n_r.sum(0)                                          # (1,)
    mean = (n_r * m_r).sum(0) / n
    var = (m2_r + n_r * (m_r - mean) ** 2).sum(0) / n
    # the global count is on the host with NumPy; on a GPU with several ranks reading it would cost a device sync
    total = int(n.data[0]) if xp is numpy else n_local if _world_ref().size == 1 else None
    if total is not None and total <= 1:
        raise ValueError(f"SyncBatchNorm: expected more than 1 value per channel when training, got input {x.shape} "
                         f"and {total} value(s) over all ranks")
    y = (x - mean.reshape(view)) * ((var + eps) ** -0.5).reshape(view)
    if weight is not None:
        y = y * weight.reshape(view)
    if bias is not None:
        y = y + bias.reshape(view)
    if running_mean is not None:
        with no_grad():
            unbiased = var.data * (n.data / (n.data - 1))
            running_mean.data[...] = (1 - momentum) * running_mean.data + momentum * mean.data
            running_var.data[...] = (1 - momentum) * running_var.data + momentum * unbiased
    return y


class SyncBatchNorm(_BatchNorm):
    """BatchNorm over the batch of all ranks together (PyTorch's torch.nn.SyncBatchNorm): any input (N, C, ...).
    In eval mode it uses the running statistics like BatchNorm; in a world of one process it is BatchNorm."""

    dims = tuple(range(2, 9))

    def forward(self, x):
        if x.ndim < 2 or x.shape[1] != self.num_features:
            raise ValueError(f"SyncBatchNorm({self.num_features}) got input of shape {x.shape}: expected "
                             f"(N, {self.num_features}, ...)")
        if not self.training or _world_ref().size == 1:
            return super().forward(x)
        momentum = self.momentum
        if self.track_running_stats:
            self.num_batches_tracked.data += 1
            if momentum is None:
                momentum = 1.0 / int(backend.to_numpy(self.num_batches_tracked.data))
        return sync_batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, momentum or 0.0,
                               self.eps)

    @classmethod
    def convert_sync_batchnorm(cls, module):
        return convert_sync_batchnorm(module)


def convert_sync_batchnorm(module):
    """Replace every BatchNorm1d/2d in `module` by a SyncBatchNorm holding the same parameters and buffers (the
    very tensors, so an optimizer built before still updates them); returns the module (a new one if `module` was
    itself a BatchNorm)."""
    if isinstance(module, (BatchNorm1d, BatchNorm2d)) and not isinstance(module, SyncBatchNorm):
        sync = SyncBatchNorm.__new__(SyncBatchNorm)
        Module.__init__(sync)
        for k in ("num_features", "eps", "momentum", "affine", "track_running_stats", "training"):
            object.__setattr__(sync, k, getattr(module, k))
        for name, p in module._parameters.items():
            sync._parameters[name] = p
        sync.__dict__["_buffer_names"] = set(module.__dict__.get("_buffer_names", ()))
        for name, b in module._buffers.items():
            sync._buffers[name] = b
        for k in ("running_mean", "running_var", "num_batches_tracked"):
            if k not in module._buffers:
                object.__setattr__(sync, k, None)
        return sync
    for name, child in list(module._modules.items()):
        if child is not None:
            module._modules[name] = convert_sync_batchnorm(child)
    return module
