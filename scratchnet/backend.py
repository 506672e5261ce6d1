"""The array backend: NumPy on the CPU, CuPy on an NVIDIA GPU, chosen per array.

Every op asks `get_array_module(x)` for its `xp` and never names numpy or cupy itself, so one code path serves
both. CuPy is imported only when a GPU is asked for.
"""
import contextlib
import functools
import os

import numpy

_cupy = None
_default_device = None
_generators = {}
_seed = None


class BackendError(RuntimeError):
    """A device was asked for that this machine cannot provide."""


def cupy():
    """Import CuPy on first use; a clear error says how to install it when it is missing or has no GPU."""
    global _cupy
    if _cupy is None:
        try:
            import cupy as cp
        except ImportError as e:
            raise BackendError(
                "device 'cuda' needs CuPy, which is not installed: pip install 'scratchnet[gpu]' "
                "(CUDA 12: cupy-cuda12x; CUDA 13: cupy-cuda13x)") from e
        try:
            count = cp.cuda.runtime.getDeviceCount()
        except Exception as e:  # CuPy raises its own CUDARuntimeError when no driver is present
            raise BackendError(f"device 'cuda' asked for, but CuPy finds no usable GPU: {e}") from e
        if count == 0:
            raise BackendError("device 'cuda' asked for, but CuPy finds no GPU on this machine")
        _cupy = cp
    return _cupy


def _is_cupy_array(a):
    return type(a).__module__.startswith("cupy")


class Device:
    """A device: `Device("cpu")`, `Device("cuda")`, `Device("cuda:1")`. Compares equal to its string form."""

    __slots__ = ("type", "index")

    def __init__(self, spec="cpu", index=None):
        if isinstance(spec, Device):
            spec, index = spec.type, spec.index
        if not isinstance(spec, str):
            raise TypeError(f"device must be a string like 'cpu', 'cuda' or 'cuda:0', got {spec!r}")
        kind, _, num = spec.partition(":")
        if kind not in ("cpu", "cuda") or (num and not num.isdigit()) or (kind == "cpu" and num):
            raise ValueError(f"unknown device {spec!r}: expected 'cpu', 'cuda' or 'cuda:N'")
        self.type = kind
        self.index = int(num) if num else index
        if kind == "cuda" and self.index is None:
            self.index = 0

    def __eq__(self, other):
        if isinstance(other, str):
            try:
                other = Device(other)
            except ValueError:
                return False
        return isinstance(other, Device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self):
        return hash((self.type, self.index))

    def __str__(self):
        return self.type if self.type == "cpu" else f"cuda:{self.index}"

    def __repr__(self):
        return f"device('{self}')"


CPU = Device("cpu")


def device(spec=None):
    """Normalise a device spec (None means the default device)."""
    if spec is None:
        return get_default_device()
    return spec if isinstance(spec, Device) else Device(spec)


def get_default_device():
    """The device new tensors go to: `set_default_device()`, else $SCRATCHNET_DEVICE, else cpu."""
    global _default_device
    if _default_device is None:
        set_default_device(os.environ.get("SCRATCHNET_DEVICE", "cpu") or "cpu")
    return _default_device


def set_default_device(spec):
    """Make `spec` the device new tensors go to. A GPU also becomes this thread's current CUDA device (as
    torch.cuda.set_device), so array code outside scratchnet's ops runs there too; scratchnet's own ops make
    their tensors' device current themselves, whatever the default."""
    global _default_device
    dev = Device(spec)
    if dev.type == "cuda":
        cupy().cuda.Device(dev.index).use()
    _default_device = dev


def get_array_module(*arrays):
    """numpy, or cupy if any argument is a CuPy array (Chainer's `xp`). Tensors are looked through."""
    for a in arrays:
        a = getattr(a, "data", a) if not isinstance(a, numpy.ndarray) else a
        if _is_cupy_array(a):
            return cupy()
    return numpy


xp_of = get_array_module


def xp_for(dev):
    """The array module that holds arrays on device `dev`."""
    return numpy if device(dev).type == "cpu" else cupy()


