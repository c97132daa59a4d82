"""The tags/labels every taggable resource carries: the user's ``tags`` plus the deployment's name.

Each cloud allows a different alphabet: an adapter declares its ``TagStyle`` (the key that names
the deployment, and how keys and values are made valid) and ``tags_for`` writes the same facts in
that form. The styles themselves live in the adapters; the core keeps only the machinery.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass


def _same(text: str) -> str:
    return text


@dataclass(frozen=True)
class TagStyle:
    """How one cloud writes tags: the deployment key and the key/value rewriting its alphabet needs."""

    #: The key naming the deployment, e.g. ``mlfn:deployment`` or ``mlfn.dev/deployment``.
    deployment_key: str
    #: Makes a user's key valid (identity by default).
    key: Callable[[str], str] = _same
    #: Makes a value valid (identity by default).
    value: Callable[[str], str] = _same
    #: Where the cloud's documentation states the rules.
    source: str = ""


def restrict(allowed: str, max_len: int, lowercase: bool = False, replacement: str = "_",
             start_letter: bool = False, strip: str = "") -> Callable[[str], str]:
    """A rewriter for a tag alphabet: characters outside ``allowed`` (a regex class) become
    ``replacement``; cut to ``max_len``; optionally lowercased, starting with a letter, stripped."""

    def rewrite(text: str) -> str:
        out = re.sub(f"[^{allowed}]", replacement, text.lower() if lowercase else text)[:max_len]
        if start_letter and (not out or not out[0].isalpha()):
            out = ("k" + out)[:max_len]
        return out.strip(strip) if strip else out

    return rewrite


def tags_for(name: str, user_tags: dict[str, str], style: TagStyle) -> dict[str, str]:
    """User tags plus ``<deployment key>=<name>`` in the form ``style`` allows."""
    if not isinstance(style, TagStyle):
        raise TypeError(f"tags_for needs an adapter's TagStyle, got {style!r}")
    out = {style.key(k): style.value(v) for k, v in sorted(user_tags.items())}
    out[style.deployment_key] = name
    return out
