"""What a Google Cloud deployment costs: the arithmetic per target over what the plan resolved.

Billing rules, cited (prices are rows in ``prices.yaml``):

- Cloud Run, request-based billing (``cpu_idle: true``, the CPU default): vCPU-seconds and
  GiB-seconds only while an instance processes requests (shared by concurrent requests on one
  instance), "rounded up to the nearest 100 millisecond" (https://cloud.google.com/run/pricing),
  and while it starts and shuts down ("only charged when they process requests, when they start,
  and when they shut down", https://cloud.google.com/run/docs/configuring/billing-settings), plus
  requests; instance-based billing (``cpu_idle: false``, required with GPUs):
  vCPU-, GiB- and GPU-seconds for the instance's whole life, no per-request fee, minimum instances
  at the full rate (https://cloud.google.com/run/pricing,
  https://cloud.google.com/run/docs/configuring/services/gpu "Pricing impact"). GPU prices differ
  with and without zonal redundancy; the plan's ``gpuZonalRedundancyDisabled`` picks the row.
- Vertex AI prediction: every deployed node bills per node-hour (machine type + accelerators, at
  Vertex's own rates) from deployment to undeployment, with or without traffic
  (https://cloud.google.com/vertex-ai/pricing).
"""

from __future__ import annotations

from pathlib import Path

from mlfn.errors import MlfnError
from mlfn.pricing import Pricing, Quote, busy_instance_seconds, cpus, gib
from mlfn.pricing.estimate import ceil_to
from mlfn.pricing.traffic import DAYS_PER_MONTH, Traffic, replicas_needed

from .price_api import REFRESHER

SERVICE = "gcp:cloudrunv2/service:Service"
#: Cloud Run keeps an idle instance for up to 15 minutes before scaling it in
#: (https://cloud.google.com/run/docs/about-instance-autoscaling).
IDLE_INSTANCE_S = 900
#: Seconds an instance spends starting and shutting down, when ``--set instance_start_s`` is not given:
#: a stated assumption (mlfn measures no cold start), not a figure from Google.
DEFAULT_START_S = 2.0
INPUTS = {"instance_start_s": f"seconds an instance takes to start and shut down (billed; default "
                              f"{DEFAULT_START_S:g}, an assumption)"}


def _start_seconds(q: Quote) -> tuple[float, bool]:
    value = q.inputs.get("instance_start_s")
    if value is None:
        return DEFAULT_START_S, False
    try:
        seconds = float(value)
    except (TypeError, ValueError) as e:
        raise MlfnError(f"--set instance_start_s={value!r} is not a number of seconds (e.g. instance_start_s=3)") from e
    if seconds < 0:
        raise MlfnError(f"--set instance_start_s={value!r}: seconds cannot be negative")
    return seconds, True


def instance_starts(t: Traffic, concurrency: int, low: int) -> float:
    """Instance starts a month. Scaling to zero with requests further apart than an idle instance
    is kept: every request starts one. Otherwise replicas above ``low`` start once a traffic day
    when the day has hours without traffic, and peak replicas once a day while the peak comes and
    goes; replicas that traffic around the clock keeps up start once a month."""
    if t.requests_per_month <= 0:
        return 0.0
    if low == 0 and 1 / t.rate > IDLE_INSTANCE_S:
        return t.requests_per_month
    base = replicas_needed(t, concurrency)
    peak = replicas_needed(t, concurrency, at_peak=True)
    if t.hours_per_day < 24:
        return DAYS_PER_MONTH * max(0, peak - low)
    return DAYS_PER_MONTH * max(0, peak - max(low, base)) + max(0, base - low)


def _charge_starts(q: Quote, concurrency: int, low: int) -> float:
    """Seconds a month instances spend starting and shutting down, with the assumption that says so."""
    per_start, given = _start_seconds(q)
    starts = instance_starts(q.traffic, concurrency, low)
    how = "given" if given else f"assumed {DEFAULT_START_S:g} s: pass --set instance_start_s=SECONDS"
    q.assume(f"instance startup and shutdown are billed: {starts:,.0f} instance starts a month x "
             f"{per_start:g} s ({how})")
    return starts * per_start


