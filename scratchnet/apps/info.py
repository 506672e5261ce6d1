"""`scratchnet info`: the versions, backend, devices and BLAS threads a bug report needs."""
import platform

import numpy

from .. import __version__, backend


def info():
    """Versions, backend, devices and BLAS threads, as a dict."""
    out = {"scratchnet": __version__, "python": platform.python_version(), "numpy": numpy.__version__,
           "default device": str(backend.get_default_device()), "threads": backend.num_threads(),
           "blas threads": f"{backend.blas_threads()} (1 inside scratchnet's own parallel regions; see "
                           f"set_num_threads)",
           "blas kernels": backend.blas_core() or "unknown"}
    for name, module in (("pillow", "PIL"), ("tqdm", "tqdm"), ("matplotlib", "matplotlib")):
        try:
            out[name] = __import__(module).__version__
        except ImportError:
            out[name] = "not installed (pip install 'scratchnet[apps]')"
    try:
        cp = backend.cupy()
        n = cp.cuda.runtime.getDeviceCount()
        names = [cp.cuda.runtime.getDeviceProperties(i)["name"].decode() for i in range(n)]
        out["cupy"] = cp.__version__
        out["devices"] = ["cpu"] + [f"cuda:{i} ({name})" for i, name in enumerate(names)]
    except backend.BackendError as e:
        out["cupy"] = f"unavailable ({e})"
        out["devices"] = ["cpu"]
    return out


def add_arguments(parser):
    """No options."""


def run(args):
    for k, v in info().items():
        print(f"{k:>16}: {', '.join(v) if isinstance(v, list) else v}")
