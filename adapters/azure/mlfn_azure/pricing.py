"""What an Azure deployment costs: the arithmetic per target over what the plan resolved.

Billing rules, cited (prices are rows in ``prices.yaml``):

- Azure ML managed online endpoints bill the deployment's VM SKU per instance-hour for every
  instance, with or without traffic (https://azure.microsoft.com/pricing/details/machine-learning/;
  the SKU list: https://learn.microsoft.com/azure/machine-learning/reference-managed-online-endpoints-vm-sku-list).
- Container Apps (Consumption plan) bill vCPU-seconds and GiB-seconds allocated to each running
  replica, at an active rate while it processes requests and a reduced idle rate otherwise, plus
  HTTP requests; a revision scaled to zero costs nothing; serverless GPU workload profiles add
  GPU-seconds (https://learn.microsoft.com/azure/container-apps/billing).
"""

from __future__ import annotations

from pathlib import Path

from mlfn.pricing import Pricing, Quote, busy_instance_seconds, cpus, gib

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
    t = q.traffic
    lifetime = q.instance_hours(q.spec.scaling.concurrency, low, high, keep_warm_s=COOLDOWN_S) * 3600
    active = min(lifetime, busy_instance_seconds(t, q.spec.scaling.concurrency))
    idle = max(0.0, lifetime - active)
    q.charge("active-vcpu", active * cpu, what=f"{cpu:g} vCPU x active seconds")
    q.charge("active-memory", active * mem, what=f"{mem:g} GiB x active seconds")
    q.charge("idle-vcpu", idle * cpu, what=f"{cpu:g} vCPU x idle seconds (reduced rate)")
    q.charge("idle-memory", idle * mem, what=f"{mem:g} GiB x idle seconds (reduced rate)")
    q.charge("requests", t.requests_per_month / 1e6, what="HTTP requests (millions)")
    if profile != "Consumption":
        gpu = _gpu_of("containerapps", profile)
        q.gpu = gpu
        gpus = int(gpu.split("x")[0]) if gpu else 1
        q.charge("gpu", lifetime * gpus, key=profile, what=f"{profile} GPU-seconds")
    q.assume(f"a replica is active while it processes requests and idle until {COOLDOWN_S} s after its last "
             "one (then scaled in when scale.minReplicas is 0)")


PRICING = Pricing(
    Path(__file__).with_name("prices.yaml"),
    {"azureml": azureml, "containerapps": containerapps},
    region_of=lambda stack: stack.location.location,
    refresh=REFRESHER,
)
