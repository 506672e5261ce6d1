"""Photos in and out for the image apps (style transfer, DeepDream): load, resize, save, strips, colour tricks.

Images travel as (1, 3, H, W) tensors with values in [0, 1]; files are read and written with Pillow on the host,
and written atomically (temp file, then rename).
"""
import os

import numpy
from PIL import Image, ImageDraw

from .. import backend, creation

SAMPLES = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", "images")


def save_png(img, path):
    """Write a Pillow image as PNG, atomically."""
    from ..io import atomic_write
    atomic_write(path, lambda f: img.save(f, format="PNG"))
    return path


def sample_names():
    return sorted(os.path.splitext(f)[0] for f in os.listdir(SAMPLES) if f.endswith(".jpg"))


def sample_image(name):
    """Path of a bundled photo (see scratchnet/data/images/README.md): astronaut, chelsea, coffee, rocket,
    immunohistochemistry, brick, gravel."""
    path = os.path.join(SAMPLES, f"{name}.jpg")
    if not os.path.exists(path):
        raise ValueError(f"no bundled image {name!r}: choose from {', '.join(sample_names())}")
    return path


def resolve(path_or_name):
    """A file path, or the name of a bundled photo."""
    if os.path.exists(path_or_name) or os.sep in path_or_name or "." in os.path.basename(path_or_name):
        return path_or_name
    return sample_image(path_or_name)


def open_image(path):
    """A decoded Pillow image from a file, refused (ValueError naming the file) when it is not an image Pillow
    reads, or has more pixels than Pillow's limit (Image.MAX_IMAGE_PIXELS, a guard against decompression bombs)."""
    import warnings
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)   # over the limit, not just over 2x
            img = Image.open(path)
            img.load()
    except FileNotFoundError:
        raise FileNotFoundError(f"image file not found: {path}") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ValueError(f"{path}: the image has more pixels than Pillow's limit of {Image.MAX_IMAGE_PIXELS} "
                         f"(Image.MAX_IMAGE_PIXELS); refusing a possible decompression bomb") from None
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        raise ValueError(f"cannot read {path} as an image: {err}") from None
    return img


def open_rgb(path, size=None):
    """A Pillow RGB image; `size` is the longer side in pixels (aspect ratio kept)."""
    path = resolve(path)
    img = open_image(path).convert("RGB")
    if size is not None:
        if size < 8:
            raise ValueError(f"size must be at least 8 pixels, got {size}")
        scale = size / max(img.size)
        img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))), Image.LANCZOS)
    return img


def load_image(path, size=None, device=None, dtype="float32"):
    """(1, 3, H, W) tensor in [0, 1] from an image file (or a bundled photo's name)."""
    a = numpy.asarray(open_rgb(path, size), dtype=numpy.float32) / 255.0
    return creation.tensor(a.transpose(2, 0, 1)[None], dtype=dtype, device=device)


def to_pil(x):
    """A (1, 3, H, W) / (3, H, W) / (1, H, W) tensor or array in [0, 1] -> Pillow RGB image (clipped)."""
    a = x.detach().numpy() if hasattr(x, "detach") else numpy.asarray(x)
    a = a[0] if a.ndim == 4 else a
    if a.ndim != 3 or a.shape[0] not in (1, 3):
        raise ValueError(f"to_pil: expected an image (1|3, H, W), got shape {a.shape}")
    a = numpy.repeat(a, 3, axis=0) if a.shape[0] == 1 else a
    return Image.fromarray((numpy.clip(a.transpose(1, 2, 0), 0, 1) * 255 + 0.5).astype(numpy.uint8))


def save_image(x, path):
    """Write a tensor image (or a Pillow image) as PNG/JPEG by the path's extension, atomically."""
    from ..io import atomic_write
    img = x if isinstance(x, Image.Image) else to_pil(x)
    fmt = "JPEG" if path.lower().endswith((".jpg", ".jpeg")) else "PNG"
    atomic_write(path, lambda f: img.save(f, format=fmt))
    return path


def strip(images, captions, path, height=256):
    """Pictures side by side at a common height, a caption under each: e.g. content | style | result."""
    tiles = [(im if isinstance(im, Image.Image) else to_pil(im)) for im in images]
    tiles = [t.resize((max(1, round(t.width * height / t.height)), height), Image.LANCZOS) for t in tiles]
    canvas = Image.new("RGB", (sum(t.width for t in tiles) + 8 * (len(tiles) + 1), height + 30), "white")
    d, x = ImageDraw.Draw(canvas), 8
    for t, caption in zip(tiles, captions):
        canvas.paste(t, (x, 4))
        d.text((x, height + 10), caption, fill="black")
        x += t.width + 8
    return save_png(canvas, path)


# RGB -> YIQ (NTSC): Y is luminance, I and Q carry the colour
_YIQ = numpy.array([[0.299, 0.587, 0.114], [0.595716, -0.274453, -0.321263], [0.211456, -0.522591, 0.311135]])


def preserve_color(result, content):
    """Keep the content's colours: the result's luminance Y with the content's chrominance (I, Q).
    Both (1, 3, H, W) in [0, 1], same size; returns a new detached tensor."""
    if result.shape != content.shape:
        raise ValueError(f"preserve_color: result {result.shape} and content {content.shape} differ in shape")
    xp_matrix = creation.tensor(_YIQ, dtype=result.dtype, device=result.device)
    r = result.detach().reshape(3, -1)
    c = content.detach().reshape(3, -1)
    yiq_r, yiq_c = xp_matrix @ r, xp_matrix @ c
    yiq = creation.tensor(yiq_c.data, device=result.device)
    with backend.on(yiq.data):
        yiq.data[0] = yiq_r.data[0]
    inverse = creation.tensor(numpy.linalg.inv(_YIQ), dtype=result.dtype, device=result.device)
    return (inverse @ yiq).reshape(result.shape).clip(0, 1)


def tint(x, colour):
    """A grayscale-looking (1, 3, H, W) image tinted towards an RGB colour in [0, 1] (texture photos)."""
    gray = x.mean(1, keepdim=True)
    c = creation.tensor(colour, dtype=x.dtype, device=x.device).reshape(1, 3, 1, 1)
    return (gray * (0.35 + 1.3 * c)).clip(0, 1)


def image_grid(path, images, captions, cols=8, scale=3, caption_colours=None):
    """Grayscale images (N, H, W) in [0, 1] or uint8, each with a caption line underneath."""
    imgs = numpy.asarray(images)
    if imgs.dtype != numpy.uint8:
        imgs = (numpy.clip(imgs, 0, 1) * 255).astype(numpy.uint8)
    n, h, w = imgs.shape
    rows = -(-n // cols)
    cw, ch = w * scale + 8, h * scale + 30
    canvas = Image.new("RGB", (cols * cw, rows * ch), "white")
    d = ImageDraw.Draw(canvas)
    for i in range(n):
        r, c = divmod(i, cols)
        tile = Image.fromarray(imgs[i]).resize((w * scale, h * scale), Image.NEAREST).convert("RGB")
        canvas.paste(tile, (c * cw + 4, r * ch + 4))
        colour = caption_colours[i] if caption_colours else "black"
        for k, line in enumerate(str(captions[i]).split("\n")[:2]):
            d.text((c * cw + 4, r * ch + h * scale + 6 + 11 * k), line, fill=colour)
    return save_png(canvas, path)
