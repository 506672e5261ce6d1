"""DistributedDataParallel: one model replica per process, kept identical by averaging gradients over the ranks.

At wrap time rank 0's parameters and buffers are broadcast to every rank (after checking that all ranks built the
same model). After each backward() that reached the model, its gradients are packed into contiguous per-dtype
buckets (at most bucket_cap_mb each), each bucket is all-reduced once and divided by the world size, and the
averages are unpacked back into `.grad`: every rank then takes the same optimizer step. With a mean-reduced loss
and equal shards, p ranks at batch B/p step exactly like one process at batch B.

Cost per step: one tiny all-reduce (which parameters got a gradient on any rank) plus one all-reduce per bucket:
≈ 2·(p−1)/p · (parameter bytes) per rank. Communication runs after backward, not overlapped with it (on a CPU
the cores that would overlap it are the ones computing backward).
"""
import weakref
from contextlib import contextmanager

import numpy

from .. import backend
from ..nn.module import Module
from ..autograd import register_post_backward_hook
from ..tensor import Tensor, is_grad_enabled
from . import all_gather_object, world_size, _world_ref
from .comm import DistributedError, ReduceOp


def _pack(arrays, xp, dtype):
    return xp.concatenate([a.reshape(-1) for a in arrays]).astype(dtype, copy=False) if len(arrays) > 1 \
        else xp.ascontiguousarray(arrays[0].reshape(-1))


def _buckets(params, cap_bytes):
    """Group parameters by (device, dtype), in order, into runs of at most cap_bytes (a larger one goes alone)."""
    groups = {}
    for p in params:
        groups.setdefault((str(p.device), p.dtype.str), []).append(p)
    out = []
    for group in groups.values():
        bucket, size = [], 0
        for p in group:
            nbytes = p.data.size * p.data.itemsize
            if bucket and size + nbytes > cap_bytes:
                out.append(bucket)
                bucket, size = [], 0
            bucket.append(p)
            size += nbytes
        out.append(bucket)
    return out


class DistributedDataParallel(Module):
    """Wrap `module` for data-parallel training (PyTorch's name and behaviour).

    broadcast_buffers: at every training forward, copy rank 0's buffers (BatchNorm running statistics) to all
    ranks, as PyTorch does; SyncBatchNorm keeps them equal by itself. bucket_cap_mb: the largest bucket.
    Calls forward as module(*args); module.X is reached as ddp.module.X, and as in PyTorch ddp.state_dict()'s keys
    start with "module." (save ddp.module.state_dict() for a checkpoint that loads into the bare model).
    Parameters that get no gradient on some rank are handled always (find_unused_parameters is accepted for
    PyTorch compatibility); device_ids/output_device are implied by the tensors' device (one device per rank)."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0, broadcast_buffers=True,
                 process_group=None, bucket_cap_mb=25, find_unused_parameters=False, check_reduction=False,
                 gradient_as_bucket_view=False, static_graph=False):
        super().__init__()
        if process_group is not None:
            raise DistributedError("DistributedDataParallel: only the whole world is supported (process_group=None)")
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: expected a Module, got {type(module).__name__}")
        self.module = module
        self.broadcast_buffers = broadcast_buffers
        self.bucket_cap_bytes = int(bucket_cap_mb * 2 ** 20)
        self.require_backward_grad_sync = True
        self._sync_pending = False
        self._check_same_model()
        self._broadcast_state(include_params=True)
        ref = weakref.ref(self)

        def hook(reached):
            me = ref()
            if me is None:
                handle.remove()
            else:
                me._after_backward(reached)
        handle = register_post_backward_hook(hook)
        object.__setattr__(self, "_hook", handle)

    # ---- wrap time ----
    def _check_same_model(self):
        """Every rank must hold the same parameter names, shapes and dtypes, or averaging would mix unrelated
        numbers (or hang): compare them all and name the first difference."""
        mine = [(n, tuple(p.shape), p.dtype.str) for n, p in self.module.named_parameters()]
        everyone = all_gather_object(mine)
        for r, theirs in enumerate(everyone):
            if theirs == everyone[0]:
                continue
            diffs = [f"{a[0]}: {a[1]} {numpy.dtype(a[2])} on rank 0, {b[0]}: {b[1]} {numpy.dtype(b[2])} on rank {r}"
                     for a, b in zip(everyone[0], theirs) if a != b]
            if len(theirs) != len(everyone[0]):
                diffs.insert(0, f"{len(everyone[0])} parameters on rank 0, {len(theirs)} on rank {r}")
            raise DistributedError("DistributedDataParallel: ranks disagree on the model's parameters: "
                                   + "; ".join(diffs[:3]) + ("; ..." if len(diffs) > 3 else ""))

    def _broadcast_state(self, include_params):
        tensors = [b for b in self.module.buffers()]
        if include_params:
            tensors = list(self.module.parameters()) + tensors
        if world_size() > 1 and tensors:
            for bucket in _buckets(tensors, self.bucket_cap_bytes):
                xp = backend.get_array_module(bucket[0].data)
                flat = _pack([t.data for t in bucket], xp, bucket[0].dtype)
                _world_ref().broadcast(flat, 0)
                self._unpack(flat, [t.data for t in bucket])

    @staticmethod
    def _unpack(flat, targets):
        i = 0
        for a in targets:
            a[...] = flat[i:i + a.size].reshape(a.shape)
            i += a.size

    # ---- step time ----
    def forward(self, *args, **kwargs):
        if self.training and is_grad_enabled():
            self._sync_pending = self.require_backward_grad_sync
            if self.broadcast_buffers:
                self._broadcast_state(include_params=False)
        return self.module(*args, **kwargs)

    @contextmanager
    def no_sync(self):
        """Gradient accumulation: backward passes of forwards run inside this block only add to the local
        `.grad`; the first backward after a forward outside it averages everything accumulated."""
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old

    def _after_backward(self, reached):
        params = [p for p in self.module.parameters() if p.requires_grad]
        if not self._sync_pending or not any(id(p) in reached for p in params):
            return
        self._sync_pending = False
        self.reduce_gradients(params)

    def reduce_gradients(self, params=None):
        """Average `.grad` over the ranks now (backward() does this by itself). Every rank must call it.
        A parameter without a gradient on some rank counts as zero there; one without on every rank keeps None
        (so the optimizer skips it, as it would in one process)."""
        params = [p for p in self.module.parameters() if p.requires_grad] if params is None else params
        n = world_size()
        if n == 1 or not params:
            return
        has = numpy.array([p.grad is not None for p in params], numpy.uint8)
        _world_ref().all_reduce(has, ReduceOp.MAX)
        live = [p for p, h in zip(params, has) if h]
        for bucket in _buckets(live, self.bucket_cap_bytes):
            xp = backend.get_array_module(bucket[0].data)
            grads = [p.grad.data if p.grad is not None else xp.zeros(p.shape, p.dtype) for p in bucket]
            flat = _pack(grads, xp, bucket[0].dtype)
            if len(grads) == 1:
                flat = flat.copy()    # a view of the gradient: never reduce into an array others may share
            _world_ref().all_reduce(flat, ReduceOp.SUM)
            flat /= n
            for p in bucket:
                g = flat[:p.data.size].reshape(p.shape)
                flat = flat[p.data.size:]
                p.grad = Tensor(g)

    def extra_repr(self):
        return f"world_size={world_size()}, buckets<={self.bucket_cap_bytes / 2 ** 20:g} MiB"
