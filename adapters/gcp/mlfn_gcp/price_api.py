"""The Cloud Billing Catalog API (an API key) -> price rows for ``mlfn catalog refresh``.

Format: https://cloud.google.com/billing/v1/how-tos/catalog-api ("List the SKUs for a service":
``skus`` of ``description``, ``category``, ``serviceRegions``, ``pricingInfo[].pricingExpression``
with ``usageUnit`` and ``tieredRates[].unitPrice`` as ``units`` + ``nanos``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from typing import Any

from mlfn.pricing.refresh import Refresher, Row

from .conventions import CATALOG

API = "https://cloudbilling.googleapis.com/v1/services/{service}/skus"
#: Service ids in the catalog: Cloud Run and Vertex AI.
SERVICES = {"cloudrun": "152E-C115-5142", "vertex": "C7E2-9256-1C43"}
#: Cloud Run service SKUs, by their descriptions in the Cloud Billing Catalog (service 152E-C115-5142),
#: e.g. "Services CPU (Request-based billing)", "Services CPU Tier 2  (Request-based billing)",
#: "Services Min Instance Memory (Request-based billing)", "Services Memory (Instance-based billing)
#: in us-central1", "Requests" (as recorded from the catalog; see tests/gcp/test_pricing_gcp.py). A
#: SKU's price applies in its ``serviceRegions``: a Tier 2 SKU lists the Tier 2 regions, an
#: instance-based SKU its one region, so the description's region suffix is not read. Jobs and worker
#: pools SKUs are not a service's and give no row.
CLOUD_RUN = re.compile(r"^services (?P<min>min instance )?(?P<what>cpu|memory)(?: tier 2)?\s*"
                       r"\((?P<billing>request|instance)-based(?: billing)?\)")
CLOUD_RUN_DIMENSIONS = {
    ("", "cpu", "request"): "request-cpu", ("", "memory", "request"): "request-memory",
    ("min instance ", "cpu", "request"): "idle-min-cpu", ("min instance ", "memory", "request"): "idle-min-memory",
    ("", "cpu", "instance"): "instance-cpu", ("", "memory", "instance"): "instance-memory",
}
#: Cloud Run's L4 GPU SKUs (per GPU-second), priced apart with and without zonal redundancy.
CLOUD_RUN_GPU = re.compile(r"\bnvidia l4 gpu\b(?P<rest>.*)$")


def _cloud_run_row(description: str) -> tuple[str, str | None] | None:
    """The (dimension, key) a Cloud Run SKU description prices, or None."""
    if description == "requests":
        return "requests", None
    if (m := CLOUD_RUN.match(description)) is not None:
        return CLOUD_RUN_DIMENSIONS[(m["min"] or "", m["what"], m["billing"])], None
    if description.startswith(("jobs ", "worker pools ")):
        return None
    if (m := CLOUD_RUN_GPU.search(description)) is not None:
        no_redundancy = re.search(r"\b(no|without|non)[ -]zonal redundancy", m["rest"]) is not None
        return "gpu", "nvidia-l4-no-zonal-redundancy" if no_redundancy else "nvidia-l4-zonal-redundancy"
    return None


#: Vertex AI prediction SKUs: "Vertex AI: Online/Batch Prediction <FAMILY> Predefined Instance Core|Ram
#: running in <place>" (per vCPU-hour, per GiB-hour) and "... Nvidia <GPU> GPU running in <place>"
#: (per GPU-hour). A machine's node-hour is its vCPUs x core + its GiB x RAM.
VERTEX = re.compile(r"^vertex ai: online/batch prediction (?:(?P<family>[a-z0-9]+) predefined instance "
                    r"(?P<part>core|ram)|nvidia (?P<gpu>.+?) gpu) running in ")
GPUS = {"tesla t4": "NVIDIA_TESLA_T4", "l4": "NVIDIA_L4", "tesla a100": "NVIDIA_TESLA_A100",
        "h100 80gb": "NVIDIA_H100_80GB"}
#: usageUnit -> the multiplier to this adapter's unit.
UNITS = {"s": 1.0, "GiBy.s": 1.0, "h": 1.0, "GiBy.h": 1.0, "count": 1e6}


def _price(sku: dict[str, Any]) -> tuple[float, str, float | None] | None:
    """The first paid tier's unit price, the usage unit, and the free grant before it (the paid
    tier's ``startUsageAmount`` when a tier priced 0 comes first), in the usage unit."""
    info = (sku.get("pricingInfo") or [{}])[0].get("pricingExpression") or {}
    rates = sorted(info.get("tieredRates") or [], key=lambda t: float(t.get("startUsageAmount", 0) or 0))

    def usd(t: dict[str, Any]) -> float:
        p = t.get("unitPrice") or {}
        return int(p.get("units", 0) or 0) + int(p.get("nanos", 0) or 0) / 1e9

    for i, t in enumerate(rates):
        if usd(t) > 0:
            free = float(t.get("startUsageAmount", 0) or 0) if i and usd(rates[0]) == 0 else None
            return usd(t), str(info.get("usageUnit", "")), free
    return None


class CloudBillingCatalog(Refresher):
    source = "gcp-billing-catalog"
    url = "https://cloudbilling.googleapis.com/v1/services"
    format_doc = "https://cloud.google.com/billing/v1/how-tos/catalog-api"

    def fetch(self, regions: Iterable[str]) -> Iterator[Any]:
        import httpx

        key = os.environ.get("MLFN_GCP_BILLING_API_KEY")
        if not key:
            raise RuntimeError("the Cloud Billing Catalog API needs an API key: set MLFN_GCP_BILLING_API_KEY")
        for service in SERVICES.values():
            token = ""
            while True:
                params = {"key": key, "currencyCode": "USD", **({"pageToken": token} if token else {})}
                r = httpx.get(API.format(service=service), params=params, timeout=120)
                r.raise_for_status()
                page = r.json()
                yield page
                token = page.get("nextPageToken") or ""
                if not token:
                    break

    def parse(self, page: dict[str, Any]) -> list[Row]:
        rows: list[Row] = []
        parts: dict[tuple[str, str], dict[str, float]] = {}
        for sku in page.get("skus") or []:
            category = sku.get("category") or {}
            if category.get("usageType") != "OnDemand":
                continue
            priced = _price(sku)
            if priced is None or priced[1] not in UNITS:
                continue
            usd = priced[0] * UNITS[priced[1]]
            free = None if priced[2] is None else priced[2] / UNITS[priced[1]]
            description = " ".join(str(sku.get("description", "")).lower().split())
            for region in sku.get("serviceRegions") or []:
                if category.get("serviceDisplayName") == "Cloud Run":
                    if (found := _cloud_run_row(description)) is not None:
                        rows.append(Row("cloudrun", found[0], region, usd, found[1], free=free))
                elif (m := VERTEX.match(description)) is not None:
                    if m["gpu"] and m["gpu"] in GPUS:
                        rows.append(Row("vertex", "accelerator", region, usd, GPUS[m["gpu"]]))
                    elif m["family"]:
                        parts.setdefault((region, m["family"]), {})[m["part"]] = usd
        for m in CATALOG.machines("vertex"):
            family = m.name.split("-")[0]
            for (region, fam), rate in parts.items():
                if fam == family and {"core", "ram"} <= set(rate):
                    rows.append(Row("vertex", "node", region, m.cpu * rate["core"] + m.memory * rate["ram"], m.name))
        return rows


REFRESHER = CloudBillingCatalog()
