"""Image restoration (what `scratchnet restore train|evaluate|apply` runs): super-resolution, denoising and
inpainting networks trained on patches of the bundled photos and measured on the held-out ones.

Training: Adam with a cosine learning-rate decay to 0 over the run; the batch of step t is a pure function of
(seed, t) (epoch e = t // steps_per_epoch reads a permutation seeded by (seed, e) of the pairs), and the random
state is saved with every checkpoint, so a resumed run repeats the uninterrupted one exactly. A run writes into
its folder: checkpoint.npz, history.json, curves.png (loss, held-out PSNR), results.md/json (a table per image
and the mean) and one picture per held-out image (e.g. low-res | bicubic | scratchnet | ground truth with zoomed
crops, PSNR/SSIM printed on each). `apply` restores any image file with a checkpoint or the shipped weights.
"""
import math
import os

import numpy

from .. import backend, creation, io, optim
from .. import restoration_metrics as M
from ..data import restoration as data
from ..models.restoration import MODELS, push_pull
from ..nn import functional as F
from ..tensor import no_grad
from . import plots
from . import resume as resume_rules
from .common import rng_state, set_rng_state
from .progress import Progress
from .readout import read_floats
from .restore_report import describe, mean_row, picture, write_table

WEIGHTS = os.path.join(os.path.dirname(os.path.dirname(__file__)), "models", "weights")
# the app's model sizes (the paper sizes are the model functions' defaults): small enough to train on a CPU
SIZES = {"srresnet": dict(blocks=4, width=32, tail_kernel=3), "dncnn": dict(depth=10, width=32, batch_norm=False),
         "unet": dict(width=16, depth=3), "srcnn": {}, "espcn": {}}
DEFAULTS = {"sr": dict(model="srresnet", loss="l1"), "denoise": dict(model="dncnn", loss="l2"),
            "inpaint": dict(model="unet", loss="l1")}


class RestoreDiverged(RuntimeError):
    """The loss became NaN or infinite; the last checkpoint on disk is from before it."""


def make_config(task, model=None, scale=3, sigma=25.0, loss=None, prefill="input"):
    """The settings that define a network and what it restores (stored in checkpoints and weight files).
    prefill (inpainting): the U-Net corrects the push-pull fill of the holes, which the app computes on the whole
    image and training cuts from fills of whole photos ('input'), or which the network computes on its own input
    (True: on a training patch that is a fill of the patch alone), or the U-Net paints the holes alone (False)."""
    if task not in MODELS:
        raise ValueError(f"task must be one of {', '.join(MODELS)}, got {task!r}")
    model = model or DEFAULTS[task]["model"]
    if model not in MODELS[task]:
        raise ValueError(f"--model {model!r} is not a {task} model: choose from {', '.join(MODELS[task])}")
    if loss not in (None, "l1", "l2"):
        raise ValueError(f"loss must be 'l1' or 'l2', got {loss!r}")
    if prefill not in (True, False, "input"):
        raise ValueError(f"prefill must be True, False or 'input', got {prefill!r}")
    kwargs = dict(SIZES[model], **({"prefill": prefill} if task == "inpaint" else {}))
    return dict(task=task, model=model, scale=int(scale) if task == "sr" else None,
                sigma=float(sigma) if task == "denoise" else None, loss=loss or DEFAULTS[task]["loss"],
                kwargs=kwargs)


def build(config):
    fn = MODELS[config["task"]][config["model"]]
    if config["model"] in ("espcn", "srresnet"):
        return fn(scale=config["scale"], **config["kwargs"])
    return fn(**config["kwargs"])


def upsampled_input(config):
    """SRCNN restores the bicubic-upsampled image; the other SR models take the low-resolution one."""
    return config["task"] == "sr" and config["model"] == "srcnn"


# ---- degrading a held-out image the same way every time, and running a model on it ----

def degrade(hr, config, index):
    """(input, target, extra) for a (3, H, W) ground truth: the low-res image (sr; target cropped to a multiple of
    the scale), the noisy one (denoise) or the masked one with its mask (inpaint). Image `index` seeds the noise
    and the mask, so every evaluation sees the same ones."""
    if config["task"] == "sr":
        hr = data.modcrop(hr, config["scale"])
        lr = data.bicubic_down(hr, config["scale"])
        return lr, hr, {"bicubic": data.bicubic_up(lr, config["scale"])}
    if config["task"] == "denoise":
        return data.add_noise(hr, config["sigma"], numpy.random.default_rng([2024, index])), hr, {}
    mask = data.random_mask(hr.shape[1], hr.shape[2], numpy.random.default_rng([2025, index]))[None]
    return hr * mask, hr, {"mask": mask}


