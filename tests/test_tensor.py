"""Tensor creation, dtypes, attributes, conversion and the errors users see for bad input."""
import numpy
import pytest

import scratchnet as sn


def test_dtype_defaults():
    assert sn.tensor([1.0, 2.0]).dtype == numpy.float32
    assert sn.tensor(numpy.zeros(3)).dtype == numpy.float64        # an ndarray keeps its dtype, as in torch.tensor
    assert sn.tensor(numpy.zeros(3), dtype=numpy.float32).dtype == numpy.float32   # float32 from it is asked for
    assert sn.tensor([1, 2]).dtype == numpy.int64                  # class targets stay integers
    assert sn.tensor([True]).dtype == bool
    assert sn.tensor([1, 2], dtype="float64").dtype == numpy.float64
    assert sn.tensor([1.0], dtype=numpy.float64).dtype == numpy.float64
    assert sn.zeros(2, 3).dtype == numpy.float32 and sn.zeros((2, 3)).shape == (2, 3)
    assert sn.arange(5).dtype == numpy.int64 and sn.arange(0, 1, 0.25).dtype == numpy.float32


def test_type_promotion_follows_pytorch():
    f32, f64, i64 = sn.ones(2), sn.ones(2, dtype="float64"), sn.tensor([1, 2])
    assert (f32 + 2.5).dtype == numpy.float32
    assert (f32 * numpy.float64(2.0)).dtype == numpy.float32
    assert (f32 + f64).dtype == numpy.float64
    assert (i64 + f32).dtype == numpy.float32
    assert (i64 * 2.5).dtype == numpy.float32
    assert (i64 + 1).dtype == numpy.int64


def test_attributes_and_conversions():
    t = sn.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    assert t.shape == (2, 3) and t.ndim == 2 and t.is_leaf and t.requires_grad and t.grad is None
    dev = sn.get_default_device()                                  # cpu, or cuda in the GPU lane
    assert t.device == dev and str(t.device) == str(dev)
    assert t.T.shape == (3, 2)
    assert t.sum().item() == 21.0
    assert t.tolist() == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    n = t.numpy()
    n[0, 0] = 99
    assert t.tolist()[0][0] == 1.0                                # numpy() is a copy
    if dev.type == "cpu":
        assert numpy.asarray(t).shape == (2, 3)
    else:  # as PyTorch: a device tensor is never silently copied to the host
        with pytest.raises(TypeError, match=r"Tensor\.cpu\(\)"):
            numpy.asarray(t)
        assert numpy.asarray(t.cpu()).shape == (2, 3)
    d = t.detach()
    assert not d.requires_grad and d.data is t.data
    c = t.clone()
    assert c.grad_fn is not None and c.data is not t.data
    assert t.double().dtype == numpy.float64 and t.long().dtype == numpy.int64
    assert t.to("float64").dtype == numpy.float64
    assert t.cpu() is t if dev.type == "cpu" else t.cpu().device == "cpu"
    assert "requires_grad=True" in repr(t)


def test_numpy_scalar_on_left_uses_tensor_ops():
    t = sn.ones(3, requires_grad=True)
    y = numpy.float32(2) * t
    assert isinstance(y, sn.Tensor) and y.requires_grad


def test_comparisons_are_bool_and_not_differentiable():
    a = sn.tensor([1.0, 2.0, 3.0], requires_grad=True)
    m = a > 1.5
    assert m.dtype == bool and not m.requires_grad
    assert m.tolist() == [False, True, True]
    assert (a == a).tolist() == [True, True, True]


def test_max_with_dim_returns_values_and_indices():
    x = sn.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
    v, i = x.max(1)
    assert v.tolist() == [5.0, 7.0] and i.tolist() == [1, 0] and i.dtype == numpy.int64
    assert x.min(0).indices.tolist() == [0, 1, 0]
    assert x.argmax().item() == 3 and x.argmax(1, keepdim=True).shape == (2, 1)


def test_requires_grad_only_for_floats():
    with pytest.raises(TypeError, match="floating point"):
        sn.tensor([1, 2], requires_grad=True)


