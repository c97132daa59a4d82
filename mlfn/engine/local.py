"""The local engine: ``cloud: local`` serves the model on this machine with the same runtime.

``up`` prepares the model as a cloud build would (same layout, same ``mlfn-manifest.json``),
starts ``mlfn-runtime serve`` as a background process that outlives the CLI, waits until it is
ready and records it under ``.mlfn/local/``. State is written only once the server answers, so
a failed ``up`` leaves neither a process nor half-written state behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
from mlfn_runtime import contract as c
from mlfn_runtime.build import FORMAT_EXTRAS
from mlfn_runtime.fetch import FetchError, fetch

from ..adapter import InvokeResponse, LogsInfo, post
from ..errors import EngineError, InvokeError, MlfnError
from ..manifest import manifest_for

LOCAL_DIR = ".mlfn/local"
HOST = "127.0.0.1"
DEFAULT_PORT = 8080
READY_TIMEOUT_S = float(os.environ.get("MLFN_LOCAL_READY_TIMEOUT", "120"))
STOP_TIMEOUT_S = 10.0
#: The import each format needs in this environment.
FORMAT_MODULES = {"sklearn": "sklearn", "onnx": "onnxruntime", "pytorch": "torch", "xgboost": "xgboost"}


@dataclass(frozen=True)
class LocalState:
    pid: int
    port: int
    url: str
    started_at: float
    deployed_hash: str
    log: str
    model_dir: str
    model_name: str
    api_key: str | None = None


@dataclass(frozen=True)
class LocalResult:
    """What ``up`` did: started, replaced, unchanged or recovered."""

    action: str
    state: LocalState
    notes: tuple[str, ...] = ()


def _dir(project) -> Path:
    return project.dir / LOCAL_DIR


def _state_path(project) -> Path:
    return _dir(project) / f"{project.stack.name}.json"


def log_path(project) -> Path:
    return _dir(project) / f"{project.stack.name}.log"


def read_state(project) -> LocalState | None:
    path = _state_path(project)
    if not path.exists():
        return None
    try:
        return LocalState(**json.loads(path.read_text()))
    except (ValueError, TypeError) as e:
        raise EngineError(f"{path} is damaged ({e}): delete it and run mlfn up again") from e


def _write_state(project, state: LocalState) -> None:
    path = _state_path(project)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(state), indent=2))
    tmp.replace(path)


def is_running(pid: int) -> bool:
    """True when ``pid`` is alive and is an mlfn runtime (not a reused pid)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists():
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ")
        except OSError:
            return False
        if not text:  # a zombie has an empty command line
            return False
        return b"mlfn_runtime" in text or b"mlfn-runtime" in text
    return True


def _model_source(project) -> str:
    uri = project.spec.model.uri
    return uri if project.spec.model.is_remote else str((project.dir / uri).resolve())


def _file_digest(path: Path, h) -> None:
    if path.is_file():
        h.update(path.name.encode())
        h.update(hashlib.sha256(path.read_bytes()).digest())
        return
    for p in sorted(path.rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts:
            h.update(p.relative_to(path).as_posix().encode())
            h.update(hashlib.sha256(p.read_bytes()).digest())


def deployed_hash(project) -> str:
    """What was deployed: the description, the stack and the model's bytes."""
    h = hashlib.sha256()
    h.update(project.spec.model_dump_json().encode())
    h.update(project.stack.stack.model_dump_json().encode())
    if not project.spec.model.is_remote:
        source = Path(_model_source(project))
        if not source.exists():
            raise EngineError(f"mlfn.yaml: model.uri: {project.spec.model.uri!r} does not exist in {project.dir}")
        _file_digest(source, h)
    if project.spec.runtime.requirements:
        req = project.dir / project.spec.runtime.requirements
        if req.exists():
            h.update(req.read_bytes())
    return h.hexdigest()


def prepare_model(project, dest: Path) -> Path:
    """Lay the model out as a build would: its files plus mlfn-manifest.json."""
    if dest.exists():
        shutil.rmtree(dest)
    try:
        fetch(_model_source(project), dest)
    except FetchError as e:
        raise EngineError(f"mlfn.yaml: model.uri: {e}") from e
    manifest_for(project.spec, dest).write(dest)
    return dest


def _requirement_missing(line: str) -> bool:
    from importlib import metadata

    from packaging.requirements import InvalidRequirement, Requirement

    try:
        req = Requirement(line)
    except InvalidRequirement:
        return True
    try:
        version = metadata.version(req.name)
    except metadata.PackageNotFoundError:
        return True
    return bool(req.specifier) and not req.specifier.contains(version, prereleases=True)


def ensure_requirements(project, say: Callable[[str], None]) -> None:
    """Install the project's requirements into this environment only when some are missing."""
    fmt = project.spec.model.format
    module = FORMAT_MODULES.get(fmt)
    if module is not None:
        import importlib.util

        if importlib.util.find_spec(module) is None:
            extras = ",".join(FORMAT_EXTRAS[fmt])
            raise EngineError(
                f"serving a {fmt} model needs {module} in this environment: pip install 'mlfn-runtime[{extras}]'"
            )
    if not project.spec.runtime.requirements:
        return
    path = project.dir / project.spec.runtime.requirements
    if not path.exists():
        raise EngineError(f"mlfn.yaml: runtime.requirements: {path} not found")
    lines = [ln.split("#", 1)[0].strip() for ln in path.read_text().splitlines()]
    missing = [ln for ln in lines if ln and not ln.startswith("-") and _requirement_missing(ln)]
    if not missing:
        return
    say(f"installing missing requirements into this environment: {', '.join(missing)}")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "-r", str(path)], capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise EngineError(f"pip install -r {path} failed:\n{proc.stderr.strip()[-2000:]}")


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


