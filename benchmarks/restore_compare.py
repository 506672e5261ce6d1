"""Trained restoration networks beside the classical baselines on the held-out photos: one table and one picture
per photo, e.g. noisy | TV | non-local means | scratchnet | ground truth, PSNR/SSIM printed on each panel.

The pairs are exactly those of `scratchnet restore evaluate` and of restore_baselines.py (RestorationPairs(task,
'test', patch=None, seed=0), fixed noise and masks). The baselines use the parameters stored in
docs/restore_baselines.json (tuned there on training patches), so nothing here is tuned on the held-out photos.
  denoise   noisy input, TV (Chambolle), non-local means; PSNR and SSIM on RGB
  inpaint   biharmonic, the push-pull fill alone, then each checkpoint (e.g. with and without the pre-fill);
            PSNR inside the holes (psnr_holes), and PSNR/SSIM of the whole image
Run: python benchmarks/restore_compare.py out/dn25/checkpoint.npz [--label "DnCNN-10"] \
         [--json docs/restore_denoise_s25.json] [--pictures docs/images --prefix restore_denoise_s25]
     python benchmarks/restore_compare.py out/inp/checkpoint.npz out/inp_noprefill/checkpoint.npz \
         --label "U-Net + push-pull" "U-Net alone" ...
"""
import argparse
import os
import sys

import numpy

from _harness import ROOT
import restore_baselines as rb

from scratchnet.apps import restore
from scratchnet.apps.restore_report import comparison


def _methods(task, sigma, stored):
    """[(name, function input -> (C, H, W), params)] of the classical methods compared for a task."""
    if task == "denoise":
        rows = stored["photos"]["denoise"][f"sigma{sigma:g}"]
        w, f = rows["TV (Chambolle)"]["params"]["weight"], rows["non-local means"]["params"]["h_factor"]
        return [("noisy input", lambda x: x, {}), ("TV (Chambolle)", rb.tv(w), dict(weight=w)),
                ("non-local means", rb.nl_means(f), dict(h_factor=f))]
    return [("biharmonic", rb.biharmonic, {}),
            ("push-pull fill", lambda x: restore.prefilled(x[:-1], x[-1:]), {})]


def _caption(task, s):
    if task == "denoise":
        return f"PSNR {s['psnr']:.2f} dB  SSIM {s['ssim']:.3f}"
    return f"holes {s['psnr_holes']:.2f} dB  SSIM {s['ssim']:.3f}"


BINS = ((0.10, 0.15), (0.15, 0.20), (0.20, 0.25), (0.25, 0.30))   # hole-ratio bins of the inpainting report


