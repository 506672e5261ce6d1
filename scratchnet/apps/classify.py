"""Train, evaluate and use an image classifier on (Fashion-)MNIST: what `scratchnet train/evaluate/predict` run.

A run writes into its folder: checkpoint.npz (atomic, every epoch; resuming gives the same result as a run that
was never stopped), metrics.json, curves.png, confusion.png and predictions.png.
"""
import math
import os
import time

import numpy

from .. import backend, cli_args, creation, io, optim
from ..rng import manual_seed
from ..data import DataLoader, FashionMNIST, horizontal_flip
from ..models import MODELS, build
from ..nn import functional as F
from ..tensor import no_grad
from . import parallel, plots
from . import resume as resume_rules
from .common import Command, eval_mode, fit, rng_state, set_rng_state
from .readout import read_floats


class CheckpointError(RuntimeError):
    """A checkpoint that does not fit the model or the run."""


def save_checkpoint(path, model_name, model, opt, epoch, history, classes, settings=None, report=None):
    """The run's state after `epoch`; `settings` (compared on --resume) and `report` (the confusion matrix and
    test predictions its pictures are drawn from, so a resumed run can redraw them exactly) when given."""
    state = {"model_name": model_name, "model": model.state_dict(), "optimizer": opt.state_dict(),
             "epoch": epoch, "history": history, "rng": rng_state(), "classes": classes}
    if settings is not None:
        state["settings"] = settings
    if report is not None:
        confusion, preds = report
        state["report"] = {"confusion": numpy.asarray(confusion, numpy.int64),
                           "preds": numpy.asarray(preds, numpy.int64)}
    io.save(state, path)


def load_model(path, device=None):
    """(model, checkpoint dict) from a checkpoint written by train()."""
    ck = io.load(path)
    if not isinstance(ck, dict) or "model_name" not in ck or "model" not in ck:
        raise CheckpointError(f"{path}: not a scratchnet classifier checkpoint (no model_name/model entries)")
    model = build(ck["model_name"], len(ck.get("classes") or range(10)))
    try:
        model.load_state_dict(ck["model"])
    except RuntimeError as e:
        raise CheckpointError(f"{path}: its weights do not fit model '{ck['model_name']}': {e}") from None
    return model.to(device or backend.get_default_device()).eval(), ck


@no_grad()
def evaluate(model, dataset, batch_size=500, device=None, shard=False):
    """(accuracy, mean cross-entropy, confusion matrix, predictions) of `model` on `dataset`.
    shard=True (every rank of an MPI run calls it): each rank scores its contiguous part of the dataset and the
    sums are all-reduced, so every rank returns the figures of the whole dataset."""
    k = len(dataset.classes)
    confusion = numpy.zeros((k, k), dtype=numpy.int64)
    losses, preds, lo, hi = [], [], *(parallel.rows(len(dataset)) if shard else (0, len(dataset)))
    with eval_mode(model):
        for x, y in DataLoader(dataset, batch_size, device=device, sampler=range(lo, hi)):
            logits = model(x)
            losses.append(F.cross_entropy(logits, y, reduction="sum"))   # kept on the device: read once below
            preds.append(logits.argmax(1).data)
    if preds:
        xp = backend.get_array_module(preds[0])
        with backend.on(preds[0]):
            total_loss = read_floats({"loss": sum(losses[1:], losses[0])})["loss"]
            preds = backend.to_numpy(xp.concatenate(preds)).astype(numpy.int64)
    else:
        total_loss, preds = 0.0, numpy.zeros(0, numpy.int64)
    numpy.add.at(confusion, (numpy.asarray(dataset.targets)[lo:hi], preds), 1)
    if shard and parallel.dist.world_size() > 1:
        total_loss = float(parallel.sum_over_ranks(total_loss))
        confusion = parallel.sum_over_ranks(confusion, numpy.int64)
        preds = numpy.concatenate(parallel.dist.all_gather_object(preds))
    return float((preds == dataset.targets).mean()), total_loss / len(dataset), confusion, preds


def _write_report(out, history, confusion, test_ds, preds):
    epochs = [h["epoch"] for h in history]
    pct = lambda key: [100 * h[key] for h in history]  # noqa: E731
    plots.line_charts(os.path.join(out, "curves.png"), [
        dict(title="loss", ylabel="cross-entropy (nats per image)", x=epochs,
             series={"train": [h["train_loss"] for h in history], "test": [h["test_loss"] for h in history]}),
        dict(title="accuracy", ylabel="accuracy (%)", x=epochs, log=False,
             series={"train": pct("train_acc"), "test": pct("test_acc")})])
    plots.confusion_image(os.path.join(out, "confusion.png"), confusion, test_ds.classes)
    rng = numpy.random.default_rng(0)
    pick = rng.choice(len(test_ds), 32, replace=False)
    captions = [f"pred {test_ds.classes[preds[i]][:11]}\ntrue {test_ds.classes[test_ds.targets[i]][:11]}"
                for i in pick]
    colours = [(20, 130, 40) if preds[i] == test_ds.targets[i] else (200, 30, 30) for i in pick]
    plots.image_grid(os.path.join(out, "predictions.png"), test_ds.images[pick], captions, caption_colours=colours)
    io.atomic_write_json(os.path.join(out, "metrics.json"),
                         {"epochs": len(epochs), "history": history, "final_test_accuracy": history[-1]["test_acc"],
                          "confusion": confusion.tolist(), "classes": list(test_ds.classes)}, indent=1)


