"""Counts of one training step on the CuPy stand-in: device->host transfers, host->device uploads and kernel-level
calls, after warm-up. Run as a script (with tests/cupy_standin first on sys.path) it prints them as JSON; the
tests in test_device_steps.py assert on them. Usage: python -m tests.gpu.step_counts [cnn gan style dream ...]"""
import json
import sys

import numpy

import cupy
import scratchnet as sn
from scratchnet import backend, optim
from scratchnet.nn import functional as F

DEVICE = "cuda"


def count(step, warmup=2):
    """Counts of one call of step() after `warmup` calls (allocations, caches and lazy state settle first)."""
    for _ in range(warmup):
        step()
    with cupy.standin.counting() as c:
        step()
    return {"d2h": c.d2h, "h2d": c.h2d, "kernels": c.kernels,
            "d2h_where": dict(c.where("d2h")), "h2d_where": dict(c.where("h2d"))}


def cnn_step(batch=64):
    """The classifier app's step: forward, cross-entropy, backward, Adam (apps.classify.train)."""
    from scratchnet.apps.common import train_step
    from scratchnet.apps.readout import Readout
    from scratchnet.models.cnn import build
    sn.manual_seed(0)
    net = build("reference").to(DEVICE)
    opt = optim.Adam(net.parameters(), lr=1e-3)
    x = sn.randn(batch, 1, 28, 28, device=DEVICE)
    y = sn.randint(0, 10, (batch,), device=DEVICE)
    sums = Readout()
    return lambda: train_step(net, opt, x, y, sums)


def gan_step(batch=64):
    """The conditional DCGAN's step (apps.gan.GANRun.step), labels already on the device with the batch."""
    from scratchnet.apps.gan import GANRun
    sn.manual_seed(0)
    run = GANRun("dcgan", conditional=True, device=DEVICE)
    real = sn.rand(batch, 1, 28, 28, device=DEVICE) * 2 - 1
    y = sn.randint(0, 10, (batch,), device=DEVICE)
    return lambda: run.step(real, y)


def style_step(size=64):
    """One Adam step of style transfer (apps.stylize.synthesize with optimizer='adam')."""
    from scratchnet.apps.stylize import StyleLoss, feature_net, adam_stepper
    sn.manual_seed(0)
    net = feature_net("bank", device=DEVICE)
    style, content = sn.rand(1, 3, size, size, device=DEVICE), sn.rand(1, 3, size, size, device=DEVICE)
    loss = StyleLoss(net, style, content)
    step, _ = adam_stepper(loss, content.clone(), lr=0.02)
    return step


def dream_step(size=64):
    """One DeepDream gradient-ascent step (apps.dream.dream_step)."""
    from scratchnet.apps.dream import dream_net, dream_step as one
    sn.manual_seed(0)
    dnet = dream_net("fashion", device=DEVICE)
    x = sn.rand(1, 3, size, size, device=DEVICE)
    return lambda: one(dnet, x, "block2", None, lr=0.01, shift=(3, -2))


def segment_step(batch=8):
    """The segmentation app's step (apps.segment.train_step): U-Net, weighted cross-entropy + Dice, AdamW, the
    running confusion matrix."""
    from scratchnet.apps.readout import Readout
    from scratchnet.apps.segment import train_step
    from scratchnet.apps.segmentation_metrics import ConfusionMatrix
    from scratchnet.models.unet import unet
    sn.manual_seed(0)
    net = unet(width=4, depth=2).to(DEVICE)
    opt = optim.AdamW(net.parameters(), lr=1e-3)
    x = sn.rand(batch, 1, 32, 32, device=DEVICE)
    y = sn.randint(0, 11, (batch, 32, 32), device=DEVICE)
    w = sn.ones(11, device=DEVICE)
    sums, cm = Readout(), ConfusionMatrix(11)
    return lambda: train_step(net, opt, x, y, w, 1.0, sums, cm)


STEPS = {"cnn": cnn_step, "gan": gan_step, "style": style_step, "dream": dream_step, "segment": segment_step}

if __name__ == "__main__":
    assert getattr(cupy, "__standin__", False), "run with tests/cupy_standin first on sys.path"
    names = sys.argv[1:] or list(STEPS)
    out = {}
    for name in names:
        try:
            out[name] = count(STEPS[name]())
        except Exception as e:  # reported, so a missing piece names itself
            out[name] = {"error": f"{type(e).__name__}: {e}"}
    print(json.dumps(out))