def _pad_to(x, k):
    """Reflect-pad (N, C, H, W) at the bottom/right to multiples of k (the U-Net halves the size k times)."""
    h, w = x.shape[-2:]
    ph, pw = -h % k, -w % k
    if not ph and not pw:
        return x, (h, w)
    mode = "reflect" if ph < h and pw < w else "replicate"
    return F.pad(x, (0, pw, 0, ph), mode=mode), (h, w)


def reach(config):
    """How many input pixels away an output pixel can see (the receptive field's radius, plus a pixel of slack):
    the margin a tile needs so that tiled and whole-image results agree."""
    kw, name = config["kwargs"], config["model"]
    if name == "srresnet":   # head 9×9, two 3×3 per block, fuse, upsampling conv(s), tail, bicubic skip (2)
        return 4 + 2 * kw.get("blocks", 16) + 1 + 2 + kw.get("tail_kernel", 9) // 2 + 2 + 1
    return {"srcnn": 4 + 2 + 2, "espcn": 2 + 1 + 1, "dncnn": kw.get("depth", 17)}.get(name, 0) + 1


@no_grad()
def restore(model, config, image, extra=None, device=None, tile=96):
    """Run the network on one degraded image (C, H, W) (host array) and return the clipped result (C, H', W').
    Convolution-only SR and denoising nets run on overlapping tiles (a margin wider than their receptive field
    on every side is computed and thrown away), so memory stays bounded for any image size."""
    model.eval()
    dev = backend.device(device) if device is not None else next(model.parameters()).device
    x = numpy.asarray(image, dtype=numpy.float32)
    if upsampled_input(config):
        x = data.bicubic_up(x, config["scale"])
    if config["task"] == "inpaint":
        check_mask(extra.get("mask") if extra else None, x.shape)
        if config["kwargs"].get("prefill") == "input":    # the fill of the whole image, as training patches hold
            x = prefilled(x, extra["mask"])
        inp = creation.tensor(numpy.concatenate([x, extra["mask"]])[None], dtype=numpy.float32, device=dev)
        inp, (h, w) = _pad_to(inp, 2 ** config["kwargs"]["depth"])
        return numpy.clip(model(inp).numpy()[0, :, :h, :w], 0, 1)
    s = config["scale"] if config["task"] == "sr" and not upsampled_input(config) else 1
    c, h, w = x.shape
    out, m = numpy.zeros((c, h * s, w * s), numpy.float32), reach(config)
    for y0 in range(0, h, tile):
        for x0 in range(0, w, tile):
            ya, xa = max(0, y0 - m), max(0, x0 - m)
            yb, xb = min(h, y0 + tile + m), min(w, x0 + tile + m)
            part = model(creation.tensor(x[None, :, ya:yb, xa:xb], device=dev)).numpy()[0]
            oy, ox = (y0 - ya) * s, (x0 - xa) * s
            th, tw = (min(h, y0 + tile) - y0) * s, (min(w, x0 + tile) - x0) * s
            out[:, y0 * s:y0 * s + th, x0 * s:x0 * s + tw] = part[:, oy:oy + th, ox:ox + tw]
    return numpy.clip(out, 0, 1)


