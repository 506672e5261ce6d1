"""The IDX format of (Fashion-)MNIST: read (raw or .gz) with every header field checked, and write.

Layout: magic = 0x00 0x00 <type> <ndim>, then ndim big-endian uint32 sizes, then the data, big-endian, row-major.
Types: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64.
"""
import gzip
import math
import os
import struct
import zlib

import numpy

TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_CODES = {numpy.dtype(v).newbyteorder("="): k for k, v in TYPES.items()}


MAX_BYTES = 2**30   # default limit on the data read_idx returns (1 GiB; Fashion-MNIST's largest file is 47 MB)


class IDXError(ValueError):
    """An IDX file that cannot be read as one: the message names the file and what was wrong."""


class IDXMissingError(IDXError, FileNotFoundError):
    """The IDX file does not exist (also a FileNotFoundError)."""


def _open(path):
    """(binary stream, whether it is gzip-compressed); the stream decompresses as it is read."""
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        raise IDXMissingError(2, f"{path}: no such file") from None
    except OSError as e:
        raise IDXError(f"{path}: cannot be read: {e.strerror or e}") from None
    gz = f.read(2) == b"\x1f\x8b"
    f.seek(0)
    return (gzip.GzipFile(fileobj=f, mode="rb"), f) if gz else (f, f)


def _read(f, n, path, what):
    try:
        data = f.read(n)
    except (OSError, EOFError, zlib.error) as e:  # a truncated or corrupt gzip stream
        raise IDXError(f"{path}: corrupt or truncated gzip data while reading {what} ({e})") from None
    if len(data) < n:
        raise IDXError(f"{path}: truncated: {what} needs {n} bytes, the file has {len(data)}")
    return data


def read_idx(path, ndim=None, max_bytes=MAX_BYTES):
    """The array stored in an IDX file, raw or gzip-compressed (`ndim`, if given, is checked: 3 for images, 1 for
    labels). The header is checked before the data is decompressed, exactly the declared size is read (never
    more), and a declared size over `max_bytes` (default MAX_BYTES = 1 GiB) is refused. Raises IDXError."""
    path = os.fspath(path)
    f, raw = _open(path)
    with raw, f:
        blob = _read(f, 4, path, "the magic number")
        magic = struct.unpack(">I", blob)[0]
        zero, code, dims = blob[:2], blob[2], blob[3]
        if zero != b"\x00\x00" or code not in TYPES or dims == 0:
            want = f"0x{0x0800 + (ndim or 3):08x}" if ndim else "0x000008NN (NN = number of dimensions)"
            raise IDXError(f"not an IDX file: {path}: magic 0x{magic:08x}, expected {want}")
        if ndim is not None and dims != ndim:
            raise IDXError(f"{path}: IDX file has {dims} dimension(s), expected {ndim} (magic 0x{magic:08x})")
        shape = struct.unpack(">" + "I" * dims, _read(f, 4 * dims, path, f"the {dims} dimension sizes"))
        dtype = numpy.dtype(TYPES[code])
        need = math.prod(shape) * dtype.itemsize
        if need > max_bytes:
            raise IDXError(f"{path}: header declares shape {shape} = {need} bytes, over max_bytes={max_bytes}")
        if f is raw:
            have = os.fstat(raw.fileno()).st_size - 4 - 4 * dims
            if have != need:
                what = "truncated" if have < need else "has trailing bytes"
                raise IDXError(f"{path}: {what}: header says shape {shape} = {need} bytes of data, found {have}")
        data = _read(f, need, path, f"shape {shape} of {dtype.name}")
        if f is not raw:
            try:
                extra = f.read(1)
            except (OSError, EOFError, zlib.error) as e:
                raise IDXError(f"{path}: corrupt gzip data after the array ({e})") from None
            if extra:
                raise IDXError(f"{path}: has trailing bytes after the {need} bytes of data its header declares")
    return numpy.frombuffer(data, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


def write_idx(path, array, compress=None):
    """Write `array` as IDX (gzip-compressed when `compress` or when path ends in .gz), atomically."""
    array = numpy.asarray(array)
    code = _CODES.get(array.dtype)
    if code is None:
        raise TypeError(f"write_idx: dtype {array.dtype} has no IDX type code")
    payload = bytes([0, 0, code, array.ndim]) + struct.pack(">" + "I" * array.ndim, *array.shape) + \
        array.astype(TYPES[code]).tobytes()
    if compress or (compress is None and str(path).endswith(".gz")):
        payload = gzip.compress(payload, compresslevel=9, mtime=0)
    from ..io import atomic_write
    atomic_write(path, lambda f: f.write(payload))
