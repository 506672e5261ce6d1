"""IDX reading, dataset lookup (root, bundled, Debian, download from a local server), DataLoader."""
import gzip
import hashlib
import http.server
import os
import threading

import numpy
import pytest

from scratchnet.data import DataLoader, FashionMNIST, IDXError, read_idx, write_idx, random_crop, horizontal_flip
from scratchnet.data import datasets as D


def test_idx_roundtrip_raw_and_gz(tmp_path):
    a = numpy.arange(2 * 3 * 4, dtype=numpy.uint8).reshape(2, 3, 4)
    for name in ("a.idx", "a.idx.gz"):
        write_idx(tmp_path / name, a)
        numpy.testing.assert_array_equal(read_idx(tmp_path / name, 3), a)
    f = numpy.linspace(-1, 1, 6).astype(numpy.float32)
    write_idx(tmp_path / "f.idx", f)
    numpy.testing.assert_array_equal(read_idx(tmp_path / "f.idx"), f)


def test_idx_errors_name_file_and_problem(tmp_path):
    good = tmp_path / "good.idx"
    write_idx(good, numpy.random.default_rng(0).integers(0, 255, (4, 28, 28), dtype=numpy.uint8))
    blob = good.read_bytes()
    (tmp_path / "trunc.idx").write_bytes(blob[:100])
    with pytest.raises(IDXError, match=r"trunc.idx: truncated: header says shape \(4, 28, 28\) = 3136 bytes"):
        read_idx(tmp_path / "trunc.idx", 3)
    (tmp_path / "magic.idx").write_bytes(b"\x89PNG" + blob[4:])  # a PNG header where IDX's should be
    with pytest.raises(IDXError, match=r"not an IDX file: .*magic.idx: magic 0x89504e47, expected 0x00000803"):
        read_idx(tmp_path / "magic.idx", 3)
    (tmp_path / "wrong.idx").write_bytes(b"\x00\x00\x08\x01" + blob[4:])
    with pytest.raises(IDXError, match="1 dimension"):
        read_idx(tmp_path / "wrong.idx", 3)
    (tmp_path / "corrupt.idx.gz").write_bytes(gzip.compress(blob)[:60])
    with pytest.raises(IDXError, match="corrupt.idx.gz: corrupt or truncated gzip"):
        read_idx(tmp_path / "corrupt.idx.gz", 3)