def score(out, hr, config, extra, degraded):
    """The figures of one restored image (and of the baseline it is compared with), as floats."""
    def psnr(a, **kw):
        return float(M.psnr(a, hr, **kw))

    def ssim(a, **kw):
        return float(M.ssim(a, hr, **kw))
    if config["task"] == "sr":
        s = config["scale"]
        return dict(psnr_y=psnr(out, shave=s, y_channel=True), ssim_y=ssim(out, shave=s, y_channel=True),
                    psnr_rgb=psnr(out, shave=s), psnr_y_bicubic=psnr(extra["bicubic"], shave=s, y_channel=True),
                    ssim_y_bicubic=ssim(extra["bicubic"], shave=s, y_channel=True))
    if config["task"] == "denoise":
        noisy = numpy.clip(degraded, 0, 1)
        return dict(psnr=psnr(out), ssim=ssim(out), psnr_noisy=psnr(noisy), ssim_noisy=ssim(noisy))
    holes = 1 - extra["mask"]
    # the simplest fill, as a floor: every hole pixel gets the mean colour of the known pixels
    fill = numpy.where(holes == 1, (hr * extra["mask"]).sum((1, 2), keepdims=True) / max(extra["mask"].sum(), 1), hr)
    # the push-pull fill alone (what prefill=True starts from): the network's own gain is psnr_holes minus this
    pp = extra["prefill"] if "prefill" in extra else prefilled(degraded, extra["mask"])
    return dict(psnr_holes=psnr(out, mask=holes), psnr_holes_masked=psnr(fill, mask=holes),
                psnr_holes_prefill=psnr(pp, mask=holes), psnr=psnr(out), ssim=ssim(out))


def check_mask(mask, image_shape):
    """ValueError unless mask is a (1, H, W) array of 0 (hole) and 1 (known pixel) for an image of (C, H, W)."""
    if mask is None:
        raise ValueError("inpainting needs a mask: extra={'mask': (1, H, W) array, 1 = known pixel, 0 = hole}")
    shape = tuple(numpy.shape(mask))
    if len(shape) != 3 or shape[0] != 1 or shape[1:] != tuple(image_shape[-2:]):
        raise ValueError(f"inpainting mask of shape {shape} does not fit the image of shape {tuple(image_shape)}: "
                         f"expected (1, {image_shape[-2]}, {image_shape[-1]})")
    values = numpy.asarray(mask)
    if not numpy.isin(values, (0, 1)).all():
        bad = values[~numpy.isin(values, (0, 1))]
        raise ValueError(f"inpainting mask must hold only 0 (hole) and 1 (known pixel); found {bad.size} other "
                         f"values, e.g. {bad.flat[0]!r}")


@no_grad()
def prefilled(masked, mask):
    """The push-pull fill of a masked image (C, H, W) with its mask (1, H, W), clipped: the inpainting floor
    that the U-Net with prefill=True corrects."""
    fill = push_pull(creation.tensor(numpy.asarray(masked, numpy.float32)[None]),
                     creation.tensor(numpy.asarray(mask, numpy.float32)[None]))
    return numpy.clip(fill.numpy()[0], 0, 1)


def held_out(config):
    """The held-out photos degraded as RestorationPairs(patch=None) degrades them (the baselines' benchmark reads
    the same ones): a list of (name, input, target, extra)."""
    kw = dict(scale=config["scale"] or 3, sigma=config["sigma"] or 25, patch=None)
    if config["task"] == "sr":
        kw["lr_input"] = True
    ds = data.RestorationPairs(config["task"], "test", **kw)
    out = []
    for name, i in zip(data.photo_names("test"), range(len(ds))):
        x, y = ds[i]
        if config["task"] == "sr":
            out.append((name, x, y, {"bicubic": data.bicubic_up(x, config["scale"])}))
        elif config["task"] == "inpaint":
            out.append((name, x[:-1], y, {"mask": x[-1:]}))
        else:
            out.append((name, x, y, {}))
    return out


def evaluate(model, config, out=None, images=None, names=None, device=None, pictures=True):
    """Restore each held-out photo (or the given (3, H, W) ground truths, degraded by `degrade`) and measure it; with `out`, write the table
    and one picture per image. Returns (rows, mean)."""
    cases = held_out(config) if images is None else \
        [(name, *degrade(hr, config, i)) for i, (hr, name) in enumerate(zip(images, names))]
    rows = []
    for name, degraded, hr, extra in cases:
        result = restore(model, config, degraded, extra, device)
        if config["task"] == "inpaint":
            extra = dict(extra, prefill=prefilled(degraded, extra["mask"]))
        row = dict(image=name, **score(result, hr, config, extra, degraded))
        rows.append(row)
        if out and pictures:
            picture(os.path.join(out, f"{config['task']}_{name}.png"), config, degraded, result, hr, extra, row)
    mean = write_table(out, rows, config) if out else mean_row(rows, config["task"])
    return rows, mean


# ---- training ----

