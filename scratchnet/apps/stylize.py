"""Neural style transfer and texture synthesis: optimise the pixels of an image so that its Gram matrices match a
style image's and (for transfer) its features match a content image's (Gatys et al. 2016).

    L(x) = w_s · mean_l ‖G_l(x) − G_l(s)‖² / ‖G_l(s)‖²  +  w_c · ‖F(x) − F(c)‖² / ‖F(c)‖²  +  w_tv · TV(x) / TV(s)
Every term is relative to its target, so the weights mean the same at every size and on every network: a style
loss of 0.05 is a 5% relative error of the Gram matrices. x is optimised with L-BFGS (strong-Wolfe line search);
if L-BFGS stalls in its first iterations (loss not falling, or not finite) the run falls back to Adam.
"""
import math
import os
import time

from .. import backend, cli_args, creation, optim
from ..rng import manual_seed
from ..models.bank import FilterBank
from ..models.vgg import vgg16, vgg19
from ..tensor import no_grad
from .progress import Progress
from .readout import read_rows
from .images import load_image, preserve_color as keep_colours, save_image, strip
from .plots import line_chart
from .style import gram_matrix, total_variation

VGG_STYLE = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")


class FeatureNet:
    """A network plus the taps style transfer reads (models.taps): style layers (Grams) and one content layer."""

    def __init__(self, name, module, style_layers, content_layer, gram_options, min_size=16):
        self.name, self.module, self.style_layers, self.content_layer = name, module, style_layers, content_layer
        self.gram_options, self.min_size = gram_options, min_size

    def __call__(self, x):
        if min(x.shape[2:]) < self.min_size:
            raise ValueError(f"{self.name}: image {x.shape[2]}x{x.shape[3]} is smaller than the {self.min_size} px "
                             f"this network needs; use a larger --size")
        return self.module.taps(x, tuple(dict.fromkeys(self.style_layers + (self.content_layer,))))

    def grams(self, feats):
        return [gram_matrix(feats[n], **self.gram_options) for n in self.style_layers]


def feature_net(name="bank", weights=None, pool="avg", seed=0, device=None):
    """bank: random multi-scale filter bank (offline default; centred Grams, content at quarter resolution, k=7).
    vgg19/vgg16: torchvision layout, weights from `weights` (.safetensors/.npz) or random if None (a stand-in
    that runs but does not transfer style well)."""
    if name == "bank":
        bank = FilterBank(seed=seed).to(device)
        return FeatureNet("bank", bank, tuple(bank.layer_names), "L2_k7", dict(centered=True, mean_weight=0.1),
                          bank.min_size)
    if name in ("vgg19", "vgg16"):
        model = (vgg19 if name == "vgg19" else vgg16)(pool=pool, weights=weights).to(device).eval()
        model.requires_grad_(False)
        return FeatureNet(name, model, VGG_STYLE, "relu4_2", {}, 32)
    raise ValueError(f"unknown feature network {name!r}: choose bank, vgg19 or vgg16")


def _relative(a, b):
    return ((a - b) ** 2).sum() / ((b * b).sum() + 1e-12)


class StyleLoss:
    """L(x) and its parts for a fixed style (and optional content) image."""

    def __init__(self, net, style, content=None, style_weight=1.0, content_weight=0.15, tv_weight=0.01):
        self.net, self.ws, self.wc, self.wtv = net, style_weight, content_weight, tv_weight
        with no_grad():
            self.style_grams = [g.detach() for g in net.grams(net(style))]
            self.content_target = net(content)[net.content_layer].detach() if content is not None else None
            self.tv_scale = float(total_variation(style).item()) + 1e-8

    def __call__(self, x):
        feats = self.net(x)
        grams = self.net.grams(feats)
        parts = {"style": sum(_relative(g, t) for g, t in zip(grams, self.style_grams)) / len(grams)}
        if self.content_target is not None:
            parts["content"] = _relative(feats[self.net.content_layer], self.content_target)
        parts["tv"] = total_variation(x) / self.tv_scale
        total = self.ws * parts["style"] + self.wtv * parts["tv"]
        if "content" in parts:
            total = total + self.wc * parts["content"]
        return total, parts


def _finite(v):
    return math.isfinite(v)


