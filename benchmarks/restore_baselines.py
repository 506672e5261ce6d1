"""Classical image-restoration baselines on scratchnet's held-out photos: what a restoration model must beat.

Every method is scored on exactly the pairs a model is evaluated on, RestorationPairs(task, split='test',
patch=None, seed=0, ...) (whole held-out photos, fixed noise and masks), its output clipped to [0, 1]:
  sr ×2/×3/×4   bicubic (Pillow, the pairs' own input). PSNR and SSIM on the Y channel (BT.601) with `scale`
                pixels shaved from each border (the SR papers' protocol), and PSNR on RGB (same shave).
  denoise σ = 15/25/50 (0-255 scale)   the noisy input itself; total-variation denoising
                (skimage.restoration.denoise_tv_chambolle, weight tuned per σ on TRAIN photo patches); non-local means
                (denoise_nl_means, fast mode, 5×5 patches, search distance 6, with sigma estimated from the noisy
                image by estimate_sigma and h = factor·sigma, the factor tuned per σ on TRAIN patches). PSNR and SSIM
                on RGB.
  inpaint       biharmonic inpainting (skimage.restoration.inpaint_biharmonic) of random_mask's default masks (brush
                strokes 5-15 px wide and rectangles of 8-32 px sides, hole ratio uniform in 10-30 %): PSNR inside
                the holes (the number that matters), PSNR and SSIM of the whole image.
scikit-image is a test/bench dependency only (scratchnet itself never imports it).

Run: nice -n 5 python benchmarks/restore_baselines.py [--tasks sr denoise inpaint] [--quick] [--out FILE]
(writes docs/restore_baselines.json by default, where a run of some --tasks replaces only those tasks' entries; --quick: two photos, coarse tuning, nothing written unless --out).

From Python (e.g. to put a trained model beside the baselines):
    sys.path.insert(0, "benchmarks"); import restore_baselines as rb
    rows = rb.baselines("sr", scale=3)                       # {method: scores}
    rows["scratchnet SRCNN"] = rb.evaluate("sr", lambda x: my_model_output_chw, scale=3)
    print(rb.format_table("sr", rows))
    stored = rb.load_baselines()                             # the numbers in docs/restore_baselines.json
"""
import argparse
import json
import os
import sys

import numpy

from _harness import ROOT, table

from scratchnet.data.restoration import RestorationPairs
from scratchnet.restoration_metrics import psnr, ssim

OUT = os.path.join(ROOT, "docs", "restore_baselines.json")
SCALES, SIGMAS, SEED = (2, 3, 4), (15, 25, 50), 0
TV_WEIGHTS = (0.01, 0.015, 0.02, 0.03, 0.04, 0.06, 0.08, 0.1, 0.13, 0.16, 0.2, 0.25, 0.3)
NLM_FACTORS = (0.4, 0.5, 0.6, 0.8, 1.0, 1.2)
NLM = dict(patch_size=5, patch_distance=6, fast_mode=True)


def pairs(task, split="test", scale=3, sigma=25, fashion=None, **kw):
    """The evaluation pairs of a task: whole held-out photos (split='test', patch=None), or with fashion=N the first
    N held-out Fashion-MNIST garments (whole, 28×28 cut to a multiple of scale), unless kw says otherwise."""
    kw.setdefault("patch", None)
    if fashion:
        kw.update(fashion=True, size=fashion)
    return RestorationPairs(task, split=split, scale=scale, sigma=sigma, seed=kw.pop("seed", SEED),
                            **kw)


def score(task, out, target, x, scale):
    """The task's scores of one restored image (C, H, W) against its target; x is the pair's input. SR on RGB is
    scored on Y (psnr_y, ssim_y) and RGB (psnr_rgb); on one channel (Fashion-MNIST) on that channel (psnr, ssim)."""
    out = numpy.clip(out, 0.0, 1.0)
    if task == "sr" and target.shape[0] == 3:
        return dict(psnr_y=float(psnr(out, target, shave=scale, y_channel=True)),
                    ssim_y=float(ssim(out, target, shave=scale, y_channel=True)),
                    psnr_rgb=float(psnr(out, target, shave=scale)))
    shave = scale if task == "sr" else 0
    s = dict(psnr=float(psnr(out, target, shave=shave)), ssim=float(ssim(out, target, shave=shave)))
    if task == "inpaint":
        s = dict(psnr_holes=float(psnr(out, target, mask=1 - x[-1])), **s)
    return s


