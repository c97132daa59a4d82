"""A real `mlfn-runtime serve` process on 127.0.0.1: every protocol over HTTP, SIGTERM, load failures."""

import shutil
import signal
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from runtime_helpers import ROWS

pytestmark = pytest.mark.slow


def test_every_protocol_over_http(models, serve):
    s = serve(models["sklearn"], env={"AIP_HEALTH_ROUTE": "/vx/health", "AIP_PREDICT_ROUTE": "/vx/predict"})
    with httpx.Client(base_url=s.url, timeout=10) as c:
        assert c.get("/ping").status_code == 200
        predictions = c.post("/invocations", json={"instances": ROWS}).json()["predictions"]
        assert c.post("/score", json={"instances": ROWS}).json()["predictions"] == predictions
        assert c.post("/vx/predict", json={"instances": ROWS}).json()["predictions"] == predictions
        assert c.get("/vx/health").status_code == 200
        assert c.post("/v1/models/iris:predict", json={"instances": ROWS}).json()["predictions"] == predictions
        v2 = {"inputs": [{"name": "x", "shape": [2, 4], "datatype": "FP64", "data": [v for row in ROWS for v in row]}]}
        assert c.post("/v2/models/iris/infer", json=v2).json()["outputs"][0]["data"] == predictions
        assert c.post("/invocations", content=b"{nope", headers={"content-type": "application/json"}).status_code == 400
        assert c.get("/ping").status_code == 200


def test_bare_serve_command_starts_the_server(models, serve):
    bare = shutil.which("serve", path=str(Path(sys.executable).parent))
    assert bare, "the `serve` console script is installed beside python"
    s = serve(models["sklearn"], argv=[bare])
    assert httpx.get(s.url + "/ping").status_code == 200


def test_sigterm_drains_in_flight_requests_and_exits_0(models, serve):
    s = serve(models["slow"])
    results = []

    def call():
        r = httpx.post(s.url + "/invocations", json={"instances": [[1]], "parameters": {"sleep": 1.5}}, timeout=10)
        results.append((r.status_code, r.json()))

    threads = [threading.Thread(target=call) for _ in range(3)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    s.proc.send_signal(signal.SIGTERM)
    for t in threads:
        t.join(10)
    assert results == [(200, {"predictions": ["done"]})] * 3
    assert s.proc.wait(15) == 0
    with pytest.raises(httpx.TransportError):
        httpx.get(s.url + "/ping", timeout=1)


def test_model_that_fails_to_load_exits_nonzero_with_the_error(models, serve):
    s = serve(models["fails-to-load"], ready=False)
    assert s.proc.wait(60) != 0
    assert "weights are corrupt" in s.proc.stderr.read()


def test_no_model_at_all(tmp_path, serve):
    s = serve(tmp_path / "missing", ready=False)
    assert s.proc.wait(60) != 0
    assert "missing: no such file or directory" in s.proc.stderr.read()


def test_bad_setting_exits_2(models, serve):
    s = serve(models["sklearn"], env={"MLFN_WORKERS": "zero"}, ready=False)
    assert s.proc.wait(30) == 2
    assert "MLFN_WORKERS='zero' is not an integer" in s.proc.stderr.read()


def test_api_keys_over_http(models, serve):
    s = serve(models["sklearn"], env={"MLFN_API_KEYS": "secret-1"})
    assert httpx.post(s.url + "/invocations", json={"instances": ROWS}).status_code == 401
    ok = httpx.post(s.url + "/invocations", json={"instances": ROWS}, headers={"x-api-key": "secret-1"})
    assert ok.status_code == 200


def test_metrics_are_correct_across_workers(models, serve):
    s = serve(models["sklearn"], env={"MLFN_WORKERS": "2"})
    n = 40
    with httpx.Client(base_url=s.url) as c:
        for _ in range(n):
            # New connections spread requests over both workers.
            httpx.post(s.url + "/invocations", json={"instances": ROWS})
        pids = {httpx.get(s.url + "/v2").status_code for _ in range(4)}
        assert pids == {200}
        text = c.get("/metrics").text
    line = next(ln for ln in text.splitlines()
                if ln.startswith('mlfn_requests_total{route="invocations",status="200"}'))
    assert float(line.rsplit(" ", 1)[1]) == n


def test_logs_are_one_json_object_per_line(models, serve):
    import json

    s = serve(models["sklearn"], env={"MLFN_LOG_REQUESTS": "on"})
    httpx.post(s.url + "/invocations", content=b'{"bad "json', headers={"content-type": "application/json"})
    httpx.post(s.url + "/invocations", json={"instances": ROWS})
    s.stop()
    lines = [ln for ln in s.proc.stderr.read().splitlines() if ln.strip()]
    records = [json.loads(ln) for ln in lines]  # every line parses, quotes in messages included
    assert any("malformed JSON" in r["message"] for r in records)
    assert any(r["message"].startswith("POST /invocations -> 200") for r in records)


def test_api_keys_without_a_usable_key_exit_2(models, serve):
    s = serve(models["sklearn"], env={"MLFN_API_KEYS": " , ,"}, ready=False)
    assert s.proc.wait(30) == 2
    assert "holds no usable API key; refusing to start" in s.proc.stderr.read()


def test_graceful_seconds_bounds_the_drain(models, serve):
    s = serve(models["slow"], env={"MLFN_GRACEFUL_SECONDS": "1"})
    t = threading.Thread(target=lambda: httpx.post(
        s.url + "/invocations", json={"instances": [[1]], "parameters": {"sleep": 20}}, timeout=30))
    t.start()
    time.sleep(0.5)
    start = time.monotonic()
    s.proc.send_signal(signal.SIGTERM)
    s.proc.wait(15)
    assert time.monotonic() - start < 5  # the 20 s request did not hold the exit
