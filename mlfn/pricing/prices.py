"""Price rows: what each billing dimension costs, per region, with where the number came from.

The rows belong to the adapters: each ships a ``prices.yaml`` beside its ``catalog.yaml``::

    sources:                                  # where numbers come from, and when they were read
      page:
        url: https://example.com/pricing      # what the number is: the price API or page
        read_from: https://github.com/o/r/... # optional: where it was actually read, when not at url
        recorded: 2026-08                     # when the number was read or recorded at its origin
        checked: 2026-11-27                   # when it was transcribed into this file
    targets:
      <target>:
        <dimension>:                          # a billing dimension, e.g. instance, requests
          unit: hour                          # USD per one of UNITS
          source: page                        # a key of sources
      sources: {<region>: other}          # optional: a region read from another source
          free: 400000                        # optional: monthly free grant (per account), in units
          prices:
            <region>: 0.115                   # one price per region, or, for machines:
            <region>: {small-machine: 0.115, big-machine: 0.23}

A machine or region without a row is "unknown" to the estimate, never $0 and never a guess.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Units a price may be quoted in, and the plausible USD range of one unit. A price outside its
#: range is almost always a unit slip (a per-hour price written as per-second, per-request as per
#: million), which ``PriceBook.problems`` reports and every adapter's tests check.
UNITS: Mapping[str, tuple[float, float]] = {
    "hour": (0.005, 150.0),               # one machine or GPU for an hour
    "second": (1e-6, 0.005),              # one GPU (or a whole small machine) for a second
    "vcpu-second": (1e-6, 1e-4),
    "gib-second": (1e-7, 2e-5),
    "gb-second": (1e-6, 1e-4),            # memory-duration billing (GB of memory x seconds)
    "million-requests": (0.01, 5.0),
    "gb": (0.001, 0.5),                   # data processed or transferred
    "gb-month": (0.001, 1.0),             # storage
}


#: A source's dates: a day (2026-08-27) or, for a monthly bill, a month (2023-12).
DATE = re.compile(r"^\d{4}-\d{2}(-\d{2})?$")


@dataclass(frozen=True)
class Source:
    """Where a price was read. ``url`` names what the number is (the price API or page);
    ``read_from`` where it was actually read when that is not ``url`` (a public recording of the
    API's answer, a bill); ``recorded`` when the number was read or recorded at its origin (the
    date a price is as of); ``checked`` when it was transcribed into the file."""

    url: str
    checked: str
    note: str = ""
    recorded: str = ""
    read_from: str = ""

    @property
    def as_of(self) -> str:
        """The date the price is as of: when it was recorded, else when it was transcribed."""
        return self.recorded or self.checked

    def __str__(self) -> str:
        return f"{self.url} (recorded {self.as_of})"


@dataclass(frozen=True)
class Rate:
    """One price: ``usd`` per ``unit`` of ``dimension`` of ``target`` in ``region`` (for machine ``key``)."""

    target: str
    dimension: str
    unit: str
    region: str
    usd: float
    source: Source
    key: str | None = None
    free: float = 0.0


class PriceBook:
    """One adapter's ``prices.yaml``, read lazily."""

    def __init__(self, path: str | Path | None):
        self.path = Path(path) if path is not None else None

    @classmethod
    def from_data(cls, data: dict[str, Any], path: str | Path | None = None) -> PriceBook:
        """A book over rows held in memory (e.g. what a refresh is about to write to ``path``)."""
        book = cls(path)
        book.__dict__["_data"] = data
        return book

    @functools.cached_property
    def _data(self) -> dict[str, Any]:
        if self.path is None:  # a cloud with no price rows of its own (its prices are inputs)
            return {}
        import yaml

        return yaml.safe_load(self.path.read_text()) or {}

    @property
    def sources(self) -> dict[str, Source]:
        return {k: Source(str(v["url"]), str(v.get("checked") or ""), str(v.get("note", "")),
                          str(v.get("recorded") or ""), str(v.get("read_from") or ""))
                for k, v in (self._data.get("sources") or {}).items()}

    def _dimension(self, target: str, dimension: str) -> dict[str, Any] | None:
        return ((self._data.get("targets") or {}).get(target) or {}).get(dimension)

    def rate(self, target: str, dimension: str, region: str, key: str | None = None) -> Rate | None:
        """The price of one unit, or None when there is no row (the estimate says "unknown")."""
        d = self._dimension(target, dimension)
        if d is None:
            return None
        value = (d.get("prices") or {}).get(region)
        if isinstance(value, Mapping):
            value = value.get(key) if key is not None else None
        if value is None:
            return None
        return Rate(target, dimension, d["unit"], region, float(value), self.sources[_source_of(d, region)], key,
                    float(d.get("free", 0) or 0))

    def regions(self, target: str, dimension: str) -> list[str]:
        d = self._dimension(target, dimension) or {}
        return sorted(d.get("prices") or {})

    def rows(self) -> Iterator[Rate]:
        for target, dims in (self._data.get("targets") or {}).items():
            for dimension, d in (dims or {}).items():
                for region, value in (d.get("prices") or {}).items():
                    keyed = value.items() if isinstance(value, Mapping) else [(None, value)]
                    for key, usd in keyed:
                        yield Rate(target, dimension, d["unit"], region, float(usd),
                                   self.sources.get(_source_of(d, region), Source("", "")), key,
                                   float(d.get("free", 0) or 0))

    def problems(self) -> list[str]:
        """Rows that cannot be right: unknown unit or source, no date, or a price outside its unit's range."""
        out = []
        sources = self.sources
        for name, s in sources.items():
            if not s.url.startswith("https://") or not s.checked:
                out.append(f"source {name}: needs an https url and a checked date")
            if not DATE.match(s.recorded):
                out.append(f"source {name}: needs recorded: the date its numbers were read or recorded "
                           f"(YYYY-MM-DD, or YYYY-MM for a monthly bill), not {s.recorded or 'nothing'}")
            elif DATE.match(s.checked) and s.recorded > s.checked:
                out.append(f"source {name}: recorded {s.recorded} is after checked {s.checked}: "
                           "checked is when the number was transcribed, so it cannot come first")
        for target, dims in (self._data.get("targets") or {}).items():
            for dimension, d in (dims or {}).items():
                where = f"{target}.{dimension}"
                if d.get("unit") not in UNITS:
                    out.append(f"{where}: unit {d.get('unit')!r} is not one of {', '.join(UNITS)}")
                for name in [d.get("source"), *(d.get("sources") or {}).values()]:
                    if name not in sources:
                        out.append(f"{where}: source {name!r} is not listed under sources")
        for r in self.rows():
            if r.unit not in UNITS:
                continue
            low, high = UNITS[r.unit]
            if not low <= r.usd <= high:
                key = f" {r.key}" if r.key else ""
                out.append(f"{r.target}.{r.dimension} {r.region}{key}: ${r.usd:g} per {r.unit} is outside "
                           f"${low:g}-${high:g}: is the unit right?")
        return out


