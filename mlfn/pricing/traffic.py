"""The traffic profile a cost estimate is computed for, and its grammar.

``--traffic`` takes one average rate, optionally followed by the hours per day that carry it,
and optionally a peak rate::

    TRAFFIC := AVERAGE [ "," "peak" "=" PEAK ]
    AVERAGE := COUNT "/" PERIOD [ "@" HOURS "h" ]
    PEAK    := COUNT "/" RATE_PERIOD [ "@" HOURS "h" ]
    COUNT   := a number, optionally with a suffix k (thousand), M (million) or B (billion)
    PERIOD  := month | day | h | min | s      (also: mo, d, hour, m, sec)
    RATE_PERIOD := h | min | s                (a peak is a rate, not a count per day or month)
    HOURS   := more than 0, at most 24: hours per day that carry the traffic (default 24); for
               the peak, how many of those hours it lasts (at most the traffic hours)

Examples: ``1000000/month`` (one million requests a month, spread evenly over the day), ``20/s``
(a steady 20 requests per second, day and night), ``20/s@8h`` (20 per second for 8 hours a day,
nothing the other 16), ``3M/month@12h``. A per-month or per-day count is spread evenly over the
hours that carry traffic; a per-second, per-minute or per-hour rate is the rate during those hours.

A peak (``20/s,peak=100/s@2h``: 20 per second on average, 100 per second for 2 hours of each day)
does not change the requests a month, which the average sets; it sizes the replicas of targets
billed for whole instances while it lasts: ``ceil(peak x latency / concurrency)``, capped at
``scaling.max``. The rest of the traffic hours run the replicas the average needs (an upper bound:
the hours off the peak carry less than the average). Without ``@HOURSh`` on the peak, the estimate
provisions for the peak through every traffic hour, the dearest reading, and says so.

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
_PEAK_SPLIT = re.compile(r"^(?P<average>[^,]*?)\s*,\s*peak\s*=\s*(?P<peak>.*)$")
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
    #: Requests per second at the busiest time (``peak=100/s``); None when no peak was given.
    peak_rate: float | None = None
    #: Hours of each traffic day the peak lasts (``peak=100/s@2h``); None: every traffic hour.
    peak_hours: float | None = None

    def __post_init__(self) -> None:
        if self.requests_per_month < 0:
            raise TrafficError("traffic: the request count cannot be negative")
        if not 0 < self.hours_per_day <= 24:
            raise TrafficError("traffic: hours per day must be more than 0 and at most 24 (e.g. 20/s@8h)")
        if self.latency_s <= 0:
            raise TrafficError("latency must be more than 0 (e.g. 120ms)")
        if self.peak_rate is not None:
            self._check_peak()

    def _check_peak(self) -> None:
        where = f"traffic {self.text!r}: " if self.text else "traffic: "
        if self.peak_rate < self.rate * (1 - 1e-9):
            raise TrafficError(f"{where}the peak {self.peak_rate:g}/s is below the average {self.rate:.3g}/s "
                               "during the traffic hours: give a peak at least the average (e.g. 20/s,peak=100/s)")
        if self.peak_hours is not None:
            if not 0 < self.peak_hours <= self.hours_per_day:
                raise TrafficError(f"{where}the peak lasts more than 0 and at most the {self.hours_per_day:g} "
                                   "traffic hours a day (e.g. 20/s@8h,peak=100/s@2h)")
            if self.peak_rate * self.peak_seconds > self.requests_per_month * (1 + 1e-9):
                raise TrafficError(f"{where}{self.peak_rate:g}/s for {self.peak_hours:g} h a day is more requests "
                                   f"than the average carries ({self.requests_per_month:,.0f} a month): raise the "
                                   "average or shorten the peak")

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
    def peak_seconds(self) -> float:
        """Seconds per month the peak lasts (every traffic second when no peak hours were given)."""
        if self.peak_rate is None:
            return 0.0
        hours = self.hours_per_day if self.peak_hours is None else self.peak_hours
        return hours * 3600 * DAYS_PER_MONTH

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
        if self.peak_rate is not None:
            lasts = "" if self.peak_hours is None else f" for {self.peak_hours:g} h a day"
            hours += f", peak {self.peak_rate:g}/s{lasts}"
        return (f"{self.requests_per_month:,.0f} requests/month ({per_s}{hours}), "
                f"{self.latency_s * 1000:g} ms per request, {self.payload_bytes / 1000:g} KB per request")

    def assumptions(self) -> list[str]:
        out = [f"traffic evenly spread over {self.hours_per_day:g} h a day; a month is {HOURS_PER_MONTH:g} hours"]
        if self.peak_rate is not None and self.peak_hours is None:
            out.append(f"peak {self.peak_rate:g}/s assumed to last every traffic hour: replicas sized for it "
                       "throughout (give peak=RATE@HOURSh to say how long it lasts)")
        elif self.peak_rate is not None:
            out.append(f"peak {self.peak_rate:g}/s for {self.peak_hours:g} h a day; the other traffic hours run "
                       "the replicas the average needs")
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
                "latency_source": self.latency_source, "peak_rate_per_second": self.peak_rate,
                "peak_hours_per_day": self.peak_hours}

    @property
    def latency_source(self) -> str:
        """given (--latency), measured (a running local stack) or assumed (the default)."""
        return "given" if self.latency_given else "measured" if self.latency_note else "assumed"


def parse_traffic(text: str, latency: str | float | None = None, payload: str | int | None = None) -> Traffic:
    """``1000000/month``, ``20/s``, ``20/s@8h``, ``20/s,peak=100/s@2h``: see the module's grammar."""
    average, peak_rate, peak_hours = text or "", None, None
    if "," in average:
        split = _PEAK_SPLIT.match(average)
        peak = _GRAMMAR.match(split["peak"]) if split else None
        if not peak:
            raise TrafficError(f"traffic {text!r} is not AVERAGE,peak=RATE[@HOURSh]: e.g. 20/s,peak=100/s or "
                               "20/s,peak=100/s@2h (the peak lasts 2 hours a day)")
        if peak["period"] not in _PERIODS or _PERIODS[peak["period"]] >= 86400:
            raise TrafficError(f"traffic {text!r}: the peak must be a rate per s, min or h (e.g. peak=100/s)")
        average = split["average"]
        peak_rate = float(peak["count"]) * _SUFFIX[peak["suffix"]] / _PERIODS[peak["period"]]
        peak_hours = float(peak["hours"]) if peak["hours"] else None
    m = _GRAMMAR.match(average)
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
                   payload_given=payload is not None, peak_rate=peak_rate, peak_hours=peak_hours)


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


def replicas_needed(traffic: Traffic, concurrency: int, at_peak: bool = False) -> int:
    """Replicas that carry the traffic at ``concurrency`` requests in flight each (at least 1):
    at the average rate, or at the peak rate with ``at_peak`` (the average when no peak was given)."""
    if traffic.requests_per_month <= 0:
        return 0
    rate = traffic.peak_rate if at_peak and traffic.peak_rate is not None else traffic.rate
    return max(1, math.ceil(rate * traffic.latency_s / max(1, concurrency) - 1e-9))
