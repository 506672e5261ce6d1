"""Pictures without a plotting library: line charts, bar charts, a confusion matrix and captioned image grids,
drawn with Pillow and written atomically (temp file, then rename)."""

import numpy
from PIL import Image, ImageDraw

COLOURS = [(66, 133, 244), (234, 67, 53), (52, 168, 83), (251, 188, 5), (142, 36, 170)]


def save_png(img, path):
    from ..io import atomic_write
    atomic_write(path, lambda f: img.save(f, format="PNG"))
    return path


def _panel(d, box, title, series, xlabel):
    """One line chart inside box = (x0, y0, width, height), its legend under the x axis."""
    x0, y0, w, h = box
    left, right, top, bottom = x0 + 60, x0 + w - 20, y0 + 30, y0 + h - 40 - 14 * len(series)
    values = [v for ys in series.values() for v in ys]
    lo, hi = min(values), max(values)
    if hi == lo:
        hi = lo + 1
    n = max(len(ys) for ys in series.values())
    px = lambda i: left + (right - left) * (i / max(n - 1, 1))  # noqa: E731
    py = lambda v: bottom - (bottom - top) * (v - lo) / (hi - lo)  # noqa: E731
    d.text((left, y0 + 8), title, fill="black")
    d.line([(left, top), (left, bottom), (right, bottom)], fill="black")
    for k in range(5):
        v = lo + (hi - lo) * k / 4
        d.text((x0 + 4, py(v) - 6), f"{v:.3g}", fill="gray")
    step = max(1, n // 15)
    for i in range(0, n, step):
        d.text((px(i) - 3, bottom + 4), str(i + 1), fill="gray")
    d.text(((left + right) // 2 - 15, bottom + 18), xlabel, fill="black")
    for c, (name, ys) in enumerate(series.items()):
        pts = [(px(i), py(v)) for i, v in enumerate(ys)]
        colour = COLOURS[c % len(COLOURS)]
        if len(pts) > 1:
            d.line(pts, fill=colour, width=2)
        if len(pts) <= 60:
            for x, y in pts:
                d.ellipse([x - 3, y - 3, x + 3, y + 3], fill=colour)
        d.line([(left, bottom + 40 + 14 * c), (left + 20, bottom + 40 + 14 * c)], fill=colour, width=3)
        d.text((left + 26, bottom + 34 + 14 * c), name, fill="black")


def line_chart(path, title, series, xlabel="epoch", size=(560, 380)):
    """series: {name: [y0, y1, ...]} plotted against 1, 2, ... with the y range fitted."""
    return line_charts(path, [(title, series)], xlabel, size)


def line_charts(path, panels, xlabel="epoch", size=(560, 380)):
    """Several line charts side by side: panels = [(title, {name: ys}), ...]."""
    w, h = size
    img = Image.new("RGB", (w * len(panels), h), "white")
    d = ImageDraw.Draw(img)
    for i, (title, series) in enumerate(panels):
        _panel(d, (i * w, 0, w, h), title, series, xlabel)
    return save_png(img, path)


def bar_chart(path, title, groups, series):
    """Grouped bars: groups × {name: [value per group]}."""
    names = list(series)
    w, h, left, bottom, top = 160 + 120 * len(groups), 420, 70, 90, 40
    img = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(img)
    vmax = max(v for vals in series.values() for v in vals) or 1
    d.text((left, 10), title, fill="black")
    d.line([(left, h - bottom), (w - 20, h - bottom)], fill="black")
    slot = (w - left - 20) / len(groups)
    bar = slot * 0.8 / len(names)
    for gi, g in enumerate(groups):
        x0 = left + gi * slot + slot * 0.1
        for si, name in enumerate(names):
            v = series[name][gi]
            y = h - bottom - (h - bottom - top) * v / vmax
            d.rectangle([x0 + si * bar, y, x0 + (si + 1) * bar - 2, h - bottom], fill=COLOURS[si % len(COLOURS)])
            d.text((x0 + si * bar, y - 12), f"{v:.3g}", fill="black")
        d.text((x0, h - bottom + 6), str(g), fill="black")
    for si, name in enumerate(names):
        d.rectangle([left + si * 150, h - 30, left + si * 150 + 12, h - 18], fill=COLOURS[si % len(COLOURS)])
        d.text((left + si * 150 + 18, h - 30), name, fill="black")
    return save_png(img, path)


def confusion_image(path, matrix, classes, cell=44):
    """Rows: true class, columns: predicted; each cell shaded by its share of the row, with its count."""
    m = numpy.asarray(matrix)
    k = len(classes)
    left, top = 110, 70
    img = Image.new("RGB", (left + cell * k + 20, top + cell * k + 20), "white")
    d = ImageDraw.Draw(img)
    d.text((left, 8), "confusion matrix (rows: true, columns: predicted)", fill="black")
    share = m / numpy.maximum(m.sum(1, keepdims=True), 1)
    for i in range(k):
        d.text((4, top + i * cell + cell // 2 - 6), classes[i][:14], fill="black")
        d.text((left + i * cell + 2, top - 16 - 12 * (i % 2)), classes[i][:7], fill="black")
        for j in range(k):
            s = share[i, j]
            colour = (int(255 - 200 * s), int(255 - 120 * s), 255) if i == j else (255, int(255 - 200 * s),
                                                                                     int(255 - 200 * s))
            x0, y0 = left + j * cell, top + i * cell
            d.rectangle([x0, y0, x0 + cell - 1, y0 + cell - 1], fill=colour, outline=(220, 220, 220))
            d.text((x0 + 6, y0 + cell // 2 - 6), str(int(m[i, j])), fill="black")
    return save_png(img, path)


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
