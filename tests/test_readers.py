"""Strict file readers: safetensors interop and agreement with the reference `safetensors` package (a fuzz of
mutated files), .npz without pickle, IDX checked before decompression, bounded memory, PyTorch files refused.
Every failure must be the documented error type and name the file."""
import gzip
import io
import json
import os
import pickle
import struct
import zipfile

import numpy
import pytest

import scratchnet as sn
from scratchnet.data import FashionMNIST, IDXError, read_idx, write_idx
from scratchnet.io import SerializationError

st = pytest.importorskip("safetensors.numpy", reason="safetensors (a test extra) is the reference")

FUZZ_N = int(os.environ.get("SCRATCHNET_FUZZ_N", "3000"))   # `make fuzz` runs many more


def _reference(path):
    """The package's verdict: its arrays, or None when it refuses the file."""
    try:
        return st.load_file(str(path))
    except Exception:  # SafetensorError, and TypeError/AttributeError for dtypes NumPy lacks
        return None


def _ours(path):
    """scratchnet's verdict: its arrays, or None when it refuses with SerializationError naming the file."""
    try:
        out = sn.io.load(path)
    except SerializationError as e:
        assert os.path.basename(str(path)) in str(e), f"error does not name the file: {e}"
        return None
    return {k: v.numpy() for k, v in out.items()}


def _raw(header_bytes, data=b""):
    return struct.pack("<Q", len(header_bytes)) + header_bytes + data


def _has_duplicate_keys(header_bytes):
    """True when the header's JSON repeats a key in some object: scratchnet refuses that on purpose (the issue
    asks for it), where the package keeps the last value."""
    dup = []

    def hook(pairs):
        keys = [k for k, _ in pairs]
        dup.extend(k for k in keys if keys.count(k) > 1)
        return dict(pairs)
    try:
        json.loads(header_bytes.decode("utf-8", "replace"), object_pairs_hook=hook)
    except Exception:
        return False
    return bool(dup)


def _agree(path, blob):
    path.write_bytes(blob)
    ref, ours = _reference(path), _ours(path)
    n = struct.unpack("<Q", blob[:8])[0] if len(blob) >= 8 else 0
    if ref is not None and ours is None and _has_duplicate_keys(blob[8:8 + n]):
        return "stricter"
    assert (ref is None) == (ours is None), f"package {'accepts' if ref is not None else 'refuses'}, scratchnet " \
                                            f"{'accepts' if ours is not None else 'refuses'}: {blob[:300]!r}"
    if ref is not None:
        assert set(ref) == set(ours)
        for k in ref:
            assert ref[k].dtype == ours[k].dtype and ref[k].shape == ours[k].shape, k
            assert ref[k].tobytes() == ours[k].tobytes(), k
    return "agree"


DTYPES = ["float64", "float32", "float16", "int64", "int32", "int16", "int8", "uint64", "uint32", "uint16", "uint8",
          "bool", "complex64"]


def test_files_written_by_the_package_load_in_scratchnet(tmp_path):
    rng = numpy.random.default_rng(0)
    arrays = {f"t.{dt}": (rng.standard_normal((2, 3)) * 50).astype(dt) for dt in DTYPES}
    arrays["scalar"], arrays["empty"] = numpy.array(3.5, numpy.float32), numpy.zeros((0, 4), numpy.float32)
    path = tmp_path / "ref.safetensors"
    st.save_file(arrays, str(path), metadata={"format": "np", "note": "é"})
    got = sn.io.load(path)
    assert set(got) == set(arrays)
    for k, a in arrays.items():
        assert got[k].dtype == a.dtype and got[k].shape == a.shape
        numpy.testing.assert_array_equal(got[k].numpy(), a)


