"""Helpers shared by the tests (import as `helpers`)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def write_project(root: Path, spec: str, stacks: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "mlfn.yaml").write_text(spec)
    (root / "stacks").mkdir(exist_ok=True)
    for name, text in stacks.items():
        (root / "stacks" / f"{name}.yaml").write_text(text)
    (root / "model").mkdir(exist_ok=True)
    return root
