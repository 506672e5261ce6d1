"""Optimizer base: parameter groups, per-parameter state, and state_dict keyed by parameter index (so it saves).

Updates run on the raw arrays (p.data) with the array module of each parameter: no graph is ever recorded.
"""
import copy
import functools
import math
import numbers
import warnings

import numpy

from .. import backend
from ..errors import ShapeError
from ..tensor import Tensor


def check_hyperparameters(owner, **values):
    """Each value a real number (not a bool or a string) and finite: TypeError / ValueError naming it otherwise."""
    for name, v in values.items():
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            raise TypeError(f"{owner}: {name} must be a number, got {type(v).__name__} {v!r}")
        if not math.isfinite(v):
            raise ValueError(f"{owner}: {name} must be a finite number, got {v}")


class Optimizer:
    _per_param_state = True  # state arrays have their parameter's shape (LBFGS keeps flat vectors instead)

    def __init_subclass__(cls, **kwargs):
        """Every subclass's step() bumps the version counter of each parameter it updated, as PyTorch's in-place
        updates do: a graph built before the step and walked after it raises instead of using the new values. It
        also runs with its parameters' device current (CuPy allocates and launches on the current device)."""
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("step")
        if step is None or getattr(step, "_bumps_versions", False):
            return

        @functools.wraps(step)
        def counted_step(self, *args, **kw):
            with backend.on(self.param_groups[0]["params"][0].data):
                result = step(self, *args, **kw)
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        p._vc[0] += 1
            return result
        counted_step._bumps_versions = True
        cls.step = counted_step

    def __init__(self, params, defaults):
        if isinstance(params, Tensor):
            raise TypeError("params must be an iterable of Tensors or of dicts, not a single Tensor")
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        self.defaults = dict(defaults)
        self.param_groups = []
        self.state = {}
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group):
        group = dict(group)
        group["params"] = [group["params"]] if isinstance(group["params"], Tensor) else list(group["params"])
        for i, p in enumerate(group["params"]):
            if not isinstance(p, Tensor):
                raise TypeError(f"{type(self).__name__}: parameter {i} is a {type(p).__name__}, not a Tensor")
            if p.dtype.kind != "f":
                raise TypeError(f"{type(self).__name__}: parameter {i} has dtype {p.dtype}; only floating point "
                                "tensors can be optimized")
        owner = type(self).__name__
        if len({id(p) for p in group["params"]}) != len(group["params"]):
            warnings.warn(f"{owner}: a parameter group holds the same parameter more than once", stacklevel=3)
        ids = {id(p) for group in self.param_groups for p in group["params"]}
        if any(id(p) in ids for p in group["params"]):
            raise ValueError(f"{owner}: some parameters appear in more than one parameter group")
        for k, v in self.defaults.items():
            group.setdefault(k, v)
            if isinstance(v, numbers.Real) and not isinstance(v, bool) and k != "params":
                check_hyperparameters(owner, **{k: group[k]})
        self.param_groups.append(group)

    def _with_grads(self, group):
        """The group's parameters that take part in this step: frozen ones (requires_grad=False) and those without a
        gradient are skipped, as in PyTorch."""
        return [p for p in group["params"] if p.requires_grad and p.grad is not None]

    def zero_grad(self, set_to_none=True):
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none or p.grad is None:
                    p.grad = None
                else:
                    p.grad.data[...] = 0

    def step(self, closure=None):
        raise NotImplementedError

    # ---- saving ----
    def _index(self):
        return {id(p): i for i, p in enumerate(p for group in self.param_groups for p in group["params"])}

    @staticmethod
    @backend.follows_device
    def _copy(v):
        return v.copy()

    def state_dict(self):
        """{'state': {index: {name: array or number}}, 'param_groups': [{hyper-parameters, 'params': [index]}]}"""
        index = self._index()
        params = {id(p): p for group in self.param_groups for p in group["params"]}
        state = {index[pid]: {k: (self._copy(v) if hasattr(v, "shape") else copy.deepcopy(v)) for k, v in s.items()}
                 for pid, s in ((id(p), s) for p, s in self.state.items()) if pid in params}
        groups = [{**{k: v for k, v in group.items() if k != "params"},
                   "params": [index[id(p)] for p in group["params"]]} for group in self.param_groups]
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore hyper-parameters and per-parameter state. Everything (structure, indices, types, shapes) is
        checked and converted first: a refused state leaves the optimizer exactly as it was."""
        name = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, dict) or not {"state", "param_groups"} <= set(state_dict):
            raise ShapeError(f"{name}: expected a dict with 'state' and 'param_groups', got "
                             f"{sorted(state_dict) if isinstance(state_dict, dict) else type(state_dict).__name__}")
        groups, states = state_dict["param_groups"], state_dict["state"]
        if not isinstance(groups, (list, tuple)) or not isinstance(states, dict):
            raise ShapeError(f"{name}: 'param_groups' must be a list and 'state' a dict")
        if len(groups) != len(self.param_groups):
            raise ShapeError(f"{name}: loaded state dict has a different number of parameter groups "
                             f"({len(groups)}) than the optimizer ({len(self.param_groups)})")
        by_index, new_groups = {}, []
        for i, (saved, own) in enumerate(zip(groups, self.param_groups)):
            if not isinstance(saved, dict) or "params" not in saved:
                raise ShapeError(f"{name}: parameter group {i} is not a dict with 'params'")
            if len(saved["params"]) != len(own["params"]):
                raise ShapeError(f"{name}: loaded state dict contains a parameter group {i} that doesn't match the "
                                 f"size of optimizer's group ({len(saved['params'])} parameters in the state, "
                                 f"{len(own['params'])} in the optimizer)")
            by_index.update(zip((int(k) for k in saved["params"]), own["params"]))
            new_groups.append({**own, **{k: v for k, v in saved.items() if k != "params"}})
        new_state = {}
        for idx, s in states.items():
            try:
                p = by_index[int(idx)]
            except (KeyError, TypeError, ValueError):
                raise ShapeError(f"{name}: state for parameter index {idx!r}, which no parameter group lists "
                                 f"(indices {sorted(by_index)})") from None
            if not isinstance(s, dict):
                raise ShapeError(f"{name}: state of parameter {idx} must be a dict, got {type(s).__name__}")
            new_state[p] = {k: self._loaded_value(name, idx, k, v, p) for k, v in s.items()}
        for own, new in zip(self.param_groups, new_groups):  # all checked: now nothing can fail half-way
            own.update(new)
        self.state = new_state

    def _loaded_value(self, name, idx, k, v, p):
        v = v.data if isinstance(v, Tensor) else v
        if isinstance(v, list):
            return [self._loaded_value(name, idx, k, a, p) if hasattr(a, "shape") else a for a in v]
        if not hasattr(v, "shape"):
            if isinstance(v, (bool, int, float, numpy.number)) or v is None:
                return v
            raise ShapeError(f"{name}: state '{k}' of parameter {idx} is a {type(v).__name__}, expected an array "
                             "or a number")
        if getattr(v, "dtype", numpy.dtype(object)).kind not in "biuf":
            raise ShapeError(f"{name}: state '{k}' of parameter {idx} has dtype {v.dtype}, expected a real number type")
        if v.ndim == 0:
            return v.item()
        if self._per_param_state and tuple(v.shape) != p.shape:
            raise ShapeError(f"{name}: state '{k}' of parameter {idx} has shape {tuple(v.shape)}, the parameter "
                             f"{p.shape}")
        with backend.using(p.device):
            return backend.to_device(v, p.device).astype(p.dtype, copy=True)


def clip_grad_norm_(parameters, max_norm, norm_type=2.0):
    """Scale all gradients by min(1, max_norm / (‖g‖ + 1e-6)), ‖g‖ the norm of all of them together.
    Returns the total norm (before clipping) as a tensor."""
    params = [p for p in ([parameters] if isinstance(parameters, Tensor) else parameters) if p.grad is not None]
    if not params:
        return Tensor(backend.xp_for("cpu").zeros(()))
    xp = backend.get_array_module(params[0].grad.data)
    with backend.on(params[0].grad.data):
        # on the device throughout: the norm and the factor stay device scalars, so clipping never syncs
        if norm_type == float("inf"):
            total = xp.max(xp.stack([xp.abs(p.grad.data).max().astype(xp.float64) for p in params]))
        else:
            total = sum((xp.abs(p.grad.data.astype(xp.float64)) ** norm_type).sum() for p in params) \
                ** (1.0 / norm_type)
        coef = xp.minimum(max_norm / (total + 1e-6), 1.0)
        for p in params:
            p.grad.data *= coef.astype(p.grad.data.dtype)
        return Tensor(xp.asarray(total))
