"""scratchnet: deep learning from scratch in NumPy, the same code on a GPU through CuPy."""
__version__ = "0.1.0"

import os as _os

import numpy as _np

from . import backend, ops  # noqa: F401  (importing ops installs Tensor's operators)

# Importing scratchnet changes nothing process-wide: BLAS threads are limited only inside scratchnet's own
# parallel regions (backend.one_blas_thread), and malloc tuning is opt-in (backend.tune_allocator)
if _os.environ.get("SCRATCHNET_MALLOC_TUNE") == "1":
    backend.tune_allocator()
from .backend import (Device, device, get_default_device, set_default_device,  # noqa: F401
                      get_array_module, set_num_threads, num_threads as get_num_threads)
from .rng import manual_seed  # noqa: F401
from .tensor import Tensor, no_grad, enable_grad, set_grad_enabled, is_grad_enabled  # noqa: F401
from . import tensor  # noqa: F401,E402  (the module, which called is the factory: scratchnet.tensor([1.0, 2.0]))
from .creation import (as_tensor, from_numpy, zeros, ones, empty, full, eye, arange, linspace,  # noqa: F401
                       randn, rand, randint, randperm, zeros_like, ones_like, empty_like, full_like, randn_like,
                       rand_like)
from . import autograd  # noqa: F401
from .kernel_mode import use_kernels  # noqa: F401
from .ops.math import (add, sub, mul, true_divide, pow, neg, exp, log, sqrt, abs, sin, cos, tanh, sigmoid,  # noqa: F401
                       maximum, minimum, where, clamp, clone, eq, ne, lt, le, gt, ge)
from .ops.reduce import sum, mean, var, std, max, min, amax, amin, argmax, argmin, logsumexp, prod  # noqa: F401
from .ops.shape import (reshape, flatten, squeeze, unsqueeze, transpose, permute, cat, stack, split,  # noqa: F401
                        chunk, pad, broadcast_to, sum_to)
from .ops.linalg import matmul  # noqa: F401
from .ops.division import div, floor_divide, remainder, fmod  # noqa: F401
from .ops.bitwise import (bitwise_and, bitwise_or, bitwise_xor, bitwise_not, bitwise_left_shift,  # noqa: F401
                          bitwise_right_shift)
from .ops.promotion import result_type, promote_types  # noqa: F401
from .ops.activation import relu, leaky_relu, softmax, log_softmax  # noqa: F401
from . import nn, optim  # noqa: F401,E402
from .io import save, load  # noqa: F401,E402
from .gradcheck import gradcheck, gradgradcheck, GradcheckError  # noqa: F401
from .ops.unary import *  # noqa: F401,F403,E402  (each family's __all__: PyTorch's names, `all`/`round` included)
from .ops.binary import *  # noqa: F401,F403,E402
from .ops.scan import *  # noqa: F401,F403,E402
from .ops.sort import *  # noqa: F401,F403,E402
from .ops.index import *  # noqa: F401,F403,E402
from .ops.layout import *  # noqa: F401,F403,E402
from .ops.diag import *  # noqa: F401,F403,E402
from .ops.einsum import *  # noqa: F401,F403,E402
from .ops.stats import *  # noqa: F401,F403,E402
from .ops.aliases import *  # noqa: F401,F403,E402

clip = clamp
concatenate = cat
float16, float32, float64 = _np.dtype("float16"), _np.dtype("float32"), _np.dtype("float64")
int32, int64, bool_ = _np.dtype("int32"), _np.dtype("int64"), _np.dtype("bool")
float, double, long = float32, float64, int64

# Subpackages reachable as attributes after `import scratchnet`, as torch.utils.data is after `import torch`;
# imported on first use, so `import scratchnet` stays quick and pulls in no plotting or MPI
_SUBPACKAGES = ("data", "models", "apps", "metrics", "viz", "distributed", "testing", "formats", "errors", "cli")


def __getattr__(name):
    if name in _SUBPACKAGES:
        import importlib
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'scratchnet' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_SUBPACKAGES))
