"""The autograd engine in one place: Function (a node of the graph), what it saves for backward, the backward walk,
and the walk's two consumers, `backward()` (into `.grad`) and `grad()` (returned), as in torch.autograd.

Read it top to bottom: a Function's `__call__` runs `forward` on raw arrays and, when an input requires grad, links
the output Tensor to itself (`out._ctx = fn`, `fn.inputs = inputs`): that link is the whole graph. `walk()` visits
the graph from the roots back to the leaves, newest Function first, and yields every tensor's complete gradient.
Because each `backward` is written with Tensor ops, running the walk with graph recording on (`create_graph=True`)
records the gradient computation itself: that is all double backprop needs.

Around it, in modules of their own: grad mode (no_grad, ...: grad_mode.py) and `formula`, which runs a backward's
elementwise formula on raw arrays when nothing is recorded (formula.py); both are importable from here too.
"""
import heapq
import itertools
import operator
import weakref

import numpy

from . import backend
from .errors import ShapeError
from .tensor import Tensor
from .grad_mode import _Mode, no_grad, enable_grad, set_grad_enabled, is_grad_enabled  # noqa: F401  (as torch.autograd)
from .formula import ONE_PASS_SIZE, formula  # noqa: F401  (a backward's raw-array fast path: formula.py)

# ---- saved-tensor bookkeeping ----
#
# What a Function keeps for its backward, and how it stays correct and small:
# * identity: `save_for_backward` stores raw arrays; `saved_tensors` maps each back to the Tensor it came from (an
#   input, or the output), so a backward that uses it is itself differentiable; any other array comes back as a
#   constant Tensor.
# * freed outputs: the Function holds its output only weakly (a strong link would make a cycle out <-> fn). If the
#   output was dropped before backward (`loss = f(x).sum()` drops `f(x)`), `saved_tensors` rebuilds the same graph
#   node from the saved array, so it is still differentiable.
# * data-less edges: a Function whose backward reads only its inputs' shapes (Add, Sub, Reshape; `keeps_inputs =
#   False`) holds `edge(x)` for a non-leaf input x instead of x: the same place in the graph with a `Meta` for data,
#   so x's array is freed as soon as the forward pass is done with it, as PyTorch frees it.
# * version counters: a tensor and its views share one counter, `x._vc = [number of in-place writes]`. A Function
#   records the versions of the inputs (and the output) it will read; backward refuses one that changed since, with
#   PyTorch's message, instead of computing a silently wrong gradient from overwritten values.


class Meta:
    """Stands in for the data of a graph input whose values backward never reads: shape, dtype and device only."""

    __slots__ = ("shape", "dtype", "ndim", "size", "itemsize", "device")

    def __init__(self, array):
        self.shape, self.dtype, self.ndim, self.size = array.shape, array.dtype, array.ndim, array.size
        self.itemsize, self.device = array.itemsize, backend.device_of(array)


def edge(t):
    """A data-less copy of non-leaf tensor t that keeps its place in the graph (creator, generation, versions)."""
    e = Tensor(Meta(t.data), t.requires_grad)
    e._ctx, e._gen, e._vc = t._ctx, t._gen, t._vc  # the same version counter: a view's check reads it
    return e


def _device_error(fn, arrays):
    where = ", ".join(f"{backend.device_of(a)} (input {i}, shape {tuple(a.shape)})" for i, a in enumerate(arrays))
    return RuntimeError(f"{type(fn).__name__}: expected all tensors on the same device, got {where}")


def _check_devices(fn, arrays):
    """All array inputs on one device. A NumPy scalar (a Python number an op promoted) goes with any device."""
    arrays = [a for a in arrays if not isinstance(a, numpy.generic)]
    if len({type(a) for a in arrays}) > 1 or len({a.device.id for a in arrays if hasattr(a.device, "id")}) > 1:
        raise _device_error(fn, arrays)


