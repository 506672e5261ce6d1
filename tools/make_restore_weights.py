"""Train the super-resolution networks whose weights ship with scratchnet (scratchnet/models/weights/
restore_sr_x{2,3,4}.safetensors, used by `scratchnet restore apply --scale S` and the demo gallery when no
checkpoint is given). Each scale is one run of the same recipe: --scale 2, 3 and 4.
--task inpaint trains the shipped inpainting U-Net instead (restore_inpaint.safetensors; recipe below).
Or export any finished run (e.g. the σ = 25 denoiser, restore_denoise.safetensors: see README, Image restoration).

Recipe (the app's defaults): SRResNet-style, 4 residual blocks (no BN, as EDSR), width 32, 3×3 tail, bicubic image
skip; L1 loss; Adam, peak learning rate 5e-4 with cosine decay to 0; batch 16 of 48×48 high-resolution patches
(48/S px low-res) of the 8 training photos (RestorationPairs: Pillow bicubic ×S down-sampling, random dihedral
flips), 4000 pairs per epoch, seed 0, `--steps` steps (default 2000). The four held-out photos never train.
Inpainting recipe (--task inpaint): U-Net width 16, depth 3, on the push-pull fill of the holes and the mask
(--prefill input), its correction's last conv starting at zero; L1 loss; Adam, peak learning rate 1e-3 with cosine
decay; batch 16 of 48×48 patches of the training photos, each with its own random_mask (brush strokes 5-15 px wide
and 8-32 px rectangles, hole ratio uniform in 10-30 %), 6400 pairs per epoch, seed 0, --steps (default 2000).
Run: python tools/make_restore_weights.py [--steps 2000] [--scale 3] [--run out/shipped_sr]
     python tools/make_restore_weights.py --task inpaint [--steps 2000] [--run out/shipped_inpaint]
     python tools/make_restore_weights.py --from-checkpoint out/restore/checkpoint.npz   (export a finished run)
"""
import argparse
import os

import numpy

import scratchnet as sn
from scratchnet.apps import restore

p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
p.add_argument("--steps", type=int, default=2000)
p.add_argument("--scale", type=int, default=3)
p.add_argument("--task", choices=["sr", "inpaint"], default="sr")
p.add_argument("--run", default=None, help="training folder (default out/shipped_TASK)")
p.add_argument("--from-checkpoint", default=None, help="export this run's network instead of training one")
args = p.parse_args()
ck_path = args.from_checkpoint
if ck_path is None:
    run = args.run or f"out/shipped_{args.task}"
    if args.task == "sr":
        restore.train("sr", "srresnet", scale=args.scale, steps=args.steps, out=run)
    else:
        restore.train("inpaint", "unet", steps=args.steps, size=48, pairs=6400, out=run)
    ck_path = os.path.join(run, "checkpoint.npz")
model, config = restore.load_restorer(ck_path)
out = restore.shipped_path(config["task"], config["scale"])
sn.save({"config": config, "model": model.state_dict()}, out)
rows, mean = restore.evaluate(restore.load_restorer(out)[0], config, pictures=False)
n = sum(int(numpy.prod(q.shape)) for q in model.parameters())
print(f"{n} parameters; held-out {restore.describe(config)}: " + ", ".join(f"{k} {v:.4g}" for k, v in mean.items())
      + f"; weights: {out} ({os.path.getsize(out) / 1024:.0f} KB)")
