"""Image-restoration scores: PSNR (on RGB or on the luma Y, border shaved, optionally inside a mask) and SSIM;
and ssim_loss, the same SSIM as a differentiable loss on Tensors (L1/L2 are scratchnet.nn.functional's).

Images are channels-first: (H, W) or (C, H, W) for one image, (N, C, H, W) for a batch; NumPy or CuPy arrays or
Tensors (read, not differentiated). One image gives a 0-d float64 array, a batch one score per image (N,), left on
the device (no host sync: call float() or .mean() yourself). Scores are computed in float64, on the values given
(nothing is rounded to 8 bits first).

    PSNR = 10·log10(data_range² / MSE),  MSE the mean of (x - y)² over all channels and pixels of an image
    (over the pixels where mask is nonzero, with a mask); identical images give +inf, as scikit-image.
    SSIM (Wang et al. 2004) per channel, then averaged over the channels: with μ, σ², σ_xy the Gaussian-weighted
    local means, variances and covariance (window win×win, standard deviation sigma, weights normalised to sum 1;
    population moments, E[x²] - μ², not the sample covariance), C1 = (K1·L)², C2 = (K2·L)², L = data_range:
        SSIM map = (2·μx·μy + C1)(2·σ_xy + C2) / ((μx² + μy² + C1)(σx² + σy² + C2))
    averaged over the positions where the window lies wholly inside the image ('valid'; the same pixels
    scikit-image averages after cropping (win-1)/2 from each border). With win=11, sigma=1.5 this equals
    skimage.metrics.structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False).
    y_channel=True first converts RGB to Y with rgb_to_y (ITU-R BT.601, MATLAB's rgb2ycbcr); shave=s drops s
    pixels from every border first (the SR papers shave `scale` pixels).
"""
import numbers

import numpy

from . import backend
from .errors import ShapeError
from .tensor import Tensor

# ITU-R BT.601 luma for R, G, B in [0, 1] giving Y in [16, 235] (MATLAB rgb2ycbcr); we divide by 255
_Y_OFFSET, _Y_WEIGHTS = 16.0, (65.481, 128.553, 24.966)


def rgb_to_y(img, data_range=1.0):
    """Luma Y of RGB images (..., 3, H, W) -> (..., 1, H, W), ITU-R BT.601 as MATLAB's rgb2ycbcr:
        Y = (16 + 65.481·R + 128.553·G + 24.966·B) / 255    for R, G, B in [0, 1],
    so Y lies in [16/255, 235/255] (multiply by 255 for MATLAB's 0-255 numbers). For images on [0, data_range]
    the result is scaled the same way (Y·data_range). Works on arrays and on Tensors (differentiably)."""
    shape = tuple(img.shape)
    if len(shape) < 3 or shape[-3] != 3:
        raise ShapeError(f"rgb_to_y: img must be RGB with 3 channels in dim -3, (..., 3, H, W), got shape {shape}")
    r, g, b = img[..., 0:1, :, :], img[..., 1:2, :, :], img[..., 2:3, :, :]
    return (r * (_Y_WEIGHTS[0] / 255.0) + g * (_Y_WEIGHTS[1] / 255.0) + b * (_Y_WEIGHTS[2] / 255.0)
            + _Y_OFFSET / 255.0 * data_range)


def _array(fn, name, a):
    if isinstance(a, Tensor):
        a = a.data
    if not hasattr(a, "shape") or not hasattr(a, "dtype"):
        a = numpy.asarray(a)
    return a


