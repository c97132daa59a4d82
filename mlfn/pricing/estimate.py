"""The typed results of ``mlfn cost`` and ``mlfn compare``, and the builder adapters price with.

An adapter's pricing (``Adapter.pricing``, a :class:`Pricing`) holds its price rows and one
function per target. Each function gets a :class:`Quote` (the project, the offline plan, the
traffic, the region) and adds charges to it; :meth:`Quote.charge` looks the row up, so a missing
row becomes an "unknown" line and never $0.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .prices import PriceBook, Rate, Source
from .traffic import SECONDS_PER_MONTH, Traffic, replicas_needed

if TYPE_CHECKING:
    from ..plan import Plan
    from ..project import Project


@dataclass(frozen=True)
class Charge:
    """One line of the breakdown: a billing dimension, how much of it a month, at what price."""

    dimension: str
    quantity: float
    unit: str
    unit_price: float | None
    what: str = ""
    source: Source | None = None

    @property
    def monthly(self) -> float | None:
        return None if self.unit_price is None else self.quantity * self.unit_price

    @property
    def known(self) -> bool:
        return self.unit_price is not None

    def to_dict(self) -> dict[str, Any]:
        return {"dimension": self.dimension, "what": self.what, "quantity": self.quantity, "unit": self.unit,
                "unit_price_usd": self.unit_price, "monthly_usd": self.monthly,
                "source": self.source.url if self.source else None,
                "checked": self.source.checked if self.source else None,
                "recorded": self.source.as_of if self.source else None}


@dataclass(frozen=True)
class FreeTier:
    """A monthly free grant that would cover part of a charge. Free tiers belong to the account (or
    subscription, or billing account), not the deployment: shown apart, never taken off the total."""

    dimension: str
    quantity: float
    unit: str
    usd: float
    #: The whole monthly grant (``quantity`` is the part this deployment would use).
    grant: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"dimension": self.dimension, "quantity": self.quantity, "unit": self.unit, "usd": self.usd,
                "grant": self.grant}


@dataclass(frozen=True)
class Estimate:
    """What one deployment costs a month, in USD, for one traffic profile."""

    cloud: str
    target: str
    region: str
    traffic: Traffic
    charges: tuple[Charge, ...] = ()
    free_tiers: tuple[FreeTier, ...] = ()
    assumptions: tuple[str, ...] = ()
    #: What the plan resolved: the machine (instance type, SKU...) and GPU, if any.
    machine: str | None = None
    gpu: str | None = None
    scale_to_zero: bool = False
    #: Why the total is unknown (no price row, an input the user must give), one line each.
    unknown: tuple[str, ...] = ()

    @property
    def monthly(self) -> float | None:
        """The monthly total before free tiers; None when any charge has no price."""
        if self.unknown or any(not c.known for c in self.charges):
            return None
        return sum(c.monthly or 0.0 for c in self.charges)

    @property
    def known_usd(self) -> float:
        """The part of the month that is priced: a floor under an unknown total, never the total."""
        return sum(c.monthly or 0.0 for c in self.charges if c.known)

    @property
    def free_tier_usd(self) -> float:
        return sum(f.usd for f in self.free_tiers)

    @property
    def sources(self) -> tuple[Source, ...]:
        seen: dict[str, Source] = {}
        for c in self.charges:
            if c.source is not None:
                seen.setdefault(c.source.url, c.source)
        return tuple(seen.values())

    def summary(self) -> str:
        """One line: ``$84.10/month`` or ``unknown/month (...)``."""
        total = self.monthly
        if total is None:
            return "unknown/month (" + "; ".join(self.unknown or [f"no price for {c.what or c.dimension}"
                                                                  for c in self.charges if not c.known]) + ")"
        free = f", up to ${self.free_tier_usd:,.2f} less with unused free tiers" if self.free_tier_usd else ""
        return f"${total:,.2f}/month{free}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "cloud": self.cloud, "target": self.target, "region": self.region,
            "machine": self.machine, "gpu": self.gpu, "scale_to_zero": self.scale_to_zero,
            "monthly_usd": self.monthly, "known_usd": self.known_usd, "currency": "USD",
            "traffic": self.traffic.to_dict(),
            "charges": [c.to_dict() for c in self.charges],
            "free_tiers": [f.to_dict() for f in self.free_tiers],
            "free_tier_usd": self.free_tier_usd,
            "assumptions": list(self.assumptions),
            "unknown": list(self.unknown),
            "sources": [{"url": s.url, "checked": s.checked, "recorded": s.as_of, "read_from": s.read_from}
                        for s in self.sources],
        }


@dataclass
class Quote:
    """The builder a target's pricing function fills in."""

    project: Project
    plan: Plan
    traffic: Traffic
    region: str
    book: PriceBook
    inputs: Mapping[str, Any] = field(default_factory=dict)
    charges: list[Charge] = field(default_factory=list)
    free_tiers: list[FreeTier] = field(default_factory=list)
    assumptions: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    machine: str | None = None
    gpu: str | None = None
    scale_to_zero: bool = False

    @property
    def spec(self):
        return self.project.spec

    @property
    def stack(self):
        return self.project.stack

    @property
    def target(self) -> str:
        return self.project.stack.target or ""

    def rate(self, dimension: str, key: str | None = None, target: str | None = None) -> Rate | None:
        return self.book.rate(target or self.target, dimension, self.region, key)

    def charge(self, dimension: str, quantity: float, key: str | None = None, what: str = "",
               target: str | None = None, unit: str | None = None) -> Charge:
        """Add ``quantity`` units of ``dimension`` (in the row's unit). No row: an unknown line."""
        r = self.rate(dimension, key, target)
        label = what or (f"{dimension} {key}" if key else dimension)
        if r is None:
            where = f"{key} in {self.region}" if key else self.region
            self.unknown.append(f"no price row for {target or self.target} {dimension} ({where})")
            c = Charge(dimension, quantity, unit or "", None, label)
        else:
            c = Charge(dimension, quantity, r.unit, r.usd, label, r.source)
            if r.free:
                covered = min(quantity, r.free)
                if covered > 0:
                    self.free_tiers.append(FreeTier(dimension, covered, r.unit, covered * r.usd, r.free))
        self.charges.append(c)
        return c

    def charge_at(self, dimension: str, quantity: float, usd: float | None, unit: str, what: str = "",
                  source: Source | None = None) -> Charge:
        """Add a line at a price the user gave (``--set``), not one from the price rows."""
        c = Charge(dimension, quantity, unit, usd, what or dimension, source)
        if usd is None:
            self.unknown.append(f"no price for {what or dimension}")
        self.charges.append(c)
        return c

    def resources(self, type_: str) -> list[dict[str, Any]]:
        """The inputs of every planned resource of this type (``type_`` may be a suffix)."""
        return [r.inputs for r in self.plan.resources if r.type == type_ or r.type.endswith(type_)]

    def resource(self, type_: str) -> dict[str, Any]:
        """The inputs of the one planned resource of this type; {} when the plan has none."""
        found = self.resources(type_)
        return found[0] if found else {}

    def assume(self, *lines: str) -> None:
        self.assumptions.extend(line for line in lines if line not in self.assumptions)

    def missing(self, why: str) -> None:
        """Say why the total cannot be known (an input the user must give)."""
        self.unknown.append(why)

    def instance_hours(self, concurrency: int, min_replicas: int, max_replicas: int,
                       keep_warm_s: float = 0.0, starts_billed: bool = False) -> float:
        """Instance-hours a month of a target billed for whole instances (see :func:`instance_hours`)."""
        hours, notes = instance_hours(self.traffic, concurrency, min_replicas, max_replicas, keep_warm_s,
                                      starts_billed)
        self.assume(*notes)
        return hours

    def estimate(self) -> Estimate:
        p = self.project
        gpu = p.spec.compute.gpu
        if self.gpu is None and gpu is not None:
            self.gpu = f"{gpu.count}x {gpu.type}"
        return Estimate(
            cloud=p.stack.cloud, target=self.target, region=self.region, traffic=self.traffic,
            charges=tuple(self.charges), free_tiers=tuple(self.free_tiers),
            assumptions=tuple(self.traffic.assumptions() + self.assumptions),
            machine=self.machine, gpu=self.gpu, scale_to_zero=self.scale_to_zero,
            unknown=tuple(dict.fromkeys(self.unknown)),
        )