def choose_port(requested: int | None, preferred: int) -> int:
    if requested is not None:
        if not port_free(requested):
            raise EngineError(f"port {requested} is busy: pass another --port, or leave it out to pick a free one")
        return requested
    for port in range(preferred, preferred + 100):
        if port_free(port):
            return port
    raise EngineError(f"no free port in {preferred}-{preferred + 99}: pass --port")


def _stop(pid: int, timeout: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM the server's process group, wait, then SIGKILL."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    # Reap our own child if it exited (it is one when up started it in this process).
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    return is_running(pid)


def _load_error(log: Path, offset: int) -> str:
    try:
        with log.open("rb") as f:
            f.seek(offset)
            text = f.read().decode(errors="replace")
    except OSError:
        return ""
    for line in reversed(text.splitlines()):
        if line.startswith("mlfn-runtime:"):
            return line[len("mlfn-runtime:"):].strip()
    tail = [ln for ln in text.splitlines() if ln.strip()][-5:]
    return "\n".join(tail)


def _start(project, port: int, model_dir: Path, api_key: str | None, say, timeout: float) -> LocalState:
    log = log_path(project)
    offset = log.stat().st_size if log.exists() else 0
    env = dict(os.environ)
    env.update(project.spec.runtime.env)
    env.update({
        c.MODEL_URI: str(model_dir),
        c.MODEL_NAME: project.spec.name,
        c.WORKERS: env.get(c.WORKERS, "1"),
        "PYTHONUNBUFFERED": "1",
    })
    for var in (*c.PORT_VARS, c.AIP_STORAGE_URI, c.AZUREML_MODEL_DIR):
        env.pop(var, None)
    if api_key:
        env[c.API_KEYS] = api_key
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mlfn_runtime", "serve", "--host", HOST, "--port", str(port)],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
            start_new_session=True, cwd=str(project.dir),
        )
    url = f"http://{HOST}:{port}"
    deadline = time.monotonic() + timeout
    last_note = time.monotonic()
    say(f"starting the runtime on {url} (pid {proc.pid}), waiting until the model is loaded")
    with httpx.Client(timeout=2.0) as client:
        while True:
            code = proc.poll()
            if code is not None:
                reason = _load_error(log, offset) or f"the runtime exited with status {code}"
                raise EngineError(f"{reason}\n(log: {log})")
            try:
                if client.get(url + c.READINESS_ROUTE).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                _stop(proc.pid)
                raise EngineError(f"the runtime was not ready after {timeout:.0f}s; see {log}")
            if time.monotonic() - last_note > 5:
                say("  still loading...")
                last_note = time.monotonic()
            time.sleep(0.1)
    return LocalState(
        pid=proc.pid, port=port, url=url, started_at=time.time(), deployed_hash="", log=str(log),
        model_dir=str(model_dir), model_name=project.spec.name, api_key=api_key,
    )


