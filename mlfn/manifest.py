"""The manifest that travels with every model: written by the build and by the local engine."""

from __future__ import annotations

from pathlib import Path

from mlfn_runtime.contract import Manifest, find_model_file

from .spec import Spec


def manifest_for(spec: Spec, model_path: Path | None) -> Manifest:
    """Name, format, model file (found in ``model_path`` when it is local) and handler."""
    model_file = None
    if model_path is not None and spec.model.format != "custom":
        found = model_path if model_path.is_file() else find_model_file(model_path)
        model_file = found.name if found is not None else None
    return Manifest(name=spec.name, format=spec.model.format, model_file=model_file, handler=spec.model.handler)
