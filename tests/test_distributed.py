"""scratchnet.distributed in one process (the "single" world) and the pieces that need no second rank: launcher
detection, DistributedSampler's shards (PyTorch's semantics), DataLoader sharding, batch-sharded random draws,
SyncBatchNorm's gradient, and `scratchnet train --nproc 2` against a single-process run. The 2-rank properties
are in test_mpi.py (run under mpiexec)."""
import json
import os
import shutil
import subprocess
import sys

import numpy
import pytest
from hypothesis import given, strategies as st

import scratchnet as sn
import scratchnet.distributed as dist
from scratchnet import backend, nn
from scratchnet.rng import sharded_rows
from scratchnet.data import DataLoader, horizontal_flip
from scratchnet.distributed.comm import launcher_world
from scratchnet.distributed.sync_bn import sync_batch_norm
import scratchnet.nn.functional as F

LAUNCHER_VARS = ("PMI_SIZE", "PMI_RANK", "MPI_LOCALNRANKS", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK",
                 "OMPI_COMM_WORLD_LOCAL_SIZE", "MV2_COMM_WORLD_SIZE", "MV2_COMM_WORLD_RANK", "PMIX_SIZE", "PMIX_RANK")


@pytest.fixture
def no_launcher(monkeypatch):
    for k in LAUNCHER_VARS:
        monkeypatch.delenv(k, raising=False)


def test_launcher_environment_is_detected(monkeypatch, no_launcher):
    assert launcher_world() is None
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "4")
    monkeypatch.setenv("OMPI_COMM_WORLD_RANK", "3")
    monkeypatch.setenv("OMPI_COMM_WORLD_LOCAL_SIZE", "2")
    assert launcher_world() == (4, 3, 2)
    monkeypatch.setenv("PMI_SIZE", "2")
    monkeypatch.setenv("PMI_RANK", "1")
    assert launcher_world() == (2, 1, 2)


def test_single_world_collectives_are_the_identity(no_launcher):
    assert dist.init() == "single" and dist.get_backend() == "single"
    assert (dist.rank(), dist.world_size(), dist.get_rank(), dist.get_world_size()) == (0, 1, 0, 1)
    t = sn.tensor([1.0, -2.0])
    assert dist.all_reduce(t, op="max") is t and t.numpy().tolist() == [1.0, -2.0]
    assert dist.broadcast(t, 0) is t
    assert [x.numpy().tolist() for x in dist.all_gather(None, t)] == [[1.0, -2.0]]
    out = [sn.zeros(2)]
    dist.all_gather(out, t)
    assert out[0].numpy().tolist() == [1.0, -2.0]
    dist.barrier()
    assert dist.broadcast_object({"a": 1}) == {"a": 1} and dist.all_gather_object(3) == [3]
    with pytest.raises(ValueError, match="src must be a rank in \\[0, 1\\), got 1"):
        dist.broadcast(t, 1)
    with pytest.raises(ValueError, match="op must be one of"):
        dist.all_reduce(t, op="mean")
    with pytest.raises(TypeError, match="expected a scratchnet Tensor"):
        dist.all_reduce(numpy.ones(2))
    with pytest.raises(ValueError, match="backend must be one of single, mpi, nccl"):
        dist.init("gloo")


def test_ddp_in_a_world_of_one_changes_nothing():
    sn.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)).double()
    twin = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)).double()
    twin.load_state_dict(model.state_dict())
    ddp = dist.DistributedDataParallel(model)
    x = sn.randn(5, 3, dtype="float64")
    ddp(x).sum().backward()
    twin(x).sum().backward()
    for a, b in zip(model.parameters(), twin.parameters()):
        numpy.testing.assert_array_equal(a.grad.numpy(), b.grad.numpy())
    with ddp.no_sync():
        ddp(x).sum().backward()
    numpy.testing.assert_array_equal(model[0].weight.grad.numpy(), 2 * twin[0].weight.grad.numpy())
    assert list(ddp.state_dict()) == ["module." + k for k in model.state_dict()]      # as PyTorch's
    with pytest.raises(TypeError, match="expected a Module"):
        dist.DistributedDataParallel(lambda x: x)


@given(n=st.integers(1, 40), replicas=st.integers(1, 5), drop_last=st.booleans(), shuffle=st.booleans(),
       epoch=st.integers(0, 3))