def adam_stepper(loss_fn, x, lr):
    """(step, x): x as a leaf that requires grad, and step() = one Adam step on loss_fn(x) that returns the loss
    and its parts as device tensors (nothing read back: the caller reads them every few steps)."""
    if not x.requires_grad:
        x = x.detach().requires_grad_(True)
    opt = optim.Adam([x], lr=lr)

    def step():
        opt.zero_grad()
        total, parts = loss_fn(x)
        total.backward()
        opt.step()
        return dict(total=total.detach(), **{k: v.detach() for k, v in parts.items()})
    return step, x


def synthesize(loss_fn, x0, steps=100, optimizer="lbfgs", lr=0.02, progress=True, label="style", log_every=5):
    """Minimise loss_fn over the pixels, starting from x0, for `steps` optimizer iterations. Returns (image,
    history, optimizer actually used); history has one dict per loss evaluation, with "total" and every part.
    With Adam the losses stay on the device and are read every `log_every` steps (a non-finite loss is raised
    there); L-BFGS reads each evaluation, as its line search needs the values."""
    if optimizer not in ("lbfgs", "adam"):
        raise ValueError(f"optimizer must be 'lbfgs' or 'adam', got {optimizer!r}")
    x = x0.detach().clone().requires_grad_(True)
    history = []
    bar = Progress(steps, label, unit="it/s") if progress else None

    def closure():   # for L-BFGS, which reads every loss it evaluates (its line search syncs: see optim.lbfgs)
        opt.zero_grad()
        total, parts = loss_fn(x)
        total.backward()
        history.append(dict(total=float(total.item()), **{k: float(v.item()) for k, v in parts.items()}))
        return total

    done, used = 0, optimizer
    if optimizer == "lbfgs":
        # L-BFGS runs in chunks (each chunk re-evaluates its start point once); the first chunk is short so that
        # a stall (a bad first curvature estimate, a non-finite loss) is caught early and handed to Adam
        opt = optim.LBFGS([x], lr=1, max_iter=5, max_eval=25, history_size=50, line_search_fn="strong_wolfe")
        start = x.detach().clone()
        opt.step(closure)
        first, now = history[0]["total"], history[-1]["total"]
        if not _finite(now) or now > 0.98 * first:
            with backend.on(x.data):
                x.data[...] = start.data
            used = "adam"
            if progress:
                print(f"{label}: L-BFGS stalled (loss {first:.4g} -> {now:.4g} in 5 iterations); using Adam(lr={lr})")
        else:
            done = 5
            while done < steps:
                chunk = min(10, steps - done)
                opt.param_groups[0].update(max_iter=chunk, max_eval=chunk * 5 // 4 + 10)
                n_before = opt.state[x]["n_iter"]
                opt.step(closure)
                done += chunk
                if bar:
                    bar.update(done, done, **{k: v for k, v in history[-1].items()})
                if opt.state[x]["n_iter"] - n_before < chunk:   # converged: L-BFGS stopped early
                    break
    if used == "adam":
        step, _ = adam_stepper(loss_fn, x, lr)
        pending = []
        for it in range(steps - done):
            pending.append(step())
            if it % log_every == log_every - 1 or it == steps - done - 1:   # the loop's only device->host reads
                history.extend(read_rows(pending))
                pending = []
                bad = next((i for i, h in enumerate(history) if not _finite(h["total"])), None)
                if bad is not None:
                    raise FloatingPointError(f"{label}: the loss became {history[bad]['total']} after {bad + 1} "
                                             "evaluations")
                if bar:
                    bar.update(done + it + 1, done + it + 1, **{k: v for k, v in history[-1].items()})
    if bar:
        bar.close()
    return x.detach().clip(0, 1), history, used


def stylize(content, style, out=None, texture=False, net="bank", weights=None, size=256, steps=100,
            optimizer="lbfgs", style_weight=1.0, content_weight=0.15, tv_weight=0.01, preserve_color=False,
            init=None, pool="avg", seed=0, device=None, progress=True):
    """Style transfer (content image + style image) or, with texture=True, texture synthesis from the style image
    alone. `content`/`style`: file paths or bundled photo names. Writes to `out` (a folder) the result, a
    content|style|result strip, the loss curve and a JSON summary; returns the summary dict."""
    device = device or backend.get_default_device()
    manual_seed(seed)
    net_ = feature_net(net, weights, pool, seed, device)
    style_img = load_image(style, size, device)
    content_img = None if texture else load_image(content, size, device)
    loss_fn = StyleLoss(net_, style_img, content_img, style_weight, 0.0 if texture else content_weight, tv_weight)
    init = init or ("noise" if texture else "content")
    if init == "content" and content_img is not None:
        x0 = content_img
    elif init == "noise":
        shape = style_img.shape if texture else content_img.shape
        x0 = 0.5 + 0.1 * creation.randn(*shape, device=device)
    else:
        raise ValueError(f"init must be 'content' or 'noise' (content needs a content image), got {init!r}")
    t0 = time.perf_counter()
    result, history, used = synthesize(loss_fn, x0, steps, optimizer, progress=progress,
                                       label="texture" if texture else "style")
    seconds = time.perf_counter() - t0
    if preserve_color and content_img is not None:
        result = keep_colours(result, content_img)
    summary = dict(net=net, size=list(result.shape[2:]), steps=steps, optimizer=used, seconds=round(seconds, 1),
                   style_loss_start=history[0]["style"], style_loss_end=history[-1]["style"],
                   style_loss_drop=1 - history[-1]["style"] / max(history[0]["style"], 1e-12))
    if out:
        summary.update(_write(out, result, style_img, content_img, history, summary, texture))
    return dict(summary, image=result, history=history)


def _write(out, result, style_img, content_img, history, summary, texture):
    from ..io import atomic_write_json
    os.makedirs(out, exist_ok=True)
    kind = "texture" if texture else "stylized"
    paths = dict(result=save_image(result, os.path.join(out, f"{kind}.png")))
    images, captions = ([style_img, result], ["source", "synthesised"]) if texture else \
        ([content_img, style_img, result], ["content", "style", "result"])
    paths["strip"] = strip(images, captions, os.path.join(out, f"{kind}_strip.png"))
    curves = {k: [h[k] for h in history] for k in history[0] if k != "total"}
    curves = {k: [max(v, 1e-6) for v in vals] for k, vals in curves.items()}  # a term can start at 0: floor
    paths["curve"] = line_chart(os.path.join(out, f"{kind}_loss.png"), "loss terms (each relative to its target)",
                                curves, xlabel="loss evaluation", ylabel="relative loss", log=True)
    atomic_write_json(os.path.join(out, f"{kind}.json"), dict(summary, **paths), indent=2)
    return paths


# ---- the command line: `scratchnet style` ----

def add_arguments(p):
    p.add_argument("content", nargs="?", type=cli_args.image,
                   help="content image (path or bundled photo name, e.g. chelsea)")
    p.add_argument("style", nargs="?", type=cli_args.image,
                   help="style image (path or bundled name, e.g. immunohistochemistry)")
    p.add_argument("--texture", action="store_true", help="synthesise the style image's texture; no content")
    p.add_argument("--net", default="bank", choices=["bank", "vgg19", "vgg16"])
    p.add_argument("--weights", type=cli_args.existing_file, default=None,
                   help="torchvision-layout VGG weights (.safetensors or .npz)")
    p.add_argument("--pool", default="avg", choices=["avg", "max"], help="VGG pooling")
    p.add_argument("--size", type=cli_args.image_size, default=256, help="longer side in pixels")
    p.add_argument("--steps", type=cli_args.positive_int, default=100)
    p.add_argument("--optimizer", default="lbfgs", choices=["lbfgs", "adam"])
    p.add_argument("--style-weight", type=cli_args.weight, default=1.0)
    p.add_argument("--content-weight", type=cli_args.weight, default=0.15)
    p.add_argument("--tv-weight", type=cli_args.weight, default=0.01)
    p.add_argument("--init", default=None, choices=["content", "noise"])
    p.add_argument("--preserve-color", action="store_true", help="keep the content's colours")
    cli_args.add_common(p, "out/style")


def check(args):
    """CONTENT STYLE, or --texture STYLE (the one image given is the style)."""
    content, style = (None, args.style or args.content) if args.texture else (args.content, args.style)
    if style is None or (content is None and not args.texture):
        raise cli_args.UsageError("give CONTENT STYLE, or --texture STYLE")
    args.content, args.style = content, style


def run(args):
    r = stylize(args.content, args.style, out=args.out, texture=args.texture, net=args.net, weights=args.weights,
                size=args.size, steps=args.steps, optimizer=args.optimizer, style_weight=args.style_weight,
                content_weight=args.content_weight, tv_weight=args.tv_weight, preserve_color=args.preserve_color,
                init=args.init, pool=args.pool, seed=args.seed, device=args.device)
    print(f"style loss {r['style_loss_start']:.4g} -> {r['style_loss_end']:.4g} "
          f"({r['style_loss_drop']:.1%} lower) with {r['optimizer']}; wrote {r['result']}, {r['strip']}")
