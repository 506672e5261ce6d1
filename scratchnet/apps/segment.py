"""Semantic segmentation of Fashion-MNIST canvases with a U-Net: what `scratchnet segment train/evaluate/predict`
run. A command-line app module: `add_arguments(parser)` and `run(args)`.

Training: AdamW, the learning rate warmed up linearly, then on a per-step cosine (or constant) schedule, loss =
class-weighted per-pixel cross-entropy + λ·soft Dice over the garment classes; every setting not given comes from
the task's recipe (RECIPES). The batch of step t is a pure function of (seed, t) (epoch
e = t // steps_per_epoch reads a permutation seeded by (seed, e)), so a resumed run repeats an uninterrupted one.
The canvases themselves (train and held-out) are the same in every run (canvas seed 0); --seed sets the weights'
initialisation and the order. Every --eval-every steps (and at the end) the model is scored on the held-out
canvases, the checkpoint is written (atomically) and the report is drawn from it (see segment_report).
"""
import math
import os
import time

import numpy

from .. import backend, creation, io, optim
from ..data import FashionSegmentation
from ..models.unet import unet
from ..nn import functional as F
from ..tensor import no_grad
from . import resume as resume_rules
from .classify import CheckpointError
from .common import rng_state, set_rng_state
from .progress import Progress
from .readout import Readout
from .segment_report import mask_panels, write_report
from .segment_vote import component_vote
from .segmentation_metrics import ConfusionMatrix, scores_from_confusion, soft_dice_loss

CANVAS_SEED = 0
PICTURED = 6          # held-out canvases shown in predictions.png
WEIGHT_SAMPLE = 2000  # training canvases whose pixel counts set the class weights
MAX_SIDE = 1024       # predict: the largest image side taken (activations grow with the pixel count)
# The default recipe of each task (what `scratchnet segment train [--binary]` runs; the README gives the scores and
# how the step counts fit the time budgets: 10 garment classes, garment mIoU >= 0.70 within 15 minutes of 2 CPU
# cores; binary, foreground IoU >= 0.95 within 2 minutes).
RECIPES = {
    "classes": dict(steps=2400, batch_size=16, lr=6e-3, width=16, depth=4, warmup=0.05, eval_every=600),
    "binary": dict(steps=200, batch_size=16, lr=3e-3, width=8, depth=3, warmup=0.05, eval_every=250),
}


def datasets(data=None, binary=False, train_canvases=None, test_canvases=1000):
    """(train, held-out) FashionSegmentation sets: train canvases from the train garments, held-out ones from the
    test garments, both with canvas seed 0."""
    tr = FashionSegmentation(root=data, train=True, binary=binary, seed=CANVAS_SEED, length=train_canvases)
    te = FashionSegmentation(root=data, train=False, binary=binary, seed=CANVAS_SEED, length=test_canvases)
    return tr, te


def batch_indices(n, step, batch_size, seed):
    """Canvas indices of training step `step` (0-based): whole batches of a per-epoch permutation."""
    per_epoch = n // batch_size
    epoch, k = divmod(step, per_epoch)
    order = numpy.random.default_rng([seed, epoch]).permutation(n)
    return order[k * batch_size:(k + 1) * batch_size]


def batch_arrays(ds, indices):
    """(images float32 (N, 1, H, W), masks int64 (N, H, W)) of the canvases `indices`, on the host."""
    items = [ds[int(i)] for i in indices]
    return numpy.stack([x for x, _ in items]), numpy.stack([y for _, y in items])


def class_weights(ds, n=WEIGHT_SAMPLE):
    """Per-class cross-entropy weights against imbalance (the background is most of a canvas): 1/sqrt(share of
    pixels) over the first n training canvases, scaled to mean 1. A class never seen gets the largest weight."""
    counts = numpy.zeros(ds.num_classes)
    for i in range(min(n, len(ds))):
        counts += numpy.bincount(ds[i][1].ravel(), minlength=ds.num_classes)
    share = counts / max(counts.sum(), 1)
    w = numpy.where(share > 0, 1 / numpy.sqrt(numpy.maximum(share, 1e-12)), 0.0)
    w[share == 0] = w.max() if w.max() > 0 else 1.0
    return (w / w.mean()).astype(numpy.float32)


def segmentation_loss(logits, target, weight, dice_weight):
    """Class-weighted per-pixel cross-entropy + dice_weight · soft Dice over the classes other than background."""
    loss = F.cross_entropy(logits, target, weight=weight)
    if dice_weight:
        loss = loss + dice_weight * soft_dice_loss(logits, target, include_background=False)
    return loss


