"""PyTorch's other activations (silu, elu, celu, selu, hardtanh, relu6, hardsigmoid, hardswish, mish, softsign,
logsigmoid, softmin, softplus with beta/threshold, prelu with its learned slope).

Smooth ones are compositions of differentiable ops, so they are differentiable to any order. The piecewise-linear
ones are small Functions because PyTorch fixes the derivative at their kinks in its own way (hardtanh's is 0 at
min_val and max_val), and the Functions' backward passes are again Tensor ops.
"""
from .. import backend
from ..autograd import Function
from ..tensor import Tensor
from . import math as M
from .activation import softplus as _softplus, softmax
from .errors import ShapeError
from .shape import _norm_dim

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


class Expm1(Function):
    """y = eˣ − 1 (exact near 0, unlike exp(x) − 1);  dx = gy · (y + 1)"""

    keeps_inputs = False

    def forward(self, x):
        y = backend.get_array_module(x).expm1(x)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return gy * (y + 1)


def _float(name, x):
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: input must be a Tensor, got {type(x).__name__}")
    if x.dtype.kind != "f":
        raise TypeError(f"{name}: input must be floating point, got dtype {x.dtype}")
    return x


def _neg_branch(x, alpha, input_scale):
    """α·(e^(s·min(x, 0)) − 1): the exponent is clamped so the branch where() does not take never overflows
    (its gradient, masked to 0, would otherwise be 0·inf = NaN)."""
    return Expm1()(M.clamp(x, max=0) * input_scale) * alpha


@backend.follows_device  # the branch mask x > 0 is a raw-array op: on x's device
def elu(input, alpha=1.0, inplace=False):
    """elu(input, alpha=1.0, inplace=False): the exponential linear unit.

    Forward:  y = x for x > 0, α(eˣ - 1) for x <= 0
    Backward: dx = gy for x > 0, gy·α·eˣ for x <= 0  (α at x = 0, as PyTorch)
    """
    x = _float("elu", input)
    return M.where(x.data > 0, x, _neg_branch(x, alpha, 1.0))


@backend.follows_device  # the branch mask x > 0 is a raw-array op: on x's device
def celu(input, alpha=1.0, inplace=False):
    """celu(input, alpha=1.0, inplace=False): the continuously differentiable ELU.

    Forward:  y = max(0, x) + min(0, α(e^(x/α) - 1))
    Backward: dx = gy for x > 0, gy·e^(x/α) for x <= 0
    """
    x = _float("celu", input)
    if alpha == 0:
        raise ShapeError("celu: alpha must not be 0 (it divides the input)")
    return M.where(x.data > 0, x, _neg_branch(x, alpha, 1.0 / alpha))


@backend.follows_device  # the branch mask x > 0 is a raw-array op: on x's device
def selu(input, inplace=False):
    """selu(input, inplace=False): the self-normalising ELU, λ ≈ 1.0507, α ≈ 1.6733.

    Forward:  y = λ·elu(x, α)
    Backward: dx = gy·λ for x > 0, gy·λα·eˣ for x <= 0
    """
    x = _float("selu", input)
    return M.where(x.data > 0, x * SELU_SCALE, _neg_branch(x, SELU_ALPHA * SELU_SCALE, 1.0))


def silu(input, inplace=False):
    """silu(input, inplace=False): the sigmoid-weighted linear unit (swish).

    Forward:  y = x·σ(x)
    Backward: dx = gy·σ(x)·(1 + x·(1 - σ(x)))
    """
    x = _float("silu", input)
    return x * M.sigmoid(x)


def mish(input, inplace=False):
    """mish(input, inplace=False): x times tanh of softplus.

    Forward:  y = x·tanh(sp),  sp = softplus(x)
    Backward: dx = gy·(tanh(sp) + x·σ(x)·(1 - tanh²(sp)))
    """
    x = _float("mish", input)
    return x * M.tanh(_softplus(x))


def softsign(input):
    """softsign(input).

    Forward:  y = x / (1 + |x|)
    Backward: dx = gy / (1 + |x|)²
    """
    x = _float("softsign", input)
    return x / (M.abs(x) + 1)


def logsigmoid(input):
    """logsigmoid(input): log σ(x), computed as -softplus(-x) so it never overflows.

    Forward:  y = log σ(x) = -softplus(-x)
    Backward: dx = gy·(1 - σ(x)) = gy·σ(-x)
    """
    x = _float("logsigmoid", input)
    return -_softplus(-x)


@backend.follows_device  # the branch mask x > 0 is a raw-array op: on x's device
def softplus(input, beta=1.0, threshold=20.0):
    """softplus(input, beta=1.0, threshold=20.0): a smooth relu; x itself where βx > threshold (PyTorch's
    linear regime).

    Forward:  y = (1/β)·log(1 + e^(βx)), or x where βx > threshold
    Backward: dx = gy·σ(βx), or gy where βx > threshold
    """
    x = _float("softplus", input)
    if beta == 0:
        raise ShapeError("softplus: beta must not be 0 (it divides the result)")
    z = x * beta
    return M.where(z.data > threshold, x, _softplus(z) * (1.0 / beta))


