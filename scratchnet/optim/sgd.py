"""SGD with momentum, dampening, Nesterov and weight decay; RMSprop."""
from .. import backend
from .optimizer import Optimizer, check_hyperparameters


class SGD(Optimizer):
    """g ← g + λp;  b ← μb + (1−τ)g (b = g at the first step);  g ← g + μb (Nesterov) or b;  p ← p − lr·g"""

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, maximize=False):
        check_hyperparameters("SGD", lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay)
        if lr < 0 or momentum < 0 or weight_decay < 0:
            raise ValueError(f"SGD: lr={lr}, momentum={momentum}, weight_decay={weight_decay} must be >= 0")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: Nesterov momentum needs momentum > 0 and dampening = 0")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov, maximize=maximize))

    def step(self, closure=None):
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            for p in self._with_grads(group):
                grad = p.grad.data if not group["maximize"] else -p.grad.data
                if group["weight_decay"]:
                    grad = grad + group["weight_decay"] * p.data
                if group["momentum"]:
                    st = self.state.setdefault(p, {})
                    buf = st.get("momentum_buffer")
                    if buf is None:
                        buf = st["momentum_buffer"] = grad.copy()
                    else:
                        buf *= group["momentum"]
                        buf += (1 - group["dampening"]) * grad
                    grad = grad + group["momentum"] * buf if group["nesterov"] else buf
                p.data -= group["lr"] * grad
        return loss


class RMSprop(Optimizer):
    """v ← αv + (1−α)g²;  a = sqrt(v − m²) (centered, m the mean of g) or sqrt(v), plus eps;
    b ← μb + g/a, p ← p − lr·b (momentum) or p ← p − lr·g/a"""

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                 maximize=False):
        check_hyperparameters("RMSprop", lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum)
        if lr < 0 or eps < 0 or not 0 <= alpha:
            raise ValueError(f"RMSprop: invalid lr={lr}, alpha={alpha} or eps={eps}")
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=centered, maximize=maximize))

    def step(self, closure=None):
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            for p in self._with_grads(group):
                xp = backend.get_array_module(p.data)
                grad = p.grad.data if not group["maximize"] else -p.grad.data
                if group["weight_decay"]:
                    grad = grad + group["weight_decay"] * p.data
                st = self.state.setdefault(p, {})
                if not st:
                    st["step"] = 0
                    st["square_avg"] = xp.zeros_like(p.data)
                    if group["momentum"] > 0:
                        st["momentum_buffer"] = xp.zeros_like(p.data)
                    if group["centered"]:
                        st["grad_avg"] = xp.zeros_like(p.data)
                st["step"] += 1
                sq = st["square_avg"]
                sq *= group["alpha"]
                sq += (1 - group["alpha"]) * grad * grad
                if group["centered"]:
                    ga = st["grad_avg"]
                    ga += (1 - group["alpha"]) * (grad - ga)
                    avg = xp.sqrt(sq - ga * ga) + group["eps"]
                else:
                    avg = xp.sqrt(sq) + group["eps"]
                if group["momentum"] > 0:
                    buf = st["momentum_buffer"]
                    buf *= group["momentum"]
                    buf += grad / avg
                    p.data -= group["lr"] * buf
                else:
                    p.data -= group["lr"] * (grad / avg)
        return loss