def device_of(array):
    if type(array).__name__ == "Meta":
        return array.device
    if _is_cupy_array(array):
        return Device("cuda", array.device.id)
    return CPU


def to_device(array, dev):
    """Move (or keep) an array on device `dev`; returns the same array when it is already there."""
    dev = device(dev)
    if dev.type == "cpu":
        return to_numpy(array)
    cp = cupy()
    with cp.cuda.Device(dev.index):
        if _is_cupy_array(array) and array.device.id == dev.index:
            return array
        return cp.asarray(array)


def to_numpy(array):
    """A host (NumPy) copy-or-view of any backend array. A sync point: deferred checks are reported here."""
    if _is_cupy_array(array):
        run_pending_checks()
        return array.get()
    return numpy.asarray(array)


def using(dev):
    """A context manager that makes `dev` current for array creation (a no-op on the CPU)."""
    dev = device(dev)
    if dev.type == "cpu":
        return _NULL
    return cupy().cuda.Device(dev.index)


def on(array):
    """A context that makes `array`'s device current (a no-op for host arrays): CuPy allocates and launches kernels
    on the current device, so work on a cuda:1 array must run with device 1 current."""
    if type(array) is numpy.ndarray or not _is_cupy_array(array):
        return _NULL
    return cupy().cuda.Device(array.device.id)


_NULL = contextlib.nullcontext()


def follows_device(fn):
    """Decorator: run fn with the device of its first argument (a Tensor or an array) current; a plain call on the
    CPU. For functions that work on raw device arrays outside a Function (casts, comparisons, checks)."""
    @functools.wraps(fn)
    def wrapper(x, *args, **kwargs):
        data = x.data if hasattr(x, "_ctx") else x
        if _cupy is None or type(data) is numpy.ndarray:
            return fn(x, *args, **kwargs)
        with on(data):
            return fn(x, *args, **kwargs)
    return wrapper


# ---- checks deferred to the next sync point (a GPU never waits for a validity test inside a step) ----

_pending_checks = []


def check_later(flag, make_error):
    """Raise make_error() at the next sync point if the 0-d device array `flag` is true. On the CPU (a NumPy flag)
    the check runs now. The GPU way, as PyTorch's device-side asserts: a training step is not stalled by a test of
    its inputs, and a bad input is reported at the next read of a value (Tensor.item/tolist/numpy, to_numpy)."""
    if type(flag) is not numpy.ndarray and not isinstance(flag, (bool, numpy.bool_)):
        _pending_checks.append((flag, make_error))
        if len(_pending_checks) > 256:  # bounded: a loop that never reads a value still gets its errors
            run_pending_checks()
    elif bool(flag):
        raise make_error()


def run_pending_checks():
    """Read the deferred flags (one device->host transfer each) and raise the first failed check's error."""
    if not _pending_checks:
        return
    checks = _pending_checks[:]
    _pending_checks.clear()
    for flag, make_error in checks:
        with on(flag):
            failed = bool(flag)
        if failed:
            raise make_error()


def scatter_add(xp, target, index, values):
    """target[index] += values, where repeated indices add up (np.add.at; cupyx.scatter_add on the GPU)."""
    if xp is numpy:
        rows = index[0] if isinstance(index, tuple) and len(index) == 1 else index
        if isinstance(rows, numpy.ndarray) and rows.ndim == 1 and rows.dtype.kind in "iu" and target.ndim > 1 \
                and rows.size and rows.min() >= 0 and values.shape == rows.shape + target.shape[1:]:
            # whole rows (an embedding's backward): add.at walks them one element at a time, 25x slower than
            # sorting the rows by target, summing each run with reduceat and adding every sum once
            order = numpy.argsort(rows, kind="stable")
            rows = rows[order]
            starts = numpy.flatnonzero(numpy.r_[True, rows[1:] != rows[:-1]])
            target[rows[starts]] += numpy.add.reduceat(values[order], starts, axis=0)
        else:
            numpy.add.at(target, index, values)
    else:
        # ufunc.at (CuPy 13+), not the deprecated cupyx.scatter_add (a DeprecationWarning on every call)
        at = getattr(xp.add, "at", None)
        if at is not None:
            at(target, index, values)
        else:
            import cupyx
            cupyx.scatter_add(target, index, values)
    return target


