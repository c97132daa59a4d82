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


def field_names(model: type[BaseModel] | None) -> set[str]:
    """Every field name of ``model`` and of the models it nests, for "did you mean" hints."""
    names: set[str] = set()
    seen: set[type] = set()

    def walk(m) -> None:
        if not (isinstance(m, type) and issubclass(m, BaseModel)) or m in seen:
            return
        seen.add(m)
        for name, f in m.model_fields.items():
            names.add(name)
            for arg in _types_in(f.annotation):
                walk(arg)

    walk(model)
    return names


def _types_in(annotation: Any) -> list[Any]:
    from typing import get_args

    out = [annotation]
    for arg in get_args(annotation):
        out += _types_in(arg)
    return out


def _did_you_mean(key: Any, names: set[str]) -> str:
    import difflib

    if not isinstance(key, str) or not names:
        return ""
    close = difflib.get_close_matches(key, sorted(names), n=1, cutoff=0.7)
    return f": did you mean {close[0]}?" if close else ""


def _describe(err: dict[str, Any], names: set[str] | None = None) -> str:
    kind = err["type"]
    value = err.get("input")
    ctx = err.get("ctx") or {}
    if kind in ("literal_error", "enum"):
        expected = ctx.get("expected", "")
        allowed = ", ".join(part.strip().strip("'") for part in expected.replace(" or ", ", ").split(","))
        return f"{value!r} is not one of {allowed}"
    if kind == "extra_forbidden":
        hint = _did_you_mean(err["loc"][-1] if err.get("loc") else None, names or set())
        return "is not a known field" + (hint or " (remove it or check its spelling)")
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
                            prefix: tuple = (), hints: dict[str, str] | None = None,
                            model: type[BaseModel] | None = None) -> str:
    """One line per error: ``file:line: field: what is wrong``. ``prefix`` is where the validated
    mapping sits in the file (``("overrides", "aws")``); ``hints`` add text after a field's error."""
    out = []
    names = field_names(model)
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
        out.append(f"{where}: {field}: {_describe(err, names)}{hint}")
    return "\n".join(out)


def validate_file(model: type[BaseModel], path: Path, error: type[ConfigError], context: dict | None = None,
                  with_lines: bool = False):
    data, lines = load_yaml(path, error)
    try:
        value = model.model_validate(data, context=context)
    except ValidationError as e:
        raise error(format_validation_error(path, e, lines, model=model)) from e
    return (value, lines) if with_lines else value
