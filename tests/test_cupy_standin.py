"""The CuPy stand-in itself (tests/cupy_standin): it must refuse what real CuPy refuses and count what it moves,
or the GPU lane (make test-gpu-sim) proves nothing. Run in a subprocess so this process's `cupy` stays untouched."""
import os
import subprocess
import sys

STANDIN = os.path.join(os.path.dirname(__file__), "cupy_standin")

SCRIPT = r'''
import numpy, pytest, cupy, cupyx, warnings
c = cupy.standin
a = cupy.arange(6, dtype=cupy.float32).reshape(2, 3)
# the host/device wall (CuPy's TypeErrors)
with pytest.raises(TypeError, match="Implicit conversion to a NumPy array is not allowed"):
    numpy.asarray(a)
with pytest.raises(TypeError, match="Implicit conversion"):
    numpy.sum(a)
with pytest.raises(TypeError, match="Unsupported type"):
    a + numpy.ones(3, numpy.float32)
with pytest.raises(TypeError, match="Unsupported type"):
    numpy.ones(3, numpy.float32) + a
with pytest.raises(TypeError, match="Unsupported type"):
    cupy.maximum(a, numpy.zeros(3))
# reductions are 0-d device arrays; NumPy scalars and Python scalars are kernel arguments
s = a.sum()
assert type(s) is cupy.ndarray and s.shape == () and type(numpy.float32(2) * a) is cupy.ndarray
# counters: explicit transfers, uploads, kernels
with c.counting() as k:
    a.get(); cupy.asnumpy(a); s.item(); float(s); int(s); bool(s > 0); a.tolist()
assert (k.d2h, k.h2d) == (7, 0), k.log
with c.counting() as k:
    b = cupy.asarray(numpy.ones(3)); a * 2.0; a.reshape(3, 2); a.T; a[0]
assert (k.d2h, k.h2d, k.kernels) == (0, 1, 1), k.log
with c.counting() as k:
    a[a > 2]
assert k.d2h == 1 and k.h2d == 0
# devices: two of them, arrays remember theirs, work on a non-current device's array is refused
assert cupy.cuda.runtime.getDeviceCount() >= 2
with cupy.cuda.Device(1) as d:
    assert d.id == 1 and cupy.cuda.Device().id == 1
    b1 = cupy.zeros(3)
assert cupy.cuda.Device().id == 0 and b1.device.id == 1 and b1.device == cupy.cuda.Device(1)
with pytest.raises(ValueError, match="device 1"):
    b1 + 1
with cupy.cuda.Device(1):
    assert (b1 + 1).device.id == 1
    with pytest.raises(ValueError):
        a + 1
    assert cupy.asarray(a).device.id == 1  # a copy between devices
import threading
seen = []
with cupy.cuda.Device(1):
    t = threading.Thread(target=lambda: seen.append(cupy.cuda.Device().id)); t.start(); t.join()
assert seen == [0]  # every host thread starts on device 0, as in CUDA
# random: CuPy's API, per device, float32/float64 only
rs = cupy.random.RandomState(3)
x = rs.standard_normal((2, 2), dtype=cupy.float32)
assert x.dtype == numpy.float32 and type(x) is cupy.ndarray
with pytest.raises(TypeError):
    rs.standard_normal((2,), dtype=numpy.int32)
assert cupy.random.get_random_state() is cupy.random.get_random_state()
cupy.random.seed(1); u = cupy.random.rand(3).get(); cupy.random.seed(1); assert (cupy.random.rand(3).get() == u).all()
g = cupy.random.default_rng(0); assert g.integers(0, 5, 4).dtype == numpy.int64 and g.random(2).shape == (2,)
with cupy.cuda.Device(1):
    with pytest.raises(ValueError):
        rs.standard_normal(2)
# streams and events
e0, e1 = cupy.cuda.Event(), cupy.cuda.Event()
with cupy.cuda.Stream() as st:
    e0.record(); a @ a.T; e1.record(); e1.synchronize()
assert cupy.cuda.get_elapsed_time(e0, e1) >= 0
# ufunc.at, and the deprecated cupyx.scatter_add warns
t = cupy.zeros(3); cupy.add.at(t, cupy.asarray([0, 0, 2]), 1.0); assert t.get().tolist() == [2, 0, 1]
with pytest.warns(DeprecationWarning):
    cupyx.scatter_add(t, cupy.asarray([1]), 1.0)
assert cupy.get_array_module(a) is cupy and cupy.get_array_module(numpy.ones(1)) is numpy
print("OK")
'''


def test_standin_models_cupy_rules():
    env = dict(os.environ, PYTHONPATH=STANDIN + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip().endswith("OK"), r.stdout + r.stderr
