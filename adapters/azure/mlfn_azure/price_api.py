"""The Azure Retail Prices API (no credentials) -> price rows for ``mlfn catalog refresh``.

Format: https://learn.microsoft.com/rest/api/cost-management/retail-prices/azure-retail-prices
(``Items`` of ``currencyCode``, ``retailPrice``, ``armRegionName``, ``armSkuName``, ``meterName``,
``productName``, ``serviceName``, ``unitOfMeasure``, ``type``, ``tierMinimumUnits``; ``NextPageLink``
pages on). A tiered meter comes as one item per tier: Container Apps' are a $0 tier from 0 (the
monthly free grant) and the paid tier from the grant's end, so a meter's price is its first priced
tier and its grant that tier's ``tierMinimumUnits`` (in the meter's unit of measure: seconds for "1
Second", millions for "1M", as this adapter's dimensions count them).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from mlfn.pricing.refresh import Refresher, Row

from .conventions import CATALOG

API = "https://prices.azure.com/api/retail/prices"
#: Container Apps consumption meters -> this adapter's dimensions (the unit the meter is sold in
#: divides the price: "1 Second", "1 GiB Second", "1M").
CONTAINER_APPS_METERS = {
    "Standard vCPU Active Usage": "active-vcpu",
    "Standard Memory Active Usage": "active-memory",
    "Standard vCPU Idle Usage": "idle-vcpu",
    "Standard Memory Idle Usage": "idle-memory",
    "Standard Requests": "requests",
}
#: Serverless GPU meters -> the workload profile they bill (a GPU-second each).
GPU_METERS = {
    "Standard NC T4 v3 GPU Usage": "Consumption-GPU-NC8as-T4",
    "Standard NC A100 v4 GPU Usage": "Consumption-GPU-NC24-A100",
}


def _per_unit(item: dict[str, Any]) -> float:
    """retailPrice per one of the dimension's units: "1 Hour", "1 Second", "100 Seconds", "1M"."""
    price = float(item["retailPrice"])
    measure = str(item.get("unitOfMeasure", "1")).split()[0]
    scale = {"1M": 1.0, "1K": 1e-3}.get(measure)
    if scale is not None:  # requests are priced per million
        return price / scale
    return price / float(measure)


class AzureRetailPrices(Refresher):
    source = "azure-retail-prices"
    url = API
    format_doc = "https://learn.microsoft.com/rest/api/cost-management/retail-prices/azure-retail-prices"

    def fetch(self, regions: Iterable[str]) -> Iterator[Any]:
        import httpx

        for region in regions or ("eastus", "westeurope", "southeastasia"):
            for service in ("Virtual Machines", "Azure Container Apps"):
                url: str | None = API
                where = f"serviceName eq '{service}' and armRegionName eq '{region}' and priceType eq 'Consumption'"
                params: dict[str, str] | None = {"$filter": where}
                while url:
                    r = httpx.get(url, params=params, timeout=120)
                    r.raise_for_status()
                    page = r.json()
                    yield page
                    url, params = page.get("NextPageLink"), None

    def parse(self, page: dict[str, Any]) -> list[Row]:
        skus = {m.name for m in CATALOG.machines("azureml")}
        rows = []
        meters: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for item in page.get("Items") or []:
            if item.get("currencyCode", "USD") != "USD" or item.get("type") != "Consumption":
                continue
            region = item.get("armRegionName", "")
            meter, product = str(item.get("meterName", "")), str(item.get("productName", ""))
            if item.get("serviceName") == "Virtual Machines":
                spot = "Spot" in meter or "Low Priority" in meter
                if item.get("armSkuName") in skus and not spot and "Windows" not in product:
                    rows.append(Row("azureml", "instance", region, _per_unit(item), item["armSkuName"]))
            elif item.get("serviceName") == "Azure Container Apps" and (
                    meter in CONTAINER_APPS_METERS or meter in GPU_METERS):
                meters.setdefault((region, meter), []).append(item)
        for (region, meter), tiers in meters.items():
            paid = _paid_tier(tiers)
            if paid is None:  # only a free grant: there is no price to write, and never $0
                continue
            item, free = paid
            if meter in GPU_METERS:
                rows.append(Row("containerapps", "gpu", region, _per_unit(item), GPU_METERS[meter], free=free))
            else:
                rows.append(Row("containerapps", CONTAINER_APPS_METERS[meter], region, _per_unit(item), free=free))
        return rows


def _paid_tier(tiers: list[dict[str, Any]]) -> tuple[dict[str, Any], float | None] | None:
    """A meter's price is its first tier with a price: Container Apps meters come as a $0 tier from
    ``tierMinimumUnits`` 0 (the monthly free grant) and the paid tier from the grant's end. Returns
    that item and the grant (its ``tierMinimumUnits``, in the meter's units) when a $0 tier precedes it."""
    tiers = sorted(tiers, key=lambda t: float(t.get("tierMinimumUnits", 0) or 0))
    for i, t in enumerate(tiers):
        if float(t.get("retailPrice", 0) or 0) > 0:
            free = any(float(u.get("retailPrice", 0) or 0) == 0 for u in tiers[:i])
            return t, (float(t.get("tierMinimumUnits", 0) or 0) if free else None)
    return None


REFRESHER = AzureRetailPrices()
