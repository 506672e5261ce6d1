"""optim.swa_utils.AveragedModel against torch.optim.swa_utils: EMA and equal-weight averages of parameters and
buffers over a few real training updates, the first update copying, and the state round trip."""
import numpy
import pytest

import scratchnet as sn
from scratchnet import nn
from scratchnet.optim.swa_utils import AveragedModel, get_ema_avg_fn


def _pair(torch):
    ours = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    ref = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 2)).double()
    ours.double()
    ours.load_state_dict({k: sn.tensor(v.detach().numpy(), dtype=v.detach().numpy().dtype)
                          for k, v in ref.state_dict().items()})
    return ours, ref


@pytest.mark.parametrize("decay", [None, 0.9])
@pytest.mark.parametrize("use_buffers", [False, True])
def test_average_follows_torch_over_training_updates(torch, decay, use_buffers):
    ours, ref = _pair(torch)
    swa = torch.optim.swa_utils
    avg_ref = swa.AveragedModel(ref, multi_avg_fn=None if decay is None else swa.get_ema_multi_avg_fn(decay),
                                use_buffers=use_buffers)
    avg = AveragedModel(ours, None if decay is None else get_ema_avg_fn(decay), use_buffers=use_buffers)
    opt, opt_ref = sn.optim.SGD(ours.parameters(), lr=0.1), torch.optim.SGD(ref.parameters(), lr=0.1)
    rng = numpy.random.default_rng(0)
    for _ in range(4):
        x = rng.standard_normal((8, 3))
        for model, o, t in ((ours, opt, lambda a: sn.tensor(a, dtype=numpy.float64)), (ref, opt_ref, torch.tensor)):
            o.zero_grad()
            (model(t(x)) ** 2).mean().backward()
            o.step()
        avg.update_parameters(ours)
        avg_ref.update_parameters(ref)
    assert avg.n_averaged == int(avg_ref.n_averaged) == 4
    theirs = avg_ref.module.state_dict()
    for k, v in avg.module.state_dict().items():
        if k.endswith("num_batches_tracked"):
            continue
        numpy.testing.assert_allclose(v.numpy(), theirs[k].numpy(), rtol=1e-12, atol=1e-12, err_msg=k)
    # the average differs from the last iterate (else the test would not tell the two apart)
    assert not numpy.allclose(avg.module.state_dict()["0.weight"].numpy(), ours.state_dict()["0.weight"].numpy())
    x = rng.standard_normal((5, 3))
    avg.eval(), avg_ref.eval()
    numpy.testing.assert_allclose(avg(sn.tensor(x, dtype=numpy.float64)).numpy(), avg_ref(torch.tensor(x)).detach().numpy(),
                                  rtol=1e-10, atol=1e-12)


def test_first_update_copies_and_state_round_trips(tmp_path):
    model = nn.Linear(2, 2)
    avg = AveragedModel(model, get_ema_avg_fn(0.5))
    assert all(not p.requires_grad for p in avg.module.parameters())
    with sn.no_grad():
        model.weight.data[...] = 1.0
    avg.update_parameters(model)
    numpy.testing.assert_array_equal(avg.module.weight.numpy(), numpy.ones((2, 2), numpy.float32))
    with sn.no_grad():
        model.weight.data[...] = 3.0
    avg.update_parameters(model)
    numpy.testing.assert_array_equal(avg.module.weight.numpy(), numpy.full((2, 2), 2.0, numpy.float32))
    sn.save(avg.state_dict(), tmp_path / "avg.npz")
    back = AveragedModel(nn.Linear(2, 2), get_ema_avg_fn(0.5))
    back.load_state_dict(sn.load(tmp_path / "avg.npz"))
    assert back.n_averaged == 2
    numpy.testing.assert_array_equal(back.module.weight.numpy(), avg.module.weight.numpy())


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="decay"):
        get_ema_avg_fn(1.5)
    with pytest.raises(TypeError, match="nn.Module"):
        AveragedModel([1, 2])
    with pytest.raises(ValueError, match="do not match"):
        AveragedModel(nn.Linear(2, 2)).update_parameters(nn.Linear(3, 2))


@pytest.mark.parametrize("dtype", [numpy.float32, numpy.float64])
def test_ema_update_in_place_equals_its_formula(dtype):
    """AveragedModel folds an EMA in place (no new arrays a step): the same values, bit for bit, as the returned
    decay·averaged + (1 − decay)·current that a user's avg_fn would give."""
    fn = get_ema_avg_fn(0.97)
    rng = numpy.random.default_rng(0)
    a, c = rng.standard_normal(1000).astype(dtype), rng.standard_normal(1000).astype(dtype)
    expected = fn(a, c, 3)
    fn.in_place(a, c)
    numpy.testing.assert_array_equal(a, expected)
    assert a.dtype == dtype
