"""The manifest that travels with every model: written by the build and by the local engine."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from mlfn_runtime.contract import MANIFEST_FILE, Manifest, find_model_file

from .spec import Spec


def manifest_for(spec: Spec, model_path: Path | None) -> Manifest:
    """Name, format, model file (found in ``model_path`` when it is local), handler, and the library
    versions the model file says it was saved with (``mlfn.image.pins``)."""
    from .image.pins import model_libraries

    model_file = None
    libraries: dict[str, str] = {}
    if model_path is not None and spec.model.format != "custom":
        found = model_path if model_path.is_file() else find_model_file(model_path)
        model_file = found.name if found is not None else None
        libraries = model_libraries(found, spec.model.format)
    return Manifest(name=spec.name, format=spec.model.format, model_file=model_file, handler=spec.model.handler,
                    libraries=libraries)


@dataclass(frozen=True)
class ModelFiles:
    """The files of a local model (its manifest excluded: the build writes a fresh one)."""

    root: Path
    files: tuple[Path, ...]
    #: sha256 over every file's relative path and bytes: the same model gives the same digest.
    digest: str

    def relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()


def model_files(source: Path) -> ModelFiles:
    """A model file, or every file under a model directory, in a stable order, with a digest."""
    if source.is_file():
        root, files = source.parent, (source,)
    else:
        root = source
        files = tuple(sorted(p for p in source.rglob("*") if p.is_file() and "__pycache__" not in p.parts
                             and p.name != MANIFEST_FILE))
    h = hashlib.sha256()
    for p in files:
        h.update(p.relative_to(root).as_posix().encode())
        h.update(p.read_bytes())
    return ModelFiles(root, files, h.hexdigest())
