"""save/load of (nested) state dicts as .npz or .safetensors, with NumPy alone and never pickle.

The nesting (dicts, lists, numbers, strings, None) is kept as JSON beside the arrays: in .npz as the uint8 entry
'__structure__', in .safetensors in the header's '__metadata__'. Safetensors layout: 8-byte little-endian header
length, the JSON header {name: {dtype, shape, data_offsets: [begin, end]}}, then the raw little-endian buffer.
Writes go to a temporary file that is renamed into place, so a crash never leaves half a checkpoint. Reading is
strict (formats.py): every failure is a SerializationError naming the file, and no file can make a reader allocate
more than the file holds or than `max_bytes`.
"""
import json
import os
import struct
import tempfile

import numpy

from . import backend
from .formats import (MAX_BYTES, ST_DTYPES, TORCH_REFUSAL, MissingFileError, SerializationError,  # noqa: F401
                      read_npz, read_safetensors, sniff, _unique_keys)
from .tensor import Tensor

_ST_NAMES = {numpy.dtype(v): k for k, v in ST_DTYPES.items()}


# ---- nesting <-> (structure, flat arrays) ----

def _flatten(obj, arrays, path):
    if isinstance(obj, Tensor):
        arrays[path] = backend.to_numpy(obj.data)
        return {"__tensor__": path}
    if hasattr(obj, "__array__") and hasattr(obj, "dtype") and hasattr(obj, "shape"):
        arrays[path] = backend.to_numpy(obj)
        return {"__array__": path}
    if isinstance(obj, dict):
        for k in obj:
            if not isinstance(k, (str, int)):
                raise TypeError(f"save: dict keys must be str or int, got {type(k).__name__} at '{path}'")
        return {"__dict__": [[k, _flatten(v, arrays, f"{path}/{k}" if path else str(k))] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        return {"__list__" if isinstance(obj, list) else "__tuple__":
                [_flatten(v, arrays, f"{path}/{i}" if path else str(i)) for i, v in enumerate(obj)]}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, numpy.generic):
        return obj.item()
    raise TypeError(f"save: cannot store a {type(obj).__name__} at '{path}' (tensors, arrays, numbers, strings, "
                    "None, lists, tuples and dicts only)")


def _unflatten(node, arrays, device, path):
    """The saved object back from its structure. Anything that is not a node _flatten writes is refused: the
    structure entry is scratchnet's own, and a file that merely uses its name is not a scratchnet checkpoint."""
    if isinstance(node, dict):
        kind = next(iter(node)) if len(node) == 1 else None
        value = node.get(kind)
        if kind in ("__tensor__", "__array__") and isinstance(value, str):
            if value not in arrays:
                raise SerializationError(f"{path}: the structure names array '{value}', which the file does not hold")
            a = arrays[value]
            if device is not None:
                a = backend.to_device(a, device)
            return Tensor(a) if kind == "__tensor__" else a
        if kind == "__dict__" and isinstance(value, list) and all(
                isinstance(kv, list) and len(kv) == 2 and type(kv[0]) in (str, int) for kv in value):
            keys = [k for k, _ in value]
            if len(set(keys)) != len(keys):
                raise SerializationError(f"{path}: the structure holds a dict with a repeated key")
            return {k: _unflatten(v, arrays, device, path) for k, v in value}
        if kind in ("__list__", "__tuple__") and isinstance(value, list):
            items = [_unflatten(v, arrays, device, path) for v in value]
            return items if kind == "__list__" else tuple(items)
    elif node is None or type(node) in (bool, int, float, str):
        return node
    raise SerializationError(f"{path}: its __structure__ entry is not scratchnet's (unexpected node "
                             f"{json.dumps(node)[:60]})")


_fault_hook = None


def set_fault_hook(hook):
    """Install hook(stage) to be called at every fault point (None removes it); returns the previous hook. Tests
    raise from it to stop a run at an exact place, as a kill would."""
    global _fault_hook
    previous, _fault_hook = _fault_hook, hook
    return previous


def fault_point(stage):
    """A place where a run may be killed: atomic_write between writing and renaming, the apps at each stage of
    an epoch's end. With $SCRATCHNET_FAULT=STAGE[:N] the process ends here (os._exit: no clean-up, like kill -9)
    the N-th time (default 1st) it reaches STAGE."""
    if _fault_hook is not None:
        _fault_hook(stage)
    want = os.environ.get("SCRATCHNET_FAULT")
    if want:
        name, _, nth = want.partition(":")
        if name == stage:
            _fault_counts[stage] = _fault_counts.get(stage, 0) + 1
            if _fault_counts[stage] == int(nth or 1):
                os._exit(99)


_fault_counts = {}


def _temp_prefix(path):
    return f".{os.path.basename(path)}.tmp-"


def _lock(f):
    """An exclusive lock on an open temporary file while its write is in progress (False when another process or
    thread holds it). The lock dies with its process, so a killed writer's file is unlocked and stale."""
    try:
        import fcntl
    except ImportError:   # no fcntl (Windows): every temporary file counts as in use
        return False
    try:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def remove_stale_temps(folder, name=None):
    """Delete the temporary files that interrupted atomic writes left in `folder` (of file `name`, or of any
    file), leaving alone those a live write holds; returns their names."""
    prefix = _temp_prefix(name) if name else "."
    removed = []
    for f in os.listdir(folder):
        full = os.path.join(folder, f)
        if not (f.startswith(prefix) and ".tmp-" in f and os.path.isfile(full)):
            continue
        try:
            with open(full, "rb") as probe:
                if _lock(probe):
                    os.remove(full)
                    removed.append(f)
        except FileNotFoundError:   # its writer finished, or another process cleaned it first
            pass
    return removed


def atomic_write(path, write):
    """Call write(file) on a temporary file beside `path`, then rename it into place. Any exception, Ctrl-C
    included, removes the temporary file, so `path` is always either the old file or the whole new one; the
    temporary file a kill leaves (.NAME.tmp-XXXX) is removed by the next write of the same file or the next run
    of an app in its folder."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    remove_stale_temps(folder, path)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=_temp_prefix(path))
    try:
        with os.fdopen(fd, "wb") as f:
            _lock(f)   # held until the file is renamed into place, so no clean-up takes it meanwhile
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes the file private; a saved file gets the usual permissions
            write(f)
            f.flush()
            os.fsync(f.fileno())
            fault_point("atomic_write")
            os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def save(obj, path, format=None):
    """Save tensors/arrays in nested dicts and lists to `path` (.npz or .safetensors, by suffix or `format`)."""
    fmt = format or ("safetensors" if str(path).endswith(".safetensors") else "npz")
    arrays = {}
    structure = _flatten(obj, arrays, "")
    if fmt == "npz":
        payload = dict(arrays)
        payload["__structure__"] = numpy.frombuffer(json.dumps(structure).encode(), dtype=numpy.uint8)
        atomic_write(path, lambda f: numpy.savez(f, **payload))
    elif fmt == "safetensors":
        atomic_write(path, lambda f: _write_safetensors(f, arrays, {"__structure__": json.dumps(structure)}))
    else:
        raise ValueError(f"save: format must be 'npz' or 'safetensors', got {fmt!r}")


def _write_safetensors(f, arrays, metadata):
    header, offset = {"__metadata__": metadata}, 0
    for name, a in arrays.items():
        dt = numpy.dtype(a.dtype).newbyteorder("<") if a.dtype.byteorder == ">" else numpy.dtype(a.dtype)
        if dt not in _ST_NAMES:
            raise TypeError(f"save: dtype {a.dtype} of '{name}' has no safetensors code")
        header[name] = {"dtype": _ST_NAMES[dt], "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)  # the format aligns the buffer to 8 bytes
    f.write(struct.pack("<Q", len(raw)))
    f.write(raw)
    for a in arrays.values():
        f.write(numpy.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<")).tobytes())


def load(path, map_location=None, max_bytes=MAX_BYTES):
    """Load what save() wrote (or any .npz / .safetensors): tensors come back as Tensors on `map_location`
    (default cpu); a plain weight file without structure comes back as {name: Tensor}.

    Raises SerializationError (a ValueError; MissingFileError, also a FileNotFoundError, for a missing file) naming
    the file for anything it cannot read, refuses PyTorch pickle checkpoints, and never returns more than
    `max_bytes` of data (default MAX_BYTES = 2 GiB), so a small compressed file cannot expand into a huge one."""
    path = os.fspath(path)
    kind = sniff(path)
    if kind == "torch":
        raise SerializationError(f"{path}: {TORCH_REFUSAL}")
    if kind == "npz":
        arrays = read_npz(path, max_bytes)
        raw = arrays.pop("__structure__", None)
        if raw is not None and (raw.dtype != numpy.uint8 or raw.ndim != 1):
            raise SerializationError(f"{path}: its __structure__ member is {raw.dtype} {raw.shape}, not scratchnet's "
                                     f"(uint8 JSON text)")
        structure = None if raw is None else raw.tobytes()
    else:
        arrays, meta = read_safetensors(path, max_bytes)
        structure = meta.get("__structure__")
        if structure is not None:
            structure = structure.encode("utf-8")
    device = backend.device(map_location) if map_location is not None else None
    if structure is None:
        return {k: Tensor(backend.to_device(a, device) if device else a) for k, a in arrays.items()}
    try:   # Python's JSON: save() writes NaN and Infinity for non-finite numbers in the saved object
        structure = json.loads(structure.decode("utf-8"), object_pairs_hook=_unique_keys)
    except RecursionError:
        raise SerializationError(f"{path}: its __structure__ entry is nested too deeply") from None
    except (UnicodeError, ValueError) as e:
        raise SerializationError(f"{path}: its __structure__ entry is not valid JSON: {e}") from None
    return _unflatten(structure, arrays, device, path)


def atomic_write_json(path, obj, **kw):
    """json.dump(obj) to `path` atomically."""
    atomic_write(path, lambda f: f.write(json.dumps(obj, **kw).encode()))
