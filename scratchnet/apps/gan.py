"""Train a GAN on Fashion-MNIST (what `scratchnet gan` runs): two Adam optimizers, images scaled to [-1, 1].

Each step: the discriminator learns to tell a real batch from G's samples (G's output detached), then the
generator learns to make D call its samples real (see gan_losses for the objectives). The batch of step t is a
pure function of (seed, t), and the random state is saved in every checkpoint, so a resumed run repeats exactly.
A run writes into its folder: checkpoint.npz, samples_step*.png from a fixed noise, final grid, per-class grid
(conditional models), a latent interpolation strip, losses.png and history.json.
With `ema` (a decay, e.g. 0.99) the run also keeps an exponential moving average of G's weights and batch-norm
statistics (optim.swa_utils.AveragedModel) and draws every picture and quality measurement from it: the average of
the last ~1/(1 − decay) iterates is a smoother, better generator than the last one (measured in README's GAN notes).
"""
import math
import os

import numpy

from .. import backend, creation, io, optim
from ..optim.swa_utils import AveragedModel, get_ema_avg_fn
from ..rng import manual_seed, sharded_rows
from ..data import FashionMNIST
from ..models.gan import build_gan
from ..ops.shape import cat
from ..tensor import Tensor, no_grad
from . import parallel, plots
from . import resume as resume_rules
from .common import eval_mode, rng_state, set_rng_state
from .gan_metrics import Quality
from .progress import Progress
from .readout import FirstNonFinite, read_floats
from .gan_losses import discriminator_loss, generator_loss, gradient_penalty, mode_seeking


class GANDiverged(RuntimeError):
    """A loss became NaN or infinite; the last checkpoint on disk is from before it happened."""


def _batch(images, targets, step, batch_size, seed):
    """The real batch of step `step`: epoch e = step // steps_per_epoch reads a permutation seeded by (seed, e)."""
    per_epoch = len(images) // batch_size
    epoch, k = divmod(step, per_epoch)
    order = numpy.random.default_rng([seed, epoch]).permutation(len(images))
    idx = order[k * batch_size:(k + 1) * batch_size]
    return images[idx], targets[idx]


def _to_unit(x):
    """(N, 1, 28, 28) in [-1, 1] -> (N, 28, 28) in [0, 1] for pictures"""
    return (numpy.clip(x.numpy(), -1, 1)[:, 0] + 1) / 2