# ---- random numbers: one generator per device, reseeded by manual_seed, saved whole by get_rng_state ----

def manual_seed(seed):
    """Seed every backend's generator, so runs on the same backend repeat exactly."""
    global _seed
    _seed = int(seed)
    _generators.clear()
    numpy.random.seed(_seed % 2**32)  # for code that still uses the legacy global state
    if _cupy is not None:
        _cupy.random.seed(_seed)  # CuPy's own global stream (current device), for user code that draws from it


class DeviceGenerator:
    """The random stream of one GPU, counter-based: draw i comes from a CuPy RandomState seeded with a hash of
    (entropy, i). CuPy's RandomState cannot report or restore its state, so this one keeps its own: the
    pair (entropy, draws) is the whole state, and restoring it continues the stream exactly (get_rng_state).
    Seeding happens on the host and nothing is read back from the device. As torch.manual_seed does for every GPU,
    one seed gives every device the same stream, so a run on cuda:1 repeats one on cuda:0 (and data-parallel ranks,
    each on its own GPU, draw what one process would)."""

    def __init__(self, dev, entropy):
        self.dev, self.entropy, self.draws = dev, int(entropy), 0

    def _next(self):
        seq = numpy.random.SeedSequence(self.entropy, spawn_key=(self.draws,))
        self.draws += 1
        return cupy().random.RandomState(int(seq.generate_state(1, numpy.uint64)[0]) >> 1)

    def standard_normal(self, shape, dtype):
        return self._next().standard_normal(shape, dtype=dtype)

    def random_sample(self, shape, dtype):
        return self._next().random_sample(shape, dtype=dtype)

    def randint(self, low, high, shape, dtype):
        return self._next().randint(low, high, shape, dtype=dtype)

    @property
    def state(self):
        return {"entropy": self.entropy, "draws": self.draws}

    @state.setter
    def state(self, value):
        self.entropy, self.draws = int(value["entropy"]), int(value["draws"])


def generator(dev=None):
    """The random generator of a device: numpy.random.Generator on the CPU, a DeviceGenerator on a GPU."""
    dev = device(dev)
    gen = _generators.get(dev)
    if gen is None:
        if dev.type == "cpu":
            gen = numpy.random.default_rng(_seed)
        else:
            gen = DeviceGenerator(dev, _seed if _seed is not None else numpy.random.SeedSequence().entropy)
        _generators[dev] = gen
    return gen


def get_rng_state():
    """The state of every generator in use (CPU and each GPU) as a JSON-able dict, for checkpoints: with
    set_rng_state it makes a resumed run draw exactly what an uninterrupted one would, on any device."""
    out = {"seed": _seed, "cpu": generator("cpu").bit_generator.state, "cuda": {}}
    for dev, gen in _generators.items():
        if dev.type == "cuda":
            out["cuda"][str(dev.index)] = gen.state
    return out


def set_rng_state(state):
    """Restore what get_rng_state returned. Older checkpoints held only the CPU generator's bit-generator state."""
    global _seed
    if "cpu" not in state:  # a bare numpy bit-generator state, as checkpoints before device states saved
        generator("cpu").bit_generator.state = state
        return
    _seed = state.get("seed")
    generator("cpu").bit_generator.state = state["cpu"]
    for index, st in state.get("cuda", {}).items():
        dev = Device("cuda", int(index))
        gen = _generators.get(dev)
        if gen is None:
            gen = _generators[dev] = DeviceGenerator(dev, st["entropy"])
        gen.state = st


_row_shard = None


@contextlib.contextmanager
def sharded_rows(lo, hi, n):
    """Inside: a random draw whose first dimension is hi − lo (this process's rows lo:hi of a global batch of n)
    is drawn for all n rows and cut to lo:hi. Every data-parallel rank then draws exactly what one process would
    for the whole batch (noise, dropout masks), and the ranks' generators stay in step."""
    global _row_shard
    old, _row_shard = _row_shard, (lo, hi, n)
    try:
        yield
    finally:
        _row_shard = old


