"""Data-parallel training on 2+ MPI ranks equals one process at the same global batch (float64, to 1e-10).

Run with `mpiexec -n 2 python -m pytest -m mpi tests/test_mpi.py` (`make test-mpi`; CI does). Every rank runs
each test; tests/mpi_plugin.py makes a failure on any rank a failure on all. The one-process reference is computed
on every rank inside dist.alone().
"""
import os
import tempfile

import numpy
import pytest

import scratchnet as sn
from scratchnet import nn, optim
from scratchnet.rng import sharded_rows
from scratchnet.apps import classify, parallel
from scratchnet.apps.gan import GANRun
from scratchnet.models import build
from scratchnet.ops import conv
import scratchnet.nn.functional as F

pytestmark = pytest.mark.mpi
SAMPLE = os.path.join(os.path.dirname(sn.__file__), "data", "fashion_mnist_sample")


def rows(dist, m):
    return m * dist.rank() // dist.world_size(), m * (dist.rank() + 1) // dist.world_size()


def params(model):
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}


def assert_close(a, b, tol=1e-10):
    assert a.keys() == b.keys()
    for k in a:
        numpy.testing.assert_allclose(a[k], b[k], rtol=0, atol=tol, err_msg=k)


def test_collectives(world):
    dist, r, p = world, world.rank(), world.world_size()
    t = sn.tensor([1.0, r, -r], dtype="float64")
    dist.all_reduce(t)
    numpy.testing.assert_array_equal(t.numpy(), [p, p * (p - 1) / 2, -p * (p - 1) / 2])
    m = dist.all_reduce(sn.tensor([float(r)]), op="max")
    assert m.numpy()[0] == p - 1
    avg = dist.all_reduce(sn.tensor([float(r)], dtype="float64"), op=dist.ReduceOp.AVG)
    assert avg.numpy()[0] == (p - 1) / 2
    b = dist.broadcast(sn.tensor(numpy.full(3, r, numpy.int64)), src=p - 1)
    numpy.testing.assert_array_equal(b.numpy(), [p - 1] * 3)
    parts = dist.all_gather(None, sn.tensor([[r, 2 * r]], dtype="float32"))
    assert [q.numpy().tolist() for q in parts] == [[[k, 2 * k]] for k in range(p)]
    dist.barrier()
    with pytest.raises(ValueError, match="op must be"):
        dist.all_reduce(t, op="mean")


def test_wrap_broadcasts_rank0_parameters_and_buffers(world):
    dist = world
    sn.manual_seed(100 + dist.rank())                  # every rank initialises differently
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    model[1].running_mean.data[...] = dist.rank()
    before = dist.broadcast_object(params(model), 0)
    if dist.rank() > 0:
        assert not numpy.array_equal(before["0.weight"], params(model)["0.weight"])
    ddp = dist.DistributedDataParallel(model)
    mine = params(model)
    assert_close(mine, before, tol=0)
    numpy.testing.assert_array_equal(mine["1.running_mean"], 0)
    assert ddp.module is model


def test_ranks_that_disagree_on_shapes_get_a_clear_error(world):
    dist = world
    model = nn.Sequential(nn.Linear(3, 4 + dist.rank()), nn.ReLU())
    match = r"ranks disagree.*0\.weight: \(4, 3\).*on rank 0.*\(5, 3\).*rank 1"
    with pytest.raises(dist.DistributedError, match=match):
        dist.DistributedDataParallel(model)


