"""Strict readers for the files scratchnet loads weights and checkpoints from: .safetensors (refusing what the
reference `safetensors` package refuses), .npz (only .npy members, no pickle), and a clear refusal of PyTorch's
pickle checkpoints.

Every header field is checked before any data is read; a reader allocates only what the file can hold and never
more than `max_bytes` (so a small compressed file cannot become a huge array); every failure is a
SerializationError naming the file.
"""
import json
import math
import os
import struct
import zipfile
import zlib

import numpy

MAX_BYTES = 2**31          # default limit on the data a reader returns (2 GiB); pass max_bytes= for more
MAX_HEADER = 100_000_000   # the safetensors package's limit on its JSON header
MAX_DEPTH = 127            # ... and on JSON nesting (serde_json's recursion limit)

# safetensors dtype codes NumPy can hold, and their bit sizes; the others are known to the format but not to NumPy
ST_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
             "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1", "BOOL": "?", "C64": "<c8"}
ST_NO_NUMPY = {"BF16": 16, "F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8, "F8_E4M3FNUZ": 8, "F8_E5M2FNUZ": 8,
               "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6}
TORCH_REFUSAL = "PyTorch pickle checkpoints are not loaded; convert it with tools/convert_torch_weights.py"


class SerializationError(ValueError):
    """A checkpoint or weight file that cannot be read: the message names the file and what was wrong."""


class MissingFileError(SerializationError, FileNotFoundError):
    """The file to load does not exist (also a FileNotFoundError, as `open` would raise)."""


def _limit(path, nbytes, max_bytes, what="its tensors"):
    if nbytes > max_bytes:
        raise SerializationError(f"{path}: {what} would take {nbytes} bytes, over max_bytes={max_bytes}; pass a "
                                 f"larger max_bytes if the file is trusted")


# ---- safetensors ----

class _Negative(int):
    """A JSON integer written with a minus sign (even -0): never a valid size or offset."""


def _parse_int(text):
    if len(text) > 308 and not math.isfinite(float(text)):
        raise ValueError(f"number out of range: {text[:20]}...")
    return _Negative(int(text)) if text.startswith("-") else int(text)


def _parse_float(text):
    v = float(text)
    if not math.isfinite(v):
        raise ValueError(f"number out of range: {text}")
    return v


def _no_constant(name):
    raise ValueError(f"{name} is not JSON")


def _unique_keys(pairs):
    seen = set()
    for k, _ in pairs:
        if k in seen:
            raise ValueError(f"duplicate key {k!r}")
        seen.add(k)
    return dict(pairs)


def _check_tree(node, depth=1):
    """serde_json's limits, which Python's json lacks: nesting depth, and strings that are valid Unicode."""
    if depth > MAX_DEPTH:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for k, v in items:
        if isinstance(k, str):
            k.encode("utf-8")   # a lone surrogate (\ud800) raises UnicodeEncodeError
        if isinstance(v, str):
            v.encode("utf-8")
        elif isinstance(v, (dict, list)):
            _check_tree(v, depth + 1)


def strict_json(text):
    """json.loads as strict as serde_json (RFC 8259): no NaN/Infinity, no duplicate keys, no lone surrogates,
    nesting at most MAX_DEPTH; integers written with a minus sign come back as _Negative. Raises ValueError."""
    try:
        obj = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant, parse_int=_parse_int,
                         parse_float=_parse_float)
    except RecursionError:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels") from None
    if isinstance(obj, (dict, list)):
        _check_tree(obj)
    return obj


def _size(v):
    """A non-negative integer that fits in 64 bits (JSON true/false, floats and negatives are not)."""
    return type(v) is int and 0 <= v < 2**64


