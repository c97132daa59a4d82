"""The process model inside containers (issue #12, item 9): worker count from the cgroup quota,
one GPU per worker, a supervisor without the model, JSON logs from every worker, no writable /tmp."""

import json
import sys
from pathlib import Path

import httpx
import pytest
from mlfn_runtime import workers
from mlfn_runtime.settings import Settings
from mlfn_runtime.workers import MetricsDirError, cpu_quota, default_workers, metrics_dir, visible_gpus
from runtime_helpers import ROWS


def cgroup(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


@pytest.mark.parametrize(("files", "quota", "n"), [
    ({"cpu.max": "50000 100000\n"}, 0.5, 1),  # docker --cpus 0.5 on a bigger host: 1 worker
    ({"cpu.max": "250000 100000\n"}, 2.5, 2),
    ({"cpu.max": "max 100000\n"}, None, 8),
    ({"cpu/cpu.cfs_quota_us": "150000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 1.5, 1),  # cgroup v1
    ({"cpu,cpuacct/cpu.cfs_quota_us": "-1\n", "cpu,cpuacct/cpu.cfs_period_us": "100000\n"}, None, 8),
    ({"cpu.max": "1600000 100000\n"}, 16.0, 8),  # never more than the CPUs we may run on
    ({}, None, 8),
])
def test_default_workers_follow_the_cgroup_quota(tmp_path, monkeypatch, files, quota, n):
    monkeypatch.setattr(workers, "available_cpus", lambda: 8)
    root = cgroup(tmp_path, files)
    assert cpu_quota(root) == quota
    assert default_workers((), root) == n


def test_one_worker_per_visible_gpu(tmp_path):
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": "0, 2"}) == ("0", "2")
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": "-1"}) == ()
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": ""}) == ()
    for name in ("nvidia1", "nvidia0", "nvidiactl", "nvidia-uvm", "null"):
        (tmp_path / name).touch()
    assert visible_gpus({}, tmp_path) == ("0", "1")
    assert default_workers(("0", "1"), tmp_path) == 2
    s = Settings.from_env({"CUDA_VISIBLE_DEVICES": "4,5,6"})
    assert s.workers == 3 and s.gpus == ("4", "5", "6")
    assert Settings.from_env({"CUDA_VISIBLE_DEVICES": "4,5,6", "MLFN_WORKERS": "1"}).workers == 1
    assert Settings.from_env({"CUDA_VISIBLE_DEVICES": "4,5", "AWS_LAMBDA_FUNCTION_NAME": "f"}).workers == 1


def test_metrics_dir_falls_back_and_says_when_it_cannot(tmp_path):
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    assert metrics_dir(None, [str(not_a_dir), str(tmp_path)]).startswith(str(tmp_path / "mlfn-metrics-"))
    assert metrics_dir(None, [str(not_a_dir / "x")]) is None
    with pytest.raises(MetricsDirError, match="is not writable"):
        metrics_dir(str(not_a_dir / "metrics"))


GPU_HANDLER = '''
import os


class WhichGpu:
    def predict(self, instances, parameters):
        return [os.environ.get("CUDA_VISIBLE_DEVICES") for _ in instances]
'''


@pytest.mark.slow
def test_workers_are_pinned_log_json_and_need_no_writable_tmp(tmp_path, serve):
    from mlfn_runtime.contract import Manifest

    model = tmp_path / "gpu"
    model.mkdir()
    (model / "handlers.py").write_text(GPU_HANDLER)
    Manifest(name="gpu", format="custom", handler="handlers:WhichGpu").write(model)
    read_only_tmp = tmp_path / "not-a-dir"  # as on a read-only root: no temporary folder there
    read_only_tmp.write_text("")
    s = serve(model, env={"MLFN_WORKERS": "2", "CUDA_VISIBLE_DEVICES": "3,5", "MLFN_LOG_REQUESTS": "on",
                          "TMPDIR": str(read_only_tmp)})
    seen = set()
    for _ in range(200):
        # A new connection each time: the kernel spreads them over both workers.
        r = httpx.post(s.url + "/invocations", json={"instances": [[1]]}, headers={"connection": "close"})
        seen.add(r.json()["predictions"][0])
        if seen == {"3", "5"}:
            break
    assert seen == {"3", "5"}
    assert httpx.get(s.url + "/metrics").status_code == 200
    bad = httpx.post(s.url + "/invocations", content=b"{bad", headers={"content-type": "application/json"})
    assert bad.status_code == 400
    s.stop()
    records = [json.loads(ln) for ln in s.proc.stderr.read().splitlines() if ln.strip()]  # every line JSON
    assert any("malformed JSON" in r["message"] for r in records)  # a worker's 4xx line
    assert sum(r["message"].startswith("POST /invocations -> 200") for r in records) >= 2


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_supervisor_holds_no_model(models, serve):
    s = serve(models["sklearn"], env={"MLFN_WORKERS": "2"})
    maps = Path(f"/proc/{s.proc.pid}/maps").read_text()
    assert "sklearn" not in maps and "numpy" not in maps  # neither the model nor its libraries
    rss_kib = next(int(ln.split()[1]) for ln in Path(f"/proc/{s.proc.pid}/status").read_text().splitlines()
                   if ln.startswith("VmRSS:"))
    print(f"supervisor RSS {rss_kib / 1024:.1f} MiB")
    assert httpx.post(s.url + "/invocations", json={"instances": ROWS}).status_code == 200


@pytest.mark.slow
def test_a_worker_that_cannot_load_the_model_fails_the_start(models, serve):
    s = serve(models["fails-to-load"], env={"MLFN_WORKERS": "2"}, ready=False)
    assert s.proc.wait(60) == 1
    err = s.proc.stderr.read()
    records = [json.loads(ln) for ln in err.splitlines() if ln.strip()]
    assert any("the model failed to load" in r["message"] and "ValueError: weights are corrupt" in r["message"]
               for r in records), err


