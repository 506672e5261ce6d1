"""scratchnet.optim: SGD, Adam, AdamW, RMSprop, LBFGS and learning-rate schedules (PyTorch's names and maths)."""
from . import lr_scheduler  # noqa: F401
from .optimizer import Optimizer, clip_grad_norm_  # noqa: F401
from .sgd import SGD, RMSprop  # noqa: F401
from .adam import Adam, AdamW  # noqa: F401
from .lbfgs import LBFGS  # noqa: F401