def _draw(draw, shape):
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    s = _row_shard
    if s is None or not shape or shape[0] != s[1] - s[0] or s[1] - s[0] == s[2]:
        return draw(shape)
    return draw((s[2],) + shape[1:])[s[0]:s[1]]


def random_normal(shape, dtype, dev=None):
    gen = generator(dev)
    with using(device(dev)):
        return _draw(lambda sh: gen.standard_normal(sh, dtype=dtype), shape)


def random_uniform(shape, dtype, dev=None):
    gen = generator(dev)
    with using(device(dev)):
        if isinstance(gen, numpy.random.Generator):
            return _draw(lambda sh: gen.random(sh, dtype=dtype), shape)
        return _draw(lambda sh: gen.random_sample(sh, dtype=dtype), shape)


def random_integers(low, high, shape, dev=None):
    gen = generator(dev)
    with using(device(dev)):
        if isinstance(gen, numpy.random.Generator):
            return _draw(lambda sh: gen.integers(low, high, sh, dtype=numpy.int64), shape)
        return _draw(lambda sh: gen.randint(low, high, sh, dtype=numpy.int64), shape)


def tune_allocator():
    """Keep freed large buffers in the process instead of returning them to the OS after every op.

    glibc serves allocations over 128 KiB-32 MiB with mmap and unmaps them on free, so each training step would
    page-fault every activation and gradient buffer in anew (~30% of a small CNN's step time). Raising the mmap and
    trim thresholds lets malloc reuse those pages. This is process-wide, so importing scratchnet does not do it:
    the command line and the benchmarks call it (SCRATCHNET_MALLOC_TUNE=0 stops them), a script may call it
    itself, and SCRATCHNET_MALLOC_TUNE=1 makes `import scratchnet` do it. Returns True if applied.
    """
    if os.environ.get("SCRATCHNET_MALLOC_TUNE", "1") == "0" or not hasattr(os, "uname") or \
            os.uname().sysname != "Linux":
        return False
    import ctypes
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    ok = libc.mallopt(m_mmap_threshold, 512 * 2**20)
    ok &= libc.mallopt(m_trim_threshold, 2**30)
    return bool(ok)


# ---- threads: scratchnet's own, and BLAS kept on one inside them ----

_blas_libs = None


def _blas():
    """threadpoolctl's controllers of the BLAS libraries loaded in this process (found once, on first use)."""
    global _blas_libs
    if _blas_libs is None:
        try:
            from threadpoolctl import ThreadpoolController
            _blas_libs = list(ThreadpoolController().select(user_api="blas").lib_controllers)
        except ImportError:   # threadpoolctl is a dependency; without it BLAS is simply left alone
            _blas_libs = []
    return _blas_libs


class _OneBlasThread:
    """`threadpool_limits(1, user_api="blas")` as a scoped, re-entrant context: the first region to enter sets
    every BLAS library to one thread, the last to leave restores the counts it found, so nested and concurrent
    regions cost a lock and a counter. Outside these regions BLAS runs with the user's settings."""

    def __init__(self):
        import threading
        self.lock, self.depth, self.saved = threading.Lock(), 0, []

    def __enter__(self):
        with self.lock:
            if self.depth == 0:
                self.saved = [(lib, lib.get_num_threads()) for lib in _blas()]
                for lib, n in self.saved:
                    if n != 1:
                        lib.set_num_threads(1)
            self.depth += 1
        return self

    def __exit__(self, *exc):
        with self.lock:
            self.depth -= 1
            if self.depth == 0:
                for lib, n in self.saved:
                    if n != 1:
                        lib.set_num_threads(n)
        return False


_one_blas_thread = _OneBlasThread()


def one_blas_thread():
    """The context scratchnet runs its CPU work in: BLAS on one thread, because scratchnet splits the work over
    its own threads (set_num_threads) and OpenBLAS's idle threads would spin after every call and fight them for
    the cores. Nothing changes for NumPy code outside scratchnet."""
    return _one_blas_thread


