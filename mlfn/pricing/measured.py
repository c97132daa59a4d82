"""The mean latency measured by a running local stack: ``mlfn cost``'s default ``--latency``.

A data scientist who ran ``mlfn up`` (the local stack) and sent it requests has measured what one
prediction of this model takes. The runtime keeps that in its Prometheus metrics
(``mlfn_request_latency_seconds`` ``_sum`` and ``_count``, labelled by route); the estimate takes the
mean over the routes that run the model (``contract.PREDICTION_METRIC_ROUTES``), from every local
stack of the project that is running, when at least ``MIN_REQUESTS`` predictions were answered.
It was measured on this machine, so the estimate says so: the cloud's machine may be faster or slower.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

#: Fewer predictions than this say too little about the mean (the first ones pay warm-up).
MIN_REQUESTS = 10
_SAMPLE = re.compile(r'^mlfn_request_latency_seconds_(sum|count)\{route="([^"]+)"\}\s+(\S+)\s*$')


@dataclass(frozen=True)
class Measured:
    seconds: float
    requests: int
    stacks: tuple[str, ...]

    def describe(self) -> str:
        where = ", ".join(self.stacks)
        return (f"mean latency {self.seconds * 1000:.3g} ms per request, measured by the running local stack "
                f"({where}) over {self.requests} predictions on this machine; the cloud's machine may be faster "
                "or slower: pass --latency to set it")


def mean_latency(metrics_text: str, routes: frozenset[str] | None = None) -> tuple[float, int]:
    """(seconds summed, predictions) over the prediction routes of one /metrics answer."""
    if routes is None:
        from mlfn_runtime import contract

        routes = contract.PREDICTION_METRIC_ROUTES
    total = 0.0
    count = 0.0
    for line in metrics_text.splitlines():
        m = _SAMPLE.match(line)
        if not m or m[2] not in routes:
            continue
        try:
            value = float(m[3])
        except ValueError:
            continue
        if m[1] == "sum":
            total += value
        else:
            count += value
    return total, int(count)


def measured_latency(project_dir: Path, timeout: float = 2.0) -> Measured | None:
    """The mean prediction latency of the project's running local stacks, or None (none running, too few
    predictions, or their metrics cannot be read)."""
    import httpx
    from mlfn_runtime import contract

    from ..engine import statefile
    from ..engine.local.process import is_running
    from ..engine.local.state import LOCAL_DIR, LocalState
    from ..errors import EngineError

    total = 0.0
    count = 0
    stacks: list[str] = []
    for path in sorted((Path(project_dir) / LOCAL_DIR).glob("*.json")):
        try:
            state = statefile.read(path, LocalState, "")
        except (OSError, EngineError):  # damaged: mlfn status says so; an estimate just goes without it
            continue
        if state is None or not is_running(state.pid):
            continue
        headers = {"authorization": f"Bearer {state.api_key}"} if state.api_key else {}
        try:
            answer = httpx.get(state.url + contract.METRICS, headers=headers, timeout=timeout)
        except httpx.HTTPError:
            continue
        if answer.status_code != 200:
            continue
        seconds, n = mean_latency(answer.text)
        if n:
            total += seconds
            count += n
            stacks.append(path.stem)
    if count < MIN_REQUESTS:
        return None
    return Measured(total / count, count, tuple(stacks))