class GANRun:
    """Models, optimizers and settings of one GAN run."""

    def __init__(self, model="dcgan", conditional=False, loss="bce", z_dim=100, lr=2e-4, betas=(0.5, 0.999),
                 n_critic=None, gp_weight=10.0, device=None, num_classes=10, mode_seeking=None, dtype=None, ema=0.0,
                 lr_d=None, reuse_fake=False):
        self.config = dict(model=model, conditional=conditional, loss=loss, z_dim=z_dim, lr=lr, betas=list(betas),
                           n_critic=n_critic or (5 if loss == "wgan-gp" else 1), gp_weight=gp_weight,
                           num_classes=num_classes,
                           mode_seeking=(0.1 if conditional else 0.0) if mode_seeking is None else mode_seeking,
                           ema=float(ema or 0.0), lr_d=lr if lr_d is None else lr_d,
                           reuse_fake=bool(reuse_fake))
        if self.config["reuse_fake"] and self.config["n_critic"] != 1:
            raise ValueError(f"GANRun: reuse_fake needs one D update per G update, got n_critic "
                             f"{self.config['n_critic']} (loss {loss!r})")
        if not 0.0 <= self.config["ema"] < 1.0:
            raise ValueError(f"GANRun: ema must be a decay in [0, 1) (0: none), got {ema}")
        self.device = backend.device(device)
        self.dtype = numpy.dtype(dtype or numpy.float32)
        self.g, self.d = build_gan(model, z_dim, num_classes if conditional else None)
        self.g.to(self.device, self.dtype), self.d.to(self.device, self.dtype)
        self.opt_g = optim.Adam(self.g.parameters(), lr=lr, betas=betas)
        self.opt_d = optim.Adam(self.d.parameters(), lr=self.config["lr_d"], betas=betas)
        self.g_ema = AveragedModel(self.g, get_ema_avg_fn(self.config["ema"]), use_buffers=True) \
            if self.config["ema"] else None

    @property
    def sampler(self):
        """The generator that draws pictures and is measured: the weight average with `ema`, else G itself."""
        return self.g_ema.module if self.g_ema is not None else self.g

    def distribute(self):
        """Data-parallel over the launcher's ranks (SyncBatchNorm + DistributedDataParallel; see apps.parallel).
        Call step() inside sharded_rows(lo, hi, batch) with this rank's rows of the global batch."""
        self.g, self.d = parallel.wrap(self.g), parallel.wrap(self.d)
        return self

    def noise(self, n):
        return creation.randn(n, self.config["z_dim"], device=self.device, dtype=self.dtype)

    def labels(self, y):
        """Class labels as a device tensor (y: host integers, or a tensor already on the device)."""
        if not self.config["conditional"] or y is None:
            return None
        if isinstance(y, Tensor) and y.device == self.device:
            return y
        return creation.tensor(y, dtype=numpy.int64, device=self.device)

    def sample(self, n, labels=None):
        z = self.noise(n)
        with no_grad(), eval_mode(self.sampler):
            return self.sampler(z, self.labels(labels) if labels is not None else None)

    def step(self, real, y):
        """One D update (n_critic of them for WGAN-GP) and one G update; returns the figures to watch as 0-d
        tensors on the device (read them with readout.read_floats when they are logged: no sync in the step)."""
        c, n = self.config, real.shape[0]
        lab = self.labels(y)
        if c.get("reuse_fake"):
            return self._step_one_forward(real, lab)
        for _ in range(c["n_critic"]):
            fake = self.g(self.noise(n), lab).detach()
            d_real, d_fake = self.d(real, lab), self.d(fake, lab)
            loss_d = discriminator_loss(d_real, d_fake, c["loss"])
            if c["loss"] == "wgan-gp":
                loss_d = loss_d + c["gp_weight"] * gradient_penalty(self.d, real, fake, lab)
            self.opt_d.zero_grad()
            loss_d.backward()
            self.opt_d.step()
        self.d.requires_grad_(False)   # G's update needs gradients through D, not D's own (saves its weight GEMMs)
        if c.get("mode_seeking") and n >= 2:
            # the G batch is two halves with the same classes and different noise, for the mode-seeking term
            h = n // 2
            lab2 = None if lab is None else cat([lab[:h], lab[:h]])
            z = self.noise(2 * h)
            fake = self.g(z, lab2)
            d_fake = self.d(fake, lab2)
            loss_g = generator_loss(d_fake, c["loss"]) + mode_seeking(fake[:h], fake[h:], z[:h], z[h:],
                                                                       c["mode_seeking"])
        else:
            d_fake = self.d(self.g(self.noise(n), lab), lab)
            loss_g = generator_loss(d_fake, c["loss"])
        return self._g_update(loss_d, loss_g, d_real, d_fake)

    def _g_update(self, loss_d, loss_g, d_real, d_fake):
        self.d.requires_grad_(True)
        self.opt_g.zero_grad()
        loss_g.backward()
        self.opt_g.step()
        if self.g_ema is not None:
            self.g_ema.update_parameters(parallel.unwrap(self.g))
        with no_grad():
            squash = (lambda t: t.sigmoid().mean()) if self.config["loss"] == "bce" else (lambda t: t.mean())
            return {"loss_d": loss_d.detach(), "loss_g": loss_g.detach(), "D(x)": squash(d_real),
                    "D(G(z))": squash(d_fake)}

    def _step_one_forward(self, real, lab):
        """reuse_fake: one G forward a step, as PyTorch's DCGAN example does: D learns on that batch detached,
        then G learns through the updated D on the same batch (the G forward is ~1/6 of a step's multiply-adds).
        With the mode-seeking term the batch is its two halves (same classes, different noise), for D too."""
        c, n = self.config, real.shape[0]
        pairs = bool(c.get("mode_seeking")) and n >= 2
        h = n // 2
        lab_f = cat([lab[:h], lab[:h]]) if pairs and lab is not None else lab
        z = self.noise(2 * h if pairs else n)
        fake = self.g(z, lab_f)
        d_real, d_fake = self.d(real, lab), self.d(fake.detach(), lab_f)
        loss_d = discriminator_loss(d_real, d_fake, c["loss"])
        self.opt_d.zero_grad()
        loss_d.backward()
        self.opt_d.step()
        self.d.requires_grad_(False)
        d_fake = self.d(fake, lab_f)
        loss_g = generator_loss(d_fake, c["loss"])
        if pairs:
            loss_g = loss_g + mode_seeking(fake[:h], fake[h:], z[:h], z[h:], c["mode_seeking"])
        return self._g_update(loss_d, loss_g, d_real, d_fake)

    def state(self, step, history):
        g, d = parallel.unwrap(self.g), parallel.unwrap(self.d)
        return {"config": self.config, "g": g.state_dict(), "d": d.state_dict(),
                "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(), "step": step,
                "history": history, "rng": rng_state(),
                **({"g_ema": self.g_ema.state_dict()} if self.g_ema is not None else {})}

    @classmethod
    def from_checkpoint(cls, path, device=None, ck=None):
        """The run saved in `path` (or, under MPI, in `ck`: the checkpoint rank 0 read and broadcast)."""
        ck = io.load(path) if ck is None else ck
        if not isinstance(ck, dict) or "config" not in ck or "g" not in ck:
            raise ValueError(f"{path}: not a scratchnet GAN checkpoint")
        c = dict(ck["config"])
        run = cls(c["model"], c["conditional"], c["loss"], c["z_dim"], c["lr"], tuple(c["betas"]), c["n_critic"],
                  c["gp_weight"], device, c["num_classes"], c.get("mode_seeking", 0.0), ema=c.get("ema", 0.0),
                  lr_d=c.get("lr_d"), reuse_fake=c.get("reuse_fake", False))
        run.g.load_state_dict(ck["g"])
        run.d.load_state_dict(ck["d"])
        run.opt_g.load_state_dict(ck["opt_g"])
        run.opt_d.load_state_dict(ck["opt_d"])
        if run.g_ema is not None:
            run.g_ema.load_state_dict(ck["g_ema"])
        return run, ck