@dataclass(frozen=True)
class Segment:
    """A part of the month with one replica count: ``seconds`` of it at ``replicas``, carrying
    ``share`` of the month's requests (0 outside traffic)."""

    replicas: int
    seconds: float
    share: float


def replica_segments(traffic: Traffic, concurrency: int, min_replicas: int, max_replicas: int,
                     keep_warm_s: float = 0.0) -> list[Segment]:
    """The month of a target that runs whole replicas, in parts with one replica count each.

    During traffic hours: enough replicas for the requests in flight (rate x latency / concurrency),
    at least ``min_replicas``, at most ``max_replicas``; while a peak lasts, enough for the peak
    rate. Outside traffic hours: ``min_replicas``. With ``min_replicas: 0`` an instance runs only
    while requests arrive and for ``keep_warm_s`` after each (how long the platform keeps an idle
    instance), so sparse traffic runs less than the whole traffic window."""
    if traffic.requests_per_month <= 0:
        return [Segment(min_replicas, SECONDS_PER_MONTH, 0.0)]

    def clamp(n: int) -> int:
        return min(max(n, min_replicas), max_replicas)

    window = traffic.traffic_seconds
    if min_replicas == 0 and keep_warm_s:
        window = min(window, traffic.requests_per_month * (traffic.latency_s + keep_warm_s))
    peak = min(window, traffic.peak_seconds)
    peak_share = 0.0
    if peak:
        peak_share = 1.0 if traffic.peak_hours is None else min(
            1.0, traffic.peak_rate * traffic.peak_seconds / traffic.requests_per_month)
    parts = [Segment(clamp(replicas_needed(traffic, concurrency, at_peak=True)), peak, peak_share),
             Segment(clamp(replicas_needed(traffic, concurrency)), window - peak, 1.0 - peak_share),
             Segment(min_replicas, SECONDS_PER_MONTH - window, 0.0)]
    return [p for p in parts if p.seconds > 0]


