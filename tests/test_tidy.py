"""Small edges a user meets first: subpackages as attributes, and clear errors naming the argument for devices,
layer sizes, schedules, loaders and optimizer settings."""
import subprocess
import sys

import numpy
import pytest

import scratchnet as sn
from scratchnet.data import DataLoader


def test_subpackages_are_attributes_after_import():
    code = ("import sys, scratchnet as sn; print(sn.data.FashionMNIST.__name__, sn.models.reference_cnn.__name__, "
            "sn.metrics.__name__, sn.io.load.__name__, sn.distributed.__name__, sn.apps.__name__, "
            "'data' in dir(sn)); assert 'matplotlib' not in sys.modules")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env={"PYTHONPATH": ":".join(sys.path)})
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["FashionMNIST", "reference_cnn", "scratchnet.metrics", "load",
                                "scratchnet.distributed", "scratchnet.apps", "True"]
    with pytest.raises(AttributeError, match="no attribute 'nosuch'"):
        sn.nosuch


@pytest.mark.parametrize("what", ["gpu", "mps0", 5, "cuda0"])
def test_to_something_that_is_not_a_device_or_dtype(what):
    with pytest.raises((ValueError, RuntimeError), match="neither a device|unknown device") as e:
        sn.ones(2).to(what)
    assert "not understood" not in str(e.value)
    with pytest.raises((ValueError, RuntimeError, TypeError), match="neither a device|unknown device|device must"):
        sn.nn.Linear(2, 2).to(what)
    with pytest.raises(ValueError, match="unknown device 'gpu'"):
        sn.ones(2).to(device="gpu")


@pytest.mark.parametrize("kw, match", [
    (dict(groups=0), "groups must be an integer >= 1, got 0"),
    (dict(groups=-2), "groups must be an integer >= 1"),
    (dict(groups=1.5), "groups must be an integer"),
    (dict(in_channels=0), "in_channels must be an integer >= 1, got 0"),
    (dict(in_channels=2.0), "in_channels must be an integer"),
    (dict(out_channels=-1), "out_channels must be an integer >= 0"),
])
@pytest.mark.parametrize("layer", ["Conv2d", "ConvTranspose2d"])
def test_conv_arguments(layer, kw, match):
    args = dict(in_channels=4, out_channels=4, kernel_size=3)
    args.update(kw)
    with pytest.raises(ValueError, match=f"{layer}: {match}"):
        getattr(sn.nn, layer)(**args)


def test_linear_with_no_inputs_is_allowed_as_in_pytorch():
    layer = sn.nn.Linear(0, 3)
    assert layer(sn.ones(2, 0)).shape == (2, 3)


@pytest.mark.parametrize("step_size", [0, -1, 2.5, None, True])
def test_steplr_step_size(step_size):
    opt = sn.optim.SGD([sn.nn.Parameter(sn.ones(2))], lr=0.1)
    with pytest.raises(ValueError, match="StepLR: step_size must be a positive integer"):
        sn.optim.lr_scheduler.StepLR(opt, step_size=step_size)


class _Tiny:
    images, targets, classes, transform = numpy.zeros((4, 28, 28), numpy.uint8), numpy.zeros(4, numpy.int64), \
        list("abcdefghij"), None

    def __len__(self):
        return 4


@pytest.mark.parametrize("batch_size", [2.5, None, 0, -1, "8", True])
def test_dataloader_batch_size(batch_size):
    with pytest.raises(ValueError, match="DataLoader: batch_size must be a positive integer"):
        DataLoader(_Tiny(), batch_size)
    assert len(list(DataLoader(_Tiny(), numpy.int64(2)))) == 2


@pytest.mark.parametrize("opt", ["SGD", "Adam", "AdamW", "RMSprop", "LBFGS"])
@pytest.mark.parametrize("lr, error, match", [(float("nan"), ValueError, "lr must be a finite number, got nan"),
                                              (float("inf"), ValueError, "lr must be a finite number"),
                                              ("1e-3", TypeError, "lr must be a number, got str '1e-3'"),
                                              (None, TypeError, "lr must be a number, got NoneType")])
def test_optimizer_learning_rates(opt, lr, error, match):
    with pytest.raises(error, match=match):
        getattr(sn.optim, opt)([sn.nn.Parameter(sn.ones(2))], lr=lr)


def test_a_group_setting_is_checked_and_a_parameter_in_two_groups_refused():
    p, q = sn.nn.Parameter(sn.ones(2)), sn.nn.Parameter(sn.ones(2))
    with pytest.raises(ValueError, match="Adam: some parameters appear in more than one parameter group"):
        sn.optim.Adam([{"params": [p]}, {"params": [q, p]}])
    with pytest.raises(TypeError, match="SGD: lr must be a number, got str"):
        sn.optim.SGD([{"params": [p], "lr": "0.1"}], lr=0.1)
    with pytest.warns(UserWarning, match="same parameter more than once"):
        sn.optim.SGD([p, p], lr=0.1)
    opt = sn.optim.SGD([p], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [p]})
