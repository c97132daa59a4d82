"""A Pulumi dynamic provider that sets an Azure ML online endpoint's traffic split.

The endpoint must exist before its deployment, and its traffic can name only a deployment that
exists, so the traffic cannot be an input of the endpoint resource itself: this resource sets
it through Azure Resource Manager once the deployment is up (as `az ml online-endpoint update
--traffic` does), and clears it on delete.
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ResourceProvider, UpdateResult

API_VERSION = "2024-04-01"
ARM = "https://management.azure.com"


class TrafficError(Exception):
    """Setting the traffic failed; the message says what Azure answered."""


def _token() -> str:
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential().get_token(f"{ARM}/.default").token


def http_client():
    """The HTTP client; tests replace its transport."""
    import httpx

    return httpx.Client(timeout=60)


def set_traffic(endpoint_id: str, traffic: dict[str, int]) -> dict[str, Any]:
    with http_client() as client:
        r = client.patch(f"{ARM}{endpoint_id}", params={"api-version": API_VERSION},
                         headers={"authorization": f"Bearer {_token()}"},
                         json={"properties": {"traffic": traffic}})
    if r.status_code >= 400:
        raise TrafficError(f"setting traffic {traffic} on {endpoint_id} failed: HTTP {r.status_code} {r.text[:500]}")
    return r.json() if r.content else {}


class TrafficProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        set_traffic(props["endpoint_id"], props["traffic"])
        return CreateResult(id_=f"{props['endpoint_id']}/traffic", outs=props)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        return DiffResult(changes=olds.get("traffic") != news.get("traffic"),
                          replaces=["endpoint_id"] if olds.get("endpoint_id") != news.get("endpoint_id") else [])

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        set_traffic(news["endpoint_id"], news["traffic"])
        return UpdateResult(outs=news)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        # The deployment is deleted after this: it must carry no traffic then.
        set_traffic(props["endpoint_id"], {})


class EndpointTraffic(pulumi.dynamic.Resource):
    def __init__(self, name: str, endpoint_id: Any, traffic: dict[str, int],
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__(TrafficProvider(), name, {"endpoint_id": endpoint_id, "traffic": traffic}, opts)