def _version_error(fn, a, which, now, then):
    return RuntimeError(
        f"one of the variables needed for gradient computation has been modified by an inplace operation: "
        f"[{a.dtype} tensor of shape {list(a.shape)}], which is {which} of {type(fn).__name__}, is at version {now}; "
        f"expected version {then} instead. Hint: the in-place op came after the forward pass that saved it; use "
        f"its out-of-place form (x = x + 1 instead of x.add_(1) or x += 1), or clone() the tensor first.")


class Function:
    """One differentiable operation. Subclasses define

    * `forward(*arrays) -> array`: raw NumPy/CuPy arrays in and out; call `save_for_backward` for what backward needs;
    * `backward(gy) -> grad or tuple of grads`: Tensors in and out (one per input, None where none is needed).

    A Function whose backward reads only its inputs' shapes (not their values) sets `keeps_inputs = False`: it then
    holds data-less edges to its non-leaf inputs (see the bookkeeping notes above).
    """

    keeps_inputs = True
    is_view = False  # the output may share the input's memory (reshape, permute, basic indexing): it shares its
    #                  version counter too, so an in-place write through either is seen by both
    multilinear = False  # the gradient for one input reads only the others (a * b, a @ b): an input's value is
    #                      then saved, and checked, only when another input needs a gradient (as PyTorch saves it)
    _versions = None  # the inputs' versions when they were saved (kept inputs and views only; None: not read)
    _out_vc = None    # the output's version counter and version, when backward reads the output
    _out_ver = 0
    _out_saved = -1
    generation = 0
    inputs = None
    needs_input_grad = ()
    _saved = ()
    _out = None

    def __call__(self, *inputs):
        # the per-op path of every op: kept to plain loops and identity tests (`type(a) is ndarray`), which cost
        # no function call, so that small tensors pay little beyond the forward itself
        for x in inputs:
            if type(x) is not Tensor and not isinstance(x, Tensor):
                inputs = tuple([x if isinstance(x, Tensor) else Tensor(x) for x in inputs])
                break
        arrays = [x.data for x in inputs]
        device_array = None  # the first array not on the host (a NumPy scalar, a promoted number, goes anywhere)
        for a in arrays:
            if type(a) is not numpy.ndarray and not isinstance(a, numpy.generic):
                device_array = a
                break
        if device_array is None:
            y = self.forward(*arrays)
        else:
            if len(arrays) > 1:
                _check_devices(self, arrays)
            with backend.on(device_array):  # CuPy allocates and launches on the current device: make it the inputs'
                y = self.forward(*arrays)
        if type(y) is not numpy.ndarray and isinstance(y, numpy.generic) and \
                not all([isinstance(a, numpy.generic) for a in arrays]):
            # NumPy turns 0-d results into scalars: keep every Tensor an ndarray (but an op on promoted Python numbers
            # alone stays a NumPy scalar, which goes with arrays on any device)
            scalar, y = y, numpy.asarray(y)
            self._saved = tuple([y if a is scalar else a for a in self._saved])
        if _Mode.grad_enabled:
            needs = tuple([x.requires_grad for x in inputs])
            if True in needs:
                return self._link(inputs, needs, y)
        self._saved = None
        out = Tensor(y)
        if type(y) is not numpy.ndarray:  # made from promoted Python numbers alone: stays a scalar (see above)
            out.data = y
        if self.is_view:
            self._view_of(inputs[0], out, y)
        return out

    def _link(self, inputs, needs, y):
        """Make the output a node of the graph: this Function is its creator, holding its inputs (or data-less edges
        to them), what they need, and the versions of what backward will read."""
        out = Tensor(y, True)
        out._ctx = self
        if self.is_view:
            self._view_of(inputs[0], out, y)
        if self.multilinear:  # (when every input needs a gradient, every input is read)
            self._versions = tuple([x._vc[0] for x in inputs]) if False not in needs else \
                tuple([x._vc[0] if True in needs[:i] + needs[i + 1:] else None for i, x in enumerate(inputs)])
        elif self.keeps_inputs or self.is_view:
            self._versions = tuple([x._vc[0] for x in inputs])
        generation = 0  # one more than the newest Function that made an input: the walk's order
        for x in inputs:
            if x._gen > generation:
                generation = x._gen
        self.generation, out._gen = generation, generation + 1
        if not self.keeps_inputs:
            inputs = tuple([x if x._ctx is None else edge(x) for x in inputs])
        for i, a in enumerate(self._saved):
            if a is y:
                self._out_saved = i
                self._out_vc, self._out_ver = out._vc, out._vc[0]
                if self._versions is None:
                    self._versions = ()
        self.inputs = inputs
        self.needs_input_grad = needs
        self._out = weakref.ref(out)
        return out

    def _view_of(self, x, out, y):
        """Let `out` share x's version counter when its array really is a view of x's memory."""
        if y.base is not None:
            out._vc = x._vc
        else:
            self.is_view = False

    def forward(self, *arrays):
        raise NotImplementedError

    def backward(self, gy):
        raise NotImplementedError

    def save_for_backward(self, *arrays):
        self._saved = arrays

    @property
    def output(self):
        return None if self._out is None else self._out()

    @property
    def saved_tensors(self):
        """The saved arrays as Tensors: an input or the output comes back as that very Tensor (so a backward that
        uses it is itself differentiable); anything else comes back as a constant."""
        if self._saved is None:
            raise RuntimeError(f"{type(self).__name__}: saved tensors were already freed by an earlier backward()")
        result = []
        for i, a in enumerate(self._saved):
            if i == self._out_saved:
                result.append(self._output_tensor(a))
                continue
            for x in self.inputs:
                if x.data is a:
                    result.append(x)
                    break
            else:
                result.append(Tensor(a))
        return tuple(result)

    def _output_tensor(self, y):
        """The output as a graph node: the live Tensor if someone still holds it, else the same node rebuilt from
        the saved array (so a backward that uses its output stays differentiable after the output was freed)."""
        out = self.output
        if out is not None:
            return out
        out = Tensor(y, True)
        out._ctx, out._gen = self, self.generation + 1
        return out

    def check_versions(self):
        """Refuse to run backward on saved values that were changed in place since the forward pass."""
        for i, (x, v) in enumerate(zip(self.inputs, self._versions)):
            if v is not None and x._vc[0] != v:
                raise _version_error(self, x.data, f"input {i}", x._vc[0], v)
        if self._out_vc is not None and self._out_vc[0] != self._out_ver:
            raise _version_error(self, self._saved[self._out_saved], "output 0", self._out_vc[0], self._out_ver)

    def release(self):
        """Drop references held for backward (PyTorch frees these buffers after a backward without retain_graph)."""
        self.inputs = None
        self._saved = None

    def input_grads(self, gy, retain_graph):
        """One step of the walk: run backward on the output's gradient `gy`; yield (input, its gradient) pairs."""
        if self.inputs is None:
            raise RuntimeError(
                f"Trying to backward through the graph a second time ({type(self).__name__} was already freed). "
                "Pass retain_graph=True to the first backward() if you need to walk it again.")
        if self._versions is not None:
            self.check_versions()
        inputs, gxs = self.inputs, self.backward(gy)
        if not retain_graph:
            self.release()
        return [(x, gx) for x, gx, need in zip(inputs, gxs if isinstance(gxs, tuple) else (gxs,),
                                               self.needs_input_grad) if need and gx is not None]


