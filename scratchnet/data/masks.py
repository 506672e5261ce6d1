"""Inpainting masks (1 = known pixel, 0 = hole): free-form brush strokes and rectangles drawn until a random hole
ratio is reached, deterministic from a seed; used by data/restoration.py's RestorationPairs and the restore app.
"""
import numbers

import numpy


def _generator(fn, rng):
    if isinstance(rng, numpy.random.Generator):
        return rng
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        return numpy.random.default_rng(int(rng))
    raise TypeError(f"{fn}: rng must be a numpy.random.Generator or an int seed, got {type(rng).__name__}")


# The inpainting masks: free-form brush strokes (random walks of thick lines, as the free-form mask generator of the
# common DeepFill / gated-convolution re-implementations draws them on 256-px images: 1-5 segments 10-49 px long,
# brush 5-14 px wide) and small rectangles, drawn until a hole ratio drawn uniformly from HOLE_RATIO is reached. Sizes are in pixels, the same on a
# 48-px patch and on a 384-px photo, so a training patch cut from a photo's mask sees the holes the test photos get.
HOLE_RATIO = (0.10, 0.30)
MASK_KINDS = ("mixed", "strokes", "boxes")
STROKE_WIDTH = (5, 15)      # brush width in px, uniform integer in [5, 15]
SEGMENT_LENGTH = (10, 50)   # px, uniform
SEGMENTS = (1, 5)           # segments per stroke, uniform integer
TURN = numpy.pi / 2         # each segment turns by a uniform angle in [-TURN, TURN] from the previous one
BOX_SIDE = (8, 32)          # rectangle sides in px, uniform integers
FULL_SIZE = 48              # images whose smaller side is below this get every size scaled by side / FULL_SIZE


def _check_ratio(fn, ratio):
    try:
        lo, hi = (float(v) for v in ratio)
    except (TypeError, ValueError):
        raise ValueError(f"{fn}: ratio must be a pair (low, high) of hole ratios, got {ratio!r}") from None
    if not 0 <= lo <= hi < 1:
        raise ValueError(f"{fn}: ratio must be a pair (low, high) with 0 <= low <= high < 1, got {ratio!r}")
    return lo, hi


def _stroke_segments(rng, h, w, s):
    """The segments ((x0, y0), (x1, y1), width) of one brush stroke: a random walk from a uniform start point."""
    width = max(1, int(round(s * int(rng.integers(STROKE_WIDTH[0], STROKE_WIDTH[1] + 1)))))
    x, y = float(rng.uniform(0, w)), float(rng.uniform(0, h))
    angle = float(rng.uniform(0, 2 * numpy.pi))
    out = []
    for _ in range(int(rng.integers(SEGMENTS[0], SEGMENTS[1] + 1))):
        angle += float(rng.uniform(-TURN, TURN))
        length = s * float(rng.uniform(*SEGMENT_LENGTH))
        nx = float(numpy.clip(x + length * numpy.cos(angle), 0, w - 1))
        ny = float(numpy.clip(y + length * numpy.sin(angle), 0, h - 1))
        out.append(((x, y), (nx, ny), width))
        x, y = nx, ny
    return out


def _segment_pixels(h, w, seg):
    """(rows slice, cols slice, bool patch) of the pixels a round-capped thick segment covers."""
    from PIL import Image, ImageDraw
    (x0, y0), (x1, y1), width = seg
    r = width / 2
    left, top = max(0, int(min(x0, x1) - r) - 1), max(0, int(min(y0, y1) - r) - 1)
    right, bottom = min(w, int(max(x0, x1) + r) + 2), min(h, int(max(y0, y1) + r) + 2)
    img = Image.new("1", (right - left, bottom - top), 0)
    draw = ImageDraw.Draw(img)
    a, b = (x0 - left, y0 - top), (x1 - left, y1 - top)
    draw.line([a, b], fill=1, width=width)
    for cx, cy in (a, b):                                    # round caps, so consecutive segments join smoothly
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=1)
    return slice(top, bottom), slice(left, right), numpy.asarray(img, dtype=bool)


