"""The local engine: ``cloud: local`` serves the model on this machine with the same runtime.

``up`` prepares the model as a cloud build would (same layout, same ``mlfn-manifest.json``),
starts ``mlfn-runtime serve`` as a background process that outlives the CLI, waits until it is
ready and records it under ``.mlfn/local/``. State is written only once the server answers, so
a failed ``up`` leaves neither a process nor half-written state behind.

The seams: ``state`` (what is recorded), ``model`` (preparing the model and the environment),
``process`` (ports, start, stop, liveness).
"""

from __future__ import annotations

import secrets
import shutil
import time
from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

import httpx
from mlfn_runtime import contract as c

from ...adapter import InvokeResponse, LogsInfo, post
from ...errors import InvokeError, MlfnError, StackError
from .. import statefile
from ..base import DestroyResult, EngineOptions, PreviewResult, Status, UpResult
from .model import deployed_hash, ensure_requirements, prepare_model
from .process import (
    DEFAULT_PORT,
    READY_TIMEOUT_S,
    first_free_port,
    is_running,
    port_free,
    shared_socket,
    sigterm_as_interrupt,
    start,
    stop,
    stop_leftover,
)
from .state import LocalState, ensure_dir, forget, log_path, read_starting, read_state, write_state

__all__ = ["LocalEngine", "LocalState"]

TARGET = "process"


def _outputs(state: LocalState) -> dict[str, Any]:
    return {"url": state.url, "target": TARGET, "logs": state.log, "pid": state.pid, "port": state.port,
            **({"api_key": state.api_key} if state.api_key else {})}


