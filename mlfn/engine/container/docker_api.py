"""The Docker Engine API, through the ``docker`` Python package (imported here only, and only when
a ``--local`` verb runs): no CLI, no Compose. Every failure to reach the engine is one message
saying how to install or start Docker."""

from __future__ import annotations

from typing import Any

from ...errors import EngineError

INSTALL = ("install Docker (https://docs.docker.com/engine/install/) and start it (`sudo systemctl start docker`, "
           "or open Docker Desktop)")
CLIENT = "pip install 'mlfn[local]' (the docker Python package)"


def docker_missing(reason: str) -> EngineError:
    return EngineError(f"--local runs the stack's container with the Docker engine, and {reason}: {INSTALL}; "
                       f"{CLIENT}")


def connect() -> Any:
    """A client of the local Docker engine that answered a ping."""
    try:
        import docker
    except ImportError:
        raise docker_missing("the docker Python package is not installed") from None
    try:
        client = docker.from_env(timeout=30)
        client.ping()
    except docker.errors.DockerException as e:
        raise docker_missing(f"the Docker engine does not answer ({e})") from e
    except OSError as e:  # a socket that exists with nothing behind it
        raise docker_missing(f"the Docker engine does not answer ({e})") from e
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