def cloudrun(q: Quote) -> None:
    template = q.resource(SERVICE).get("template") or {}
    container = (template.get("containers") or [{}])[0]
    resources = container.get("resources") or {}
    limits = resources.get("limits") or {}
    cpu, mem = cpus(limits.get("cpu", 1)), gib(limits.get("memory", "512Mi"))
    gpus = int(limits.get("nvidia.com/gpu", 0) or 0)
    accelerator = (template.get("nodeSelector") or {}).get("accelerator")
    scaling = template.get("scaling") or {}
    low, high = int(scaling.get("minInstanceCount", 0)), int(scaling.get("maxInstanceCount", 100))
    concurrency = int(template.get("maxInstanceRequestConcurrency", 80))
    q.machine = f"{cpu:g} vCPU, {mem:g} GiB"
    q.scale_to_zero = low == 0
    if accelerator:
        q.gpu = f"{gpus}x {accelerator}"
    t = q.traffic
    if resources.get("cpuIdle", True) and not accelerator:
        billed = ceil_to(t.latency_s, 0.1)
        rounded = Traffic(t.requests_per_month, t.hours_per_day, billed, peak_rate=t.peak_rate,
                          peak_hours=t.peak_hours)
        busy = busy_instance_seconds(rounded, concurrency) + _charge_starts(q, concurrency, low)
        q.charge("request-cpu", busy * cpu, what=f"{cpu:g} vCPU x billable seconds (request-based)")
        q.charge("request-memory", busy * mem, what=f"{mem:g} GiB x billable seconds (request-based)")
        q.charge("requests", t.requests_per_month / 1e6, what="requests (millions)")
        if low:
            idle = max(0.0, low * 730 * 3600 - busy)
            q.charge("idle-min-cpu", idle * cpu, what=f"{low} minimum instance(s) idle: vCPU-seconds")
            q.charge("idle-min-memory", idle * mem, what=f"{low} minimum instance(s) idle: GiB-seconds")
        q.assume("request-based billing: CPU and memory are billed only while requests run, shared by "
                 f"up to {concurrency} concurrent requests per instance; each request's time rounded up to "
                 f"100 ms ({t.latency_s * 1000:g} ms bills {billed * 1000:g} ms; requests assumed not to overlap)")
        if low == 0:
            q.assume("scale to zero: no instance without requests")
        return
    seconds = q.instance_hours(concurrency, low, high, keep_warm_s=IDLE_INSTANCE_S, starts_billed=True) * 3600
    seconds += _charge_starts(q, concurrency, low)
    q.charge("instance-cpu", seconds * cpu, what=f"{cpu:g} vCPU x instance seconds (instance-based)")
    q.charge("instance-memory", seconds * mem, what=f"{mem:g} GiB x instance seconds (instance-based)")
    if accelerator:
        redundant = not template.get("gpuZonalRedundancyDisabled", False)
        key = f"{accelerator}-{'zonal-redundancy' if redundant else 'no-zonal-redundancy'}"
        q.charge("gpu", seconds * gpus, key=key, what=f"{gpus}x {accelerator} x instance seconds")
        q.assume(f"GPU zonal redundancy {'on' if redundant else 'off'} (overrides.gcp.gpu_zonal_redundancy)")
    q.assume(f"instance-based billing: each instance is billed for its whole life, kept up to "
             f"{IDLE_INSTANCE_S // 60} minutes after its last request; no per-request fee")


def vertex(q: Quote) -> None:
    d = next((r for r in q.resources("pulumi-python:dynamic:Resource") if "machine_type" in r), {})
    machine = str(d.get("machine_type", ""))
    accelerator, count = d.get("accelerator_type"), int(d.get("accelerator_count", 0) or 0)
    low, high = int(d.get("min_replicas", 1)), int(d.get("max_replicas", 1))
    q.machine, q.scale_to_zero = machine, low == 0
    if accelerator:
        q.gpu = f"{count}x {accelerator}"
    hours = q.instance_hours(q.spec.scaling.concurrency, low, max(1, high))
    q.charge("node", hours, key=machine, what=f"{machine} node-hours")
    if accelerator and count:
        q.charge("accelerator", hours * count, key=str(accelerator), what=f"{count}x {accelerator} GPU-hours")
    q.assume("Vertex AI bills every deployed node-hour, with or without traffic")


PRICING = Pricing(
    Path(__file__).with_name("prices.yaml"),
    {"cloudrun": cloudrun, "vertex": vertex},
    region_of=lambda stack: stack.location.region,
    inputs=INPUTS,
    refresh=REFRESHER,
)
