"""`scratchnet segment train|evaluate|predict`: the arguments of the segmentation app and the call into it.

Every value is range-checked when parsed and every path before anything runs: a mistake is one line on stderr
and exit status 2 (cli_args.UsageError), a failure while running one line and status 1.
"""
from ..cli_args import (UsageError, add_common, count, device, existing_file, float_range, int_range, learning_rate,
                        out_dir, positive_int, weight)


def add_arguments(parser):
    sub = parser.add_subparsers(dest="segment_command", metavar="{train,evaluate,predict}", required=True)
    t = _sub(sub, "train", "train a U-Net and write its checkpoint, metrics and pictures")
    t.add_argument("--epochs", type=positive_int, default=None,
                   help="passes over the training canvases (default: the recipe's steps unless --steps is given)")
    t.add_argument("--steps", type=positive_int, default=None,
                   help=f"train this many steps (with --epochs: at most; default: {_recipes('steps')})")
    t.add_argument("--batch-size", type=positive_int, default=None, help=f"default: {_recipes('batch_size')}")
    t.add_argument("--lr", type=learning_rate, default=None,
                   help=f"AdamW's peak learning rate (default: {_recipes('lr')})")
    t.add_argument("--weight-decay", type=weight, default=1e-2)
    t.add_argument("--schedule", choices=["cosine", "constant"], default="cosine",
                   help="per-step learning rate after the warm-up: cosine from --lr to 0 over the run, or constant")
    t.add_argument("--warmup", type=float_range(0.0, 0.9, what="expected a fraction of the steps from 0 to 0.9"), default=None, metavar="F",
                   help=f"linear warm-up over this fraction of the steps (default: {_recipes('warmup')})")
    t.add_argument("--dice-weight", type=weight, default=1.0, help="λ in loss = weighted cross-entropy + λ·Dice")
    t.add_argument("--binary", action="store_true",
                   help="garment/background instead of the 10 classes (its own default recipe)")
    t.add_argument("--width", type=int_range(1, 256), default=None,
                   help=f"channels of the first U-Net stage (default: {_recipes('width')})")
    t.add_argument("--depth", type=int_range(1, 6), default=None,
                   help=f"poolings (64-pixel canvases allow up to 6; default: {_recipes('depth')})")
    t.add_argument("--train-canvases", type=positive_int, default=None,
                   help="training canvases (default: as many as the split has garments)")
    t.add_argument("--test-canvases", type=positive_int, default=1000, help="held-out canvases scored")
    t.add_argument("--eval-every", type=positive_int, default=None, metavar="N",
                   help="score the held-out canvases, checkpoint and redraw the report every N steps (and at the "
                        f"end; default: {_recipes('eval_every')})")
    t.add_argument("--log-every", type=positive_int, default=20, metavar="N",
                   help="read loss and running mIoU from the device every N steps")
    t.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.npz")
    t.add_argument("--force", action="store_true", help="with --resume: continue even where this run's settings "
                                                        "differ from the checkpoint's")
    add_common(t, "out/segment", data=True, seed=False)
    t.add_argument("--seed", type=count, default=0, help="initialisation and batch order")
    e = _sub(sub, "evaluate", "score a checkpoint on the held-out canvases")
    e.add_argument("checkpoint", type=existing_file)
    e.add_argument("--test-canvases", type=positive_int, default=None, help="default: the run's own count")
    e.add_argument("-o", "--out", type=out_dir, default=None,
                   help="also write metrics.json and the pictures to this folder")
    e.add_argument("--vote", action="store_true",
                   help="also score the per-component vote (each connected predicted garment region takes the "
                        "majority class of its pixels), beside the raw per-pixel prediction")
    add_common(e, data=True, seed=False)
    p = _sub(sub, "predict", "label every pixel of image files")
    p.add_argument("checkpoint", type=existing_file)
    p.add_argument("images", nargs="+", type=existing_file, help="image files (any size and mode Pillow reads)")
    p.add_argument("--size", type=int_range(0, 1024), default=None,
                   help="scale the longer side to this many pixels (default: the training canvas size; 0: keep)")
    p.add_argument("--invert", action="store_true", help="dark garments on a light background")
    p.add_argument("-o", "--out", type=out_dir, default="out/segment_predict",
                   help="folder for IMAGE_segment.png pictures")
    p.add_argument("--device", type=device, default=None, help="cpu, cuda or cuda:N")


def _recipes(key):
    from .segment import RECIPES   # the recipes live with the training code; --help shows both tasks' values
    return f"{RECIPES['classes'][key]}, {RECIPES['binary'][key]} with --binary".replace("%", "%%")


def _sub(sub, name, text):
    p = sub.add_parser(name, help=text, description=text)
    p.set_defaults(command_prog=p.prog)   # errors name `scratchnet segment train`
    return p


def check(args):
    """The checks of arguments that depend on each other, before anything runs."""
    if args.segment_command == "train" and args.force and not args.resume:
        raise UsageError("argument --force: only with --resume")


def run(args):
    from . import segment
    if args.segment_command == "train":
        ck = segment.train(args.out, args.data, args.epochs, args.steps, args.batch_size, args.lr, args.seed,
                           args.device, args.resume, args.force, args.binary, args.width, args.depth,
                           args.dice_weight, args.weight_decay, args.schedule, args.eval_every, args.log_every,
                           args.train_canvases, args.test_canvases, warmup=args.warmup)
        last = ck["evals"][-1]
        what = "foreground IoU" if args.binary else "mIoU over the garment classes"
        print(f"step {last['step']}: held-out {what} {last['miou_no_background']:.4f}, pixel accuracy "
              f"{last['pixel_accuracy']:.4f}; report in {args.out}")
    elif args.segment_command == "evaluate":
        scores, classes, n, voted = segment.evaluate_checkpoint(args.checkpoint, args.data, args.test_canvases,
                                                                args.device, args.out, args.vote)
        print(f"{args.checkpoint} on {n} held-out canvases: mIoU {scores['miou_no_background']:.4f} (garment "
              f"classes), {scores['miou']:.4f} (with background), pixel accuracy {scores['pixel_accuracy']:.4f}")
        print("per-class IoU: " + ", ".join(f"{c} {v:.3f}" for c, v in zip(classes, scores["iou"])))
        if voted is not None:
            print(f"after the per-component vote: mIoU {voted['miou_no_background']:.4f} (garment classes); "
                  "per-class IoU: " + ", ".join(f"{c} {v:.3f}" for c, v in zip(classes, voted["iou"])))
    else:
        for r in segment.predict(args.checkpoint, args.images, args.out, args.size, args.invert, args.device):
            top = sorted(((v, c) for c, v in r["shares"].items() if c != "background" and v > 0), reverse=True)
            found = ", ".join(f"{c} {v:.1%}" for v, c in top[:4]) or "no garment"
            print(f"{r['path']}: {found} of the pixels; wrote {r['picture']}")
    return 0
