"""Check planned inputs against pulumi-gcp's typed args: every key must be an argument of its Args class."""

from __future__ import annotations

import inspect
import re
from typing import Any


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def unknown_args(module, cls_name: str, value: Any, path: str) -> list[str]:
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