def _source_of(dimension: Mapping[str, Any], region: str) -> str:
    """The source a region's price was read from: its own, else the dimension's."""
    return (dimension.get("sources") or {}).get(region) or dimension.get("source", "")


def per_vcpu_hour_problems(book: PriceBook, target: str, dimension: str, machines: list[Any],
                           cpu_band: tuple[float, float] = (0.01, 0.5),
                           gpu_band: tuple[float, float] = (0.1, 20.0)) -> list[str]:
    """Machine prices that are implausible for their size: per vCPU-hour (CPU machines) or per
    GPU-hour (GPU machines) outside a band. Catches a per-second price written as per-hour, or a
    price moved to the wrong row. ``machines``: the compute catalog's rows (``mlfn.catalog.Machine``)."""
    out = []
    by_name = {m.name: m for m in machines}
    for r in book.rows():
        if r.target != target or r.dimension != dimension or r.key not in by_name:
            continue
        hourly = r.usd * {"hour": 1, "second": 3600}.get(r.unit, float("nan"))
        m = by_name[r.key]
        if m.gpus:
            per, band, what = hourly / m.gpus, gpu_band, "GPU"
        else:
            per, band, what = hourly / m.cpu, cpu_band, "vCPU"
        if not band[0] <= per <= band[1]:
            out.append(f"{target}.{dimension} {r.region} {r.key}: ${per:.4g} per {what}-hour is outside "
                       f"${band[0]:g}-${band[1]:g}")
    return out


def dearer_picks(catalog: Any, family: str, book: PriceBook, target: str, dimension: str,
                 computes: list[Any], reasons: Mapping[str, str] | None = None) -> list[str]:
    """Where the compute catalog's "smallest that satisfies" pick costs more than another machine
    that satisfies the same request, in any region where both have a price: one line each, unless
    ``reasons`` states why that pick is right (keyed by the picked machine's name)."""
    from ..catalog import _fits
    from ..errors import CatalogError

    out = []
    machines = catalog.machines(family)
    for compute in computes:
        try:
            picked = catalog.pick(family, compute)
        except CatalogError:  # a request the family cannot satisfy has no pick to check
            continue
        for region in book.regions(target, dimension):
            mine = book.rate(target, dimension, region, picked.name)
            if mine is None:
                continue
            for m in machines:
                other = book.rate(target, dimension, region, m.name)
                if other is None or m.name == picked.name or not _fits(m, compute):
                    continue
                if other.usd < mine.usd and picked.name not in (reasons or {}):
                    out.append(f"{family} in {region}: for {compute.cpu:g} vCPU/{compute.memory}"
                               f"{'/' + compute.gpu.type if compute.gpu else ''} the catalog picks {picked.name} "
                               f"(${mine.usd:g}) but {m.name} satisfies it for ${other.usd:g}")
    return out