def _steps(dist, make, data, steps, distributed, loss_kind="mean"):
    """`steps` Adam steps on the global batches `data`: in one process, or sharded over the ranks."""
    sn.manual_seed(0)
    model = make().double()
    opt = optim.Adam(model.parameters(), lr=1e-2)
    if distributed:
        model = dist.DistributedDataParallel(dist.convert_sync_batchnorm(model), broadcast_buffers=False)
    for x, y in data[:steps]:
        m = len(x)
        lo, hi = rows(dist, m) if distributed else (0, m)
        with sharded_rows(lo, hi, m):
            out = model(sn.tensor(x[lo:hi], dtype="float64"))
        target = sn.tensor(y[lo:hi])
        if distributed and loss_kind == "scaled":    # uneven rows: the global batch's mean, rank by rank
            loss = F.cross_entropy(out, target, reduction="sum") * (dist.world_size() / m)
        else:
            loss = F.cross_entropy(out, target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return params(parallel.unwrap(model))


def _batches(shape, classes, sizes, seed=0):
    rng = numpy.random.default_rng(seed)
    return [(rng.standard_normal((m,) + shape), rng.integers(0, classes, m)) for m in sizes]


def _sync_bn_net():
    # no bias before a BatchNorm: its gradient is 0 up to rounding, which Adam's g/(|g| + eps) would amplify
    return nn.Sequential(nn.Conv2d(1, 3, 3, bias=False), nn.BatchNorm2d(3), nn.ReLU(), nn.Dropout(0.3), nn.Flatten(),
                         nn.Linear(3 * 4 * 4, 5, bias=False), nn.BatchNorm1d(5), nn.ReLU(), nn.Linear(5, 3))


@pytest.mark.parametrize("make,shape,sizes,kind", [
    (lambda: build("reference"), (1, 28, 28), [8, 8], "mean"),          # the reference CNN, equal shards
    (_sync_bn_net, (1, 6, 6), [8, 8, 8], "mean"),                      # SyncBatchNorm (2-D and 1-D) + dropout
    (_sync_bn_net, (1, 6, 6), [7, 9, 5], "scaled"),                    # uneven shards of odd batches
    (lambda: build("strong"), (1, 28, 28), [8, 7], "scaled"),          # BatchNorm 2-D/1-D, dropout, uneven
], ids=["reference-cnn", "syncbn", "syncbn-uneven", "strong-cnn"])
def test_k_steps_on_2_ranks_equal_one_process_at_the_global_batch(world, make, shape, sizes, kind):
    dist = world
    data = _batches(shape, 3 if make is _sync_bn_net else 10, sizes)
    with dist.alone():
        reference = _steps(dist, make, data, len(sizes), distributed=False)
    got = _steps(dist, make, data, len(sizes), distributed=True, loss_kind=kind)
    assert_close(got, reference)
    moved = max(numpy.abs(reference[k] - _steps(dist, make, data, 0, False)[k]).max() for k in reference)
    assert moved > 1e-3          # the steps did change the weights: the comparison is not vacuous


def _gan_steps(dist, steps, batch, distributed, loss):
    sn.manual_seed(0)
    run = GANRun("dcgan", loss=loss, z_dim=8, n_critic=1, dtype="float64")
    if distributed:
        run.distribute()
    rng = numpy.random.default_rng(1)
    lo, hi = rows(dist, batch) if distributed else (0, batch)
    for _ in range(steps):
        real = rng.uniform(-1, 1, (batch, 1, 28, 28))
        with sharded_rows(lo, hi, batch):
            run.step(sn.tensor(real[lo:hi], dtype="float64"), numpy.zeros(hi - lo, numpy.int64))
    return {**{"g." + k: v for k, v in params(parallel.unwrap(run.g)).items()},
            **{"d." + k: v for k, v in params(parallel.unwrap(run.d)).items()}}


@pytest.mark.parametrize("loss", ["bce", "wgan-gp"])
def test_dcgan_steps_on_2_ranks_equal_one_process(world, loss):
    """Two optimizers, SyncBatchNorm in G, dropout in D, noise drawn for the global batch (and for WGAN-GP the
    gradient penalty's double backprop through D under DistributedDataParallel)."""
    dist = world
    with dist.alone():
        reference = _gan_steps(dist, 2, 4, False, loss)
    assert_close(_gan_steps(dist, 2, 4, True, loss), reference)


def test_no_sync_accumulates_locally_then_averages(world):
    dist = world
    sn.manual_seed(0)
    lin = nn.Linear(2, 1, bias=False).double()
    ddp = dist.DistributedDataParallel(lin)
    r = dist.rank()
    x = sn.tensor([[1.0 + r, 2.0]], dtype="float64")
    with ddp.no_sync():
        ddp(x).sum().backward()
    numpy.testing.assert_array_equal(lin.weight.grad.numpy(), [[1.0 + r, 2.0]])      # local only
    ddp(x).sum().backward()                                   # outside: the accumulated sum is averaged
    p = dist.world_size()
    numpy.testing.assert_allclose(lin.weight.grad.numpy(), [[2 * (1 + (p - 1) / 2), 4.0]], rtol=0, atol=1e-12)


def test_parameters_without_gradient_stay_none_everywhere(world):
    dist = world
    model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2)).double()
    ddp = dist.DistributedDataParallel(model)
    model[1].requires_grad_(False)
    ddp(sn.randn(3, 2, dtype="float64")).sum().backward()
    assert model[1].weight.grad is None and model[0].weight.grad is not None
    got = model[0].weight.grad.numpy()
    numpy.testing.assert_array_equal(got, dist.broadcast_object(got, 0))   # averaged: equal on every rank


