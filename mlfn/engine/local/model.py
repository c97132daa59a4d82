"""Preparing the model as a cloud build would, and what the local environment must have to serve it."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from mlfn_runtime.build import FORMAT_EXTRAS
from mlfn_runtime.fetch import FetchError, fetch

from ...errors import EngineError
from ...manifest import manifest_for, model_files

#: The import each format needs in this environment.
FORMAT_MODULES = {"sklearn": "sklearn", "onnx": "onnxruntime", "pytorch": "torch", "xgboost": "xgboost"}


def model_source(project) -> str:
    uri = project.spec.model.uri
    return uri if project.spec.model.is_remote else str((project.dir / uri).resolve())


def deployed_hash(project) -> str:
    """What was deployed: the description, the stack and the model's bytes (the shared digest)."""
    h = hashlib.sha256()
    h.update(project.spec.model_dump_json().encode())
    h.update(project.stack.stack.model_dump_json().encode())
    if not project.spec.model.is_remote:
        source = Path(model_source(project))
        if not source.exists():
            raise EngineError(f"mlfn.yaml: model.uri: {project.spec.model.uri!r} does not exist in {project.dir}")
        h.update(model_files(source).digest.encode())
    if project.spec.runtime.requirements:
        req = project.dir / project.spec.runtime.requirements
        if req.exists():
            h.update(req.read_bytes())
    return h.hexdigest()


def prepare_model(project, dest: Path) -> Path:
    """Lay the model out as a build would: its files plus mlfn-manifest.json."""
    import shutil

    if dest.exists():
        shutil.rmtree(dest)
    try:
        fetch(model_source(project), dest)
    except FetchError as e:
        raise EngineError(f"mlfn.yaml: model.uri: {e}") from e
    manifest_for(project.spec, dest).write(dest)
    return dest


def _requirement_missing(line: str) -> bool:
    from importlib import metadata

    from packaging.requirements import InvalidRequirement, Requirement

    try:
        req = Requirement(line)
    except InvalidRequirement:
        return True
    try:
        version = metadata.version(req.name)
    except metadata.PackageNotFoundError:
        return True
    return bool(req.specifier) and not req.specifier.contains(version, prereleases=True)


def ensure_requirements(project, say: Callable[[str], None]) -> None:
    """Install the project's requirements into this environment only when some are missing."""
    fmt = project.spec.model.format
    module = FORMAT_MODULES.get(fmt)
    if module is not None:
        import importlib.util

        if importlib.util.find_spec(module) is None:
            extras = ",".join(FORMAT_EXTRAS[fmt])
            raise EngineError(
                f"serving a {fmt} model needs {module} in this environment: pip install 'mlfn-runtime[{extras}]'"
            )
    if not project.spec.runtime.requirements:
        return
    path = project.dir / project.spec.runtime.requirements
    if not path.exists():
        raise EngineError(f"mlfn.yaml: runtime.requirements: {path} not found")
    lines = [ln.split("#", 1)[0].strip() for ln in path.read_text().splitlines()]
    missing = [ln for ln in lines if ln and not ln.startswith("-") and _requirement_missing(ln)]
    if not missing:
        return
    say(f"installing missing requirements into this environment: {', '.join(missing)}")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "-r", str(path)], capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise EngineError(f"pip install -r {path} failed:\n{proc.stderr.strip()[-2000:]}")
