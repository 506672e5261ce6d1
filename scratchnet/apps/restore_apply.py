"""`scratchnet restore apply`: restore any image file with a trained checkpoint or the shipped weights, e.g.
upscale a photo ×3. Grey images come back grey and an alpha channel is kept (resampled bicubically for SR); what
the networks cannot take (16-bit or float pixels, an image smaller than the scale, a mask of another size, a file
that is not an image) is refused with a message naming the file.
"""
import os

import numpy
from PIL import Image

from ..data import restoration as data
from ..io import atomic_write
from .images import open_image
from .restore import load_restorer, restore

GREY = ("1", "L", "LA", "La")
ALPHA = ("RGBA", "LA", "PA", "La", "RGBa")


def read_image(path):
    """(rgb (3, H, W) float32 in [0, 1], alpha (H, W) or None, grey: bool) from an image file."""
    img = open_image(path)
    if img.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        raise ValueError(f"{path}: {img.mode} pixels (16-bit or float) are not supported: save it as an 8-bit RGB "
                         f"or greyscale image")
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    grey = img.mode in GREY
    alpha = numpy.asarray(img.getchannel("A"), numpy.float32) / 255 if img.mode in ALPHA else None
    rgb = numpy.asarray(img.convert("RGB"), numpy.float32).transpose(2, 0, 1) / 255
    return numpy.ascontiguousarray(rgb), alpha, grey


def read_mask(path, shape):
    """An inpainting mask file: white (255) = known pixel, black (0) = hole; (1, H, W) float32 of the image's size.
    Grey levels are refused rather than guessed at (an anti-aliased or JPEG-compressed mask is not binary)."""
    m = numpy.asarray(open_image(path).convert("L"))
    if m.shape != tuple(shape):
        raise ValueError(f"--mask {path} is {m.shape[1]}×{m.shape[0]} px but the image is {shape[1]}×{shape[0]} px")
    grey = int(((m > 0) & (m < 255)).sum())
    if grey:
        raise ValueError(f"--mask {path} is not binary: {grey} of its {m.size} pixels are grey (1-254); use black "
                         f"(0) for holes and white (255) for known pixels, e.g. a PNG without anti-aliasing")
    return (m > 0).astype(numpy.float32)[None]


NO_ALPHA = ("JPEG", "PPM", "BMP")   # no alpha channel in the file (BMP readers mostly ignore one)


def output_format(out):
    """The Pillow format a result file is written in, from its extension; checked before the network runs, so a
    name Pillow cannot write (no extension, .txt) fails at once instead of after the work or as a mislabelled PNG."""
    ext = os.path.splitext(out)[1].lower()
    fmt = Image.registered_extensions().get(ext)
    if fmt is None or fmt not in Image.SAVE:
        what = f"with extension {ext!r}" if ext else "without an extension"
        raise ValueError(f"-o {out}: cannot write an image {what}; use .png, .jpg, .webp, .tif or .bmp")
    return fmt


def default_out(image, config):
    stem = os.path.splitext(os.path.basename(image))[0]
    return f"{stem}_x{config['scale']}.png" if config["task"] == "sr" else f"{stem}_{config['task']}.png"


def apply(image, out=None, checkpoint=None, task="sr", scale=None, mask=None, device=None):
    """Restore `image` (a file) and write the result (format by extension: PNG, JPEG, ...) to `out` (default:
    NAME_x3.png or NAME_denoise.png / NAME_inpaint.png in the current folder). Returns (out path, info dict)."""
    model, config = load_restorer(checkpoint, task, scale, device)
    out = out or default_out(image, config)
    fmt = output_format(out)
    rgb, alpha, grey = read_image(image)
    h, w = rgb.shape[1:]
    s = config["scale"] if config["task"] == "sr" else 1
    if min(h, w) < s:
        raise ValueError(f"{image}: the image is {w}×{h} px, smaller than the scale {s}: each side needs at least "
                         f"{s} pixels")
    extra = None
    if config["task"] == "inpaint":
        if mask is None:
            raise ValueError("inpainting needs --mask: an image of the same size, black where pixels are missing")
        extra = {"mask": read_mask(mask, (h, w))}
    elif mask is not None:
        raise ValueError(f"--mask is for inpainting, but this network does {config['task']}")
    result = restore(model, config, rgb, extra, device)
    pil = Image.fromarray((result.transpose(1, 2, 0) * 255 + 0.5).astype(numpy.uint8))
    if grey:
        pil = pil.convert("L")
    if alpha is not None:
        a = data.bicubic_up(alpha[None], s)[0] if s > 1 else alpha
        pil.putalpha(Image.fromarray((numpy.clip(a, 0, 1) * 255 + 0.5).astype(numpy.uint8)))
    if fmt in NO_ALPHA and pil.mode in ("RGBA", "LA"):
        pil = pil.convert("RGB" if pil.mode == "RGBA" else "L")
    atomic_write(out, lambda f: pil.save(f, format=fmt))
    return out, dict(config=config, size_in=(w, h), size_out=pil.size, checkpoint=checkpoint or "shipped")
