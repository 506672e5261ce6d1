"""cupyx.scipy: special (erf and friends) over SciPy when present, else math.erf elementwise."""
from . import special  # noqa: F401
