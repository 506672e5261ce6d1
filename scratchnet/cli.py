"""The `scratchnet` command: one subcommand per app. It only parses arguments and calls importable functions.

A user mistake is one line on stderr and exit status 2 (a bad argument, found before anything runs) or 1 (a
failure while running); `--debug` or SCRATCHNET_DEBUG=1 shows the traceback instead.
"""
import os
import platform
import sys

import numpy

from . import __version__, backend
from .cli_args import (Parser, UsageError, check_dir, check_file, check_image, check_out_dir, check_out_file,
                       class_name, count, device, float_range, image_size, int_range, learning_rate, positive_int,
                       print_error, weight)

# the extra that provides each optional module the commands import
EXTRAS = {"PIL": "apps", "tqdm": "apps", "matplotlib": "apps", "mpi4py": "mpi", "cupy": "gpu"}


def info():
    """Versions, backend, devices and BLAS threads, as a dict (printed by `scratchnet info`)."""
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


def _common(p, out=None, data=False, seed=True):
    p.add_argument("--device", type=device, default=None, help="cpu, cuda or cuda:N (default: $SCRATCHNET_DEVICE "
                                                                "or cpu)")
    if seed:
        p.add_argument("--seed", type=count, default=0)
    if out:
        p.add_argument("-o", "--out", default=out, help="output folder")
    if data:
        p.add_argument("--data", default=None, help="folder with the IDX files (default: search, then the bundled "
                                                    "sample)")


def _gan_sample(argv):
    p = Parser(prog="scratchnet gan sample", description="a grid of samples from a GAN checkpoint")
    p.add_argument("checkpoint")
    p.add_argument("--class", dest="class_name", type=class_name, default=None,
                   help="class name or index (conditional models)")
    p.add_argument("-n", type=int_range(1, 1024), default=64)
    p.add_argument("-o", "--out", default="samples.png")
    _common(p)
    a = p.parse_args(argv)
    check_file(a.checkpoint, "checkpoint")
    check_out_file(a.out)
    from .apps.gan import sample_grid
    print(sample_grid(a.checkpoint, a.out, a.n, a.class_name, a.device, a.seed))
    return 0


def _classify_parsers(sub):
    t = sub.add_parser("train", help="train a Fashion-MNIST classifier and write its report")
    t.add_argument("--model", default="reference", choices=["reference", "strong", "compact"])
    t.add_argument("--epochs", type=positive_int, default=3)
    t.add_argument("--batch-size", type=positive_int, default=64)
    t.add_argument("--lr", type=learning_rate, default=1e-3)
    t.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.npz")
    t.add_argument("--force", action="store_true", help="with --resume: continue even where this run's settings "
                                                        "differ from the checkpoint's")
    t.add_argument("--limit", type=positive_int, default=None, help="use only the first N training images")
    t.add_argument("--cosine", action="store_true", help="cosine learning-rate decay to 0 over the epochs")
    t.add_argument("--augment", action="store_true", help="random horizontal flips of training images")
    t.add_argument("--log-every", type=positive_int, default=20, metavar="N",
                   help="read the running loss/accuracy from the device every N steps (a GPU step never waits)")
    _common(t, "out/cnn", data=True)
    _nproc_argument(t)
    e = sub.add_parser("evaluate", help="test accuracy of a checkpoint")
    e.add_argument("checkpoint")
    e.add_argument("--data", default=None)
    e.add_argument("--device", type=device, default=None)
    pr = sub.add_parser("predict", help="top-3 classes of image files")
    pr.add_argument("checkpoint")
    pr.add_argument("images", nargs="+")
    pr.add_argument("--device", type=device, default=None)
    tr = sub.add_parser("transfer", help="few-shot transfer learning experiment (frozen / fine-tune / scratch)")
    tr.add_argument("--shots", type=int_range(1, 6000), nargs="+", default=[20, 50, 100])
    tr.add_argument("--pretrain-epochs", type=positive_int, default=2)
    tr.add_argument("--finetune-epochs", type=positive_int, default=30)
    tr.add_argument("--seeds", type=count, nargs="+", default=[0, 1, 2])
    tr.add_argument("--pretrain-classes", type=int_range(0, 9), nargs=5, default=[0, 1, 2, 3, 4])
    _common(tr, "out/transfer", data=True, seed=False)