def write_pictures(run, out, fixed_z, fixed_labels, classes, tag):
    """Sample grid from the fixed noise; for conditional models a row per class; a latent interpolation strip."""
    g = run.sampler
    with no_grad(), eval_mode(g):
        grid = g(fixed_z, run.labels(fixed_labels) if fixed_labels is not None else None)
        caps = [classes[int(c)][:12] for c in fixed_labels] if fixed_labels is not None else [""] * len(grid)
        plots.image_grid(os.path.join(out, f"samples_{tag}.png"), _to_unit(grid), caps)
        if run.config["conditional"]:
            k = len(classes)
            z = fixed_z[:8].repeat(k, 1)
            lab = numpy.repeat(numpy.arange(k), 8)
            per_class = g(z, run.labels(lab))
            plots.image_grid(os.path.join(out, "per_class.png"), _to_unit(per_class),
                             [classes[c][:12] for c in lab], cols=8)
        t = creation.linspace(0, 1, 10, device=run.device).reshape(10, 1)
        z = fixed_z[0:1] * (1 - t) + fixed_z[1:2] * t
        strip = g(z, run.labels(numpy.full(10, fixed_labels[0])) if fixed_labels is not None else None)
        plots.image_grid(os.path.join(out, "interpolation.png"), _to_unit(strip), [""] * 10, cols=10)


