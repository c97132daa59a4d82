"""What a deployment will cost: traffic profiles, price rows, estimates and comparisons.

The core keeps the machinery (the ``--traffic`` grammar, the estimate and comparison types, the
arithmetic helpers, rendering, ``mlfn cost``/``mlfn compare``, the refresh framework); each
adapter owns its price rows (``prices.yaml``) and its per-target arithmetic, declared as
``Adapter.pricing`` (a :class:`Pricing`).
"""

from __future__ import annotations

from .api import Comparison, Option, compare, cost
from .estimate import (
    Charge,
    Estimate,
    FreeTier,
    Pricing,
    Quote,
    busy_instance_seconds,
    cpus,
    gib,
    instance_hours,
    replica_segments,
)
from .prices import UNITS, PriceBook, Rate, Source
from .traffic import HOURS_PER_MONTH, Traffic, TrafficError, parse_traffic

__all__ = [
    "HOURS_PER_MONTH",
    "UNITS",
    "Charge",
    "Comparison",
    "Estimate",
    "FreeTier",
    "Option",
    "PriceBook",
    "Pricing",
    "Quote",
    "Rate",
    "Source",
    "Traffic",
    "TrafficError",
    "busy_instance_seconds",
    "compare",
    "cost",
    "cpus",
    "gib",
    "instance_hours",
    "parse_traffic",
    "replica_segments",
]
