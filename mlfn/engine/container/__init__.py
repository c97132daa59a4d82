"""The container engine: ``mlfn up --local`` runs the exact image a cloud stack's ``up`` would push,
on this machine, the way that stack's target runs it.

The image is built by ``mlfn build``'s code (the offline plan's own build context, linux/amd64);
the target says how its platform runs it (``Target.local_container``: environment, command,
read-only mounts, port, routes); the Docker Engine API runs it with the port published on
127.0.0.1. State (container, port, image) is recorded under ``.mlfn/container/`` once the
container answers, and ``status``/``logs``/``invoke``/``destroy --local`` act on that container.
Running ``up --local`` again with nothing changed keeps the container; a changed image, model or
run configuration replaces it on the same port.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
from mlfn_runtime import contract as c

from ...adapter import ContainerRun, InvokeResponse, LogsInfo, post
from ...errors import EngineError, InvokeError, MlfnError, StackError
from ...image.context import world_readable
from .. import statefile
from ..base import DestroyResult, EngineOptions, PreviewResult, Status, UpResult
from ..local.model import deployed_hash, prepare_model
from ..local.process import DEFAULT_PORT, READY_TIMEOUT_S, first_free_port, port_free
from . import docker_api
from .state import ContainerState, ensure_dir, forget, read_state, write_state

__all__ = ["ContainerEngine", "ContainerState"]

#: Why a container whose target declares no health route (a function platform's emulator) is never called ready.
NO_HEALTH = "a function has no health route"

#: How ``up --local`` builds the image: (project, base image, progress) -> the built images.
Builder = Callable[[Any, str | None, Callable[[str], None]], list]


def build_image(project, base_image: str | None, say: Callable[[str], None], client: Any = None) -> list:
    """``mlfn build``'s build, through the same Engine API client that runs the container."""
    from ...image.local_build import build

    return build(project, base_image=base_image, on_progress=say, placeholders=False, client=client)


def _outputs(state: ContainerState) -> dict[str, Any]:
    return {"url": state.url, "target": state.target, "container": state.name, "image": state.image,
            "port": state.port, "logs": f"docker logs {state.name}",
            **({"api_key": state.api_key} if state.api_key else {})}