def _parse_safetensors_header(path, header, data_len):
    """[(name, dtype code, shape, begin, end)] in file order, after the checks the safetensors package makes."""
    if not isinstance(header, dict):
        raise SerializationError(f"{path}: bad safetensors header: expected a JSON object, got "
                                 f"{type(header).__name__}")
    meta = header.pop("__metadata__", None)
    if meta is not None and not (isinstance(meta, dict) and all(isinstance(v, str) for v in meta.values())):
        raise SerializationError(f"{path}: bad safetensors header: __metadata__ must map strings to strings, got "
                                 f"{json.dumps(meta)[:80]}")
    entries = []
    for name, info in header.items():
        if not isinstance(info, dict):
            raise SerializationError(f"{path}: entry '{name}' must be an object with dtype, shape and data_offsets, "
                                     f"got {json.dumps(info)[:60]}")
        missing = [k for k in ("dtype", "shape", "data_offsets") if k not in info]
        if missing:
            raise SerializationError(f"{path}: entry '{name}' lacks {', '.join(missing)}")
        code, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
        if not isinstance(code, str) or (code not in ST_DTYPES and code not in ST_NO_NUMPY):
            raise SerializationError(f"{path}: entry '{name}' has unknown dtype {code!r} (known: "
                                     f"{', '.join(list(ST_DTYPES) + list(ST_NO_NUMPY))})")
        if not isinstance(shape, list) or not all(_size(s) for s in shape):
            raise SerializationError(f"{path}: entry '{name}' has shape {json.dumps(shape)}: expected a list of "
                                     f"non-negative integers")
        if not isinstance(offsets, list) or len(offsets) != 2 or not all(_size(o) for o in offsets):
            raise SerializationError(f"{path}: entry '{name}' has data_offsets {json.dumps(offsets)}: expected "
                                     f"[begin, end], two non-negative integers")
        entries.append((name, code, shape, offsets[0], offsets[1]))
    start = 0
    for name, code, shape, b, e in sorted(entries, key=lambda t: (t[3], t[4])):
        if b != start or e < b:
            raise SerializationError(f"{path}: entry '{name}' has data_offsets [{b}, {e}]; the tensors must tile "
                                     f"the data buffer without gaps or overlaps (next free byte: {start})")
        start = e
        bits = math.prod(shape) * (ST_NO_NUMPY.get(code) or numpy.dtype(ST_DTYPES.get(code)).itemsize * 8)
        if bits >= 2**64 or bits % 8:
            raise SerializationError(f"{path}: entry '{name}': shape {shape} of {code} is not a whole number of "
                                     f"bytes that fits in 64 bits")
        if e - b != bits // 8:
            raise SerializationError(f"{path}: entry '{name}' holds {e - b} bytes but shape {shape} of {code} "
                                     f"needs {bits // 8}")
    if start != data_len:
        raise SerializationError(f"{path}: the data buffer has {data_len} bytes but the tensors cover {start} "
                                 f"({'trailing bytes' if data_len > start else 'truncated file'})")
    return entries, meta or {}


def read_safetensors(path, max_bytes=MAX_BYTES):
    """(arrays, metadata) of a .safetensors file. The header is read and checked (as the safetensors package
    does) before any tensor data; then each tensor is read straight into its array."""
    with _open(path) as f:
        size = os.fstat(f.fileno()).st_size
        if size < 8:
            raise SerializationError(f"{path}: truncated safetensors file ({size} bytes, no header length)")
        (n,) = struct.unpack("<Q", f.read(8))
        if n > MAX_HEADER:
            raise SerializationError(f"{path}: safetensors header length {n} is over the format's limit of "
                                     f"{MAX_HEADER} bytes")
        if n > size - 8:
            raise SerializationError(f"{path}: header length {n} runs past the end of the file ({size} bytes)")
        try:
            header = strict_json(f.read(n).decode("utf-8"))
        except (UnicodeError, ValueError) as e:
            raise SerializationError(f"{path}: bad safetensors header (not UTF-8 JSON): {e}") from None
        entries, meta = _parse_safetensors_header(path, header, size - 8 - n)
        _limit(path, size - 8 - n, max_bytes)
        arrays = {}
        for name, code, shape, b, e in entries:
            if code in ST_NO_NUMPY:
                raise SerializationError(f"{path}: entry '{name}' has dtype {code}, which NumPy cannot hold")
            a = numpy.empty(shape, dtype=numpy.dtype(ST_DTYPES[code]).newbyteorder("<"))
            f.seek(8 + n + b)
            if f.readinto(a.reshape(-1).view(numpy.uint8)) != e - b:
                raise SerializationError(f"{path}: entry '{name}': the file ended while reading it")
            arrays[name] = a.astype(a.dtype.newbyteorder("="), copy=False)
    return arrays, meta


