"""The apps' progress bars: tqdm (`tqdm.auto`, so a notebook gets a widget) with the figures a user watches.

A bar shows step/total, elapsed and remaining time and the rate (tqdm's own), plus the run's figures (loss,
accuracy, images/s). It is drawn when asked for, and by default only where someone can watch it: a terminal or a
notebook, not a log file or a pipe.
"""
import os
import sys
import time


def _watched(stream):
    """A terminal, or a notebook (where tqdm.auto picks its widget)."""
    from tqdm.autonotebook import tqdm as chosen   # tqdm.auto's choice: the notebook class in a Jupyter kernel
    from tqdm.std import tqdm as plain
    if chosen is not plain:
        return True
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


class Progress:
    """One live bar. `update(step, seen, **figures)`: `step` of `total` done, `seen` items (images) so far, and
    the figures to show (floats printed with 4 digits). `unit` "img/s" adds the image rate to the figures;
    "it/s" leaves the rate to tqdm. `enabled`: True always draws, False never, None (default) only when
    `stream` (stderr) is a terminal or the code runs in a notebook, unless $SCRATCHNET_PROGRESS is 1 (always)
    or 0 (never)."""

    def __init__(self, total, label, stream=None, unit="img/s", enabled=None):
        from tqdm.auto import tqdm
        stream = sys.stderr if stream is None else stream
        if enabled is None and os.environ.get("SCRATCHNET_PROGRESS") in ("0", "1"):
            enabled = os.environ["SCRATCHNET_PROGRESS"] == "1"
        self.enabled = _watched(stream) if enabled is None else bool(enabled)
        self.unit, self.start = unit, time.perf_counter()
        self.bar = tqdm(total=total, desc=label, file=stream, disable=not self.enabled, unit="step",
                        dynamic_ncols=True, mininterval=0.25, leave=True)

    def update(self, step, seen, **figures):
        if not self.enabled:
            return
        shown = {k: (f"{v:.4f}" if isinstance(v, float) else v) for k, v in figures.items()}
        if self.unit == "img/s":
            shown["img/s"] = f"{seen / max(time.perf_counter() - self.start, 1e-9):.1f}"
        self.bar.set_postfix(shown, refresh=False)
        self.bar.update(step - self.bar.n)

    def close(self):
        self.bar.close()
