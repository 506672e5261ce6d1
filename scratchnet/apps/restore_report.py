"""The restoration app's report: side-by-side pictures with zoomed crops and the figures printed on each panel,
and the results table (markdown and JSON) of a task and scale.

A picture row is e.g. low-res | bicubic | scratchnet | ground truth. Every panel is shown at the ground truth's
size (the low-res input enlarged by pixel replication, so nothing is smoothed that the method did not smooth),
with a box where the crop was taken; under it the crop zoomed by pixel replication, so edges are seen as they are.
The crop is the window of the ground truth with the most edge energy: where the methods differ most.
"""
import os

import numpy
from PIL import Image, ImageDraw, ImageFont

from ..io import atomic_write, atomic_write_json
from .images import save_png

PANEL = 256          # each panel's longer side on the picture, in pixels
CROP = 48            # the crop's side in ground-truth pixels (zoomed to PANEL wide)


def _font(size=13):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:   # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def to_uint8(img):
    """(3|1, H, W) or (H, W, 3) float in [0, 1] -> (H, W, 3) uint8 (clipped, rounded)."""
    a = numpy.asarray(img, dtype=numpy.float32)
    if a.ndim == 3 and a.shape[0] in (1, 3) and a.shape[2] not in (1, 3):
        a = a.transpose(1, 2, 0)
    if a.ndim == 2:
        a = a[..., None]
    if a.shape[2] == 1:
        a = numpy.repeat(a, 3, axis=2)
    return (numpy.clip(a, 0, 1) * 255 + 0.5).astype(numpy.uint8)