# ---- npz ----

def _npy_member(path, name, blob):
    """The array in one .npy member, its header checked against the bytes it has."""
    from numpy.lib import format as npy
    import io
    f = io.BytesIO(blob)
    try:
        version = npy.read_magic(f)
        reader = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
        shape, fortran, dtype = reader(f)
    except Exception as e:  # numpy parses the header dict with ast/tokenize: ValueError, SyntaxError, TokenError...
        raise SerializationError(f"{path}: member '{name}' has a bad .npy header: {e}") from None
    if dtype.hasobject or dtype.kind not in "biufc" or dtype.fields:
        raise SerializationError(f"{path}: member '{name}' holds dtype {dtype}; only numeric and bool arrays are "
                                 f"loaded (object arrays would need pickle)")
    need = math.prod(shape) * dtype.itemsize
    have = len(blob) - f.tell()
    if need != have:
        raise SerializationError(f"{path}: member '{name}' declares shape {shape} of {dtype} = {need} bytes but "
                                 f"holds {have}")
    a = numpy.frombuffer(blob, dtype=dtype, count=math.prod(shape), offset=f.tell())
    a = a.reshape(shape[::-1]).T if fortran else a.reshape(shape)
    return a.astype(dtype.newbyteorder("="), copy=True)


def read_npz(path, max_bytes=MAX_BYTES):
    """{name: array} of an .npz archive: every member a .npy file (no pickle, no object arrays, no duplicate
    names), the archive's declared sizes checked against max_bytes before anything is decompressed."""
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
            names = [i.filename for i in infos]
            if any(n.endswith(".pkl") for n in names):
                raise SerializationError(f"{path}: {TORCH_REFUSAL}")
            for n in names:
                if not n.endswith(".npy") or n.endswith("/"):
                    raise SerializationError(f"{path}: member '{n}' is not a .npy array (an .npz holds only .npy "
                                             f"files)")
                if names.count(n) > 1:
                    raise SerializationError(f"{path}: member '{n}' appears {names.count(n)} times")
            _limit(path, sum(i.file_size for i in infos), max_bytes, "its members")
            return {i.filename[:-4]: _npy_member(path, i.filename, z.read(i)) for i in infos}
    except SerializationError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError, NotImplementedError,
            RuntimeError, zlib.error, struct.error, KeyError, IndexError) as e:
        # a truncated or corrupt archive or deflate stream, a bad CRC, encryption, an unknown compression
        raise SerializationError(f"{path}: not a readable .npz archive ({type(e).__name__}: {e})") from None


# ---- which format ----

def _open(path):
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise MissingFileError(2, f"{path}: no such file") from None
    except OSError as e:   # a folder, no permission, ...
        raise SerializationError(f"{path}: cannot be read: {e.strerror or e}") from None


def sniff(path):
    """'npz', 'safetensors' or 'torch' (a PyTorch pickle checkpoint), from the file's first bytes and name."""
    with _open(path) as f:
        head = f.read(9)
        size = os.fstat(f.fileno()).st_size
    if not head:
        raise SerializationError(f"{path}: empty file")
    if head[:4] == b"PK\x03\x04":
        return "npz"   # read_npz refuses a zip holding .pkl members: torch.save's format
    if len(head) == 9 and head[8:] in b"{ \t\n\r" and struct.unpack("<Q", head[:8])[0] <= size - 8:
        return "safetensors"   # a header length that fits the file, then JSON
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05") or \
            os.path.splitext(str(path))[1].lower() in (".pt", ".pth", ".ckpt", ".bin", ".pkl"):
        return "torch"  # pickle protocol 2+ (torch's legacy format), or a PyTorch file name that is not a zip
    if head[:6] == b"\x93NUMPY":
        raise SerializationError(f"{path}: a single .npy array, not a checkpoint; read it with numpy.load, or save "
                                 f"a dict of arrays with numpy.savez")
    return "safetensors"
