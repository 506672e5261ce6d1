"""Normalisation: batch norm / instance norm in training mode, one fused op with a hand-derived backward.

With x̂ = (x − μ)·r, r = 1/sqrt(σ² + eps) (μ, σ² over `axes`, biased variance) and y = γ·x̂ + β:
    dγ = Σ gy·x̂,   dβ = Σ gy,   dx = r · (g − mean(g) − x̂ · mean(g·x̂))   with g = γ·gy
"""
from .. import backend
from ..autograd import Function
from ..tensor import Tensor, is_grad_enabled
from .shape import SumTo


def _mean(xp, a, axes):
    """Mean over `axes`, keepdims. For batch-norm axes (0, 2, 3, ...) each sample's rows are summed first: a
    reduction along contiguous memory, several times faster than NumPy's strided multi-axis reduce."""
    if axes and axes[0] == 0 and axes[1:] == tuple(range(2, a.ndim)) and a.ndim > 2:
        n, c = a.shape[:2]
        s = a.reshape(n, c, -1).sum(axis=2).sum(axis=0)
        return (s / (a.size // c)).reshape((1, c) + (1,) * (a.ndim - 2)).astype(a.dtype, copy=False)
    return a.mean(axis=axes, keepdims=True)


class NormTrain(Function):
    """y = γ·(x − mean)/sqrt(var + eps) + β with statistics over `axes`; see the module docstring for the backward"""

    def __init__(self, axes, eps):
        self.axes, self.eps = axes, eps

    def forward(self, x, gamma, beta):
        xp = backend.get_array_module(x)
        self.mean = _mean(xp, x, self.axes)
        xc = x - self.mean
        self.var = _mean(xp, xc * xc, self.axes)
        r = (1.0 / xp.sqrt(self.var + self.eps)).astype(x.dtype, copy=False)
        xhat = xc
        xhat *= r
        self.save_for_backward(xhat, r)
        return xhat * gamma + beta

    def _stats(self):
        """x̂ and r: constants for a plain backward; recomputed from x as ops when the graph is being recorded
        (create_graph), so the second derivative sees how they depend on x."""
        if not is_grad_enabled():
            return self.saved_tensors
        x = self.inputs[0]
        xc = x - x.mean(self.axes, keepdim=True)
        r = ((xc * xc).mean(self.axes, keepdim=True) + self.eps) ** -0.5
        return xc * r, r

    def backward(self, gy):
        x, gamma, beta = self.inputs
        if not is_grad_enabled():
            return self._backward_arrays(gy.data, gamma.data, beta.data)
        xhat, r = self._stats()
        nx, ng, nb = self.needs_input_grad
        gg = (gy * xhat).sum_to(gamma.shape) if ng else None
        gb = gy.sum_to(beta.shape) if nb else None
        gx = None
        if nx:
            g = gy * gamma
            gx = r * (g - g.mean(self.axes, keepdim=True) - xhat * (g * xhat).mean(self.axes, keepdim=True))
        return gx, gg, gb


    def _backward_arrays(self, gy, gamma, beta):
        """The same formulas on raw arrays with the fast reductions (a plain backward records nothing). γ is
        constant over the reduced axes, so mean(γ·gy) = γ·mean(gy)."""
        xp = backend.get_array_module(gy)
        xhat, r = self._saved
        nx, ng, nb = self.needs_input_grad
        m_gy, m_gyx = _mean(xp, gy, self.axes), _mean(xp, gy * xhat, self.axes)
        count = gy.size // max(m_gy.size, 1)  # an empty batch has no statistics: its sums are 0, not 0 / 0
        gx = Tensor((gy - m_gy - xhat * m_gyx) * (gamma * r)) if nx else None
        gg = Tensor(SumTo(gamma.shape).forward(m_gyx * count)) if ng else None
        gb = Tensor(SumTo(beta.shape).forward(m_gy * count)) if nb else None
        return gx, gg, gb


def norm_train(x, gamma, beta, axes, eps):
    """Normalise over `axes` (training statistics); gamma/beta broadcast against x (pass ones/zeros if absent)."""
    if gamma is None:
        gamma = Tensor(backend.get_array_module(x.data).ones((), dtype=x.dtype))
    if beta is None:
        beta = Tensor(backend.get_array_module(x.data).zeros((), dtype=x.dtype))
    fn = NormTrain(tuple(axes), eps)
    return fn(x, gamma, beta), fn
