"""The differentiable ops, one family per module, and the table that makes them Tensor methods and operators."""
from . import cast, math, reduce, shape, linalg, activation  # noqa: F401
from . import unary, binary, scan, sort, index, layout, diag, einsum, stats, aliases  # noqa: F401
from .methods import install

install()
