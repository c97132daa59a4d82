"""Cloud resource names from a deployment's ``name``: the shared machinery.

Each kind of resource has its own length limits and alphabet, written as a ``NameRule`` by the
adapter that names it (``Adapter.name_rules``). ``resource_name`` makes a valid name under a rule,
stable across runs: when it must shorten or pad, it appends a short hash of
the full name so two long names do not collide.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class NameRule:
    min_len: int
    max_len: int
    allowed: str  # regex character class of allowed characters
    lowercase: bool = True
    separator: str = "-"
    must_start_with_letter: bool = False
    source: str = ""


_HASH_LEN = 6


def short_hash(text: str, length: int = _HASH_LEN) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def resource_name(name: str, rule: NameRule, suffix: str = "") -> str:
    """A valid, stable name under ``rule`` for deployment ``name`` (plus an optional suffix)."""
    if not isinstance(rule, NameRule):
        raise TypeError(f"resource_name needs an adapter's NameRule, got {rule!r}")
    full = f"{name}-{suffix}" if suffix else name
    text = full.lower() if rule.lowercase else full
    text = re.sub(f"[^{rule.allowed}]+", rule.separator, text.replace("-", rule.separator))
    if rule.separator:
        text = re.sub(f"{re.escape(rule.separator)}+", rule.separator, text).strip(rule.separator)
    if rule.must_start_with_letter and (not text or not text[0].isalpha()):
        text = "m" + text
    tag = short_hash(full)
    if len(text) < rule.min_len:
        text = f"{text}{rule.separator}{tag}" if text else f"m{tag}"
    if len(text) > rule.max_len:
        keep = rule.max_len - len(tag) - len(rule.separator)
        text = text[:keep].rstrip(rule.separator) + rule.separator + tag
    return text


def is_valid(candidate: str, rule: NameRule) -> bool:
    if not (rule.min_len <= len(candidate) <= rule.max_len):
        return False
    if not re.fullmatch(f"[{rule.allowed}]+", candidate):
        return False
    if rule.lowercase and candidate != candidate.lower():
        return False
    return not (rule.must_start_with_letter and not candidate[0].isalpha())
