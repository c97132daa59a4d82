"""The Docker Engine API, through the ``docker`` Python package (imported here only, and only when
a ``--local`` verb runs): no CLI, no Compose. Every failure to reach the engine is one message
saying how to install or start Docker."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ...errors import EngineError

INSTALL = ("install Docker (https://docs.docker.com/engine/install/) and start it (`sudo systemctl start docker`, "
           "or open Docker Desktop)")
CLIENT = "pip install 'mlfn[local]' (the docker Python package)"


#: Who needs the engine, the start of every message saying it cannot be reached.
LOCAL = "--local runs the stack's container with the Docker engine"


def docker_missing(reason: str, purpose: str = LOCAL, client: bool = False) -> EngineError:
    """The one message: what is missing and how to get it (the package's install line only when the
    package is what is missing; an engine that does not answer is not fixed by a pip install)."""
    return EngineError(f"{purpose}, and {reason}: {INSTALL}" + (f"; {CLIENT}" if client else ""))


def current_context(environ: Mapping[str, str] | None = None) -> str | None:
    """The Docker CLI's current context when ``DOCKER_HOST`` does not override it: ``DOCKER_CONTEXT``, else
    ``currentContext`` in the CLI's config.json (``$DOCKER_CONFIG``, else ``~/.docker``); None for ``default``
    (the engine's own socket, which ``docker.from_env`` finds) or when ``DOCKER_HOST`` is set.
    As the CLI resolves it: https://docs.docker.com/engine/manage-resources/contexts/"""
    env = os.environ if environ is None else environ
    if env.get("DOCKER_HOST"):
        return None
    name = env.get("DOCKER_CONTEXT")
    if not name:
        folder = Path(env["DOCKER_CONFIG"]) if env.get("DOCKER_CONFIG") else Path(env.get("HOME") or Path.home()
                                                                                 ) / ".docker"
        try:
            name = json.loads((folder / "config.json").read_text()).get("currentContext")
        except (OSError, ValueError, AttributeError):
            name = None
    return None if not name or name == "default" else str(name)


def context_endpoint(name: str, purpose: str = LOCAL) -> tuple[str, Any]:
    """(host, TLS config or None) of the Docker context ``name``: its ``meta.json`` under the CLI's
    ``contexts/meta/<sha256 of the name>/``, read by the docker package's ``ContextAPI``."""
    from docker.context import ContextAPI

    try:
        context = ContextAPI.get_context(name)
    except Exception as e:  # DockerException, or the bare Exception it raises for a meta.json it cannot parse
        raise docker_missing(f"the Docker context {name!r} cannot be read ({e})", purpose) from e
    if context is None or not context.Host:
        raise docker_missing(f"the current Docker context {name!r} (DOCKER_CONTEXT, or currentContext in "
                             "~/.docker/config.json) does not exist or names no Docker endpoint (`docker context "
                             "ls` lists them; `docker context use default` goes back to the local engine)", purpose)
    return context.Host, context.TLSConfig


def connect(purpose: str = LOCAL) -> Any:
    """A client of the local Docker engine that answered a ping.

    Where ``DOCKER_HOST`` is unset, the engine is the current Docker context's, as for the CLI: Docker
    Desktop, Colima and OrbStack put their engine's socket in a context, and ``docker.from_env`` of
    docker < 7.2 reads only the environment (https://github.com/docker/docker-py/issues/3146)."""
    try:
        import docker
    except ImportError:
        raise docker_missing("the docker Python package is not installed", purpose, client=True) from None
    context = current_context()
    where = ""
    try:
        if context is None:
            client = docker.from_env(timeout=30)
        else:
            host, tls = context_endpoint(context, purpose)
            where = f" at {host} (Docker context {context})"
            client = docker.DockerClient(base_url=host, tls=tls or False, timeout=30)
        client.ping()
    except EngineError:
        raise
    except docker.errors.DockerException as e:
        raise docker_missing(f"the Docker engine does not answer{where} ({e})", purpose) from e
    except OSError as e:  # a socket that exists with nothing behind it
        raise docker_missing(f"the Docker engine does not answer{where} ({e})", purpose) from e
    return client


def find(client: Any, container_id: str) -> Any | None:
    """The container, or None when it no longer exists."""
    import docker

    try:
        return client.containers.get(container_id)
    except docker.errors.NotFound:
        return None


def api_error(e: Exception) -> str:
    """The engine's own words for a failed call."""
    explanation = getattr(e, "explanation", None)
    return str(explanation or e)


def api_errors() -> tuple[type[Exception], ...]:
    """The errors the engine answers a refused call with."""
    import docker

    return (docker.errors.APIError,)


def tail(container: Any, lines: int) -> str:
    """The container's last log lines, for an error message."""
    try:
        return container.logs(tail=lines).decode(errors="replace").strip() or "(no log lines)"
    except api_errors() as e:  # removed meanwhile: its logs went with it
        return f"(no logs: {api_error(e)})"


def remove(container: Any, grace_s: int) -> None:
    """Stop (SIGTERM, then SIGKILL after ``grace_s``) and remove; a container already gone is fine."""
    import docker

    try:
        container.stop(timeout=grace_s)
        container.remove(force=True)
    except docker.errors.NotFound:
        return
    except docker.errors.APIError as e:
        raise EngineError(f"could not remove the container {container.name}: {api_error(e)}") from e