class LocalEngine:
    """The runtime as a background process on 127.0.0.1."""

    name = "local"

    def __init__(self, ready_timeout: float = READY_TIMEOUT_S):
        self.ready_timeout = ready_timeout

    def preview(self, project, options: EngineOptions) -> PreviewResult:
        raise StackError("cloud local has no preview: `mlfn up` starts it and `mlfn destroy` stops it")

    def up(self, project, options: EngineOptions) -> UpResult:
        with sigterm_as_interrupt():
            return self._up(project, options)

    def _up(self, project, options: EngineOptions) -> UpResult:
        say, port = options.say, options.port
        ensure_dir(project)
        notes: list[str] = []
        leftover = stop_leftover(project)
        if leftover is not None:
            notes.append(f"stopped a server an interrupted up had started (pid {leftover})")
            say(notes[-1])
        wanted = deployed_hash(project)
        old = read_state(project)
        action = "started"
        if old is not None and not is_running(old.pid):
            notes.append(f"the server recorded in state (pid {old.pid}, {old.url}) is not running; starting a new one")
            say(notes[-1])
            forget(project)
            old, action = None, "recovered"
        stack = project.stack.name
        if old is not None and old.deployed_hash == wanted and (port is None or port == old.port):
            say("nothing changed: the server keeps running")
            return UpResult(stack, "unchanged", _outputs(old), notes=("nothing changed: the server keeps running",))
        ensure_requirements(project, say)
        model_dir = ensure_dir(project) / f"{stack}-model-{int(time.time() * 1000)}"
        prepare_model(project, model_dir)
        try:
            chosen, sock = self._port(project, port, old, notes, say)
            api_key = None
            if project.spec.endpoint.auth == "key":
                api_key = old.api_key if old and old.api_key else "mlfn-" + secrets.token_urlsafe(24)
            state = start(project, chosen, model_dir, api_key, say, self.ready_timeout, sock=sock)
        except BaseException:  # MlfnError, and Ctrl-C or SIGTERM while starting: leave nothing behind
            shutil.rmtree(model_dir, ignore_errors=True)
            raise
        state = LocalState(**{**asdict(state), "deployed_hash": wanted})
        write_state(project, state)
        if old is not None:
            stop(old.pid)
            shutil.rmtree(old.model_dir, ignore_errors=True)
            action = "replaced"
            notes.append(f"replaced the server on {old.url} (pid {old.pid}) with the new one")
            say(notes[-1])
        return UpResult(stack, action, _outputs(state), notes=tuple(notes))

    @staticmethod
    def _port(project, requested: int | None, old: LocalState | None, notes: list[str], say):
        """The port to serve on, and a shared socket bound to it (None: a plain port).

        The port a stack was first served on stays its port: a replacement binds it beside the
        running server (SO_REUSEPORT). A port named by --port or the stack that another process
        holds is an error; the default port, busy, moves to the next free one."""
        explicit = requested or project.stack.location.port
        wanted = requested or (old.port if old is not None else None) or explicit or DEFAULT_PORT
        ours = old is not None and old.port == wanted
        # Share the port only with this stack's own running server: a port some other server holds
        # (another stack's included, whose socket also allows sharing) is busy.
        sock = shared_socket(wanted) if ours or port_free(wanted) else None
        if sock is not None:
            return wanted, sock
        if old is not None and wanted == old.port and requested is None:
            # The running server did not allow sharing its port (started by an older mlfn).
            chosen = first_free_port(wanted)
            notes.append(f"port {wanted} is held by the running server: the new one serves on {chosen}")
            say(notes[-1])
            return chosen, shared_socket(chosen)
        if explicit:
            source = "--port" if requested else f"stacks/{project.stack.name}.yaml: port:"
            raise MlfnError(f"{source} {wanted} is busy (another program listens there): free it, or "
                            "choose another port")
        chosen = first_free_port(wanted)
        notes.append(f"port {wanted} is busy: using {chosen}")
        say(notes[-1])
        return chosen, shared_socket(chosen)

    def destroy(self, project, options: EngineOptions) -> DestroyResult:
        state = read_state(project)
        stack = project.stack.name
        leftover = stop_leftover(project)
        if state is None:
            if leftover is not None:
                return DestroyResult(stack, True, f"stopped a server an interrupted up had started (pid {leftover})")
            return DestroyResult(stack, False, "nothing to destroy: no local server")
        if is_running(state.pid):
            stop(state.pid)
        shutil.rmtree(state.model_dir, ignore_errors=True)
        forget(project)
        return DestroyResult(stack, True, f"stopped the local server (pid {state.pid}, {state.url})")

    def outputs(self, project, options: EngineOptions, reveal: bool = False) -> dict[str, Any]:
        state = read_state(project)
        if state is None:
            raise MlfnError(f"stack {project.stack.name} is not running: run mlfn up")
        return statefile.masked(_outputs(state), reveal)

    def status(self, project, options: EngineOptions) -> Status:
        state = read_state(project)
        stack = project.stack.name
        if state is None:
            pid = read_starting(project)
            if pid is not None and is_running(pid):
                return Status(stack, "local", TARGET, running=True, ready=None, details={
                    "pid": pid, "note": "started by an interrupted up and never recorded: mlfn up replaces it, "
                                        "mlfn destroy stops it"})
            return Status(stack, "local", TARGET, running=False)
        running = is_running(state.pid)
        ready = False
        if running:
            try:
                ready = httpx.get(state.url + c.READINESS_ROUTE, timeout=2).status_code == 200
            except httpx.TransportError:
                ready = False
        return Status(stack, "local", TARGET, running=running, ready=ready, url=state.url, details={
            "pid": state.pid,
            "uptime_s": round(time.time() - state.started_at, 1),
            "model": state.model_name,
            "format": project.spec.model.format,
            "log": state.log,
            "up_to_date": state.deployed_hash == deployed_hash(project),
        })

    def invoke(self, project, options: EngineOptions, body: bytes, content_type: str) -> InvokeResponse:
        state = read_state(project)
        if state is None or not is_running(state.pid):
            raise InvokeError(f"stack {project.stack.name} has no running local server: run mlfn up")
        headers = {"content-type": content_type}
        if state.api_key:
            headers["authorization"] = f"Bearer {state.api_key}"
        return post(state.url + c.INVOCATIONS, body, headers, timeout=60)

    def logs(self, project, options: EngineOptions, lines: int = 50) -> LogsInfo:
        path = log_path(project)
        if not path.exists():
            return LogsInfo(where=str(path), lines=())
        text = path.read_text(errors="replace").splitlines()
        return LogsInfo(where=str(path), lines=tuple(text[-lines:] if lines > 0 else text))

    def follow(self, project, options: EngineOptions, poll_s: float = 0.25) -> Iterator[str]:
        path = log_path(project)
        while not path.exists():
            time.sleep(poll_s)
        with path.open(errors="replace") as f:
            f.seek(0, 2)
            while True:
                line = f.readline()
                if line:
                    yield line.rstrip("\n")
                else:
                    time.sleep(poll_s)
