"""Weight averaging (PyTorch's torch.optim.swa_utils names): AveragedModel keeps a running average of a model's
weights, e.g. an exponential moving average (EMA) of a GAN generator, which samples better than the last iterate.

update_parameters(model): the first call copies the model's values; later calls set, for every parameter (and every
floating-point buffer when use_buffers=True; other buffers, and all of them when use_buffers=False, are copied),
    p_avg ← avg_fn(p_avg, p_model, n)           n = number of updates averaged so far
with the equal-weight mean  p_avg + (p_model − p_avg) / (n + 1)  by default (SWA) and
    p_avg ← decay·p_avg + (1 − decay)·p_model   with get_ema_avg_fn(decay).
avg_fn receives the backend's arrays (NumPy or CuPy). No gradient flows into the average: it is not trained.
"""
import copy

from .. import nn
from ..tensor import no_grad


def get_ema_avg_fn(decay=0.999):
    """avg_fn for an exponential moving average: decay·averaged + (1 − decay)·current."""
    decay = float(decay)
    if not 0.0 <= decay <= 1.0:
        raise ValueError(f"Invalid decay value {decay} provided. Please provide a value in [0,1] range.")

    def ema_update(averaged, current, num_averaged):
        return decay * averaged + (1.0 - decay) * current

    def in_place(averaged, current):
        """The same arithmetic written into `averaged` (AveragedModel's own array): no new arrays a step."""
        share = current * (1.0 - decay)
        averaged *= decay
        averaged += share
    ema_update.in_place = in_place
    return ema_update


def _swa_avg(averaged, current, num_averaged):
    return averaged + (current - averaged) / (num_averaged + 1)


class AveragedModel(nn.Module):
    """A deep copy of `model` (as .module) whose weights are the average of the weights it is updated with;
    calling it runs the averaged copy."""

    def __init__(self, model, avg_fn=None, use_buffers=False):
        super().__init__()
        if not isinstance(model, nn.Module):
            raise TypeError(f"AveragedModel: model must be an nn.Module, got {type(model).__name__}")
        self.module = copy.deepcopy(model)
        for p in self.module.parameters():
            p.requires_grad_(False)
        self.avg_fn = avg_fn or _swa_avg
        self.use_buffers = use_buffers
        self.n_averaged = 0

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def _pairs(self, model):
        ours, theirs = list(self.module.parameters()), list(model.parameters())
        if self.use_buffers:
            ours, theirs = ours + list(self.module.buffers()), theirs + list(model.buffers())
        if len(ours) != len(theirs) or any(a.shape != b.shape for a, b in zip(ours, theirs)):
            raise ValueError(f"AveragedModel.update_parameters: the model's {len(theirs)} parameters/buffers do "
                             f"not match the averaged copy's {len(ours)} (shapes or count)")
        return zip(ours, theirs)

    @no_grad()
    def update_parameters(self, model):
        """Fold model's current weights into the average (the first call copies them)."""
        for avg, cur in self._pairs(model):
            src = cur.data.astype(avg.data.dtype, copy=False)
            if self.n_averaged == 0 or avg.data.dtype.kind != "f":
                avg.data[...] = src
            elif hasattr(self.avg_fn, "in_place"):
                self.avg_fn.in_place(avg.data, src)
            else:
                avg.data[...] = self.avg_fn(avg.data, src, self.n_averaged)
        if not self.use_buffers:   # PyTorch keeps the buffers (batch-norm statistics) in sync with the model's
            for avg, cur in zip(self.module.buffers(), model.buffers()):
                avg.data[...] = cur.data
        self.n_averaged += 1

    def state_dict(self):
        """The averaged copy's state, keys prefixed with 'module.', plus 'n_averaged' (as in PyTorch)."""
        out = super().state_dict()
        out["n_averaged"] = self.n_averaged
        return out

    def load_state_dict(self, state_dict, strict=True):
        state = dict(state_dict)
        n = state.pop("n_averaged", None)
        if n is None and strict:
            raise KeyError("AveragedModel.load_state_dict: missing key 'n_averaged'")
        result = self.module.load_state_dict({k[len("module."):] if k.startswith("module.") else k: v
                                              for k, v in state.items()}, strict)
        if n is not None:
            self.n_averaged = int(n.numpy() if hasattr(n, "numpy") else n)
        return result
