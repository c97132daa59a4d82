"""What ``validate`` (and ``up``) can check offline before any cloud is asked: the model is where
mlfn.yaml says, its file is the format mlfn.yaml claims, a handler's module is there, the stack is
consistent, and no placeholder from ``mlfn init`` is left in a stack file.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .project import Project

#: What a format's file looks like (magic bytes), where the name alone does not say.
_PICKLE = b"\x80"
_ZIP = b"PK\x03\x04"
_FORMAT_NAMES = {"sklearn": "scikit-learn", "onnx": "ONNX", "pytorch": "PyTorch", "xgboost": "XGBoost"}


def _show(project: Project, path: Path) -> str:
    try:
        return path.relative_to(project.dir).as_posix()
    except ValueError:
        return str(path)


def _model_file(path: Path) -> Path | None:
    """The model file at ``path`` (a file, or the one file in a folder whose name says its format);
    None where there is none or several (the runtime then says which it needs when it loads)."""
    from mlfn_runtime.contract import find_model_file

    try:
        return find_model_file(path) if path.exists() else None
    except OSError:
        return None


def model_problems(project: Project) -> list[str]:
    """The model exists, is the claimed format, and its handler module is beside it."""
    from mlfn_runtime.contract import infer_format

    model = project.spec.model
    if model.is_remote:
        return []
    path = (project.dir / model.uri).resolve()
    if not path.exists():
        return [f"mlfn.yaml: model.uri: {model.uri!r} does not exist in {project.dir}: point it at your "
                "trained model's file or folder"]
    problems: list[str] = []
    if model.handler:
        module = model.handler.split(":", 1)[0]
        folder = path if path.is_dir() else path.parent
        rel = Path(*module.split("."))
        if not ((folder / rel).with_suffix(".py").is_file() or (folder / rel / "__init__.py").is_file()):
            problems.append(f"mlfn.yaml: model.handler: {model.handler!r}: no {rel.as_posix()}.py in "
                            f"{_show(project, folder)}: the handler's module must sit beside the model")
    if model.format == "custom":
        return problems
    file = _model_file(path)
    if file is None:
        return problems
    named = infer_format(file)
    if named is not None and named != model.format:
        problems.append(f"mlfn.yaml: model.format: {_show(project, file)} is a model in "
                        f"{_FORMAT_NAMES.get(named, named)} format: set model.format: {named}")
        return problems
    head = file.read_bytes()[:4] if file.is_file() else b""
    if model.format == "sklearn" and file.suffix in (".joblib", ".pkl", ".pickle") and head[:1] not in (
            _PICKLE, b"\x78", b"\x1f", b"\x42", b"\xfd", b"\x5d"):  # pickle, or joblib's zlib/gz/bz2/xz/lzma
        problems.append(f"mlfn.yaml: model.uri: {_show(project, file)} is not a pickle or joblib file "
                        "(its first bytes say otherwise): save the model with joblib.dump")
    if model.format == "pytorch" and file.suffix in (".pt2", ".pt") and head != _ZIP:
        problems.append(f"mlfn.yaml: model.uri: {_show(project, file)} is not a saved PyTorch program "
                        "(torch.export.save or torch.jit.save write a zip archive)")
    return problems + _pin_problems(project, file)


def _pin_problems(project: Project, file: Path) -> list[str]:
    """requirements.txt that excludes a library version the model was saved with (the image pins it),
    and, where mlfn builds an image, a saved version outside the range the runtime's extra installs."""
    from .image.pins import model_libraries, pin_conflicts, range_conflicts

    req = project.spec.runtime.requirements
    has_req = bool(req) and (project.dir / req).is_file()
    builds = not project.is_local and not project.spec.runtime.image
    if not has_req and not builds:
        return []
    libraries = model_libraries(file, project.spec.model.format)
    problems = []
    if has_req:
        problems += [f"{c} ({_show(project, file)})" for c in pin_conflicts((project.dir / req).read_text(),
                                                                            libraries, req)]
    if builds:
        problems += range_conflicts(libraries, _show(project, file))
    return problems


def version_notes(project: Project) -> list[str]:
    """On the local stack: the model was saved with a library version this environment does not have
    (its warning would appear only in the server's log; the cloud image pins the saved version)."""
    import importlib.metadata as md

    from .image.pins import model_libraries

    model = project.spec.model
    if not project.is_local or model.is_remote or model.format == "custom":
        return []
    file = _model_file((project.dir / model.uri).resolve())
    notes = []
    for dist, saved in model_libraries(file, model.format).items():
        try:
            here = md.version(dist)
        except md.PackageNotFoundError:
            continue
        if here.split("+")[0] != saved.split("+")[0]:
            notes.append(f"{_show(project, file)} was saved with {dist} {saved}; this environment has {here}: "
                         f"served here it may warn or answer differently (pip install '{dist}=={saved}'); "
                         "cloud images pin the saved version")
    return notes


def stack_problems(project: Project, placeholders: bool = True) -> list[str]:
    """A local stack with a target, and placeholders left from ``mlfn init``."""
    stack = project.stack
    where = f"stacks/{stack.path.name}" if stack.path is not None else "the stack"
    problems: list[str] = []
    if project.is_local and stack.stack.target is not None:
        problems.append(f"{where}: target: {stack.stack.target!r}: cloud local has no targets (it serves the "
                        "model as a process here): remove target, or set cloud to the cloud it belongs to")
    if project.adapter is not None and placeholders:
        for field, placeholder in project.adapter.placeholders.items():
            if getattr(stack.location, field, None) == placeholder:
                problems.append(f"{where}: {field}: {placeholder!r} is the placeholder mlfn init wrote: "
                                f"set your own {field}")
    return problems


def local_notes(project: Project) -> list[str]:
    notes = version_notes(project)
    if project.is_local and project.spec.compute.gpu:
        notes.append("cloud local serves on this machine: compute.gpu is not reserved here (the model uses a GPU "
                     "only if this machine has one its library can see)")
    return notes
