"""AWS's own API schemas (botocore's service models), walked for what botocore does not check.

botocore's ParamValidator checks types and required members only: it accepts an instance type
``ml.nonexistent.huge``, a name ``bad name!!`` or ``MemorySizeInMB: 99999``. ``violations`` also
checks enums, patterns, numeric ranges, lengths and unknown members.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import botocore.session


@functools.cache
def service(name: str):
    return botocore.session.get_session().get_service_model(name)


def enum_of(service_name: str, shape_name: str) -> tuple[str, ...]:
    return tuple(service(service_name).shape_for(shape_name).enum)


def _pattern_ok(pattern: str, value: str) -> bool | None:
    try:
        return re.fullmatch(f"(?:{pattern})", value, flags=re.DOTALL) is not None
    except re.error:
        return None  # a Java-only construct: cannot be checked here


def violations(shape, value: Any, path: str = "") -> list[str]:
    """Everything in ``value`` that the shape's constraints reject, as 'path: reason' lines."""
    out: list[str] = []
    where = path or shape.name
    t = shape.type_name
    meta = shape.metadata
    if t == "structure":
        if not isinstance(value, dict):
            return [f"{where}: expected an object, got {type(value).__name__}"]
        for req in shape.required_members:
            if req not in value:
                out.append(f"{where}.{req}: required")
        for key, item in value.items():
            if key not in shape.members:
                out.append(f"{where}.{key}: not a member of {shape.name}")
                continue
            out += violations(shape.members[key], item, f"{where}.{key}")
        return out
    if t == "list":
        if not isinstance(value, list):
            return [f"{where}: expected a list, got {type(value).__name__}"]
        if "min" in meta and len(value) < meta["min"]:
            out.append(f"{where}: at least {meta['min']} items, got {len(value)}")
        if "max" in meta and len(value) > meta["max"]:
            out.append(f"{where}: at most {meta['max']} items, got {len(value)}")
        for i, item in enumerate(value):
            out += violations(shape.member, item, f"{where}[{i}]")
        return out
    if t == "map":
        if not isinstance(value, dict):
            return [f"{where}: expected a map, got {type(value).__name__}"]
        if "max" in meta and len(value) > meta["max"]:
            out.append(f"{where}: at most {meta['max']} entries, got {len(value)}")
        for k, v in value.items():
            out += violations(shape.key, k, f"{where}<key {k!r}>")
            out += violations(shape.value, v, f"{where}[{k!r}]")
        return out
    if t == "string":
        if not isinstance(value, str):
            return [f"{where}: expected a string, got {type(value).__name__}"]
        if shape.enum and value not in shape.enum:
            shown = ", ".join(shape.enum[:8]) + (", ..." if len(shape.enum) > 8 else "")
            out.append(f"{where}: {value!r} is not one of {shown}")
        if "min" in meta and len(value) < meta["min"]:
            out.append(f"{where}: at least {meta['min']} characters, got {len(value)}")
        if "max" in meta and len(value) > meta["max"]:
            out.append(f"{where}: at most {meta['max']} characters, got {len(value)}")
        if "pattern" in meta and _pattern_ok(meta["pattern"], value) is False:
            out.append(f"{where}: {value!r} does not match {meta['pattern']}")
        return out
    if t in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            return [f"{where}: expected an integer, got {value!r}"]
    elif t in ("double", "float"):
        if not isinstance(value, int | float) or isinstance(value, bool):
            return [f"{where}: expected a number, got {value!r}"]
    elif t == "boolean":
        return [] if isinstance(value, bool) else [f"{where}: expected true/false, got {value!r}"]
    else:
        return out
    if "min" in meta and value < meta["min"]:
        out.append(f"{where}: {value} is below the minimum {meta['min']}")
    if "max" in meta and value > meta["max"]:
        out.append(f"{where}: {value} is above the maximum {meta['max']}")
    return out


def check_request(service_name: str, operation: str, request: dict[str, Any]) -> list[str]:
    """Violations of one API request against its operation's input shape."""
    shape = service(service_name).operation_model(operation).input_shape
    return violations(shape, request, operation)
