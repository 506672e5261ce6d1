"""What the apps share: a second command in one module (Command), progress bars, the random state a checkpoint
keeps, an eval-mode block, and the one training loop (fit) that the classifier and transfer learning run.

fit(net, opt, loader, epochs) is, per epoch e = start .. epochs-1,
    for each batch (x, y):  loss = mean cross-entropy(net(x), y);  opt.zero_grad(); loss.backward(); opt.step()
then on_epoch_end(e, figures) with the epoch's mean training loss and accuracy. A resumed run passes start = the
epochs its checkpoint holds (the loader's order and every random draw are functions of (seed, epoch), so it goes
on exactly where the stopped run would have); on_epoch_end is where an app evaluates, saves and reports.
"""
import contextlib
import json
import time
from collections import namedtuple

from .. import rng
from ..nn import functional as F
from . import parallel
from .progress import Progress  # noqa: F401  (the apps' progress bar: tqdm with the figures a user watches)
from .readout import Readout

# a command that is not its module's main one (e.g. `scratchnet evaluate` beside `train` in apps.classify)
Command = namedtuple("Command", "add_arguments run")


def rng_state():
    """Every generator's state (the GPUs' too: dropout masks are drawn on the model's device), as JSON text for a
    checkpoint."""
    return json.dumps(rng.get_rng_state())


def set_rng_state(text):
    """Restore the generators from rng_state()'s text."""
    rng.set_rng_state(json.loads(text))


@contextlib.contextmanager
def eval_mode(model):
    """`model` in eval mode (dropout off, batch norm on its running statistics) inside the block; afterwards every
    submodule gets back its own previous flag (a frozen, eval-mode part of a training model stays in eval)."""
    before = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for m, mode in before:
            object.__setattr__(m, "training", mode)   # as Module.train sets it, one module at a time


def train_step(net, opt, x, y, sums=None, scale=None):
    """One optimizer step on a batch already on the device; returns the loss. The batch's loss sum and correct count
    are added to `sums` (a Readout) on the device, so the step never waits for the host. scale: the loss is the
    batch's sum times scale (data-parallel ranks), else its mean."""
    logits = net(x)
    if scale is None:
        loss = F.cross_entropy(logits, y)
        batch_loss = loss.detach() * len(y)
    else:
        batch_loss = F.cross_entropy(logits, y, reduction="sum")
        loss = batch_loss * scale
    opt.zero_grad()
    loss.backward()
    opt.step()
    if sums is not None:
        sums.add(loss=batch_loss, correct=(logits.detach().argmax(1) == y).sum())
    return loss


def fit(net, opt, loader, epochs, start=0, progress=False, label="epoch", log_every=20, on_epoch_end=None,
        before_step=None):
    """Train `net` with `opt` on `loader`'s batches for epochs start..epochs-1 (see the module's docstring). Returns
    the last epoch's figures: train_loss and train_acc (means over the epoch's images) and seconds.

    progress: a bar per epoch showing the running loss, accuracy and images/s, read from the device every
    `log_every` steps (the loop's only device->host reads; without a bar, once an epoch). on_epoch_end(epoch,
    figures): called after each epoch (evaluate, checkpoint, report there). before_step(t): called before the
    optimizer step t (counted from 0 over all epochs, a resumed run's too), e.g. to set a per-step learning rate.
    Under mpiexec (net wrapped by parallel.wrap, loader sharded) every rank computes its rows of each global batch
    and the loss is scaled so that the averaged gradient is the global batch's mean; figures are summed over ranks.
    """
    rank, world = parallel.dist.rank(), parallel.dist.world_size()
    sizes = loader.global_batch_sizes()
    figures = None
    for epoch in range(start, epochs):
        loader.set_epoch(epoch)
        net.train()
        started = time.perf_counter()
        bar = Progress(len(loader), f"{label} {epoch + 1}/{epochs}") if progress else None
        sums, seen = Readout(log_every), 0
        for step, (x, y) in enumerate(loader, 1):
            if before_step:
                before_step(epoch * len(loader) + step - 1)
            m = sizes[step - 1]
            whole = world > 1 and len(y) == m       # a batch smaller than the world: every rank computes it all
            counted = not whole or rank == 0        # (counted once)
            with rng.sharded_rows(*parallel.batch_rows(m), m):
                # DDP averages over ranks: scaling the rows' sum by world/m makes that the global batch's mean
                train_step(net, opt, x, y, sums if counted else None,
                           scale=(1 if whole else world) / m if world > 1 else None)
            if counted:
                seen += len(y)
            if bar and sums.due(step, len(loader)):
                read = sums.read()
                bar.update(step, seen, loss=read.get("loss", 0.0) / max(seen, 1),
                           acc=read.get("correct", 0.0) / max(seen, 1))
        if bar:
            bar.close()
        read = sums.read()
        loss_sum, correct = read.get("loss", 0.0), read.get("correct", 0.0)
        if world > 1:
            loss_sum, correct, seen = parallel.sum_over_ranks([loss_sum, correct, seen]).tolist()
        figures = {"train_loss": loss_sum / seen, "train_acc": correct / seen,
                   "seconds": time.perf_counter() - started}
        if on_epoch_end:
            on_epoch_end(epoch, figures)
    return figures
