"""Normalisation in training mode (batch, instance, layer and group norm): one fused op with a hand-derived backward.

With μ, σ² the mean and biased variance of x over `axes`, r = 1/sqrt(σ² + eps), x̂ = (x − μ)·r and y = γ·x̂ + β
(γ, β constant over `axes`: per channel, or scalars):

    dγ = Σ gy·x̂,   dβ = Σ gy,   dx = γ·r·(gy − mean(gy) − x̂·mean(gy·x̂))       (sums and means over `axes`)

The backward is written once, in differentiable ops (so create_graph gives second derivatives; x̂ and r are then
recomputed from x as ops so that their dependence on x is recorded). Over batch norm's axes both passes run on
the fused, cache-blocked kernels of ops/norm_kernels.py (the same formulas on raw arrays). Readable twin:
norm_train_reference, the forward alone in tensor ops with autograd deriving the rest.
"""
import math
from collections import namedtuple

from .. import backend, kernel_mode
from ..autograd import Function
from ..tensor import Tensor, is_grad_enabled
from . import norm_kernels
from .shape import broadcast_to

BatchStats = namedtuple("BatchStats", "mean var centred")   # μ, σ² (keepdims) and x − μ, raw arrays


def _mean(xp, a, axes):
    """Mean over `axes`, keepdims. For batch-norm axes (0, 2, 3, ...) each sample's rows are summed first: a
    reduction along contiguous memory, much faster than NumPy's strided multi-axis reduce."""
    if axes and axes[0] == 0 and axes[1:] == tuple(range(2, a.ndim)) and a.ndim > 2:
        n, c = a.shape[:2]
        s = a.reshape(n, c, -1).sum(axis=2).sum(axis=0)
        return (s / (a.size // c)).reshape((1, c) + (1,) * (a.ndim - 2)).astype(a.dtype, copy=False)
    return a.mean(axis=axes, keepdims=True)


def batch_stats(x, axes):
    """μ and the biased σ² of the array x over `axes` (keepdims), and x − μ."""
    xp = backend.get_array_module(x)
    mean = _mean(xp, x, axes)
    centred = x - mean
    return BatchStats(mean, _mean(xp, centred * centred, axes), centred)


class MeanOverFn(Function):
    """y = mean of x over `axes` (keepdims; the batch-norm axes summed row by row);  dx = gy / count, broadcast"""

    keeps_inputs = False

    def __init__(self, axes):
        self.axes = axes

    def forward(self, x):
        return _mean(backend.get_array_module(x), x, self.axes)

    def backward(self, gy):
        shape = self.inputs[0].shape
        return broadcast_to(gy * (1.0 / max(1, math.prod(shape[a] for a in self.axes))), shape)


class NormTrainFn(Function):
    """y = γ·(x − μ)·r + β, r = 1/sqrt(σ² + eps), with μ, σ² (and x − μ) the batch statistics `stats` of x over
    `axes` (batch_stats, computed once by norm_train), or None: batch norm's axes, where the fused kernel computes
    them (ops/norm_kernels.py) and leaves μ, σ² in `stats` for the caller
    dx = γ·r·(gy − mean(gy) − x̂·mean(gy·x̂));  dγ = Σ gy·x̂;  dβ = Σ gy   (see the module docstring)"""

    fused = False

    def __init__(self, axes, eps, stats=None):
        self.axes, self.eps, self.stats = axes, eps, stats

    def forward(self, x, gamma, beta):
        if self.stats is None:         # the fused kernel; backward recomputes x̂ from x, μ and r
            y, mean, r, var = norm_kernels.forward(x, gamma, beta, self.eps)
            self.stats, self.fused = BatchStats(mean, var, None), True
            self.save_for_backward(x, mean, r)
            return y
        xp = backend.get_array_module(x)
        r = (1.0 / xp.sqrt(self.stats.var + self.eps)).astype(x.dtype, copy=False)
        xhat = self.stats.centred      # made for this call alone: normalised in place
        xhat *= r
        self.stats = None              # the statistics belong to the caller now; backward needs only x̂ and r
        self.save_for_backward(xhat, r)
        return xhat * gamma + beta

    def _mean(self, t):
        return MeanOverFn(self.axes)(t)

    def _xhat_r(self):
        """x̂ and r: constants for a plain backward; recomputed from x as ops when the graph is being recorded
        (create_graph), so the second derivative sees how they depend on x."""
        if not is_grad_enabled():
            return self.saved_tensors
        x = self.inputs[0]
        xc = x - self._mean(x)
        r = (self._mean(xc * xc) + self.eps) ** -0.5
        return xc * r, r

    def backward(self, gy):
        x, gamma, beta = self.inputs
        nx, ng, nb = self.needs_input_grad
        if self.fused and not is_grad_enabled():
            return self._fused_backward(gy, gamma, beta)
        xhat, r = self._xhat_r()
        m_gy, m_gyx = self._mean(gy), self._mean(gy * xhat)
        count = gy.data.size // max(m_gy.data.size, 1)  # an empty batch has no statistics: its sums are 0
        return ((gy - m_gy - xhat * m_gyx) * (gamma * r) if nx else None,
                (m_gyx * count).sum_to(gamma.shape) if ng else None,
                (m_gy * count).sum_to(beta.shape) if nb else None)

    def _fused_backward(self, gy, gamma, beta):
        """The same three gradients from the fused kernel, as constants (no graph is being recorded)."""
        nx, ng, nb = self.needs_input_grad
        x, mean, r = (t.data for t in self.saved_tensors)
        dx, sum_gy, sum_gyx = norm_kernels.backward(gy.data, x, mean, r, gamma.data, nx)
        return (Tensor(dx) if nx else None,
                Tensor(sum_gyx.reshape(r.shape)).sum_to(gamma.shape) if ng else None,
                Tensor(sum_gy.reshape(r.shape)).sum_to(beta.shape) if nb else None)


def norm_train_reference(x, gamma, beta, axes, eps):
    """The readable twin of NormTrainFn: the forward in tensor ops, autograd derives the backward."""
    mean = x.mean(axes, keepdim=True)
    var = ((x - mean) * (x - mean)).mean(axes, keepdim=True)
    return (x - mean) / (var + eps).sqrt() * gamma + beta, mean.data, var.data


@backend.follows_device  # the default γ, β are made here, outside a Function: on x's device
def norm_train(x, gamma, beta, axes, eps):
    """norm_train(x, gamma, beta, axes, eps): x normalised over `axes` with the batch's own statistics, the
    training-mode core of batch, instance, layer and group norm; gamma/beta broadcast against x (None: 1 and 0).
    Returns y and the statistics μ, σ² (biased, keepdims) as raw arrays, for the running averages.

    Forward:  y = γ·(x - μ)·r + β,  r = 1/sqrt(σ² + eps),  μ, σ² over axes
    Backward: dx = γ·r·(gy - mean(gy) - x̂·mean(gy·x̂)) over axes, x̂ = (x - μ)·r;  dγ = sum gy·x̂, dβ = sum gy
              (each summed to γ's and β's shapes)
    """
    if gamma is None:
        gamma = Tensor(backend.get_array_module(x.data).ones((), dtype=x.dtype))
    if beta is None:
        beta = Tensor(backend.get_array_module(x.data).zeros((), dtype=x.dtype))
    axes = tuple(axes)
    if kernel_mode.reference():
        return norm_train_reference(x, gamma, beta, axes, eps)
    if norm_kernels.applies(x.data, axes, gamma.data, beta.data):
        fn = NormTrainFn(axes, eps)
        y = fn(x, gamma, beta)
        return y, fn.stats.mean, fn.stats.var
    stats = batch_stats(x.data, axes)
    return NormTrainFn(axes, eps, stats)(x, gamma, beta), stats.mean, stats.var
