"""What the local engine records under ``.mlfn/local/``: one JSON file and one log per stack."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .. import statefile

LOCAL_DIR = ".mlfn/local"


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


def local_dir(project) -> Path:
    return project.dir / LOCAL_DIR


def state_path(project) -> Path:
    return local_dir(project) / f"{project.stack.name}.json"


def log_path(project) -> Path:
    return local_dir(project) / f"{project.stack.name}.log"


def ensure_dir(project) -> Path:
    return statefile.ensure_dir(local_dir(project))


def read_state(project) -> LocalState | None:
    return statefile.read(state_path(project), LocalState, "delete it and run mlfn up again")


def write_state(project, state: LocalState) -> None:
    statefile.write(state_path(project), state)


def forget(project) -> None:
    state_path(project).unlink(missing_ok=True)


def _starting_path(project) -> Path:
    return local_dir(project) / f"{project.stack.name}.starting"


def record_starting(project, pid: int) -> None:
    """The pid of a server being started and not yet recorded in state."""
    _starting_path(project).write_text(str(pid))


def read_starting(project) -> int | None:
    try:
        return int(_starting_path(project).read_text().strip())
    except (OSError, ValueError):
        return None


def forget_starting(project) -> None:
    _starting_path(project).unlink(missing_ok=True)