def _gan_parser(sub):
    g = sub.add_parser("gan", help="train a GAN (or: scratchnet gan sample CHECKPOINT --class sneaker -n 64)")
    g.add_argument("--model", default="dcgan", choices=["dcgan", "mlp"])
    g.add_argument("--conditional", action="store_true")
    g.add_argument("--loss", default="bce", choices=["bce", "lsgan", "wgan-gp"])
    g.add_argument("--steps", type=positive_int, default=2000)
    g.add_argument("--batch-size", type=int_range(2, 4096), default=64)
    g.add_argument("--lr", type=learning_rate, default=2e-4)
    g.add_argument("--resume", action="store_true")
    g.add_argument("--force", action="store_true", help="with --resume: continue even where this run's settings "
                                                        "differ from the checkpoint's")
    g.add_argument("--sample-every", type=positive_int, default=500)
    g.add_argument("--limit", type=positive_int, default=None)
    g.add_argument("--mode-seeking", type=weight, default=None,
                   help="weight of the mode-seeking term (default 0.1 for conditional models, 0 otherwise)")
    g.add_argument("--quality-samples", type=int_range(0, 100000), default=1000,
                   help="samples per quality measurement (0: none)")
    g.add_argument("--log-every", type=positive_int, default=10, metavar="N",
                   help="read the losses from the device and log them every N steps")
    _common(g, "out/gan", data=True)
    _nproc_argument(g)


def _image_parsers(sub):
    s = sub.add_parser("style", help="neural style transfer (or texture synthesis with --texture)")
    s.add_argument("content", nargs="?", help="content image (path or bundled photo name, e.g. chelsea)")
    s.add_argument("style", nargs="?", help="style image (path or bundled name, e.g. immunohistochemistry)")
    s.add_argument("--texture", action="store_true", help="synthesise the style image's texture; no content")
    s.add_argument("--net", default="bank", choices=["bank", "vgg19", "vgg16"])
    s.add_argument("--weights", default=None, help="torchvision-layout VGG weights (.safetensors or .npz)")
    s.add_argument("--pool", default="avg", choices=["avg", "max"], help="VGG pooling")
    s.add_argument("--size", type=image_size, default=256, help="longer side in pixels")
    s.add_argument("--steps", type=positive_int, default=100)
    s.add_argument("--optimizer", default="lbfgs", choices=["lbfgs", "adam"])
    s.add_argument("--style-weight", type=weight, default=1.0)
    s.add_argument("--content-weight", type=weight, default=0.15)
    s.add_argument("--tv-weight", type=weight, default=0.01)
    s.add_argument("--init", default=None, choices=["content", "noise"])
    s.add_argument("--preserve-color", action="store_true", help="keep the content's colours")
    _common(s, "out/style")
    d = sub.add_parser("dream", help="DeepDream an image")
    d.add_argument("image", help="image path or bundled photo name")
    d.add_argument("--net", default="fashion", choices=["fashion", "bank", "vgg19"])
    d.add_argument("--weights", default=None, help="VGG19 weights (.safetensors or .npz)")
    d.add_argument("--objective", default="block3",
                   help="a layer (block3: its mean square), layer:channels (block2:3,17) or class:NAME")
    d.add_argument("--size", type=image_size, default=256)
    d.add_argument("--octaves", type=int_range(1, 8), default=4)
    d.add_argument("--octave-scale", type=float_range(1.0, 4.0), default=1.4)
    d.add_argument("--steps", type=positive_int, default=20, help="steps per octave")
    d.add_argument("--lr", type=learning_rate, default=0.008)
    d.add_argument("--jitter", type=int_range(0, 512), default=16)
    d.add_argument("--invert", action="store_true", help="dream on the negative (garments were bright on black)")
    _common(d, "out/dream")
    g = sub.add_parser("demo", help="run every app small and write DIR/index.html")
    g.add_argument("--quick", action="store_true", help="smaller runs: under 2 minutes on 2 cores")
    _common(g, "out/demo", data=True, seed=False)


