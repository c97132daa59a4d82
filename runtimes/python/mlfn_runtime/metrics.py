"""Prometheus metrics, correct across worker processes (prometheus-client multiprocess mode).

Multiprocess mode is on when ``PROMETHEUS_MULTIPROC_DIR`` is set; ``serve`` sets it for
``MLFN_WORKERS > 1`` before any worker starts.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import REGISTRY as DEFAULT_REGISTRY

REQUESTS = Counter("mlfn_requests", "Requests served, by route and status.", ["route", "status"])
ERRORS = Counter("mlfn_errors", "Error responses, by route and status.", ["route", "status"])
LATENCY = Histogram(
    "mlfn_request_latency_seconds",
    "Time to answer a request, by route.",
    ["route"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
LOAD_SECONDS = Gauge(
    "mlfn_model_load_seconds", "Seconds the model took to load.", multiprocess_mode="max"
)


def observer(route: str) -> Callable[[int, float], None]:
    """A cheap per-route recorder: label children are looked up once per status."""
    latency = LATENCY.labels(route)
    counters: dict[int, Callable[[], None]] = {}

    def observe(status: int, seconds: float) -> None:
        inc = counters.get(status)
        if inc is None:
            child = REQUESTS.labels(route, str(status))
            if status >= 400:
                err = ERRORS.labels(route, str(status))

                def inc(child=child, err=err) -> None:
                    child.inc()
                    err.inc()
            else:
                inc = child.inc
            counters[status] = inc
        inc()
        latency.observe(seconds)

    return observe


def render() -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(DEFAULT_REGISTRY), CONTENT_TYPE_LATEST
