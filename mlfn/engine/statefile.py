"""The JSON state files of the engines that run on this machine (the local process, the local
container): one dataclass per stack, written atomically, in a folder git ignores."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

from ..errors import EngineError

T = TypeVar("T")


def ensure_dir(folder: Path) -> Path:
    """Create ``folder``; its parent (``.mlfn``) gets a ``.gitignore`` that keeps it out of the repository."""
    folder.mkdir(parents=True, exist_ok=True)
    ignore = folder.parent / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n")
    return folder


def read(path: Path, kind: type[T], remedy: str) -> T | None:
    """The state at ``path``, None when there is none; a damaged file says what to do (``remedy``)."""
    if not path.exists():
        return None
    try:
        return kind(**json.loads(path.read_text()))
    except (ValueError, TypeError) as e:
        raise EngineError(f"{path} is damaged ({e}): {remedy}") from e


def write(path: Path, state: Any) -> None:
    """Replace the state at ``path`` in one step: a reader sees the old file or the new, never half."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(state), indent=2))
    tmp.replace(path)


def masked(outputs: dict[str, Any], reveal: bool) -> dict[str, Any]:
    """``outputs`` with the API key hidden unless ``reveal``."""
    if "api_key" in outputs and not reveal:
        return {**outputs, "api_key": "[secret]"}
    return outputs
