"""Per-component vote: a post-processing of a segmentation's predicted masks justified by how the canvases are made.

The canvases' rule (scratchnet.data.segmentation, max_hidden=0) is that garments never overlap, so a connected
region of garment pixels shows one garment, and one garment has one class. A U-Net decides every pixel on its own
and often splits a garment between similar classes (shirt / T-shirt / pullover / coat). The vote keeps the
predicted foreground exactly as it is and gives every connected component of it the majority class of its pixels:

    comp(p)   = the connected component of predicted-foreground pixel p (4- or 8-neighbours, within its image)
    votes_k,c = #{p in component k : pred(p) = c}                           c = 1..C-1 (background never votes)
    voted(p)  = argmax_c votes_comp(p),c   (ties: the smaller label)        for foreground p; background stays 0

Where two garments touch, their predicted regions join into one component and both take one class: the cost of
the rule. Measured (README, Results): on these canvases touching is common enough that the vote lowers the mIoU,
so it is not part of the recipe; `scratchnet segment evaluate --vote` reports it beside the raw scores. The default
connectivity is 1 (4-neighbours), which merges fewer touching garments than 2. Everything is array code through `xp` (NumPy or CuPy).

Components are found by label propagation with pointer jumping: every foreground pixel starts with its own flat
index as label; each round, a pixel takes the largest label among itself and its foreground neighbours, then the
label of the pixel its label names (labels only grow and always name a pixel of the same component, so that
jump is safe and halves the remaining distance). It stops when a round changes nothing: each component then
carries the largest index among its pixels. The test checks it against scikit-image's `measure.label`.
"""
from .. import backend
from .segmentation_metrics import _histogram

# neighbour offsets (dy, dx): connectivity 1 = the 4 edge neighbours, 2 = also the 4 diagonals (skimage's names)
_OFFSETS = {1: ((0, 1), (0, -1), (1, 0), (-1, 0)),
            2: ((0, 1), (0, -1), (1, 0), (-1, 0), (1, 1), (1, -1), (-1, 1), (-1, -1))}


def _shifted(xp, a, dy, dx, fill):
    """b[..., y, x] = a[..., y + dy, x + dx], `fill` where that falls outside the image."""
    b = xp.full_like(a, fill)
    h, w = a.shape[-2:]
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    b[..., ys, xs] = a[..., yd, xd]
    return b


def component_labels(foreground, connectivity=1):
    """(N, H, W) int64 component labels of a boolean (N, H, W) array: each foreground pixel gets the largest flat
    index (y·W + x) of the pixels of its connected component, background pixels -1. connectivity: 1 (4-connected)
    or 2 (8-connected). Runs until nothing changes (one host check per round: not for a training step)."""
    if connectivity not in _OFFSETS:
        raise ValueError(f"component_labels: connectivity must be 1 or 2, got {connectivity!r}")
    if foreground.ndim != 3:
        raise ValueError(f"component_labels: expected a (N, H, W) mask, got shape {tuple(foreground.shape)}")
    xp = backend.get_array_module(foreground)
    n, h, w = foreground.shape
    fg = foreground.astype(bool)
    lab = xp.where(fg, xp.arange(h * w, dtype=xp.int64).reshape(1, h, w), -1)
    while True:
        new = lab
        for dy, dx in _OFFSETS[connectivity]:
            new = xp.maximum(new, _shifted(xp, lab, dy, dx, -1))
        new = xp.where(fg, new, -1)
        flat = new.reshape(n, h * w)   # pointer jump: the label of the pixel my label names
        new = xp.where(fg, xp.take_along_axis(flat, xp.maximum(flat, 0), axis=1).reshape(n, h, w), -1)
        if not bool((new != lab).any()):
            return new
        lab = new


def component_vote(pred, num_classes, connectivity=1):
    """Predicted masks (N, H, W) of labels 0..num_classes-1 (0 = background) with every connected foreground
    component given the majority class of its pixels (ties: the smaller label); background pixels unchanged."""
    xp = backend.get_array_module(pred)
    if pred.ndim != 3:
        raise ValueError(f"component_vote: expected (N, H, W) predicted masks, got shape {tuple(pred.shape)}")
    n, h, w = pred.shape
    fg = pred > 0
    comp = component_labels(fg, connectivity)
    # one histogram row per (image, component label): key = (image · H·W + label) · C + class
    image = xp.arange(n, dtype=xp.int64).reshape(n, 1, 1)
    row = image * (h * w) + xp.maximum(comp, 0)
    key = (row * num_classes + pred.astype(xp.int64))[fg]
    votes = _histogram(xp, key, n * h * w * num_classes).reshape(n * h * w, num_classes)
    winner = votes[:, 1:].argmax(1) + 1            # argmax takes the first maximum: the smaller label on ties
    return xp.where(fg, winner[row], 0).astype(pred.dtype)
