"""cupy.lib: stride_tricks (https://docs.cupy.dev/en/stable/reference/generated/cupy.lib.stride_tricks.as_strided.html)."""
from . import stride_tricks  # noqa: F401
