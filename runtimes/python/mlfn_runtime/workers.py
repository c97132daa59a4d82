"""The process model inside a container: how many workers, which GPU each, where metrics live.

- Workers: ``MLFN_WORKERS`` if set; else one per visible GPU; else the cgroup CPU quota
  (``--cpus 0.5`` on a 2-CPU host is 1 worker, not 2), rounded down, at least 1, and never more
  than the CPUs this process may run on; 1 on Lambda.
- GPUs: ``CUDA_VISIBLE_DEVICES`` when set, else the ``/dev/nvidia<N>`` devices the container was
  given (counted without importing torch or loading the driver). With GPUs, worker ``i`` sees only
  GPU ``i mod N`` (its own ``CUDA_VISIBLE_DEVICES``).
- The supervisor fetches a remote model once, then starts the workers; it never loads the model
  (no second copy of the model and its libraries in memory).
- Metrics: several workers share a Prometheus multiprocess directory; with a read-only root and
  no writable ``/tmp`` it falls back to ``/dev/shm``, and says so.
"""

from __future__ import annotations

import logging
import math
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

log = logging.getLogger("mlfn_runtime")

CGROUP_ROOT = Path("/sys/fs/cgroup")
_NVIDIA_DEVICE = re.compile(r"nvidia\d+")


def cpu_quota(root: Path = CGROUP_ROOT) -> float | None:
    """The container's CPU limit in CPUs (cgroup v2 ``cpu.max``, else v1 CFS quota), or None."""
    try:
        raw = (root / "cpu.max").read_text().split()
        quota, period = raw[0], raw[1] if len(raw) > 1 else "100000"
        if quota == "max":
            return None
        return int(quota) / int(period)
    except (OSError, ValueError, IndexError):
        pass
    for v1 in (root / "cpu", root / "cpu,cpuacct", root):
        try:
            quota_us = int((v1 / "cpu.cfs_quota_us").read_text())
            period_us = int((v1 / "cpu.cfs_period_us").read_text())
        except (OSError, ValueError):
            continue
        return None if quota_us <= 0 or period_us <= 0 else quota_us / period_us
    return None


def available_cpus() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def visible_gpus(env: Mapping[str, str], dev: Path = Path("/dev")) -> tuple[str, ...]:
    """The GPU ids workers may be pinned to (``CUDA_VISIBLE_DEVICES`` values, or device indexes)."""
    raw = env.get("CUDA_VISIBLE_DEVICES")
    if raw is not None:
        ids = tuple(p.strip() for p in raw.split(",") if p.strip())
        # "-1", "none" or "" hide every GPU; an invalid id hides it and all after it (CUDA's rule).
        return () if not ids or ids[0] in ("-1", "none", "NoDevFiles") else ids
    try:
        names = [p.name for p in dev.iterdir() if _NVIDIA_DEVICE.fullmatch(p.name)]
    except OSError:
        return ()
    return tuple(sorted((n.removeprefix("nvidia") for n in names), key=int))


def default_workers(gpus: Sequence[str], cgroup_root: Path = CGROUP_ROOT) -> int:
    """One per GPU; else the CPU quota rounded down (at least 1), capped by the usable CPUs."""
    if gpus:
        return len(gpus)
    cpus = available_cpus()
    quota = cpu_quota(cgroup_root)
    if quota is None:
        return cpus
    return max(1, min(cpus, math.floor(quota)))


def gpu_for(worker: int, gpus: Sequence[str]) -> str | None:
    return gpus[worker % len(gpus)] if gpus else None


class MetricsDirError(OSError):
    """No writable directory for metrics shared across workers."""


def metrics_dir(explicit: str | None, candidates: Sequence[str] | None = None) -> str | None:
    """A fresh directory for prometheus-client's multiprocess mode.

    ``explicit`` (``MLFN_METRICS_DIR`` or ``PROMETHEUS_MULTIPROC_DIR``) must be writable, else
    :class:`MetricsDirError`. Otherwise the first writable of ``$TMPDIR`` or ``/tmp``, then
    ``/dev/shm``; None when none is (metrics are then per worker, and a warning says so).
    """
    if explicit:
        try:
            Path(explicit).mkdir(parents=True, exist_ok=True)
            probe = tempfile.NamedTemporaryFile(dir=explicit)  # noqa: SIM115 - closed just below
            probe.close()
        except OSError as e:
            raise MetricsDirError(f"the metrics directory {explicit} is not writable: {e}") from e
        return explicit
    if candidates is None:
        candidates = (os.environ.get("TMPDIR") or "/tmp", "/dev/shm")
    for base in candidates:
        try:
            return tempfile.mkdtemp(prefix="mlfn-metrics-", dir=base)
        except OSError:
            continue
    return None