def train(model="reference", data=None, epochs=3, batch_size=64, lr=1e-3, device=None, seed=0, out="out/cnn",
          resume=False, progress=True, limit=None, cosine=False, augment=False, dataset=FashionMNIST, force=False,
          log_every=20):
    """Train a classifier with Adam; returns the history (one dict per epoch).

    cosine: anneal the learning rate to 0 over the epochs (lr_t = lr·(1 + cos(π·t/epochs))/2, set per epoch);
    cosine="step" anneals it over the optimizer steps instead (t counts steps, T all the run's steps), so that a
    one-epoch run decays too (the demo gallery's classifier);
    augment: mirror half the training images left-right; limit: use only the first N training images.
    resume: continue from OUT/checkpoint.npz, which must have been written with the same settings (model, lr,
    batch size, seed, limit, augmentation, schedule; more epochs are fine) unless `force`; the report is redrawn
    from the checkpoint first, so it always matches it.
    log_every: read the running loss and accuracy from the device every N steps (the progress bar's refresh).
    Under mpiexec each rank computes its rows of every global batch of `batch_size`; rank 0 writes."""
    if cosine not in (False, True, "epoch", "step"):
        raise ValueError(f"cosine must be False, True (per epoch), 'epoch' or 'step', got {cosine!r}")
    cosine = True if cosine == "epoch" else cosine   # as checkpoints store it
    rank, world, device = parallel.start(device)
    writer = parallel.is_writer()
    progress = progress and writer
    manual_seed(seed)
    if writer:
        resume_rules.start_folder(out)
    train_ds, test_ds = dataset(root=data, train=True), dataset(root=data, train=False)
    if limit:
        train_ds.images, train_ds.targets = train_ds.images[:limit], train_ds.targets[:limit]
    if progress:
        print(f"data: {len(train_ds)} train / {len(test_ds)} test images from {train_ds.source} ({train_ds.folder})")
    net = build(model, len(train_ds.classes)).to(device)
    opt = optim.Adam(net.parameters(), lr=lr)
    ck_path = os.path.join(out, "checkpoint.npz")
    history, start = [], 0
    # rank 0 reads the checkpoint and hands it to the others
    ck = parallel.share(io.load(ck_path) if writer and resume and os.path.exists(ck_path) else None)
    settings = dict(model=model, lr=lr, batch_size=batch_size, seed=seed, limit=limit, augment=augment,
                    cosine=cosine, epochs=epochs, train_images=len(train_ds))
    if ck is not None:
        if ck.get("model_name") != model and not force:
            raise CheckpointError(f"{ck_path} was written for model '{ck.get('model_name')}', not '{model}'")
        # more epochs is what resuming is for; under a cosine schedule they shape the schedule, so they may differ
        # only while the epochs done had the learning rates the new schedule gives them
        done_lrs = [h["lr"] for h in ck["history"]]
        # (per step, the run's length sets every step's rate: the epochs must match)
        same_schedule = not cosine or cosine != "step" and all(
            math.isclose(a, lr * (1 + math.cos(math.pi * t / epochs)) / 2, rel_tol=1e-9, abs_tol=1e-15)
            for t, a in enumerate(done_lrs))
        forced = resume_rules.check_settings(ck_path, ck.get("settings"), settings, force,
                                             ignore=("epochs",) if same_schedule else ())
        try:
            net.load_state_dict(ck["model"])
            opt.load_state_dict(ck["optimizer"])
        except (RuntimeError, ValueError, KeyError) as e:
            raise CheckpointError(f"{ck_path}: its state does not fit model '{model}': {e}") from None
        if forced and not cosine:   # continue with this run's learning rate (load_state_dict restored the old)
            for group in opt.param_groups:
                group["lr"] = lr
        history, start = list(ck["history"]), int(ck["epoch"])
        set_rng_state(ck["rng"])
        if writer and "report" in ck and history:
            _write_report(out, history, ck["report"]["confusion"], test_ds, ck["report"]["preds"])
        if progress:
            print(f"resumed from {ck_path} after epoch {start}" + (f" (forced: {forced})" if forced else ""))
    loader = DataLoader(train_ds, batch_size, shuffle=True, seed=seed, device=device,
                        transform=horizontal_flip(0.5) if augment else None, shard=(rank, world) if world > 1 else None)
    base, net = net, parallel.wrap(net)
    per_step = cosine == "step"
    schedule = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs, last_epoch=start - 1) \
        if cosine and not per_step else None

    def step_lr(t):   # cosine="step": lr_t = lr·(1 + cos(π·t/T)) / 2 over the run's T steps
        for group in opt.param_groups:
            group["lr"] = lr * (1 + math.cos(math.pi * t / (epochs * len(loader)))) / 2

    def end_epoch(epoch, figures):
        started = time.perf_counter()
        acc, test_loss, confusion, preds = evaluate(base, test_ds, device=device, shard=True)
        history.append({"epoch": epoch + 1, "train_loss": figures["train_loss"], "train_acc": figures["train_acc"],
                        "test_loss": test_loss, "test_acc": acc, "lr": opt.param_groups[0]["lr"],
                        "seconds": round(figures["seconds"] + time.perf_counter() - started, 2)})
        if schedule:
            schedule.step()
        io.fault_point("epoch_end:evaluated")
        if writer:   # the checkpoint first; the report is drawn from what it holds (and redrawn on resume)
            save_checkpoint(ck_path, model, base, opt, epoch + 1, history, list(train_ds.classes), settings,
                            (confusion, preds))
            io.fault_point("epoch_end:checkpoint")
            _write_report(out, history, confusion, test_ds, preds)
            io.fault_point("epoch_end:report")
        if progress:
            print(f"epoch {epoch + 1}: test accuracy {acc:.2%}  (checkpoint, metrics and pictures in {out})")

    try:
        fit(net, opt, loader, epochs, start=start, progress=progress, log_every=log_every, on_epoch_end=end_epoch,
            before_step=step_lr if per_step else None)
    except KeyboardInterrupt:
        # Checkpoints are written atomically at each epoch's end, so the last one on disk is whole
        if writer:
            print(f"\ninterrupted: {ck_path} holds the last finished epoch; rerun with --resume to continue")
        raise
    return history


