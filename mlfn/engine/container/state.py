"""What ``up --local`` records under ``.mlfn/container/``: one JSON file per stack, and the model as
the platform would hand it to the container (mounted read-only where the target mounts it)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from ...errors import EngineError

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
    d = container_dir(project)
    d.mkdir(parents=True, exist_ok=True)
    ignore = d.parent / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n")
    return d


def read_state(project) -> ContainerState | None:
    path = state_path(project)
    if not path.exists():
        return None
    try:
        return ContainerState(**json.loads(path.read_text()))
    except (ValueError, TypeError) as e:
        raise EngineError(f"{path} is damaged ({e}): delete it (and the container it names) and run "
                          "mlfn up --local again") from e


def write_state(project, state: ContainerState) -> None:
    path = state_path(project)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(state), indent=2))
    tmp.replace(path)


def forget(project) -> None:
    state_path(project).unlink(missing_ok=True)
