"""Helpers for adapter tests: checks every adapter's plan must pass."""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterable
from typing import Any

from .plan import Plan
from .tags import TagStyle

#: Input paths under which clouds take tags or labels.
TAG_FIELDS = ("tags", "labels", "metadata.labels")


def _at(inputs: dict, path: str):
    value = inputs
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def untagged(plan: Plan, style: TagStyle, taggable: Iterable[str] = ()) -> list[str]:
    """Resources that should carry ``<deployment key>=<name>`` (in ``style``'s form) and do not.

    A resource is taggable when its type is in ``taggable`` or it has a tags/labels input.
    """
    key = style.deployment_key
    must = set(taggable)
    missing = []
    for r in plan.resources:
        # Only mappings are tags: docker-build's `tags` input is a list of image references.
        fields = [f for f in TAG_FIELDS if isinstance(_at(r.inputs, f), dict)]
        if r.type not in must and not fields:
            continue
        values = [_at(r.inputs, f) or {} for f in fields]
        if not any(isinstance(v, dict) and v.get(key) == plan.name for v in values):
            missing.append(f"{r.type} {r.name}")
    return missing


def assert_tagged(plan: Plan, style: TagStyle, taggable: Iterable[str] = ()) -> None:
    missing = untagged(plan, style, taggable)
    assert not missing, f"not tagged with {style.deployment_key}={plan.name}: {', '.join(missing)}"


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def unknown_args(module, cls_name: str, value: Any, path: str) -> list[str]:
    """Keys of a planned input that are not arguments of the provider's typed ``Args`` class (and,
    recursively, of the nested Args classes its signature names)."""
    cls = getattr(module, cls_name)
    params = inspect.signature(cls.__init__).parameters
    source = inspect.getsource(cls.__init__)
    out = []
    for key, item in value.items():
        arg = _snake(key)
        if arg not in params:
            out.append(f"{path}.{key}: not an argument of {cls_name}")
            continue
        m = re.search(rf"\b{arg}: [^\n]*?'(\w+Args)'", source)
        if m is None:
            continue
        inner = m.group(1)
        if isinstance(item, dict):
            out += unknown_args(module, inner, item, f"{path}.{key}")
        elif isinstance(item, list):
            for i, element in enumerate(item):
                if isinstance(element, dict):
                    out += unknown_args(module, inner, element, f"{path}.{key}[{i}]")
    return out