def test_files_written_by_scratchnet_load_in_the_package(tmp_path):
    state = {"w": sn.randn(3, 4), "b": sn.zeros(4, dtype="float64"), "step": 7, "n": {"k": sn.ones(2)}}
    path = tmp_path / "ours.safetensors"
    sn.save(state, path)
    ref = st.load_file(str(path))
    numpy.testing.assert_array_equal(ref["w"], state["w"].numpy())
    numpy.testing.assert_array_equal(ref["n/k"], [1, 1])
    from safetensors import safe_open
    with safe_open(str(path), "np") as f:
        assert json.loads(f.metadata()["__structure__"])   # scratchnet's nesting, as a string-to-string entry


def _header(**tensors):
    return json.dumps(tensors).encode()


T = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}
CASES = {
    "valid": _raw(_header(a=T), bytes(8)),
    "trailing bytes": _raw(_header(a=T), bytes(9)),
    "gap": _raw(_header(a={**T, "shape": [1], "data_offsets": [4, 8]}), bytes(8)),
    "overlap": _raw(_header(a=T, b={**T, "shape": [1], "data_offsets": [4, 8]}), bytes(8)),
    "listed out of order": _raw(_header(b={**T, "shape": [1], "data_offsets": [4, 8]},
                                        a={**T, "shape": [1], "data_offsets": [0, 4]}), bytes(8)),
    "float offset": _raw(b'{"a":{"dtype":"F32","shape":[2],"data_offsets":[0.0,8]}}', bytes(8)),
    "exponent offset": _raw(b'{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8e0]}}', bytes(8)),
    "bool offset": _raw(b'{"a":{"dtype":"F32","shape":[2],"data_offsets":[false,8]}}', bytes(8)),
    "minus zero offset": _raw(b'{"a":{"dtype":"F32","shape":[2],"data_offsets":[-0,8]}}', bytes(8)),
    "three offsets": _raw(_header(a={**T, "data_offsets": [0, 8, 8]}), bytes(8)),
    "negative dim": _raw(_header(a={**T, "shape": [-2]}), bytes(8)),
    "bool dim": _raw(b'{"a":{"dtype":"F32","shape":[true,2],"data_offsets":[0,8]}}', bytes(8)),
    "shape not a list": _raw(_header(a={**T, "shape": 2}), bytes(8)),
    "overflowing shape": _raw(_header(a={**T, "shape": [2**62, 8]}), bytes(8)),
    "unknown dtype": _raw(_header(a={**T, "dtype": "F33"}), bytes(8)),
    "lower-case dtype": _raw(_header(a={**T, "dtype": "f32"}), bytes(8)),
    "bf16 (no NumPy dtype)": _raw(_header(a={**T, "dtype": "BF16", "shape": [4]}), bytes(8)),
    "complex64": _raw(_header(a={**T, "dtype": "C64", "shape": [1]}), bytes(8)),
    "header not UTF-8": _raw(b'{"a\xff":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', bytes(8)),
    "lone surrogate": _raw(b'{"\\ud800":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', bytes(8)),
    "NaN in header": _raw(b'{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":NaN}}', bytes(8)),
    "huge float": _raw(b'{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1e999}}', bytes(8)),
    "too deep": _raw(b'{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":' + b"[" * 126 + b"]" * 126 +
                     b"}}", bytes(8)),
    "deep but allowed": _raw(b'{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":' + b"[" * 125 +
                             b"]" * 125 + b"}}", bytes(8)),
    "metadata not strings": _raw(_header(__metadata__={"x": 1}, a=T), bytes(8)),
    "metadata a list": _raw(_header(__metadata__=["x"], a=T), bytes(8)),
    "metadata null": _raw(_header(__metadata__=None, a=T), bytes(8)),
    "extra field": _raw(_header(a={**T, "extra": [1, {"y": None}]}), bytes(8)),
    "missing field": _raw(_header(a={"dtype": "F32", "shape": [2]}), bytes(8)),
    "entry not an object": _raw(b'{"a":1}'),
    "header a list": _raw(b"[]"),
    "empty header": _raw(b""),
    "whitespace around": _raw(b' \t\n{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}   ', bytes(8)),
    "NUL padding": _raw(b'{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}\x00\x00', bytes(8)),
    "no tensors": _raw(b"{}"),
    "empty tensors share an offset": _raw(_header(a={**T, "shape": [0], "data_offsets": [0, 0]},
                                                  b={**T, "shape": [0, 3], "data_offsets": [0, 0]})),
    "header length too large": struct.pack("<Q", 2**40) + b"{}",
    "header length past the end": struct.pack("<Q", 100) + b"{}",
    "too short": b"\x01\x02",
    "repeated field": _raw(b'{"a":{"dtype":"F32","dtype":"F32","shape":[2],"data_offsets":[0,8]}}', bytes(8)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_agrees_with_the_package(tmp_path, name):
    assert _agree(tmp_path / "case.safetensors", CASES[name]) == "agree"


def test_duplicate_names_are_refused(tmp_path):
    path = tmp_path / "dup.safetensors"
    path.write_bytes(_raw(b'{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
                          b'"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', bytes(8)))
    with pytest.raises(SerializationError, match="dup.safetensors.*duplicate key 'a'"):
        sn.io.load(path)


def _valid_file(rng):
    """A random valid file written by the package: a few tensors of random dtypes and shapes, maybe metadata."""
    arrays = {}
    for i in range(int(rng.integers(0, 4))):
        dt = DTYPES[int(rng.integers(len(DTYPES)))]
        shape = tuple(int(s) for s in rng.integers(0, 4, size=int(rng.integers(0, 3))))
        arrays[f"t{i}"] = numpy.asarray(rng.standard_normal(shape) * 9).astype(dt)
    meta = {"k": "v"} if rng.random() < 0.3 else None
    return st.save(arrays, metadata=meta)


JSON_VALUES = [0, 1, 8, -1, -0.0, 1.5, 2**64, True, None, "F32", "BF16", "", [], [0], [0, 8], [2], [0, 0], {},
               {"x": "y"}, [1, 2, 3]]


def _mutate(blob, rng):
    """One of: flip bytes, cut, append, insert; parse the header and change one field to another JSON value; or
    (valid) keep the file, list the header's entries in another order, or add a field and padding."""
    blob = bytearray(blob)
    n = struct.unpack("<Q", bytes(blob[:8]))[0]
    kind = int(rng.integers(9))
    if kind in (6, 7, 8):
        header = json.loads(bytes(blob[8:8 + n]))
        keys = list(header)
        if kind == 7:
            keys = [keys[i] for i in rng.permutation(len(keys))]
        elif kind == 8:
            for k in keys:
                if k != "__metadata__":
                    header[k]["comment"] = [1, {"x": None}]
        raw = json.dumps({k: header[k] for k in keys}).encode() + b" " * int(rng.integers(0, 9))
        return struct.pack("<Q", len(raw)) + raw + bytes(blob[8 + n:])
    if kind == 0 and blob:
        for _ in range(int(rng.integers(1, 4))):
            blob[int(rng.integers(len(blob)))] = int(rng.integers(256))
    elif kind == 1:
        blob = blob[:int(rng.integers(len(blob) + 1))]
    elif kind == 2:
        blob += bytes(rng.integers(0, 256, int(rng.integers(1, 9)), dtype=numpy.uint8))
    elif kind == 3:
        at = int(rng.integers(8, len(blob) + 1))
        blob[at:at] = bytes(rng.integers(0, 256, int(rng.integers(1, 5)), dtype=numpy.uint8))
    else:
        header = json.loads(bytes(blob[8:8 + n]))
        names = [k for k in header if k != "__metadata__"] or ["__metadata__"]
        name = names[int(rng.integers(len(names)))]
        value = JSON_VALUES[int(rng.integers(len(JSON_VALUES)))]
        if name == "__metadata__" or kind == 5:
            header[name] = value
        else:
            entry = dict(header[name]) if isinstance(header.get(name), dict) else {}
            field = ["dtype", "shape", "data_offsets"][int(rng.integers(3))]
            if isinstance(entry.get(field), list) and entry[field] and rng.random() < 0.5:
                entry[field] = list(entry[field])
                entry[field][int(rng.integers(len(entry[field])))] = value
            else:
                entry[field] = value
            header[name] = entry
        raw = json.dumps(header).encode()
        blob = bytearray(struct.pack("<Q", len(raw)) + raw) + blob[8 + n:]
    return bytes(blob)


def test_fuzz_agrees_with_the_package(tmp_path):
    """FUZZ_N mutated files (SCRATCHNET_FUZZ_N; `make fuzz` runs 100,000): both libraries accept the same files
    with the same tensors, and scratchnet only ever raises SerializationError."""
    rng = numpy.random.default_rng(2026)
    path = tmp_path / "fuzz.safetensors"
    verdicts = {"agree": 0, "stricter": 0}
    accepted = 0
    for _ in range(FUZZ_N):
        blob = _mutate(_valid_file(rng), rng)
        verdicts[_agree(path, blob)] += 1
        accepted += _reference(path) is not None
    assert verdicts["agree"] == FUZZ_N, verdicts
    assert 0.2 * FUZZ_N < accepted < 0.8 * FUZZ_N, "the mutations should give both valid and invalid files"


# ---- .npz ----

def _zip(path, members, compress=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compress) as z:
        for name, data in members:
            z.writestr(name, data)


def _npy(a):
    buf = io.BytesIO()
    numpy.save(buf, a)
    return buf.getvalue()


@pytest.mark.filterwarnings("ignore:Duplicate name")   # zipfile warns when the test writes the duplicate
def test_npz_members_must_be_npy_arrays_without_pickle(tmp_path):
    cases = {
        "other.npz": ([("a.npy", _npy(numpy.ones(2))), ("notes.txt", b"hi")], "member 'notes.txt' is not a .npy"),
        "dup.npz": ([("a.npy", _npy(numpy.ones(2))), ("a.npy", _npy(numpy.ones(3)))], "'a.npy' appears 2 times"),
        "obj.npz": ([("a.npy", _npy(numpy.array([{"x": 1}], dtype=object)))], "object arrays would need pickle"),
        "header.npz": ([("a.npy", b"\x93NUMPY\x01\x00\x10\x00{'descr': '<f8',}    \n")], "bad .npy header"),
        "magic.npz": ([("a.npy", b"not an npy file at all")], "bad .npy header"),
        "short.npz": ([("a.npy", _npy(numpy.ones(100))[:-8])], r"declares shape \(100,\) .* = 800 bytes but holds 792"),
        "long.npz": ([("a.npy", _npy(numpy.ones(2)) + b"x")], "holds 17"),
        "strings.npz": ([("a.npy", _npy(numpy.array(["a"])))], "only numeric and bool"),
    }
    for name, (members, match) in cases.items():
        _zip(tmp_path / name, members)
        with pytest.raises(SerializationError, match=f"{name}.*{match}"):
            sn.io.load(tmp_path / name)


def test_npz_written_by_numpy_loads(tmp_path):
    a, b = numpy.arange(6.0).reshape(2, 3), numpy.asfortranarray(numpy.arange(6, dtype=numpy.int32).reshape(2, 3))
    numpy.savez_compressed(tmp_path / "c.npz", a=a, b=b, c=numpy.array(True))
    got = sn.io.load(tmp_path / "c.npz")
    numpy.testing.assert_array_equal(got["a"].numpy(), a)
    numpy.testing.assert_array_equal(got["b"].numpy(), b)
    assert got["c"].numpy().dtype == bool


def test_decompression_bomb_is_refused_before_decompressing(tmp_path):
    import tracemalloc
    bomb = tmp_path / "bomb.npz"
    numpy.savez_compressed(bomb, a=numpy.zeros(2**27, numpy.uint8))    # 128 MiB of zeros in ~130 KB
    assert os.path.getsize(bomb) < 2**20
    tracemalloc.start()
    with pytest.raises(SerializationError, match=r"bomb.npz: its members would take \d+ bytes, over max_bytes"):
        sn.io.load(bomb, max_bytes=2**24)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 2**22, f"refusing took {peak} bytes"
    assert sn.io.load(bomb, max_bytes=2**28)["a"].shape == (2**27,)


def test_pytorch_checkpoints_are_refused_and_never_unpickled(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))
    message = "PyTorch pickle checkpoints are not loaded; convert it with tools/convert_torch_weights.py"
    (tmp_path / "legacy.pt").write_bytes(pickle.dumps({"w": Evil()}, protocol=2))
    _zip(tmp_path / "zipped.pth", [("archive/data.pkl", pickle.dumps(Evil())), ("archive/version", b"3")])
    (tmp_path / "renamed.safetensors").write_bytes(pickle.dumps([1, 2], protocol=4))
    for name in ("legacy.pt", "zipped.pth", "renamed.safetensors"):
        with pytest.raises(SerializationError, match=f"{name}: {message}"):
            sn.io.load(tmp_path / name)
    assert not marker.exists()


def test_real_torch_save_is_refused(tmp_path):
    torch = pytest.importorskip("torch")
    torch.save({"w": torch.ones(2)}, tmp_path / "model.pt")
    with pytest.raises(SerializationError, match="model.pt: PyTorch pickle checkpoints are not loaded"):
        sn.io.load(tmp_path / "model.pt")


def test_missing_empty_and_folder_paths(tmp_path):
    with pytest.raises(SerializationError, match="nope.npz: no such file") as e:
        sn.io.load(tmp_path / "nope.npz")
    assert isinstance(e.value, FileNotFoundError)
    (tmp_path / "empty.npz").write_bytes(b"")
    with pytest.raises(SerializationError, match="empty.npz: empty file"):
        sn.io.load(tmp_path / "empty.npz")
    with pytest.raises(SerializationError, match="cannot be read"):
        sn.io.load(tmp_path)


@pytest.mark.parametrize("structure", [b"[1, 2]", b'{"__tensor__": 3}', b'{"__eval__": "x"}', b"{bad json",
                                       b'{"__dict__": [["a"]]}', b'{"__tensor__": "missing"}'])
def test_a_structure_entry_that_is_not_scratchnets_is_refused(tmp_path, structure):
    path = tmp_path / "s.npz"
    numpy.savez(path, a=numpy.ones(2), __structure__=numpy.frombuffer(structure, numpy.uint8))
    with pytest.raises(SerializationError, match="s.npz"):
        sn.io.load(path)
    st.save_file({"a": numpy.ones(2)}, str(tmp_path / "s.safetensors"), metadata={"__structure__": structure.decode()})
    with pytest.raises(SerializationError, match="s.safetensors"):
        sn.io.load(tmp_path / "s.safetensors")


def test_npz_fuzz_raises_only_serialization_error(tmp_path):
    rng = numpy.random.default_rng(7)
    good = tmp_path / "good.npz"
    sn.save({"w": sn.randn(3, 4), "meta": {"step": 3}}, good)
    numpy.savez_compressed(tmp_path / "c.npz", a=numpy.arange(50.0))
    blobs = [good.read_bytes(), (tmp_path / "c.npz").read_bytes()]
    path = tmp_path / "fuzz.npz"
    for i in range(FUZZ_N // 3):
        blob = bytearray(blobs[i % 2])
        for _ in range(int(rng.integers(1, 4))):
            blob[int(rng.integers(len(blob)))] = int(rng.integers(256))
        path.write_bytes(bytes(blob[:int(rng.integers(len(blob) // 2, len(blob) + 1))]))
        try:
            sn.io.load(path)
        except SerializationError as e:
            assert "fuzz.npz" in str(e)


# ---- IDX ----

def test_idx_header_is_checked_before_decompressing(tmp_path):
    path = tmp_path / "huge.idx.gz"
    # a header declaring 4 G images of 28×28, then a gzip bomb: refused from the header alone
    path.write_bytes(gzip.compress(b"\x00\x00\x08\x03" + struct.pack(">III", 2**32 - 1, 28, 28) + bytes(2**24)))
    with pytest.raises(IDXError, match=r"huge.idx.gz: header declares shape \(4294967295, 28, 28\)"):
        read_idx(path, 3)
    extra = tmp_path / "extra.idx.gz"
    extra.write_bytes(gzip.compress(b"\x00\x00\x08\x01" + struct.pack(">I", 4) + bytes(4) + bytes(2**20)))
    with pytest.raises(IDXError, match="extra.idx.gz: has trailing bytes"):
        read_idx(extra, 1)
    short = tmp_path / "short.idx.gz"
    short.write_bytes(gzip.compress(b"\x00\x00\x08\x01" + struct.pack(">I", 40) + bytes(4)))
    with pytest.raises(IDXError, match=r"short.idx.gz: truncated: shape \(40,\) of uint8 needs 40 bytes"):
        read_idx(short, 1)
    missing = tmp_path / "missing.idx"
    with pytest.raises(IDXError, match="missing.idx: no such file") as e:
        read_idx(missing)
    assert isinstance(e.value, FileNotFoundError)


def _dataset(folder, images, labels):
    os.makedirs(folder, exist_ok=True)
    for split in (("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
                  ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")):
        write_idx(os.path.join(folder, split[0]), images)
        write_idx(os.path.join(folder, split[1]), labels)
    return folder


@pytest.mark.parametrize("images, labels, match", [
    (numpy.zeros((3, 28, 28), numpy.int8), numpy.zeros(3, numpy.uint8), r"images must be uint8 28×28.*got int8"),
    (numpy.zeros((3, 32, 32), numpy.uint8), numpy.zeros(3, numpy.uint8), r"images must be uint8 28×28.*\(32, 32\)"),
    (numpy.zeros((3, 28, 28), numpy.uint8), numpy.array([0, 10, 2], numpy.uint8), r"labels must be 0..9, found 10"),
    (numpy.zeros((3, 28, 28), numpy.uint8), numpy.zeros(3, numpy.int32), "labels must be uint8"),
    (numpy.zeros((3, 28, 28), numpy.uint8), numpy.zeros(2, numpy.uint8), "3 images .* but 2 labels"),
])
def test_dataset_files_of_the_wrong_kind_are_refused(tmp_path, images, labels, match):
    folder = _dataset(str(tmp_path / "d"), images, labels)
    with pytest.raises(IDXError, match=match):
        FashionMNIST(root=folder, train=True)


def test_idx_fuzz_raises_only_idx_error(tmp_path):
    rng = numpy.random.default_rng(3)
    src = tmp_path / "src.idx.gz"
    write_idx(src, rng.integers(0, 255, (5, 28, 28), dtype=numpy.uint8))
    raw = gzip.decompress(src.read_bytes())
    path = tmp_path / "fuzz.idx"
    for i in range(FUZZ_N // 3):
        blob = bytearray(raw if i % 2 else src.read_bytes())
        for _ in range(int(rng.integers(1, 3))):
            blob[int(rng.integers(min(len(blob), 64)))] = int(rng.integers(256))
        path.write_bytes(bytes(blob[:int(rng.integers(len(blob) // 2, len(blob) + 1))]))
        try:
            read_idx(path)
        except IDXError as e:
            assert "fuzz.idx" in str(e)
