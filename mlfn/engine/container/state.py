"""What ``up --local`` records under ``.mlfn/container/``: one JSON file per stack, and the model as
the platform would hand it to the container (mounted read-only where the target mounts it)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .. import statefile

CONTAINER_DIR = ".mlfn/container"


@dataclass(frozen=True)
class ContainerState:
    container_id: str
    name: str
    #: The image's tag and id (``mlfn build``'s).
    image: str
    image_id: str
    port: int
    url: str
    target: str
    started_at: float
    #: What the container was made from: image id, how the target runs it, the model.
    fingerprint: str
    model_dir: str
    api_key: str | None = None


def container_dir(project) -> Path:
    return project.dir / CONTAINER_DIR


def state_path(project) -> Path:
    return container_dir(project) / f"{project.stack.name}.json"


def ensure_dir(project) -> Path:
    return statefile.ensure_dir(container_dir(project))


def read_state(project) -> ContainerState | None:
    return statefile.read(state_path(project), ContainerState,
                          "delete it (and the container it names) and run mlfn up --local again")


def write_state(project, state: ContainerState) -> None:
    statefile.write(state_path(project), state)


def forget(project) -> None:
    state_path(project).unlink(missing_ok=True)
