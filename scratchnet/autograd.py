"""Function, the node of the graph (forward on raw arrays, backward on Tensors), and `grad()` like torch.autograd.

Because `backward` is written with Tensor ops, running it with graph recording on (`create_graph=True`) records the
gradient computation itself: that is all double backprop needs.
"""
import weakref

import numpy

from . import backend
from .errors import ShapeError
from .tensor import (Tensor, _Mode, edge, run_backward, no_grad, enable_grad, set_grad_enabled,  # noqa: F401
                     is_grad_enabled)


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
    holds data-less edges to its non-leaf inputs, so their arrays are freed as early as PyTorch frees them.
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
        inputs = tuple(x if isinstance(x, Tensor) else Tensor(x) for x in inputs)
        arrays = [x.data for x in inputs]
        if len(arrays) > 1:
            kinds = {type(a) for a in arrays}
            if kinds != {numpy.ndarray}:
                _check_devices(self, arrays)
        dev_array = next((a for a in arrays if type(a) is not numpy.ndarray and not isinstance(a, numpy.generic)),
                         None)
        if dev_array is None:
            y = self.forward(*arrays)
        else:
            with backend.on(dev_array):  # CuPy allocates and launches on the current device: make it the inputs'
                y = self.forward(*arrays)
        if isinstance(y, numpy.generic) and not all(isinstance(a, numpy.generic) for a in arrays):
            # NumPy turns 0-d results into scalars: keep every Tensor an ndarray (but an op on promoted Python numbers
            # alone stays a NumPy scalar, which goes with arrays on any device)
            scalar, y = y, numpy.asarray(y)
            self._saved = tuple(y if a is scalar else a for a in self._saved)
        if _Mode.grad_enabled:
            needs = tuple(x.requires_grad for x in inputs)
            if True in needs:
                out = Tensor(y, True)
                out._ctx = self
                if self.is_view:
                    self._view_of(inputs[0], out, y)
                if self.multilinear:
                    self._versions = tuple(x._vc[0] if True in needs[:i] + needs[i + 1:] else None
                                           for i, x in enumerate(inputs))
                elif self.keeps_inputs or self.is_view:
                    self._versions = tuple([x._vc[0] for x in inputs])
                self.generation = max(x._gen for x in inputs)
                out._gen = self.generation + 1
                if not self.keeps_inputs:
                    inputs = tuple(x if x._ctx is None else edge(x) for x in inputs)
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
        self._saved = None
        out = Tensor(y)
        if isinstance(y, numpy.generic):  # made from promoted Python numbers alone: stays a scalar (see above)
            out.data = y
        if self.is_view:
            self._view_of(inputs[0], out, y)
        return out

    def _view_of(self, x, out, y):
        """Let `out` share x's version counter when its array really is a view of x's memory."""
        if y.base is not None:
            out._vc = x._vc
        else:
            self.is_view = False

    def check_versions(self):
        """Refuse to run backward on saved values that were changed in place since the forward pass."""
        for i, (x, v) in enumerate(zip(self.inputs, self._versions)):
            if v is not None and x._vc[0] != v:
                raise _version_error(self, x.data, f"input {i}", x._vc[0], v)
        if self._out_vc is not None and self._out_vc[0] != self._out_ver:
            raise _version_error(self, self._saved[self._out_saved], "output 0", self._out_vc[0], self._out_ver)

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

    def release(self):
        """Drop references held for backward (PyTorch frees these buffers after a backward without retain_graph)."""
        self.inputs = None
        self._saved = None


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=False):
    """d(outputs)/d(inputs) contracted with `grad_outputs`, returned as a tuple (nothing is written to `.grad`).

    With `create_graph=True` the returned gradients carry a graph, so they can be differentiated again.
    """
    single = isinstance(outputs, Tensor)
    outputs = [outputs] if single else list(outputs)
    inputs_seq = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs]
    if len(grad_outputs) != len(outputs):
        raise ShapeError(f"grad(): got {len(outputs)} outputs but {len(grad_outputs)} grad_outputs")
    for i, x in enumerate(inputs_seq):
        if not isinstance(x, Tensor) or not x.requires_grad:
            raise RuntimeError(f"grad(): input {i} does not require grad")
    if retain_graph is None:
        retain_graph = create_graph
    grads = run_backward(outputs, grad_outputs, retain_graph=retain_graph, create_graph=create_graph,
                         capture=inputs_seq)
    for i, g in enumerate(grads):
        if g is None and not allow_unused:
            raise RuntimeError(f"grad(): input {i} (shape {inputs_seq[i].shape}) was not used to compute the outputs; "
                               "pass allow_unused=True to get None for it")
    return tuple(grads)
