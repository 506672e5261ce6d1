"""torch.nn.utils names: gradient clipping lives with the optimizers; this module only re-exports it."""
from ..optim.optimizer import clip_grad_norm_  # noqa: F401
