"""FashionSegmentation: an offline semantic-segmentation set made of real Fashion-MNIST garments pasted on canvases.

The recipe (canvas i of a dataset is a pure function of (seed, i), so every canvas is generated lazily, on demand, and
is the same on every machine and in every run):

1. rng = numpy.random.default_rng([seed, split, i]) with split = 0 for train, 1 for test.
2. The number of garments k is drawn uniformly from 1..max_objects.
3. For each of the k garments, in order: a garment index j uniform over the split's garments (train canvases only
   use the train split of Fashion-MNIST, test canvases only the test split, so no test garment is seen in training);
   then up to `tries` (default 20) placements, each a side s uniform over the integers
   round(28·scale[0])..min(size, round(28·scale[1])) and a top-left corner (top, left) uniform over 0..size-s. The
   28×28 garment is resized to s×s by nearest neighbour: output pixel (r, c) takes source pixel
   (floor((r + 0.5)·28/s), floor((c + 0.5)·28/s)).
4. Threshold: a pixel of the resized garment belongs to the garment when its intensity v/255 > threshold (default
   0.05, i.e. v >= 13; Fashion-MNIST's background is 0 and only the faint anti-aliased rim lies below).
5. Occlusion rule: the first placement that leaves every garment already on the canvas at least (1 - max_hidden)
   of its own pixels visible is taken; a garment with no such placement in its tries is left out (so a canvas
   shows 1..k garments: the first always fits). Default max_hidden = 0: garments never overlap (they may touch,
   and their 28×28 squares may overlap where the garment is transparent), so every pixel's class is decided by
   what it shows; max_hidden = 1 is the free rule (every first placement taken, later garments on top, a garment
   may be wholly hidden), where two bright garments can merge into one silhouette with no visible border.
6. Drawing: garments are drawn in order, later ones on top. A garment's pixels overwrite both the image (with their
   intensity) and the label map (with its class); its below-threshold pixels are transparent and change nothing.
   So the label of a pixel is the class of the last garment covering it, and (image > threshold) is exactly
   (mask > 0).

Labels: 0 background, 1..10 the Fashion-MNIST classes in their usual order (class c of Fashion-MNIST is label c + 1);
binary=True gives 0 background, 1 garment. Items are (image float32 (1, size, size) in [0, 1], mask int64
(size, size)), which scratchnet's DataLoader batches to (N, 1, H, W) float32 and (N, H, W) int64 tensors.
"""
import numbers

import numpy

from .datasets import FASHION, FashionMNIST

SIDE = 28  # Fashion-MNIST garments are 28×28


def _resize_nearest(img, side):
    """Nearest-neighbour resize of a square (28, 28) array to (side, side), pixel centres aligned."""
    src = ((numpy.arange(side) + 0.5) * (img.shape[0] / side)).astype(numpy.int64)
    return img[src[:, None], src[None, :]]


