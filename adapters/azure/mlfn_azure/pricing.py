"""What an Azure deployment costs: the arithmetic per target over what the plan resolved.

Billing rules, cited (prices are rows in ``prices.yaml``):

- Azure ML managed online endpoints bill the deployment's VM SKU per instance-hour for every
  instance, with or without traffic (https://azure.microsoft.com/pricing/details/machine-learning/;
  the SKU list: https://learn.microsoft.com/azure/machine-learning/reference-managed-online-endpoints-vm-sku-list).
- Container Apps (Consumption plan) bill vCPU-seconds and GiB-seconds allocated to each running
  replica, plus HTTP requests; serverless GPU workload profiles add GPU-seconds
  (https://learn.microsoft.com/azure/container-apps/billing). Which rate applies, per that page:
  a revision scaled to zero costs nothing; the reduced *idle* rate applies only to a revision with
  a minimum replica count above zero that runs *at* that minimum, and then only to a replica that
  is not processing requests; a revision above its minimum bills every replica at the *active*
  rate (so with ``minReplicas: 0`` every running second is active, the cooldown before scaling in
  included); serverless GPU apps never get the idle rate.
"""

from __future__ import annotations

from pathlib import Path

from mlfn.pricing import Pricing, Quote, busy_instance_seconds, cpus, gib, replica_segments

from .conventions import CATALOG
from .price_api import REFRESHER

DEPLOYMENT = "azure-native:machinelearningservices:OnlineDeployment"
CONTAINER_APP = "azure-native:app:ContainerApp"
ENVIRONMENT = "azure-native:app:ManagedEnvironment"
#: Container Apps scales a replica in after 300 s without requests (the default cooldown,
#: https://learn.microsoft.com/azure/container-apps/scale-app).
COOLDOWN_S = 300


def _gpu_of(family: str, name: str) -> str | None:
    for m in CATALOG.machines(family):
        if m.name == name and m.gpu:
            return f"{m.gpus}x {m.gpu}"
    return None


def azureml(q: Quote) -> None:
    d = q.resource(DEPLOYMENT)
    sku = str((d.get("properties") or {}).get("instanceType", ""))
    first = int((d.get("sku") or {}).get("capacity", max(1, q.spec.scaling.min)))
    q.machine, q.gpu = sku, _gpu_of("azureml", sku)
    hours = q.instance_hours(q.spec.scaling.concurrency, max(1, first), max(1, q.spec.scaling.max))
    q.charge("instance", hours, key=sku, what=f"{sku} instance-hours")
    q.assume("a managed online endpoint bills every instance-hour of its VM SKU, with or without traffic")


def containerapps(q: Quote) -> None:
    app = q.resource(CONTAINER_APP)
    template = app.get("template") or {}
    container = (template.get("containers") or [{}])[0]
    res = container.get("resources") or {}
    cpu, mem = cpus(res.get("cpu", 0.5)), gib(res.get("memory", "1Gi"))
    scale = template.get("scale") or {}
    low, high = int(scale.get("minReplicas", 0)), int(scale.get("maxReplicas", 10))
    profiles = {p.get("name"): p.get("workloadProfileType") for p in
                (q.resource(ENVIRONMENT).get("workloadProfiles") or [])}
    profile = profiles.get(app.get("workloadProfileName") or "Consumption", "Consumption")
    q.machine, q.scale_to_zero = f"{profile} {cpu:g} vCPU, {mem:g} GiB", low == 0
    t, concurrency = q.traffic, q.spec.scaling.concurrency
    gpu_profile = profile != "Consumption"
    lifetime = q.instance_hours(concurrency, low, high, keep_warm_s=COOLDOWN_S) * 3600
    if low == 0 or gpu_profile:
        active, idle = lifetime, 0.0
    else:
        active, idle = _active_and_idle(t, concurrency, low, high)
    q.charge("active-vcpu", active * cpu, what=f"{cpu:g} vCPU x active seconds")
    q.charge("active-memory", active * mem, what=f"{mem:g} GiB x active seconds")
    if idle:
        q.charge("idle-vcpu", idle * cpu, what=f"{cpu:g} vCPU x idle seconds (reduced rate)")
        q.charge("idle-memory", idle * mem, what=f"{mem:g} GiB x idle seconds (reduced rate)")
    q.charge("requests", t.requests_per_month / 1e6, what="HTTP requests (millions)")
    if gpu_profile:
        gpu = _gpu_of("containerapps", profile)
        q.gpu = gpu
        gpus = int(gpu.split("x")[0]) if gpu else 1
        q.charge("gpu", lifetime * gpus, key=profile, what=f"{profile} GPU-seconds")
        q.assume("serverless GPU apps are always billed at the active rate (no idle rate)")
    elif low == 0:
        q.assume(f"minReplicas is 0: every running replica is above the minimum, billed at the active rate, "
                 f"including the {COOLDOWN_S} s cooldown after the last request before it scales in")
    else:
        q.assume(f"at its minimum ({low} replica(s)) a replica bills the idle rate while it processes no "
                 "request; above the minimum every replica bills the active rate")


def _active_and_idle(t, concurrency: int, low: int, high: int) -> tuple[float, float]:
    """Replica-seconds at the active and idle rates for a revision with ``minReplicas`` > 0: above
    the minimum all active; at it, active while processing its share of the busy seconds."""
    busy = busy_instance_seconds(t, concurrency)
    active = idle = 0.0
    for s in replica_segments(t, concurrency, low, high):
        running = s.replicas * s.seconds
        if s.replicas > low:
            active += running
        else:
            processing = min(running, busy * s.share)
            active, idle = active + processing, idle + running - processing
    return active, idle


PRICING = Pricing(
    Path(__file__).with_name("prices.yaml"),
    {"azureml": azureml, "containerapps": containerapps},
    region_of=lambda stack: stack.location.location,
    refresh=REFRESHER,
)
