"""cupyx.scipy: special (erf and friends) over SciPy when present, else math.erf elementwise
(erfinv: scratchnet's own CPU kernel)."""
from . import special  # noqa: F401