def blas_threads():
    """How many threads NumPy's BLAS uses outside scratchnet's regions (None if threadpoolctl finds no BLAS)."""
    libs = _blas()
    if not libs:
        return None
    if _one_blas_thread.depth:
        return max(n for _, n in _one_blas_thread.saved)
    return max(lib.get_num_threads() for lib in libs)


def blas_core():
    """The CPU kernel family NumPy's OpenBLAS runs ("Haswell" = AVX2, "SkylakeX"/"Cooperlake" = AVX-512), plus a
    note when $OPENBLAS_CORETYPE forces AVX2 kernels on a CPU that has AVX-512 (GEMMs then run ~1.7x slower)."""
    names = [lib.info().get("architecture") for lib in _blas() if lib.internal_api == "openblas"]
    name = next((n for n in names if n), None)
    if name is None:
        return None
    forced = os.environ.get("OPENBLAS_CORETYPE")
    try:
        with open("/proc/cpuinfo") as f:
            avx512 = " avx512f " in f.read(1 << 16)
    except OSError:
        avx512 = False
    if forced and avx512 and name.lower() in ("haswell", "zen", "sandybridge"):
        return f"{name} (forced by OPENBLAS_CORETYPE={forced}; this CPU has AVX-512, unset it for faster GEMMs)"
    return name


_num_threads = None


def num_threads():
    """Threads scratchnet splits CPU work over (see set_num_threads)."""
    if _num_threads is None:
        set_num_threads(None)
    return _num_threads


def set_num_threads(n=None):
    """Use n threads for CPU work, like torch.set_num_threads. None: $SCRATCHNET_NUM_THREADS, else NumPy's BLAS
    thread count (so OPENBLAS_NUM_THREADS=1 means one thread), else the CPUs this process may use.

    scratchnet does its own splitting (over the batch, or over the rows of a large GEMM) and runs BLAS on one
    thread inside those regions only (one_blas_thread); the BLAS settings of the rest of the program are left
    as they are.
    """
    global _num_threads
    if n is None:
        env = os.environ.get("SCRATCHNET_NUM_THREADS")
        n = int(env) if env else blas_threads() or (
            len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count())
    _num_threads = max(1, int(n))


_executor = None


def chunks(start, stop, per_item_bytes, limit_bytes):
    """[start, stop) cut into consecutive ranges of as many items as fit in limit_bytes (at least one each)."""
    step = max(1, int(limit_bytes) // max(int(per_item_bytes), 1))
    return [(i, min(stop, i + step)) for i in range(start, stop, step)]


def over_batch(xp, n, body, min_items=2):
    """body(start, stop) over [0, n): split across threads on the CPU (see parallel_for), whole on a GPU.

    An empty batch (n = 0) runs no body at all: bodies may index the first sample for its size."""
    if n <= 0:
        return
    if xp is numpy:
        parallel_for(n, body, min_items)
    else:
        body(0, n)


def parallel_for(n, body, min_items=2):
    """Run body(start, stop) over [0, n) split into one contiguous range per thread, and wait for all.

    NumPy releases the GIL inside copies, ufunc loops and BLAS calls, so splitting whole-batch array work over the
    batch axis uses every core for work that would otherwise run on one. Each body must write disjoint outputs.
    """
    global _executor
    t = min(num_threads(), n // max(min_items, 1))
    with _one_blas_thread:
        if t <= 1:
            body(0, n)
            return
        from concurrent.futures import ThreadPoolExecutor
        if _executor is None or _executor._max_workers < t:
            _executor = ThreadPoolExecutor(max_workers=t, thread_name_prefix="scratchnet")
        cuts = [n * i // t for i in range(t + 1)]
        futures = [_executor.submit(body, a, b) for a, b in zip(cuts[1:-1], cuts[2:])]
        body(cuts[0], cuts[1])  # the calling thread takes the first share instead of waiting idle
        for f in futures:
            f.result()
