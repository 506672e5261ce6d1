"""`scratchnet restore train|evaluate|apply`: the command line of the restoration app (scratchnet.apps.restore);
it parses the arguments and calls the app's functions."""
import os

from ..models.restoration import MODELS
from . import resume as resume_rules
from .restore import evaluate, load_restorer, train
from .restore_report import describe


def add_arguments(p):
    from .. import cli_args as A
    sub = p.add_subparsers(dest="restore_command", metavar="{train,evaluate,apply}", required=True)
    scale = dict(type=A.int_range(2, 8, what="expected a scale from 2 to 8"), help="upscaling factor (sr)")
    t = sub.add_parser("train", help="train a restoration network and write its report")
    t.add_argument("--task", default="sr", choices=list(MODELS))
    t.add_argument("--model", default=None, help="sr: srresnet (default), espcn, srcnn; denoise: dncnn; "
                                                 "inpaint: unet")
    t.add_argument("--scale", default=3, **scale)
    t.add_argument("--sigma", type=A.float_range(0.0, 255.0, low_open=True), default=25.0,
                   help="noise level on 0-255 (denoise)")
    t.add_argument("--steps", type=A.positive_int, default=None, help="optimizer steps (default: from --epochs, "
                                                                       "else 3000)")
    t.add_argument("--epochs", type=A.positive_int, default=None, help="passes over the --pairs training pairs")
    t.add_argument("--pairs", type=A.positive_int, default=4000, help="training pairs (patches) per epoch")
    t.add_argument("--size", type=A.int_range(12, 512), default=48, help="training patch side (high-res) in pixels")
    t.add_argument("--batch-size", type=A.positive_int, default=16)
    t.add_argument("--lr", type=A.learning_rate, default=None, help="Adam's peak learning rate (cosine decay)")
    t.add_argument("--checkpoint-every", type=A.positive_int, default=None, metavar="N")
    t.add_argument("--log-every", type=A.positive_int, default=20, metavar="N")
    t.add_argument("--loss", choices=["l1", "l2"], default=None,
                   help="training loss (default: l1 for sr and inpaint, l2 for denoise); l2 is what PSNR measures")
    t.add_argument("--prefill", choices=["input", "net", "none"], default="input",
                   help="inpaint: the U-Net corrects a push-pull fill of the whole image ('input', the default), "
                        "or of its input patch computed inside the network ('net'), or paints the holes alone")
    t.add_argument("--no-prefill", dest="prefill", action="store_const", const="none", help="= --prefill none")
    t.add_argument("--init", type=A.existing_file, default=None, metavar="WEIGHTS",
                   help="start from this checkpoint's or weight file's network (same model; e.g. another sigma)")
    t.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.npz")
    t.add_argument("--force", action="store_true", help="with --resume: continue even where settings differ")
    A.add_common(t, "out/restore")
    e = sub.add_parser("evaluate", help="measure a checkpoint (or the shipped weights) on held-out photos")
    e.add_argument("checkpoint", nargs="?", type=A.existing_file, default=None,
                   help="checkpoint.npz (default: the shipped weights)")
    e.add_argument("--task", default="sr", choices=list(MODELS), help="for the shipped weights")
    e.add_argument("--scale", default=None, **scale)
    e.add_argument("--images", nargs="+", type=A.existing_file, default=None,
                   help="ground-truth image files instead of the held-out photos")
    A.add_common(e, "out/restore_eval", seed=False)
    a = sub.add_parser("apply", help="restore an image file (e.g. upscale a photo x3)")
    a.add_argument("image", type=A.existing_file)
    a.add_argument("--checkpoint", type=A.existing_file, default=None,
                   help="checkpoint.npz (default: the shipped weights)")
    a.add_argument("--task", default="sr", choices=list(MODELS), help="for the shipped weights")
    a.add_argument("--scale", default=None, **scale)
    a.add_argument("--mask", type=A.existing_file, default=None,
                   help="inpainting: image of the same size, black = missing")
    a.add_argument("-o", "--out", type=A.out_file, default=None, help="result file (default: NAME_x3.png here)")
    a.add_argument("--device", type=A.device, default=None, help="cpu, cuda or cuda:N")
    for q in (t, e, a):
        q.set_defaults(command_prog=q.prog)


def run(args):
    if args.restore_command == "train":
        mean = train(args.task, args.model, args.scale, args.sigma, args.steps, args.epochs, args.size,
                     args.batch_size, args.lr, args.pairs, args.seed, args.device, args.out, args.resume, args.force,
                     args.checkpoint_every, args.log_every, loss=args.loss,
                     prefill={"input": "input", "net": True, "none": False}[args.prefill], init=args.init)
        print(", ".join(f"{k} {v:.4g}" for k, v in mean.items()) + f"; report in {args.out}")
    elif args.restore_command == "evaluate":
        model, config = load_restorer(args.checkpoint, args.task, args.scale, args.device)
        images = names = None
        if args.images:
            from .restore_apply import read_image
            images = [read_image(p)[0] for p in args.images]
            names = [os.path.splitext(os.path.basename(p))[0] for p in args.images]
        resume_rules.start_folder(args.out)
        rows, mean = evaluate(model, config, args.out, images, names, args.device)
        with open(os.path.join(args.out, "results.md")) as f:
            print(f.read().strip())
    else:
        from .restore_apply import apply
        path, info = apply(args.image, args.out, args.checkpoint, args.task, args.scale, args.mask, args.device)
        print(f"{args.image} ({info['size_in'][0]}×{info['size_in'][1]}) -> {path} "
              f"({info['size_out'][0]}×{info['size_out'][1]}, {describe(info['config'])})")
    return 0
