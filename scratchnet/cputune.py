"""CPU tuning: scratchnet's own thread pool (work split over the batch), BLAS kept on one thread inside it
(threadpoolctl, scoped), the batch chunking that keeps im2col columns in cache, and the opt-in malloc tuning.
"""
import os

import numpy


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
        try:
            body(cuts[0], cuts[1])  # the calling thread takes the first share instead of waiting idle
            for f in futures:
                f.result()
        except BaseException as err:
            # Ctrl-C or a failing share: the workers finish theirs before the region (and its BLAS setting) ends
            for f in futures:
                _quiet_wait(f)
            raise interruption(err)


def interruption(err):
    """The KeyboardInterrupt behind err, else err itself.

    A Ctrl-C that lands while threading.Condition.wait has let go of its lock (Future.result waits on one) can
    leave `with condition:` releasing a lock it no longer holds, so the interrupt surfaces as
    RuntimeError("cannot release un-acquired lock") with the KeyboardInterrupt as its context (a CPython race)."""
    seen = err
    while seen is not None:
        if isinstance(seen, KeyboardInterrupt):
            return seen
        seen = seen.__context__
    return err


def _quiet_wait(future):
    """Wait for a worker's share, whatever it raised: the error that matters is the one already unwinding."""
    try:
        future.result()
    except BaseException:
        pass