@pytest.mark.parametrize("make, match", [
    (lambda: sn.randn(2, 3) @ sn.randn(4, 5), r"shapes \(2, 3\) and \(4, 5\) cannot be multiplied \(3 != 4\)"),
    (lambda: sn.randn(2, 3, 4) @ sn.randn(5, 4, 2), r"batch dimensions of \(2, 3, 4\) and \(5, 4, 2\)"),
    (lambda: sn.randn(2, 3) + sn.randn(4), r"add: shapes \(2, 3\) and \(4,\) cannot be broadcast"),
    (lambda: sn.randn(2, 3) * sn.randn(3, 2), r"mul: shapes \(2, 3\) and \(3, 2\)"),
    (lambda: sn.randn(2, 3).reshape(4, 2), r"cannot reshape a tensor of shape \(2, 3\) \(6 elements\) into \(4, 2\)"),
    (lambda: sn.cat([sn.randn(2, 3), sn.randn(2, 4)], 0), r"tensor 1 has shape \(2, 4\).*shape \(2, 3\)"),
    (lambda: sn.randn(2, 3).sum(5), r"dim=5 is out of range for a tensor with 2 dimension"),
    (lambda: sn.randn(2, 3).permute(0, 0), r"not a permutation"),
    (lambda: sn.randn(2, 3)[5], r"index .* is invalid for a tensor of shape \(2, 3\)"),
    (lambda: sn.randn(2, 3).expand(4, 3), r"\(2, 3\) cannot be broadcast to \(4, 3\)"),
    (lambda: sn.tensor([1, 2]).mean(), r"mean\(\): input dtype must be floating point, got int64"),
    (lambda: sn.where(sn.ones(2), sn.ones(2), sn.zeros(2)), r"condition must be a bool tensor"),
])
def test_bad_input_errors_name_shapes(make, match):
    with pytest.raises((ValueError, TypeError, IndexError, RuntimeError), match=match):
        make()


def test_devices_parse_and_compare():
    assert sn.device("cuda:1") == "cuda:1" and sn.device("cuda") == "cuda:0" and sn.device("cpu") == "cpu"
    with pytest.raises(ValueError, match="unknown device"):
        sn.device("gpu")


def test_cuda_without_cupy_says_how_to_install(monkeypatch):
    from scratchnet import backend
    if backend._cupy is not None:
        pytest.skip("CuPy with a GPU is present: this test covers machines without one")
    import builtins
    real_import = builtins.__import__

    def no_cupy(name, *a, **k):
        if name == "cupy":
            raise ImportError("No module named 'cupy'")
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_cupy)
    with pytest.raises(backend.BackendError, match=r"pip install 'scratchnet\[gpu\]'"):
        sn.zeros(2, device="cuda")


def test_mixed_device_error_names_both(device):
    if device.type != "cuda":
        # On a CPU-only machine, fake a second device's array type to reach the check's message
        from scratchnet.autograd import _device_error
        from scratchnet.ops.math import Add
        err = _device_error(Add(), [numpy.zeros((2,)), numpy.zeros((3,))])
        assert "Add: expected all tensors on the same device" in str(err) and "shape (3,)" in str(err)
        return
    with pytest.raises(RuntimeError, match=r"cpu .*cuda:0|cuda:0 .*cpu"):
        sn.ones(2, device="cpu") + sn.ones(2, device="cuda")


def test_to_device_roundtrip(device):
    t = sn.randn(3, requires_grad=True)
    u = t.to(device)
    assert u.device == device
    (u * 2).sum().backward()
    numpy.testing.assert_allclose(t.grad.numpy(), 2 * numpy.ones(3))


def test_setitem_guarded_for_grad():
    t = sn.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad is being used in an in-place operation"):
        t[0] = 1.0
    with sn.no_grad():
        t[0] = 1.0
    assert t.tolist() == [1.0, 0.0, 0.0]


def test_cli_version_and_info(capsys):
    from scratchnet import cli
    with pytest.raises(SystemExit):
        cli.main(["--version"])
    assert "scratchnet 0.1.0" in capsys.readouterr().out
    assert cli.main(["info"]) == 0
    out = capsys.readouterr().out
    assert "numpy" in out and "blas threads" in out and "default device" in out and "blas kernels" in out


def test_blas_core_flags_a_forced_avx2_kernel(monkeypatch):
    from scratchnet import backend
    name = backend.blas_core()
    if name is None:
        pytest.skip("NumPy is not linked to an OpenBLAS that reports its kernels")
    monkeypatch.setenv("OPENBLAS_CORETYPE", name)
    with open("/proc/cpuinfo") as f:
        avx512 = " avx512f " in f.read(1 << 16)
    forced = avx512 and name.lower() in ("haswell", "zen", "sandybridge")
    assert backend.blas_core().startswith(name)
    assert ("unset it for faster GEMMs" in backend.blas_core()) == forced
    monkeypatch.delenv("OPENBLAS_CORETYPE")
    assert backend.blas_core() == name


def test_array_protocol_refuses_device_tensors_and_names_the_way_out():
    # Checked on every machine: a stand-in device array is enough to reach the refusal (PyTorch raises TypeError
    # "can't convert cuda:0 device type tensor to numpy. Use Tensor.cpu() ...")
    class FakeDev:
        type = "cuda"

        def __str__(self):
            return "cuda:1"
    t = sn.tensor([1.0, 2.0])
    orig = sn.Tensor.device
    try:
        sn.Tensor.device = property(lambda self: FakeDev())
        with pytest.raises(TypeError, match=r"cuda:1.*Tensor\.cpu\(\)"):
            numpy.asarray(t)
    finally:
        sn.Tensor.device = orig