def compare(checkpoints, labels=None, pictures=None, prefix=None, names=None, log=print, seeds=(0,)):
    """{method: mean scores and per_image} for the checkpoints (all of one task and sigma) and the baselines;
    with `pictures`, one comparison picture per photo written there as PREFIX_NAME.jpg (first seed only).
    seeds: the evaluation pairs' seeds (RestorationPairs(seed=...): other noise or masks on the same photos);
    with more than one, per_image keys are NAME/sSEED and inpainting rows also get by_hole_ratio (mean PSNR in
    the holes per bin of the mask's hole ratio, with the number of cases)."""
    models = [restore.load_restorer(c, device="cpu") for c in checkpoints]
    configs = [c for _, c in models]
    task, sigma = configs[0]["task"], configs[0]["sigma"] or 25
    if task == "sr" or any((c["task"], c["sigma"]) != (task, configs[0]["sigma"]) for c in configs):
        raise ValueError("compare: the checkpoints must all be denoisers of one sigma or all inpainters, got "
                         + ", ".join(f"{c['task']} (sigma {c['sigma']})" for c in configs))
    labels = labels or [f"scratchnet {c['model']}" for c in configs]
    methods = _methods(task, sigma, rb.load_baselines())
    for (model, config), label in zip(models, labels):
        methods.append((label, (lambda m, c: lambda x: restore.restore(
            m, c, x[:-1] if c["task"] == "inpaint" else x,
            {"mask": x[-1:]} if c["task"] == "inpaint" else None))(model, config), dict(config=config)))
    per, ratios = {m: {} for m, _, _ in methods}, {}
    for seed, i in [(seed, i) for seed in seeds for i in range(len(rb.pairs(task, sigma=sigma, seed=seed)))]:
        ds = rb.pairs(task, sigma=sigma, seed=seed)
        photo = ds.locate(i)["image"]
        if names and photo not in names:
            continue
        name = photo if len(seeds) == 1 else f"{photo}/s{seed}"
        x, y = ds[i]
        ratios[name] = float(1 - x[-1].mean()) if task == "inpaint" else None
        panels = []
        if task == "inpaint":
            shown = numpy.where(x[-1:] == 0, numpy.array([1, 0, 1], numpy.float32)[:, None, None], x[:-1])
            panels.append(("masked input (holes magenta)", shown, f"{100 * (1 - x[-1].mean()):.0f}% holes"))
        for m, fn, _ in methods:
            out = numpy.clip(numpy.asarray(fn(x), numpy.float64), 0, 1)
            per[m][name] = rb.score(task, out, y, x, 1)
            panels.append((m, out, _caption(task, per[m][name])))
        log(f"{name}: " + ", ".join(f"{m} {_caption(task, per[m][name])}" for m, _, _ in methods), flush=True)
        if pictures and seed == seeds[0]:
            title = (f"denoising σ={sigma:g}" if task == "denoise" else f"inpainting, {100 * ratios[name]:.0f}% holes") + f", {photo}"
            comparison(os.path.join(pictures, f"{prefix or task}_{photo}.jpg"), panels + [("ground truth", y, "")],
                       title)
    out = {}
    for m, _, params in methods:
        keys = next(iter(per[m].values())).keys()
        out[m] = dict({k: float(numpy.mean([s[k] for s in per[m].values()])) for k in keys}, per_image=per[m],
                      params=params)
        if task == "inpaint" and len(seeds) > 1:
            out[m]["by_hole_ratio"] = {
                f"{lo:.2f}-{hi:.2f}": dict(n=len(v), psnr_holes=float(numpy.mean(v)) if v else None)
                for lo, hi in BINS for v in [[per[m][k]["psnr_holes"] for k, r in ratios.items()
                                              if lo <= r < hi or (hi == BINS[-1][1] and r == hi)]]}
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoints", nargs="+", help="checkpoint.npz of `scratchnet restore train` (denoise/inpaint)")
    ap.add_argument("--label", nargs="+", default=None, help="a name per checkpoint for the table and pictures")
    ap.add_argument("--json", default=None, help="write the results here (e.g. docs/restore_denoise_s25.json)")
    ap.add_argument("--pictures", default=None, help="folder for one comparison picture per photo")
    ap.add_argument("--prefix", default=None, help="picture file names: PREFIX_PHOTO.jpg (default: the task)")
    ap.add_argument("--photos", nargs="+", default=None, help="only these held-out photos (default: all four)")
    ap.add_argument("--seeds", nargs="+", type=int, default=[0],
                    help="evaluation seeds (other noise or masks on the same photos; default 0, the app's)")
    ap.add_argument("--quick", action="store_true", help="one photo, no files: a smoke run")
    args = ap.parse_args(argv)
    if args.label and len(args.label) != len(args.checkpoints):
        ap.error(f"--label: {len(args.label)} labels for {len(args.checkpoints)} checkpoints")
    from scratchnet.data.restoration import photo_names
    names = photo_names("test")[:1] if args.quick else args.photos
    rows = compare(args.checkpoints, args.label, None if args.quick else args.pictures, args.prefix, names,
                   seeds=args.seeds)
    task = restore.load_restorer(args.checkpoints[0])[1]["task"]
    print(rb.format_table(task, rows))
    for m, r in rows.items():
        if "by_hole_ratio" in r:
            print(f"{m}, PSNR in the holes by hole ratio: " + ", ".join(
                f"{b} {v['psnr_holes']:.2f} dB (n={v['n']})" for b, v in r["by_hole_ratio"].items() if v["n"]))
    if args.json and not args.quick:
        from scratchnet.io import atomic_write_json
        atomic_write_json(args.json, dict(protocol="benchmarks/restore_compare.py on RestorationPairs(task, 'test', "
                                                   f"patch=None, seed=S) for S in {args.seeds}; outputs clipped to [0, 1]",
                                          results=rows),
                          indent=1)
        print(f"wrote {os.path.relpath(args.json, ROOT)}")
    return rows


if __name__ == "__main__":
    sys.exit(main() and 0)
