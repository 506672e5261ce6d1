"""Loss modules: thin holders of a loss function's options (the maths is in ops/loss.py)."""
from . import functional as F
from .module import Module


class _Loss(Module):
    def __init__(self, reduction="mean", **options):
        super().__init__()
        self.reduction = reduction
        self.options = options

    def forward(self, input, target):
        return self.fn(input, target, reduction=self.reduction, **self.options)


class CrossEntropyLoss(_Loss):
    def __init__(self, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
        super().__init__(reduction, weight=weight, ignore_index=ignore_index, label_smoothing=label_smoothing)

    fn = staticmethod(F.cross_entropy)


class NLLLoss(_Loss):
    def __init__(self, weight=None, ignore_index=-100, reduction="mean"):
        super().__init__(reduction, weight=weight, ignore_index=ignore_index)

    fn = staticmethod(F.nll_loss)


class MSELoss(_Loss):
    fn = staticmethod(F.mse_loss)


class L1Loss(_Loss):
    fn = staticmethod(F.l1_loss)


class BCELoss(_Loss):
    def __init__(self, weight=None, reduction="mean"):
        super().__init__(reduction, weight=weight)

    fn = staticmethod(F.binary_cross_entropy)


class BCEWithLogitsLoss(_Loss):
    def __init__(self, weight=None, reduction="mean", pos_weight=None):
        super().__init__(reduction, weight=weight, pos_weight=pos_weight)

    fn = staticmethod(F.binary_cross_entropy_with_logits)
