"""Loss modules: thin holders of a loss function's options (the maths is in ops/loss.py)."""
from . import functional as F
from ..ops.loss_more import legacy_reduction
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


class KLDivLoss(_Loss):
    def __init__(self, size_average=None, reduce=None, reduction="mean", log_target=False):
        super().__init__(legacy_reduction(size_average, reduce, reduction), log_target=log_target)

    fn = staticmethod(F.kl_div)


class SmoothL1Loss(_Loss):
    def __init__(self, size_average=None, reduce=None, reduction="mean", beta=1.0):
        super().__init__(legacy_reduction(size_average, reduce, reduction), beta=beta)

    fn = staticmethod(F.smooth_l1_loss)


class HuberLoss(_Loss):
    def __init__(self, reduction="mean", delta=1.0):
        super().__init__(reduction, delta=delta)

    fn = staticmethod(F.huber_loss)


class TripletMarginLoss(Module):
    def __init__(self, margin=1.0, p=2.0, eps=1e-6, swap=False, size_average=None, reduce=None, reduction="mean"):
        super().__init__()
        self.margin, self.p, self.eps, self.swap = margin, p, eps, swap
        self.reduction = legacy_reduction(size_average, reduce, reduction)

    def forward(self, anchor, positive, negative):
        return F.triplet_margin_loss(anchor, positive, negative, margin=self.margin, p=self.p, eps=self.eps,
                                     swap=self.swap, reduction=self.reduction)
