"""Resuming a run without lying: the settings a checkpoint was made with are compared with the new run's (a
difference is refused unless forced), and a run starts by removing what an interrupted save left behind.

A resumed run must end exactly where a run that was never stopped ends: same weights, same metrics, same
pictures. The apps write the checkpoint first and the report (metrics, pictures) from what the checkpoint holds,
and a resumed run rewrites the report from the checkpoint before it trains, so a stop between the two never
leaves a report that disagrees with the checkpoint.
"""
import json

from .. import io


class SettingsMismatch(ValueError):
    """--resume with settings that differ from the checkpoint's (and no --force)."""


def _show(v):
    return json.dumps(v) if not isinstance(v, str) else v


def check_settings(path, saved, now, force=False, ignore=()):
    """Compare the settings stored in a checkpoint with this run's. Returns the differences as text (empty when
    equal); raises SettingsMismatch listing them unless `force`. Keys in `ignore` may differ (e.g. the number of
    epochs: resuming to train longer is what --resume is for)."""
    if saved is None:
        return ""
    keys = [k for k in dict.fromkeys([*saved, *now]) if k not in ignore]
    diffs = [f"{k} {_show(saved.get(k))} (checkpoint) vs {_show(now.get(k))} (this run)"
             for k in keys if saved.get(k) != now.get(k)]
    text = "; ".join(diffs)
    if diffs and not force:
        raise SettingsMismatch(f"{path} was written with other settings: {text}. Rerun with the checkpoint's "
                               f"settings, use another --out, or add --force to continue with this run's")
    return text


def start_folder(out):
    """A run's folder, made if needed, without the temporary files of saves a kill interrupted."""
    import os
    os.makedirs(out, exist_ok=True)
    return io.remove_stale_temps(out)
