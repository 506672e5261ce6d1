"""The `scratchnet` command: one subcommand per app, listed in APPS. It only parses arguments and calls the apps.

An app module exports `add_arguments(parser)` (its options; argparse types check each value and path while
parsing) and `run(args)` (keyword calls into its importable functions; returns the exit status, None for 0). It may
export `check(args)`: the checks of arguments that depend on each other, raising UsageError before anything runs.
Adding a command is one row of APPS. Only the chosen command's module is imported.

A user mistake is one line on stderr and exit status 2 (a bad argument, found before anything runs) or 1 (a
failure while running); `--debug` or SCRATCHNET_DEBUG=1 shows the traceback instead.
"""
import importlib
import os
import sys

from . import __version__, backend
from .cli_args import Parser, UsageError, print_error
from .cputune import interruption

# command: (module under scratchnet, optionally ":object" in it that has add_arguments and run; one-line help)
APPS = {
    "info": ("apps.info", "versions, backend, devices, BLAS threads"),
    "train": ("apps.classify", "train a Fashion-MNIST classifier and write its report"),
    "evaluate": ("apps.classify:EVALUATE", "test accuracy of a checkpoint"),
    "predict": ("apps.classify:PREDICT", "top-3 classes of image files"),
    "transfer": ("apps.transfer", "few-shot transfer learning experiment (frozen / fine-tune / scratch)"),
    "gan": ("apps.gan_cli", "train a GAN; `gan sample CHECKPOINT` draws a grid from one"),
    "style": ("apps.stylize", "neural style transfer (or texture synthesis with --texture)"),
    "dream": ("apps.dream", "DeepDream an image"),
    "segment": ("apps.segment", "label every pixel: a U-Net on Fashion-MNIST canvases (train/evaluate/predict)"),
    "demo": ("apps.gallery", "run every app small and write DIR/index.html"),
    "restore": ("apps.restore_cli", "restore images: super-resolution, denoising, inpainting"),
    "bench": ("bench", "time scratchnet (CPU, each GPU) and PyTorch (CPU, CUDA) on the same workloads"),
}

# the extra that provides each optional module the commands import
EXTRAS = {"PIL": "apps", "tqdm": "apps", "matplotlib": "apps", "mpi4py": "mpi", "cupy": "gpu"}


def info():
    """Versions, backend, devices and BLAS threads, as a dict (printed by `scratchnet info`)."""
    from .apps.info import info as versions
    return versions()


def app(command):
    """The object (usually a module) that implements `command`."""
    module, _, obj = APPS[command][0].partition(":")
    found = importlib.import_module(f"{__package__}.{module}")
    return getattr(found, obj) if obj else found


def build_parser(argv=None):
    """The command's parser. With argv, only the options of the command it names are added (so only that app is
    imported); without, every command's."""
    parser = Parser(prog="scratchnet", description="scratchnet's apps (deep learning from scratch in NumPy/CuPy) "
                    "from the command line.", epilog="`scratchnet COMMAND --help` lists a command's options. A "
                    "mistake is one line on stderr and exit status 2 (a bad argument) or 1 (a failure while running).")
    parser.add_argument("--version", action="version", version=f"scratchnet {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error (also "
                                                             "SCRATCHNET_DEBUG=1); allowed anywhere on the line")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = next((a for a in argv if not a.startswith("-")), None) if argv is not None else None
    for name, (_, text) in APPS.items():
        p = sub.add_parser(name, help=text, description=text)
        p.set_defaults(command_prog=p.prog)   # a nested subcommand's parser sets its own
        if argv is None or name == chosen:
            app(name).add_arguments(p)
    return parser


def _launch(nproc, argv):
    """Re-run this command (without --nproc) on nproc ranks under mpiexec."""
    from .apps import parallel
    from .distributed.comm import launcher_world
    if launcher_world() is not None:
        raise UsageError("--nproc inside mpiexec: launch with one or the other")
    rest, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a == "--nproc":
            skip = True
        elif not a.startswith("--nproc="):
            rest.append(a)
    return parallel.launch(nproc, rest)


def _failure(err):
    """The one line for an exception raised while a command runs."""
    name = getattr(err, "name", None) if isinstance(err, ImportError) else None
    top = (name or "").split(".")[0]
    if top in EXTRAS:
        return f"needs the {top} package: pip install 'scratchnet[{EXTRAS[top]}]'"
    if isinstance(err, (ValueError, OSError, RuntimeError, LookupError, FloatingPointError, MemoryError)):
        return str(err) or type(err).__name__
    return f"{type(err).__name__}: {err} (an internal error; rerun with --debug for the traceback)"


def main(argv=None):
    """The command. Under mpiexec, a rank that fails (error or exception) ends the whole job with its status, so
    no other rank waits for it forever."""
    from . import distributed
    try:
        code = _main(argv)
    except BaseException as e:   # only with --debug (or SystemExit from --help/--version) does anything get here
        if distributed.world_size() > 1 and not isinstance(e, SystemExit):
            import traceback
            traceback.print_exc()
            distributed.abort(1)
        raise
    if code and distributed.world_size() > 1:
        distributed.abort(code)
    return code


def _main(argv=None):
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    debug = "--debug" in argv or os.environ.get("SCRATCHNET_DEBUG", "") not in ("", "0")
    argv = [a for a in argv if a != "--debug"]
    prog = "scratchnet"
    try:
        parser = build_parser(argv)
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 0
        prog = args.command_prog
        command = app(args.command)
        if hasattr(command, "check"):
            command.check(args)
        if getattr(args, "nproc", None):
            return _launch(args.nproc, argv)
        backend.tune_allocator()   # the apps' step time; a process of our own (SCRATCHNET_MALLOC_TUNE=0: off)
        return command.run(args) or 0
    except UsageError as err:
        if debug:
            raise
        print_error(err.prog or prog, err)
        return 2
    except KeyboardInterrupt:
        if debug:
            raise
        print_error(prog, "interrupted")
        return 130
    except Exception as err:   # the command's own failure: one line, the traceback only with --debug
        if debug:
            raise
        if isinstance(interruption(err), KeyboardInterrupt):   # a Ctrl-C that a lock race re-labelled
            print_error(prog, "interrupted")
            return 130
        print_error(prog, _failure(err))
        return 1


if __name__ == "__main__":
    sys.exit(main())