def train_step(model, opt, x, y, weight, dice_weight, sums, confusion):
    """One AdamW step on a batch already on the device. The loss is added to `sums` (a Readout) and the batch's
    predictions to `confusion` on the device: the step never waits for the host."""
    logits = model(x)
    loss = segmentation_loss(logits, y, weight, dice_weight)
    opt.zero_grad()
    loss.backward()
    opt.step()
    sums.add(loss=loss.detach())
    confusion.update(logits.detach(), y)
    return loss


def lr_at(settings, step):
    """The learning rate of step `step` (0-based). First a linear warm-up over the first round(warmup · steps)
    steps (step t < W gets lr·(t + 1)/W: a high peak rate on fresh BatchNorm statistics and Adam moments
    diverges without it), then constant, or cosine from lr to 0 over the remaining steps (one-cycle shape)."""
    lr, total = settings["lr"], settings["steps"]
    warm = round(settings.get("warmup", 0.0) * total)   # checkpoints written before warm-up existed had none
    if step < warm:
        return lr * (step + 1) / warm
    if settings["schedule"] == "constant":
        return lr
    return lr * (1 + math.cos(math.pi * (step - warm) / (total - warm))) / 2


@no_grad()
def evaluate(model, ds, device=None, batch_size=100, pictured=PICTURED, vote=False):
    """(confusion matrix (C, C) int64, predicted masks of the first `pictured` canvases, confusion matrix of the
    per-component vote or None) on `ds`. vote=True also scores the predictions after segment_vote.component_vote
    (each connected predicted garment region takes its majority class), beside the raw ones, never instead."""
    was_training = model.training
    model.eval()
    cm, first = ConfusionMatrix(ds.num_classes), None
    voted = ConfusionMatrix(ds.num_classes) if vote else None
    for lo in range(0, len(ds), batch_size):
        x, y = batch_arrays(ds, range(lo, min(lo + batch_size, len(ds))))
        logits = model(creation.tensor(x, dtype=numpy.float32, device=device))
        pred = logits.argmax(1)
        target = creation.tensor(y, dtype=numpy.int64, device=device)
        cm.update(pred, target)
        if voted is not None:
            voted.update(component_vote(pred.data, ds.num_classes), target)
        if first is None:
            first = pred[:pictured]
    model.train(was_training)
    preds = first.numpy().astype(numpy.uint8) if first is not None else numpy.zeros((0, ds.size, ds.size), "uint8")
    return cm.matrix(), preds, None if voted is None else voted.matrix()


def load_model(path, device=None):
    """(model in eval mode, checkpoint dict) from a checkpoint written by train()."""
    ck = io.load(path)
    if not isinstance(ck, dict) or "settings" not in ck or "model" not in ck or "classes" not in ck:
        raise CheckpointError(f"{path}: not a scratchnet segmentation checkpoint (no settings/model/classes)")
    s = ck["settings"]
    model = unet(1, len(ck["classes"]), s["width"], s["depth"])
    try:
        model.load_state_dict(ck["model"])
    except (RuntimeError, ValueError, KeyError) as e:
        raise CheckpointError(f"{path}: its weights do not fit unet(width={s['width']}, depth={s['depth']}): {e}") \
            from None
    return model.to(device or backend.get_default_device()).eval(), ck


def _history_entry(step, sums, window, cm, lr):
    figures = sums.read()
    scores = cm.scores()
    return {"step": step, "loss": figures["loss"] / window, "miou": scores["miou_no_background"],
            "pixel_accuracy": scores["pixel_accuracy"], "lr": lr}


def recipe(binary=False, **given):
    """The task's RECIPES entry with the values given (not None) put over it."""
    return {**RECIPES["binary" if binary else "classes"], **{k: v for k, v in given.items() if v is not None}}