def _nproc_argument(p):
    p.add_argument("--nproc", type=positive_int, default=None,
                   help="train data-parallel on N processes: runs this command under mpiexec -n N (needs "
                        "scratchnet[mpi]); the same as launching `mpiexec -n N scratchnet ...` yourself")


def _check(a):
    """The checks argparse cannot make: paths, and arguments that depend on each other. Raises UsageError."""
    if getattr(a, "data", None) is not None:
        check_dir(a.data)
    if a.command in ("train", "gan", "transfer", "style", "dream", "demo", "bench"):
        check_out_dir(a.out, "-o/--out" if a.command in ("style", "dream") else "--out")
    if a.command in ("evaluate", "predict"):
        check_file(a.checkpoint, "checkpoint")
    if a.command == "predict":
        for path in a.images:
            check_file(path, "images")
    if getattr(a, "weights", None) is not None:
        check_file(a.weights, "--weights")
    if a.command == "gan" and a.limit is not None and a.limit < a.batch_size:
        raise UsageError(f"argument --limit: {a.limit} images cannot fill one batch of --batch-size {a.batch_size}")
    if a.command == "transfer" and len(set(a.pretrain_classes)) != 5:
        raise UsageError(f"argument --pretrain-classes: expected 5 different classes, got {a.pretrain_classes}")
    if a.command == "style":
        content, style = (None, a.style or a.content) if a.texture else (a.content, a.style)
        if style is None or (content is None and not a.texture):
            raise UsageError("give CONTENT STYLE, or --texture STYLE")
        a.content, a.style = content, style
        for name, flag in ((content, "content"), (style, "style")):
            if name is not None:
                check_image(name, flag)
    if a.command == "dream":
        check_image(a.image, "image")
        from .apps.dream import FASHION_LAYERS, parse_objective
        try:
            layer = parse_objective(a.objective)[0]
        except ValueError as e:
            raise UsageError(f"argument --objective: {e}") from None
        if a.net == "fashion" and layer not in FASHION_LAYERS:
            raise UsageError(f"argument --objective: the fashion network has no layer {layer!r}; choose from "
                             f"{', '.join(FASHION_LAYERS)}")


def _run(a, argv):
    if getattr(a, "nproc", None):
        return _launch(a.nproc, argv)
    if a.command == "info":
        for k, v in info().items():
            print(f"{k:>16}: {', '.join(v) if isinstance(v, list) else v}")
    elif a.command == "train":
        from .apps import classify
        hist = classify.train(a.model, a.data, a.epochs, a.batch_size, a.lr, a.device, a.seed, a.out, a.resume,
                              limit=a.limit, cosine=a.cosine, augment=a.augment, force=a.force,
                              log_every=a.log_every)
        if _is_rank0():
            print(f"final test accuracy {hist[-1]['test_acc']:.2%}; report in {a.out}")
    elif a.command == "evaluate":
        from .apps import classify
        from .data import FashionMNIST
        model, ck = classify.load_model(a.checkpoint, a.device)
        acc, loss, _, _ = classify.evaluate(model, FashionMNIST(root=a.data, train=False), device=a.device)
        print(f"{a.checkpoint}: test accuracy {acc:.2%}, loss {loss:.4f}")
    elif a.command == "predict":
        from .apps import classify
        for path, top in zip(a.images, classify.predict(a.checkpoint, a.images, a.device)):
            print(f"{path}: " + ", ".join(f"{c} {p:.1%}" for c, p in top))
    elif a.command == "transfer":
        from .apps.transfer import transfer
        transfer(a.data, a.shots, a.pretrain_epochs, a.finetune_epochs, a.seeds, device=a.device, out=a.out,
                 pretrain_classes=a.pretrain_classes)
    elif a.command == "gan":
        from .apps.gan import train_gan
        train_gan(a.model, a.conditional, a.loss, a.steps, a.batch_size, a.lr, a.data, a.device, a.seed, a.out,
                  a.resume, a.sample_every, limit=a.limit, quality_samples=a.quality_samples,
                  mode_seeking=a.mode_seeking, force=a.force, log_every=a.log_every)
        if _is_rank0():
            print(f"samples, losses and checkpoint in {a.out}")
    elif a.command == "style":
        from .apps.stylize import stylize
        r = stylize(a.content, a.style, a.out, a.texture, a.net, a.weights, a.size, a.steps, a.optimizer,
                    a.style_weight, a.content_weight, a.tv_weight, a.preserve_color, a.init, a.pool, a.seed, a.device)
        print(f"style loss {r['style_loss_start']:.4g} -> {r['style_loss_end']:.4g} "
              f"({r['style_loss_drop']:.1%} lower) with {r['optimizer']}; wrote {r['result']}, {r['strip']}")
    elif a.command == "dream":
        from .apps.dream import dream
        r = dream(a.image, a.out, a.net, a.objective, a.weights, a.size, a.octaves, a.octave_scale, a.steps,
                  a.lr, a.jitter, a.invert, a.seed, a.device)
        print(f"{r['objective']}: {r['objective_start']:.4g} -> {r['objective_end']:.4g}; wrote {r['result']}")
    elif a.command == "bench":
        from .bench import run
        run(a.out, a.quick, a.threads, a.only, a.batches, a.repeat, a.frameworks)
    elif a.command == "segment":
        from .apps import segment
        return segment.run(a)
    elif a.command == "demo":
        from .apps.gallery import demo
        print(f"gallery: {demo(a.out, a.quick, a.device, a.data)}")
    return 0