class FashionSegmentation:
    """Canvases of 1..max_objects real Fashion-MNIST garments with per-pixel labels (recipe in the module docstring).

    root: where to find Fashion-MNIST (as scratchnet.data.FashionMNIST: root=, $SCRATCHNET_DATA, the cache, Debian's
    package, a download, the bundled sample). length: number of canvases (default: as many as the split has
    garments). scale: (low, high) factors on the 28-pixel garment side. threshold: intensity in [0, 1) above which a
    garment pixel is drawn and labelled. max_hidden: the largest fraction of a garment's pixels later garments may
    hide (0: no overlap, 1: any); tries: placements tried per garment (steps 3 and 5 of the recipe).
    """

    def __init__(self, root=None, train=True, size=64, max_objects=4, binary=False, seed=0, length=None,
                 scale=(0.75, 1.5), threshold=0.05, download=True, max_hidden=0.0, tries=20):
        name = "FashionSegmentation"
        if not isinstance(size, numbers.Integral) or isinstance(size, bool):
            raise TypeError(f"{name}: size must be an int, got {type(size).__name__}")
        if not isinstance(max_objects, numbers.Integral) or max_objects < 1:
            raise ValueError(f"{name}: max_objects must be an int >= 1, got {max_objects!r}")
        if not isinstance(seed, numbers.Integral) or seed < 0:
            raise ValueError(f"{name}: seed must be a non-negative int, got {seed!r}")
        if len(scale) != 2 or not 0 < scale[0] <= scale[1]:
            raise ValueError(f"{name}: scale must be (low, high) with 0 < low <= high, got {scale!r}")
        if not 0 <= threshold < 1:
            raise ValueError(f"{name}: threshold must be in [0, 1), got {threshold!r}")
        if not 0 <= max_hidden <= 1:
            raise ValueError(f"{name}: max_hidden must be a fraction in [0, 1], got {max_hidden!r}")
        if not isinstance(tries, numbers.Integral) or tries < 1:
            raise ValueError(f"{name}: tries must be an int >= 1, got {tries!r}")
        self.min_side = max(1, round(SIDE * scale[0]))
        if size < self.min_side:
            raise ValueError(f"{name}: size={size} is smaller than the smallest garment side {self.min_side} "
                             f"(28 × scale[0]={scale[0]}); use size >= {self.min_side} or a smaller scale")
        self.max_side = min(int(size), max(self.min_side, round(SIDE * scale[1])))
        self.garments = FashionMNIST(root=root, train=train, download=download)
        if length is None:
            length = len(self.garments)
        if not isinstance(length, numbers.Integral) or length < 0:
            raise ValueError(f"{name}: length must be a non-negative int, got {length!r}")
        self.train, self.size, self.max_objects, self.binary = bool(train), int(size), int(max_objects), bool(binary)
        self.seed, self.length, self.scale, self.threshold = int(seed), int(length), tuple(scale), float(threshold)
        self.max_hidden, self.tries = float(max_hidden), int(tries)
        self.classes = ["background", "garment"] if binary else ["background"] + list(FASHION.classes)
        self.num_classes = len(self.classes)
        # intensity v (uint8) is drawn when v / 255 > threshold
        self._cut = numpy.uint8(min(255, int(numpy.floor(threshold * 255))))

    def __len__(self):
        return self.length

    def layout(self, i):
        """The garments of canvas i in drawing order: a list of dicts with index (into the split's garments),
        label (1..10, the class + 1), side, top, left."""
        if not isinstance(i, numbers.Integral) or not -self.length <= i < self.length:
            raise IndexError(f"FashionSegmentation: index {i} out of range for {self.length} canvases")
        i = int(i) % self.length
        rng = numpy.random.default_rng([self.seed, 0 if self.train else 1, i])
        owner = numpy.full((self.size, self.size), -1)   # which garment of `out` shows at each pixel
        out, full = [], []                               # full: each placed garment's own pixel count
        for _ in range(int(rng.integers(1, self.max_objects + 1))):
            j = int(rng.integers(0, len(self.garments)))
            for _ in range(self.tries):
                side = int(rng.integers(self.min_side, self.max_side + 1))
                top, left = (int(v) for v in rng.integers(0, self.size - side + 1, 2))
                drawn = self._drawn(j, side)
                window = owner[top:top + side, left:left + side]
                if out and self.max_hidden < 1:
                    hidden = numpy.bincount(window[drawn & (window >= 0)], minlength=len(out))
                    shown = numpy.bincount(owner[owner >= 0], minlength=len(out))
                    if ((shown - hidden) < (1 - self.max_hidden) * numpy.array(full) - 1e-9).any():
                        continue
                window[drawn] = len(out)
                full.append(int(drawn.sum()))
                out.append(dict(index=j, label=int(self.garments.targets[j]) + 1, side=side, top=top, left=left))
                break
        return out

    def _drawn(self, j, side):
        """The (side, side) boolean mask of garment j's pixels above the threshold, resized."""
        return _resize_nearest(self.garments.images[j], side) > self._cut

    def __getitem__(self, i):
        image = numpy.zeros((self.size, self.size), numpy.uint8)
        mask = numpy.zeros((self.size, self.size), numpy.int64)
        for g in self.layout(i):
            patch = _resize_nearest(self.garments.images[g["index"]], g["side"])
            drawn = patch > self._cut   # as _drawn
            window = (slice(g["top"], g["top"] + g["side"]), slice(g["left"], g["left"] + g["side"]))
            image[window][drawn] = patch[drawn]
            mask[window][drawn] = 1 if self.binary else g["label"]
        return (image.astype(numpy.float32) / 255.0)[None], mask

    def __repr__(self):
        return (f"FashionSegmentation(split={'train' if self.train else 'test'}, n={self.length}, size={self.size}, "
                f"max_objects={self.max_objects}, max_hidden={self.max_hidden}, binary={self.binary}, "
                f"seed={self.seed}, "
                f"garments from {self.garments.source}: {self.garments.folder})")