def random_mask(h, w, rng, ratio=HOLE_RATIO, kind="mixed"):
    """An inpainting mask, float32 (h, w): 1 = known pixel, 0 = hole. A target hole ratio r is drawn uniformly from
    ratio = (low, high) (default 10-30 %), then shapes are drawn one after another until at least r of the pixels
    are holes; a stroke segment or a rectangle that would take the ratio above `high` is left out (and ends its
    stroke), and after 50 shapes in a row that add nothing the drawing stops once the ratio is at least `low` (on a
    small image close to `high` no shape fits any more), so the hole ratio always lies in [low, high]. Shapes, all
    sizes in pixels:
      'strokes': free-form brush strokes: a random walk of 1-5 segments from a uniform start point, each 10-50 px
                 long and turning by up to ±90° from the last, drawn with a round brush 5-15 px wide (integer);
      'boxes':   axis-aligned rectangles with integer sides in [8, 32] px at a uniform position;
      'mixed':   (the default) each shape a stroke or a rectangle with equal odds.
    On an image whose smaller side m is below 48 px (a 28-px Fashion-MNIST garment) every size is scaled by m/48;
    on larger images (a 48-px training patch or a photo) the sizes are the same. Deterministic: every draw comes
    from rng (a numpy Generator or an int seed) in a fixed order.
    Holes are at most ~7 px from a known pixel across a stroke and 16 px inside a lone rectangle (more where shapes
    overlap): holes a network can fill from context, unlike solid blocks a third of the photo wide."""
    for name, v in (("h", h), ("w", w)):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
            raise ValueError(f"random_mask: {name} must be a positive int, got {v!r}")
    lo, hi = _check_ratio("random_mask", ratio)
    if kind not in MASK_KINDS:
        raise ValueError(f"random_mask: kind must be one of {', '.join(map(repr, MASK_KINDS))}, got {kind!r}")
    rng = _generator("random_mask", rng)
    s = min(1.0, min(h, w) / FULL_SIZE)
    cap = int(numpy.floor(hi * h * w))
    if int(numpy.ceil(lo * h * w)) > cap:
        raise ValueError(f"random_mask: no hole ratio in [{lo}, {hi}] is possible on a {h}×{w} image")
    target = min(int(numpy.ceil(float(rng.uniform(lo, hi)) * h * w)), cap)
    holes, count, low, refused = numpy.zeros((h, w), bool), 0, int(numpy.ceil(lo * h * w)), 0
    for _ in range(100000):
        # near `high` most shapes no longer fit: after 50 in a row add nothing, stop where the ratio is in range
        if count >= target or (refused >= 50 and count >= low):
            break
        if kind == "boxes" or (kind == "mixed" and rng.random() < 0.5):
            bh, bw = (max(1, int(round(s * v))) for v in rng.integers(BOX_SIDE[0], BOX_SIDE[1] + 1, 2))
            y, x = int(rng.integers(0, max(1, h - bh + 1))), int(rng.integers(0, max(1, w - bw + 1)))
            parts = [(slice(y, y + bh), slice(x, x + bw), True)]
        else:
            parts = [_segment_pixels(h, w, seg) for seg in _stroke_segments(rng, h, w, s)]
        refused += 1
        for rows, cols, pix in parts:
            added = int((pix & ~holes[rows, cols]).sum())
            if count + added > cap:
                break                                        # would pass `high`: the rest of the shape is left out
            holes[rows, cols] |= pix
            count, refused = count + added, 0
            if count >= target:
                break
    if count < low:
        raise ValueError(f"random_mask: could not reach a hole ratio of {target / (h * w):.3f} on a {h}×{w} image")
    return (~holes).astype(numpy.float32)
