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
           "blas threads": f"{backend.blas_threads()} (scratchnet splits work itself; see set_num_threads)",
           "blas kernels": backend.blas_core() or "unknown"}
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


def _gan_sample(argv):
    p = argparse.ArgumentParser(prog="scratchnet gan sample", description="a grid of samples from a GAN checkpoint")
    p.add_argument("checkpoint")
    p.add_argument("--class", dest="class_name", default=None, help="class name or index (conditional models)")
    p.add_argument("-n", type=int, default=64)
    p.add_argument("-o", "--out", default="samples.png")
    p.add_argument("--device", default=None)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    from .apps.gan import sample_grid
    try:
        print(sample_grid(a.checkpoint, a.out, a.n, a.class_name, a.device, a.seed))
    except (ValueError, FileNotFoundError) as err:
        print(f"scratchnet gan sample: {err}", file=sys.stderr)
        return 2
    return 0


def _image_parsers(sub):
    s = sub.add_parser("style", help="neural style transfer (or texture synthesis with --texture)")
    s.add_argument("content", nargs="?", help="content image (path or bundled photo name, e.g. chelsea)")
    s.add_argument("style", nargs="?", help="style image (path or bundled name, e.g. immunohistochemistry)")
    s.add_argument("-o", "--out", default="out/style", help="output folder")
    s.add_argument("--texture", action="store_true", help="synthesise the style image's texture; no content")
    s.add_argument("--net", default="bank", choices=["bank", "vgg19", "vgg16"])
    s.add_argument("--weights", default=None, help="torchvision-layout VGG weights (.safetensors or .npz)")
    s.add_argument("--pool", default="avg", choices=["avg", "max"], help="VGG pooling")
    s.add_argument("--size", type=int, default=256, help="longer side in pixels")
    s.add_argument("--steps", type=int, default=100)
    s.add_argument("--optimizer", default="lbfgs", choices=["lbfgs", "adam"])
    s.add_argument("--style-weight", type=float, default=1.0)
    s.add_argument("--content-weight", type=float, default=0.15)
    s.add_argument("--tv-weight", type=float, default=0.01)
    s.add_argument("--init", default=None, choices=["content", "noise"])
    s.add_argument("--preserve-color", action="store_true", help="keep the content's colours")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--device", default=None)
    d = sub.add_parser("dream", help="DeepDream an image")
    d.add_argument("image", help="image path or bundled photo name")
    d.add_argument("-o", "--out", default="out/dream", help="output folder")
    d.add_argument("--net", default="fashion", choices=["fashion", "bank", "vgg19"])
    d.add_argument("--weights", default=None, help="VGG19 weights (.safetensors or .npz)")
    d.add_argument("--objective", default="block3",
                   help="a layer (block3: its mean square), layer:channels (block2:3,17) or class:NAME")
    d.add_argument("--size", type=int, default=256)
    d.add_argument("--octaves", type=int, default=4)
    d.add_argument("--octave-scale", type=float, default=1.4)
    d.add_argument("--steps", type=int, default=20, help="steps per octave")
    d.add_argument("--lr", type=float, default=0.008)
    d.add_argument("--jitter", type=int, default=16)
    d.add_argument("--invert", action="store_true", help="dream on the negative (garments were bright on black)")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--device", default=None)
    g = sub.add_parser("demo", help="run every app small and write DIR/index.html")
    g.add_argument("--out", default="out/demo")
    g.add_argument("--quick", action="store_true", help="smaller runs: under 2 minutes on 2 cores")
    g.add_argument("--data", default=None)
    g.add_argument("--device", default=None)


def _run_image_command(a):
    from .models.vgg import WeightsError
    try:
        if a.command == "style":
            from .apps.stylize import stylize
            content, style = (None, a.style or a.content) if a.texture else (a.content, a.style)
            if style is None or (content is None and not a.texture):
                raise ValueError("give CONTENT STYLE, or --texture STYLE")
            r = stylize(content, style, a.out, a.texture, a.net, a.weights, a.size, a.steps,
                        a.optimizer, a.style_weight, a.content_weight, a.tv_weight, a.preserve_color, a.init, a.pool,
                        a.seed, a.device)
            print(f"style loss {r['style_loss_start']:.4g} -> {r['style_loss_end']:.4g} "
                  f"({r['style_loss_drop']:.1%} lower) with {r['optimizer']}; wrote {r['result']}, {r['strip']}")
        elif a.command == "dream":
            from .apps.dream import dream
            r = dream(a.image, a.out, a.net, a.objective, a.weights, a.size, a.octaves, a.octave_scale, a.steps,
                      a.lr, a.jitter, a.invert, a.seed, a.device)
            print(f"{r['objective']}: {r['objective_start']:.4g} -> {r['objective_end']:.4g}; wrote {r['result']}")
        else:
            from .apps.gallery import demo
            print(f"gallery: {demo(a.out, a.quick, a.device, a.data)}")
    except KeyboardInterrupt:
        return 130
    except (ValueError, FileNotFoundError, WeightsError, FloatingPointError) as err:
        print(f"scratchnet {a.command}: {err}", file=sys.stderr)
        return 2
    return 0


