"""Flat optimizer state for the GPU: every parameter's state array is a view of one buffer per state name, so an
update runs as a few whole-group kernels (kernel launches, not bytes, bound a small model's step on a GPU).

On the CPU the per-parameter loop stays (it is cache friendly and needs no concatenation). The views are what
`state` holds, so state_dict/load_state_dict see ordinary per-parameter arrays; a loaded state (new arrays) is
gathered into new buffers at the next step.
"""
import numpy

from .. import backend

NAMES = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")


def usable(opt, params):
    """The flat path applies: device arrays, one dtype, contiguous parameters, all at the same step count."""
    if not params or type(params[0].data) is numpy.ndarray or not backend._is_cupy_array(params[0].data):
        return False
    dt, dev = params[0].dtype, params[0].device
    for p in params:
        flags = getattr(p.data, "flags", None)
        if p.dtype != dt or p.device != dev or flags is None or not flags.c_contiguous:
            return False
    steps = {opt.state.get(p, {}).get("step", 0) for p in params}
    return len(steps) == 1


def buffers(opt, group, params):
    """{name: flat buffer, 'spans': [(start, stop)]} for the group, (re)built when the parameters or their state
    arrays are not the views made last time. New state starts at zero, as Adam's does."""
    xp = backend.get_array_module(params[0].data)
    names = NAMES if group["amsgrad"] else NAMES[:2]
    cache = getattr(opt, "_flat_buffers", None)
    if cache is None:
        cache = opt._flat_buffers = {}
    key = id(group)
    buf = cache.get(key)
    if buf is not None and buf["params"] == [id(p) for p in params] and all(
            opt.state.get(p, {}).get(n) is view for p, views in zip(params, buf["views"]) for n, view in views.items()):
        return buf
    spans, start = [], 0
    for p in params:
        spans.append((start, start + p.data.size))
        start += p.data.size
    buf = {"params": [id(p) for p in params], "spans": spans, "views": []}
    for n in names:
        parts = [opt.state[p][n].reshape(-1) if n in opt.state.get(p, {}) else xp.zeros(p.data.size, p.dtype)
                 for p in params]
        buf[n] = xp.concatenate(parts) if len(parts) > 1 else parts[0].copy()
    for p, (a, b) in zip(params, spans):
        st = opt.state.setdefault(p, {})
        st.setdefault("step", 0)
        views = {n: buf[n][a:b].reshape(p.shape) for n in names}
        st.update(views)
        buf["views"].append(views)
    cache[key] = buf
    return buf
