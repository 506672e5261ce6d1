"""Adam and AdamW (bias correction, weight decay, AMSGrad)."""
import math

import numpy

from .. import backend
from . import _flat
from .optimizer import Optimizer, check_hyperparameters


# Elements per block of the CPU update: a block's five arrays (weights, gradient, two moments, scratch) stay in
# L2 cache across the update's ten passes, where whole 2M-weight arrays would stream from memory for each one.
BLOCK = 1 << 14


def _update(xp, p, grad, m, v, vmax, b1, b2, step_size, bc2_sqrt, eps):
    """Adam's update of one block, in place: the arithmetic, in the same order, of
        m += (1 − β₁)(g − m);  v = β₂v + (1 − β₂)g·g;  p −= step_size · (m / (sqrt(v)/bc₂ + eps))
    through one scratch array (a temporary per expression would be an allocation and a memory pass each)."""
    tmp = xp.subtract(grad, m)
    tmp *= 1 - b1
    m += tmp
    v *= b2
    xp.multiply(grad, 1 - b2, out=tmp)
    tmp *= grad
    v += tmp
    if vmax is not None:   # AMSGrad: the running maximum of v in its place
        xp.maximum(vmax, v, out=vmax)
        v = vmax
    xp.sqrt(v, out=tmp)
    tmp /= bc2_sqrt
    tmp += eps
    xp.divide(m, tmp, out=tmp)
    tmp *= step_size
    p -= tmp


def _in_blocks(xp, arrays, fn):
    """fn(*arrays) over cache-sized blocks of their flat views, the blocks split over the CPU threads; on a GPU, or
    where an array is not contiguous (no flat view to write through), on the whole arrays at once."""
    flat = [a.reshape(-1) if a is not None else None for a in arrays]
    n = flat[0].size
    if xp is not numpy or n <= BLOCK or any(a is not None and not a.flags.c_contiguous for a in arrays):
        fn(*arrays)
        return

    def body(lo, hi):
        for a in range(lo, hi, BLOCK):
            fn(*(f[a:min(hi, a + BLOCK)] if f is not None else None for f in flat))
    backend.over_batch(xp, n, body, min_items=4 * BLOCK)


class Adam(Optimizer):
    """m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;  p ← p − (lr/(1−β₁ᵗ)) · m / (sqrt(v)/sqrt(1−β₂ᵗ) + eps)
    (with AMSGrad, v is replaced by its running maximum). Adam adds λp to g; AdamW instead shrinks p by lr·λ."""

    decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False,
                 maximize=False):
        check_hyperparameters(type(self).__name__, lr=lr, eps=eps, weight_decay=weight_decay)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"{type(self).__name__}: betas must be a pair (beta1, beta2), got {betas!r}")
        check_hyperparameters(type(self).__name__, beta1=betas[0], beta2=betas[1])
        if lr < 0 or eps < 0 or weight_decay < 0:
            raise ValueError(f"{type(self).__name__}: lr={lr}, eps={eps}, weight_decay={weight_decay} must be >= 0")
        if not (0 <= betas[0] < 1 and 0 <= betas[1] < 1):
            raise ValueError(f"{type(self).__name__}: betas must be in [0, 1), got {betas}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                                      maximize=maximize))

    def step(self, closure=None):
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            b1, b2 = group["betas"]
            params = self._with_grads(group)
            if _flat.usable(self, params):
                self._flat_step(group, params)
                continue
            for p in params:
                xp = backend.get_array_module(p.data)
                grad = p.grad.data if not group["maximize"] else -p.grad.data
                if group["weight_decay"]:
                    if self.decoupled:
                        p.data *= 1 - group["lr"] * group["weight_decay"]
                    else:
                        grad = grad + group["weight_decay"] * p.data
                st = self.state.setdefault(p, {})
                if not st:
                    st["step"] = 0
                    st["exp_avg"] = xp.zeros_like(p.data)
                    st["exp_avg_sq"] = xp.zeros_like(p.data)
                    if group["amsgrad"]:
                        st["max_exp_avg_sq"] = xp.zeros_like(p.data)
                st["step"] += 1
                step_size = group["lr"] / (1 - b1 ** st["step"])
                bc2_sqrt = math.sqrt(1 - b2 ** st["step"])
                arrays = (p.data, grad, st["exp_avg"], st["exp_avg_sq"], st.get("max_exp_avg_sq"))
                _in_blocks(xp, arrays, lambda *a: _update(xp, *a, b1, b2, step_size, bc2_sqrt, group["eps"]))
        return loss

    def _flat_step(self, group, params):
        """The same update on a GPU, for the whole group at once: the state of all parameters lives in one flat
        buffer (each parameter's state a view of it), so a step is ~12 whole-group kernels plus one subtraction
        per parameter instead of ~13 kernels per parameter. The arithmetic is the per-parameter loop's, in the same
        order, so both give the same numbers."""
        b1, b2 = group["betas"]
        xp, buf = backend.get_array_module(params[0].data), _flat.buffers(self, group, params)
        grad = xp.concatenate([p.grad.data.reshape(-1) for p in params])
        if group["maximize"]:
            grad = -grad
        if group["weight_decay"]:
            if self.decoupled:
                for p in params:
                    p.data *= 1 - group["lr"] * group["weight_decay"]
            else:
                grad = grad + group["weight_decay"] * xp.concatenate([p.data.reshape(-1) for p in params])
        for p in params:
            self.state[p]["step"] += 1
        t = self.state[params[0]]["step"]
        m, v = buf["exp_avg"], buf["exp_avg_sq"]
        m += (1 - b1) * (grad - m)
        v *= b2
        v += (1 - b2) * grad * grad
        step_size = group["lr"] / (1 - b1 ** t)
        bc2_sqrt = math.sqrt(1 - b2 ** t)
        if group["amsgrad"]:
            xp.maximum(buf["max_exp_avg_sq"], v, out=buf["max_exp_avg_sq"])
            v = buf["max_exp_avg_sq"]
        update = step_size * (m / (xp.sqrt(v) / bc2_sqrt + group["eps"]))
        for p, (a, b) in zip(params, buf["spans"]):
            p.data -= update[a:b].reshape(p.shape)


class AdamW(Adam):
    decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False,
                 maximize=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize)
