"""SIGTERM in the middle of a load: every request on a connection the server accepted is answered.

Runs benchmarks/runtime/sigterm.py's load (32 raw keep-alive connections, each sending its next
request as soon as the last answer is read) for 3 s against a real server and sends SIGTERM
halfway, with one worker and with two (the supervisor gets the signal). Before the drain, 2-23
requests per run met a connection reset with one worker, 26 in a run with two. The figures of
longer runs are in benchmarks/README.md.
"""

import importlib.util
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "runtime" / "sigterm.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("sigterm_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("workers", ["1", "2"])
def test_sigterm_under_load_loses_no_accepted_request(models, workers):
    result = load_bench().sigterm_under_load(models["sklearn"], connections=32, seconds=3.0,
                                             env={"MLFN_WORKERS": workers})
    report = {k: v for k, v in result.items() if k != "stderr_tail"}
    assert result["exit_code"] == 0, result["stderr_tail"]
    assert result["answered"] > 0 and result["after_signal"] > 0, report
    # The drain: nothing reset, nothing left unanswered or cut, no error status.
    assert {k for k in report if k in ("reset", "unanswered", "cut", "connect_error")
            or k.startswith(("status_", "refused_before"))} == set(), report
    # Every connection was told to close (Connection: close), and then found the listener closed.
    assert result["closed"] == 32 and result["refused"] == 32, report
