"""DeepDream: gradient ascent on a photo to amplify what a network's units respond to (Mordvintsev et al. 2015).

For an objective J(x) (a layer's mean square activation, chosen channels' mean, or a class logit) each step is
    x ← clip(x + lr · g / mean|g|, 0, 1),   g = ∂J/∂x evaluated on the image rolled by a random jitter
(normalising by mean|g| makes lr a step size in pixel units whatever the layer's scale; the jitter stops the
same pixel grid from being amplified into a checkerboard). Octaves: the image is dreamt at `octaves` sizes, each
`octave_scale` times larger than the previous; the detail the dream added at one size is upsampled and re-injected
into the next, so large structures form at coarse scales and fine ones on top.
"""
import os
import time

from .. import backend, cli_args, creation
from ..rng import generator, manual_seed
from ..autograd import grad
from ..data.datasets import FASHION
from ..models.cnn import shipped_classifier
from ..nn import functional as F
from .progress import Progress
from .readout import read_rows
from .images import load_image, save_image, strip

# the shipped Fashion-MNIST CNN's taps a dream can climb (models.cnn.compact_cnn); logits are read per position
FASHION_LAYERS = ("block1", "block2", "block3", "logits")


class DreamNet:
    """A network read at named layers; a gray network sees the luminance Y = 0.299 R + 0.587 G + 0.114 B.
    run(x, layer) returns the layer's activation."""

    def __init__(self, name, run, layers, gray):
        self.name, self.run, self.layers, self.gray = name, run, list(layers), gray

    def __call__(self, x, layer):
        if layer not in self.layers:
            raise ValueError(f"dream: network {self.name!r} has no layer {layer!r}; choose from "
                             f"{', '.join(self.layers)}")
        if self.gray:
            x = 0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3]
        return self.run(x, layer)


def _tapped(name, model, gray, layers=None):
    """A DreamNet reading a model's named taps (models.taps)."""
    return DreamNet(name, lambda x, layer: model.taps(x, (layer,))[layer], layers or model.tap_names, gray)


def dream_net(name="fashion", weights=None, device=None):
    """fashion: the shipped compact Fashion-MNIST CNN (default); bank: the random filter bank; vgg19: VGG19 with
    torchvision-layout weights from `weights` (random if None)."""
    if name == "fashion":
        model = shipped_classifier(device=device)
        model.requires_grad_(False)
        head = model.tap_layer("logits")

        def run(x, layer):
            if layer == "logits":   # per-position logits: the classifier's Linear as a 1×1 conv over block3
                w = head.weight.reshape(*head.weight.shape, 1, 1)
                return F.conv2d(model.taps(x, ("block3",))["block3"], w, head.bias)
            return model.taps(x, (layer,))[layer]
        return DreamNet(name, run, FASHION_LAYERS, gray=True)
    if name == "bank":
        from ..models.bank import FilterBank
        return _tapped(name, FilterBank().to(device), gray=False)
    if name == "vgg19":
        from ..models.vgg import vgg19
        model = vgg19(weights=weights).to(device).eval()
        model.requires_grad_(False)
        return _tapped(name, model, gray=False)
    raise ValueError(f"unknown dream network {name!r}: choose fashion, bank or vgg19")


def parse_objective(spec):
    """"block3" (mean square of a layer), "block2:3,17" (mean of chosen channels), "class:sneaker" (a logit)."""
    if spec.startswith("class:"):
        return "logits", [FASHION.class_index(spec[6:])], "class " + FASHION.classes[FASHION.class_index(spec[6:])]
    layer, _, chans = spec.partition(":")
    if chans:
        try:
            channels = [int(c) for c in chans.split(",")]
        except ValueError:
            raise ValueError(f"objective {spec!r}: channels must be integers, e.g. block2:3,17") from None
        return layer, channels, f"{layer} channels {chans}"
    return layer, None, f"{layer} mean square"


def objective_value(act, channels):
    """J = mean(a²) over a layer, or mean(a[:, channels]) for chosen channels / a class logit."""
    if channels is None:
        return (act * act).mean()
    bad = [c for c in channels if not 0 <= c < act.shape[1]]
    if bad:
        raise ValueError(f"dream: channel(s) {bad} out of range for a layer with {act.shape[1]} channels")
    return act[:, channels].mean()


def _roll(data, dy, dx):
    xp = backend.get_array_module(data)
    return xp.roll(xp.roll(data, dy, axis=2), dx, axis=3)


def dream_step(dnet, x, layer, channels, lr, shift):
    """One gradient-ascent step on x (in place): roll by `shift` (jitter), climb the objective's gradient
    normalised by its mean size, clip to [0, 1]. Returns the objective before the step (a device tensor)."""
    dy, dx = shift
    with backend.on(x.data):
        xr = creation.tensor(_roll(x.data, dy, dx), dtype=x.dtype, device=x.device, requires_grad=True)
        j = objective_value(dnet(xr, layer), channels)
        (g,) = grad(j, [xr])
        g = _roll(g.data, -dy, -dx)
        xp = backend.get_array_module(g)
        if dnet.gray:                  # the same step on R, G and B: light and dark structure, no colour cast
            g = xp.broadcast_to(g.sum(1, keepdims=True), g.shape)
        x.data[...] = xp.clip(x.data + lr * g / (xp.abs(g).mean() + 1e-8), 0, 1)
    return j.detach()