def test_distributed_sampler_shards_are_disjoint_and_cover_the_epoch(world):
    dist = world
    for n in (10, 11, 1):
        s = dist.DistributedSampler(range(n), seed=3)
        s.set_epoch(2)
        shards = dist.all_gather_object(s.indices().tolist())
        assert len({len(x) for x in shards}) == 1
        flat = [i for x in shards for i in x]
        assert set(flat) == set(range(n)) and len(flat) == -(-n // dist.world_size()) * dist.world_size()


class Tiny:
    """A 3-class dataset of random 28×28 images (train: 45 images, test: 40), the shape FashionMNIST has."""
    classes = ("a", "b", "c")

    def __init__(self, root=None, train=True):
        rng = numpy.random.default_rng(0 if train else 1)
        n = 45 if train else 40
        self.images = rng.integers(0, 256, (n, 28, 28), dtype=numpy.uint8)
        self.targets = rng.integers(0, 3, n)
        self.source, self.folder = "test", "-"

    def __len__(self):
        return len(self.images)


def _shared_dir(dist):
    return dist.broadcast_object(tempfile.mkdtemp(prefix="scratchnet-mpi-") if dist.rank() == 0 else None, 0)


def test_train_app_on_2_ranks_matches_one_process_and_only_rank0_writes(world):
    """The strong CNN (SyncBatchNorm, dropout), an uneven last batch (45 = 16 + 16 + 13), 2 epochs, float32: equal
    to float32 rounding (on random images training is chaotic enough that augmentation's extra steps of rounding
    grow to ~1e-4 in the loss; float64 equality of the same model is test_k_steps...[strong-cnn], and the loader's
    augmented shards are checked exactly in test_distributed.py). Every conv takes the per-sample im2col kernels:
    the CPU picks a conv's layout by batch size, so a rank's half batch would otherwise sum in another order than
    the whole batch, and that rounding, not the data parallelism, would grow in training."""
    dist = world
    root = _shared_dir(dist)
    kw = dict(model="strong", batch_size=16, epochs=2, progress=False, dataset=Tiny)
    with dist.alone(), conv.force_route("im2col"):
        single = classify.train(out=os.path.join(root, f"single{dist.rank()}"), **kw)
    out = os.path.join(root, "mpi") if dist.rank() == 0 else os.path.join(root, f"rank{dist.rank()}")
    with conv.force_route("im2col"):
        hist = classify.train(out=out, **kw)
    for a, b in zip(hist, single):
        assert a["test_acc"] == b["test_acc"] and a["train_acc"] == b["train_acc"]
        assert abs(a["train_loss"] - b["train_loss"]) < 1e-4 and abs(a["test_loss"] - b["test_loss"]) < 1e-4
    if dist.rank() == 0:
        assert sorted(os.listdir(out)) == ["checkpoint.npz", "confusion.png", "curves.png", "metrics.json",
                                           "predictions.png"]
    else:
        assert not os.path.exists(out)          # a rank other than 0 wrote nothing


def test_resume_under_mpi_continues_exactly(world):
    dist = world
    root = _shared_dir(dist)
    kw = dict(model="reference", batch_size=16, progress=False, dataset=Tiny, cosine=True)
    full = classify.train(epochs=2, out=os.path.join(root, "full"), **kw)
    classify.train(epochs=1, out=os.path.join(root, "part"), **kw)
    resumed = classify.train(epochs=2, out=os.path.join(root, "part"), resume=True, **kw)
    strip = [{k: v for k, v in h.items() if k != "seconds"} for h in full]
    assert [{k: v for k, v in h.items() if k != "seconds"} for h in resumed] == strip
    if dist.rank() == 0:
        a = sn.load(os.path.join(root, "full", "checkpoint.npz"))["model"]
        b = sn.load(os.path.join(root, "part", "checkpoint.npz"))["model"]
        for k in a:
            numpy.testing.assert_array_equal(a[k].numpy(), b[k].numpy())


def test_gan_app_on_2_ranks_matches_one_process_and_resumes(world):
    """`scratchnet gan` (DCGAN: SyncBatchNorm in G, dropout in D) for 4 steps at batch 8: the logged losses equal
    the single-process run's (float32 rounding); rank 0 alone writes; 2 steps + --resume to 4 equals 4 steps."""
    from scratchnet.apps.gan import train_gan
    dist = world
    root = _shared_dir(dist)
    kw = dict(model="dcgan", batch_size=8, limit=64, quality_samples=0, progress=False, data=SAMPLE, sample_every=2)
    with dist.alone():
        single = train_gan(steps=4, out=os.path.join(root, f"single{dist.rank()}"), **kw)
    out = os.path.join(root, "mpi") if dist.rank() == 0 else os.path.join(root, f"rank{dist.rank()}")
    full = train_gan(steps=4, out=out, **kw)
    assert [h["step"] for h in full] == [h["step"] for h in single]
    for a, b in zip(full, single):
        for k in ("loss_d", "loss_g", "D(x)", "D(G(z))"):
            assert abs(a[k] - b[k]) < 1e-4, (k, a, b)
    if dist.rank() == 0:
        assert {"checkpoint.npz", "losses.png", "history.json", "samples_final.png"} <= set(os.listdir(out))
    else:
        assert not os.path.exists(out)
    part = os.path.join(root, "part")
    train_gan(steps=2, out=part, **kw)
    resumed = train_gan(steps=4, out=part, resume=True, **kw)
    assert resumed == full


def test_train_app_with_a_last_batch_smaller_than_the_world(world):
    """45 images at batch 22: the last batch has one image, which every rank computes whole (no empty shards)."""
    dist = world
    root = _shared_dir(dist)
    kw = dict(model="reference", batch_size=22, epochs=1, progress=False, dataset=Tiny)
    with dist.alone():
        single = classify.train(out=os.path.join(root, f"single{dist.rank()}"), **kw)
    hist = classify.train(out=os.path.join(root, "mpi"), **kw)
    for a, b in zip(hist, single):
        assert a["test_acc"] == b["test_acc"] and a["train_acc"] == b["train_acc"]
        assert abs(a["train_loss"] - b["train_loss"]) < 1e-5 and abs(a["test_loss"] - b["test_loss"]) < 1e-5