class ContainerEngine:
    """A cloud stack's image, run by the local Docker engine as its target's platform runs it."""

    name = "container"

    def __init__(self, connect: Callable[[], Any] | None = None, build: Builder | None = None,
                 ready_timeout: float = READY_TIMEOUT_S):
        #: A Docker client (``docker.DockerClient``, or a fake of its surface in tests).
        self._connect = connect or (lambda: docker_api.connect())
        self._build = build or (lambda *a: build_image(*a, client=self._client))
        self._client: Any = None
        self.ready_timeout = ready_timeout

    # -- what the stack's target says ----------------------------------------------------------

    @staticmethod
    def _require_cloud(project) -> None:
        if project.is_local:
            raise StackError(f"stack {project.stack.name} is cloud local: it runs no image, and `mlfn up` already "
                             "serves it here. --local runs a cloud stack's container: pass --stack with a cloud "
                             "stack, or --cloud")

    def _run_of(self, project, model_dir: Path) -> ContainerRun:
        self._require_cloud(project)
        target = project.adapter.target(project.stack.target or "")
        run = target.local_container(project.spec, project.stack, model_dir) if target is not None else None
        if run is None:
            raise MlfnError(f"target {project.stack.target} of cloud {project.cloud} has no container to run "
                            "locally (its adapter gives no local_container): --local cannot run it; "
                            "`mlfn plan` shows what it deploys")
        return run

    @staticmethod
    def _model_dir(project) -> Path:
        """The model as the build lays it out, one folder per content (so an unchanged model keeps
        its folder and the container that mounts it)."""
        return ensure_dir(project) / f"{project.stack.name}-model-{deployed_hash(project)[:16]}"

    # -- the verbs -----------------------------------------------------------------------------

    def preview(self, project, options: EngineOptions) -> PreviewResult:
        raise StackError("--local has no preview: `mlfn up --local` builds and runs the container, "
                         "`mlfn destroy --local` removes it")

    def up(self, project, options: EngineOptions) -> UpResult:
        self._require_cloud(project)
        client = self._client = self._connect()
        say, stack = options.say, project.stack.name
        model_dir = self._model_dir(project)
        fresh = not model_dir.exists()
        if fresh:
            prepare_model(project, model_dir)
            world_readable(model_dir)  # as a platform's model store hands it to the non-root runtime
        try:
            run = self._run_of(project, model_dir)
        except MlfnError:
            if fresh:
                shutil.rmtree(model_dir, ignore_errors=True)
            raise
        images = self._build(project, options.base_image, say)
        image = images[-1]
        fingerprint = _fingerprint(image.image_id, run, project)
        old = read_state(project)
        notes: list[str] = []
        old_container = docker_api.find(client, old.container_id) if old is not None else None
        if old is not None and old_container is not None:
            old_container.reload()
            if (old_container.status == "running" and old.fingerprint == fingerprint
                    and (options.port is None or options.port == old.port)):
                say("nothing changed: the container keeps running")
                return UpResult(stack, "unchanged", _outputs(old), notes=("nothing changed: the container keeps "
                                                                          "running",))
        action = "started"
        if old is not None:
            if old_container is not None:
                why = _why_replaced(old, old_container, image.image_id, model_dir, project, fingerprint)
                docker_api.remove(old_container, run.stop_grace_s)
                notes.append(f"replaced the container {old.name} ({why}): {image.tag}")
            else:
                notes.append(f"the container recorded in state ({old.name}) is gone: starting a new one")
            say(notes[-1])
            action = "replaced" if old_container is not None else "recovered"
            forget(project)
        port = self._port(project, options.port, old)
        api_key = None
        if project.spec.endpoint.auth == "key":
            api_key = old.api_key if old and old.api_key else "mlfn-" + secrets.token_urlsafe(24)
        container = self._start(client, project, run, image.tag, port, api_key, say)
        state = ContainerState(
            container_id=container.id, name=container.name, image=image.tag, image_id=image.image_id, port=port,
            url=f"http://127.0.0.1:{port}", target=project.stack.target or "", started_at=time.time(),
            fingerprint=fingerprint, model_dir=str(model_dir), api_key=api_key)
        write_state(project, state)
        if run.health is None:
            notes.append(f"the container is running; {NO_HEALTH}: the first `mlfn invoke --local` tells whether "
                         "it is ready")
            say(notes[-1])
        if old is not None and old.model_dir != str(model_dir):
            shutil.rmtree(old.model_dir, ignore_errors=True)
        return UpResult(stack, action, _outputs(state), notes=tuple(notes))

    @staticmethod
    def _port(project, requested: int | None, old: ContainerState | None) -> int:
        """--port (an error if busy), else the port this stack's container had, else the first free
        one from 8080."""
        if requested is not None:
            if not port_free(requested):
                raise MlfnError(f"--port {requested} is busy (another program listens there): free it, or choose "
                                "another port")
            return requested
        if old is not None and port_free(old.port):
            return old.port
        return first_free_port(DEFAULT_PORT)

    def _start(self, client, project, run: ContainerRun, image: str, port: int, api_key: str | None,
               say: Callable[[str], None]):
        env = dict(run.env)
        if api_key:
            env[c.API_KEYS] = api_key
        name = f"mlfn-{project.spec.name}-{project.stack.pulumi_stack}-{secrets.token_hex(3)}"[:63]
        kwargs: dict[str, Any] = {
            "name": name, "detach": True, "environment": env,
            "ports": {f"{run.port}/tcp": ("127.0.0.1", port)},
            "volumes": {src: {"bind": dst, "mode": "ro"} for src, dst in run.mounts.items()},
            "read_only": run.read_only, "tmpfs": dict.fromkeys(run.tmpfs, ""),
            "labels": {"mlfn.project": str(project.dir), "mlfn.stack": project.stack.name},
            **_limits(project.spec.compute),
        }
        if run.command:
            kwargs["command"] = list(run.command)
        if run.entrypoint is not None:
            kwargs["entrypoint"] = list(run.entrypoint)
        if run.user is not None:
            kwargs["user"] = run.user
        say(f"starting {name} from {image} on 127.0.0.1:{port}")
        try:
            container = client.containers.run(image, **kwargs)
        except docker_api.api_errors() as e:  # the engine refused it: say its words
            raise EngineError(f"the Docker engine could not start {image}: {docker_api.api_error(e)}") from e
        try:
            self._wait_ready(container, f"http://127.0.0.1:{port}", run)
        except BaseException:
            docker_api.remove(container, 0)
            raise
        return container

    def _wait_ready(self, container, url: str, run: ContainerRun) -> None:
        deadline = time.monotonic() + self.ready_timeout
        while True:
            container.reload()
            if container.status not in ("created", "running"):
                raise EngineError(f"the container exited ({container.status}) before it was ready; its last log "
                                  f"lines:\n{docker_api.tail(container, 30)}")
            if container.status == "running" and (run.health is None or _answers(url + run.health)):
                return
            if time.monotonic() > deadline:
                raise EngineError(f"the container did not answer {run.health} within {self.ready_timeout:.0f}s; "
                                  f"its last log lines:\n{docker_api.tail(container, 30)}")
            time.sleep(0.25)

    def destroy(self, project, options: EngineOptions) -> DestroyResult:
        self._require_cloud(project)
        client = self._connect()
        state = read_state(project)
        stack = project.stack.name
        if state is None:
            return DestroyResult(stack, False, "nothing to destroy: no local container")
        container = docker_api.find(client, state.container_id)
        if container is not None:
            docker_api.remove(container, 10)
        shutil.rmtree(state.model_dir, ignore_errors=True)
        forget(project)
        gone = "" if container is not None else " (it was already gone)"
        return DestroyResult(stack, True, f"removed the local container {state.name}{gone} ({state.url})")

    def outputs(self, project, options: EngineOptions, reveal: bool = False) -> dict[str, Any]:
        self._require_cloud(project)
        self._connect()
        state = read_state(project)
        if state is None:
            raise MlfnError(f"stack {project.stack.name} has no local container: run mlfn up --local")
        return statefile.masked(_outputs(state), reveal)

    def status(self, project, options: EngineOptions) -> Status:
        self._require_cloud(project)
        client = self._connect()
        state = read_state(project)
        stack, cloud, target = project.stack.name, project.cloud, project.stack.target
        if state is None:
            return Status(stack, cloud, target, running=False)
        container = docker_api.find(client, state.container_id)
        if container is None:
            return Status(stack, cloud, target, running=False, url=state.url,
                          details={"container": state.name, "note": "the container is gone: mlfn up --local "
                                                                    "starts a new one"})
        container.reload()
        running = container.status == "running"
        run = self._run_of(project, Path(state.model_dir))
        ready = None if run.health is None and running else running and _answers(state.url + str(run.health))
        details: dict[str, Any] = {
            "container": state.name, "image": state.image, "state": container.status,
            "uptime_s": round(time.time() - state.started_at, 1), "model": project.spec.name,
            "format": project.spec.model.format, "logs": f"docker logs {state.name}",
        }
        if not running:
            details["exit_code"] = container.attrs.get("State", {}).get("ExitCode")
        elif ready is None:
            details["ready_note"] = f"unknown: {NO_HEALTH}; `mlfn invoke --local` tells"
        return Status(stack, cloud, target, running=running, ready=ready, url=state.url, details=details)

    def _existing(self, project, error: type[MlfnError]):
        """(state, container) of the stack's container, or ``error`` saying how to start one."""
        self._require_cloud(project)
        client = self._connect()
        state = read_state(project)
        container = docker_api.find(client, state.container_id) if state is not None else None
        if state is None or container is None:
            raise error(f"stack {project.stack.name} has no local container: run mlfn up --local")
        return state, container

    def invoke(self, project, options: EngineOptions, body: bytes, content_type: str) -> InvokeResponse:
        state, _ = self._existing(project, InvokeError)
        run = self._run_of(project, Path(state.model_dir))
        headers = {"content-type": content_type}
        if state.api_key:
            headers["authorization"] = f"Bearer {state.api_key}"
        if run.wrap is not None:
            body, headers = run.wrap(body, headers)
        response = post(state.url + run.predict, body, headers, timeout=60)
        return run.unwrap(response) if run.unwrap is not None else response

    def logs(self, project, options: EngineOptions, lines: int = 50) -> LogsInfo:
        self._require_cloud(project)
        client = self._connect()
        state = read_state(project)
        if state is None:
            return LogsInfo(where="no local container (mlfn up --local starts one)", lines=())
        container = docker_api.find(client, state.container_id)
        where = f"docker logs {state.name}"
        if container is None:
            return LogsInfo(where=f"{where} (the container is gone)", lines=())
        text = container.logs(tail=lines if lines > 0 else "all").decode(errors="replace")
        return LogsInfo(where=where, lines=tuple(text.splitlines()))

    def follow(self, project, options: EngineOptions, poll_s: float = 0.25) -> Iterator[str]:
        _, container = self._existing(project, MlfnError)
        pending = b""
        for chunk in container.logs(stream=True, follow=True, since=int(time.time())):
            pending += chunk
            *done, pending = pending.split(b"\n")
            for line in done:
                yield line.decode(errors="replace")
        if pending:
            yield pending.decode(errors="replace")