def test_bundled_sample_is_real_and_balanced(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("SCRATCHNET_DATA", raising=False)
    monkeypatch.setattr(D.FASHION, "debian_dir", str(tmp_path / "none"))
    train = FashionMNIST(train=True, download=False)
    test = FashionMNIST(train=False, download=False)
    assert train.source == "bundled" and test.source == "bundled"
    assert train.images.shape == (6000, 28, 28) and test.images.shape == (1000, 28, 28)
    assert numpy.bincount(train.targets).tolist() == [600] * 10
    assert train.images.mean() > 50  # real garments, not blank images


def test_debian_package_path(monkeypatch, tmp_path):
    if not os.path.isdir(D.FASHION.debian_dir):
        if os.environ.get("SCRATCHNET_REQUIRE_DEBIAN_DATA"):
            pytest.fail("dataset-fashion-mnist is not installed, but CI must test the Debian path")
        pytest.skip("Debian's dataset-fashion-mnist is not installed here (apt-get install dataset-fashion-mnist)")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("SCRATCHNET_DATA", raising=False)
    ds = FashionMNIST(train=False, download=False)
    assert ds.source == "debian" and len(ds) == 10000


class _Server:
    """Serves a folder on 127.0.0.1 (Range requests supported) for the download tests."""

    def __init__(self, folder):
        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *a, **k):
                super().__init__(*a, directory=str(folder), **k)

            def log_message(self, *a):
                pass

            def send_head(self):
                rng = self.headers.get("Range")
                path = self.translate_path(self.path)
                if not rng or not os.path.isfile(path):
                    return super().send_head()
                start = int(rng.split("=")[1].split("-")[0])
                data = open(path, "rb").read()[start:]
                self.send_response(206)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                import io
                return io.BytesIO(data)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    """A fake mirror holding small IDX files, with their SHA-256 registered as the expected ones."""
    folder = tmp_path / "mirror"
    folder.mkdir()
    rng = numpy.random.default_rng(0)
    hashes = {}
    for stem, arr in [("t10k-images-idx3-ubyte", rng.integers(0, 255, (20, 28, 28), dtype=numpy.uint8)),
                      ("t10k-labels-idx1-ubyte", rng.integers(0, 10, 20).astype(numpy.uint8))]:
        write_idx(folder / (stem + ".gz"), arr)
        hashes[stem] = hashlib.sha256(gzip.decompress((folder / (stem + ".gz")).read_bytes())).hexdigest()
    monkeypatch.setattr(D.FASHION, "sha256", hashes)
    monkeypatch.setattr(D.FASHION, "debian_dir", str(tmp_path / "none"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SCRATCHNET_DATA", raising=False)
    server = _Server(folder)
    yield server, folder
    server.close()


def test_download_verifies_and_caches(mirror, tmp_path):
    server, _ = mirror
    ds = FashionMNIST(train=False, base_urls=[server.url])
    assert ds.source == "download" and len(ds) == 20
    again = FashionMNIST(train=False, base_urls=["http://127.0.0.1:9/unreachable/"])
    assert again.source == "cache"


def test_download_rejects_corrupted_file_and_falls_back(mirror, tmp_path):
    server, folder = mirror
    path = folder / "t10k-images-idx3-ubyte.gz"
    raw = bytearray(gzip.decompress(path.read_bytes()))
    raw[500] ^= 0xFF  # one flipped byte: still a valid IDX file, but not the published data
    path.write_bytes(gzip.compress(bytes(raw)))
    with pytest.raises(D.DataError, match="SHA-256"):
        D.download(server.url + path.name, str(tmp_path / "x.gz"), D.FASHION.sha256["t10k-images-idx3-ubyte"])
    assert not os.path.exists(tmp_path / "x.gz") and not os.path.exists(tmp_path / "x.gz.part")
    ds = FashionMNIST(train=False, base_urls=[server.url])
    assert ds.source == "bundled"  # the corrupt download was refused; the bundled sample took over


def test_download_resumes_a_partial_file(mirror, tmp_path):
    server, folder = mirror
    name = "t10k-images-idx3-ubyte.gz"
    full = (folder / name).read_bytes()
    dest = tmp_path / name
    (tmp_path / (name + ".part")).write_bytes(full[:1000])
    D.download(server.url + name, str(dest), D.FASHION.sha256["t10k-images-idx3-ubyte"])
    assert dest.read_bytes() == full


def test_dataloader_batches_shuffle_and_augment(monkeypatch, tmp_path):
    monkeypatch.setattr(D.FASHION, "debian_dir", str(tmp_path / "none"))
    monkeypatch.setenv("HOME", str(tmp_path))
    ds = FashionMNIST(train=False, download=False)
    loader = DataLoader(ds, 64, shuffle=True, drop_last=True, seed=3)
    batches = list(loader)
    assert len(batches) == len(loader) == 1000 // 64
    x, y = batches[0]
    assert x.shape == (64, 1, 28, 28) and x.dtype == numpy.float32 and y.dtype == numpy.int64
    assert 0 <= x.numpy().min() and x.numpy().max() <= 1
    loader.set_epoch(0)
    numpy.testing.assert_array_equal(next(iter(loader))[1].numpy(), y.numpy())  # same seed and epoch, same order
    aug = random_crop(28, padding=4)(x.numpy(), numpy.random.default_rng(0))
    assert aug.shape == x.shape and not numpy.array_equal(aug, x.numpy())
    flipped = horizontal_flip(1.0)(x.numpy(), numpy.random.default_rng(0))
    numpy.testing.assert_array_equal(flipped, x.numpy()[..., ::-1])