def up(project, port: int | None = None, on_progress: Callable[[str], None] | None = None,
       timeout: float = READY_TIMEOUT_S) -> LocalResult:
    say = on_progress or (lambda _line: None)
    _dir(project).mkdir(parents=True, exist_ok=True)
    ignore = _dir(project).parent / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n")
    notes: list[str] = []
    wanted = deployed_hash(project)
    old = read_state(project)
    if old is not None and not is_running(old.pid):
        notes.append(f"the server recorded in state (pid {old.pid}, {old.url}) is not running; starting a new one")
        say(notes[-1])
        _state_path(project).unlink()
        old = None
        action = "recovered"
    else:
        action = "started"
    if old is not None and old.deployed_hash == wanted and (port is None or port == old.port):
        return LocalResult("unchanged", old, ("nothing changed: the server keeps running",))
    ensure_requirements(project, say)
    generation = int(time.time() * 1000)
    model_dir = _dir(project) / f"{project.stack.name}-model-{generation}"
    prepare_model(project, model_dir)
    preferred = project.stack.location.port or DEFAULT_PORT
    try:
        chosen = choose_port(port, preferred)
        if port is None and chosen != preferred and (old is None or old.port != preferred):
            notes.append(f"port {preferred} is busy: using {chosen}")
            say(notes[-1])
        api_key = None
        if project.spec.endpoint.auth == "key":
            api_key = old.api_key if old and old.api_key else "mlfn-" + secrets.token_urlsafe(24)
        state = _start(project, chosen, model_dir, api_key, say, timeout)
    except MlfnError:
        shutil.rmtree(model_dir, ignore_errors=True)
        raise
    state = LocalState(**{**asdict(state), "deployed_hash": wanted})
    _write_state(project, state)
    if old is not None:
        _stop(old.pid)
        shutil.rmtree(old.model_dir, ignore_errors=True)
        action = "replaced"
        notes.append(f"replaced the server on {old.url} (pid {old.pid}) with the new one")
    return LocalResult(action, state, tuple(notes))


def destroy(project) -> dict[str, Any]:
    state = read_state(project)
    if state is None:
        return {"stack": project.stack.name, "destroyed": False, "message": "nothing to destroy: no local server"}
    if is_running(state.pid):
        _stop(state.pid)
    shutil.rmtree(state.model_dir, ignore_errors=True)
    _state_path(project).unlink(missing_ok=True)
    return {"stack": project.stack.name, "destroyed": True,
            "message": f"stopped the local server (pid {state.pid}, {state.url})"}


def outputs(project) -> dict[str, Any]:
    state = read_state(project)
    if state is None:
        raise MlfnError(f"stack {project.stack.name} is not running: run mlfn up")
    return {"url": state.url, "target": "process", "logs": state.log}


def status(project) -> dict[str, Any]:
    state = read_state(project)
    if state is None:
        return {"stack": project.stack.name, "cloud": "local", "running": False}
    running = is_running(state.pid)
    ready = False
    if running:
        try:
            ready = httpx.get(state.url + c.READINESS_ROUTE, timeout=2).status_code == 200
        except httpx.TransportError:
            ready = False
    return {
        "stack": project.stack.name,
        "cloud": "local",
        "running": running,
        "ready": ready,
        "url": state.url,
        "pid": state.pid,
        "uptime_s": round(time.time() - state.started_at, 1),
        "model": state.model_name,
        "format": project.spec.model.format,
        "log": state.log,
        "up_to_date": state.deployed_hash == deployed_hash(project),
    }


def invoke(project, body: bytes, content_type: str) -> InvokeResponse:
    state = read_state(project)
    if state is None or not is_running(state.pid):
        raise InvokeError(f"stack {project.stack.name} has no running local server: run mlfn up")
    headers = {"content-type": content_type}
    if state.api_key:
        headers["authorization"] = f"Bearer {state.api_key}"
    return post(state.url + c.INVOCATIONS, body, headers, timeout=60)


def logs(project, lines: int = 50) -> LogsInfo:
    path = log_path(project)
    if not path.exists():
        return LogsInfo(where=str(path), lines=())
    text = path.read_text(errors="replace").splitlines()
    return LogsInfo(where=str(path), lines=tuple(text[-lines:] if lines > 0 else text))