def _prepare(fn, x, y, data_range, shave, y_channel):
    """Both images as float64 (N, C, H, W) arrays, checked, converted to Y and shaved; and whether one was batched."""
    x, y = _array(fn, "x", x), _array(fn, "y", y)
    if tuple(x.shape) != tuple(y.shape):
        raise ShapeError(f"{fn}: x and y must have the same shape, got x {tuple(x.shape)} and y {tuple(y.shape)}")
    if x.ndim not in (2, 3, 4):
        raise ShapeError(f"{fn}: images must be (H, W), (C, H, W) or (N, C, H, W), got shape {tuple(x.shape)}")
    if x.ndim == 3 and x.shape[-1] in (1, 3) and x.shape[0] not in (1, 3):
        raise ShapeError(f"{fn}: images are channels-first (C, H, W); shape {tuple(x.shape)} looks like (H, W, C): "
                         f"pass img.transpose(2, 0, 1)")
    if backend.device_of(x) != backend.device_of(y):
        raise ValueError(f"{fn}: x is on {backend.device_of(x)} but y is on {backend.device_of(y)}")
    if not isinstance(data_range, numbers.Real) or isinstance(data_range, bool) or not data_range > 0:
        raise ValueError(f"{fn}: data_range must be a number > 0, got {data_range!r}")
    for name, a in (("x", x), ("y", y)):
        if a.dtype.kind not in "fiub":
            raise TypeError(f"{fn}: {name} must hold real numbers, got dtype {a.dtype}")
        if a.dtype.kind in "iu" and data_range == 1.0:
            raise ValueError(f"{fn}: {name} has integer dtype {a.dtype}; pass data_range=255 for 8-bit images "
                             f"(or convert to float in [0, 1])")
    if isinstance(shave, bool) or not isinstance(shave, numbers.Integral) or shave < 0:
        raise ValueError(f"{fn}: shave must be an int >= 0, got {shave!r}")
    batched = x.ndim == 4
    x, y = (a.reshape((1,) * (4 - a.ndim) + tuple(a.shape)).astype("float64") for a in (x, y))
    if y_channel:
        if x.shape[1] != 3:
            raise ShapeError(f"{fn}: y_channel=True needs RGB images with 3 channels, got shape "
                             f"{tuple(x.shape) if batched else tuple(x.shape[1:])}")
        x, y = rgb_to_y(x, data_range), rgb_to_y(y, data_range)
    h, w = x.shape[-2:]
    if 2 * shave >= min(h, w):
        raise ValueError(f"{fn}: shave={shave} leaves no pixels of images {h}×{w}")
    if shave:
        x, y = x[..., shave:h - shave, shave:w - shave], y[..., shave:h - shave, shave:w - shave]
    return x, y, batched


def psnr(x, y, data_range=1.0, shave=0, y_channel=False, mask=None):
    """Peak signal-to-noise ratio in dB of images x and y (see the module docstring): 0-d for one image, (N,) for a
    batch. mask (optional): which pixels count, nonzero = counted, any shape that broadcasts against the images
    (e.g. (H, W), (N, 1, H, W)); shaved like them. For inpainting pass 1 - known to score inside the holes. An empty
    mask gives NaN."""
    fn = "psnr"
    x, y, batched = _prepare(fn, x, y, data_range, shave, y_channel)
    xp = backend.get_array_module(x)
    err = (x - y) ** 2
    if mask is None:
        mse = err.mean(axis=(1, 2, 3))
    else:
        m = _array(fn, "mask", mask)
        if backend.device_of(m) != backend.device_of(x):
            raise ValueError(f"{fn}: mask is on {backend.device_of(m)} but the images on {backend.device_of(x)}")
        m = m.reshape((1,) * (4 - m.ndim) + tuple(m.shape)) if m.ndim <= 4 else m
        full = tuple(err.shape[:2]) + tuple(err.shape[2:])
        if shave:
            m = m[..., shave:m.shape[-2] - shave, shave:m.shape[-1] - shave]
        try:
            m = xp.broadcast_to((m != 0).astype("float64"), full)
        except ValueError:
            raise ShapeError(f"{fn}: mask of shape {tuple(_array(fn, 'mask', mask).shape)} does not broadcast "
                             f"against images of shape {full} (after shaving {shave})") from None
        with numpy.errstate(invalid="ignore", divide="ignore"):
            mse = (err * m).sum(axis=(1, 2, 3)) / m.sum(axis=(1, 2, 3))
    with numpy.errstate(divide="ignore"):
        out = 10.0 * xp.log10(float(data_range) ** 2 / mse)
    return out if batched else out[0]


