"""MNIST-style datasets that find their files: root=, $SCRATCHNET_DATA, the cache, Debian's package, a verified
download, and last the sample bundled with scratchnet (so everything runs offline on a fresh machine)."""
import hashlib
import os
import urllib.request
import zlib

import numpy

from .idx import IDXError, read_idx

FILES = {True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
         False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


class DatasetSpec:
    def __init__(self, name, classes, urls, sha256, debian_dir=None, bundled_dir=None):
        self.name, self.classes, self.urls, self.sha256 = name, classes, urls, sha256
        self.debian_dir, self.bundled_dir = debian_dir, bundled_dir

    def class_index(self, name):
        """Index of a class given by name ("sneaker", "T-shirt", "ankle boot"), either half of "T-shirt/top", or
        index; ValueError listing the classes otherwise."""
        key = str(name).lower().replace("-", " ").strip()
        for i, c in enumerate(self.classes):
            c = c.lower().replace("-", " ")
            if key in (c, str(i)) or key in c.split("/"):
                return i
        raise ValueError(f"unknown class {name!r}: choose from {', '.join(self.classes)}")


FASHION = DatasetSpec(
    "fashion-mnist",
    ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"],
    ["https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
     "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
    # SHA-256 of the decompressed IDX files (mirrors recompress the .gz, the data is the same)
    {"train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
     "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
     "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
     "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"},
    debian_dir="/usr/share/datasets/fashion-mnist",
    bundled_dir=os.path.join(os.path.dirname(__file__), "fashion_mnist_sample"))

# No verified SHA-256 is recorded for MNIST yet, so it is never downloaded: point root= or $SCRATCHNET_DATA at it.
MNIST_SPEC = DatasetSpec("mnist", [str(i) for i in range(10)], [], {}, debian_dir="/usr/share/datasets/mnist")


class DataError(RuntimeError):
    """No usable copy of a dataset could be found or fetched."""


def _find(folder, stem):
    for name in (stem + ".gz", stem, stem.replace("-idx", ".idx")):
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            return path
    return None


def _sha256_of_payload(path):
    import gzip
    opener = gzip.open if open(path, "rb").read(2) == b"\x1f\x8b" else open
    h = hashlib.sha256()
    with opener(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def download(url, dest, sha256=None, timeout=30):
    """Fetch url to dest: into dest.part (resumed with an HTTP Range request if a previous run left one), checked
    against the SHA-256 of its decompressed payload, then renamed into place. A bad file is deleted and refused."""
    part = dest + ".part"
    have = os.path.getsize(part) if os.path.exists(part) else 0
    req = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        mode = "ab" if have and resp.status == 206 else "wb"  # a server that ignores Range sends it all again
        with open(part, mode) as f:
            for chunk in iter(lambda: resp.read(1 << 20), b""):
                f.write(chunk)
    if sha256 is not None:
        try:
            got = _sha256_of_payload(part)
        except (OSError, EOFError, zlib.error) as e:
            os.remove(part)
            raise DataError(f"download of {url} is corrupt ({e}); deleted, run again to refetch") from None
        if got != sha256:
            os.remove(part)
            raise DataError(f"download of {url} has SHA-256 {got}, expected {sha256}; deleted, run again")
    os.replace(part, dest)
    return dest


class MNISTLike:
    """Images (N, 28, 28) uint8 and labels (N,) int64 of one split; `source` says where they came from."""

    spec = FASHION

    def __init__(self, root=None, train=True, download=True, transform=None, base_urls=None):
        self.train, self.transform = train, transform
        self.classes = self.spec.classes
        self.source, self.folder = self._locate(root, download, base_urls)
        img, lab = FILES[train]
        self.images, self.targets = self._check(_find(self.folder, img), _find(self.folder, lab))

    def _check(self, img_path, lab_path):
        """The images and labels, refused unless they are what the dataset is: uint8 28×28 images, uint8 labels
        below the number of classes, as many of each."""
        images, labels = read_idx(img_path, 3), read_idx(lab_path, 1)
        name, k = self.spec.name, len(self.classes)
        if images.dtype != numpy.uint8 or images.shape[1:] != (28, 28):
            raise IDXError(f"{img_path}: {name} images must be uint8 28×28 (IDX type 0x08), got "
                           f"{images.dtype} {images.shape[1:]}")
        if labels.dtype != numpy.uint8:
            raise IDXError(f"{lab_path}: {name} labels must be uint8 (IDX type 0x08), got {labels.dtype}")
        if labels.size and labels.max() >= k:
            raise IDXError(f"{lab_path}: {name} labels must be 0..{k - 1}, found {int(labels.max())}")
        if len(images) != len(labels):
            raise IDXError(f"{self.folder}: {len(images)} images in {img_path} but {len(labels)} labels in {lab_path}")
        return images, labels.astype(numpy.int64)

    def _candidates(self, root):
        if root is not None:
            yield "root", os.fspath(root)
            return
        env = os.environ.get("SCRATCHNET_DATA")
        if env:
            yield "SCRATCHNET_DATA", os.path.join(env, self.spec.name)
            yield "SCRATCHNET_DATA", env
        yield "cache", self.cache_dir()
        if self.spec.debian_dir:
            yield "debian", self.spec.debian_dir

    def cache_dir(self):
        return os.path.join(os.path.expanduser("~"), ".cache", "scratchnet", self.spec.name)

    def _complete(self, folder):
        return folder and all(_find(folder, f) for f in FILES[self.train])

    def _locate(self, root, allow_download, base_urls):
        tried = []
        for source, folder in self._candidates(root):
            if self._complete(folder):
                return source, folder
            tried.append(folder)
        if root is not None:
            raise DataError(f"{self.spec.name}: no {' and '.join(FILES[self.train])} (.gz) files in root={root}")
        if allow_download:
            try:
                return "download", self._download(base_urls or self.spec.urls)
            except (OSError, DataError) as e:
                tried.append(f"download failed: {e}")
        if self.spec.bundled_dir and self._complete(self.spec.bundled_dir):
            return "bundled", self.spec.bundled_dir
        raise DataError(f"{self.spec.name}: no data found; looked in: " + "; ".join(tried))

    def _download(self, base_urls):
        folder = self.cache_dir()
        os.makedirs(folder, exist_ok=True)
        for stem in FILES[self.train]:
            if _find(folder, stem):
                continue
            if stem not in self.spec.sha256:
                raise DataError(f"{self.spec.name}: no SHA-256 is known for {stem}, so it is not downloaded")
            errors = []
            for base in base_urls:
                try:
                    download(base + stem + ".gz", os.path.join(folder, stem + ".gz"), self.spec.sha256.get(stem))
                    break
                except (OSError, DataError) as e:
                    errors.append(f"{base}: {e}")
            else:
                raise DataError("; ".join(errors))
        return folder

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, i):
        x, y = self.images[i], self.targets[i]
        return (self.transform(x) if self.transform else x), y

    def __repr__(self):
        return (f"{type(self).__name__}(split={'train' if self.train else 'test'}, n={len(self)}, "
                f"source={self.source}: {self.folder})")


class FashionMNIST(MNISTLike):
    spec = FASHION


class MNIST(MNISTLike):
    spec = MNIST_SPEC
