"""``mlfn catalog refresh``: rebuild an adapter's price rows from its cloud's public price API.

The machinery is here; each adapter supplies a :class:`Refresher` (``Pricing(refresh=...)``) that
knows its API: how to fetch its documented responses (``fetch``, the only part that needs the
network) and how to turn one response into rows (``parse``, tested against the providers'
documented response formats, offline). The core applies the rows to the adapter's ``prices.yaml``
under the refresher's source with today's date and shows the diff; ``--write`` saves it, unless
the new file has problems (:meth:`PriceBook.problems`: a unit slip, a missing source or date), which
it lists and refuses.

Only rows the file already has a dimension for are written: a refresh updates prices and adds
regions or machines; it never invents a billing dimension.
"""

from __future__ import annotations

import copy
import datetime as _dt
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import MlfnError
from .prices import PriceBook


class RefreshRefused(MlfnError):
    """``--write`` would have saved price rows that cannot be right; the file is left as it was."""

    def __init__(self, path: Path | None, problems: list[str]):
        self.problems = list(problems)
        super().__init__(
            f"not writing {path}: the refreshed rows have {len(self.problems)} problem(s); the file is "
            "unchanged. Fix the parser (or the response read) so that each price is in its dimension's "
            "unit, then refresh again:\n" + "\n".join(f"- {p}" for p in self.problems))


@dataclass(frozen=True)
class Row:
    """One price read from an API: ``usd`` per the dimension's unit. ``free``: the monthly free
    grant the API states before the paid tier (in the dimension's units), when it states one."""

    target: str
    dimension: str
    region: str
    usd: float
    key: str | None = None
    free: float | None = None


class Refresher:
    """How one cloud's price API becomes price rows. Subclasses set ``source`` (the key under
    ``sources:`` the rows are credited to), ``url`` (the API, for the record) and implement
    ``parse``; ``fetch`` yields the API's responses (network: used only by a live refresh)."""

    source: str = ""
    url: str = ""
    #: What the fixture-free documentation of the response format is (cited in tests).
    format_doc: str = ""

    def fetch(self, regions: Iterable[str]) -> Iterator[Any]:
        raise NotImplementedError("this cloud's price API cannot be fetched")

    def parse(self, response: Any) -> list[Row]:
        raise NotImplementedError


@dataclass
class RefreshResult:
    data: dict[str, Any]
    changes: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    #: What :meth:`PriceBook.problems` finds in ``data``; ``--write`` refuses while there are any.
    problems: list[str] = field(default_factory=list)

    def to_yaml(self) -> str:
        import yaml

        return yaml.safe_dump(self.data, sort_keys=False, width=110)


def apply_rows(book: PriceBook, rows: Iterable[Row], source: str, url: str, checked: str | None = None
               ) -> RefreshResult:
    """The price file with ``rows`` applied (credited to ``source`` with the date), and what changed."""
    checked = checked or _dt.date.today().isoformat()
    data = copy.deepcopy(book._data) if book.path is not None else {}
    data.setdefault("sources", {})
    targets = data.setdefault("targets", {})
    result = RefreshResult(data)
    touched = False
    for r in rows:
        r = Row(r.target, r.dimension, r.region, float(f"{r.usd:.10g}"), r.key, r.free)  # no float dust
        dim = (targets.get(r.target) or {}).get(r.dimension)
        if dim is None:
            result.skipped.append(f"{r.target}.{r.dimension}: no such dimension in the file")
            continue
        if r.free is not None and float(dim.get("free", 0) or 0) != r.free:
            result.changes.append(f"{r.target}.{r.dimension}: free grant {dim.get('free', '(none)')} -> {r.free:g}")
            dim["free"] = int(r.free) if float(r.free).is_integer() else r.free
        prices = dim.setdefault("prices", {}) or {}
        dim["prices"] = prices
        where = f"{r.target}.{r.dimension} {r.region}" + (f" {r.key}" if r.key else "")
        if r.key is None:
            old = prices.get(r.region)
            if isinstance(old, dict):
                result.skipped.append(f"{where}: the file prices this per machine")
                continue
            prices[r.region] = r.usd
        else:
            region = prices.setdefault(r.region, {})
            if not isinstance(region, dict):
                result.skipped.append(f"{where}: the file prices this per region, not per machine")
                continue
            old = region.get(r.key)
            region[r.key] = r.usd
        if old != r.usd:
            result.changes.append(f"{where}: {'(none)' if old is None else old} -> {r.usd:g}")
        was = (dim.get("sources") or {}).get(r.region) or dim.get("source")
        if was != source:
            result.changes.append(f"{r.target}.{r.dimension} {r.region}: source {was} -> {source}")
            dim.setdefault("sources", {})[r.region] = source
        touched = True
    if touched:
        data["sources"][source] = {
            "url": url, "recorded": checked, "checked": checked,
            "note": f"Read by `mlfn catalog refresh` on {checked} from the API's answer (live, or saved "
                    "responses given with --from, whose own date the file does not know)."}
    result.problems = PriceBook.from_data(data, book.path).problems()
    return result


def refresh(pricing: Any, responses: Iterable[Any] | None = None, regions: Iterable[str] = (),
            checked: str | None = None, write: bool = False) -> RefreshResult:
    """Parse ``responses`` (or fetch them live) with the adapter's refresher, apply, optionally write."""
    refresher: Refresher | None = getattr(pricing, "refresh", None)
    if refresher is None:
        raise ValueError("this cloud has no price API refresher")
    if responses is None:
        responses = refresher.fetch(list(regions))
    rows: list[Row] = []
    for response in responses:
        rows += refresher.parse(response)
    result = apply_rows(pricing.book, rows, refresher.source, refresher.url, checked)
    if write and result.problems:
        raise RefreshRefused(pricing.book.path, result.problems)
    if write and pricing.book.path is not None:
        Path(pricing.book.path).write_text(_header(pricing.book.path) + result.to_yaml())
    return result


def _header(path: Path) -> str:
    """Keep the file's leading comment block."""
    lines = []
    for line in Path(path).read_text().splitlines():
        if not line.startswith("#") and line.strip():
            break
        lines.append(line)
    return "\n".join(lines) + ("\n" if lines else "")


def load_response(path: str | Path) -> Any:
    """A saved API response (JSON) for ``mlfn catalog refresh --from``."""
    return json.loads(Path(path).read_text())