def dream(image, out=None, net="fashion", objective="block3", weights=None, size=256, octaves=4, octave_scale=1.4,
          steps=20, lr=0.008, jitter=16, invert=False, seed=0, device=None, progress=True, log_every=5):
    """DeepDream an image (path or bundled photo name). invert=True dreams on the negative and turns it back (the
    Fashion-MNIST CNN learned bright garments on black). Writes OUT/dream.png and a before|after strip."""
    device = device or backend.get_default_device()
    manual_seed(seed)
    rng = generator("cpu")
    dnet = dream_net(net, weights, device)
    layer, channels, what = parse_objective(objective)
    base = load_image(image, size, device)
    if invert:
        base = 1 - base
    h, w = base.shape[2:]
    sizes = [(max(8, round(h / octave_scale ** k)), max(8, round(w / octave_scale ** k))) for k in range(octaves)][::-1]
    detail = None
    bar = Progress(octaves * steps, f"dream {what}", unit="it/s") if progress else None
    t0, values = time.perf_counter(), []
    for o, hw in enumerate(sizes):
        octave_base = F.interpolate(base, size=hw, mode="bilinear", align_corners=False) if hw != (h, w) else base
        detail = creation.zeros_like(octave_base) if detail is None else \
            F.interpolate(detail, size=hw, mode="bilinear", align_corners=False)
        x = (octave_base + detail).detach()
        pending = []
        for i in range(steps):
            shift = tuple(int(v) for v in rng.integers(-jitter, jitter + 1, size=2))   # host draws: no sync
            pending.append({"j": dream_step(dnet, x, layer, channels, lr, shift)})
            if (i + 1) % log_every == 0 or i + 1 == steps:   # the loop's only device->host reads
                values.extend(r["j"] for r in read_rows(pending))
                pending = []
                if bar:
                    bar.update(o * steps + i + 1, o * steps + i + 1, objective=values[-1])
        detail = x - octave_base
    if bar:
        bar.close()
    result = 1 - x if invert else x
    summary = dict(net=net, objective=what, size=list(result.shape[2:]), octaves=octaves, steps=steps, lr=lr,
                   seconds=round(time.perf_counter() - t0, 1), objective_start=values[0], objective_end=values[-1])
    if out:
        from ..io import atomic_write_json
        os.makedirs(out, exist_ok=True)
        tag = objective.replace(":", "_").replace(",", "-").replace("/", "-")
        summary["result"] = save_image(result, os.path.join(out, f"dream_{tag}.png"))
        summary["strip"] = strip([1 - base if invert else base, result], ["photo", f"dream: {what}"],
                                 os.path.join(out, f"dream_{tag}_strip.png"))
        atomic_write_json(os.path.join(out, f"dream_{tag}.json"), summary, indent=2)
    return dict(summary, image=result)


# ---- the command line: `scratchnet dream` ----

def add_arguments(p):
    p.add_argument("image", type=cli_args.image, help="image path or bundled photo name")
    p.add_argument("--net", default="fashion", choices=["fashion", "bank", "vgg19"])
    p.add_argument("--weights", type=cli_args.existing_file, default=None, help="VGG19 weights (.safetensors or .npz)")
    p.add_argument("--objective", default="block3",
                   help="a layer (block3: its mean square), layer:channels (block2:3,17) or class:NAME")
    p.add_argument("--size", type=cli_args.image_size, default=256)
    p.add_argument("--octaves", type=cli_args.int_range(1, 8), default=4)
    p.add_argument("--octave-scale", type=cli_args.float_range(1.0, 4.0), default=1.4)
    p.add_argument("--steps", type=cli_args.positive_int, default=20, help="steps per octave")
    p.add_argument("--lr", type=cli_args.learning_rate, default=0.008)
    p.add_argument("--jitter", type=cli_args.int_range(0, 512), default=16)
    p.add_argument("--invert", action="store_true", help="dream on the negative (garments were bright on black)")
    cli_args.add_common(p, "out/dream")


def check(args):
    try:
        layer = parse_objective(args.objective)[0]
    except ValueError as e:
        raise cli_args.UsageError(f"argument --objective: {e}") from None
    if args.net == "fashion" and layer not in FASHION_LAYERS:
        raise cli_args.UsageError(f"argument --objective: the fashion network has no layer {layer!r}; choose from "
                                  f"{', '.join(FASHION_LAYERS)}")


def run(args):
    r = dream(args.image, out=args.out, net=args.net, objective=args.objective, weights=args.weights, size=args.size,
              octaves=args.octaves, octave_scale=args.octave_scale, steps=args.steps, lr=args.lr, jitter=args.jitter,
              invert=args.invert, seed=args.seed, device=args.device)
    print(f"{r['objective']}: {r['objective_start']:.4g} -> {r['objective_end']:.4g}; wrote {r['result']}")
