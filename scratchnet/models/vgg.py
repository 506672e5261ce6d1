"""VGG16 / VGG19 feature extractors in torchvision's layout, for style transfer and DeepDream with real weights.

`vgg19().features` has exactly torchvision's indices (features.0 is conv1_1, features.1 relu1_1, ...), so a
torchvision state dict converted to .safetensors or .npz (tools/convert_torch_weights.py) loads key for key with
`load_pretrained(model, path)`. Inputs are images in [0, 1]; the model applies ImageNet's normalisation
    x̂ = (x − mean) / std,  mean = (0.485, 0.456, 0.406), std = (0.229, 0.224, 0.225)
itself. No weights ship with scratchnet: without a file the network is randomly initialised (PyTorch's init).
"""
from .. import creation, io, nn
from .taps import check_taps

CONFIGS = {
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


class VGG(nn.Module):
    """features: Sequential of Conv2d(3×3, padding 1) + ReLU blocks and 2×2 pools (max, or "avg" as Gatys et al.
    suggest for smoother style gradients). forward(x, layers) returns {name: activation} for the named layers
    ("conv3_2", "relu4_1", "pool5", ...), stopping at the deepest one asked for."""

    def __init__(self, config, pool="max"):
        super().__init__()
        if pool not in ("max", "avg"):
            raise ValueError(f"VGG: pool must be 'max' or 'avg', got {pool!r}")
        layers, self.layer_index, block, conv, cin = [], {}, 1, 1, 3
        for v in config:
            if v == "M":
                self.layer_index[f"pool{block}"] = len(layers)
                layers.append(nn.MaxPool2d(2, 2) if pool == "max" else nn.AvgPool2d(2, 2))
                block, conv = block + 1, 1
            else:
                self.layer_index[f"conv{block}_{conv}"] = len(layers)
                self.layer_index[f"relu{block}_{conv}"] = len(layers) + 1
                layers += [nn.Conv2d(cin, v, 3, padding=1), nn.ReLU()]
                cin, conv = v, conv + 1
        self.features = nn.Sequential(*layers)
        self.register_buffer("mean", creation.tensor(IMAGENET_MEAN).reshape(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", creation.tensor(IMAGENET_STD).reshape(1, 3, 1, 1), persistent=False)

    @property
    def layer_names(self):
        return list(self.layer_index)

    tap_names = layer_names   # the named-taps API every feature model shares (see models.taps)

    def taps(self, x, names):
        """{name: activation} for the named layers; the same as forward(x, layers=names)."""
        check_taps(self, names)
        return self.forward(x, layers=tuple(names))

    def forward(self, x, layers=("relu5_1",)):
        unknown = [n for n in layers if n not in self.layer_index]
        if unknown:
            raise ValueError(f"VGG: unknown layer(s) {unknown}; known: {', '.join(self.layer_index)}")
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"VGG: input must be (N, 3, H, W) images in [0, 1], got {x.shape}")
        wanted = {self.layer_index[n]: n for n in layers}
        x = (x - self.mean.to(dtype=x.dtype)) / self.std.to(dtype=x.dtype)
        out = {}
        for i in range(max(wanted) + 1):
            x = self.features[i](x)
            if i in wanted:
                out[wanted[i]] = x
        return {n: out[n] for n in layers}


def vgg19(pool="max", weights=None):
    model = VGG(CONFIGS["vgg19"], pool)
    return load_pretrained(model, weights) if weights else model


def vgg16(pool="max", weights=None):
    model = VGG(CONFIGS["vgg16"], pool)
    return load_pretrained(model, weights) if weights else model


class WeightsError(ValueError):
    """A weight file that does not fit the model: missing keys, unexpected keys or wrong shapes."""


def load_pretrained(model, path):
    """Load torchvision-layout weights (features.N.weight / .bias; classifier.* is ignored) from .safetensors or
    .npz into `model`. Raises WeightsError listing every missing key, unexpected key and wrong shape."""
    try:
        state = io.load(path)
    except io.SerializationError as err:
        raise WeightsError(f"cannot read VGG weights from {path}: {err}") from None
    if not isinstance(state, dict):
        raise WeightsError(f"{path}: expected a state dict (name -> array), got {type(state).__name__}")
    state = {k: v for k, v in state.items() if not str(k).startswith("classifier.")}
    odd = [f"{k} ({type(v).__name__})" for k, v in state.items() if not hasattr(v, "shape")]
    if odd:
        raise WeightsError(f"{path}: entries that are not arrays: {', '.join(odd)}")
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    wrong = [f"{k}: file {tuple(state[k].shape)}, model {tuple(own[k].shape)}"
             for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or wrong:
        parts = [f"missing keys: {', '.join(missing)}" if missing else "",
                 f"unexpected keys: {', '.join(unexpected)}" if unexpected else "",
                 f"wrong shapes: {'; '.join(wrong)}" if wrong else ""]
        raise WeightsError(f"{path} does not fit this VGG ({len(own)} tensors expected, torchvision layout "
                           f"features.N.weight/bias): " + " | ".join(p for p in parts if p))
    model.load_state_dict({k: state[k] for k in own})
    return model
