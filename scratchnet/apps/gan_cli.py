"""`scratchnet gan` (train) and `scratchnet gan sample CHECKPOINT`: the GAN app's arguments and the call into it.

Every value is range-checked when parsed (cli_args); `check` refuses the combinations that cannot run before
anything starts. The training loop and sampling are in apps/gan.py, importable from Python.
"""
from .. import cli_args
from ..models.gan import GANS
from . import parallel
from .gan import sample_grid, train_gan


def add_arguments(p):
    p.add_argument("--model", default="dcgan", choices=sorted(GANS), help="network pair (models.gan)")
    p.add_argument("--conditional", action="store_true", help="generate a requested class")
    p.add_argument("--loss", default="bce", choices=["bce", "lsgan", "wgan-gp"], help="objective (apps.gan_losses)")
    p.add_argument("--steps", type=cli_args.positive_int, default=2000, help="generator updates")
    p.add_argument("--batch-size", type=cli_args.int_range(2, 4096), default=64, help="real images per step")
    p.add_argument("--lr", type=cli_args.learning_rate, default=2e-4, help="Adam's learning rate (G; D too unless "
                                                                          "--lr-d)")
    p.add_argument("--lr-d", type=cli_args.learning_rate, default=None, help="the discriminator's learning rate")
    p.add_argument("--ema", type=cli_args.float_range(0.0, 1.0, what="expected a decay >= 0 and < 1"), default=0.0,
                   metavar="DECAY",
                   help="sample from an exponential moving average of G's weights with this decay, e.g. 0.99 "
                        "(0: none)")
    p.add_argument("--cosine", action="store_true",
                   help="anneal both learning rates per step to 0 over --steps (cosine)")
    p.add_argument("--reuse-fake", action="store_true",
                   help="one G forward a step, shared by the D and G updates (as PyTorch's DCGAN example)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.npz")
    p.add_argument("--force", action="store_true", help="with --resume: continue even where this run's settings "
                                                        "differ from the checkpoint's")
    p.add_argument("--sample-every", type=cli_args.positive_int, default=500,
                   help="steps between checkpoints, sample grids and quality measurements")
    p.add_argument("--limit", type=cli_args.positive_int, default=None, help="use only the first N training images")
    p.add_argument("--mode-seeking", type=cli_args.weight, default=None,
                   help="weight of the mode-seeking term (default 0.1 for conditional models, 0 otherwise)")
    p.add_argument("--quality-samples", type=cli_args.int_range(0, 100000), default=1000,
                   help="samples per quality measurement (0: none)")
    p.add_argument("--log-every", type=cli_args.positive_int, default=10, metavar="N",
                   help="read the losses from the device and log them every N steps")
    cli_args.add_common(p, "out/gan", data=True)
    cli_args.add_nproc(p)
    sub = p.add_subparsers(dest="gan_command", metavar="{sample}", help="without one: train")
    s = sub.add_parser("sample", help="a grid of samples from a GAN checkpoint",
                       description="a grid of samples from a GAN checkpoint")
    s.set_defaults(command_prog=s.prog)
    s.add_argument("checkpoint", type=cli_args.existing_file, help="a checkpoint.npz written by `scratchnet gan`")
    s.add_argument("--class", dest="class_name", type=cli_args.class_name, default=None,
                   help="class name or index (conditional models)")
    s.add_argument("-n", type=cli_args.int_range(1, 1024), default=64, help="number of samples")
    s.add_argument("-o", "--out", type=cli_args.out_file, default="samples.png", help="the picture to write")
    s.add_argument("--device", type=cli_args.device, default=None)
    s.add_argument("--seed", type=cli_args.count, default=0)


def check(args):
    if args.gan_command is None and args.ema >= 1.0:
        raise cli_args.UsageError(f"argument --ema: expected a decay >= 0 and < 1, got {args.ema:g}")
    if args.gan_command is None and args.limit is not None and args.limit < args.batch_size:
        raise cli_args.UsageError(f"argument --limit: {args.limit} images cannot fill one batch of --batch-size "
                         f"{args.batch_size}")


def run(args):
    if args.gan_command == "sample":
        print(sample_grid(args.checkpoint, args.out, n=args.n, class_name=args.class_name, device=args.device,
                          seed=args.seed))
        return
    train_gan(model=args.model, conditional=args.conditional, loss=args.loss, steps=args.steps,
              batch_size=args.batch_size, lr=args.lr, data=args.data, device=args.device, seed=args.seed,
              out=args.out, resume=args.resume, sample_every=args.sample_every, limit=args.limit,
              quality_samples=args.quality_samples, mode_seeking=args.mode_seeking, force=args.force,
              log_every=args.log_every, ema=args.ema, lr_d=args.lr_d, reuse_fake=args.reuse_fake,
              cosine=args.cosine)
    if parallel.is_writer():
        print(f"samples, losses and checkpoint in {args.out}")
