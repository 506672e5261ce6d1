"""DataLoader (batches of device tensors, seeded shuffling) and batch transforms as small composable functions.

A transform takes a float32 batch (N, C, H, W) and a numpy Generator and returns a batch; `compose` chains them.
Shuffling and augmentation draw from a generator seeded by (seed, epoch), so epoch e is the same in every run,
which is what makes resuming a training run exact.
"""
import numpy

from .. import backend
from ..creation import tensor


def to_float(images):
    """uint8 (N, H, W) or (N, C, H, W) -> float32 (N, C, H, W) in [0, 1]"""
    x = numpy.asarray(images, dtype=numpy.float32) / 255.0
    return x[:, None] if x.ndim == 3 else x


def normalize(mean, std):
    """x -> (x - mean) / std, per channel"""
    m = numpy.asarray(mean, numpy.float32).reshape(1, -1, 1, 1)
    s = numpy.asarray(std, numpy.float32).reshape(1, -1, 1, 1)
    return lambda x, rng: (x - m) / s


def random_crop(size, padding=0):
    """Pad by `padding` zeros, then cut a random size×size window per image (translation augmentation)."""
    def crop(x, rng):
        n, c, h, w = x.shape
        p = numpy.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
        dy = rng.integers(0, p.shape[2] - size + 1, n)
        dx = rng.integers(0, p.shape[3] - size + 1, n)
        rows = dy[:, None] + numpy.arange(size)           # (n, size)
        cols = dx[:, None] + numpy.arange(size)
        return p[numpy.arange(n)[:, None, None, None], numpy.arange(c)[None, :, None, None],
                 rows[:, None, :, None], cols[:, None, None, :]]
    return crop


def horizontal_flip(p=0.5):
    """Mirror each image left-right with probability p."""
    def flip(x, rng):
        mask = rng.random(len(x)) < p
        x = x.copy()
        x[mask] = x[mask, :, :, ::-1]
        return x
    return flip


def compose(*transforms):
    def run(x, rng):
        for t in transforms:
            x = t(x, rng)
        return x
    return run


class DataLoader:
    """Iterate over (inputs, targets) batches as tensors on `device`.

    Datasets with `images`/`targets` arrays (FashionMNIST, MNIST) are batched with one fancy-index per batch;
    any other dataset is indexed item by item and stacked.

    sampler: an iterable of indices (e.g. scratchnet.distributed.DistributedSampler) instead of shuffle.
    shard=(rank, world): data parallelism that equals one process exactly. Every rank walks the same global
    batches of `batch_size` (drawn and, with a transform, augmented as one process would) and yields only its
    contiguous share, rows [m·rank//world, m·(rank+1)//world) of a batch of m (all of it when m < world: layers
    cannot run on an empty batch).
    """

    def __init__(self, dataset, batch_size=64, shuffle=False, drop_last=False, seed=0, transform=None, device=None,
                 sampler=None, shard=None):
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, numpy.integer)) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive integer, got {batch_size!r}" +
                             (" (this DataLoader always batches; PyTorch's batch_size=None has no equivalent)"
                              if batch_size is None else ""))
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        if shard is not None and not (len(shard) == 2 and 0 <= shard[0] < shard[1]):
            raise ValueError(f"DataLoader: shard must be (rank, world) with 0 <= rank < world, got {shard}")
        self.dataset, self.batch_size, self.shuffle, self.drop_last = dataset, batch_size, shuffle, drop_last
        self.seed, self.transform, self.device = seed, transform, backend.device(device)
        self.sampler, self.shard = sampler, shard
        self.epoch = 0

    def set_epoch(self, epoch):
        self.epoch = epoch
        if hasattr(self.sampler, "set_epoch"):
            self.sampler.set_epoch(epoch)

    def _num_items(self):
        return len(self.sampler) if self.sampler is not None else len(self.dataset)

    def __len__(self):
        n = self._num_items()
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def global_batch_sizes(self):
        """The size of every global batch of an epoch (before sharding)."""
        n, b = self._num_items(), self.batch_size
        return [min(b, n - s) for s in range(0, n - n % b if self.drop_last else n, b)]

    def _batch(self, idx):
        ds = self.dataset
        if hasattr(ds, "images") and hasattr(ds, "targets") and getattr(ds, "transform", None) is None:
            return ds.images[idx], ds.targets[idx]
        items = [ds[int(i)] for i in idx]
        return numpy.stack([numpy.asarray(a) for a, _ in items]), numpy.asarray([b for _, b in items])

    def __iter__(self):
        rng = numpy.random.default_rng([self.seed, self.epoch])
        if self.sampler is not None:
            order = numpy.fromiter(iter(self.sampler), dtype=numpy.int64)
        else:
            n = len(self.dataset)
            order = rng.permutation(n) if self.shuffle else numpy.arange(n)
        n = len(order)
        stop = n - n % self.batch_size if self.drop_last else n
        for start in range(0, stop, self.batch_size):
            idx = order[start:start + self.batch_size]
            if self.shard is not None:
                # the global batch's random draws are made whole, so they are the same as in one process
                r, w = self.shard
                part = slice(len(idx) * r // w, len(idx) * (r + 1) // w) if len(idx) >= w else slice(None)
                idx = idx if self.transform is not None else idx[part]
            x, y = self._batch(idx)
            x = to_float(x) if x.dtype == numpy.uint8 else numpy.asarray(x, numpy.float32)
            if self.transform is not None:
                x = self.transform(x, rng)
                if self.shard is not None:
                    x, y = x[part], y[part]
            # class labels become int64 (as PyTorch's); float targets (images to restore, regression) float32
            y = numpy.asarray(y)
            y = y.astype(numpy.float32 if y.dtype.kind == "f" else numpy.int64, copy=False)
            yield tensor(x, device=self.device), tensor(y, device=self.device)
        self.epoch += 1
