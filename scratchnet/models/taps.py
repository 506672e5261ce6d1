"""Named feature taps: a model's intermediate outputs read by name, `model.taps(x, ("block2", "block3"))` ->
{"block2": ..., "block3": ...}, for DeepDream, style transfer and the GAN metric (instead of indexing layers).

Every feature model has `tap_names` (what can be read, shallow to deep) and `taps(x, names)`; it runs only as far as
the deepest tap asked for. TappedSequential gives a Sequential classifier its names without changing its layers, so
its state-dict keys (0.weight, 1.bias, ...) and every checkpoint and weight file saved before stay loadable.
"""
from .. import nn


def check_taps(model, names):
    """Refuse (ValueError naming the model and listing the known taps) names the model does not have."""
    if isinstance(names, str):
        raise TypeError(f"{type(model).__name__}.taps: names must be a sequence of tap names, e.g. ({names!r},)")
    unknown = [n for n in names if n not in model.tap_names]
    if unknown:
        raise ValueError(f"{type(model).__name__}: unknown tap(s) {unknown}; known: {', '.join(model.tap_names)}")


class TappedSequential(nn.Sequential):
    """A Sequential whose outputs after chosen layers have names: tap_index = {name: index of the layer whose
    output it is}."""

    def __init__(self, layers, tap_index):
        super().__init__(*layers)
        self.tap_index = dict(tap_index)

    @property
    def tap_names(self):
        return list(self.tap_index)

    def tap_layer(self, name):
        """The layer whose output the tap `name` is."""
        check_taps(self, (name,))
        return self[self.tap_index[name]]

    def taps(self, x, names):
        check_taps(self, names)
        wanted = {self.tap_index[n] for n in names}
        out = {}
        for i, layer in enumerate(self):
            x = layer(x)
            if i in wanted:
                out[i] = x
                if len(out) == len(wanted):
                    break
        return {n: out[self.tap_index[n]] for n in names}