def test_distributed_sampler_semantics(n, replicas, drop_last, shuffle, epoch):
    """Equal-length shards; without drop_last they cover the epoch, padded by wrapping around to its start; with
    it they are disjoint and cut the tail; every rank sees the same permutation, reshuffled by set_epoch."""
    shards = []
    for r in range(replicas):
        s = dist.DistributedSampler(range(n), num_replicas=replicas, rank=r, shuffle=shuffle, seed=7,
                                    drop_last=drop_last)
        s.set_epoch(epoch)
        shards.append(list(s))
        assert len(s) == len(shards[-1])
    lengths = {len(x) for x in shards}
    assert len(lengths) == 1
    per = lengths.pop()
    assert per == (n // replicas if drop_last else -(-n // replicas))
    order = numpy.random.default_rng([7, epoch]).permutation(n) if shuffle else numpy.arange(n)
    interleaved = [shards[r][i] for i in range(per) for r in range(replicas)]
    assert interleaved == numpy.resize(order, per * replicas).tolist()
    if drop_last or n % replicas == 0:
        assert len(set(interleaved)) == len(interleaved)
    else:
        assert set(interleaved) == set(range(n))


def test_distributed_sampler_matches_pytorch_without_shuffle(torch):
    from torch.utils.data import DistributedSampler as TorchSampler
    for n, p, drop in [(10, 3, False), (10, 3, True), (2, 5, False), (12, 4, False), (7, 2, True)]:
        for r in range(p):
            ours = list(dist.DistributedSampler(range(n), p, r, shuffle=False, drop_last=drop))
            theirs = list(TorchSampler(range(n), p, r, shuffle=False, drop_last=drop))
            assert ours == theirs, (n, p, r, drop)


def test_distributed_sampler_errors_and_reshuffling():
    with pytest.raises(ValueError, match=r"Invalid rank 3, rank should be in the interval \[0, 1\]"):
        dist.DistributedSampler(range(5), num_replicas=2, rank=3)
    s = dist.DistributedSampler(range(50), num_replicas=2, rank=0, seed=1)
    first = list(s)
    assert list(s) == first
    s.set_epoch(1)
    assert list(s) != first
    loader = DataLoader(range(50), 5, sampler=s)
    with pytest.raises(ValueError, match="mutually exclusive"):
        DataLoader(range(50), 5, sampler=s, shuffle=True)
    loader.set_epoch(4)
    assert s.epoch == 4 and len(loader) == 5


class _Images:
    classes = ("a", "b")

    def __init__(self, n=37):
        rng = numpy.random.default_rng(0)
        self.images = rng.integers(0, 256, (n, 6, 6), dtype=numpy.uint8)
        self.targets = rng.integers(0, 2, n)

    def __len__(self):
        return len(self.images)


@pytest.mark.parametrize("world", [2, 3])
@pytest.mark.parametrize("augment", [False, True])
def test_loader_shards_put_together_are_the_single_process_batches(world, augment):
    ds = _Images()
    kw = dict(batch_size=8, shuffle=True, seed=4, transform=horizontal_flip(0.5) if augment else None)
    full = [(x.numpy(), y.numpy()) for x, y in DataLoader(ds, **kw)]
    parts = [[(x.numpy(), y.numpy()) for x, y in DataLoader(ds, shard=(r, world), **kw)] for r in range(world)]
    loader = DataLoader(ds, shard=(0, world), **kw)
    assert loader.global_batch_sizes() == [8, 8, 8, 8, 5] and all(len(p) == len(full) for p in parts)
    for k, (x, y) in enumerate(full):
        numpy.testing.assert_array_equal(numpy.concatenate([p[k][0] for p in parts]), x)
        numpy.testing.assert_array_equal(numpy.concatenate([p[k][1] for p in parts]), y)
        assert [len(p[k][1]) for p in parts] == [len(y) * (r + 1) // world - len(y) * r // world
                                                   for r in range(world)]
    small = [[y.numpy() for _, y in DataLoader(_Images(9), 4, shard=(r, 2))][-1] for r in range(2)]
    assert [len(s) for s in small] == [1, 1]           # a batch smaller than the world: every rank takes it whole
    with pytest.raises(ValueError, match="shard must be"):
        DataLoader(ds, shard=(2, 2))


def test_sharded_rows_draw_the_global_batch_and_keep_generators_in_step():
    sn.manual_seed(3)
    whole = sn.randn(6, 2).numpy()
    after = sn.rand(4).numpy()
    pieces = []
    for lo, hi in [(0, 2), (2, 6)]:
        sn.manual_seed(3)
        with sharded_rows(lo, hi, 6):
            pieces.append(sn.randn(hi - lo, 2).numpy())
    numpy.testing.assert_array_equal(numpy.concatenate(pieces), whole)
    sn.manual_seed(3)
    with sharded_rows(0, 2, 6):
        sn.randn(2, 2)
    numpy.testing.assert_array_equal(sn.rand(4).numpy(), after)      # the generator moved as in one process


def test_sync_batch_norm_equals_batch_norm_and_passes_gradcheck():
    rng = numpy.random.default_rng(0)
    x = sn.tensor(rng.standard_normal((5, 3, 2, 2)) * 3 + 100, dtype="float64", requires_grad=True)
    w = sn.tensor(rng.random(3) + 0.5, dtype="float64", requires_grad=True)
    b = sn.tensor(rng.standard_normal(3), dtype="float64", requires_grad=True)
    rm, rv = sn.zeros(3, dtype="float64"), sn.ones(3, dtype="float64")
    rm2, rv2 = sn.zeros(3, dtype="float64"), sn.ones(3, dtype="float64")
    y = sync_batch_norm(x, rm, rv, w, b, 0.1, 1e-5)
    y2 = F.batch_norm(x, rm2, rv2, w, b, True, 0.1, 1e-5)
    numpy.testing.assert_allclose(y.numpy(), y2.numpy(), atol=1e-12)
    numpy.testing.assert_allclose(rm.numpy(), rm2.numpy(), atol=1e-12)
    numpy.testing.assert_allclose(rv.numpy(), rv2.numpy(), atol=1e-12)
    fn = lambda x, w, b: sync_batch_norm(x, None, None, w, b, 0.1, 1e-5)  # noqa: E731
    assert sn.gradcheck(fn, [x, w, b])
    assert sn.gradgradcheck(fn, [x, w, b])
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        sync_batch_norm(sn.ones(1, 3, dtype="float64"), None, None, None, None, 0.1, 1e-5)


def test_sync_batch_norm_float32_has_no_cancellation():
    """A large mean and a small spread: E[x²] − μ² in float32 would lose every digit of σ²."""
    x = numpy.random.default_rng(1).standard_normal((16, 2, 3, 3)) * 0.01 + 1000
    y = sync_batch_norm(sn.tensor(x, dtype="float32"), None, None, None, None, 0.1, 0.0).numpy()
    exact = (x - x.mean((0, 2, 3), keepdims=True)) / x.std((0, 2, 3), keepdims=True)
    assert numpy.abs(y - exact).max() < 0.05


def test_convert_sync_batchnorm_keeps_the_same_tensors():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Sequential(nn.Flatten(), nn.BatchNorm1d(8)))
    before = dict(model.state_dict())
    params = list(model.parameters())
    converted = dist.convert_sync_batchnorm(model)
    assert isinstance(converted[1], dist.SyncBatchNorm) and isinstance(converted[2][1], dist.SyncBatchNorm)
    assert all(a is b for a, b in zip(params, converted.parameters()))
    assert converted.state_dict().keys() == before.keys()
    x = sn.randn(4, 1, 4, 4)
    single = dist.SyncBatchNorm(2)
    assert single(sn.randn(3, 2, 5)).shape == (3, 2, 5)
    assert converted(x).shape == (4, 8)
    with pytest.raises(ValueError, match=r"SyncBatchNorm\(2\) got input of shape \(4, 3\)"):
        single(sn.randn(4, 3))