def batch(pairs, step, batch_size, seed):
    """The (inputs, targets) of step `step`, stacked host arrays."""
    per_epoch = len(pairs) // batch_size
    if per_epoch < 1:
        raise ValueError(f"{len(pairs)} training pairs cannot fill one batch of --batch-size {batch_size}")
    epoch, k = divmod(step, per_epoch)
    order = numpy.random.default_rng([seed, epoch]).permutation(len(pairs))
    xs, ys = zip(*(pairs[int(i)] for i in order[k * batch_size:(k + 1) * batch_size]))
    return numpy.stack(xs).astype(numpy.float32), numpy.stack(ys).astype(numpy.float32)


def cosine_lr(lr, step, steps):
    """Cosine decay from lr at step 0 towards 0 at `steps`."""
    return lr * 0.5 * (1 + math.cos(math.pi * step / steps))


def training_pairs(config, patch, pairs, seed):
    kw = dict(scale=config["scale"] or 3, sigma=config["sigma"] or 25, patch=patch, size=pairs, seed=seed)
    if config["task"] == "sr":
        kw["lr_input"] = not upsampled_input(config)
    if config["task"] == "inpaint":
        # masks drawn on the patch: their shapes have the held-out photos' sizes in pixels (see random_mask) and each
        # patch gets a hole ratio from the stated range; 6× cheaper than a window of a whole-photo mask and its fill
        kw["mask_scale"] = "patch"
        if config["kwargs"]["prefill"] == "input":
            kw["fill"] = prefilled
    return data.RestorationPairs(config["task"], "train", **kw)


