"""The IDX format of (Fashion-)MNIST: read (raw or .gz) with every header field checked, and write.

Layout: magic = 0x00 0x00 <type> <ndim>, then ndim big-endian uint32 sizes, then the data, big-endian, row-major.
Types: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64.
"""
import gzip
import os
import struct
import zlib

import numpy

TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_CODES = {numpy.dtype(v).newbyteorder("="): k for k, v in TYPES.items()}


class IDXError(ValueError):
    """An IDX file that cannot be read as one: the message names the file and what was wrong."""


def _raw_bytes(path):
    with open(path, "rb") as f:
        head = f.read(2)
    if head == b"\x1f\x8b":
        try:
            with gzip.open(path, "rb") as f:
                return f.read()
        except (OSError, EOFError, zlib.error) as e:  # truncated or corrupt gzip stream
            raise IDXError(f"{path}: corrupt or truncated gzip data ({e})") from None
    with open(path, "rb") as f:
        return f.read()


def read_idx(path, ndim=None):
    """The array stored in an IDX file (`ndim`, if given, is checked: 3 for images, 1 for labels)."""
    path = os.fspath(path)
    blob = _raw_bytes(path)
    if len(blob) < 4:
        raise IDXError(f"{path}: not an IDX file: only {len(blob)} bytes")
    magic = struct.unpack(">I", blob[:4])[0]
    zero, code, dims = blob[:2], blob[2], blob[3]
    if zero != b"\x00\x00" or code not in TYPES or dims == 0:
        want = f"0x{0x0800 + (ndim or 3):08x}" if ndim else "0x000008NN (NN = number of dimensions)"
        raise IDXError(f"not an IDX file: {path}: magic 0x{magic:08x}, expected {want}")
    if ndim is not None and dims != ndim:
        raise IDXError(f"{path}: IDX file has {dims} dimension(s), expected {ndim} (magic 0x{magic:08x})")
    if len(blob) < 4 + 4 * dims:
        raise IDXError(f"{path}: truncated IDX header ({len(blob)} bytes for {dims} dimension sizes)")
    shape = struct.unpack(">" + "I" * dims, blob[4:4 + 4 * dims])
    dtype = numpy.dtype(TYPES[code])
    need = int(numpy.prod(shape, dtype=numpy.int64)) * dtype.itemsize
    have = len(blob) - 4 - 4 * dims
    if have != need:
        what = "truncated" if have < need else "has trailing bytes"
        raise IDXError(f"{path}: {what}: header says shape {shape} = {need} bytes of data, found {have}")
    return numpy.frombuffer(blob, dtype=dtype, offset=4 + 4 * dims).reshape(shape).astype(dtype.newbyteorder("="))


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
