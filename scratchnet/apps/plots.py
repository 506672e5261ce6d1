"""Charts for the apps and benchmarks, drawn with matplotlib (Agg) and written atomically: line charts (loss and
accuracy curves, quality curves), grouped bar charts and a confusion matrix. Image grids are in images.py.

Figures are made with `matplotlib.figure.Figure`, never pyplot: no global state, no GUI backend chosen behind the
user's back, safe from threads, and nothing to close.
"""
import functools
import io as _io
import math
import textwrap

import numpy

from .images import image_grid  # noqa: F401  (the apps draw their picture grids from here too)

FONT = {"font.size": 10, "axes.titlesize": 11, "axes.labelsize": 10, "legend.fontsize": 9}


def _styled(chart):
    """Draw inside matplotlib.rc_context: our font sizes apply to our figures only, not to the user's."""
    @functools.wraps(chart)
    def run(*args, **kwargs):
        import matplotlib
        with matplotlib.rc_context(FONT):
            return chart(*args, **kwargs)
    return run


def _figure(width, height):
    from matplotlib.figure import Figure
    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def save_figure(fig, path, dpi=100):
    """PNG of a matplotlib figure, written atomically (temp file, then rename)."""
    from ..io import atomic_write
    buf = _io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    atomic_write(path, lambda f: f.write(buf.getvalue()))
    return path


def spans_decades(values, decades=2):
    """True when all values are positive and the largest is at least 10**decades times the smallest: such a
    curve is read on a log scale (a loss falling from 2 to 0.01 is a flat line at the bottom otherwise)."""
    v = [float(a) for a in values if a is not None and math.isfinite(a)]
    return bool(v) and min(v) > 0 and max(v) >= 10 ** decades * min(v)


def _panel(panel):
    """A panel as a dict: title, series {name: ys}, optional ylabel, x (shared x values), log (None: automatic)."""
    if isinstance(panel, dict):
        return dict(dict(ylabel="", x=None, log=None), **panel)
    title, series, *rest = panel
    return dict(title=title, series=series, ylabel=rest[0] if rest else "", x=None, log=None)


def line_chart(path, title, series, xlabel="epoch", ylabel="", x=None, log=None):
    """One chart: series = {name: [y0, y1, ...]} against x (default 1, 2, ...)."""
    return line_charts(path, [dict(title=title, series=series, ylabel=ylabel, x=x, log=log)], xlabel)


@_styled
def line_charts(path, panels, xlabel="epoch"):
    """Charts side by side; each panel is (title, series[, ylabel]) or a dict with keys title, series, ylabel,
    x (x values shared by the panel's series) and log (True/False; None: log scale when the values span decades)."""
    panels = [_panel(p) for p in panels]
    from matplotlib.ticker import MaxNLocator
    fig = _figure(5.2 * len(panels), 3.8)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, p in zip(axes, panels):
        values = []
        for name, ys in p["series"].items():
            ys = [numpy.nan if v is None else float(v) for v in ys]
            xs = p["x"] if p["x"] is not None else range(1, len(ys) + 1)
            ax.plot(list(xs)[:len(ys)], ys, label=name, marker="o" if len(ys) <= 30 else None, markersize=4)
            values += ys
        log = spans_decades(values) if p["log"] is None else p["log"]
        if log:
            ax.set_yscale("log")
        ax.set_title(p["title"])
        ax.set_xlabel(xlabel)
        ax.set_ylabel(p["ylabel"] + (" (log scale)" if log else ""))
        ax.grid(True, which="major", alpha=0.35)
        if log:
            ax.grid(True, which="minor", alpha=0.12)
        xs = list(p["x"]) if p["x"] is not None else list(range(1, max(map(len, p["series"].values()), default=0) + 1))
        if all(float(v).is_integer() for v in xs):   # epochs and steps: no 1.25
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            if len(set(xs)) == 1:                     # one point: one tick at it, not a zoom into 0.95..1.05
                ax.set_xlim(xs[0] - 1, xs[0] + 1)
                ax.set_xticks([xs[0]])
        if len(p["series"]) > 1 or next(iter(p["series"]), ""):
            ax.legend()
    return save_figure(fig, path)


@_styled
def bar_chart(path, title, groups, series, ylabel="", log=None, fmt="{:.3g}"):
    """Grouped bars: for each group (x axis), one bar per series {name: [value per group]}, its value on top.
    log: None chooses a log scale when the values span decades."""
    names = list(series)
    values = [v for vals in series.values() for v in vals]
    fig = _figure(max(5.0, 1.2 + 0.45 * len(groups) * len(names) + 0.4 * len(groups)), 4.0)
    ax = fig.subplots()
    width = 0.8 / len(names)
    for i, name in enumerate(names):
        xs = numpy.arange(len(groups)) + (i - (len(names) - 1) / 2) * width
        bars = ax.bar(xs, series[name], width * 0.95, label=name)
        ax.bar_label(bars, labels=[fmt.format(v) for v in series[name]], fontsize=8, padding=2)
    log = spans_decades(values) if log is None else log
    if log:
        ax.set_yscale("log")
    else:
        ax.set_ylim(0, max(values + [0]) * 1.15 or 1)
    ax.set_xticks(numpy.arange(len(groups)), [textwrap.fill(str(g), 14) for g in groups])
    ax.set_title(title)
    ax.set_ylabel(ylabel + (" (log scale)" if log else ""))
    ax.grid(True, axis="y", alpha=0.35)
    ax.set_axisbelow(True)
    ax.legend()
    return save_figure(fig, path)


@_styled
def confusion_image(path, matrix, classes, what="test images", show="count"):
    """Rows: true class, columns: predicted; each cell coloured by its share of the row, with its count
    (show="count") or that share in percent (show="share": pixel counts in the millions do not fit a cell).
    `what` names the things counted in the title."""
    m = numpy.asarray(matrix)
    share = m / numpy.maximum(m.sum(1, keepdims=True), 1)
    k = len(classes)
    fig = _figure(1.6 + 0.62 * k, 1.2 + 0.55 * k)
    ax = fig.subplots()
    im = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for i in range(k):
        for j in range(k):
            text = str(int(m[i, j])) if show == "count" else f"{100 * share[i, j]:.0f}"
            ax.text(j, i, text, ha="center", va="center", fontsize=8,
                    color="white" if share[i, j] > 0.5 else "black")
    ax.set_xticks(range(k), classes, rotation=45, ha="right")
    ax.set_yticks(range(k), classes)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(f"confusion matrix ({int(m.sum())} {what})" + (", % of each row" if show == "share" else ""))
    fig.colorbar(im, ax=ax, label="share of the true class", shrink=0.8)
    return save_figure(fig, path)