def _is_rank0():
    from . import distributed
    return distributed.rank() == 0


def _nproc_argument(p):
    p.add_argument("--nproc", type=int, default=None,
                   help="train data-parallel on N processes: runs this command under mpiexec -n N (needs "
                        "scratchnet[mpi]); the same as launching `mpiexec -n N scratchnet ...` yourself")


def _launch(nproc, argv):
    """Re-run this command (without --nproc) on nproc ranks under mpiexec."""
    from .apps import parallel
    from .distributed.comm import launcher_world
    if launcher_world() is not None:
        print("scratchnet: --nproc inside mpiexec: launch with one or the other", file=sys.stderr)
        return 2
    rest, skip = [], False
    for i, a in enumerate(argv):
        if skip:
            skip = False
        elif a == "--nproc":
            skip = True
        elif not a.startswith("--nproc="):
            rest.append(a)
    try:
        return parallel.launch(nproc, rest)
    except (ValueError, FileNotFoundError) as err:
        print(f"scratchnet: {err}", file=sys.stderr)
        return 2


def main(argv=None):
    """The command. Under mpiexec, a rank that fails (error or exception) ends the whole job with its status, so
    no other rank waits for it forever."""
    from . import distributed
    try:
        code = _main(argv)
    except BaseException as e:
        if distributed.world_size() > 1 and not isinstance(e, SystemExit):
            import traceback
            traceback.print_exc()
            distributed.abort(1)
        raise
    if code and distributed.world_size() > 1:
        distributed.abort(code)
    return code


