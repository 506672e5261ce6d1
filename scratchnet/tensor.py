"""Tensor: an array plus the graph edge that made it, and the reverse-mode pass (`backward`) that walks that graph.

The pass is iterative: functions wait in a heap ordered by generation (a function's generation is one more than the
newest function that made one of its inputs), so a 100,000-op chain needs no recursion.
"""
import contextlib
import heapq
import itertools

import numpy

from . import backend
from .errors import ShapeError


# ---- grad mode ----

class _Mode:
    grad_enabled = True


def is_grad_enabled():
    return _Mode.grad_enabled


class set_grad_enabled(contextlib.ContextDecorator):
    """Context manager and decorator that turns graph recording on or off."""

    def __init__(self, mode):
        self.mode = bool(mode)

    def __enter__(self):
        self.prev = _Mode.grad_enabled
        _Mode.grad_enabled = self.mode

    def __exit__(self, *exc):
        _Mode.grad_enabled = self.prev


class no_grad(set_grad_enabled):
    """`with no_grad():` or `@no_grad()`: ops inside record no graph (inference, optimizer updates)."""

    def __init__(self):
        super().__init__(False)


class enable_grad(set_grad_enabled):
    def __init__(self):
        super().__init__(True)


class Meta:
    """Stands in for the data of a graph input whose values backward never reads: shape, dtype and device only.
    Holding this instead of the array lets the array be freed as soon as the forward pass is done with it."""

    __slots__ = ("shape", "dtype", "ndim", "size", "itemsize", "device")

    def __init__(self, array):
        self.shape, self.dtype, self.ndim, self.size = array.shape, array.dtype, array.ndim, array.size
        self.itemsize, self.device = array.itemsize, backend.device_of(array)


def edge(t):
    """A data-less copy of non-leaf tensor t that keeps its place in the graph (creator, generation)."""
    e = Tensor(Meta(t.data), t.requires_grad)
    e._ctx, e._gen, e._vc = t._ctx, t._gen, t._vc  # the same version counter: a view's check reads it
    return e


