"""Image-restoration data, offline: the bundled photos split by whole image, the degradations (Pillow bicubic
resampling, Gaussian noise; the inpainting masks are in data/masks.py) and RestorationPairs, a deterministic dataset
of (input, target) pairs.

Conventions: photos(split) gives H×W×3 float32 arrays in [0, 1] (as decoded); everything else is channels-first,
(C, H, W) (or any (..., H, W)), float32 in [0, 1]. Degradation functions take NumPy or CuPy arrays or Tensors and
give back the same kind on the same device; the resampling itself runs on the host with Pillow.
"""
import numbers
import os

import numpy

from .. import backend
from ..tensor import Tensor
from .masks import HOLE_RATIO, MASK_KINDS, _check_ratio, _generator, random_mask  # noqa: F401  (their own module)

IMAGES = os.path.join(os.path.dirname(__file__), "images")
# Whole photos are held out (see images/README.md for sources and licences): no test photo is ever cut into patches
# for training. The test set mixes colour and grey, portrait, fur and sharp edges.
SPLITS = {"train": ["astronaut", "coffee", "rocket", "immunohistochemistry", "brick", "gravel", "hubble_deep_field",
                    "retina"],
          "test": ["chelsea", "camera", "coins", "grace_hopper"]}
TASKS = ("sr", "denoise", "inpaint")
_cache = {}


def read_photo(path):
    """H×W×3 float32 in [0, 1] from an image file (grey and palette images are converted to RGB, alpha dropped).
    FileNotFoundError or ValueError naming the file when it is missing or not an image Pillow can read."""
    from PIL import Image
    try:
        with Image.open(path) as img:
            rgb = img.convert("RGB")
    except FileNotFoundError:
        raise FileNotFoundError(f"image file not found: {path}") from None
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        raise ValueError(f"cannot read {path} as an image: {err}") from None
    return numpy.asarray(rgb, dtype=numpy.float32) / 255.0


def photo_names(split):
    """The names of the bundled photos of a split, 'train' or 'test'."""
    if split not in SPLITS:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    return list(SPLITS[split])


def photos(split):
    """The photos of a split ('train' or 'test') as a list of fresh H×W×3 float32 arrays in [0, 1], in the order
    of photo_names(split). The two splits share no photo."""
    out = []
    for name in photo_names(split):
        if name not in _cache:
            _cache[name] = read_photo(os.path.join(IMAGES, name + ".jpg"))
        out.append(_cache[name].copy())
    return out


# ---- degradations ----

def _check_scale(fn, scale):
    if isinstance(scale, bool) or not isinstance(scale, numbers.Integral) or scale < 1:
        raise ValueError(f"{fn}: scale must be a positive int, got {scale!r}")
    return int(scale)


def _plane_shape(fn, img):
    shape = tuple(img.shape)
    if len(shape) < 2:
        raise ValueError(f"{fn}: img must be an image (H, W), (C, H, W) or (N, C, H, W), got shape {shape}")
    if len(shape) == 3 and shape[-1] in (1, 3) and shape[0] not in (1, 3):
        # photos() and read_photo() give (H, W, 3): resampling that as (C, H, W) would be silently wrong
        raise ValueError(f"{fn}: images are channels-first (C, H, W); shape {shape} looks like (H, W, C): pass "
                         f"img.transpose(2, 0, 1)")
    return shape


def modcrop(img, scale):
    """img[..., :H - H % scale, :W - W % scale]: the largest top-left crop whose height and width are multiples of
    scale, so that down- and up-sampling by scale give back the same size (the SR papers' convention). Works on
    any (..., H, W) array or Tensor; ValueError when the image is smaller than scale."""
    scale = _check_scale("modcrop", scale)
    *_, h, w = _plane_shape("modcrop", img)
    if h < scale or w < scale:
        raise ValueError(f"modcrop: image of shape {tuple(img.shape)} is smaller than scale={scale} "
                         f"(height and width must be at least {scale})")
    return img[..., :h - h % scale, :w - w % scale]