def gaussian_window(win=11, sigma=1.5):
    """The 1-D Gaussian weights exp(-k²/(2·sigma²)), k = -(win-1)/2 .. (win-1)/2, normalised to sum 1 (float64)."""
    if isinstance(win, bool) or not isinstance(win, numbers.Integral) or win < 1 or win % 2 == 0:
        raise ValueError(f"ssim: win must be an odd positive int, got {win!r}")
    if not isinstance(sigma, numbers.Real) or not sigma > 0:
        raise ValueError(f"ssim: sigma must be > 0, got {sigma!r}")
    k = numpy.arange(win, dtype=numpy.float64) - (win - 1) / 2
    g = numpy.exp(-k * k / (2.0 * sigma * sigma))
    return g / g.sum()


def _filter_valid(a, g):
    """Separable 'valid' filtering of the last two axes of a by the 1-D window g (a list of floats): slices, products
    and sums only, so it runs on NumPy/CuPy arrays and, differentiably, on Tensors."""
    n = len(g)
    h, w = a.shape[-2:]
    rows = sum(g[k] * a[..., k:h - n + 1 + k, :] for k in range(n))
    return sum(g[k] * rows[..., :, k:w - n + 1 + k] for k in range(n))


def _ssim_map(fn, x, y, data_range, win, sigma, K1, K2):
    """The SSIM map of (N, C, H, W) arrays or Tensors x, y over the valid window positions."""
    g = [float(v) for v in gaussian_window(win, sigma)]
    for name, k in (("K1", K1), ("K2", K2)):
        if not isinstance(k, numbers.Real) or not k > 0:
            raise ValueError(f"{fn}: {name} must be > 0, got {k!r}")
    if min(x.shape[-2:]) < win:
        raise ShapeError(f"{fn}: images of {x.shape[-2]}×{x.shape[-1]} pixels are smaller than the {win}×{win} "
                         f"window")
    mx, my = _filter_valid(x, g), _filter_valid(y, g)
    vx = _filter_valid(x * x, g) - mx * mx
    vy = _filter_valid(y * y, g) - my * my
    cxy = _filter_valid(x * y, g) - mx * my
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    return (2 * mx * my + c1) * (2 * cxy + c2) / ((mx * mx + my * my + c1) * (vx + vy + c2))


def ssim(x, y, data_range=1.0, win=11, sigma=1.5, K1=0.01, K2=0.03, y_channel=False, shave=0):
    """Structural similarity of images x and y (formula and conventions in the module docstring): the mean SSIM map
    over the valid window positions and the channels; 0-d for one image, (N,) for a batch. Images (after shaving)
    must be at least win×win."""
    x, y, batched = _prepare("ssim", x, y, data_range, shave, y_channel)
    out = _ssim_map("ssim", x, y, data_range, win, sigma, K1, K2).mean(axis=(1, 2, 3))
    return out if batched else out[0]


def ssim_loss(input, target, data_range=1.0, win=11, sigma=1.5, K1=0.01, K2=0.03, reduction="mean"):
    """1 - SSIM(input, target) as a differentiable loss on Tensors (N, C, H, W), the same SSIM as ssim() (Gaussian
    window, valid positions, averaged over channels and positions), computed in the input's dtype.
    reduction: 'mean' (over the batch), 'sum', or 'none' (one value per image, (N,)).
    Backward: what autograd computes from the slices, products and sums of the forward (the window filter is
    linear, so its adjoint is the same window placed back: ∂/∂x of Σ_k g_k·x[i+k] is g scattered over the
    window)."""
    fn = "ssim_loss"
    if not isinstance(input, Tensor) or not isinstance(target, Tensor):
        raise TypeError(f"{fn}: input and target must be Tensors, got {type(input).__name__} and "
                        f"{type(target).__name__}")
    if tuple(input.shape) != tuple(target.shape) or input.ndim != 4:
        raise ShapeError(f"{fn}: input and target must both be (N, C, H, W) of the same shape, got input "
                         f"{tuple(input.shape)} and target {tuple(target.shape)}")
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{fn}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    per_image = 1 - _ssim_map(fn, input, target, data_range, win, sigma, K1, K2).mean((1, 2, 3))
    return per_image if reduction == "none" else per_image.sum() if reduction == "sum" else per_image.mean()
