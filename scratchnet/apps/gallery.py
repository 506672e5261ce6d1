"""`scratchnet demo`: every app run small, and one HTML page (DIR/index.html) showing every picture it made.

CNN training on the Fashion-MNIST that is found (the bundled sample on a fresh machine), a conditional GAN,
style transfer and texture synthesis with the random filter bank, DeepDream with the shipped Fashion-MNIST CNN, a
small binary (garment / background) U-Net segmentation, and ×3 super-resolution with the shipped restoration
weights.
Sizes are chosen so the whole run fits 4 minutes on 2 CPU cores (quick=True: under 2 minutes); every section's
wall and CPU seconds are printed and shown on the page.
"""
import html
import os
import resource
import time

from .. import backend, cli_args

# (full, quick) settings per app. The full run fits 4 minutes on 2 cores by recipe (fewer, better-used steps),
# each section's bar kept; measured CPU seconds before/after and the quality figures: README "Demo gallery".
SETTINGS = {
    # one epoch with the learning rate annealed per step (cosine to 0) reaches what two at a constant 1e-3 did
    "cnn": dict(full=dict(epochs=1, limit=None, lr=2e-3, cosine="step"), quick=dict(epochs=1, limit=3000)),
    # the conditional DCGAN with a 3x3 stem in G (models.gan "dcgan-small") at batch 16, lr 5e-4, one G forward a
    # step shared by D's and G's updates, sampled from an EMA of G; bar: class consistency >= 80%, FD <= 5
    # (1,000 samples vs the full test set, apps.gan_metrics). Batch 16 for 1,200 steps costs ~0.72x what batch 32
    # for 1,000 did (a step's time follows its batch) and ends as well or better: updates, not images, were short
    "gan": dict(full=dict(model="dcgan-small", steps=1200, batch_size=16, lr=5e-4, ema=0.99, reuse_fake=True),
                quick=dict(model="mlp", steps=1500)),
    # L-BFGS iterations: the style loss is flat after ~40 (transfer 92.21% down at 40, 92.24% at 60) and the
    # texture's grain set by ~45 (99.48% / 99.54%); side by side the pictures do not differ (30 / 35 do)
    "style": dict(full=dict(size=192, steps=40), quick=dict(size=160, steps=40)),
    "texture": dict(full=dict(size=192, steps=45), quick=dict(size=128, steps=45)),
    "dream": dict(full=dict(size=256, steps=20), quick=dict(size=192, steps=15)),
    "segment": dict(full=dict(steps=60, test_canvases=200), quick=dict(steps=40, test_canvases=100)),
}


def _cnn(out, settings, device, data, progress):
    s = settings["cnn"]
    from .classify import train
    hist = train("reference", data, epochs=s["epochs"], out=out, limit=s["limit"], device=device, progress=progress,
                 lr=s.get("lr", 1e-3), cosine=s.get("cosine", False))
    acc = hist[-1]["test_acc"]
    schedule = f", Adam lr {s.get('lr', 1e-3):g}" + (" annealed per step" if s.get("cosine") == "step" else "")
    return [("curves.png", f"Reference CNN, {s['epochs']} epoch(s){schedule}: loss and accuracy per epoch"),
            ("predictions.png", f"Test images with predicted (and true) labels: {acc:.1%} test accuracy"),
            ("confusion.png", "Confusion matrix on the test set")], {
        "CNN test accuracy": f"{acc:.1%} of {_test_images(out)} test images"}


def _test_images(out):
    import json
    with open(os.path.join(out, "metrics.json")) as f:
        return f"{sum(map(sum, json.load(f)['confusion'])):,}"


