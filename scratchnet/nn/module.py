"""Module and Parameter: the containers that hold a model's weights, buffers and sub-modules, as in torch.nn."""
from collections import OrderedDict

import numpy

from .. import backend
from ..ops.methods import _dtype_argument
from ..tensor import Tensor


class Parameter(Tensor):
    """A Tensor that a Module registers as a weight: requires_grad by default, listed by parameters()."""

    __slots__ = ()

    def __init__(self, data, requires_grad=True):
        data = data.data if isinstance(data, Tensor) else data
        super().__init__(data, requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


def _checked_value(key, value, target):
    """(value converted to target's dtype and device, None) or (None, what is wrong with it)."""
    src = value.data if isinstance(value, Tensor) else value
    if isinstance(src, (str, bytes, dict)) or src is None:
        return None, (f"While copying the parameter named \"{key}\", expected a tensor or array from the checkpoint "
                      f"but received {type(value).__name__}")
    try:
        host = backend.to_numpy(src) if backend.get_array_module(target.data) is numpy else src
        if not hasattr(host, "dtype"):
            host = numpy.asarray(host)
    except Exception as e:  # a ragged list, an object that is not array-like
        return None, f"While copying the parameter named \"{key}\": not an array ({e})"
    if host.dtype.kind not in "biufc" or (host.dtype.kind == "c" and target.dtype.kind != "c"):
        return None, (f"While copying the parameter named \"{key}\", whose dtype in the model is {target.dtype}, "
                      f"the checkpoint holds dtype {host.dtype}")
    if tuple(host.shape) != target.shape:
        return None, (f"size mismatch for {key}: copying a param with shape {tuple(host.shape)} from the "
                      f"checkpoint, the shape in the current model is {target.shape}")
    if backend.get_array_module(target.data) is not numpy:
        host = backend.to_device(host, target.device)
    with backend.using(target.device):
        return host.astype(target.dtype, copy=True), None


class Module:
    """Base class of every layer and model. Assigning a Parameter, Module or (via register_buffer) buffer as an
    attribute registers it, which is what parameters(), state_dict() and to() walk."""

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # ---- registration ----
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before assigning attributes")
        for d in (self._parameters, self._buffers, self._modules):
            d.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        elif name in self.__dict__.get("_buffer_names", ()):
            self._buffers[name] = value
        else:
            object.__setattr__(self, name, value)
            return
        self.__dict__.pop(name, None)

    def __getattr__(self, name):
        for d in ("_parameters", "_buffers", "_modules"):
            table = self.__dict__.get(d)
            if table is not None and name in table:
                return table[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for d in (self._parameters, self._buffers, self._modules):
            if name in d:
                del d[name]
                return
        object.__delattr__(self, name)

    def register_buffer(self, name, tensor, persistent=True):
        """A tensor that is state but not a parameter (running statistics): saved, moved by to(), never trained."""
        self.__dict__.setdefault("_buffer_names", set()).add(name)
        if not persistent:
            self.__dict__.setdefault("_non_persistent", set()).add(name)
        self._buffers[name] = tensor

    def register_parameter(self, name, param):
        if param is None:
            self._parameters[name] = None
        else:
            self.__setattr__(name, param)

    def add_module(self, name, module):
        self._modules[name] = module

    # ---- calling ----
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args, **kwargs):
        data = getattr(args[0], "data", None) if args else None
        if data is None or type(data) is numpy.ndarray:
            return self.forward(*args, **kwargs)
        with backend.on(data):  # buffers updated in forward (batch-norm statistics) live on the input's device
            return self.forward(*args, **kwargs)

    # ---- walking ----
    def named_modules(self, prefix=""):
        yield prefix, self
        for name, m in self._modules.items():
            if m is not None:
                yield from m.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self):
        return (m for _, m in self.named_modules())

    def named_children(self):
        return ((n, m) for n, m in self._modules.items() if m is not None)

    def children(self):
        return (m for _, m in self.named_children())

    def named_parameters(self, prefix="", recurse=True):
        seen = set()
        mods = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mp, m in mods:
            for n, p in m._parameters.items():
                if p is not None and id(p) not in seen:
                    seen.add(id(p))
                    yield (f"{mp}.{n}" if mp else n), p

    def parameters(self, recurse=True):
        return (p for _, p in self.named_parameters(recurse=recurse))

    def named_buffers(self, prefix=""):
        for mp, m in self.named_modules(prefix):
            for n, b in m._buffers.items():
                if b is not None:
                    yield (f"{mp}.{n}" if mp else n), b

    def buffers(self):
        return (b for _, b in self.named_buffers())

    # ---- modes and devices ----
    def train(self, mode=True):
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self):
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                with backend.on(p.grad.data):
                    p.grad.data[...] = 0

    def _apply(self, fn):
        for m in self.modules():
            for table in (m._parameters, m._buffers):
                for k, t in table.items():
                    if t is not None:
                        with backend.on(t.data):
                            t.data = fn(t.data)
                            if t.grad is not None:
                                t.grad = Tensor(fn(t.grad.data))
        return self

    def to(self, device=None, dtype=None):
        """Move (in place, like PyTorch) every parameter and buffer to a device and/or floating dtype."""
        if isinstance(device, (str, backend.Device)) and str(device).split(":")[0] not in ("cpu", "cuda"):
            device, dtype = None, device
        if device is not None:
            dev = backend.device(device)
            self._apply(lambda a: backend.to_device(a, dev))
        if dtype is not None:
            dt = _dtype_argument(dtype)
            self._apply(lambda a: a.astype(dt) if a.dtype.kind == "f" else a)
        return self

    def cpu(self):
        return self.to("cpu")

    def cuda(self, index=None):
        return self.to("cuda" if index is None else f"cuda:{index}")

    def float(self):
        return self.to(dtype=numpy.float32)

    def double(self):
        return self.to(dtype=numpy.float64)

    # ---- state ----
    def state_dict(self):
        """Name -> Tensor for every parameter and persistent buffer (detached; shares memory with the model), in
        PyTorch's order: module by module, each module's parameters and then its buffers."""
        out = OrderedDict()
        for mp, m in self.named_modules():
            skip = m.__dict__.get("_non_persistent", set())
            entries = list(m._parameters.items()) + [(n, b) for n, b in m._buffers.items() if n not in skip]
            for n, t in entries:
                if t is not None:
                    out[f"{mp}.{n}" if mp else n] = t.detach()
        return out

    def load_state_dict(self, state_dict, strict=True):
        """Copy arrays into the model's parameters/buffers. Shapes must match; with strict=True the key sets must
        match too. Nothing is changed unless everything checks out. Returns (missing_keys, unexpected_keys)."""
        if not hasattr(state_dict, "items"):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict).__name__}.")
        own = self.state_dict()
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        problems, ready = [], []
        for k, v in state_dict.items():
            if k in own:
                array, problem = _checked_value(k, v, own[k])
                if problem:
                    problems.append(problem)
                else:
                    ready.append((own[k], array))
        if strict and (missing or unexpected):
            if missing:
                problems.append("Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing))
            if unexpected:
                problems.append("Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected))
        if problems:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t" + "\n\t".join(problems))
        for target, array in ready:  # everything checked and converted: now nothing can fail half-way
            with backend.on(target.data):
                target.data[...] = array
            target._vc[0] += 1
        return missing, unexpected

    # ---- printing ----
    def extra_repr(self):
        return ""

    def __repr__(self):
        lines = [f"({n}): " + repr(m).replace("\n", "\n  ") for n, m in self._modules.items()]
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not lines:
            return head + ")"
        return head + "\n  " + "\n  ".join(lines) + "\n)"