def _resize(img, size_of, quantize):
    """Resample every (H, W) plane of img with Pillow's BICUBIC in float mode 'F' (no 8-bit rounding), clip to
    [0, 1] and, with quantize, round to the 256 levels of an 8-bit file. Same array kind and device back."""
    from PIL import Image
    data = img.data if isinstance(img, Tensor) else img
    host = backend.to_numpy(data)
    h, w = host.shape[-2:]
    oh, ow = size_of(h, w)
    planes = host.reshape(-1, h, w).astype(numpy.float32, copy=False)
    # a 2-D float32 array is a Pillow image of mode 'F' (32-bit float), which Pillow resamples in float
    out = numpy.stack([numpy.asarray(Image.fromarray(p).resize((ow, oh), Image.BICUBIC))
                       for p in planes]) if len(planes) else numpy.zeros((0, oh, ow), numpy.float32)
    out = numpy.clip(out, 0.0, 1.0).reshape(host.shape[:-2] + (oh, ow))
    if quantize:
        out = numpy.round(out * 255.0) / 255.0
    out = out.astype(numpy.float32)
    moved = backend.to_device(out, backend.device_of(data))
    return Tensor(moved) if isinstance(img, Tensor) else moved


def bicubic_down(hr, scale, quantize=False):
    """Down-sample by an integer factor with Pillow's Image.BICUBIC (Keys' cubic, a = -0.5, widened by the scale
    when shrinking, i.e. antialiased like MATLAB's imresize), each channel in float mode so nothing is rounded to
    8 bits unless quantize=True. The result is clipped to [0, 1]. hr: (..., H, W) with H and W multiples of scale
    (modcrop first); returns (..., H/scale, W/scale)."""
    scale = _check_scale("bicubic_down", scale)
    *_, h, w = _plane_shape("bicubic_down", hr)
    if h < scale or w < scale:
        raise ValueError(f"bicubic_down: image of shape {tuple(hr.shape)} is smaller than scale={scale}")
    if h % scale or w % scale:
        raise ValueError(f"bicubic_down: image of shape {tuple(hr.shape)} has a height or width that is not a "
                         f"multiple of scale={scale}; crop it with modcrop(img, {scale}) first")
    return _resize(hr, lambda h, w: (h // scale, w // scale), quantize)


def bicubic_up(lr, scale, quantize=False):
    """Up-sample by an integer factor with Pillow's Image.BICUBIC in float mode, clipped to [0, 1] (rounded to 8
    bits only with quantize=True): the bicubic baseline of super-resolution and the input of SRCNN-style models.
    lr: (..., h, w); returns (..., h·scale, w·scale)."""
    scale = _check_scale("bicubic_up", scale)
    _plane_shape("bicubic_up", lr)
    return _resize(lr, lambda h, w: (h * scale, w * scale), quantize)


def add_noise(img, sigma, rng):
    """img + n, n ~ N(0, (sigma/255)²) i.i.d. per pixel and channel: additive white Gaussian noise with sigma on
    the 0-255 scale, NOT clipped (the DnCNN convention, so the noise stays zero-mean). The noise is drawn on the host
    from rng (a numpy Generator or an int seed), so a seed gives the same noise on every device. float32 out."""
    if not isinstance(sigma, numbers.Real) or isinstance(sigma, bool) or not sigma >= 0:
        raise ValueError(f"add_noise: sigma must be a number >= 0 (on the 0-255 scale), got {sigma!r}")
    rng = _generator("add_noise", rng)
    data = img.data if isinstance(img, Tensor) else img
    noise = rng.standard_normal(tuple(data.shape), dtype=numpy.float32) * numpy.float32(sigma / 255.0)
    xp = backend.get_array_module(data)
    noisy = (data.astype(numpy.float32) + backend.to_device(noise, backend.device_of(data))).astype(xp.float32)
    return Tensor(noisy) if isinstance(img, Tensor) else noisy


def _dihedral(a, k):
    """One of the 8 rotations/flips of the square (k in 0..7) applied to the last two axes."""
    a = numpy.rot90(a, k % 4, axes=(-2, -1))
    return a[..., ::-1] if k >= 4 else a


class RestorationPairs:
    """Deterministic (input, target) pairs for restoration training and testing. Item i is a pure function of
    (seed, split, i): rng = numpy.random.default_rng([seed, split (0 train, 1 test), i]) draws, in this order, the
    photo (weighted by its number of patch positions), the patch's top-left corner, the dihedral augmentation
    (k uniform in 0..7: rot90 k%4 times, then a left-right flip when k >= 4; only when augment), then the
    degradation (noise or mask). Targets are clean (C, P, P) float32 patches in [0, 1] (C = 3, or 1 with fashion).

    task 'sr': the photo is modcropped to a multiple of scale, down-sampled once as a whole with bicubic_down and
    up-sampled back with bicubic_up; patches are cut at corners that are multiples of scale from all three, so a
    patch's low-resolution pixels are those of the whole picture (no edge effects at patch borders). Input: the
    bicubic up-sampled patch (C, P, P) for SRCNN-style models, or with lr_input=True the low-resolution patch
    (C, P/scale, P/scale) for ESPCN-style models. patch must be a multiple of scale.
    task 'denoise': input = add_noise(target, sigma) (sigma on 0-255, not clipped).
    task 'inpaint': input = (C + 1, P, P): the target times the mask (1 known, 0 hole), holes set to 0, then the mask
    as the last channel. mask_scale='photo' (the default for photo patches): the mask is drawn on the whole photo,
    random_mask(H, W, ratio=hole_ratio, kind=mask_kind) as the held-out photos' masks are, and the patch's
    window of it is cut out (and transformed with the patch), so training sees the held-out photos' mask
    statistics (a patch's own hole ratio varies around the photo's); mask_scale='patch': random_mask(P, P, ...) on
    the patch itself: the same shapes in pixels, each patch's hole ratio drawn from hole_ratio (the only choice
    with fashion=True, where the patch is the garment; below 48 px the shapes are scaled down, see random_mask).
    fill (inpainting): None, or a function (masked image (C, H, W), mask (1, H, W)) -> (C, H, W) that fills the
    holes (e.g. scratchnet.apps.restore.prefilled, the push-pull fill); the input's image channels then hold
    mask·target + (1 − mask)·fill instead of zeros in the holes. With mask_scale='photo' the fill runs on the whole
    masked photo and the patch's window of it is cut out, so a training patch holds exactly what the held-out
    photos' fill (computed on the whole photo at test time) holds there, even where the hole is wider than the
    patch; with mask_scale='patch' it runs on the patch.

    patch=None: whole photos instead of patches (the evaluation set): item i is photo i % n (modcropped for 'sr'),
    with its own noise or mask; images differ in size, so batch them one at a time. size: number of items (default:
    with patches, the non-overlapping P×P tiles the split's photos hold; with patch=None, the number of photos).
    augment: default True for train photo patches, False otherwise.
    fashion=True: the Fashion-MNIST garments of the split (1×28×28, found as scratchnet.data.FashionMNIST finds
    them; root and download are passed on) instead of the photos; item i is garment i % n (default size: all of
    them) cut to min(patch, 28), then to a multiple of scale, the low-resolution input made from that cut.
    """

    def __init__(self, task, split="train", scale=3, sigma=25, patch=48, size=None, seed=0, fashion=False,
                 lr_input=False, augment=None, hole_ratio=HOLE_RATIO, mask_kind="mixed", mask_scale=None, root=None,
                 download=False, fill=None):
        name = "RestorationPairs"
        if task not in TASKS:
            raise ValueError(f"{name}: task must be one of {', '.join(TASKS)}, got {task!r}")
        photo_names(split)
        self.scale = _check_scale(name, scale)
        if not isinstance(sigma, numbers.Real) or isinstance(sigma, bool) or not sigma >= 0:
            raise ValueError(f"{name}: sigma must be a number >= 0 (on the 0-255 scale), got {sigma!r}")
        if patch is not None and (isinstance(patch, bool) or not isinstance(patch, numbers.Integral) or patch < 1):
            raise ValueError(f"{name}: patch must be a positive int or None (whole images), got {patch!r}")
        if not isinstance(seed, numbers.Integral) or seed < 0:
            raise ValueError(f"{name}: seed must be a non-negative int, got {seed!r}")
        if lr_input and task != "sr":
            raise ValueError(f"{name}: lr_input=True is for task 'sr' only, got task {task!r}")
        hole_ratio = _check_ratio(name + ": hole_ratio", hole_ratio)
        if mask_kind not in MASK_KINDS:
            raise ValueError(f"{name}: mask_kind must be one of {', '.join(map(repr, MASK_KINDS))}, got "
                             f"{mask_kind!r}")
        if mask_scale not in (None, "photo", "patch"):
            raise ValueError(f"{name}: mask_scale must be 'photo' or 'patch', got {mask_scale!r}")
        if mask_scale == "photo" and fashion:
            raise ValueError(f"{name}: mask_scale='photo' is for the photos; with fashion=True masks are drawn on "
                             f"the garment (mask_scale='patch')")
        if fill is not None and (task != "inpaint" or not callable(fill)):
            raise ValueError(f"{name}: fill must be a function (masked image, mask) -> image, for task 'inpaint' "
                             f"only; got {type(fill).__name__} with task {task!r}")
        self.fill = fill
        self.mask_scale = mask_scale or ("patch" if fashion or patch is None else "photo")
        self.task, self.split, self.sigma, self.seed, self.fashion = task, split, float(sigma), int(seed), fashion
        self.lr_input, self.hole_ratio, self.mask_kind = bool(lr_input), hole_ratio, mask_kind
        self.augment = (split == "train" and patch is not None and not fashion) if augment is None \
            else bool(augment)
        step = self.scale if task == "sr" else 1
        if fashion:
            from .datasets import FashionMNIST
            self.garments = FashionMNIST(root=root, train=split == "train", download=download)
            side = 28 if patch is None else min(int(patch), 28)
            self.patch = side - side % step
            if self.patch < 1:
                raise ValueError(f"{name}: patch={patch} is smaller than scale={self.scale}")
            n = len(self.garments)
        else:
            if patch is not None and patch % step:
                raise ValueError(f"{name}: patch={patch} must be a multiple of scale={self.scale} for task 'sr'")
            self.patch = None if patch is None else int(patch)
            self.names, self.images = photo_names(split), [p.transpose(2, 0, 1) for p in photos(split)]
            if task == "sr":
                self.images = [modcrop(im, self.scale) for im in self.images]
            if self.patch is not None:
                for nm, im in zip(self.names, self.images):
                    if min(im.shape[1:]) < self.patch:
                        raise ValueError(f"{name}: photo {nm!r} of shape {im.shape} is smaller than patch={patch}")
                # patch corners on the scale grid: counts of valid (top, left) positions per photo
                self._positions = [((im.shape[1] - self.patch) // step + 1, (im.shape[2] - self.patch) // step + 1)
                                   for im in self.images]
                counts = numpy.array([a * b for a, b in self._positions], numpy.float64)
                self._weights = counts / counts.sum()
                tiles = sum((im.shape[1] // self.patch) * (im.shape[2] // self.patch) for im in self.images)
            n = len(self.images) if self.patch is None else tiles
            self._lr, self._up = {}, {}
        self.size = n if size is None else size
        if isinstance(self.size, bool) or not isinstance(self.size, numbers.Integral) or self.size < 0:
            raise ValueError(f"{name}: size must be a non-negative int, got {size!r}")

    def __len__(self):
        return self.size

    def _sr_views(self, j):
        """The low-resolution picture and its bicubic up-sampling for photo j, made once."""
        if j not in self._lr:
            self._lr[j] = bicubic_down(self.images[j], self.scale)
            self._up[j] = bicubic_up(self._lr[j], self.scale)
        return self._lr[j], self._up[j]

    def _crop(self, rng, j, side):
        """(top, left) of a side×side patch of image j on the scale grid (for 'sr'), drawn from rng."""
        h, w = (self.garments.images.shape[1:] if self.fashion else self.images[j].shape[1:])
        step = self.scale if self.task == "sr" else 1
        return (step * int(rng.integers(0, (h - side) // step + 1)),
                step * int(rng.integers(0, (w - side) // step + 1)))

    def _draw(self, i):
        """The item's generator, image index, top-left corner and dihedral k, drawn in the documented order."""
        if isinstance(i, bool) or not isinstance(i, numbers.Integral) or not -self.size <= i < self.size:
            raise IndexError(f"RestorationPairs: index {i!r} out of range for {self.size} items")
        i = int(i) % self.size
        rng = numpy.random.default_rng([self.seed, 0 if self.split == "train" else 1, i])
        if self.fashion:
            j = i % len(self.garments)
        elif self.patch is None:
            return rng, i % len(self.images), 0, 0, 0
        else:
            j = int(rng.choice(len(self.images), p=self._weights))
        top, left = self._crop(rng, j, self.patch)
        return rng, j, top, left, int(rng.integers(0, 8)) if self.augment else 0

    def locate(self, i):
        """Where item i comes from: dict(image=photo name or garment index, top, left, k (dihedral transform))."""
        _, j, top, left, k = self._draw(i)
        return dict(image=j if self.fashion else self.names[j], top=top, left=left, k=k)

    def __getitem__(self, i):
        rng, j, top, left, k = self._draw(i)
        lr = up = None
        if self.fashion:
            full = self.garments.images[j][None].astype(numpy.float32) / 255.0
            target = full[:, top:top + self.patch, left:left + self.patch]
            if self.task == "sr":                         # made from the cut garment
                lr = bicubic_down(target, self.scale)
                up = bicubic_up(lr, self.scale)
            return self._degrade(rng, k, target, lr, up)
        if self.patch is None:
            lr, up = self._sr_views(j) if self.task == "sr" else (None, None)
            return self._degrade(rng, 0, self.images[j], lr, up)
        p, s = self.patch, self.scale
        target = self.images[j][:, top:top + p, left:left + p]
        if self.task == "sr":
            lr_full, up_full = self._sr_views(j)
            lr = lr_full[:, top // s:(top + p) // s, left // s:(left + p) // s]
            up = up_full[:, top:top + p, left:left + p]
        window = (j, top, left) if self.task == "inpaint" and self.mask_scale == "photo" else None
        return self._degrade(rng, k, target, lr, up, window)

    def _degrade(self, rng, k, target, lr, up, window=None):
        # fresh C-ordered copies: an item may be edited in place without touching the cached pictures
        target = numpy.array(_dihedral(target, k), dtype=numpy.float32, order="C")
        if self.task == "sr":
            return numpy.array(_dihedral(lr if self.lr_input else up, k), dtype=numpy.float32, order="C"), target
        if self.task == "denoise":
            return add_noise(target, self.sigma, rng), target
        if window is None:
            mask = random_mask(target.shape[1], target.shape[2], rng, self.hole_ratio, self.mask_kind)
            image = target * mask if self.fill is None else self._filled(target, mask)
        else:                                             # the patch's window of a whole-photo mask
            j, top, left = window
            photo = self.images[j]
            full = random_mask(photo.shape[1], photo.shape[2], rng, self.hole_ratio, self.mask_kind)
            win = (slice(None), slice(top, top + self.patch), slice(left, left + self.patch))
            mask = numpy.array(_dihedral(full[win[1:]], k), order="C")
            # the fill of the whole photo, then cut: what the test-time fill of a whole photo holds there
            image = target * mask if self.fill is None else _dihedral(self._filled(photo, full)[win], k)
        return numpy.concatenate([image, mask[None]]).astype(numpy.float32), target

    def _filled(self, image, mask):
        """mask·image + (1 − mask)·fill(mask·image, mask): known pixels exact, holes from the fill function."""
        known = image * mask
        out = numpy.asarray(self.fill(known, mask[None]), dtype=numpy.float32)
        if out.shape != image.shape:
            raise ValueError(f"RestorationPairs: fill returned shape {out.shape} for an image of shape "
                             f"{image.shape}")
        return known + out * (1 - mask)

    def __repr__(self):
        src = "Fashion-MNIST" if self.fashion else f"{len(self.images)} photos"
        extra = {"sr": f"scale={self.scale}, lr_input={self.lr_input}", "denoise": f"sigma={self.sigma:g}",
                 "inpaint": f"hole_ratio={self.hole_ratio}, mask_kind={self.mask_kind}, "
                            f"mask_scale={self.mask_scale}, fill={getattr(self.fill, '__name__', self.fill)}"
                 }[self.task]
        return (f"RestorationPairs(task={self.task!r}, split={self.split!r}, {extra}, patch={self.patch}, "
                f"size={self.size}, seed={self.seed}, augment={self.augment}, {src})")
