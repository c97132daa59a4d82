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


def shared_socket(port: int) -> socket.socket | None:
    """A socket bound to ``HOST:port`` with SO_REUSEPORT (not listening): the runtime it is handed to
    listens once its model is loaded, and a replacement binds the same port beside it, so the URL
    never moves and the port never refuses a connection. None where the port is taken by a process
    that did not allow sharing, or where the platform has no SO_REUSEPORT."""
    if not hasattr(socket, "SO_REUSEPORT"):
        return None
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((HOST, port))
    except OSError:
        sock.close()
        return None
    return sock


SO_ATTACH_REUSEPORT_CBPF = 51  # Linux, include/uapi/asm-generic/socket.h


def steer_new_connections_to_newest(sock: socket.socket) -> bool:
    """Send every new connection on the shared port to the newest server, so the one it replaces
    drains an empty queue (on Linux, a listener that closes resets the connections still queued on
    it). A classic-BPF program on the port's SO_REUSEPORT group returns index 1: with the old server
    at 0 and the new one at 1 that is the new one; with one server left the kernel ignores the out of
    range index and picks it. False where the platform cannot (the replacement then has a tiny window
    in which a connection may be reset)."""
    import ctypes
    import sys as _sys

    if not _sys.platform.startswith("linux"):
        return False

    class SockFilter(ctypes.Structure):
        _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_uint16), ("filter", ctypes.POINTER(SockFilter))]

    program = (SockFilter * 1)(SockFilter(0x06, 0, 0, 1))  # BPF_RET | BPF_K: return 1
    fprog = SockFprog(1, program)
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, bytes(fprog))
    except OSError:
        return False
    return True


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


def first_free_port(preferred: int) -> int:
    """The first free port from ``preferred`` on (a busy default port moves to the next)."""
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
    """The runtime's own reason for stopping (its "mlfn-runtime: ..." line, plain or JSON), else the
    last lines of its log."""
    import json

    try:
        with log.open("rb") as f:
            f.seek(offset)
            text = f.read().decode(errors="replace")
    except OSError:
        return ""
    for line in reversed(text.splitlines()):
        message = line
        if line.startswith("{"):
            try:
                message = str(json.loads(line).get("message", ""))
            except (ValueError, AttributeError):
                message = line
        if message.startswith("mlfn-runtime:"):
            return message[len("mlfn-runtime:"):].strip()
    tail = [ln for ln in text.splitlines() if ln.strip()][-5:]
    return "\n".join(tail)


def start(project, port: int, model_dir: Path, api_key: str | None, say, timeout: float,
          sock: socket.socket | None = None) -> LocalState:
    """Start the runtime on ``port`` (on ``sock`` when given: a shared, bound socket) and wait until
    it answers; on any failure or interrupt, stop it."""
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
    command = [sys.executable, "-m", "mlfn_runtime", "serve", "--host", HOST, "--port", str(port)]
    ready = None
    fds: tuple[int, ...] = ()
    if sock is not None:
        ready = log.with_name(f"{project.stack.name}.ready-{os.getpid()}")
        ready.unlink(missing_ok=True)
        command += ["--fd", str(sock.fileno()), "--ready-file", str(ready)]
        fds = (sock.fileno(),)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
            start_new_session=True, cwd=str(project.dir), pass_fds=fds,
        )
    url = f"http://{HOST}:{port}"
    # Recorded before waiting: a CLI killed with SIGKILL leaves a server the next up, status and
    # destroy still find. Ctrl-C or SIGTERM while waiting stops it here.
    record_starting(project, proc.pid)
    try:
        if ready is not None:
            _wait_listening(proc, ready, log, offset, say, timeout)
        else:
            _wait_ready(proc, url, log, offset, say, timeout)
        if sock is not None:
            steer_new_connections_to_newest(sock)
    except BaseException:
        stop(proc.pid)
        raise
    finally:
        forget_starting(project)
        if ready is not None:
            ready.unlink(missing_ok=True)
        if sock is not None:
            sock.close()  # the runtime holds its own copy
    return LocalState(
        pid=proc.pid, port=port, url=url, started_at=time.time(), deployed_hash="", log=str(log),
        model_dir=str(model_dir), model_name=project.spec.name, api_key=api_key,
    )


def _wait_listening(proc, ready: Path, log: Path, offset: int, say, timeout: float) -> None:
    """Wait for the runtime's ready file: it loaded the model and listens on the shared socket
    (the URL cannot tell: another server may answer on the same port)."""
    say(f"starting the runtime (pid {proc.pid}), waiting until the model is loaded")
    _wait(proc, ready.exists, log, offset, say, timeout)


def _wait_ready(proc, url: str, log: Path, offset: int, say, timeout: float) -> None:
    """Wait until the runtime's readiness route answers 200 (a port of its own)."""
    say(f"starting the runtime on {url} (pid {proc.pid}), waiting until the model is loaded")
    with httpx.Client(timeout=2.0) as client:

        def answers() -> bool:
            try:
                return client.get(url + c.READINESS_ROUTE).status_code == 200
            except httpx.TransportError:
                return False

        _wait(proc, answers, log, offset, say, timeout)


def _wait(proc, done, log: Path, offset: int, say, timeout: float) -> None:
    """Poll ``done()`` until true; the runtime's own reason if it exits first, a timeout error after ``timeout``."""
    deadline = time.monotonic() + timeout
    last_note = time.monotonic()
    while not done():
        code = proc.poll()
        if code is not None:
            reason = _load_error(log, offset) or f"the runtime exited with status {code}"
            raise EngineError(f"{reason}\n(log: {log})")
        if time.monotonic() > deadline:
            raise EngineError(f"the runtime was not ready after {timeout:.0f}s; see {log}")
        if time.monotonic() - last_note > 5:
            say("  still loading...")
            last_note = time.monotonic()
        time.sleep(0.05)


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


