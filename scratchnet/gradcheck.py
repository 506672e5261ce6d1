"""Finite-difference gradient checking, as a product feature: `gradcheck` (first order) and `gradgradcheck` (second).

The check contracts the outputs with a random upstream gradient v, so one scalar L = Σ v·f(x) covers every output:
analytic dL/dx comes from backward, numeric dL/dx_i = (L(x + εe_i) − L(x − εe_i)) / 2ε, all in float64.
"""
import numpy

from . import backend
from .autograd import grad
from .tensor import Tensor, enable_grad


class GradcheckError(AssertionError):
    """Analytic and numeric gradients disagree; the message names the input, element and both values."""


def _as_list(x):
    return list(x) if isinstance(x, (tuple, list)) else [x]


def _prepare(inputs):
    """float64 leaf copies of the float inputs that take part (those with requires_grad, or all float ones)."""
    inputs = _as_list(inputs)
    chosen = [isinstance(x, Tensor) and x.requires_grad for x in inputs]
    if not any(chosen):
        chosen = [isinstance(x, Tensor) and x.dtype.kind == "f" for x in inputs]
    out = []
    for x, c in zip(inputs, chosen):
        if c:
            with backend.on(x.data):
                x = Tensor(x.data.astype(numpy.float64, order="C", copy=True), True)  # C order: perturbed in place
        out.append(x)
    return out, [i for i, c in enumerate(chosen) if c]


def _outputs(fn, xs):
    outs = [o for o in _as_list(fn(*xs)) if isinstance(o, Tensor) and o.dtype.kind == "f"]
    if not outs:
        raise GradcheckError("gradcheck: the function returned no floating-point tensor")
    return outs


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, seed=0, max_elements=400, raise_exception=True):
    """Check fn's backward against central differences. Returns True, or raises GradcheckError.

    Inputs with more than `max_elements` entries are checked on a random sample of entries plus two random
    directions u (comparing ∇L·u with (L(x + εu) − L(x − εu)) / 2ε), which keeps large checks affordable.
    """
    first = next((x.data for x in _as_list(inputs) if isinstance(x, Tensor)), None)
    with backend.on(first) if first is not None else backend._NULL:  # probes are made on the inputs' device
        return _gradcheck(fn, inputs, eps, atol, rtol, seed, max_elements, raise_exception)


def _gradcheck(fn, inputs, eps, atol, rtol, seed, max_elements, raise_exception):
    xs, which = _prepare(inputs)
    rng = numpy.random.default_rng(seed)
    outs = _outputs(fn, xs)
    xp = backend.get_array_module(outs[0].data)
    vs = [xp.asarray(rng.standard_normal(o.shape)) for o in outs]
    analytic = grad(outs, [xs[i] for i in which], [Tensor(v.astype(o.dtype)) for v, o in zip(vs, outs)],
                    allow_unused=True)

    def loss():  # graph recording stays on: fn may itself differentiate (a gradient penalty, gradgradcheck)
        return float(sum(float((o.data.astype(numpy.float64) * v).sum()) for o, v in zip(_outputs(fn, xs), vs)))

    for k, i in enumerate(which):
        x = xs[i]
        a = numpy.zeros(x.shape) if analytic[k] is None else backend.to_numpy(analytic[k].data).astype(numpy.float64)
        flat = x.data.reshape(-1)
        n = flat.size
        picks = range(n) if n <= max_elements else rng.choice(n, max_elements, replace=False)
        for j in picks:
            old = float(flat[j])
            flat[j] = old + eps
            up = loss()
            flat[j] = old - eps
            down = loss()
            flat[j] = old
            num = (up - down) / (2 * eps)
            ana = float(a.reshape(-1)[j])
            if not abs(ana - num) <= atol + rtol * abs(num):
                if not raise_exception:
                    return False
                where = tuple(int(k) for k in numpy.unravel_index(j, x.shape))  # (0, 1), not (np.int64(0), ...)
                raise GradcheckError(
                    f"gradcheck: input {i} (shape {x.shape}) element {where}: "
                    f"analytic {ana:.10g} vs numeric {num:.10g} (|diff| {abs(ana - num):.3g})")
        if n > max_elements:
            for _ in range(2):
                u = rng.standard_normal(x.shape)
                base = x.data.copy()
                x.data[...] = base + eps * xp.asarray(u)
                up = loss()
                x.data[...] = base - eps * xp.asarray(u)
                down = loss()
                x.data[...] = base
                num, ana = (up - down) / (2 * eps), float((a * u).sum())
                if not abs(ana - num) <= atol * numpy.sqrt(n) + rtol * abs(num):
                    if not raise_exception:
                        return False
                    raise GradcheckError(f"gradcheck: input {i} (shape {x.shape}), random direction: "
                                         f"analytic {ana:.10g} vs numeric {num:.10g}")
    return True


def gradgradcheck(fn, inputs, grad_outputs=None, eps=1e-6, atol=1e-5, rtol=1e-3, seed=0, **kw):
    """Check second derivatives: gradcheck of (x, v) -> d(v·fn(x))/dx, whose backward is double backprop."""
    first = next((x.data for x in _as_list(inputs) if isinstance(x, Tensor)), None)
    with backend.on(first) if first is not None else backend._NULL:  # probes are made on the inputs' device
        return _gradgradcheck(fn, inputs, grad_outputs, eps, atol, rtol, seed, **kw)


def _gradgradcheck(fn, inputs, grad_outputs, eps, atol, rtol, seed, **kw):
    xs, which = _prepare(inputs)
    rng = numpy.random.default_rng(seed + 1)
    outs = _outputs(fn, xs)
    xp = backend.get_array_module(outs[0].data)
    if grad_outputs is None:
        vs = [Tensor(xp.asarray(rng.standard_normal(o.shape)), True) for o in outs]
    else:
        vs = [Tensor(backend.to_device(g.data if isinstance(g, Tensor) else g, o.device).astype(numpy.float64), True)
              for g, o in zip(_as_list(grad_outputs), outs)]
    n_in = len(xs)

    def first_grads(*args):
        ins, v = list(args[:n_in]), list(args[n_in:])
        with enable_grad():  # fn's first-order graph must be recorded even if the caller turned recording off
            gs = grad(_outputs(fn, ins), [ins[i] for i in which], v, create_graph=True, allow_unused=True)
            return [g for g in gs if g is not None]

    return gradcheck(first_grads, xs + vs, eps=eps, atol=atol, rtol=rtol, seed=seed, **kw)