def train_gan(model="dcgan", conditional=False, loss="bce", steps=2000, batch_size=64, lr=2e-4, data=None,
              device=None, seed=0, out="out/gan", resume=False, sample_every=500, progress=True, limit=None,
              quality_samples=1000, mode_seeking=None, force=False, log_every=10, ema=0.0, lr_d=None,
              reuse_fake=False, cosine=False):
    """Train and write the run's pictures and checkpoint; returns the history (one dict per logged step).
    The losses stay on the device and are read every `log_every` steps and before each checkpoint (a divergence
    is caught there, so the checkpoint on disk is always from before it).
    At every checkpoint the samples' quality is measured (quality.json, quality.png); quality_samples=0 skips it.
    resume: continue from OUT/checkpoint.npz, written with the same settings (more steps are fine) unless `force`
    (the model, its conditioning and the loss can never differ); the last checkpoint's pictures are redrawn first.
    lr_d: the discriminator's learning rate (default: lr; a larger one is the two time-scale update rule, TTUR).
    ema: keep an exponential moving average of G with this decay and sample from it (0: none).
    reuse_fake: one G forward a step, shared by the D and the G update (GANRun._step_one_forward).
    cosine: anneal both learning rates per step, lr_t = lr·(1 + cos(π·t/steps))/2 (t = 0..steps−1), so the run's
    length is part of its schedule (a resume must keep `steps`).
    Under mpiexec each rank computes its rows of every batch (batch_size must divide evenly) and rank 0 writes."""
    if int(log_every) < 1:
        raise ValueError(f"--log-every must be at least 1, got {log_every}")
    rank, world, device = parallel.start(device)
    if world > 1 and batch_size % world:
        raise ValueError(f"--batch-size {batch_size} does not split evenly over {world} ranks")
    writer = parallel.is_writer()
    progress = progress and writer
    manual_seed(seed)
    if writer:
        resume_rules.start_folder(out)
    ds = FashionMNIST(root=data, train=True)
    images, targets = ds.images[:limit] if limit else ds.images, ds.targets[:limit] if limit else ds.targets
    run = GANRun(model, conditional, loss, lr=lr, device=device, num_classes=len(ds.classes),
                 mode_seeking=mode_seeking, ema=ema, lr_d=lr_d, reuse_fake=reuse_fake)
    if world > 1 and run.config["mode_seeking"] and progress:
        print("note: the mode-seeking term pairs samples within each rank's rows, so this run is not step-for-step "
              "the single-process one (--mode-seeking 0 makes it so)")
    fixed_z = creation.randn(64, run.config["z_dim"], device=run.device)
    fixed_labels = numpy.arange(64) % len(ds.classes) if conditional else None
    ck_path, history, start, quality = os.path.join(out, "checkpoint.npz"), [], 0, []
    measure = Quality(FashionMNIST(root=data, train=False).images, quality_samples, device) \
        if quality_samples and writer else None
    settings = dict(model=model, conditional=conditional, loss=loss, lr=lr, batch_size=batch_size, seed=seed,
                    limit=limit, mode_seeking=run.config["mode_seeking"], sample_every=sample_every,
                    quality_samples=quality_samples, train_images=len(images))
    # only when set, so that checkpoints written before these options existed resume unchanged
    if cosine:
        settings.update(cosine=True, steps=steps)
    settings.update({k: run.config[k] for k, default in (("ema", 0.0), ("lr_d", lr), ("reuse_fake", False))
                     if run.config[k] != default})
    # rank 0 reads the checkpoint and hands it to the others
    ck = parallel.share(io.load(ck_path) if writer and resume and os.path.exists(ck_path) else None)
    if ck is not None:
        run, ck = GANRun.from_checkpoint(ck_path, device, ck)
        if (ck["config"]["model"], ck["config"]["conditional"], ck["config"]["loss"]) != (model, conditional, loss):
            raise ValueError(f"{ck_path} was written for {ck['config']}, not model={model} conditional={conditional} "
                             f"loss={loss}")
        forced = resume_rules.check_settings(ck_path, ck.get("settings"), settings, force)
        if forced:
            run.config["lr"], run.config["lr_d"] = lr, lr if lr_d is None else lr_d
            for opt, key in ((run.opt_g, "lr"), (run.opt_d, "lr_d")):
                for group in opt.param_groups:
                    group["lr"] = run.config[key]
            if progress:
                print(f"resuming with other settings (forced): {forced}")
        start, quality = int(ck["step"]), list(ck.get("quality", []))
        # keep the every-10-steps log; a stopped run's extra entry for its last step is not part of it
        history = [h for h in ck["history"] if (h["step"] - 1) % log_every == 0]
        set_rng_state(ck["rng"])
        if writer:   # the pictures of the checkpoint's step, in case a stop came between the two
            write_pictures(run, out, fixed_z, fixed_labels, ds.classes, f"step{start:06d}")
    run.distribute()
    lo, hi = parallel.rows(batch_size)
    nonfinite = FirstNonFinite()
    bar = Progress(steps - start, f"{model}{' conditional' if conditional else ''} {loss}") if progress else None
    for step in range(start, steps):
        x, y = _batch(images, targets, step, batch_size, seed)
        x, y = x[lo:hi], y[lo:hi]      # this rank's rows (all of them in one process)
        real = creation.tensor(x.astype(numpy.float32)[:, None] / 127.5 - 1, device=run.device)  # [-1, 1]
        if cosine:
            for opt, key in ((run.opt_g, "lr"), (run.opt_d, "lr_d")):
                for group in opt.param_groups:
                    group["lr"] = run.config[key] * (1 + math.cos(math.pi * step / steps)) / 2
        with sharded_rows(lo, hi, batch_size):
            figures = run.step(real, run.labels(y))
        nonfinite.update(step, figures)   # on the device: no sync
        log_now = step % log_every == 0 or step + 1 == steps
        if log_now or (step + 1) % sample_every == 0:   # the step's only device->host reads
            figures = read_floats(figures)
            if world > 1:   # the global batch's figures: equal shards, so the mean of the ranks' means
                figures = dict(zip(figures, (float(v) for v in parallel.sum_over_ranks(list(figures.values()))
                                             / world)))
            bad = nonfinite.read()
            if world > 1 and float(parallel.sum_over_ranks([0.0 if bad is None else 1.0])[0]) and bad is None:
                bad = step   # another rank saw it: every rank stops here, together
            if bad is not None or not all(numpy.isfinite(v) for v in figures.values()):
                raise GANDiverged(f"step {(step if bad is None else bad) + 1}: {figures}: training diverged; the "
                                  f"last good checkpoint is {ck_path}")
        if log_now:
            history.append({"step": step + 1, **figures})
            if bar:
                bar.update(step + 1 - start, (step + 1 - start) * batch_size, **figures)
        if (step + 1) % sample_every == 0 or step + 1 == steps:
            if measure and not any(q["step"] == step + 1 for q in quality):
                quality.append(measure(run, step + 1))
                if progress:
                    print(f"\nstep {step + 1}: " + ", ".join(f"{k} {v:.4g}" for k, v in quality[-1].items()
                                                             if k != "step"))
            if writer:   # the checkpoint first; its pictures are redrawn from it on resume
                io.save({**run.state(step + 1, history), "quality": quality, "settings": settings}, ck_path)
                io.fault_point("gan:checkpoint")
                write_pictures(run, out, fixed_z, fixed_labels, ds.classes, f"step{step + 1:06d}")
                io.fault_point("gan:pictures")
    if bar:
        bar.close()
    if not writer:
        return history
    write_pictures(run, out, fixed_z, fixed_labels, ds.classes, "final")
    plots.line_chart(os.path.join(out, "losses.png"), f"GAN losses (logged every {log_every} steps)",
                     {"D loss": [h["loss_d"] for h in history], "G loss": [h["loss_g"] for h in history]},
                     xlabel="training step", ylabel=f"{loss} loss", x=[h["step"] for h in history], log=False)
    io.atomic_write_json(os.path.join(out, "history.json"), {"losses": history, "quality": quality})
    if len(quality) > 1:
        at = [q["step"] for q in quality]
        panels = [dict(title="Fréchet distance (lower is better)", ylabel="FD in classifier features", x=at,
                       series={"FD": [q["fd"] for q in quality]})]
        if "class_consistency" in quality[0]:
            panels.append(dict(title="class consistency (higher is better)", ylabel="samples of the asked class (%)",
                               x=at, log=False, series={"share": [100 * q["class_consistency"] for q in quality]}))
        plots.line_charts(os.path.join(out, "quality.png"), panels, xlabel="training step")
    return history


def sample_grid(checkpoint, out_path, n=64, class_name=None, device=None, seed=0):
    """Write a grid of n samples from a GAN checkpoint (of one class, by name or index, for conditional models)."""
    manual_seed(seed)
    run, ck = GANRun.from_checkpoint(checkpoint, device)
    classes = FashionMNIST.spec.classes
    labels = None
    if class_name is not None:
        if not run.config["conditional"]:
            raise ValueError(f"{checkpoint}: an unconditional GAN cannot be asked for class {class_name!r}")
        labels = numpy.full(n, FashionMNIST.spec.class_index(class_name))
    elif run.config["conditional"]:
        labels = numpy.arange(n) % len(classes)
    x = run.sample(n, labels)
    caps = [classes[int(c)][:12] for c in labels] if labels is not None else [""] * n
    return plots.image_grid(out_path, _to_unit(x), caps)
