"""Weight initialisers (torch.nn.init names and maths). Each fills a tensor in place, without recording a graph."""
import math

from ..tensor import no_grad
from ..errors import ShapeError

_GAINS = {"linear": 1.0, "conv2d": 1.0, "sigmoid": 1.0, "tanh": 5.0 / 3, "relu": math.sqrt(2.0), "selu": 0.75}


def calculate_gain(nonlinearity, param=None):
    """The factor that keeps activations' variance steady through `nonlinearity`."""
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity not in _GAINS:
        raise ShapeError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")
    return _GAINS[nonlinearity]


def _calculate_fan_in_and_fan_out(t):
    """fan_in = size(1)·receptive field, fan_out = size(0)·receptive field (PyTorch's convention, also for
    transposed-conv weights)."""
    if t.ndim < 2:
        raise ShapeError(f"fan in/out need a tensor with at least 2 dimensions, got shape {t.shape}")
    rf = 1
    for s in t.shape[2:]:
        rf *= s
    return t.shape[1] * rf, t.shape[0] * rf


def _fan(t, mode):
    fan_in, fan_out = _calculate_fan_in_and_fan_out(t)
    if mode not in ("fan_in", "fan_out"):
        raise ShapeError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    return fan_in if mode == "fan_in" else fan_out


@no_grad()
def uniform_(t, a=0.0, b=1.0):
    return t.uniform_(a, b)


@no_grad()
def normal_(t, mean=0.0, std=1.0):
    return t.normal_(mean, std)


@no_grad()
def constant_(t, val):
    return t.fill_(val)


def zeros_(t):
    return constant_(t, 0.0)


def ones_(t):
    return constant_(t, 1.0)


def xavier_uniform_(t, gain=1.0):
    """U(−a, a), a = gain·sqrt(6 / (fan_in + fan_out))"""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(t)
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(t, -a, a)


def xavier_normal_(t, gain=1.0):
    """N(0, std²), std = gain·sqrt(2 / (fan_in + fan_out))"""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(t)
    return normal_(t, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


def kaiming_uniform_(t, a=0, mode="fan_in", nonlinearity="leaky_relu"):
    """U(−b, b), b = gain·sqrt(3 / fan)"""
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / _fan(t, mode))
    return uniform_(t, -bound, bound)


def kaiming_normal_(t, a=0, mode="fan_in", nonlinearity="leaky_relu"):
    """N(0, std²), std = gain / sqrt(fan)"""
    return normal_(t, 0.0, calculate_gain(nonlinearity, a) / math.sqrt(_fan(t, mode)))