def instance_hours(traffic: Traffic, concurrency: int, min_replicas: int, max_replicas: int,
                   keep_warm_s: float = 0.0, starts_billed: bool = False) -> tuple[float, list[str]]:
    """Instance-hours a month for a target that bills whole instances while they run (the sum of
    :func:`replica_segments`), and the assumptions behind them. ``starts_billed``: the target
    prices instance start-up itself (the note then does not say cold starts are free)."""
    notes = []
    if min_replicas == 0:
        notes.append("scale to zero: no instance outside traffic" +
                     ("" if starts_billed else "; cold starts are not billed"))
    for at_peak in (False, True) if traffic.peak_rate is not None else (False,):
        needed = replicas_needed(traffic, concurrency, at_peak=at_peak)
        if needed > max_replicas:
            when = " at the peak" if at_peak else ""
            notes.append(f"the traffic needs {needed} replicas{when} at {concurrency} requests each; scaling.max is "
                         f"{max_replicas}: requests beyond that queue or are refused")
    segments = replica_segments(traffic, concurrency, min_replicas, max_replicas, keep_warm_s)
    return sum(s.replicas * s.seconds for s in segments) / 3600, notes


def busy_instance_seconds(traffic: Traffic, concurrency: int) -> float:
    """Seconds a month that at least one request runs on an instance, for targets billed per
    request-processing time: requests x latency, shared when requests overlap on one instance
    (at most ``concurrency`` each), never more than the replicas the traffic needs x traffic time
    (the peak's replicas while it lasts)."""
    if traffic.requests_per_month <= 0:
        return 0.0
    most = sum(s.replicas * s.seconds for s in replica_segments(traffic, concurrency, 0, 1 << 30))
    return min(traffic.busy_seconds, most)


TargetPricing = Callable[[Quote], None]


class Pricing:
    """An adapter's price rows and its per-target arithmetic (``Adapter.pricing``).

    ``targets`` maps each target name to a function that fills a :class:`Quote` from what the
    offline plan resolved. ``region_of`` reads the stack's region. ``inputs`` names the values a
    user may pass (``mlfn cost --set name=value``) with their descriptions, for prices the cloud
    cannot tell (a cluster's own node price). ``refresh`` (optional) rebuilds the rows from the
    cloud's price API (see :mod:`mlfn.pricing.refresh`)."""

    def __init__(self, prices: str | Path | PriceBook | None, targets: Mapping[str, TargetPricing],
                 region_of: Callable[[Any], str], inputs: Mapping[str, str] | None = None,
                 refresh: Any = None):
        self.book = prices if isinstance(prices, PriceBook) else PriceBook(prices)
        self.targets = dict(targets)
        self.region_of = region_of
        self.inputs = dict(inputs or {})
        self.refresh = refresh

    def estimate(self, project: Project, plan: Plan, traffic: Traffic,
                 inputs: Mapping[str, Any] | None = None) -> Estimate:
        target = project.stack.target or ""
        try:
            region = str(self.region_of(project.stack) or "")
        except Exception:  # a stack without a region prices as unknown
            region = ""
        q = Quote(project, plan, traffic, region, self.book, dict(inputs or {}))
        fn = self.targets.get(target)
        if fn is None:
            q.missing(f"target {target} has no pricing")
        else:
            fn(q)
        return q.estimate()


def ceil_to(value: float, step: float) -> float:
    """``value`` rounded up to a multiple of ``step`` (billing increments)."""
    return math.ceil(value / step - 1e-9) * step


def gib(value: Any) -> float:
    """A memory quantity as GiB: ``16384Mi``, ``56Gi``, ``2G``, ``512M``, or a number of GiB."""
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip()
    units = {"Ki": 1 / 1024 ** 2, "Mi": 1 / 1024, "Gi": 1.0, "Ti": 1024.0,
             "K": 1e3 / 1024 ** 3, "M": 1e6 / 1024 ** 3, "G": 1e9 / 1024 ** 3}
    for suffix in sorted(units, key=len, reverse=True):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * units[suffix]
    return float(text) / 1024 ** 3  # bytes


def cpus(value: Any) -> float:
    """A CPU quantity: ``4``, ``0.5``, ``500m``."""
    text = str(value).strip()
    return float(text[:-1]) / 1000 if text.endswith("m") else float(text)
