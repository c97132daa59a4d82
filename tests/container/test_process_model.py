"""The runtime's process model inside the real container (issue #17, item 5): the worker count follows
the container's CPU quota, and every worker's log lines reach the container log."""

from __future__ import annotations

import json
import os

import httpx
from mlfn_runtime import contract as c
from test_images import READ_ONLY, env_args, stops_cleanly

LOADED = "loaded sklearn model"


def records(running) -> list[dict]:
    return [json.loads(ln) for ln in running.logs().splitlines() if ln.strip()]


def loaded_pids(running) -> list[int]:
    return [r["pid"] for r in records(running) if r["message"].startswith(LOADED)]


def test_one_worker_under_half_a_cpu(iris_baked, run_container):
    """``--cpus 0.5`` on a multi-CPU host: one worker (the cgroup quota, not the host's CPU count)."""
    ct = run_container(iris_baked.tag, 8080, c.PING, *READ_ONLY, "--cpus", "0.5", *env_args({"PORT": "8080"}))
    assert len(loaded_pids(ct)) == 1, ct.logs()
    assert not any("starting" in r["message"] and "workers" in r["message"] for r in records(ct))
    stops_cleanly(ct, "cpus 0.5")


def test_every_worker_loads_and_logs(iris_baked, run_container):
    """Two CPUs: two workers, each with its own model; every 4xx answered is one log line, whichever
    worker answered it (a worker without the log handler would drop about half of them)."""
    cpus = "2" if (os.cpu_count() or 1) >= 2 else "1"
    ct = run_container(iris_baked.tag, 8080, c.PING, *READ_ONLY, "--cpus", cpus, *env_args({"PORT": "8080"}))
    expected = int(cpus)
    pids = loaded_pids(ct)
    for _ in range(50):  # workers load their models in parallel: wait for the slower one's line
        if len(pids) == expected:
            break
        httpx.get(ct.url + c.PING, timeout=5)
        pids = loaded_pids(ct)
    assert len(set(pids)) == expected, ct.logs()
    sent = 24
    for _ in range(sent):  # a fresh connection each time, so both workers answer some
        with httpx.Client() as client:
            r = client.post(ct.url + c.INVOCATIONS, content=b"{", headers={"content-type": "application/json"})
            assert r.status_code == 400
    lines = [r for r in records(ct) if "-> 400" in r["message"]]
    assert len(lines) == sent, ct.logs()
    stops_cleanly(ct, f"cpus {cpus}")
