"""A Pulumi dynamic provider that sets an Azure ML online endpoint's traffic split.

The endpoint must exist before its deployment, and its traffic can name only a deployment that
exists. pulumi-azure-native 3.x does have the input (``OnlineEndpointPropertiesArgs.traffic``), but
the endpoint is created before the deployment, so on the first ``up`` that traffic would name a
deployment Azure does not know yet and the PUT would fail; and with the input left out, every later
PUT of the endpoint (a changed tag) carries no traffic. So this resource sets it once the deployment
is up,
the way ``az ml online-endpoint update --traffic`` does: GET the endpoint, change
``properties.traffic``, PUT it back, and poll the long-running operation until it ends. (A PATCH
takes only identity, kind, sku and tags: learn.microsoft.com/rest/api/azureml/online-endpoints/update
-- PartialMinimalTrackedResourceWithIdentity -- so it cannot carry traffic.)

Because the endpoint resource PUTs the endpoint *without* traffic whenever it changes (a new tag),
this resource takes the endpoint's tags and settings as inputs: whatever updates the endpoint
updates the traffic right after it.
"""

from __future__ import annotations

import time
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ResourceProvider, UpdateResult

API_VERSION = "2024-04-01"
ARM = "https://management.azure.com"
#: How long to wait for the endpoint's update to finish (seconds).
TIMEOUT_S = 30 * 60
READ_ONLY = ("id", "name", "type", "systemData")


class TrafficError(Exception):
    """Setting the traffic failed; the message says what Azure answered."""


def _token() -> str:
    from . import credential

    return credential.credential().get_token(f"{ARM}/.default").token


def http_client():
    """The HTTP client; tests replace its transport."""
    import httpx

    return httpx.Client(timeout=60)


def sleep(seconds: float) -> None:
    """Tests replace it."""
    time.sleep(seconds)


def _fail(what: str, r) -> TrafficError:
    return TrafficError(f"{what} failed: HTTP {r.status_code} {r.text[:500]}")


def _wait(client, r, headers: dict[str, str], endpoint_id: str) -> None:
    """Poll the operation a 201/202 names until it ends (learn.microsoft.com/azure/azure-resource-
    manager/management/async-operations). Azure-AsyncOperation, when given, is the one to poll: its
    body's ``status`` says InProgress, Succeeded, Failed or Canceled. Otherwise Location: it answers
    202 while the operation runs and 200 or 204 once it succeeded ("When the operation successfully
    completes, it returns either 200 (OK) or 204 (No Content)")."""
    url = r.headers.get("azure-asyncoperation") or r.headers.get("location")
    if r.status_code not in (201, 202) or not url:
        return
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        sleep(float(r.headers.get("retry-after") or 10))
        r = client.get(url, headers=headers)
        if r.status_code >= 400:
            raise _fail(f"waiting for the traffic update of {endpoint_id}", r)
        body = r.json() if r.content else {}
        status = body.get("status") if isinstance(body, dict) else None
        if not status:
            status = "InProgress" if r.status_code == 202 else "Succeeded"
        if status == "Succeeded":
            return
        if status in ("Failed", "Canceled"):
            raise TrafficError(f"the traffic update of {endpoint_id} ended {status}: {r.text[:500]}")
        if time.monotonic() > deadline:
            raise TrafficError(f"the traffic update of {endpoint_id} did not finish in {TIMEOUT_S} s")


def set_traffic(endpoint_id: str, traffic: dict[str, int], missing_ok: bool = False) -> dict[str, Any]:
    """GET the endpoint, set ``properties.traffic``, PUT it back and wait for the operation."""
    headers = {"authorization": f"Bearer {_token()}"}
    params = {"api-version": API_VERSION}
    with http_client() as client:
        r = client.get(f"{ARM}{endpoint_id}", params=params, headers=headers)
        if r.status_code == 404 and missing_ok:
            return {}
        if r.status_code >= 400:
            raise _fail(f"reading {endpoint_id}", r)
        body = {k: v for k, v in r.json().items() if k not in READ_ONLY}
        body.setdefault("properties", {})["traffic"] = dict(traffic)
        r = client.put(f"{ARM}{endpoint_id}", params=params, headers=headers, json=body)
        if r.status_code >= 400:
            raise _fail(f"setting traffic {traffic} on {endpoint_id}", r)
        _wait(client, r, headers, endpoint_id)
    return body


class TrafficProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        set_traffic(props["endpoint_id"], props["traffic"])
        return CreateResult(id_=f"{props['endpoint_id']}/traffic", outs=props)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        keys = ("traffic", "endpoint_id", "endpoint", "tags")
        return DiffResult(changes=any(olds.get(k) != news.get(k) for k in keys),
                          replaces=["endpoint_id"] if olds.get("endpoint_id") != news.get("endpoint_id") else [])

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        set_traffic(news["endpoint_id"], news["traffic"])
        return UpdateResult(outs=news)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        # The deployment is deleted after this: it must carry no traffic then.
        set_traffic(props["endpoint_id"], {}, missing_ok=True)


class EndpointTraffic(pulumi.dynamic.Resource):
    def __init__(self, name: str, endpoint_id: Any, traffic: dict[str, int], endpoint: Any = None,
                 tags: Any = None, opts: pulumi.ResourceOptions | None = None):
        """``endpoint`` and ``tags``: the endpoint's own inputs, so that an update of the endpoint (which
        PUTs it without traffic) is followed by an update of its traffic."""
        super().__init__(TrafficProvider(), name, {"endpoint_id": endpoint_id, "traffic": traffic,
                                                   "endpoint": endpoint or {}, "tags": tags or {}}, opts)