def train(out="out/segment", data=None, epochs=None, steps=None, batch_size=None, lr=None, seed=0, device=None,
          resume=False, force=False, binary=False, width=None, depth=None, dice_weight=1.0, weight_decay=1e-2,
          schedule="cosine", eval_every=None, log_every=20, train_canvases=None, test_canvases=1000, progress=True,
          warmup=None):
    """Train a U-Net on the canvases; returns the final checkpoint's dict (history, evals, settings, report).

    batch_size, lr, width, depth, warmup and eval_every left None come from the task's recipe (RECIPES); a held-out
    evaluation of 1,000 canvases costs about as much as 30 training steps, so the recipe scores a few times a run. The run lasts
    `steps` steps, or `epochs` passes over the training canvases (both: the smaller; neither: the recipe's
    steps). resume: continue from OUT/checkpoint.npz, written with the same settings unless `force` (with the
    constant schedule and no warm-up more steps are fine; otherwise the step count shapes the schedule)."""
    r = recipe(binary, batch_size=batch_size, lr=lr, width=width, depth=depth, warmup=warmup, eval_every=eval_every)
    batch_size, lr, width, depth, warmup, eval_every = (r[k] for k in ("batch_size", "lr", "width", "depth", "warmup",
                                                                       "eval_every"))
    if steps is None and epochs is None:
        steps = r["steps"]
    if not 0 <= warmup < 1:
        raise ValueError(f"warmup must be a fraction of the steps in [0, 1), got {warmup!r}")
    device = backend.device(device) if device is not None else backend.get_default_device()
    backend.manual_seed(seed)
    resume_rules.start_folder(out)
    train_ds, test_ds = datasets(data, binary, train_canvases, test_canvases)
    per_epoch = len(train_ds) // batch_size
    if per_epoch == 0:
        raise ValueError(f"--batch-size {batch_size} is larger than the {len(train_ds)} training canvases")
    total = min(steps, epochs * per_epoch) if steps and epochs else steps or (epochs or 1) * per_epoch
    settings = dict(binary=binary, width=width, depth=depth, batch_size=batch_size, lr=lr, seed=seed,
                    weight_decay=weight_decay, dice_weight=dice_weight, schedule=schedule, warmup=warmup,
                    steps=total, eval_every=eval_every, log_every=log_every, train_canvases=len(train_ds),
                    test_canvases=len(test_ds), size=train_ds.size)
    classes = list(train_ds.classes)
    if progress:
        print(f"data: {len(train_ds)} train / {len(test_ds)} held-out canvases of garments from "
              f"{train_ds.garments.source} ({train_ds.garments.folder}); {total} steps of {batch_size}")
    model = unet(1, len(classes), width, depth).to(device)
    opt = optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    weight = class_weights(train_ds)
    ck_path = os.path.join(out, "checkpoint.npz")
    history, evals, start, seconds = [], [], 0, 0.0
    if resume and os.path.exists(ck_path):
        ck = io.load(ck_path)
        forced = resume_rules.check_settings(ck_path, ck.get("settings"), settings, force,
                                             ignore=("steps",) if schedule == "constant" and not warmup else ())
        try:
            model.load_state_dict(ck["model"])
            opt.load_state_dict(ck["optimizer"])
        except (RuntimeError, ValueError, KeyError) as e:
            raise CheckpointError(f"{ck_path}: its state does not fit this run's model: {e}") from None
        history, evals, start = list(ck["history"]), list(ck["evals"]), int(ck["step"])
        seconds = float(evals[-1]["seconds"]) if evals else 0.0
        set_rng_state(ck["rng"])
        write_report(out, ck, test_ds)   # in case a stop came between the checkpoint and its report
        if progress:
            print(f"resumed from {ck_path} at step {start}" + (f" (forced: {forced})" if forced else ""))
    weight_t = creation.tensor(weight, dtype=numpy.float32, device=device)
    sums, cm, window = Readout(log_every), ConfusionMatrix(len(classes)), 0
    bar = Progress(total - start, f"segment {'binary' if binary else f'{len(classes)} classes'}") \
        if progress and start < total else None
    t0, ck = time.perf_counter(), None
    model.train()
    try:
        for step in range(start, total):
            for group in opt.param_groups:
                group["lr"] = lr_at(settings, step)
            x, y = batch_arrays(train_ds, batch_indices(len(train_ds), step, batch_size, seed))
            train_step(model, opt, creation.tensor(x, dtype=numpy.float32, device=device),
                       creation.tensor(y, dtype=numpy.int64, device=device), weight_t, dice_weight, sums, cm)
            window += 1
            s = step + 1
            if s % log_every == 0 or s % eval_every == 0 or s == total:
                history.append(_history_entry(s, sums, window, cm, opt.param_groups[0]["lr"]))
                sums.reset(), cm.reset()
                window = 0
                if bar:
                    bar.update(s - start, (s - start) * batch_size, loss=history[-1]["loss"],
                               mIoU=history[-1]["miou"])
            if s % eval_every == 0 or s == total:
                confusion, preds, _ = evaluate(model, test_ds, device)
                scores = scores_from_confusion(confusion)
                evals.append({"step": s, "miou_no_background": scores["miou_no_background"],
                              "miou": scores["miou"], "pixel_accuracy": scores["pixel_accuracy"],
                              "seconds": round(seconds + time.perf_counter() - t0, 2)})
                ck = {"settings": settings, "classes": classes, "model": model.state_dict(),
                      "optimizer": opt.state_dict(), "step": s, "history": history, "evals": evals,
                      "rng": rng_state(), "class_weights": weight,
                      "report": {"confusion": confusion, "preds": preds, "picked": numpy.arange(len(preds))}}
                io.save(ck, ck_path)
                io.fault_point("segment:checkpoint")
                write_report(out, ck, test_ds)
                io.fault_point("segment:report")
                if progress:   # also into a log, where no bar is drawn
                    what = "foreground IoU" if binary else "mIoU (garment classes)"
                    print(f"step {s}: held-out {what} {scores['miou_no_background']:.4f}, pixel accuracy "
                          f"{scores['pixel_accuracy']:.4f}", flush=True)
    except KeyboardInterrupt:
        print(f"\ninterrupted: {ck_path} holds the last evaluated step; rerun with --resume to continue")
        raise
    finally:
        if bar:
            bar.close()
    return ck if ck is not None else io.load(ck_path)


