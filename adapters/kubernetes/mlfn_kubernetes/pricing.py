"""What a Kubernetes deployment costs: the pod's share of nodes that belong to the user.

A cluster's nodes are the user's, so there is no price list: ``mlfn cost --set
node_hourly_price=0.192 --set node_cpu=4 --set node_memory_gib=16`` (and ``node_gpus`` for GPU
nodes) prices each pod as its share of a node by its requests (the largest of its CPU, memory and
GPU fractions: what the scheduler reserves), times the pod-hours. Or name the node type and its
region, ``--set node_type=Standard_DS2_v2 --set node_region=eastus``: its price and size come from
the node table in ``prices.yaml`` (VM prices per region, each row with its source and date). Without
those inputs the cost is "unknown", never $0 (SkyPilot's $0 for Kubernetes, skypilot#6680, is the
mistake avoided).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from mlfn.pricing import PriceBook, Pricing, Quote, Source, cpus, gib

PRICES = Path(__file__).with_name("prices.yaml")
#: The node types the table can price: name -> {cpu, memory (GiB), gpus}.
NODES: dict[str, dict[str, Any]] = (yaml.safe_load(PRICES.read_text()) or {}).get("nodes") or {}

INPUTS = {
    "node_hourly_price": "USD per hour of one node of the pool the pods run on",
    "node_cpu": "vCPUs of that node (allocatable)",
    "node_memory_gib": "memory of that node in GiB (allocatable)",
    "node_gpus": "GPUs of that node (GPU pools)",
    "node_type": "or: the node pool's VM type, priced (with its size) from the node table, e.g. Standard_DS2_v2",
    "node_region": "the cloud region of that node pool, for node_type (e.g. eastus)",
}
#: KServe Serverless (Knative) scales a revision in after about 60 s without requests (the
#: autoscaler's stable window, https://knative.dev/docs/serving/autoscaling/scale-to-zero/).
KNATIVE_WINDOW_S = 60


def _pod(q: Quote) -> tuple[dict, int, int]:
    isvc = q.resource("kubernetes:serving.kserve.io/v1beta1:InferenceService")
    if isvc:
        pred = (isvc.get("spec") or {}).get("predictor") or {}
        container = (pred.get("containers") or [{}])[0]
        return container.get("resources") or {}, int(pred.get("minReplicas", 1)), int(pred.get("maxReplicas", 1))
    dep = q.resource("kubernetes:apps/v1:Deployment")
    container = (((dep.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or [{}]
    hpa = q.resource("kubernetes:autoscaling/v2:HorizontalPodAutoscaler").get("spec") or {}
    replicas = int((dep.get("spec") or {}).get("replicas", 1))
    return container[0].get("resources") or {}, int(hpa.get("minReplicas", replicas)), \
        int(hpa.get("maxReplicas", replicas))


def pod(q: Quote) -> None:
    resources, low, high = _pod(q)
    requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
    cpu, mem = cpus(requests.get("cpu", 0)), gib(requests.get("memory", "0Mi"))
    gpus = int(limits.get("nvidia.com/gpu", 0) or 0)
    kserve = q.target == "kserve"
    q.machine, q.scale_to_zero = f"pod {cpu:g} vCPU, {mem:g} GiB", kserve and low == 0
    hours = q.instance_hours(q.spec.scaling.concurrency, low if kserve else max(1, low), max(1, high),
                             keep_warm_s=KNATIVE_WINDOW_S if kserve else 0)
    price = q.inputs.get("node_hourly_price")
    node_cpu, node_mem = q.inputs.get("node_cpu"), q.inputs.get("node_memory_gib")
    node_gpus = q.inputs.get("node_gpus")
    source = Source("--set node_hourly_price (given by the user)", "now")
    node_type = q.inputs.get("node_type")
    if price is None and node_type is not None:
        node = _node(q, str(node_type))
        if node is None:
            q.charge_at("pod-share", hours, None, "pod-hour", what="pod-hours x share of a node")
            return
        price, source, shape = node
        node_cpu = shape["cpu"] if node_cpu is None else node_cpu
        node_mem = shape["memory"] if node_mem is None else node_mem
        node_gpus = shape.get("gpus", 0) if node_gpus is None else node_gpus
        q.assume(f"{node_type}'s share is taken of its whole {shape['cpu']:g} vCPU / {shape['memory']:g} GiB; "
                 "Kubernetes leaves pods less (its allocatable), so a pod's real share is a little larger")
    if price is None or node_cpu is None or node_mem is None or (gpus and node_gpus is None):
        need = "node_hourly_price, node_cpu, node_memory_gib" + (", node_gpus" if gpus else "")
        q.missing(f"the cluster's nodes are yours: pass --set for {need} (e.g. --set node_hourly_price=0.192 "
                  "--set node_cpu=4 --set node_memory_gib=16), or name its type: --set node_type=Standard_DS2_v2 "
                  "--set node_region=eastus")
        q.charge_at("pod-share", hours, None, "pod-hour", what="pod-hours x share of a node")
        return
    share = max(cpu / float(node_cpu), mem / float(node_mem), gpus / float(node_gpus) if gpus else 0.0)
    share = min(1.0, share) if share > 0 else 1.0
    node = f"{node_type} " if node_type is not None and "node_hourly_price" not in q.inputs else ""
    q.charge_at("pod-share", hours, float(price) * share, "pod-hour",
                what=f"pod-hours x {share:.3g} of a ${float(price):g}/h {node}node", source=source)
    q.assume(f"each pod costs its share of a node by its requests ({share:.3g} of a node); the rest of the "
             "node, the control plane and load balancers are not counted")


def _node(q: Quote, name: str) -> tuple[float, Source, dict[str, Any]] | None:
    """The node type's hourly price, its source and its size, or None (and why, as unknown)."""
    shape = NODES.get(name)
    if shape is None:
        q.missing(f"node type {name} is not in the node table ({PRICES}: {', '.join(NODES)}): pass "
                  "--set node_hourly_price, node_cpu, node_memory_gib (and node_gpus) for it instead")
        return None
    regions = q.book.regions("nodes", "instance")
    region = q.inputs.get("node_region")
    if region is None:
        q.missing(f"node_type {name} needs its region: --set node_region=REGION (priced: {', '.join(regions)})")
        return None
    rate = q.book.rate("nodes", "instance", str(region), name)
    if rate is None:
        q.missing(f"no price row for node type {name} in {region} (priced regions: {', '.join(regions)}); "
                  "pass --set node_hourly_price for it")
        return None
    return rate.usd, rate.source, shape


PRICING = Pricing(PriceBook(PRICES), {"kserve": pod, "deployment": pod}, region_of=lambda stack: "", inputs=INPUTS)
