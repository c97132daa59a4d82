"""Supervising the runtime process: ports, start until ready, stop, liveness."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from mlfn_runtime import contract as c

from ...errors import EngineError
from .state import LocalState, forget_starting, log_path, read_starting, record_starting

HOST = "127.0.0.1"
DEFAULT_PORT = 8080
READY_TIMEOUT_S = float(os.environ.get("MLFN_LOCAL_READY_TIMEOUT", "120"))
STOP_TIMEOUT_S = 10.0


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


def stop(pid: int, timeout: float = STOP_TIMEOUT_S) -> None:
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


def start(project, port: int, model_dir: Path, api_key: str | None, say, timeout: float) -> LocalState:
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
    for var in (*c.PORT_VARS, *c.MODEL_LOCATION_VARS):
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
    # Recorded before waiting: a CLI killed with SIGKILL leaves a server the next up, status and
    # destroy still find. Ctrl-C or SIGTERM while waiting stops it here.
    record_starting(project, proc.pid)
    try:
        _wait_ready(proc, url, log, offset, say, timeout)
    except BaseException:
        stop(proc.pid)
        raise
    finally:
        forget_starting(project)
    return LocalState(
        pid=proc.pid, port=port, url=url, started_at=time.time(), deployed_hash="", log=str(log),
        model_dir=str(model_dir), model_name=project.spec.name, api_key=api_key,
    )


def _wait_ready(proc, url: str, log: Path, offset: int, say, timeout: float) -> None:
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
                raise EngineError(f"the runtime was not ready after {timeout:.0f}s; see {log}")
            if time.monotonic() - last_note > 5:
                say("  still loading...")
                last_note = time.monotonic()
            time.sleep(0.1)


def stop_leftover(project) -> int | None:
    """Stop a server an interrupted ``up`` started but never recorded; its pid, or None."""
    pid = read_starting(project)
    if pid is None:
        return None
    if is_running(pid):
        stop(pid)
    forget_starting(project)
    return pid


@contextlib.contextmanager
def sigterm_as_interrupt():
    """Within the block, SIGTERM to the CLI unwinds like Ctrl-C, so cleanup runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