def _gan(out, settings, device, data, progress):
    s = settings["gan"]
    from .gan import train_gan
    train_gan(s["model"], True, "bce", steps=s["steps"], out=out, data=data, device=device, progress=progress,
              sample_every=s["steps"], quality_samples=1000, lr=s.get("lr", 2e-4), lr_d=s.get("lr_d"),
              ema=s.get("ema", 0.0), batch_size=s.get("batch_size", 64), reuse_fake=s.get("reuse_fake", False))
    import json
    with open(os.path.join(out, "history.json")) as f:
        q = json.load(f)["quality"][-1]
    name = {"dcgan": "DCGAN", "dcgan-small": "DCGAN (3x3 stem)"}.get(s["model"], "MLP GAN")
    ema = f", drawn by the EMA of its weights (decay {s['ema']})" if s.get("ema") else ""
    return [("per_class.png", f"Conditional {name} after {s['steps']} steps of batch {s.get('batch_size', 64)}"
                              f"{ema}: one row per requested class"),
            ("losses.png", "GAN losses")], {
        "GAN Fréchet distance (bar <= 5; floor 0.02, untrained 142)": f"{q['fd']:.2f}",
        "GAN class consistency (bar >= 80%)": f"{q['class_consistency']:.1%}"}


def _style(out, settings, device, data, progress):
    s, tx = settings["style"], settings["texture"]
    from .stylize import stylize
    r = stylize("chelsea", "immunohistochemistry", out=out, size=s["size"], steps=s["steps"], device=device,
                progress=progress)
    t = stylize(None, "gravel", out=out, texture=True, size=tx["size"], steps=tx["steps"], device=device,
                progress=progress)
    return [("stylized_strip.png", f"Style transfer with the random filter bank at {s['size']} px, {s['steps']} "
                                   f"L-BFGS iterations ({r['seconds']} s): style loss down "
                                   f"{r['style_loss_drop']:.1%}"),
            ("stylized_loss.png", "Style transfer losses (log10, relative to their targets)"),
            ("texture_strip.png", f"Texture synthesis from noise at {tx['size']} px, {tx['steps']} L-BFGS "
                                  f"iterations ({t['seconds']} s): style loss down {t['style_loss_drop']:.1%}")], {
        "style loss drop (transfer)": f"{r['style_loss_drop']:.1%}",
        "style loss drop (texture)": f"{t['style_loss_drop']:.1%}"}


def _dream(out, settings, device, data, progress):
    s = settings["dream"]
    from .dream import dream
    a = dream("chelsea", out=out, objective="block3", size=s["size"], steps=s["steps"], device=device,
              progress=progress)
    b = dream("chelsea", out=out, objective="class:trouser", size=96, steps=30, lr=0.01, device=device,
              progress=progress)
    return [(os.path.basename(a["strip"]), "DeepDream with the shipped Fashion-MNIST CNN: its last conv stage's "
                                           "mean square, 4 octaves"),
            (os.path.basename(b["strip"]), "Dreaming the class 'Trouser' at the size garments were learned at "
                                           "(96 px): dark vertical legs grow")], {}


def _segment(out, settings, device, data, progress):
    s = settings["segment"]
    from .segment import train
    ck = train(out, data, steps=s["steps"], batch_size=16, lr=3e-3, width=8, depth=3, binary=True,
               eval_every=s["steps"], test_canvases=s["test_canvases"], device=device, progress=progress)
    iou = ck["evals"][-1]["miou_no_background"]
    return [("predictions.png", f"A U-Net (width 8) after {s['steps']} steps telling garment pixels from background "
                                f"on held-out canvases: foreground IoU {iou:.3f}"),
            ("curves.png", "Segmentation loss and foreground IoU per step")], {
        "segmentation foreground IoU (binary)": f"{iou:.3f}"}


def _restore(out, settings, device, data, progress):
    """The shipped ×3 super-resolution weights on a held-out photo (no training: a second or two)."""
    from ..data.restoration import photos, photo_names
    from .restore import evaluate, load_restorer
    model, config = load_restorer(None, "sr", 3, device)
    name = photo_names("test")[0]
    os.makedirs(out, exist_ok=True)
    rows, _ = evaluate(model, config, out, [photos("test")[0].transpose(2, 0, 1)], [name], device)
    r = rows[0]
    return [(f"sr_{name}.png", f"x3 super-resolution of a held-out photo with the shipped weights: PSNR-Y "
                               f"{r['psnr_y']:.2f} dB vs bicubic {r['psnr_y_bicubic']:.2f} dB (crops zoomed)")], {
        "x3 super-resolution, PSNR-Y gain over bicubic": f"{r['psnr_y'] - r['psnr_y_bicubic']:+.2f} dB"}