class Tensor:
    """An n-dimensional array that remembers how it was made.

    `data` is the raw NumPy or CuPy array; `_ctx` the Function that produced it (None for a leaf); `grad` is filled
    by `backward()` for leaves that require grad.
    """

    __slots__ = ("data", "grad", "requires_grad", "_ctx", "_gen", "_retain", "_vc", "__weakref__")
    __array_ufunc__ = None  # make NumPy hand `ndarray * tensor` to Tensor.__rmul__ instead of converting us
    __hash__ = object.__hash__

    def __init__(self, data, requires_grad=False):
        if isinstance(data, numpy.generic):  # NumPy returns 0-d results as scalars; keep every Tensor an ndarray
            data = numpy.asarray(data)
        self.data = data
        self.grad = None
        self.requires_grad = requires_grad
        self._ctx = None
        self._gen = 0
        self._retain = False
        self._vc = [0]  # the version counter, one list shared by a tensor and its views: [number of in-place writes]

    # ---- what it is ----
    shape = property(lambda self: self.data.shape)
    ndim = property(lambda self: self.data.ndim)
    dtype = property(lambda self: self.data.dtype)
    is_leaf = property(lambda self: self._ctx is None)
    grad_fn = property(lambda self: self._ctx)

    @property
    def _version(self):
        """How many times this tensor (or a view sharing its memory) was changed in place, as PyTorch's
        `_version`: a Function remembers the versions of what it saved, and backward refuses stale ones."""
        return self._vc[0]

    @property
    def device(self):
        return backend.device_of(self.data)

    def size(self, dim=None):
        return self.data.shape if dim is None else self.data.shape[dim]

    def dim(self):
        return self.data.ndim

    def numel(self):
        return int(self.data.size)

    def element_size(self):
        return self.data.itemsize

    def is_floating_point(self):
        return self.data.dtype.kind == "f"

    def __len__(self):
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __repr__(self):
        body = numpy.array2string(backend.to_numpy(self.data), separator=", ", prefix="tensor(")
        extra = ""
        if self.data.dtype not in (numpy.float32, numpy.int64, numpy.bool_):
            extra += f", dtype={self.data.dtype}"
        if self.device != backend.CPU:
            extra += f", device='{self.device}'"
        if self._ctx is not None:
            extra += f", grad_fn=<{type(self._ctx).__name__}Backward>"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    # ---- leaving the graph, changing device or dtype ----
    def numpy(self):
        """A host NumPy copy of the data."""
        return numpy.array(backend.to_numpy(self.data), copy=True)

    def __array__(self, dtype=None, copy=None):
        if self.device.type != "cpu":
            # as PyTorch and CuPy do: a device->host copy is never implicit
            raise TypeError(f"can't convert {self.device} device type tensor to numpy. Use Tensor.cpu() to copy the "
                            "tensor to host memory first (or .numpy() for a host copy)")
        a = backend.to_numpy(self.data)
        return a if dtype is None else a.astype(dtype, copy=False)

    def item(self):
        if self.data.size != 1:
            raise ShapeError(f"item() needs a tensor with one element, got shape {self.shape}")
        if type(self.data) is not numpy.ndarray:
            backend.run_pending_checks()  # a sync point: report what the device checked meanwhile
        return self.data.reshape(()).item()

    def tolist(self):
        return backend.to_numpy(self.data).tolist()

    def __bool__(self):
        return bool(self.item())

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self.data.dtype.kind not in "iu" or self.data.size != 1:
            raise TypeError(f"only integer tensors of one element can be used as an index, got {self.dtype}")
        return int(self.item())

    def detach(self):
        """The same data, cut from the graph (sharing the version counter, as the data is shared)."""
        t = Tensor(self.data)
        t._vc = self._vc
        return t

    def detach_(self):
        self._ctx, self._gen, self.requires_grad = None, 0, False
        return self

    def requires_grad_(self, requires_grad=True):
        if requires_grad and self.data.dtype.kind not in "fc":
            raise TypeError(f"only floating point tensors can require gradients, got dtype {self.dtype}")
        if not requires_grad and self._ctx is not None:
            raise RuntimeError("requires_grad_(False) on a non-leaf tensor: use detach() instead")
        self.requires_grad = requires_grad
        return self

    def retain_grad(self):
        """Keep `.grad` for this non-leaf tensor too."""
        self._retain = True
        return self

    def cpu(self):
        return self.to("cpu")

    def cuda(self, index=None):
        return self.to("cuda" if index is None else f"cuda:{index}")

    def float(self):
        return self.astype(numpy.float32)

    def double(self):
        return self.astype(numpy.float64)

    def half(self):
        return self.astype(numpy.float16)

    def long(self):
        return self.astype(numpy.int64)

    def int(self):
        return self.astype(numpy.int32)

    def bool(self):
        return self.astype(numpy.bool_)

    # ---- in place: every write bumps the version counter (ops/inplace.py records differentiable ones) ----
    def _check_inplace(self, what):
        if _Mode.grad_enabled and self.requires_grad and self._ctx is None:
            raise RuntimeError(f"a leaf Variable that requires grad is being used in an in-place operation: {what} "
                               "on a leaf tensor that requires grad; wrap it in `with no_grad():`")

    def _bump(self):
        self._vc[0] += 1

    # ---- autograd ----
    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Accumulate d(self)/d(leaf) into `.grad` of every leaf that requires grad.

        `gradient` is the upstream dL/d(self); it may be left out only for a one-element tensor (then it is 1).
        """
        run_backward([self], [gradient], retain_graph=create_graph if retain_graph is None else retain_graph,
                     create_graph=create_graph, accumulate_into=inputs)


def _as_grad(t, g, i):
    """Check or make the upstream gradient of root tensor `t`."""
    if not t.requires_grad:
        raise RuntimeError(f"element {i} of tensors does not require grad and does not have a grad_fn: it was made "
                           "under no_grad(), from tensors that do not require grad, or was detached")
    if g is None:
        if t.data.size != 1:
            raise RuntimeError(f"grad can be implicitly created only for one-element outputs: output {i} has shape "
                               f"{t.shape}; pass gradient= (or grad_outputs=) of that shape")
        return Tensor(backend.get_array_module(t.data).ones(t.shape, dtype=t.dtype))
    if not isinstance(g, Tensor):
        g = Tensor(backend.get_array_module(t.data).asarray(g, dtype=t.dtype))
    if g.shape != t.shape:
        raise RuntimeError(f"gradient for output {i} has shape {g.shape}, but the output has shape {t.shape}")
    return g


def _add(a, b):
    return b if a is None else a + b


_post_backward_hooks = {}


class _HookHandle:
    def __init__(self, key):
        self.key = key

    def remove(self):
        _post_backward_hooks.pop(self.key, None)


def register_post_backward_hook(fn):
    """Call fn(leaves) after every backward() has accumulated `.grad`, with the set of ids of the leaves that
    received a gradient (autograd.grad, which touches no .grad, calls none). DistributedDataParallel averages its
    gradients over the ranks here. Returns a handle with remove()."""
    key = object()
    _post_backward_hooks[key] = fn
    return _HookHandle(key)


def run_backward(roots, grads, retain_graph=False, create_graph=False, capture=None, accumulate_into=None):
    """Walk the graph from `roots` back to the leaves.

    Leaves get `.grad` accumulated, unless `capture` (a list of tensors, from `autograd.grad`) is given: then their
    gradients are returned instead, in order, and no `.grad` is touched.
    """
    counter = itertools.count()
    heap, pending, leaf_grads = [], {}, {}
    want = None if capture is None else {id(t): t for t in capture}
    captured = {}

    def send(t, g):
        fn = t._ctx
        if fn is None:
            if t.requires_grad:
                leaf_grads[t] = _add(leaf_grads.get(t), g)
            return
        if fn not in pending:
            pending[fn] = g
            heapq.heappush(heap, (-fn.generation, next(counter), fn))
        else:
            pending[fn] = pending[fn] + g

    with backend.on(roots[0].data) if roots else backend._NULL:  # seeds and sums on the graph's device
        return _walk(roots, grads, retain_graph, create_graph, capture, accumulate_into, heap, pending, leaf_grads,
                     want, captured, send)


def _walk(roots, grads, retain_graph, create_graph, capture, accumulate_into, heap, pending, leaf_grads, want,
          captured, send):
    for i, (t, g) in enumerate(zip(roots, grads)):
        send(t, _as_grad(t, g, i))

    with set_grad_enabled(create_graph):
        while heap:
            fn = heapq.heappop(heap)[2]
            gy = pending.pop(fn)
            if fn.inputs is None:
                raise RuntimeError(
                    f"Trying to backward through the graph a second time ({type(fn).__name__} was already freed). "
                    "Pass retain_graph=True to the first backward() if you need to walk it again.")
            out = fn.output
            if out is not None:
                if want is not None and id(out) in want:
                    captured[id(out)] = _add(captured.get(id(out)), gy)
                if out._retain and want is None:
                    out.grad = gy if out.grad is None else out.grad + gy
            if fn._versions is not None:
                fn.check_versions()
            inputs = fn.inputs
            gxs = fn.backward(gy)
            if not isinstance(gxs, tuple):
                gxs = (gxs,)
            if not retain_graph:
                fn.release()
            for x, gx, need in zip(inputs, gxs, fn.needs_input_grad):
                if need and gx is not None:
                    send(x, gx)

    if want is not None:
        for t, g in leaf_grads.items():
            if id(t) in want:
                captured[id(t)] = g
        return [captured.get(id(t)) for t in capture]
    keep = None if accumulate_into is None else {id(t) for t in accumulate_into}
    for leaf, g in leaf_grads.items():
        if keep is not None and id(leaf) not in keep:
            continue
        if not create_graph:
            g = Tensor(g.data)
        leaf.grad = g if leaf.grad is None else (leaf.grad + g if create_graph else Tensor(leaf.grad.data + g.data))
    if _post_backward_hooks:
        reached = {id(t) for t in leaf_grads if keep is None or id(t) in keep}
        for fn in list(_post_backward_hooks.values()):
            fn(reached)
    return None