def _softmax_dim(ndim):
    """PyTorch's implicit dim for softmax/softmin called without one: 0 for 0-, 1- and 3-D input, else 1."""
    return 0 if ndim in (0, 1, 3) else 1


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    """softmin(input, dim=None, dtype=None): softmax of -x along dim.

    Forward:  y = softmax(-x, dim)
    Backward: dx = -y·(gy - sum(gy·y, dim))
    """
    x = _float("softmin", input)
    if dtype is not None:
        x = x.astype(dtype)
    if x.ndim == 0:  # a 0-d tensor is one class: softmin is 1 (dim must still be 0 or -1, as PyTorch checks)
        _norm_dim(0 if dim is None else dim, 1)
        return softmax(-x.reshape(1), 0).reshape(())
    return softmax(-x, _softmax_dim(x.ndim) if dim is None else dim)


class HardtanhFn(Function):
    """y = clamp(x, lo, hi);  dx = gy where lo < x < hi (strictly, as PyTorch: 0 at the kinks) else 0"""

    keeps_inputs = False

    def __init__(self, lo, hi):
        self.lo, self.hi = lo, hi

    def forward(self, x):
        self.save_for_backward((x > self.lo) & (x < self.hi))
        return backend.get_array_module(x).clip(x, self.lo, self.hi)

    def backward(self, gy):
        (mask,) = self.saved_tensors
        return gy * Tensor(mask.data.astype(gy.dtype))


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False): x clamped to [min_val, max_val].

    Forward:  y = clamp(x, min_val, max_val)
    Backward: dx = gy for min_val < x < max_val, else 0  (strictly: 0 at the kinks, as PyTorch)
    """
    x = _float("hardtanh", input)
    if min_val > max_val:
        raise ShapeError(f"hardtanh: min_val {min_val} must be at most max_val {max_val}")
    return HardtanhFn(min_val, max_val)(x)


def relu6(input, inplace=False):
    """relu6(input, inplace=False): relu capped at 6 (= hardtanh(x, 0, 6)).

    Forward:  y = min(max(x, 0), 6)
    Backward: dx = gy for 0 < x < 6, else 0
    """
    return HardtanhFn(0.0, 6.0)(_float("relu6", input))


class HardsigmoidFn(Function):
    """y = min(max(x + 3, 0), 6) / 6;  dx = gy/6 where −3 < x < 3 else 0"""

    keeps_inputs = False

    def forward(self, x):
        self.save_for_backward((x > -3) & (x < 3))
        return (backend.get_array_module(x).clip(x + 3, 0, 6) / 6).astype(x.dtype, copy=False)

    def backward(self, gy):
        (mask,) = self.saved_tensors
        return gy * Tensor((mask.data / 6).astype(gy.dtype))


def hardsigmoid(input, inplace=False):
    """hardsigmoid(input, inplace=False): the piecewise linear sigmoid.

    Forward:  y = relu6(x + 3) / 6
    Backward: dx = gy / 6 for -3 < x < 3, else 0
    """
    return HardsigmoidFn()(_float("hardsigmoid", input))


class HardswishFn(Function):
    """y = x·min(max(x + 3, 0), 6) / 6;  dx = gy · (0 for x ≤ −3, x/3 + 1/2 for −3 < x < 3, 1 for x ≥ 3)
    (PyTorch's choices at the kinks); the slope is a Tensor expression in x, so the second derivative is 1/3 inside."""

    def forward(self, x):
        return (x * backend.get_array_module(x).clip(x + 3, 0, 6) / 6).astype(x.dtype, copy=False)

    def backward(self, gy):
        x = self.inputs[0]
        mid = Tensor(((x.data > -3) & (x.data < 3)).astype(gy.dtype))
        above = Tensor((x.data >= 3).astype(gy.dtype))
        return gy * ((x * (1 / 3) + 0.5) * mid + above)


def hardswish(input, inplace=False):
    """hardswish(input, inplace=False): x times hardsigmoid(x).

    Forward:  y = x·relu6(x + 3) / 6
    Backward: dx = gy·(0 for x <= -3, x/3 + 1/2 for -3 < x < 3, 1 for x >= 3)
    """
    return HardswishFn()(_float("hardswish", input))


def prelu(input, weight):
    """prelu(input, weight), as PyTorch's F.prelu: a leaky relu whose slope a is learned (one value, or one per
    channel of dim 1; an input of fewer than 2 dims has one channel). Written as where(x > 0, x, a·x), so both gradients
    come from ops that are already checked.

    Forward:  y = x if x > 0 else a·x
    Backward: dx = gy if x > 0 else gy·a  (a at x = 0, as PyTorch),  da = sum of gy·x where x <= 0 over the shared axes
    """
    if weight.ndim != 1:
        raise ShapeError(f"prelu: weight must be 1-D, got shape {tuple(weight.shape)}")
    c, channels = weight.shape[0], (input.shape[1] if input.ndim >= 2 else 1)
    if c not in (1, channels):
        raise ShapeError(f"prelu: weight has {c} values but input shape {tuple(input.shape)} has {channels} "
                         f"channels (dim 1)")
    # a of shape (C, 1, ..., 1) lines up with dim 1 and broadcasts over the rest
    a = weight.reshape(c, *([1] * (input.ndim - 2))) if input.ndim >= 2 else weight.reshape(())
    return M.where(input > 0, input, a * input)
