"""save/load: .npz and .safetensors round trips, atomic writes, and clear errors for damaged files."""
import json
import os
import struct

import numpy
import pytest

import scratchnet as sn
from scratchnet.io import SerializationError


def _state():
    return {"w": sn.randn(3, 4), "b": sn.zeros(4, dtype="float64"), "steps": 7, "name": "cnn",
            "nested": {"idx": sn.tensor([1, 2, 3]), "lr": 0.1, "betas": (0.9, 0.999), "list": [1, None]}}


@pytest.mark.parametrize("suffix", [".npz", ".safetensors"])
def test_roundtrip(tmp_path, suffix):
    s = _state()
    path = tmp_path / f"ck{suffix}"
    sn.save(s, path)
    back = sn.load(path)
    assert back["steps"] == 7 and back["name"] == "cnn" and back["nested"]["betas"] == (0.9, 0.999)
    assert back["nested"]["list"] == [1, None]
    for k in ("w", "b"):
        assert back[k].dtype == s[k].dtype
        numpy.testing.assert_array_equal(back[k].numpy(), s[k].numpy())
    assert back["nested"]["idx"].dtype == numpy.int64
    assert not [f for f in os.listdir(tmp_path) if ".tmp-" in f]
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask


def test_safetensors_is_the_standard_layout(tmp_path):
    path = tmp_path / "w.safetensors"
    sn.save({"a": sn.tensor(numpy.arange(6, dtype=numpy.float32).reshape(2, 3))}, path)
    blob = path.read_bytes()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    assert header["a"] == {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}
    numpy.testing.assert_array_equal(numpy.frombuffer(blob[8 + n:], "<f4"), numpy.arange(6))


def test_plain_safetensors_without_structure_loads_as_dict(tmp_path):
    path = tmp_path / "plain.safetensors"
    header = json.dumps({"x": {"dtype": "F64", "shape": [2], "data_offsets": [0, 16]}}).encode()
    path.write_bytes(struct.pack("<Q", len(header)) + header + numpy.array([1.5, 2.5]).tobytes())
    out = sn.load(path)
    assert list(out) == ["x"] and out["x"].tolist() == [1.5, 2.5]


def _write(path, header, data=b""):
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data)


@pytest.mark.parametrize("make, match", [
    (lambda p: p.write_bytes(b"\x01\x02"), "truncated safetensors file"),
    (lambda p: p.write_bytes(struct.pack("<Q", 10 ** 6) + b"{}"), "runs past the end"),
    (lambda p: p.write_bytes(struct.pack("<Q", 5) + b"{bad}"), "bad safetensors header"),
    (lambda p: _write(p, {"x": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, b"\0" * 8),
     r"the data buffer has 8 bytes but the tensors cover 16 \(truncated file\)"),
    (lambda p: _write(p, {"x": {"dtype": "Q99", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4), "unknown dtype"),
    (lambda p: _write(p, {"x": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, b"\0" * 8),
     "holds 8 bytes but shape"),
])
def test_damaged_safetensors_errors(tmp_path, make, match):
    path = tmp_path / "bad.safetensors"
    make(path)
    with pytest.raises(SerializationError, match=match) as e:
        sn.load(path)
    assert "bad.safetensors" in str(e.value)


def test_truncated_npz_and_pickled_npz_are_refused(tmp_path):
    good = tmp_path / "good.npz"
    sn.save(_state(), good)
    cut = tmp_path / "cut.npz"
    cut.write_bytes(good.read_bytes()[:200])
    with pytest.raises(SerializationError, match="cut.npz"):
        sn.load(cut)
    pickled = tmp_path / "pickled.npz"
    numpy.savez(pickled, obj=numpy.array([{"a": 1}], dtype=object))
    with pytest.raises(SerializationError, match="object arrays would need pickle"):
        sn.load(pickled)


def test_failed_write_leaves_old_file(tmp_path):
    path = tmp_path / "ck.npz"
    sn.save({"a": sn.ones(2)}, path)
    with pytest.raises(TypeError, match="cannot store a object"):
        sn.save({"a": object()}, path)
    assert sn.load(path)["a"].tolist() == [1, 1]
    assert not [f for f in os.listdir(tmp_path) if ".tmp-" in f]
