"""nn.Conv1d/2d/3d's padding_mode ('zeros', 'reflect', 'replicate', 'circular') against PyTorch: outputs and the
gradients of input, weight and bias with stride, dilation, groups and padding='same'; ConvTranspose*d's and an
unknown mode's errors; repr; the state_dict the mode leaves alone."""
import numpy
import pytest

import scratchnet as sn
import scratchnet.nn as nn
from conftest import to_np

MODES = ["zeros", "reflect", "replicate", "circular"]
# (dims, args, kwargs): strided, dilated, grouped, asymmetric and 'same' (odd and even kernels) configurations
CASES = [(1, (2, 4, 3), dict(padding=2, stride=2)),
         (1, (4, 2, 2), dict(padding="same", dilation=3, groups=2)),
         (2, (2, 4, (3, 2)), dict(padding=(1, 2), stride=(2, 1), groups=2)),
         (2, (3, 2, 3), dict(padding=1, dilation=(2, 1), bias=False)),
         (2, (2, 3, (2, 4)), dict(padding="same")),
         (2, (2, 2, 3), dict(padding="valid")),
         (3, (2, 4, (2, 3, 1)), dict(padding=(1, 1, 2), stride=(1, 2, 2), groups=2)),
         (3, (2, 2, 3), dict(padding="same", dilation=(1, 2, 1)))]


def _pair_modules(torch, dims, args, kw, mode):
    mt = getattr(torch.nn, f"Conv{dims}d")(*args, padding_mode=mode, **kw).double()
    ms = getattr(nn, f"Conv{dims}d")(*args, padding_mode=mode, **kw).double()
    ms.load_state_dict({k: sn.tensor(to_np(v), dtype="float64") for k, v in mt.state_dict().items()})
    return ms, mt


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dims,args,kw", CASES, ids=[f"{c[0]}d-{i}" for i, c in enumerate(CASES)])
def test_values_and_gradients_match_torch(torch, device, mode, dims, args, kw):
    ms, mt = _pair_modules(torch, dims, args, kw, mode)
    ms.to(device)
    rng = numpy.random.default_rng(dims)
    x = rng.standard_normal((2, args[0]) + (5, 6, 4)[:dims])
    xs, xt = sn.tensor(x, dtype="float64", device=device, requires_grad=True), torch.tensor(x, requires_grad=True)
    ys, yt = ms(xs), mt(xt)
    assert tuple(ys.shape) == tuple(yt.shape)
    numpy.testing.assert_allclose(to_np(ys), to_np(yt), rtol=1e-9, atol=1e-10)
    w = rng.standard_normal(tuple(yt.shape))
    (ys * sn.tensor(w, dtype="float64", device=device)).sum().backward()
    (yt * torch.tensor(w)).sum().backward()
    pairs = [("input", xs, xt), ("weight", ms.weight, mt.weight)] + ([("bias", ms.bias, mt.bias)] if mt.bias is not None
                                                                   else [])
    for name, a, b in pairs:
        numpy.testing.assert_allclose(to_np(a.grad), to_np(b.grad), rtol=1e-9, atol=1e-10, err_msg=name)


@pytest.mark.parametrize("mode", MODES[1:])
def test_non_zero_modes_differ_from_zeros(device, mode):
    """The mode is really used: near the border the result is not zero padding's (a test that can fail)."""
    m = nn.Conv2d(1, 1, 3, padding=1, padding_mode=mode, bias=False).to(device)
    x = sn.tensor(numpy.arange(1.0, 17.0).reshape(1, 1, 4, 4), dtype="float32", device=device)
    z = nn.functional.conv2d(x, m.weight, None, 1, 1)
    assert not numpy.allclose(to_np(m(x))[..., 0, :], to_np(z)[..., 0, :])
    numpy.testing.assert_allclose(to_np(m(x))[..., 1:-1, 1:-1], to_np(z)[..., 1:-1, 1:-1], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_unknown_mode_is_a_value_error(torch, dims):
    with pytest.raises(ValueError):
        getattr(torch.nn, f"Conv{dims}d")(2, 2, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match=f"Conv{dims}d.*padding_mode.*'mirror'"):
        getattr(nn, f"Conv{dims}d")(2, 2, 3, padding_mode="mirror")


@pytest.mark.parametrize("dims", [1, 2, 3])
@pytest.mark.parametrize("mode", MODES[1:])
def test_conv_transpose_supports_only_zeros(torch, dims, mode):
    name = f"ConvTranspose{dims}d"
    with pytest.raises(ValueError):
        getattr(torch.nn, name)(2, 2, 3, padding_mode=mode)
    with pytest.raises(ValueError, match=f"{name}.*'zeros'"):
        getattr(nn, name)(2, 2, 3, padding_mode=mode)
    assert getattr(nn, name)(2, 2, 3, padding_mode="zeros").padding_mode == "zeros"


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_same_with_stride_is_refused_in_every_mode(torch, dims):
    for mode in MODES:
        with pytest.raises(ValueError):
            getattr(torch.nn, f"Conv{dims}d")(2, 2, 3, stride=2, padding="same", padding_mode=mode)
        with pytest.raises(ValueError, match="same"):
            getattr(nn, f"Conv{dims}d")(2, 2, 3, stride=2, padding="same", padding_mode=mode)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dims", [1, 2, 3])
def test_repr_and_state_dict_as_torch(torch, dims, mode):
    kw = dict(padding=1, padding_mode=mode, groups=2, bias=False)
    ms, mt = getattr(nn, f"Conv{dims}d")(4, 2, 3, **kw), getattr(torch.nn, f"Conv{dims}d")(4, 2, 3, **kw)
    assert repr(ms) == repr(mt)
    assert ms.padding_mode == mode
    assert [(k, tuple(v.shape)) for k, v in ms.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in mt.state_dict().items()]


def test_reflect_wider_than_input_is_a_clear_error(device):
    m = nn.Conv1d(1, 1, 3, padding=4, padding_mode="reflect").to(device)
    with pytest.raises(Exception, match="pad"):
        m(sn.randn(1, 1, 3, device=device))
