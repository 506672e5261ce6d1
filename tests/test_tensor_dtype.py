"""tensor()/as_tensor() pick the dtype PyTorch picks: an array's or NumPy scalar's own, a Python number's default,
a list's items promoted together; what no tensor can hold is refused."""
import numpy as np
import pytest
torch = pytest.importorskip("torch")  # the reference; `make torch` installs it (CI does)

import scratchnet as sn

HOLDABLE = ["bool", "uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64",
            "float16", "float32", "float64", "complex64", "complex128"]


def _inputs():
    cases = []
    for name in HOLDABLE:
        cases += [np.arange(6).reshape(2, 3).astype(name), np.array(3, dtype=name)]
        if name != "uint64":  # torch.tensor(np.uint64(1)) itself fails ("an integer is required")
            cases += [np.dtype(name).type(1), [np.dtype(name).type(1), np.dtype(name).type(0)]]
    cases += [1, 2.5, True, 1j, [1, 2], [1, 2.5], [[1], [2.5]], [True, 1], [True, False], [1, 1j], [], [[]],
              [np.float64(1.5), 2], [np.float64(1.5), 2.0], [np.int32(1), 2], [np.int32(1), np.float16(2.5)],
              [np.uint8(1), np.int8(-1)], [np.float16(1), 2], [np.float16(1), 2.5], [np.int8(1), True],
              [np.float64(1), 1j], [np.float16(1), 1j], [np.complex64(1), np.float64(2)],
              [np.zeros(2), np.ones(2)], [np.zeros(2, np.int32), np.ones(2, np.int32)], (1, 2.0), ((1, 2), (3, 4))]
    return cases


CASES = _inputs()


@pytest.fixture(autouse=True)
def _torch_default_float32():
    # scratchnet's default float is float32: compare with torch under its own default, whatever other tests set
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float32)
    yield
    torch.set_default_dtype(old)


@pytest.mark.parametrize("factory", ["tensor", "as_tensor"])
@pytest.mark.parametrize("data", CASES, ids=[f"{i}-{type(c).__name__}" for i, c in enumerate(CASES)])
def test_dtype_and_values_match_torch(factory, data):
    want = getattr(torch, factory)(data)
    got = getattr(sn, factory)(data)
    assert str(got.dtype) == str(want.dtype).removeprefix("torch."), (data, got.dtype, want.dtype)
    assert got.shape == tuple(want.shape)
    np.testing.assert_array_equal(got.numpy(), want.numpy())


@pytest.mark.parametrize("data", [[torch.tensor(1.0, dtype=torch.float64), 2.0], [torch.tensor(1), 2]])
def test_list_of_0d_tensors_promotes_like_torch(data):
    want = torch.tensor(data)
    got = sn.tensor([sn.tensor(x.numpy()) if isinstance(x, torch.Tensor) else x for x in data])
    assert str(got.dtype) == str(want.dtype).removeprefix("torch.")
    np.testing.assert_array_equal(got.numpy(), want.numpy())


@pytest.mark.parametrize("name", ["float64", "int32", "float16", "uint8"])
def test_tensor_of_tensor_keeps_dtype_and_copies(name):
    src = sn.tensor(np.arange(3).astype(name))
    out = sn.tensor(src)
    assert out.dtype == np.dtype(name) and out is not src
    assert sn.as_tensor(src) is src


@pytest.mark.parametrize("data", [np.arange(4.0), np.arange(4, dtype=np.int32), np.float64(2.5), [np.float64(1), 2]])
@pytest.mark.parametrize("dtype", ["float32", "int64", "float16", "complex64", "bool"])
def test_explicit_dtype_wins(data, dtype):
    got = sn.tensor(data, dtype=dtype)
    want = torch.tensor(data, dtype=getattr(torch, dtype))
    assert got.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    assert sn.as_tensor(data, dtype=dtype).dtype == np.dtype(dtype)


def test_as_tensor_keeps_dtype_of_tensor_and_converts_when_asked():
    x = sn.tensor(np.arange(3.0))
    assert sn.as_tensor(x) is x and x.dtype == np.float64
    y = sn.as_tensor(x, dtype=sn.float32)
    assert y is not x and y.dtype == np.float32


def test_requires_grad_on_float64_array_gives_float64_grad():
    x = sn.tensor(np.array([1.0, 2.0]), requires_grad=True)
    (x * x).sum().backward()
    assert x.grad.dtype == np.float64
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0])


@pytest.mark.parametrize("data", [np.zeros(2, np.longdouble), np.zeros(2, np.clongdouble), np.longdouble(1),
                                  np.array(["a", "b"]), np.array([1, None], dtype=object),
                                  np.zeros(2, "datetime64[s]")])
def test_unholdable_dtypes_are_refused_like_torch(data):
    with pytest.raises(TypeError):
        torch.tensor(data)
    with pytest.raises(TypeError, match="dtype"):
        sn.tensor(data)
    with pytest.raises(TypeError, match="dtype"):
        sn.as_tensor(data)


def test_unholdable_dtype_argument_is_refused():
    with pytest.raises(TypeError, match="dtype= argument"):
        sn.tensor([1.0], dtype=np.longdouble)


def test_promote_types_float_with_complex_keeps_precision():
    a = sn.tensor(np.zeros(2, np.float64))
    b = sn.tensor(np.zeros(2, np.complex64))
    want = torch.zeros(2, dtype=torch.float64) + torch.zeros(2, dtype=torch.complex64)
    assert str((a + b).dtype) == str(want.dtype).removeprefix("torch.")


@pytest.mark.parametrize("name", ["float64", "int32", "float16", "uint8", "bool"])
def test_backend_array_keeps_dtype_on_its_device(name):
    # .data is a CuPy array under SCRATCHNET_DEVICE=cuda (the stand-in lane), a NumPy one otherwise
    src = sn.tensor(np.arange(3).astype(name))
    out = sn.tensor(src.data, device=src.device)
    assert out.dtype == np.dtype(name) and out.device == src.device
    np.testing.assert_array_equal(out.numpy(), np.arange(3).astype(name))
    assert sn.tensor(src.data, dtype="float32").dtype == np.float32


@pytest.mark.parametrize("name", ["float64", "int32", "uint8"])
def test_as_tensor_shares_an_array_of_its_dtype_like_torch(name):
    a = np.arange(4).astype(name)
    on_cpu = sn.tensor(0).device.type == "cpu"   # under the GPU lane the default device is cuda: a copy
    t = sn.as_tensor(a)
    assert t.dtype == np.dtype(name)
    a[0] = 7
    assert (t.numpy()[0] == 7) == on_cpu
    cpu = sn.as_tensor(a, dtype=name, device="cpu")
    a[1] = 9
    assert cpu.numpy()[1] == 9
    other = sn.as_tensor(a, dtype="float32" if name != "float32" else "float64", device="cpu")
    a[2] = 5
    assert other.numpy()[2] == 2 and other.dtype != np.dtype(name)
    copied = sn.tensor(a, device="cpu")
    a[3] = 6
    assert copied.numpy()[3] == 3


@pytest.mark.parametrize("data", [2 ** 63, [1, 2 ** 63], -2 ** 63 - 1, [2 ** 64 + 1]])
def test_python_int_past_int64_is_refused_not_wrapped(data):
    with pytest.raises((RuntimeError, ValueError)):  # torch words it "Overflow when unpacking long"
        torch.tensor(data)
    with pytest.raises(OverflowError):
        sn.tensor(data)