# ---- the backward walk ----

def walk(roots, grads, retain_graph=False):
    """Yield (tensor, its complete gradient) for every tensor the roots depend on that anyone still holds, in
    topological order: a tensor comes after every tensor computed from it, leaves last. Each gradient is the sum over
    all paths, so it is final when yielded. Runs each Function's backward once; frees it unless `retain_graph`."""
    heap, pending, leaves, tie = [], {}, {}, itertools.count()

    def send(t, g):  # add g to t's gradient: a leaf's is kept until the end, a non-leaf's waits with its Function
        fn = t._ctx
        if fn is None:
            leaves[t] = g if t not in leaves else formula(operator.add, leaves[t], g)
        elif fn in pending:
            pending[fn] = formula(operator.add, pending[fn], g)
        else:  # a Function's generation is one more than the newest that made an input: popping the newest first
            pending[fn] = g  # means every consumer of its output has already sent its share
            heapq.heappush(heap, (-fn.generation, next(tie), fn))

    for i, (t, g) in enumerate(zip(roots, grads)):
        send(t, _seed(t, g, i))
    while heap:
        fn = heapq.heappop(heap)[2]
        gy, out = pending.pop(fn), fn._out()  # (every Function in the graph has an output, maybe since freed)
        if out is not None and out._ctx is fn:  # still held, and not since rebased by an in-place op
            yield out, gy
        for x, gx in fn.input_grads(gy, retain_graph):
            send(x, gx)
    yield from leaves.items()