def _fingerprint(image_id: str, run: ContainerRun, project) -> str:
    # The API key is drawn when the container starts, so no run setting shows endpoint.auth: it goes in here.
    data = {"image": image_id, "run": run.fingerprint(), "limits": _limits(project.spec.compute),
            "api_key": _wants_key(project)}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def _wants_key(project) -> bool:
    return project.spec.endpoint.auth == "key"


def _why_replaced(old: ContainerState, container, image_id: str, model_dir: Path, project, fingerprint: str) -> str:
    """Why the recorded container gives way, the first difference that tells it."""
    if old.image_id != image_id:
        return "a new image"
    if bool(old.api_key) != _wants_key(project):
        return "the API key was turned " + ("on" if _wants_key(project) else "off")
    if old.model_dir != str(model_dir):
        return "a new model"
    if old.fingerprint != fingerprint:
        return "a new way to run it"
    if container.status != "running":
        code = container.attrs.get("State", {}).get("ExitCode")
        return f"the container had stopped (exit code {code})"
    return "another port was asked for"


def _limits(compute) -> dict[str, Any]:
    """The CPUs and memory the description asks for (CPUs capped at this machine's), and its GPUs."""
    cpus = min(float(compute.cpu), float(os.cpu_count() or 1))
    limits: dict[str, Any] = {"nano_cpus": int(cpus * 1e9), "mem_limit": f"{compute.memory_mib}m"}
    if compute.gpu:
        limits["device_requests"] = [{"Driver": "nvidia", "Count": compute.gpu.count,
                                      "Capabilities": [["gpu"]]}]
    return limits


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False