def evaluate(task, restore, scale=3, sigma=25, names=None, fashion=None, **kw):
    """Mean scores of restore (input (C', H, W) float32 -> restored (C, H, W)) on the held-out pairs of a task (see
    pairs()), with the scores of each photo under 'per_image' (not for fashion=N, the first N garments: 'n' only);
    names restricts to some photos."""
    ds = pairs(task, scale=scale, sigma=sigma, fashion=fashion, **kw)
    per = {}
    for i in range(len(ds)):
        name = ds.locate(i)["image"]
        if names is not None and name not in names:
            continue
        x, y = ds[i]
        per[name] = score(task, numpy.asarray(restore(x), numpy.float64), y, x, scale)
    keys = next(iter(per.values())).keys()
    # an exact restoration has an infinite PSNR (a garment's hole that only covers black background): the means
    # are over the finite values, and `exact` counts the others, so one such image does not make the mean inf
    means = {k: float(numpy.mean([p[k] for p in per.values() if numpy.isfinite(p[k])])) for k in keys}
    exact = sum(not numpy.isfinite(p["psnr"]) for p in per.values() if "psnr" in p)
    means.update({"exact": exact} if exact else {})
    return dict(means, n=len(per)) if fashion else dict(means, per_image=per)


def _hwc(a):
    return numpy.ascontiguousarray(numpy.asarray(a, numpy.float64).transpose(1, 2, 0))


def _chw(a):
    """scikit-image's (H, W, C) result back to (C, H, W) (it drops the axis of a single channel)."""
    return (a[..., None] if a.ndim == 2 else a).transpose(2, 0, 1)


def _tune(task, sigma, make, grid, n, fashion=None):
    """The grid value whose method gives the best mean PSNR on n TRAIN items (96×96 photo patches, or whole
    garments), never on the held-out test images."""
    kw = dict(fashion=True, patch=None, size=n) if fashion else dict(patch=96, size=n)
    ds = RestorationPairs(task, split="train", sigma=sigma, seed=SEED + 1, augment=False, **kw)
    items = [ds[i] for i in range(n)]
    best = max(grid, key=lambda v: numpy.mean([float(psnr(numpy.clip(make(v)(x), 0, 1), y)) for x, y in items]))
    return float(best)


def tv(weight):
    from skimage.restoration import denoise_tv_chambolle
    return lambda x: _chw(denoise_tv_chambolle(_hwc(x), weight=weight, channel_axis=-1))


def nl_means(factor):
    from skimage.restoration import denoise_nl_means, estimate_sigma

    def run(x):
        img = _hwc(x)
        s = float(estimate_sigma(img, channel_axis=-1, average_sigmas=True))
        return _chw(denoise_nl_means(img, h=factor * s, sigma=s, channel_axis=-1, **NLM))
    return run


def biharmonic(x):
    from skimage.restoration import inpaint_biharmonic
    known = numpy.asarray(x[-1]) > 0.5
    return _chw(inpaint_biharmonic(_hwc(x[:-1]), ~known, channel_axis=-1))


def baselines(task, scale=3, sigma=25, quick=False, names=None, fashion=None, log=print):
    """{method: scores} of the classical baselines for one task (and scale or sigma) on the held-out photos (or
    with fashion=N the first N held-out garments); tuned parameters are reported in each method's 'params'."""
    n = 6 if quick else 24
    run = lambda fn: evaluate(task, fn, scale=scale, sigma=sigma, names=names, fashion=fashion)     # noqa: E731
    if task == "sr":
        return {"bicubic": dict(run(lambda x: x), params={})}
    if task == "denoise":
        w = _tune("denoise", sigma, tv, TV_WEIGHTS[::3] if quick else TV_WEIGHTS, n, fashion)
        f = _tune("denoise", sigma, nl_means, NLM_FACTORS[1::2] if quick else NLM_FACTORS, n, fashion)
        log(f"  σ={sigma}: TV weight {w}, NL-means h = {f}·σ̂ (tuned on {n} train items)")
        return {"noisy input": dict(run(lambda x: x), params={}),
                "TV (Chambolle)": dict(run(tv(w)), params=dict(weight=w)),
                "non-local means": dict(run(nl_means(f)), params=dict(h_factor=f, sigma="estimate_sigma", **NLM))}
    if task == "inpaint":
        return {"biharmonic": dict(run(biharmonic), params={})}
    raise ValueError(f"task must be sr, denoise or inpaint, got {task!r}")


