"""The traffic profile a cost estimate is computed for, and its grammar.

``--traffic`` takes one rate, optionally followed by the hours per day that carry it::

    TRAFFIC := COUNT "/" PERIOD [ "@" HOURS "h" ]
    COUNT   := a number, optionally with a suffix k (thousand), M (million) or B (billion)
    PERIOD  := month | day | h | min | s      (also: mo, d, hour, m, sec)
    HOURS   := 1 to 24: hours per day that carry the traffic (default 24)

Examples: ``1000000/month`` (one million requests a month, spread evenly over the day), ``20/s``
(a steady 20 requests per second, day and night), ``20/s@8h`` (20 per second for 8 hours a day,
nothing the other 16), ``3M/month@12h``. A per-month or per-day count is spread evenly over the
hours that carry traffic; a per-second, per-minute or per-hour rate is the rate during those hours.

The mean latency per request (``--latency 120ms``) and the payload per request, in and out
together (``--payload 4KB``), come with the profile; left out, they are stated assumptions.
A month is 730 hours (the clouds' own convention), so a day is 730/24 hours of a month.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from ..errors import MlfnError

HOURS_PER_MONTH = 730.0
DAYS_PER_MONTH = HOURS_PER_MONTH / 24
SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600
DEFAULT_LATENCY_S = 0.1
DEFAULT_PAYLOAD_BYTES = 4000

_PERIODS = {
    "month": SECONDS_PER_MONTH, "mo": SECONDS_PER_MONTH,
    "day": 86400.0, "d": 86400.0,
    "hour": 3600.0, "h": 3600.0,
    "min": 60.0, "m": 60.0,
    "s": 1.0, "sec": 1.0,
}
_SUFFIX = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "B": 1e9}
_GRAMMAR = re.compile(
    r"^\s*(?P<count>\d+(?:\.\d+)?)(?P<suffix>[kKMB]?)\s*/\s*(?P<period>[a-z]+)\s*(?:@\s*(?P<hours>\d+(?:\.\d+)?)\s*h)?\s*$"
)
_DURATION = re.compile(r"^\s*(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>ms|s|us)?\s*$")
_SIZE = re.compile(r"^\s*(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>B|KB|KiB|MB|MiB)?\s*$", re.IGNORECASE)
_SIZES = {"b": 1, "kb": 1000, "kib": 1024, "mb": 1_000_000, "mib": 1024 * 1024}


class TrafficError(MlfnError):
    """A --traffic, --latency or --payload value that does not follow the grammar."""


@dataclass(frozen=True)
class Traffic:
    """Requests per month, the hours per day that carry them, latency and payload per request."""

    requests_per_month: float
    hours_per_day: float = 24.0
    latency_s: float = DEFAULT_LATENCY_S
    payload_bytes: int = DEFAULT_PAYLOAD_BYTES
    #: What the profile was written as (``20/s@8h``), for display.
    text: str = ""
    #: Whether latency and payload were given (True) or are the defaults (stated as assumptions).
    latency_given: bool = False
    payload_given: bool = False
    #: Where a latency that was not given comes from, when not the default (a running local stack's
    #: measurement, ``mlfn.pricing.measured``): the assumption line that says so.
    latency_note: str = ""

    def __post_init__(self) -> None:
        if self.requests_per_month < 0:
            raise TrafficError("traffic: the request count cannot be negative")
        if not 0 < self.hours_per_day <= 24:
            raise TrafficError("traffic: hours per day must be more than 0 and at most 24 (e.g. 20/s@8h)")
        if self.latency_s <= 0:
            raise TrafficError("latency must be more than 0 (e.g. 120ms)")

    @property
    def traffic_seconds(self) -> float:
        """Seconds per month that carry traffic."""
        return self.hours_per_day * 3600 * DAYS_PER_MONTH

    @property
    def idle_seconds(self) -> float:
        """Seconds per month without traffic."""
        return SECONDS_PER_MONTH - self.traffic_seconds

    @property
    def rate(self) -> float:
        """Requests per second during the hours that carry traffic."""
        return self.requests_per_month / self.traffic_seconds

    @property
    def busy_seconds(self) -> float:
        """Seconds of request processing per month: requests x mean latency."""
        return self.requests_per_month * self.latency_s

    @property
    def in_flight(self) -> float:
        """Mean requests in flight during traffic hours (Little's law: rate x latency)."""
        return self.rate * self.latency_s

    @property
    def gigabytes(self) -> float:
        """Data in and out per month, in GB (10^9 bytes)."""
        return self.requests_per_month * self.payload_bytes / 1e9

    def describe(self) -> str:
        per_s = f"{self.rate:.3g}/s"
        hours = "" if self.hours_per_day == 24 else f" for {self.hours_per_day:g} h a day"
        return (f"{self.requests_per_month:,.0f} requests/month ({per_s}{hours}), "
                f"{self.latency_s * 1000:g} ms per request, {self.payload_bytes / 1000:g} KB per request")

    def assumptions(self) -> list[str]:
        out = [f"traffic evenly spread over {self.hours_per_day:g} h a day; a month is {HOURS_PER_MONTH:g} hours"]
        if self.latency_note and not self.latency_given:
            out.append(self.latency_note)
        elif not self.latency_given:
            out.append(f"mean latency {self.latency_s * 1000:g} ms per request (an assumption: pass --latency)")
        if not self.payload_given:
            out.append(f"payload {self.payload_bytes / 1000:g} KB in and out per request (an assumption: "
                       "pass --payload)")
        return out

    def to_dict(self) -> dict:
        return {"text": self.text, "requests_per_month": self.requests_per_month,
                "hours_per_day": self.hours_per_day, "rate_per_second": self.rate,
                "latency_ms": self.latency_s * 1000, "payload_bytes": self.payload_bytes,
                "latency_source": self.latency_source}

    @property
    def latency_source(self) -> str:
        """given (--latency), measured (a running local stack) or assumed (the default)."""
        return "given" if self.latency_given else "measured" if self.latency_note else "assumed"


def parse_traffic(text: str, latency: str | float | None = None, payload: str | int | None = None) -> Traffic:
    """``1000000/month``, ``20/s``, ``20/s@8h``: see the module's grammar."""
    m = _GRAMMAR.match(text or "")
    if not m or m["period"] not in _PERIODS:
        raise TrafficError(
            f"traffic {text!r} is not COUNT/PERIOD[@HOURSh]: e.g. 1000000/month, 3M/month, 20/s, 20/s@8h "
            f"(periods: month, day, h, min, s)")
    count = float(m["count"]) * _SUFFIX[m["suffix"]]
    hours = float(m["hours"]) if m["hours"] else 24.0
    if not 0 < hours <= 24:
        raise TrafficError(f"traffic {text!r}: hours per day must be more than 0 and at most 24")
    period = _PERIODS[m["period"]]
    if period >= 86400:  # a count per day or per month: spread over the traffic hours
        per_month = count * (SECONDS_PER_MONTH / period)
    else:  # a rate during the traffic hours
        per_month = count / period * hours * 3600 * DAYS_PER_MONTH
    lat = parse_latency(latency) if latency is not None else DEFAULT_LATENCY_S
    size = parse_payload(payload) if payload is not None else DEFAULT_PAYLOAD_BYTES
    return Traffic(per_month, hours, lat, size, text=text.strip(), latency_given=latency is not None,
                   payload_given=payload is not None)


def parse_latency(value: str | float) -> float:
    """``120ms``, ``1.5s``, or a number of seconds."""
    if isinstance(value, int | float):
        return float(value)
    m = _DURATION.match(value)
    if not m:
        raise TrafficError(f"latency {value!r} is not a duration: e.g. 120ms or 1.5s")
    n = float(m["n"])
    return {"ms": n / 1000, "us": n / 1e6}.get(m["unit"] or "s", n)


def parse_payload(value: str | int) -> int:
    """``4KB``, ``1MiB``, or a number of bytes."""
    if isinstance(value, int):
        return value
    m = _SIZE.match(value)
    if not m:
        raise TrafficError(f"payload {value!r} is not a size: e.g. 4KB or 1MiB")
    return int(float(m["n"]) * _SIZES[(m["unit"] or "b").lower()])


def replicas_needed(traffic: Traffic, concurrency: int) -> int:
    """Replicas that carry the traffic at ``concurrency`` requests in flight each (at least 1)."""
    if traffic.requests_per_month <= 0:
        return 0
    return max(1, math.ceil(traffic.in_flight / max(1, concurrency)))