APPS = [("Classifier", "cnn", _cnn), ("GAN", "gan", _gan), ("Style transfer and texture synthesis", "style", _style),
        ("DeepDream", "dream", _dream), ("Segmentation", "segment", _segment), ("Super-resolution", "restore", _restore)]


def cpu_seconds():
    """CPU time (user + system) used so far by this process and its finished children, over all threads: beside
    the wall time it tells what a section costs on a machine shared with other work."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def demo(out="out/demo", quick=False, device=None, data=None, progress=True):
    """Run every app small and write out/index.html; returns the path of the page. Prints each section's wall
    and CPU seconds as it ends, and the table of all of them at the end."""
    device = device or backend.get_default_device()
    settings = {k: v["quick" if quick else "full"] for k, v in SETTINGS.items()}
    sections, figures, t_all, c_all = [], {}, time.perf_counter(), cpu_seconds()
    for title, key, fn in APPS:
        t0, c0 = time.perf_counter(), cpu_seconds()
        print(f"== {title}")
        sub = os.path.join(out, key)
        pictures, figs = fn(sub, settings, device, data, progress)
        figures.update(figs)
        wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
        print(f"== {title}: {wall:.1f} s wall, {cpu:.1f} s CPU")
        sections.append((title, [(os.path.join(key, p), c) for p, c in pictures], wall, cpu))
    from ..cputune import num_threads
    where = f"{device} ({num_threads()} threads)" if backend.device(device).type == "cpu" else str(device)
    wall, cpu = time.perf_counter() - t_all, cpu_seconds() - c_all
    figures["total time"] = f"{wall:.0f} s on {where}"
    figures["total CPU time (all threads)"] = f"{cpu:.0f} s"
    path = write_index(out, sections, figures, quick)
    print("demo: seconds per section (wall, CPU)")
    for title, _, w, c in sections:
        print(f"  {title:<40} {w:7.1f} {c:7.1f}")
    print(f"  {'total':<40} {wall:7.1f} {cpu:7.1f}")
    print(f"demo: {figures['total time']}")
    return path


def write_index(out, sections, figures, quick=False):
    """index.html: a table of key figures, then each section's pictures with captions (paths relative to out)."""
    from ..io import atomic_write
    e = html.escape
    rows = "\n".join(f"<tr><th>{e(k)}</th><td>{e(str(v))}</td></tr>" for k, v in figures.items())
    body = []
    for title, pictures, seconds, cpu in sections:
        figs = "\n".join(f'<figure><img src="{e(p)}" alt="{e(c)}"><figcaption>{e(c)}</figcaption></figure>'
                         for p, c in pictures)
        timing = f"<small>({seconds:.0f} s wall, {cpu:.0f} s CPU)</small>"
        body.append(f"<section><h2>{e(title)} {timing}</h2>\n{figs}\n</section>")
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>scratchnet demo gallery</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1100px}} img{{max-width:100%;border:1px solid #ccc}}
figure{{margin:1em 0}} figcaption{{color:#333}} table{{border-collapse:collapse}}
th,td{{text-align:left;padding:2px 12px;border-bottom:1px solid #ddd}}</style></head>
<body><h1>scratchnet demo gallery{' (quick)' if quick else ''}</h1>
<p>Every picture below was made by scratchnet (NumPy/CuPy, no deep-learning framework) in this run.</p>
<table>{rows}</table>
{chr(10).join(body)}
<script>
// tells a headless browser (and the test) how many pictures actually decoded
window.addEventListener("load", () => {{
  const imgs = [...document.images], ok = imgs.filter(i => i.complete && i.naturalWidth > 0).length;
  document.body.dataset.imagesLoaded = ok + "/" + imgs.length;
}});
</script>
</body></html>
"""
    path = os.path.join(out, "index.html")
    atomic_write(path, lambda f: f.write(page.encode("utf-8")))
    return path


# ---- the command line: `scratchnet demo` ----

def add_arguments(p):
    p.add_argument("--quick", action="store_true", help="smaller runs: under 2 minutes on 2 cores")
    cli_args.add_common(p, "out/demo", data=True, seed=False)


def run(args):
    print(f"gallery: {demo(out=args.out, quick=args.quick, device=args.device, data=args.data)}")