# ---- its two consumers ----

def _listed(tensors, grads, what):
    """The roots and their upstream gradients as two lists of one length (a lone Tensor is a list of one)."""
    tensors = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    grads = [None] * len(tensors) if grads is None else [grads] if isinstance(grads, Tensor) else list(grads)
    if len(grads) != len(tensors):
        raise ShapeError(f"{what}: got {len(tensors)} outputs but {len(grads)} gradients for them")
    return tensors, grads


def _on_device_of(roots):
    """Seeds and sums are made on the graph's device: CuPy allocates on the current one."""
    return backend.on(roots[0].data) if roots and isinstance(roots[0], Tensor) else backend._NULL


def _seed(t, g, i):
    """Check or make the upstream gradient of root tensor `t` (ones for a one-element root)."""
    if not isinstance(t, Tensor) or not t.requires_grad:
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


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate d(tensors)/d(leaf), contracted with `grad_tensors`, into `.grad` of every leaf that requires grad
    (only of `inputs`, when given), and of non-leaves marked with `retain_grad()`. As torch.autograd.backward."""
    only = None if inputs is None else {id(t) for t in ([inputs] if isinstance(inputs, Tensor) else inputs)}
    retain_graph = create_graph if retain_graph is None else retain_graph
    roots, grads = _listed(tensors, grad_tensors, "backward()")
    reached = set()
    with _on_device_of(roots), set_grad_enabled(create_graph):
        for t, g in walk(roots, grads, retain_graph):
            if t._ctx is not None:
                if t._retain or (only is not None and id(t) in only):
                    t.grad = g if t.grad is None else t.grad + g
            elif only is None or id(t) in only:
                reached.add(id(t))
                if create_graph:  # the gradient keeps its graph, to be differentiated again
                    t.grad = g if t.grad is None else t.grad + g
                else:
                    t.grad = Tensor(g.data if t.grad is None else t.grad.data + g.data)
    for hook in list(_post_backward_hooks.values()):
        hook(reached)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=False):
    """d(outputs)/d(inputs) contracted with `grad_outputs`, returned as a tuple (nothing is written to `.grad`).

    With `create_graph=True` the returned gradients carry a graph, so they can be differentiated again.
    """
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    for i, x in enumerate(inputs):
        if not isinstance(x, Tensor) or not x.requires_grad:
            raise RuntimeError(f"grad(): input {i} does not require grad")
    found = {id(x): None for x in inputs}
    roots, grads = _listed(outputs, grad_outputs, "grad()")
    with _on_device_of(roots), set_grad_enabled(create_graph):
        for t, g in walk(roots, grads, create_graph if retain_graph is None else retain_graph):
            if id(t) in found:
                found[id(t)] = g
    grads = tuple(found[id(x)] for x in inputs)
    for i, g in enumerate(grads):
        if g is None and not allow_unused:
            raise RuntimeError(f"grad(): input {i} (shape {inputs[i].shape}) was not used to compute the outputs; "
                               "pass allow_unused=True to get None for it")
    return grads


def _tensor_backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate d(self)/d(leaf) into `.grad` of every leaf that requires grad (see `autograd.backward`).

    `gradient` is the upstream dL/d(self); it may be left out only for a one-element tensor (then it is 1).
    """
    backward(self, gradient, retain_graph, create_graph, inputs)


Tensor.backward = _tensor_backward  # installed here, beside the engine, so that tensor.py needs nothing above it


# ---- hooks run after backward() ----

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