def _mpi_available():
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return False
    return bool(shutil.which("mpiexec") or os.access(os.path.join(os.path.dirname(sys.executable), "mpiexec"),
                                                     os.X_OK))


def test_cli_nproc_2_matches_the_single_process_run(tmp_path, no_launcher):
    """`scratchnet train --nproc 2` launches mpiexec; its metrics equal one process's at the same global batch."""
    if not _mpi_available():
        if os.environ.get("SCRATCHNET_REQUIRE_MPI"):
            pytest.fail("SCRATCHNET_REQUIRE_MPI=1 but mpi4py/mpiexec are missing (make mpi)")
        pytest.skip("needs scratchnet[mpi] (make mpi)")
    sample = os.path.join(os.path.dirname(sn.__file__), "data", "fashion_mnist_sample")
    args = ["train", "--data", sample, "--epochs", "1", "--limit", "200", "--batch-size", "30"]
    root = os.path.dirname(os.path.dirname(os.path.abspath(sn.__file__)))
    # on the CuPy stand-in (no NCCL) the ranks use MPI with device arrays staged through the host
    env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "SCRATCHNET_DIST_BACKEND": "mpi", "MPIEXEC_TIMEOUT": "300"}
    for out, extra in (("one", []), ("two", ["--nproc", "2"])):
        done = subprocess.run([sys.executable, "-m", "scratchnet.cli", *args, "--out", str(tmp_path / out), *extra],
                              env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        assert done.stdout.count("final test accuracy") == 1       # only rank 0 speaks
    one, two = (json.loads((tmp_path / d / "metrics.json").read_text()) for d in ("one", "two"))
    assert one["confusion"] == two["confusion"]
    for a, b in zip(one["history"], two["history"]):
        assert a["test_acc"] == b["test_acc"] and a["train_acc"] == b["train_acc"]
        assert abs(a["train_loss"] - b["train_loss"]) < 1e-5 and abs(a["test_loss"] - b["test_loss"]) < 1e-5