def busiest_window(truth, size=CROP, stride=8):
    """(top, left) of the size×size window of `truth` (C, H, W) with the largest sum of gradient magnitude."""
    g = numpy.asarray(truth, dtype=numpy.float64).mean(0)
    h, w = g.shape
    size = min(size, h, w)
    mag = numpy.zeros_like(g)
    mag[:, 1:] += numpy.abs(numpy.diff(g, axis=1))
    mag[1:, :] += numpy.abs(numpy.diff(g, axis=0))
    s = numpy.pad(mag.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    best, where = -1.0, (0, 0)
    for y in range(0, h - size + 1, stride):
        for x in range(0, w - size + 1, stride):
            v = s[y + size, x + size] - s[y, x + size] - s[y + size, x] + s[y, x]
            if v > best:
                best, where = v, (y, x)
    return where + (size,)


def _drawable(text):
    """Pillow's built-in font has no σ or ×: spell them out rather than draw a box."""
    return text.replace("σ", "sigma").replace("×", "x")


def comparison(path, panels, title, crop=None):
    """One row of panels, each (label, image, caption): image (C, H, W) in [0, 1], all the size of the last
    (the ground truth) except a smaller low-res input, which is enlarged by pixel replication. `crop`: (top,
    left, size) in ground-truth pixels (default: the busiest window of the last panel). Written atomically."""
    truth = numpy.asarray(panels[-1][1])
    th, tw = truth.shape[-2:]
    top, left, size = crop or busiest_window(truth)
    zoom = max(1, PANEL // size)
    shown = max(th, tw)
    pw, ph = round(tw * PANEL / shown), round(th * PANEL / shown)
    font, big = _font(13), _font(15)
    col_w = max(pw, size * zoom) + 12
    canvas = Image.new("RGB", (col_w * len(panels) + 8, ph + size * zoom + 92), "white")
    d = ImageDraw.Draw(canvas)
    d.text((8, 6), _drawable(title), fill="black", font=big)
    for i, (label, img, caption) in enumerate(panels):
        a = to_uint8(img)
        im = Image.fromarray(a)
        if a.shape[:2] != (th, tw):   # the low-res input: pixel replication up to the truth's size
            im = im.resize((tw, th), Image.NEAREST)
        x0, y0 = 8 + i * col_w, 28
        canvas.paste(im.resize((pw, ph), Image.LANCZOS), (x0, y0))
        s = pw / tw
        d.rectangle([x0 + left * s, y0 + top * s, x0 + (left + size) * s, y0 + (top + size) * s], outline="red",
                    width=2)
        patch = im.crop((left, top, left + size, top + size)).resize((size * zoom, size * zoom), Image.NEAREST)
        canvas.paste(patch, (x0, y0 + ph + 6))
        ty = y0 + ph + size * zoom + 10
        d.text((x0, ty), _drawable(label), fill="black", font=big)
        d.text((x0, ty + 19), _drawable(caption), fill="#333333", font=font)
    if path.lower().endswith((".jpg", ".jpeg")):
        atomic_write(path, lambda f: canvas.save(f, format="JPEG", quality=92))
        return path
    return save_png(canvas, path)


def picture(path, config, degraded, result, hr, extra, r):
    """The comparison picture of one held-out image: input | (baseline) | scratchnet | ground truth."""
    name, task = config["model"], config["task"]
    if task == "sr":
        panels = [("low-res input", degraded, f"{degraded.shape[2]}x{degraded.shape[1]} px"),
                  ("bicubic (Pillow)", extra["bicubic"], f"PSNR-Y {r['psnr_y_bicubic']:.2f} dB  SSIM "
                                                         f"{r['ssim_y_bicubic']:.3f}"),
                  (f"scratchnet {name}", result, f"PSNR-Y {r['psnr_y']:.2f} dB  SSIM {r['ssim_y']:.3f}"),
                  ("ground truth", hr, f"{hr.shape[2]}x{hr.shape[1]} px")]
    elif task == "denoise":
        panels = [(f"noisy σ={config['sigma']:g}", numpy.clip(degraded, 0, 1),
                   f"PSNR {r['psnr_noisy']:.2f} dB  SSIM {r['ssim_noisy']:.3f}"),
                  (f"scratchnet {name}", result, f"PSNR {r['psnr']:.2f} dB  SSIM {r['ssim']:.3f}"),
                  ("ground truth", hr, "")]
    else:
        shown = numpy.where(extra["mask"] == 0, numpy.array([1, 0, 1], numpy.float32)[:, None, None], degraded)
        panels = [("masked input (holes magenta)", shown, f"{100 * (1 - extra['mask'].mean()):.0f}% holes"),
                  ("push-pull fill", extra["prefill"], f"PSNR in holes {r['psnr_holes_prefill']:.2f} dB"),
                  (f"scratchnet {name}", result, f"PSNR in holes {r['psnr_holes']:.2f} dB"),
                  ("ground truth", hr, "")]
    comparison(path, panels, f"{describe(config)}, {r['image']}")


# ---- the table ----

COLUMNS = {   # key in a row -> column title
    "sr": [("psnr_y_bicubic", "bicubic PSNR-Y"), ("ssim_y_bicubic", "bicubic SSIM-Y"), ("psnr_y", "model PSNR-Y"),
           ("ssim_y", "model SSIM-Y"), ("psnr_rgb", "model PSNR-RGB")],
    "denoise": [("psnr_noisy", "noisy PSNR"), ("ssim_noisy", "noisy SSIM"), ("psnr", "model PSNR"),
                ("ssim", "model SSIM")],
    "inpaint": [("psnr_holes_masked", "mean-fill PSNR (holes)"), ("psnr_holes_prefill", "push-pull PSNR (holes)"),
                ("psnr_holes", "model PSNR (holes)"),
                ("psnr", "model PSNR (image)"), ("ssim", "model SSIM")],
}


def mean_row(rows, task):
    keys = [k for k, _ in COLUMNS[task]]
    return {k: float(numpy.mean([r[k] for r in rows])) for k in keys}


def describe(config):
    task = config["task"]
    if task == "sr":
        return f"x{config['scale']} super-resolution"
    if task == "denoise":
        return f"denoising σ={config['sigma']:g}"
    return "inpainting"


def write_table(out, rows, config, extra=None):
    """results.md (one row per image and their mean) and results.json; returns the mean row."""
    task, cols = config["task"], COLUMNS[config["task"]]
    mean = mean_row(rows, task)
    lines = [f"# {describe(config)}: {config['model']} vs the baseline on held-out images", "",
             "| image | " + " | ".join(t for _, t in cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for r in rows + [dict(mean, image="**mean**")]:
        lines.append(f"| {r['image']} | " + " | ".join(
            f"{r[k]:.4f}" if k.startswith("ssim") else f"{r[k]:.2f}" for k, _ in cols) + " |")
    notes = {"sr": f"PSNR-Y/SSIM-Y: the BT.601 luma (16-235) of images clipped to [0, 1], a border of {config['scale']}"
                   " pixels shaved (the SR convention); bicubic is Pillow's.",
             "denoise": "PSNR and SSIM on RGB (SSIM: the mean over channels); the noise is N(0, σ/255) per pixel, "
                        "not clipped.",
             "inpaint": "PSNR (holes): the mean squared error over the hole pixels only; mean-fill fills the holes "
                        "with the mean of the known pixels; push-pull is the pyramid fill alone (what the model "
                        "corrects when config kwargs prefill is true)."}
    lines += ["", notes[task]]
    atomic_write(os.path.join(out, "results.md"), lambda f: f.write(("\n".join(lines) + "\n").encode()))
    atomic_write_json(os.path.join(out, "results.json"),
                      {"config": config, "images": rows, "mean": mean, **(extra or {})}, indent=1)
    return mean
