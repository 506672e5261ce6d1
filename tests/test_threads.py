"""BLAS threads: scratchnet limits BLAS to one thread only inside its own parallel regions (threadpoolctl), so
importing or using scratchnet leaves the rest of the program's NumPy as it was."""
import os
import subprocess
import sys

import numpy
import pytest

threadpoolctl = pytest.importorskip("threadpoolctl")
from scratchnet import backend  # noqa: E402


def _blas_threads():
    """The thread count of NumPy's own BLAS (other libraries, e.g. PyTorch's, bring their own and are not ours)."""
    info = [i for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
    mine = [i for i in info if os.path.dirname(numpy.__file__) in i["filepath"] or "numpy" in i["filepath"]]
    if not info:
        pytest.skip("threadpoolctl finds no BLAS library")
    return max(i["num_threads"] for i in (mine or info))


def test_import_and_use_leave_numpys_blas_threads_alone():
    code = """
import numpy, threadpoolctl
def blas():
    return [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
before = blas()
import scratchnet as sn
after_import = blas()
x = sn.randn(64, 1, 28, 28, requires_grad=True)
w = sn.randn(8, 1, 3, 3, requires_grad=True)
sn.nn.functional.conv2d(x, w, padding=1).sum().backward()
(sn.randn(300, 300) @ sn.randn(300, 300)).sum()
print(before, after_import, blas())
"""
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                                                            "SCRATCHNET_NUM_THREADS", "MKL_NUM_THREADS")}
    env["PYTHONPATH"] = os.pathsep.join([os.path.dirname(os.path.dirname(backend.__file__))] + sys.path)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    before, after_import, after_use = r.stdout.strip().rsplit("] ", 2)
    assert before + "]" == after_import + "]" == after_use, r.stdout


def test_blas_runs_on_one_thread_inside_parallel_regions_and_is_restored():
    outside = _blas_threads()
    seen = []

    def body(a, b):
        seen.append(_blas_threads())
    backend.parallel_for(8, body)
    assert seen and set(seen) == {1}
    assert _blas_threads() == outside
    with backend.one_blas_thread():           # nested regions restore once, at the outermost exit
        with backend.one_blas_thread():
            assert _blas_threads() == 1
        assert _blas_threads() == 1
        assert backend.blas_threads() == outside, "blas_threads() reports the user's setting"
    assert _blas_threads() == outside
    with pytest.raises(ZeroDivisionError):
        backend.parallel_for(8, lambda a, b: 1 / 0)
    assert _blas_threads() == outside


def test_user_blas_limits_are_respected_and_restored():
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        users = _blas_threads()
        assert backend.blas_threads() == users
        backend.parallel_for(4, lambda a, b: numpy.ones((64, 64)) @ numpy.ones((64, 64)))
        assert _blas_threads() == users, "a region gives back the user's own limit"


def test_default_thread_count_follows_blas(monkeypatch):
    monkeypatch.delenv("SCRATCHNET_NUM_THREADS", raising=False)
    saved = backend.num_threads()
    try:
        with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
            backend.set_num_threads(None)
            assert backend.num_threads() == 1
        monkeypatch.setenv("SCRATCHNET_NUM_THREADS", "3")
        backend.set_num_threads(None)
        assert backend.num_threads() == 3
    finally:
        backend.set_num_threads(saved)


def _relabelled_ctrl_c():
    """What CPython's Condition.wait can leave when a Ctrl-C lands in the gap after it lets go of its lock: the
    KeyboardInterrupt as the context of RuntimeError("cannot release un-acquired lock")."""
    try:
        raise KeyboardInterrupt
    except KeyboardInterrupt:
        raise RuntimeError("cannot release un-acquired lock")


def test_a_ctrl_c_inside_a_parallel_region_stays_a_ctrl_c_and_waits_for_the_workers():
    import threading
    import time
    finished = []
    lock = threading.Lock()

    def body(start, stop):
        if start == 0:
            _relabelled_ctrl_c()
        time.sleep(0.2)   # a worker still busy when the calling thread's share fails
        with lock:
            finished.append(start)

    old = backend.num_threads()
    backend.set_num_threads(3)
    try:
        with pytest.raises(KeyboardInterrupt):
            backend.parallel_for(9, body)
        assert len(finished) == 2   # both workers ended before the interrupt left the region
        with pytest.raises(ValueError, match="share"):   # any other failure is passed on unchanged
            backend.parallel_for(9, lambda a, b: (_ for _ in ()).throw(ValueError(f"share {a}")))
    finally:
        backend.set_num_threads(old)


def test_the_cli_reports_a_relabelled_ctrl_c_as_interrupted(monkeypatch, capsys):
    from scratchnet import cli
    from scratchnet.apps import classify
    monkeypatch.setattr(classify, "train", lambda **kw: _relabelled_ctrl_c())
    sample = os.path.join(os.path.dirname(classify.__file__), "..", "data", "fashion_mnist_sample")
    code = cli.main(["train", "--data", sample, "--epochs", "1"])
    err = capsys.readouterr().err
    assert code == 130 and "interrupted" in err and "Traceback" not in err