def predict(checkpoint, images, device=None, top=3):
    """Top-`top` (class, probability) for each image file (any format Pillow reads; made 28×28 grayscale)."""
    from PIL import Image
    from .images import open_image
    model, ck = load_model(checkpoint, device)
    classes = ck.get("classes") or [str(i) for i in range(10)]
    batch = []
    for path in images:
        img = open_image(path).convert("L").resize((28, 28), Image.BILINEAR)
        batch.append(numpy.asarray(img, dtype=numpy.float32) / 255.0)
    with no_grad():
        probs = model(creation.tensor(numpy.stack(batch)[:, None], device=device)).softmax(1).numpy()
    results = []
    for p in probs:
        order = numpy.argsort(-p)[:top]
        results.append([(classes[i], float(p[i])) for i in order])
    return results



# ---- the command line: `scratchnet train`, `scratchnet evaluate`, `scratchnet predict` ----

def add_arguments(p):
    """`scratchnet train`'s options."""
    p.add_argument("--model", default="reference", choices=list(MODELS), help="network (models.cnn)")
    p.add_argument("--epochs", type=cli_args.positive_int, default=3, help="passes over the training images")
    p.add_argument("--batch-size", type=cli_args.positive_int, default=64, help="images per step")
    p.add_argument("--lr", type=cli_args.learning_rate, default=1e-3, help="Adam's learning rate")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.npz")
    p.add_argument("--force", action="store_true", help="with --resume: continue even where this run's settings "
                                                        "differ from the checkpoint's")
    p.add_argument("--limit", type=cli_args.positive_int, default=None, help="use only the first N training images")
    p.add_argument("--cosine", action="store_true", help="cosine learning-rate decay to 0 over the epochs")
    p.add_argument("--augment", action="store_true", help="random horizontal flips of training images")
    p.add_argument("--log-every", type=cli_args.positive_int, default=20, metavar="N",
                   help="read the running loss/accuracy from the device every N steps (a GPU step never waits)")
    cli_args.add_common(p, "out/cnn", data=True)
    cli_args.add_nproc(p)


def run(args):
    hist = train(model=args.model, data=args.data, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                 device=args.device, seed=args.seed, out=args.out, resume=args.resume, limit=args.limit,
                 cosine=args.cosine, augment=args.augment, force=args.force, log_every=args.log_every)
    if parallel.is_writer():
        print(f"final test accuracy {hist[-1]['test_acc']:.2%}; report in {args.out}")


def _evaluate_arguments(p):
    p.add_argument("checkpoint", type=cli_args.existing_file, help="a checkpoint.npz written by `scratchnet train`")
    p.add_argument("--data", type=cli_args.existing_dir, default=None, help="folder with the IDX files")
    p.add_argument("--device", type=cli_args.device, default=None)


def _evaluate(args):
    model, _ = load_model(args.checkpoint, args.device)
    acc, loss, _, _ = evaluate(model, FashionMNIST(root=args.data, train=False), device=args.device)
    print(f"{args.checkpoint}: test accuracy {acc:.2%}, loss {loss:.4f}")


def _predict_arguments(p):
    p.add_argument("checkpoint", type=cli_args.existing_file)
    p.add_argument("images", nargs="+", type=cli_args.existing_file, help="image files (any format Pillow reads)")
    p.add_argument("--device", type=cli_args.device, default=None)


def _predict(args):
    for path, top in zip(args.images, predict(args.checkpoint, args.images, args.device)):
        print(f"{path}: " + ", ".join(f"{c} {p:.1%}" for c, p in top))


EVALUATE = Command(_evaluate_arguments, _evaluate)
PREDICT = Command(_predict_arguments, _predict)
