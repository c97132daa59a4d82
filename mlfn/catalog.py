"""The compute catalog machinery: portable ``compute`` -> the smallest machine that satisfies it.

The rows belong to the adapters: each ships a ``catalog.yaml`` beside its code (families of
machines, each family with its source) and declares ``catalog = Catalog(path)``. The core keeps
the portable request and the "smallest that satisfies" search; no cloud's rows live here.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import CatalogError
from .spec import ComputeSection


@dataclass(frozen=True)
class Machine:
    name: str
    cpu: float
    memory: float  # GiB
    gpu: str | None = None
    gpus: int = 0
    accelerator: str | None = None
    #: Where the row's numbers come from (its family's source).
    source: str = ""

    def describe(self) -> str:
        gpu = f", {self.gpus}x {self.gpu}" if self.gpu else ""
        return f"{self.name} ({self.cpu:g} vCPU, {self.memory:g} GiB{gpu})"


class Catalog:
    """One adapter's catalog file: ``{family: {source, machines: [rows], ...rules}}``, read lazily."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    @functools.cached_property
    def _data(self) -> dict[str, Any]:
        import yaml

        return yaml.safe_load(self.path.read_text()) or {}

    @property
    def families(self) -> tuple[str, ...]:
        return tuple(self._data)

    def family(self, family: str) -> dict[str, Any]:
        """A family's raw data (its source, its rows and any rules it records)."""
        if family not in self._data:
            raise ValueError(f"unknown catalog family {family!r} (families: {', '.join(self._data)})")
        return self._data[family]

    def source(self, family: str) -> str:
        return self.family(family)["source"]

    def machines(self, family: str) -> list[Machine]:
        data = self.family(family)
        return [Machine(**row, source=data["source"]) for row in data.get("machines", [])]

    def pick(self, family: str, compute: ComputeSection) -> Machine:
        """The first (cheapest) machine of ``family`` that satisfies ``compute``."""
        return pick(self.machines(family), compute, family)


def _fits(m: Machine, compute: ComputeSection) -> bool:
    gpu = compute.gpu
    if gpu is None:
        if m.gpu is not None:
            return False
    elif m.gpu != gpu.type or m.gpus < gpu.count:
        return False
    return m.cpu >= compute.cpu and m.memory >= compute.memory_gib


def _wanted(compute: ComputeSection) -> str:
    gpu = f", {compute.gpu.count}x {compute.gpu.type}" if compute.gpu else ""
    return f"{compute.cpu:g} vCPU, {compute.memory}{gpu}"


def pick(rows: list[Machine], compute: ComputeSection, family: str) -> Machine:
    """The first (cheapest) row that satisfies ``compute``; else an error naming the nearest rows."""
    for m in rows:
        if _fits(m, compute):
            return m
    same_kind = [m for m in rows if (m.gpu == (compute.gpu.type if compute.gpu else None))]
    if compute.gpu and not same_kind:
        offered = sorted({m.gpu for m in rows if m.gpu})
        raise CatalogError(
            f"{family} offers no {compute.gpu.type} GPU: compute.gpu.type may be {', '.join(offered)}"
        )
    nearest = sorted(
        same_kind or rows,
        key=lambda m: (abs(m.cpu - compute.cpu) + abs(m.memory - compute.memory_gib) / 4, m.gpus),
    )[:3]
    raise CatalogError(
        f"no {family} machine has {_wanted(compute)}; nearest: "
        + "; ".join(m.describe() for m in nearest)
    )
