"""save/load of (nested) state dicts as .npz or .safetensors, with NumPy alone and never pickle.

The nesting (dicts, lists, numbers, strings, None) is kept as JSON beside the arrays: in .npz as the uint8 entry
'__structure__', in .safetensors in the header's '__metadata__'. Safetensors layout: 8-byte little-endian header
length, the JSON header {name: {dtype, shape, data_offsets: [begin, end]}}, then the raw little-endian buffer.
Writes go to a temporary file that is renamed into place, so a crash never leaves half a checkpoint.
"""
import json
import os
import struct
import tempfile

import numpy

from . import backend
from .tensor import Tensor

_ST_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
              "U8": "u1", "BOOL": "?"}
_ST_NAMES = {numpy.dtype(v): k for k, v in _ST_DTYPES.items()}


class SerializationError(ValueError):
    """A checkpoint or weight file that cannot be read: the message names the file and what was wrong."""


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
    if isinstance(node, dict):
        if "__tensor__" in node or "__array__" in node:
            key = node.get("__tensor__", node.get("__array__"))
            if key not in arrays:
                raise SerializationError(f"{path}: the structure names array '{key}', which the file does not hold")
            a = arrays[key]
            if device is not None:
                a = backend.to_device(a, device)
            return Tensor(a) if "__tensor__" in node else a
        if "__dict__" in node:
            return {k: _unflatten(v, arrays, device, path) for k, v in node["__dict__"]}
        if "__list__" in node:
            return [_unflatten(v, arrays, device, path) for v in node["__list__"]]
        if "__tuple__" in node:
            return tuple(_unflatten(v, arrays, device, path) for v in node["__tuple__"])
    return node


def atomic_write(path, write):
    """Call write(file) on a temporary file beside `path`, then rename it into place. Any exception, Ctrl-C
    included, removes the temporary file, so `path` is always either the old file or the whole new one."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as f:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes the file private; a saved file gets the usual permissions
            write(f)
            f.flush()
            os.fsync(f.fileno())
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


def read_safetensors(path):
    """(arrays, metadata) of a .safetensors file, every offset and size checked before anything is returned."""
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise SerializationError(f"{path}: truncated safetensors file ({len(blob)} bytes, no header length)")
    (n,) = struct.unpack("<Q", blob[:8])
    if n > len(blob) - 8:
        raise SerializationError(f"{path}: header length {n} runs past the end of the file ({len(blob)} bytes)")
    try:
        header = json.loads(blob[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SerializationError(f"{path}: bad safetensors header: {e}") from None
    if not isinstance(header, dict):
        raise SerializationError(f"{path}: bad safetensors header: expected a JSON object")
    buf = memoryview(blob)[8 + n:]
    meta = header.pop("__metadata__", {}) or {}
    arrays = {}
    for name, info in header.items():
        try:
            code, shape, (b, e) = info["dtype"], [int(s) for s in info["shape"]], info["data_offsets"]
        except (KeyError, TypeError, ValueError):
            raise SerializationError(f"{path}: entry '{name}' lacks dtype/shape/data_offsets") from None
        if code not in _ST_DTYPES:
            raise SerializationError(f"{path}: entry '{name}' has unknown dtype {code!r} "
                                     f"(known: {', '.join(_ST_DTYPES)})")
        dt = numpy.dtype(_ST_DTYPES[code])
        if not (0 <= b <= e <= len(buf)):
            raise SerializationError(f"{path}: entry '{name}' has offsets [{b}, {e}] outside the data buffer of "
                                     f"{len(buf)} bytes (truncated file?)")
        if e - b != int(numpy.prod(shape, dtype=numpy.int64)) * dt.itemsize:
            raise SerializationError(f"{path}: entry '{name}' holds {e - b} bytes but shape {shape} of {code} "
                                     f"needs {int(numpy.prod(shape)) * dt.itemsize}")
        arrays[name] = numpy.frombuffer(buf[b:e], dtype=dt).reshape(shape).astype(dt.newbyteorder("="))
    return arrays, meta


def _read_npz(path):
    try:
        with numpy.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except ValueError as e:
        raise SerializationError(f"{path}: cannot read .npz without pickle: {e}") from None
    except Exception as e:  # zipfile.BadZipFile, EOFError, OSError for a truncated archive
        raise SerializationError(f"{path}: not a readable .npz file ({type(e).__name__}: {e})") from None
    return arrays


def load(path, map_location=None):
    """Load what save() wrote (or any .npz / .safetensors): tensors come back as Tensors on `map_location`
    (default cpu); a plain weight file without structure comes back as {name: Tensor}."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"load: no such file {path}")
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic == b"PK\x03\x04":
        arrays = _read_npz(path)
        raw = arrays.pop("__structure__", None)
        structure = None if raw is None else raw.tobytes().decode()
    else:
        arrays, meta = read_safetensors(path)
        structure = meta.get("__structure__")
    device = backend.device(map_location) if map_location is not None else None
    if structure is None:
        return {k: Tensor(backend.to_device(a, device) if device else a) for k, a in arrays.items()}
    try:
        structure = json.loads(structure)
    except json.JSONDecodeError as e:
        raise SerializationError(f"{path}: the stored structure is not valid JSON: {e}") from None
    return _unflatten(structure, arrays, device, path)


def atomic_write_json(path, obj, **kw):
    """json.dump(obj) to `path` atomically."""
    atomic_write(path, lambda f: f.write(json.dumps(obj, **kw).encode()))