def predict(checkpoint, images, out=None, size=None, invert=False, device=None):
    """Label every pixel of image files: one dict per image with the mask (H, W) and each class's share of the
    pixels; with `out`, also OUT/<name>_segment.png (image | predicted mask | overlay, with the class legend).

    An image is made grayscale (garments are bright on black, as in training; invert=True for dark-on-light),
    scaled so its longer side is `size` pixels (None: the training canvas size, 64; 0: kept as it is), and
    padded with black on the right and bottom to a multiple of 2**depth, which the U-Net needs; the mask is
    cut back to the scaled image. An image whose side would exceed MAX_SIDE pixels is refused."""
    from PIL import Image, ImageOps
    from .images import open_image
    model, ck = load_model(checkpoint, device)
    s, classes = ck["settings"], list(ck["classes"])
    k = 2 ** s["depth"]
    results = []
    for path in images:
        img = open_image(path).convert("L")
        img = ImageOps.invert(img) if invert else img
        target = s.get("size", 64) if size is None else size
        if target:
            scale = target / max(img.size)
            img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))), Image.BILINEAR)
        if max(img.size) > MAX_SIDE:
            raise ValueError(f"{path}: the image is {img.width}×{img.height} pixels; this U-Net is run on at most "
                             f"{MAX_SIDE} pixels a side: pass a smaller --size")
        a = numpy.asarray(img, numpy.float32) / 255.0
        h, w = a.shape
        padded = numpy.zeros((1, 1, -(-h // k) * k, -(-w // k) * k), numpy.float32)
        padded[0, 0, :h, :w] = a
        with no_grad():
            mask = model(creation.tensor(padded, device=device)).argmax(1).numpy()[0, :h, :w]
        counts = numpy.bincount(mask.ravel(), minlength=len(classes))
        r = {"path": path, "mask": mask, "shares": {c: float(n / mask.size) for c, n in zip(classes, counts)}}
        if out is not None:
            name = os.path.splitext(os.path.basename(path))[0]
            r["picture"] = mask_panels(os.path.join(out, f"{name}_segment.png"), [a], None, classes, [mask],
                                       titles=[os.path.basename(path)])
        results.append(r)
    return results


def evaluate_checkpoint(checkpoint, data=None, test_canvases=None, device=None, out=None, vote=False):
    """(scores, classes, canvas count, scores after the per-component vote or None) of a checkpoint on the
    held-out canvases (the run's count unless given); with `out`, the report (metrics.json: both scores)."""
    model, ck = load_model(checkpoint, device)
    s = ck["settings"]
    _, test_ds = datasets(data, s["binary"], 0, test_canvases or s["test_canvases"])
    confusion, preds, voted = evaluate(model, test_ds, device, vote=vote)
    if out is not None:
        os.makedirs(out, exist_ok=True)
        write_report(out, dict(ck, report={"confusion": confusion, "preds": preds, "picked": numpy.arange(len(preds)),
                                           **({} if voted is None else {"confusion_vote": voted})}), test_ds)
    return (scores_from_confusion(confusion), list(ck["classes"]), len(test_ds),
            None if voted is None else scores_from_confusion(voted))


from .segment_cli import add_arguments, check, run  # noqa: E402,F401  (the command-line face of this app)