def train_step(model, opt, config, x, y):
    out = model(x)
    loss = F.l1_loss(out, y) if config["loss"] == "l1" else F.mse_loss(out, y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    with no_grad():
        return loss.detach(), ((out.detach() - y) ** 2).mean()


def train(task="sr", model=None, scale=3, sigma=25.0, steps=None, epochs=None, size=48, batch_size=16, lr=None,
          pairs=4000, seed=0, device=None, out="out/restore", resume=False, force=False, checkpoint_every=None,
          log_every=20, progress=True, pictures=True, prefill="input", loss=None, init=None):
    """Train a restoration network and write its report; returns the results' mean row on the held-out photos.
    steps: optimizer steps (default: `epochs` passes over `pairs` training pairs, or 3000). Checkpoints every
    `checkpoint_every` steps (default: a tenth of the run) and at the end, each with the held-out PSNR.
    prefill (inpainting): see make_config. loss: 'l1' or 'l2' (default: the task's, see DEFAULTS).
    init: a checkpoint or weight file of the same network (task, model and sizes; the noise level or scale it was
    trained for may differ) whose weights start the run, e.g. a σ = 50 denoiser fine-tuned from the σ = 25 one;
    the optimizer and the schedule start fresh."""
    config = make_config(task, model, scale, sigma, loss, prefill=prefill)
    steps = steps or (math.ceil(epochs * pairs / batch_size) if epochs else 3000)
    lr = lr or (5e-4 if config["model"] in ("srresnet", "espcn") else 1e-3)
    checkpoint_every = checkpoint_every or max(1, steps // 10)
    device = backend.device(device) if device is not None else backend.get_default_device()
    backend.manual_seed(seed)
    resume_rules.start_folder(out)
    net = build(config).to(device)
    if init is not None:
        net.load_state_dict(_init_weights(init, config))
    opt = optim.Adam(net.parameters(), lr=lr)
    ds = training_pairs(config, size, pairs, seed)
    settings = dict(config=config, steps=steps, size=size, batch_size=batch_size, lr=lr, pairs=len(ds), seed=seed)
    if init is not None:
        settings["init"] = os.path.basename(init)
    ck_path, history, evals, start = os.path.join(out, "checkpoint.npz"), [], [], 0
    if resume and os.path.exists(ck_path):
        ck = io.load(ck_path)
        forced = resume_rules.check_settings(ck_path, ck.get("settings"), settings, force)
        net.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        start, history, evals = int(ck["step"]), list(ck["history"]), list(ck["evals"])
        set_rng_state(ck["rng"])
        if progress and forced:
            print(f"resuming with other settings (forced): {forced}")
    bar = Progress(steps - start, f"{config['model']} {describe(config)}") if progress else None
    net.train()
    for step in range(start, steps):
        xb, yb = batch(ds, step, batch_size, seed)
        for group in opt.param_groups:
            group["lr"] = cosine_lr(lr, step, steps)
        loss, mse = train_step(net, opt, config, creation.tensor(xb, dtype=numpy.float32, device=device),
                                 creation.tensor(yb, dtype=numpy.float32, device=device))
        if step % log_every == 0 or step + 1 == steps:   # the step's only device->host read
            f = read_floats({"loss": loss, "mse": mse})
            if not all(math.isfinite(v) for v in f.values()):
                raise RestoreDiverged(f"step {step + 1}: loss {f['loss']}: training diverged; the last good "
                                      f"checkpoint is {ck_path}")
            history.append(dict(step=step + 1, loss=f["loss"], psnr=-10 * math.log10(max(f["mse"], 1e-12))))
            if bar:
                bar.update(step + 1 - start, (step + 1 - start) * batch_size, loss=f["loss"],
                           psnr=history[-1]["psnr"])
        if (step + 1) % checkpoint_every == 0 or step + 1 == steps:
            rows, _ = evaluate(net, config, device=device)
            key = "psnr_y" if task == "sr" else "psnr_holes" if task == "inpaint" else "psnr"
            evals.append(dict(step=step + 1, psnr=float(numpy.mean([r[key] for r in rows]))))
            net.train()
            io.save(dict(config=config, model=net.state_dict(), optimizer=opt.state_dict(), step=step + 1,
                         history=history, evals=evals, rng=rng_state(), settings=settings), ck_path)
            io.fault_point("restore:checkpoint")
    if bar:
        bar.close()
    return report(net, config, out, history, evals, device, pictures)


def _init_weights(path, config):
    """The state dict of the network in `path` (checkpoint or weight file), refused unless it is the network
    `config` builds (same task, model and sizes)."""
    ck = io.load(path)
    if not isinstance(ck, dict) or "config" not in ck or "model" not in ck:
        raise ValueError(f"--init {path}: not a scratchnet restoration checkpoint or weight file (no config/model)")
    have = {k: ck["config"].get(k) for k in ("task", "model", "kwargs")}
    want = {k: config[k] for k in ("task", "model", "kwargs")}
    if have != want:
        raise ValueError(f"--init {path} holds another network: {have}, this run builds {want}")
    return ck["model"]


def report(net, config, out, history, evals, device=None, pictures=True):
    """Everything but the checkpoint, drawn from what the checkpoint holds (so a resumed run writes the same)."""
    io.atomic_write_json(os.path.join(out, "history.json"), {"config": config, "train": history, "held_out": evals},
                         indent=1)
    plots.line_charts(os.path.join(out, "curves.png"), [
        dict(title=f"training loss ({config['loss'].upper()})", series={"loss": [h["loss"] for h in history]},
             x=[h["step"] for h in history]),
        dict(title="PSNR (dB)", x=[e["step"] for e in evals], log=False,
             series={"held-out photos": [e["psnr"] for e in evals]})], xlabel="training step")
    return evaluate(net, config, out, device=device, pictures=pictures)[1]


# ---- trained networks: checkpoints and the shipped weights ----

def shipped_path(task, scale):
    return os.path.join(WEIGHTS, f"restore_{task}_x{scale}.safetensors" if task == "sr" else
                        f"restore_{task}.safetensors")


def load_restorer(checkpoint=None, task="sr", scale=None, device=None):
    """(model in eval mode, config) from a checkpoint or weight file, or the shipped weights for task/scale."""
    if checkpoint is None:
        path = shipped_path(task, scale or 3)
        if not os.path.exists(path):
            have = sorted(f for f in os.listdir(WEIGHTS) if f.startswith("restore_"))
            raise ValueError(f"no shipped weights for {task}" + (f" ×{scale or 3}" if task == "sr" else "") +
                             f" (shipped: {', '.join(have) or 'none'}); pass --checkpoint from `scratchnet "
                             f"restore train`")
        checkpoint = path
    ck = io.load(checkpoint)
    if not isinstance(ck, dict) or "config" not in ck or "model" not in ck:
        raise ValueError(f"{checkpoint}: not a scratchnet restoration checkpoint (no config/model)")
    config = ck["config"]
    if scale is not None and config["task"] == "sr" and config["scale"] != scale:
        raise ValueError(f"{checkpoint} upscales ×{config['scale']}, not ×{scale}")
    model = build(config)
    model.load_state_dict(ck["model"])
    return model.to(device or backend.get_default_device()).eval(), config
