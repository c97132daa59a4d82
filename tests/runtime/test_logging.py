"""Every stderr line is one JSON object: uvicorn's lines and Python warnings too; load failures
name the exception's type (issue #12, item 8)."""

import json
import socket

import pytest
from mlfn_runtime.contract import Manifest

pytestmark = pytest.mark.slow

HANDLERS = '''
import warnings


class Warns:
    def load(self, model_dir):
        warnings.warn("this model was saved by an older version", UserWarning)

    def predict(self, instances, parameters):
        return [0 for _ in instances]


class Missing:
    def load(self, model_dir):
        {}[18]
'''


def handler_model(tmp_path, cls):
    d = tmp_path / cls
    d.mkdir()
    (d / "handlers.py").write_text(HANDLERS)
    Manifest(name=cls.lower(), format="custom", handler=f"handlers:{cls}").write(d)
    return d


def records(stderr: str) -> list[dict]:
    return [json.loads(ln) for ln in stderr.splitlines() if ln.strip()]  # fails on any plain line


def test_uvicorn_lines_and_warnings_are_json(tmp_path, serve):
    s = serve(handler_model(tmp_path, "Warns"))
    host, port = s.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as c:
        c.sendall(b"NOT HTTP AT ALL\r\n\r\n")  # uvicorn logs "Invalid HTTP request received."
        assert c.recv(1024).startswith(b"HTTP/1.1 400")
    s.stop()
    logged = records(s.proc.stderr.read())
    assert any(r["logger"] == "py.warnings" and "saved by an older version" in r["message"] for r in logged)
    assert any(r["logger"].startswith("uvicorn") and "Invalid HTTP request" in r["message"] for r in logged)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_load_failure_names_the_exception_type(tmp_path, serve, workers):
    s = serve(handler_model(tmp_path, "Missing"), env={"MLFN_WORKERS": workers}, ready=False)
    assert s.proc.wait(60) == 1
    logged = records(s.proc.stderr.read())
    assert any("the model failed to load" in r["message"] and "KeyError: 18" in r["message"] for r in logged), logged


def test_health_probes_while_the_model_loads_are_not_logged(caplog):
    """Platforms probe every few seconds during a load: 503 not_ready on a GET is debug, not info;
    a predict refused while loading is still logged."""
    import logging
    import threading

    from mlfn_runtime.app import build_app
    from mlfn_runtime.settings import Settings
    from starlette.testclient import TestClient

    release = threading.Event()

    def slow_loader():
        release.wait(10)
        raise RuntimeError("never loads in this test")

    app = build_app(Settings.from_env({}), loader=slow_loader, on_load_failure=lambda e: None)
    caplog.set_level(logging.INFO, logger="mlfn_runtime")
    try:
        with TestClient(app) as client:
            for _ in range(5):
                assert client.get("/health/ready").status_code == 503
            assert client.post("/invocations", json={"instances": [[1, 2, 3, 4]]}).status_code == 503
    finally:
        release.set()
    lines = [r.getMessage() for r in caplog.records if "-> 503" in r.getMessage()]
    assert lines and all(line.startswith("POST /invocations") for line in lines)


def test_each_line_names_its_process():
    """Workers of one container share its log: the process id tells their lines apart."""
    import logging
    import os

    from mlfn_runtime.logs import JsonFormatter

    record = logging.LogRecord("mlfn_runtime", logging.INFO, __file__, 1, "hello %s", ("there",), None)
    line = json.loads(JsonFormatter().format(record))
    assert line["pid"] == os.getpid() and line["message"] == "hello there"
