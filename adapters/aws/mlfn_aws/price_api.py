"""The AWS Price List bulk offer files (no credentials) -> price rows for ``mlfn catalog refresh``.

Format: https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/reading-service-price-list-file-for-services.html
(``products`` by SKU with ``attributes``; ``terms.OnDemand[sku][offerTermCode].priceDimensions[rateCode]``
with ``unit``, ``beginRange`` and ``pricePerUnit.USD``). One file per service and region:
``https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/<offer>/current/<region>/index.json``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from mlfn.pricing.refresh import Refresher, Row

OFFER_URL = "https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/{offer}/current/{region}/index.json"
HOST = re.compile(r"(?:^|-)Host:(ml\.[a-z0-9]+\.[a-z0-9]+)$")
SERVERLESS = re.compile(r"(?:^|-)ServerlessInf:Mem-(\d+)GB$")


def _first_tier(dimensions: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    """The lowest tier: the offer files write its start as ``beginRange``; the format page documents
    it as ``startingRange``. Both are read."""
    dims = sorted(dimensions, key=lambda d: float(d.get("beginRange", d.get("startingRange", 0)) or 0))
    return dims[0] if dims else None


class AwsPriceList(Refresher):
    source = "aws-price-list"
    url = "https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/index.json"
    format_doc = "https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/reading-service-price-list-file-for-services.html"

    def fetch(self, regions: Iterable[str]) -> Iterator[Any]:
        import httpx

        for region in regions or ("us-east-1", "eu-west-1", "ap-northeast-1"):
            for offer in ("AmazonSageMaker", "AWSLambda"):
                r = httpx.get(OFFER_URL.format(offer=offer, region=region), timeout=300)
                r.raise_for_status()
                yield r.json()

    def parse(self, offer: dict[str, Any]) -> list[Row]:
        code = offer.get("offerCode")
        on_demand = (offer.get("terms") or {}).get("OnDemand") or {}
        rows: list[Row] = []
        for sku, product in (offer.get("products") or {}).items():
            a = product.get("attributes") or {}
            region = a.get("regionCode")
            terms = on_demand.get(sku) or {}
            dim = _first_tier(d for t in terms.values() for d in (t.get("priceDimensions") or {}).values())
            if not region or dim is None:
                continue
            usd = float((dim.get("pricePerUnit") or {}).get("USD", "nan"))
            usage, unit = a.get("usagetype", ""), str(dim.get("unit", ""))
            if code == "AmazonSageMaker":
                if (m := HOST.search(usage)) and unit.lower().startswith("hr"):
                    rows.append(Row("sagemaker", "instance", region, usd, m.group(1)))
                elif (m := SERVERLESS.search(usage)) and unit.lower().startswith("second"):
                    rows.append(Row("sagemaker-serverless", "compute", region, usd / int(m.group(1))))
            elif code == "AWSLambda":
                group = a.get("group", "")
                if group == "AWS-Lambda-Duration" and "second" in unit.lower():
                    rows.append(Row("lambda", "compute", region, usd))
                elif group == "AWS-Lambda-Requests" and unit.lower().startswith("request"):
                    rows.append(Row("lambda", "requests", region, usd * 1e6))
        return rows


REFRESHER = AwsPriceList()
