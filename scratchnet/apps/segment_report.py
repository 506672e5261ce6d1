"""The pictures and metrics file of a segmentation run (`scratchnet segment`): masks in colour with a class legend,
per-class IoU bars, loss/mIoU curves, the pixel confusion matrix and metrics.json. Everything is drawn from what
a checkpoint holds, so a resumed run redraws exactly the files an uninterrupted run writes.
"""
import os

import numpy

from .. import io
from . import plots

# RGB in [0, 1] per label: background black, then matplotlib's tab10 for the ten Fashion-MNIST classes
PALETTE = numpy.array([(0, 0, 0), (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
                       (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]) / 255.0


def colour_mask(mask, num_classes):
    """(H, W) labels -> (H, W, 3) RGB in [0, 1]. A binary mask's garment label 1 is drawn white."""
    palette = PALETTE if num_classes > 2 else numpy.array([(0, 0, 0), (1, 1, 1)], float)
    return palette[numpy.asarray(mask)]


def overlay(image, mask, num_classes, alpha=0.55):
    """The grayscale image with the labelled pixels tinted by their class colour (background left as it is)."""
    gray = numpy.repeat(numpy.clip(numpy.asarray(image, float), 0, 1)[..., None], 3, axis=-1)
    tint = PALETTE[numpy.asarray(mask)] if num_classes > 2 else numpy.array([(0, 0, 0), (1.0, 0.2, 0.2)])[mask]
    fg = (numpy.asarray(mask) > 0)[..., None]
    return numpy.where(fg, (1 - alpha) * gray + alpha * tint, gray)


@plots._styled
def mask_panels(path, images, masks, classes, preds=None, titles=None):
    """One row per image: image | true mask | predicted mask | overlay of the prediction (columns without data are
    left out: `masks` None for a file with no ground truth), and a legend of the class colours under the rows."""
    from matplotlib.patches import Patch
    k = len(classes)
    cols = [("image", lambda i: (images[i], "gray"))]
    if masks is not None:
        cols.append(("true mask", lambda i: (colour_mask(masks[i], k), None)))
    if preds is not None:
        cols.append(("predicted mask", lambda i: (colour_mask(preds[i], k), None)))
        cols.append(("overlay (prediction)", lambda i: (overlay(images[i], preds[i], k), None)))
    n = len(images)
    fig = plots._figure(1.9 * len(cols) + 0.2, 1.9 * n + 0.9)
    axes = fig.subplots(n, len(cols), squeeze=False)
    for i in range(n):
        for j, (name, get) in enumerate(cols):
            a, cmap = get(i)
            ax = axes[i, j]
            ax.imshow(a, cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(name)
            if j == 0 and titles is not None:
                ax.set_ylabel(titles[i], fontsize=8)
    palette = PALETTE if k > 2 else numpy.array([(0, 0, 0), (1, 1, 1)], float)
    handles = [Patch(facecolor=palette[c], edgecolor="0.5", label=classes[c]) for c in range(k)]
    fig.legend(handles=handles, loc="outside lower center", ncols=min(k, 4), fontsize=8, frameon=False)
    return plots.save_figure(fig, path, dpi=80)


def scores_json(scores, classes):
    """The scores of segmentation_metrics.scores_from_confusion as JSON-ready values (NaN -> None)."""
    clean = lambda v: None if v != v else float(v)  # noqa: E731  (NaN is not valid JSON)
    out = {k: clean(v) for k, v in scores.items() if k not in ("iou", "dice")}
    out["iou"] = {c: clean(v) for c, v in zip(classes, scores["iou"])}
    out["dice"] = {c: clean(v) for c, v in zip(classes, scores["dice"])}
    return out


def write_report(out, ck, test_ds):
    """metrics.json, curves.png, iou.png, confusion.png and predictions.png from a checkpoint's dict."""
    from .segmentation_metrics import scores_from_confusion
    classes = list(ck["classes"])
    rep, history, evals = ck["report"], ck["history"], ck["evals"]
    confusion = numpy.asarray(rep["confusion"], numpy.int64)
    scores = scores_from_confusion(confusion)
    garments = classes[1:]
    score = "foreground IoU" if len(classes) == 2 else "mIoU"
    plots.line_charts(os.path.join(out, "curves.png"), [
        dict(title="training loss", ylabel="weighted cross-entropy + λ·Dice", x=[h["step"] for h in history],
             series={"train": [h["loss"] for h in history]}),
        dict(title=f"{score} (no background) in the training batches", ylabel=score, log=False,
             x=[h["step"] for h in history] if history else None,
             series={"train (running)": [h["miou"] for h in history]}),
        dict(title=f"held-out {score} (no background)", ylabel=score, log=False, x=[e["step"] for e in evals],
             series={"test": [e["miou_no_background"] for e in evals]})], xlabel="training step")
    iou = [0.0 if v != v else float(v) for v in scores["iou"][1:]]
    plots.bar_chart(os.path.join(out, "iou.png"), f"per-class IoU on {len(test_ds)} held-out canvases after step "
                    f"{ck['step']}: {score} {scores['miou_no_background']:.3f}", garments, {"IoU": iou},
                    ylabel="intersection over union", log=False, fmt="{:.2f}")
    plots.confusion_image(os.path.join(out, "confusion.png"), confusion, classes, what="test pixels",
                          show="share")
    pick = [int(i) for i in rep["picked"]]
    images = numpy.stack([test_ds[i][0][0] for i in pick])
    masks = numpy.stack([test_ds[i][1] for i in pick])
    mask_panels(os.path.join(out, "predictions.png"), images, masks, classes, numpy.asarray(rep["preds"]),
                titles=[f"test canvas {i}" for i in pick])
    io.atomic_write_json(os.path.join(out, "metrics.json"), {
        "step": int(ck["step"]), "settings": ck["settings"], "classes": classes,
        "test": scores_json(scores, classes), "test_canvases": len(test_ds), "confusion": confusion.tolist(),
        "evals": evals, "history": history, **_voted(rep, classes)}, indent=1)


def _voted(rep, classes):
    """metrics.json's "test_component_vote": the scores after segment_vote.component_vote, where evaluated, beside
    "test" (the raw per-pixel prediction, the headline figure)."""
    from .segmentation_metrics import scores_from_confusion
    if "confusion_vote" not in rep:
        return {}
    return {"test_component_vote": scores_json(scores_from_confusion(numpy.asarray(rep["confusion_vote"])), classes)}