def _main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:2] == ["gan", "sample"]:
        return _gan_sample(argv[2:])
    parser = argparse.ArgumentParser(prog="scratchnet", description=__doc__)
    parser.add_argument("--version", action="version", version=f"scratchnet {__version__}")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("info", help="versions, backend, devices, BLAS threads")
    t = sub.add_parser("train", help="train a Fashion-MNIST classifier and write its report")
    t.add_argument("--model", default="reference", choices=["reference", "strong", "compact"])
    t.add_argument("--data", default=None, help="folder with the IDX files (default: search, then bundled sample)")
    t.add_argument("--epochs", type=int, default=3)
    t.add_argument("--batch-size", type=int, default=64)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--device", default=None)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--out", default="out/cnn")
    t.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.npz")
    t.add_argument("--limit", type=int, default=None, help="use only the first N training images")
    t.add_argument("--cosine", action="store_true", help="cosine learning-rate decay to 0 over the epochs")
    t.add_argument("--augment", action="store_true", help="random horizontal flips of training images")
    t.add_argument("--log-every", type=int, default=20, metavar="N",
                   help="read the running loss/accuracy from the device every N steps (a GPU step never waits)")
    _nproc_argument(t)
    e = sub.add_parser("evaluate", help="test accuracy of a checkpoint")
    e.add_argument("checkpoint")
    e.add_argument("--data", default=None)
    e.add_argument("--device", default=None)
    pr = sub.add_parser("predict", help="top-3 classes of image files")
    pr.add_argument("checkpoint")
    pr.add_argument("images", nargs="+")
    pr.add_argument("--device", default=None)
    tr = sub.add_parser("transfer", help="few-shot transfer learning experiment (frozen / fine-tune / scratch)")
    tr.add_argument("--data", default=None)
    tr.add_argument("--shots", type=int, nargs="+", default=[20, 50, 100])
    tr.add_argument("--pretrain-epochs", type=int, default=2)
    tr.add_argument("--finetune-epochs", type=int, default=30)
    tr.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    tr.add_argument("--device", default=None)
    tr.add_argument("--out", default="out/transfer")
    tr.add_argument("--pretrain-classes", type=int, nargs=5, default=[0, 1, 2, 3, 4])
    g = sub.add_parser("gan", help="train a GAN (or: scratchnet gan sample CHECKPOINT --class sneaker -n 64)")
    g.add_argument("--model", default="dcgan", choices=["dcgan", "mlp"])
    g.add_argument("--conditional", action="store_true")
    g.add_argument("--loss", default="bce", choices=["bce", "lsgan", "wgan-gp"])
    g.add_argument("--steps", type=int, default=2000)
    g.add_argument("--batch-size", type=int, default=64)
    g.add_argument("--lr", type=float, default=2e-4)
    g.add_argument("--data", default=None)
    g.add_argument("--device", default=None)
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--out", default="out/gan")
    g.add_argument("--resume", action="store_true")
    g.add_argument("--sample-every", type=int, default=500)
    g.add_argument("--limit", type=int, default=None)
    g.add_argument("--mode-seeking", type=float, default=None,
                   help="weight of the mode-seeking term (default 0.1 for conditional models, 0 otherwise)")
    g.add_argument("--quality-samples", type=int, default=1000, help="samples per quality measurement (0: none)")
    g.add_argument("--log-every", type=int, default=10, metavar="N",
                   help="read the losses from the device and log them every N steps")
    _nproc_argument(g)
    b = sub.add_parser("bench", help="time scratchnet (CPU, each GPU) and PyTorch (CPU, CUDA) on the same workloads")
    b.add_argument("--out", default="out/bench", help="folder for bench.json and bench.png")
    b.add_argument("--quick", action="store_true", help="fewer sizes and calls (under 2 minutes on 2 cores)")
    b.add_argument("--threads", type=int, default=None, help="CPU threads for every framework (default: all)")
    b.add_argument("--only", nargs="+", default=None, metavar="WORKLOAD",
                   help="cnn_step dcgan_step vgg19_style conv2d conv_transpose2d max_pool2d batch_norm linear matmul")
    b.add_argument("--batches", type=int, nargs="+", default=None, help="batch sizes of the CNN step")
    b.add_argument("--repeat", type=int, default=None, help="timed calls per workload (after warm-up)")
    b.add_argument("--frameworks", nargs="+", default=None, choices=["scratchnet", "torch"])
    _image_parsers(sub)
    args = parser.parse_args(argv)
    if getattr(args, "nproc", None):
        return _launch(args.nproc, argv)
    if args.command in ("style", "dream", "demo"):
        return _run_image_command(args)
    if args.command == "gan":
        from .apps.gan import GANDiverged, train_gan
        try:
            train_gan(args.model, args.conditional, args.loss, args.steps, args.batch_size, args.lr, args.data,
                      args.device, args.seed, args.out, args.resume, args.sample_every, limit=args.limit,
                      quality_samples=args.quality_samples, mode_seeking=args.mode_seeking, log_every=args.log_every)
        except GANDiverged as err:
            print(f"scratchnet gan: {err}", file=sys.stderr)
            return 3
        except (ValueError, FileNotFoundError) as err:
            print(f"scratchnet gan: {err}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            return 130
        if _is_rank0():
            print(f"samples, losses and checkpoint in {args.out}")
        return 0
    if args.command == "transfer":
        from .apps.transfer import transfer
        transfer(args.data, args.shots, args.pretrain_epochs, args.finetune_epochs, args.seeds, device=args.device,
                 out=args.out, pretrain_classes=args.pretrain_classes)
        return 0
    if args.command == "bench":
        from .bench import run
        run(args.out, args.quick, args.threads, args.only, args.batches, args.repeat, args.frameworks)
        return 0
    if args.command == "info":
        for k, v in info().items():
            print(f"{k:>16}: {', '.join(v) if isinstance(v, list) else v}")
        return 0
    if args.command in ("train", "evaluate", "predict"):
        from .apps import classify
        try:
            if args.command == "train":
                hist = classify.train(args.model, args.data, args.epochs, args.batch_size, args.lr, args.device,
                                      args.seed, args.out, args.resume, limit=args.limit, cosine=args.cosine,
                                      augment=args.augment, log_every=args.log_every)
                if _is_rank0():
                    print(f"final test accuracy {hist[-1]['test_acc']:.2%}; report in {args.out}")
            elif args.command == "evaluate":
                from .data import FashionMNIST
                model, ck = classify.load_model(args.checkpoint, args.device)
                acc, loss, _, _ = classify.evaluate(model, FashionMNIST(root=args.data, train=False),
                                                    device=args.device)
                print(f"{args.checkpoint}: test accuracy {acc:.2%}, loss {loss:.4f}")
            else:
                for path, top in zip(args.images, classify.predict(args.checkpoint, args.images, args.device)):
                    print(f"{path}: " + ", ".join(f"{c} {p:.1%}" for c, p in top))
        except KeyboardInterrupt:
            return 130
        except (classify.CheckpointError, ValueError, FileNotFoundError) as err:
            print(f"scratchnet {args.command}: {err}", file=sys.stderr)
            return 2
        return 0
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
