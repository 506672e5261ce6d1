"""max_unpool2d: the partial inverse of max_pool2d, each value put back at the flat position its index names
(h·W_out + w in its (n, c) plane) and zeros elsewhere. Put and take along the flat plane are each other's adjoints,
so the op is linear in its values and differentiable to any order."""
from .. import backend
from ..autograd import Function
from .errors import ShapeError


class MaxUnpoolPut(Function):
    """y[n, c, idx[n, c, k]] = x[n, c, k] (zeros elsewhere; y is (N, C, L_out));  dx = gy taken at idx"""

    keeps_inputs = False

    def __init__(self, idx, out_len):
        self.idx, self.out_len = idx, out_len

    def forward(self, x):
        xp = backend.get_array_module(x)
        n, c, _ = x.shape
        y = xp.zeros((n, c, self.out_len), dtype=x.dtype)
        y[xp.arange(n)[:, None, None], xp.arange(c)[None, :, None], self.idx] = x
        return y

    def backward(self, gy):
        return MaxUnpoolTake(self.idx)(gy)


class MaxUnpoolTake(Function):
    """y[n, c, k] = x[n, c, idx[n, c, k]] (a gather along the flat plane);  dx = gy put back at idx"""

    keeps_inputs = False

    def __init__(self, idx):
        self.idx = idx

    def forward(self, x):
        return backend.get_array_module(x).take_along_axis(x, self.idx, axis=2)

    def backward(self, gy):
        return MaxUnpoolPut(self.idx, self.inputs[0].shape[2])(gy)


def _pair(v, name):
    v = (v, v) if isinstance(v, int) else tuple(int(i) for i in v)
    if len(v) != 2:
        raise ShapeError(f"max_unpool2d: {name} must be an int or a pair of ints, got {v!r}")
    return v


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None): the partial
    inverse of max_pool2d: (N, C, H, W) values put back at max_pool2d's flat indices in (N, C, H_out, W_out), zeros
    elsewhere; H_out = (H - 1)·s - 2p + k unless output_size is given (it may differ from that by less than the stride).

    Forward:  y[n, c].flat[indices[n, c, i, j]] = x[n, c, i, j], 0 elsewhere
    Backward: dx[n, c, i, j] = gy[n, c].flat[indices[n, c, i, j]]
    """
    if input.ndim not in (3, 4) or tuple(indices.shape) != tuple(input.shape):
        raise ShapeError(f"max_unpool2d: expected a 3-D or 4-D input and indices of the same shape, got input "
                         f"{tuple(input.shape)} and indices {tuple(indices.shape)}")
    if indices.dtype.kind not in "iu":
        raise ShapeError(f"max_unpool2d: indices must be integers (from max_pool2d), got dtype {indices.dtype}")
    k = _pair(kernel_size, "kernel_size")
    s = k if stride is None else _pair(stride, "stride")
    p = _pair(padding, "padding")
    default = [(input.shape[-2 + i] - 1) * s[i] - 2 * p[i] + k[i] for i in range(2)]
    if output_size is None:
        out = default
    else:
        out = [int(v) for v in tuple(output_size)[-2:]]
        if len(tuple(output_size)) not in (2, input.ndim):
            raise ShapeError(f"max_unpool2d: output_size must have 2 or {input.ndim} elements, got {output_size!r}")
        for i in range(2):
            if not default[i] - s[i] < out[i] < default[i] + s[i]:
                raise ShapeError(f"max_unpool2d: invalid output_size {tuple(output_size)} (dim {i} must be between "
                                 f"{default[i] - s[i] + 1} and {default[i] + s[i] - 1})")
    unbatched = input.ndim == 3
    x = input.reshape((1,) + input.shape) if unbatched else input
    n, c = x.shape[:2]
    idx = indices.data.reshape(n, c, -1)
    if out[0] * out[1] == 0:   # an empty output plane holds nothing to check or put (PyTorch returns it as is)
        y = x.reshape(n, c, -1)[..., :0].reshape(n, c, *out)
        return y.reshape(y.shape[1:]) if unbatched else y
    # reading the indices back is the one check that needs the device (PyTorch does it too): a bad index would
    # otherwise be written out of place silently
    if idx.size and (bool((idx < 0).any()) or bool((idx >= out[0] * out[1]).any())):
        bad = int(idx.max()) if bool((idx >= 0).all()) else int(idx.min())
        raise ShapeError(f"max_unpool2d: found an invalid max index {bad} (output planes are {out[0]}x{out[1]})")
    y = MaxUnpoolPut(idx.astype(backend.get_array_module(idx).int64), out[0] * out[1])(x.reshape(n, c, -1))
    y = y.reshape(n, c, *out)
    return y.reshape(y.shape[1:]) if unbatched else y
