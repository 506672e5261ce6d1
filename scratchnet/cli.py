"""The `scratchnet` command: one subcommand per app. It only parses arguments and calls importable functions."""
import argparse
import platform
import sys

import numpy

from . import __version__, backend


def info():
    """Versions, backend, devices and BLAS threads, as a dict (printed by `scratchnet info`)."""
    out = {"scratchnet": __version__, "python": platform.python_version(), "numpy": numpy.__version__,
           "default device": str(backend.get_default_device()), "threads": backend.num_threads(),
           "blas threads": f"{backend.blas_threads()} (scratchnet splits work itself; see set_num_threads)"}
    try:
        import PIL
        out["pillow"] = PIL.__version__
    except ImportError:
        out["pillow"] = "not installed"
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


def main(argv=None):
    parser = argparse.ArgumentParser(prog="scratchnet", description=__doc__)
    parser.add_argument("--version", action="version", version=f"scratchnet {__version__}")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("info", help="versions, backend, devices, BLAS threads")
    args = parser.parse_args(argv)
    if args.command == "info":
        for k, v in info().items():
            print(f"{k:>16}: {', '.join(v) if isinstance(v, list) else v}")
        return 0
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
