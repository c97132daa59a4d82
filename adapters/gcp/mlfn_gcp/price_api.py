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
#: Cloud Run SKU descriptions (lower case, "tier 1" regions) -> this adapter's dimensions.
CLOUD_RUN = {
    "cpu allocation time (request-based billing)": "request-cpu",
    "memory allocation time (request-based billing)": "request-memory",
    "requests": "requests",
    "cpu allocation time (instance-based billing)": "instance-cpu",
    "memory allocation time (instance-based billing)": "instance-memory",
}
#: Vertex AI prediction SKUs: "Vertex AI: Online/Batch Prediction <FAMILY> Predefined Instance Core|Ram
#: running in <place>" (per vCPU-hour, per GiB-hour) and "... Nvidia <GPU> GPU running in <place>"
#: (per GPU-hour). A machine's node-hour is its vCPUs x core + its GiB x RAM.
VERTEX = re.compile(r"^vertex ai: online/batch prediction (?:(?P<family>[a-z0-9]+) predefined instance "
                    r"(?P<part>core|ram)|nvidia (?P<gpu>.+?) gpu) running in ")
GPUS = {"tesla t4": "NVIDIA_TESLA_T4", "l4": "NVIDIA_L4", "tesla a100": "NVIDIA_TESLA_A100",
        "h100 80gb": "NVIDIA_H100_80GB"}
#: usageUnit -> the multiplier to this adapter's unit.
UNITS = {"s": 1.0, "GiBy.s": 1.0, "h": 1.0, "GiBy.h": 1.0, "count": 1e6}


def _price(sku: dict[str, Any]) -> tuple[float, str] | None:
    info = (sku.get("pricingInfo") or [{}])[0].get("pricingExpression") or {}
    rates = sorted(info.get("tieredRates") or [], key=lambda t: float(t.get("startUsageAmount", 0)))
    # The first paid tier: a free tier is a tier priced 0.
    paid = [t for t in rates if int((t.get("unitPrice") or {}).get("nanos", 0) or 0)
            or int((t.get("unitPrice") or {}).get("units", 0) or 0)]
    if not paid:
        return None
    p = paid[0]["unitPrice"]
    return int(p.get("units", 0) or 0) + int(p.get("nanos", 0) or 0) / 1e9, str(info.get("usageUnit", ""))


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
            description = str(sku.get("description", "")).lower()
            for region in sku.get("serviceRegions") or []:
                if category.get("serviceDisplayName") == "Cloud Run":
                    for text, dimension in CLOUD_RUN.items():
                        if description.startswith(text):
                            rows.append(Row("cloudrun", dimension, region, usd))
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
