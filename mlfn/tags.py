"""The tags/labels every taggable resource carries: the user's ``tags`` plus the deployment's name.

Each cloud allows a different alphabet, so ``tags_for`` writes the same facts in each one's form.
"""

from __future__ import annotations

import re
from typing import Literal

Style = Literal["aws", "azure", "gcp", "kubernetes"]

#: The key naming the deployment, per style.
DEPLOYMENT_KEY: dict[str, str] = {
    "aws": "mlfn:deployment",
    "azure": "mlfn:deployment",
    "gcp": "mlfn-deployment",  # GCP label keys: lowercase letters, digits, '_' and '-'
    "kubernetes": "mlfn.dev/deployment",
}


def _gcp(text: str, key: bool) -> str:
    text = re.sub(r"[^a-z0-9_-]", "_", text.lower())[:63]
    if key and (not text or not text[0].isalpha()):
        text = ("k" + text)[:63]
    return text


def _kubernetes_value(text: str) -> str:
    text = re.sub(r"[^A-Za-z0-9_.-]", "_", text)[:63]
    return text.strip("_.-")


def tags_for(name: str, user_tags: dict[str, str], style: Style) -> dict[str, str]:
    """User tags plus ``mlfn:deployment=<name>`` in the form ``style`` allows."""
    if style not in DEPLOYMENT_KEY:
        raise ValueError(f"unknown tag style {style!r} (styles: {', '.join(DEPLOYMENT_KEY)})")
    out: dict[str, str] = {}
    for key, value in sorted(user_tags.items()):
        if style == "gcp":
            out[_gcp(key, key=True)] = _gcp(value, key=False)
        elif style == "kubernetes":
            out[key] = _kubernetes_value(value)
        else:
            out[key] = value
    out[DEPLOYMENT_KEY[style]] = name
    return out
