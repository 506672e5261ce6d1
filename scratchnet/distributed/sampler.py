"""DistributedSampler: each rank's share of every epoch, as in PyTorch (torch.utils.data.DistributedSampler).

The epoch's order is a permutation drawn from (seed, epoch), the same on every rank (set_epoch(e) before each
epoch, or every epoch repeats the first one's order). It is made divisible by the number of replicas, by wrapping
around to its start (padding, so some samples are seen twice) or, with drop_last, by cutting the tail; rank r then
takes every num_replicas-th index starting at r. The shards are disjoint (up to the padding) and equally long, so
every rank runs the same number of steps and no rank waits forever in a collective.
"""
import numpy

from . import rank as _rank, world_size as _world_size


class DistributedSampler:
    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0, drop_last=False):
        num_replicas = _world_size() if num_replicas is None else num_replicas
        rank = _rank() if rank is None else rank
        if num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be >= 1, got {num_replicas}")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]")
        self.dataset, self.num_replicas, self.rank = dataset, num_replicas, rank
        self.shuffle, self.seed, self.drop_last, self.epoch = shuffle, seed, drop_last, 0
        n = len(dataset)
        self.num_samples = n // num_replicas if drop_last else -(-n // num_replicas)
        self.total_size = self.num_samples * num_replicas

    def set_epoch(self, epoch):
        """Reshuffle: the order of epoch e is drawn from (seed, e), so every rank draws the same one."""
        self.epoch = epoch

    def indices(self):
        """This rank's indices for the current epoch (a NumPy array of num_samples ints)."""
        n = len(self.dataset)
        order = numpy.random.default_rng([self.seed, self.epoch]).permutation(n) if self.shuffle else numpy.arange(n)
        if self.drop_last:
            order = order[:self.total_size]
        elif self.total_size > n:
            order = numpy.resize(order, self.total_size)   # wrap around as often as needed (n may be < replicas)
        return order[self.rank:self.total_size:self.num_replicas]

    def __iter__(self):
        return iter(self.indices().tolist())

    def __len__(self):
        return self.num_samples
