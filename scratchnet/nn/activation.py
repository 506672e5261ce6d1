"""Activation modules for the activations of ops/activation_more.py (PyTorch's names and arguments; no parameters),
and PReLU, whose negative slope is learned."""
from . import functional as F
from .layers import _activation
from .module import Module, Parameter

SiLU = _activation("SiLU", lambda x: F.silu(x), "y = x·σ(x)")
ELU = _activation("ELU", lambda x, alpha: F.elu(x, alpha), "y = x if x > 0 else α(eˣ − 1)", alpha=1.0)
CELU = _activation("CELU", lambda x, alpha: F.celu(x, alpha), "y = max(0, x) + min(0, α(e^(x/α) − 1))", alpha=1.0)
SELU = _activation("SELU", lambda x: F.selu(x), "y = λ·elu(x, α) (self-normalising constants)")
Hardtanh = _activation("Hardtanh", lambda x, min_val, max_val: F.hardtanh(x, min_val, max_val),
                       "y = clamp(x, min_val, max_val)", min_val=-1.0, max_val=1.0)
ReLU6 = _activation("ReLU6", lambda x: F.relu6(x), "y = min(max(x, 0), 6)")
Hardsigmoid = _activation("Hardsigmoid", lambda x: F.hardsigmoid(x), "y = relu6(x + 3) / 6")
Hardswish = _activation("Hardswish", lambda x: F.hardswish(x), "y = x·relu6(x + 3) / 6")
Mish = _activation("Mish", lambda x: F.mish(x), "y = x·tanh(softplus(x))")
Softsign = _activation("Softsign", lambda x: F.softsign(x), "y = x / (1 + |x|)")
LogSigmoid = _activation("LogSigmoid", lambda x: F.logsigmoid(x), "y = log σ(x)")
Softmin = _activation("Softmin", lambda x, dim: F.softmin(x, dim), "y = softmax(−x) along dim", dim=None)
Softplus = _activation("Softplus", lambda x, beta, threshold: F.softplus(x, beta, threshold),
                       "y = log(1 + e^(βx))/β, linear above threshold", beta=1.0, threshold=20.0)


class PReLU(Module):
    """y = x if x > 0 else a·x with a learned slope a: one shared (num_parameters=1) or one per channel; a starts
    at `init` (0.25, as PyTorch)."""

    def __init__(self, num_parameters=1, init=0.25, device=None, dtype=None):
        super().__init__()
        from .. import creation
        if isinstance(num_parameters, bool) or not isinstance(num_parameters, int) or num_parameters < 1:
            raise ValueError(f"PReLU: num_parameters must be a positive integer, got {num_parameters!r}")
        self.num_parameters, self.init = num_parameters, init
        self.weight = Parameter(creation.full((num_parameters,), float(init), device=device, dtype=dtype).data)

    def forward(self, x):
        return F.prelu(x, self.weight)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"