def _is_rank0():
    from . import distributed
    return distributed.rank() == 0


def _launch(nproc, argv):
    """Re-run this command (without --nproc) on nproc ranks under mpiexec."""
    from .apps import parallel
    from .distributed.comm import launcher_world
    if launcher_world() is not None:
        raise UsageError("--nproc inside mpiexec: launch with one or the other")
    rest, skip = [], False
    for i, a in enumerate(argv):
        if skip:
            skip = False
        elif a == "--nproc":
            skip = True
        elif not a.startswith("--nproc="):
            rest.append(a)
    return parallel.launch(nproc, rest)


def build_parser():
    parser = Parser(prog="scratchnet", description=__doc__)
    parser.add_argument("--version", action="version", version=f"scratchnet {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error (also "
                                                             "SCRATCHNET_DEBUG=1); allowed anywhere on the line")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("info", help="versions, backend, devices, BLAS threads")
    _classify_parsers(sub)
    _gan_parser(sub)
    _image_parsers(sub)
    _bench_parser(sub)
    from .apps import segment_cli
    segment_cli.add_arguments(sub.add_parser("segment", help=segment_cli.HELP))
    return parser


def _bench_parser(sub):
    b = sub.add_parser("bench", help="time scratchnet (CPU, each GPU) and PyTorch (CPU, CUDA) on the same workloads")
    b.add_argument("--out", default="out/bench", help="folder for bench.json and bench.png")
    b.add_argument("--quick", action="store_true", help="fewer sizes and calls (under 2 minutes on 2 cores)")
    b.add_argument("--threads", type=positive_int, default=None, help="CPU threads for every framework (default: all)")
    b.add_argument("--only", nargs="+", default=None, metavar="WORKLOAD",
                   choices=["cnn_step", "dcgan_step", "vgg19_style", "conv2d", "conv_transpose2d", "max_pool2d",
                            "batch_norm", "linear", "matmul"], help="run only these workloads")
    b.add_argument("--batches", type=positive_int, nargs="+", default=None, help="batch sizes of the CNN step")
    b.add_argument("--repeat", type=positive_int, default=None, help="timed calls per workload (after warm-up)")
    b.add_argument("--frameworks", nargs="+", default=None, choices=["scratchnet", "torch"])


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
        if argv[:2] == ["gan", "sample"]:
            prog = "scratchnet gan sample"
            return _gan_sample(argv[2:])
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 0
        prog = f"scratchnet {args.command}"
        _check(args)
        backend.tune_allocator()   # the apps' step time; a process of our own (SCRATCHNET_MALLOC_TUNE=0: off)
        return _run(args, argv)
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
        print_error(prog, _failure(err))
        return 1


if __name__ == "__main__":
    sys.exit(main())
