"""What the command line accepts: argparse types that check each value's range when it is parsed, checks of
paths and devices made before anything runs, and a parser whose errors are one line.

A mistake found here ends the command with exit status 2 and one line on stderr naming the argument and what was
expected; a failure once the command runs is exit status 1 (see cli.main).
"""
import argparse
import math
import os
import sys


class UsageError(Exception):
    """A bad argument (found by argparse, or after parsing: a missing file, an unusable device...): exit status 2.
    `prog` is the (sub)command it belongs to, when known."""

    def __init__(self, message, prog=None):
        super().__init__(message)
        self.prog = prog


class Parser(argparse.ArgumentParser):
    """argparse whose errors are raised (UsageError) instead of printing the usage and exiting, so that the
    command prints one line (`scratchnet train: argument --epochs: ...`) and returns 2."""

    def error(self, message):
        raise UsageError(f"{message} (see {self.prog} --help)", self.prog)

    def add_argument(self, *args, **kwargs):
        """As argparse's, and --help shows each option's default (unless its help already says it)."""
        default, text = kwargs.get("default"), kwargs.get("help")
        shows = default is not None and default is not False and default != argparse.SUPPRESS
        if shows and text != argparse.SUPPRESS and "default" not in (text or ""):
            shown = (" ".join(map(str, default)) if isinstance(default, (list, tuple)) else str(default))
            shown = shown.replace("%", "%%")   # argparse %-formats help
            kwargs["help"] = f"{text} (default: {shown})" if text else f"default: {shown}"
        return super().add_argument(*args, **kwargs)


def _number(kind, text, name):
    try:
        v = kind(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"expected {name}, got {text!r}") from None
    if kind is float and not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return v


def int_range(lo, hi=None, what=None):
    """An integer in [lo, hi] (hi None: no upper bound)."""
    def parse(text):
        v = _number(int, text, "an integer")
        if v < lo or (hi is not None and v > hi):
            raise argparse.ArgumentTypeError(
                (what or (f"expected an integer from {lo} to {hi}" if hi is not None else
                          "expected a positive integer" if lo == 1 else f"expected an integer >= {lo}")) +
                f", got {v}")
        return v
    parse.__name__ = "integer"   # argparse names the type in some messages
    return parse


def float_range(lo=0.0, hi=None, low_open=False, what=None):
    """A finite float >= lo (> lo when low_open), <= hi if given."""
    def parse(text):
        v = _number(float, text, "a number")
        if v < lo or (low_open and v == lo) or (hi is not None and v > hi):
            bound = f"> {lo:g}" if low_open else f">= {lo:g}"
            raise argparse.ArgumentTypeError((what or f"expected a finite number {bound}"
                                              + (f" and <= {hi:g}" if hi is not None else "")) + f", got {text}")
        return v
    parse.__name__ = "number"
    return parse


positive_int = int_range(1)
count = int_range(0)                                   # 0 allowed: seeds, "none" settings
learning_rate = float_range(0.0, 10.0, low_open=True, what="expected a learning rate > 0 and <= 10")
weight = float_range(0.0)
image_size = int_range(8, 2048, what="expected an image size from 8 to 2048 pixels")


def device(text):
    """'cpu', 'cuda' or 'cuda:N', checked for a usable GPU when one is asked for."""
    from . import backend
    try:
        dev = backend.device(text)
        if dev.type == "cuda":
            cp = backend.cupy()
            n = cp.cuda.runtime.getDeviceCount()
            if dev.index >= n:
                raise ValueError(f"there is no GPU {dev.index} (this machine has {n})")
    except (ValueError, TypeError, backend.BackendError) as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return str(dev)


def class_name(text):
    """A Fashion-MNIST class, by name or index."""
    from .data.datasets import FASHION
    try:
        FASHION.class_index(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text


# ---- paths, checked while parsing (argparse types: argparse names the argument, these say what is wrong) ----

def _typed(name):
    """Mark a type function with the name argparse uses in some of its messages."""
    def mark(fn):
        fn.__name__ = name
        return fn
    return mark


@_typed("folder")
def out_dir(path):
    """An output folder: an existing folder, or one that can be made (its nearest existing parent is a writable
    folder); not an existing file."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise argparse.ArgumentTypeError(f"{path} is an existing file; expected a folder")
    _writable_parent(path)
    return path


@_typed("file name")
def out_file(path):
    """An output file: not a folder, and its folder can be written."""
    if os.path.isdir(path):
        raise argparse.ArgumentTypeError(f"{path} is a folder; expected a file name such as samples.png")
    _writable_parent(os.path.dirname(os.path.abspath(path)))
    return path


def _writable_parent(path):
    probe = os.path.abspath(path)
    while not os.path.exists(probe):
        probe = os.path.dirname(probe)
    if not os.path.isdir(probe):
        raise argparse.ArgumentTypeError(f"cannot create {path}: {probe} is a file")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"cannot write to {probe} (permission denied)")


def _existing(kind, is_kind):
    """A type for a path that must exist and be a `kind` (file or folder)."""
    @_typed(kind)
    def parse(path):
        if not is_kind(path):
            raise argparse.ArgumentTypeError(f"{path} is not a {kind}" if os.path.exists(path)
                                             else f"no such {kind} {path}")
        return path
    return parse


existing_dir = _existing("folder", os.path.isdir)
existing_file = _existing("file", os.path.isfile)


@_typed("image")
def image(name):
    """A file path, or the name of a bundled photo (kept as given: the app resolves it)."""
    from .apps.images import resolve
    try:
        existing_file(resolve(name))
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return name


# the same checks for values found after parsing: UsageError (exit status 2) naming the argument

def _check(type_fn, value, flag):
    if value is not None:
        try:
            type_fn(value)
        except argparse.ArgumentTypeError as e:
            raise UsageError(f"argument {flag}: {e}") from None


def check_out_dir(path, flag="--out"):
    _check(out_dir, path, flag)


def check_out_file(path, flag="-o/--out"):
    _check(out_file, path, flag)


def check_dir(path, flag="--data"):
    _check(existing_dir, path, flag)


def check_file(path, flag):
    _check(existing_file, path, flag)


def check_image(name, flag):
    _check(image, name, flag)


def add_common(p, out=None, data=False, seed=True):
    """The options most apps share: --device, --seed, -o/--out (a folder; default `out`), --data."""
    p.add_argument("--device", type=device, default=None, help="cpu, cuda or cuda:N (default: $SCRATCHNET_DEVICE "
                                                                "or cpu)")
    if seed:
        p.add_argument("--seed", type=count, default=0, help="seed of every random draw (weights, batches, noise)")
    if out:
        p.add_argument("-o", "--out", type=out_dir, default=out, help=f"output folder (default: {out})")
    if data:
        p.add_argument("--data", type=existing_dir, default=None,
                       help="folder with the IDX files (default: search, then the bundled sample)")


def add_nproc(p):
    """--nproc N: the command reruns itself under mpiexec (see cli._launch)."""
    p.add_argument("--nproc", type=positive_int, default=None,
                   help="train data-parallel on N processes: runs this command under mpiexec -n N (needs "
                        "scratchnet[mpi]); the same as launching `mpiexec -n N scratchnet ...` yourself")


def one_line(text):
    """A message for one line of stderr: newlines and runs of spaces folded."""
    return " ".join(str(text).split())


def print_error(prog, message):
    print(f"{prog}: {one_line(message)}", file=sys.stderr)
