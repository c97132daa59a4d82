"""Read YAML files and turn pydantic errors into messages that name file, line and field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from .errors import ConfigError


def load_yaml(path: Path, error: type[ConfigError]) -> tuple[dict[str, Any], dict[tuple, int]]:
    """Parse a YAML mapping and return it with a map of field path -> line number."""
    try:
        text = path.read_text()
    except FileNotFoundError as e:
        raise error(f"{path}: file not found") from e
    except OSError as e:
        raise error(f"{path}: cannot read: {e}") from e
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        problem = getattr(e, "problem", None) or str(e)
        raise error(f"{where}: not valid YAML: {problem}") from e
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise error(f"{path}: expected a mapping of fields at the top level, got {type(data).__name__}")
    lines: dict[tuple, int] = {}
    if node is not None:
        _walk(node, (), lines)
    return data, lines


def _walk(node: yaml.Node, path: tuple, lines: dict[tuple, int]) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = (*path, key.value)
            lines[child] = key.start_mark.line + 1
            _walk_value(value, child, lines)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, (*path, i), lines)


def _walk_value(node: yaml.Node, path: tuple, lines: dict[tuple, int]) -> None:
    line = lines[path]
    _walk(node, path, lines)
    lines[path] = line


def _describe(err: dict[str, Any]) -> str:
    kind = err["type"]
    value = err.get("input")
    ctx = err.get("ctx") or {}
    if kind in ("literal_error", "enum"):
        expected = ctx.get("expected", "")
        allowed = ", ".join(part.strip().strip("'") for part in expected.replace(" or ", ", ").split(","))
        return f"{value!r} is not one of {allowed}"
    if kind == "extra_forbidden":
        return "is not a known field (remove it or check its spelling)"
    if kind == "missing":
        return "is required"
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    if isinstance(value, dict | list):
        return msg
    return f"{value!r}: {msg}"


def _display(path: Path | None) -> str:
    """How an error names a file: ``mlfn.yaml``, ``stacks/prod.yaml``."""
    if path is None:
        return "the stack"
    return f"{path.parent.name}/{path.name}" if path.parent.name == "stacks" else path.name


def format_validation_error(path: Path | None, exc: ValidationError, lines: dict[tuple, int],
                            prefix: tuple = (), hints: dict[str, str] | None = None) -> str:
    """One line per error: ``file:line: field: what is wrong``. ``prefix`` is where the validated
    mapping sits in the file (``("overrides", "aws")``); ``hints`` add text after a field's error."""
    out = []
    for err in exc.errors():
        loc = prefix + tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        field = ".".join(str(p) for p in loc) or "(top level)"
        line = None
        for i in range(len(loc), -1, -1):
            if loc[:i] in lines:
                line = lines[loc[:i]]
                break
        name = _display(path)
        where = f"{name}:{line}" if line else name
        hint = (hints or {}).get(field, "")
        out.append(f"{where}: {field}: {_describe(err)}{hint}")
    return "\n".join(out)


def validate_file(model: type[BaseModel], path: Path, error: type[ConfigError], context: dict | None = None,
                  with_lines: bool = False):
    data, lines = load_yaml(path, error)
    try:
        value = model.model_validate(data, context=context)
    except ValidationError as e:
        raise error(format_validation_error(path, e, lines)) from e
    return (value, lines) if with_lines else value