def format_table(task, rows):
    """A text table of {method: scores} for a task: the mean scores, whichever the rows hold."""
    first = next(iter(rows.values()))
    cols = tuple(k for k, v in first.items() if k != "n" and isinstance(v, (int, float)))
    return table(("method",) + cols, [(m, *(f"{r[c]:.4f}" if c.startswith("ssim") else f"{r[c]:.2f}" for c in cols))
                                      for m, r in rows.items()])


def load_baselines(path=OUT):
    """The stored results: {'photos' | 'fashion': {'sr': {'x3': {method: scores}}, 'denoise': {'sigma25': ...},
    'inpaint': {'holes10-30': ...}}, 'protocol': {...}}."""
    with open(path) as f:
        return json.load(f)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", nargs="+", default=["sr", "denoise", "inpaint"], choices=["sr", "denoise", "inpaint"])
    ap.add_argument("--quick", action="store_true", help="two photos, 20 garments, a coarse tuning grid: a smoke run")
    ap.add_argument("--fashion", type=int, default=300, metavar="N",
                    help="also score the first N held-out Fashion-MNIST garments (0: photos only; default 300)")
    ap.add_argument("--out", default=None, help=f"JSON file to write (default {os.path.relpath(OUT, ROOT)}; "
                                                 "with --quick nothing is written unless given)")
    args = ap.parse_args(argv)
    from scratchnet.data.restoration import photo_names
    names = photo_names("test")[:2] if args.quick else None
    garments = min(args.fashion, 20) if args.quick else args.fashion
    result = dict(protocol=dict(pairs="RestorationPairs(task, split='test', patch=None, seed=0)",
                                photos=names or photo_names("test"), clip="outputs clipped to [0, 1]",
                                sr="Y channel (ITU-R BT.601, MATLAB rgb2ycbcr), `scale` pixels shaved",
                                ssim="Gaussian window 11, sigma 1.5, K1 0.01, K2 0.03, population covariance",
                                inpaint="psnr_holes: PSNR over the hole pixels only; random_mask's default: kind 'mixed', "
                                        "hole ratio uniform in [0.10, 0.30]",
                                fashion=f"the first {garments} Fashion-MNIST test garments, whole (fashion=True, "
                                        f"size={garments}); SR scored on the one channel, shaved"))
    settings = {"sr": [("x%d" % s, dict(scale=s)) for s in SCALES],
                "denoise": [("sigma%d" % s, dict(sigma=s)) for s in SIGMAS], "inpaint": [("holes10-30", {})]}
    for track, extra in [("photos", dict(names=names))] + ([("fashion", dict(fashion=garments))] if garments else []):
        result[track] = {}
        for task in args.tasks:
            result[track][task] = {}
            for key, kw in settings[task]:
                rows = baselines(task, quick=args.quick, **extra, **kw)
                result[track][task][key] = rows
                print(f"\n{track}: {task} {key}\n" + format_table(task, rows), flush=True)
    out = args.out or (None if args.quick else OUT)
    if out and os.path.exists(out) and set(args.tasks) != set(settings):
        # a run of some tasks keeps the other tasks' stored results
        stored = load_baselines(out)
        for track in ("photos", "fashion"):
            if track in result:
                stored.setdefault(track, {}).update(result[track])
        stored["protocol"] = result["protocol"]
        result = stored
    if out:
        from scratchnet.io import atomic_write_json
        atomic_write_json(out, result, indent=1)
        print(f"\nwrote {out}")
    return result


if __name__ == "__main__":
    sys.exit(main() and 0)
