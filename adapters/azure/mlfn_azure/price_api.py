"""The Azure Retail Prices API (no credentials) -> price rows for ``mlfn catalog refresh``.

Format: https://learn.microsoft.com/rest/api/cost-management/retail-prices/azure-retail-prices
(``Items`` of ``currencyCode``, ``retailPrice``, ``armRegionName``, ``armSkuName``, ``meterName``,
``productName``, ``serviceName``, ``unitOfMeasure``, ``type``; ``NextPageLink`` pages on).
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
        for item in page.get("Items") or []:
            if item.get("currencyCode", "USD") != "USD" or item.get("type") != "Consumption":
                continue
            region = item.get("armRegionName", "")
            meter, product = str(item.get("meterName", "")), str(item.get("productName", ""))
            if item.get("serviceName") == "Virtual Machines":
                spot = "Spot" in meter or "Low Priority" in meter
                if item.get("armSkuName") in skus and not spot and "Windows" not in product:
                    rows.append(Row("azureml", "instance", region, _per_unit(item), item["armSkuName"]))
            elif item.get("serviceName") == "Azure Container Apps" and meter in CONTAINER_APPS_METERS:
                rows.append(Row("containerapps", CONTAINER_APPS_METERS[meter], region, _per_unit(item)))
            elif item.get("serviceName") == "Azure Container Apps" and meter in GPU_METERS:
                rows.append(Row("containerapps", "gpu", region, _per_unit(item), GPU_METERS[meter]))
        return rows


REFRESHER = AzureRetailPrices()
