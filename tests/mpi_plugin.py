"""Pytest under `mpiexec -n N python -m pytest -m mpi`: every rank runs the same tests in step.

* Ranks other than 0 write their terminal output to $TMPDIR/scratchnet-pytest-rank<r>.log, so the run's output
  is rank 0's and ends with its summary line.
* After each `mpi` test every rank learns every other rank's outcome: a test that failed on any rank fails on all
  of them, with the failing ranks' errors in the message. So rank 0's report (and every rank's exit status) shows a
  failure wherever it happened, and no rank runs ahead into the next test's collectives.
* The `world` fixture initialises scratchnet.distributed; with fewer than 2 ranks an mpi test is skipped, or fails
  when SCRATCHNET_REQUIRE_MPI=1 (CI).
"""
import os
import tempfile

import pytest

from scratchnet.distributed.comm import launcher_world

_LAUNCHED = launcher_world()


@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    config.addinivalue_line("markers", "mpi: needs 2+ ranks: mpiexec -n 2 python -m pytest -m mpi")
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if _LAUNCHED and _LAUNCHED[0] > 1 and _LAUNCHED[1] > 0 and reporter is not None:
        # pytest's own reporter, writing to a log file instead of the terminal
        from _pytest.terminal import TerminalReporter
        log = open(os.path.join(tempfile.gettempdir(), f"scratchnet-pytest-rank{_LAUNCHED[1]}.log"), "w")
        config.pluginmanager.unregister(reporter)
        config.pluginmanager.register(TerminalReporter(config, file=log), "terminalreporter")


@pytest.fixture
def world():
    """scratchnet.distributed, initialised on MPI with 2+ ranks."""
    import scratchnet.distributed as dist
    if not _LAUNCHED or _LAUNCHED[0] < 2:
        if os.environ.get("SCRATCHNET_REQUIRE_MPI"):
            pytest.fail("SCRATCHNET_REQUIRE_MPI=1 but not launched with 2+ ranks: mpiexec -n 2 python -m pytest -m mpi")
        pytest.skip("needs 2+ MPI ranks: mpiexec -n 2 python -m pytest -m mpi")
    dist.init("mpi")
    return dist


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    if item.get_closest_marker("mpi") is None or not _LAUNCHED or _LAUNCHED[0] < 2:
        return (yield)
    from mpi4py import MPI
    comm = MPI.COMM_WORLD
    error = None
    try:
        result = yield
    except pytest.skip.Exception:
        raise
    except BaseException as e:   # noqa: B902  (reported to the other ranks, then re-raised)
        error = e
    errors = comm.allgather(None if error is None else f"rank {comm.rank}: {type(error).__name__}: {error}")
    if error is not None:
        raise error
    failed = [e for e in errors if e]
    if failed:
        raise AssertionError("failed on another rank: " + " | ".join(failed))
    return result
