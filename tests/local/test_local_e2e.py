"""The newcomer's first five minutes, driven through the real CLI in subprocesses."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
SAMPLE = '{"instances": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}'


def mlfn(*args, cwd: Path, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFN_")}
    p = subprocess.run([sys.executable, "-m", "mlfn", *map(str, args)], cwd=cwd, capture_output=True, text=True,
                       env=env, input=stdin, timeout=180)
    if check:
        assert p.returncode == 0, f"mlfn {' '.join(map(str, args))}: {p.returncode}\n{p.stdout}\n{p.stderr}"
    return p


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split()[2] == "Z")


def runtimes_for(project: Path) -> list[int]:
    """Runtime processes serving this project (found by their model directory)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmd = (proc / "cmdline").read_bytes()
                environ = (proc / "environ").read_bytes()
            except OSError:
                continue
            if b"mlfn_runtime" in cmd and str(project).encode() in environ:
                pids.append(int(proc.name))
    return pids


@pytest.fixture
def project(tmp_path):
    root = tmp_path / "demo"
    p = subprocess.run([sys.executable, "-m", "mlfn", "init", str(root)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    yield root
    subprocess.run([sys.executable, "-m", "mlfn", "destroy"], cwd=root, capture_output=True)
    for pid in runtimes_for(root):
        os.kill(pid, signal.SIGKILL)


def state(project: Path) -> dict:
    return json.loads((project / ".mlfn" / "local" / "local.json").read_text())


def test_init_up_status_invoke_replace_logs_destroy(project):
    assert sorted(p.name for p in (project / "stacks").iterdir()) == [
        "aws.yaml", "azure.yaml", "gcp.yaml", "kubernetes.yaml", "local.yaml"]
    assert ".mlfn/" in (project / ".gitignore").read_text()

    up = mlfn("up", cwd=project)
    first = state(project)
    assert f"demo started: {first['url']} (pid {first['pid']})" in up.stdout
    assert "mlfn invoke --data" in up.stdout and "curl -s " in up.stdout

    status = json.loads(mlfn("status", "--json", cwd=project).stdout)
    assert status["running"] and status["ready"] and status["model"] == "demo" and status["pid"] == first["pid"]

    out = mlfn("invoke", "--data", SAMPLE, cwd=project)
    assert json.loads(out.stdout) == {"predictions": [0, 2]}
    assert json.loads(mlfn("invoke", cwd=project, stdin=SAMPLE).stdout) == {"predictions": [0, 2]}

    again = mlfn("up", cwd=project)
    assert "nothing changed: the server keeps running" in again.stderr
    assert state(project)["pid"] == first["pid"]

    # Change the model: a classifier that always answers class 1.
    code = ("import joblib; from sklearn.dummy import DummyClassifier; import numpy as np; "
            "m = DummyClassifier(strategy='constant', constant=1).fit(np.zeros((3, 4)), [0, 1, 2]); "
            "joblib.dump(m, 'model/model.joblib')")
    subprocess.run([sys.executable, "-c", code], cwd=project, check=True)
    replaced = mlfn("up", cwd=project)
    second = state(project)
    assert "replaced the server" in replaced.stderr and second["pid"] != first["pid"]
    assert (second["port"], second["url"]) == (first["port"], first["url"])  # the URL never moves
    assert not alive(first["pid"])
    assert json.loads(mlfn("invoke", "--data", SAMPLE, cwd=project).stdout) == {"predictions": [1, 1]}

    logs = mlfn("logs", "-n", "100", cwd=project)
    assert "loaded sklearn model 'demo'" in logs.stdout

    bad = mlfn("invoke", "--data", '{"instances": [[1, 2]]}', cwd=project, check=False)
    assert bad.returncode == 1
    assert "error: HTTP 422: invalid_input expected rows of 4 features, got 2 (request id " in bad.stderr

    down = mlfn("destroy", cwd=project)
    assert f"stopped the local server (pid {second['pid']}" in down.stdout
    assert not alive(second["pid"]) and runtimes_for(project) == []
    assert not (project / ".mlfn" / "local" / "local.json").exists()
    assert "nothing to destroy" in mlfn("destroy", cwd=project).stdout
    assert mlfn("status", cwd=project).stdout == "stack local: not running (mlfn up starts it)\n"


def test_broken_model_fails_cleanly(project):
    (project / "model" / "model.joblib").write_bytes(b"\x80\x04this is not a model")  # looks like a pickle
    p = mlfn("up", cwd=project, check=False)
    assert p.returncode == 1
    assert "error: the model failed to load: loading the sklearn model from" in p.stderr
    assert "Traceback" not in p.stderr
    assert not (project / ".mlfn" / "local" / "local.json").exists()
    assert runtimes_for(project) == []


def test_busy_port(project):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        busy = s.getsockname()[1]
        p = mlfn("up", "--port", busy, cwd=project, check=False)
        assert p.returncode == 1
        assert f"error: --port {busy} is busy (another program listens there): free it, or choose another port" \
            in p.stderr
        (project / "stacks" / "local.yaml").write_text(f"cloud: local\nport: {busy}\n")
        p = mlfn("up", cwd=project, check=False)
        assert p.returncode == 1  # a port the stack names is not silently replaced by another
        assert f"error: stacks/local.yaml: port: {busy} is busy" in p.stderr
        assert runtimes_for(project) == []


def test_killed_server_is_detected_and_recovered(project):
    mlfn("up", cwd=project)
    pid = state(project)["pid"]
    os.kill(pid, signal.SIGKILL)
    for _ in range(50):
        if not alive(pid):
            break
        time.sleep(0.1)
    st = mlfn("status", cwd=project, check=False)
    assert st.returncode == 1 and f"the recorded server (pid {pid}) has died" in st.stdout
    up = mlfn("up", cwd=project)
    assert f"the server recorded in state (pid {pid}" in up.stderr and "is not running; starting a new one" in up.stderr
    assert json.loads(mlfn("invoke", "--data", SAMPLE, cwd=project).stdout) == {"predictions": [0, 2]}


def test_key_auth_locally(project):
    spec = project / "mlfn.yaml"
    spec.write_text(spec.read_text().replace("auth: private", "auth: key"))
    up = mlfn("up", cwd=project)
    key = state(project)["api_key"]
    assert key and f"authorization: Bearer {key}" in up.stdout
    assert json.loads(mlfn("invoke", "--data", SAMPLE, cwd=project).stdout) == {"predictions": [0, 2]}
    import httpx

    r = httpx.post(state(project)["url"] + "/invocations", content=SAMPLE,
                   headers={"content-type": "application/json"})
    assert r.status_code == 401


def test_requirements_are_detected_and_only_missing_ones_installed(tmp_path):
    from mlfn.engine.local.model import _requirement_missing

    assert not _requirement_missing("scikit-learn>=1.0")
    assert _requirement_missing("scikit-learn<0.1")
    assert _requirement_missing("a-package-that-does-not-exist-mlfn")
    assert _requirement_missing("not a requirement !!")


def test_up_with_satisfied_requirements_installs_nothing(project):
    (project / "requirements.txt").write_text("scikit-learn>=1.0\njoblib\n")
    spec = project / "mlfn.yaml"
    spec.write_text(spec.read_text() + "runtime:\n  requirements: requirements.txt\n")
    up = mlfn("up", cwd=project)
    assert "installing missing requirements" not in up.stdout + up.stderr


SLOW_HANDLER = '''
import time


class Slow:
    def load(self, model_dir):
        time.sleep(60)

    def predict(self, instances):
        return instances
'''


@pytest.fixture
def slow_project(tmp_path):
    root = tmp_path / "slow"
    (root / "model").mkdir(parents=True)
    (root / "model" / "slow.py").write_text(SLOW_HANDLER)
    (root / "mlfn.yaml").write_text("name: slow\nmodel: {uri: ./model, format: custom, handler: slow:Slow}\n")
    (root / "stacks").mkdir()
    (root / "stacks" / "local.yaml").write_text("cloud: local\nport: 18431\n")
    yield root
    subprocess.run([sys.executable, "-m", "mlfn", "destroy"], cwd=root, capture_output=True)
    for pid in runtimes_for(root):
        os.kill(pid, signal.SIGKILL)


def _start_up(root: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFN_")}
    proc = subprocess.Popen([sys.executable, "-m", "mlfn", "up"], cwd=root, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not runtimes_for(root):
        assert time.monotonic() < deadline and proc.poll() is None, "the runtime never started"
        time.sleep(0.1)
    return proc


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupting_up_leaves_no_server_behind(slow_project, sig):
    proc = _start_up(slow_project)
    proc.send_signal(sig)
    proc.wait(timeout=30)
    assert proc.returncode != 0
    deadline = time.monotonic() + 15
    while runtimes_for(slow_project) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert runtimes_for(slow_project) == []
    assert not (slow_project / ".mlfn" / "local" / "local.json").exists()
    assert list((slow_project / ".mlfn" / "local").glob("local-model-*")) == []
    with socket.socket() as s:
        s.bind(("127.0.0.1", 18431))  # the port is free again


def test_a_killed_up_leaves_a_server_that_status_sees_and_destroy_stops(slow_project):
    proc = _start_up(slow_project)
    proc.kill()  # SIGKILL: no cleanup can run in the CLI
    proc.wait(timeout=10)
    (orphan,) = runtimes_for(slow_project)
    status = json.loads(mlfn("status", "--json", cwd=slow_project).stdout)
    assert status["running"] is True and status["pid"] == orphan and "interrupted up" in status["note"]
    out = mlfn("destroy", cwd=slow_project).stdout
    assert f"stopped a server an interrupted up had started (pid {orphan})" in out
    assert not alive(orphan)


def test_a_replacing_up_keeps_the_url_and_refuses_no_connection(project):
    """A client polling the URL while up replaces the server sees every request answered."""
    import threading
    import urllib.error
    import urllib.request

    mlfn("up", cwd=project)
    url = state(project)["url"] + "/invocations"
    counts = {"ok": 0, "refused": 0, "other": 0}
    stop = threading.Event()

    def poll():
        while not stop.is_set():
            req = urllib.request.Request(url, data=SAMPLE.encode(), headers={"content-type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=10) as r:
                    counts["ok" if r.status == 200 else "other"] += 1
            except urllib.error.URLError as e:
                counts["refused" if isinstance(e.reason, ConnectionRefusedError) else "other"] += 1
            except OSError:
                counts["other"] += 1

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        time.sleep(0.5)
        (project / "stacks" / "local.yaml").write_text("cloud: local\n# a change: the server is replaced\n")
        code = ("import joblib; from sklearn.dummy import DummyClassifier; import numpy as np; "
                "m = DummyClassifier(strategy='constant', constant=1).fit(np.zeros((3, 4)), [0, 1, 2]); "
                "joblib.dump(m, 'model/model.joblib')")
        subprocess.run([sys.executable, "-c", code], cwd=project, check=True)
        replaced = mlfn("up", cwd=project)
        assert "replaced the server" in replaced.stderr
        time.sleep(1.0)
    finally:
        stop.set()
        poller.join(timeout=30)
    assert counts["refused"] == 0 and counts["other"] == 0, counts
    assert counts["ok"] > 10, counts


def test_cost_takes_its_latency_from_the_running_local_stack(project):
    """After mlfn up and some predictions, mlfn cost's default latency is the one measured (and says so);
    before enough predictions it stays the stated assumption."""
    mlfn("up", cwd=project)
    before = json.loads(mlfn("cost", "--cloud", "aws", "--json", cwd=project).stdout)
    assert before["traffic"]["latency_source"] == "assumed"
    for _ in range(12):
        mlfn("invoke", "--data", SAMPLE, cwd=project)
    after = json.loads(mlfn("cost", "--cloud", "aws", "--json", cwd=project).stdout)
    assert after["traffic"]["latency_source"] == "measured"
    assert 0 < after["traffic"]["latency_ms"] < 1000
    assert any("measured by the running local stack (local) over 12 predictions" in a
               for a in after["assumptions"])
    given = json.loads(mlfn("cost", "--cloud", "aws", "--json", "--latency", "250ms", cwd=project).stdout)
    assert given["traffic"]["latency_source"] == "given" and given["traffic"]["latency_ms"] == 250
