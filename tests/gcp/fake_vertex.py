"""Vertex AI's REST API, faked at the HTTP layer: the official clients run unchanged over it.

It is mounted as a `requests` transport adapter on the clients' own sessions, so requests are
serialized by the real client, long-running operations are polled through the real operations
client, and answers are parsed by the real response types.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass, field

import requests
from requests.adapters import BaseAdapter


@dataclass
class FakeVertex:
    polls_before_done: int = 2  # GETs of an operation that answer "not done yet"
    fail_deploy: str | None = None  # an error message for deployModel's operation
    fail_delete: bool = False
    never_done: bool = False
    # The deploy operation never reports done (a client-side timeout), yet the model lands on the
    # endpoint as Vertex finishes it in the background.
    deploy_never_done: bool = False
    fail_undeploy: bool = False
    calls: list[tuple[str, str]] = field(default_factory=list)
    models: dict[str, dict] = field(default_factory=dict)
    deployed: dict[str, str] = field(default_factory=dict)  # deployed id -> model
    display_names: dict[str, str] = field(default_factory=dict)  # deployed id -> its display name
    cancelled: list[str] = field(default_factory=list)
    traffic: dict[str, int] = field(default_factory=dict)
    deploy_requests: list[dict] = field(default_factory=list)  # each deployModel body, as sent
    mutate_requests: list[dict] = field(default_factory=list)  # each mutateDeployedModel body, as sent
    fail_mutate: str | None = None  # an error message for mutateDeployedModel's operation
    resources: dict[str, dict] = field(default_factory=dict)  # deployed id -> its dedicatedResources now
    _ops: dict[str, dict] = field(default_factory=dict)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def _operation(self, parent: str, response: dict | None = None, error: dict | None = None,
                   never_done: bool = False) -> dict:
        name = f"{parent}/operations/{next(self._ids)}"
        self._ops[name] = {"polls": 0, "response": response, "error": error, "never_done": never_done}
        return {"name": name, "done": False}

    def handle(self, method: str, path: str, body: dict) -> tuple[int, dict]:
        self.calls.append((method, path))
        version = "v1beta1" if path.startswith("/v1beta1/") else "v1"
        loc = re.match(r"/v1(?:beta1)?/(projects/[^/]+/locations/[^/]+)", path)
        if method == "POST" and path.endswith(":cancel") and "/operations/" in path:
            self.cancelled.append(path.split("/", 2)[2].removesuffix(":cancel"))
            return 200, {}
        if method == "GET" and re.search(r"/endpoints/[^/:]+$", path):
            name = path.split("/", 2)[2]
            return 200, {"name": name, "deployedModels": [
                {"id": i, "model": m, "displayName": self.display_names.get(i, "")} for i, m in self.deployed.items()],
                "trafficSplit": self.traffic}
        if method == "GET" and "/operations/" in path:
            name = path.split("/", 2)[2]
            op = self._ops[name]
            op["polls"] += 1
            if self.never_done or op["never_done"] or op["polls"] <= self.polls_before_done:
                return 200, {"name": name, "done": False}
            out = {"name": name, "done": True}
            if op["error"]:
                out["error"] = op["error"]
            else:
                out["response"] = op["response"]
            return 200, out
        if method == "POST" and path.endswith("/models:upload"):
            model_name = f"{loc.group(1)}/models/{next(self._ids)}"
            self.models[model_name] = body["model"]
            return 200, self._operation(loc.group(1), {
                "@type": f"type.googleapis.com/google.cloud.aiplatform.{version}.UploadModelResponse",
                "model": model_name})
        if method == "POST" and path.endswith(":deployModel"):
            self.deploy_requests.append(body)
            if self.fail_deploy:
                return 200, self._operation(loc.group(1), error={"code": 8, "message": self.fail_deploy})
            dep_id = str(next(self._ids))
            self.deployed[dep_id] = body["deployedModel"]["model"]
            self.display_names[dep_id] = body["deployedModel"].get("displayName", "")
            self.resources[dep_id] = dict(body["deployedModel"].get("dedicatedResources", {}))  # a copy: mutates
            split = body.get("trafficSplit", {})
            self.traffic = {(dep_id if k == "0" else k): v for k, v in split.items()}
            return 200, self._operation(loc.group(1), {
                "@type": f"type.googleapis.com/google.cloud.aiplatform.{version}.DeployModelResponse",
                "deployedModel": {"id": dep_id, "model": body["deployedModel"]["model"]}},
                never_done=self.deploy_never_done)
        if method == "POST" and path.endswith(":mutateDeployedModel"):
            return self._mutate(loc.group(1), version, body)
        if method == "POST" and path.endswith(":undeployModel"):
            dep_id = body["deployedModelId"]
            if self.fail_undeploy:
                return 400, {"error": {"code": 400, "message": "undeploy refused", "status": "FAILED_PRECONDITION"}}
            if dep_id not in self.deployed:
                return 404, {"error": {"code": 404, "message": f"deployed model {dep_id} not found",
                                       "status": "NOT_FOUND"}}
            self.deployed.pop(dep_id)
            self.traffic.pop(dep_id, None)
            return 200, self._operation(loc.group(1), {
                "@type": f"type.googleapis.com/google.cloud.aiplatform.{version}.UndeployModelResponse"})
        if method == "DELETE" and "/models/" in path:
            name = path.split("/", 2)[2]
            if any(m == name for m in self.deployed.values()):
                return 400, {"error": {"code": 400, "message": f"model {name} is deployed", "status":
                                       "FAILED_PRECONDITION"}}
            if self.fail_delete:
                return 403, {"error": {"code": 403, "message": "permission denied", "status": "PERMISSION_DENIED"}}
            self.models.pop(name, None)
            return 200, self._operation(loc.group(1), {"@type": "type.googleapis.com/google.protobuf.Empty"})
        return 404, {"error": {"code": 404, "message": f"no fake for {method} {path}", "status": "NOT_FOUND"}}


    def _mutate(self, parent: str, version: str, body: dict) -> tuple[int, dict]:
        """endpoints.mutateDeployedModel: the deployed model named by deployedModel.id gets the fields
        its updateMask names, and only those; the answer is an Operation whose response is a
        MutateDeployedModelResponse. Only replica counts, autoscalingMetricSpecs and container
        logging may be mutated
        (https://cloud.google.com/vertex-ai/docs/reference/rest/v1/projects.locations.endpoints/mutateDeployedModel)."""
        self.mutate_requests.append(body)
        mask = body.get("updateMask", "")
        paths = mask.split(",") if isinstance(mask, str) else mask.get("paths", [])
        paths = [p for p in paths if p]
        if not paths:
            return 400, {"error": {"code": 400, "message": "update_mask is required", "status": "INVALID_ARGUMENT"}}
        bad = [p for p in paths if _snake(p) not in MUTABLE[version]]
        if bad:
            return 400, {"error": {"code": 400, "message": f"{', '.join(bad)} cannot be mutated",
                                   "status": "INVALID_ARGUMENT"}}
        dep_id = body.get("deployedModel", {}).get("id", "")
        if dep_id not in self.deployed:
            return 404, {"error": {"code": 404, "message": f"deployed model {dep_id} not found", "status": "NOT_FOUND"}}
        if self.fail_mutate:
            return 200, self._operation(parent, error={"code": 8, "message": self.fail_mutate})
        sent = body["deployedModel"].get("dedicatedResources", {})
        now = self.resources.setdefault(dep_id, {})
        for p in paths:
            key = _camel(_snake(p).split(".", 1)[1]) if _snake(p).startswith("dedicated_resources.") else None
            if key is None:
                continue
            if key in sent:
                now[key] = sent[key]
            else:
                now.pop(key, None)  # a masked field left out of the body is cleared
        return 200, self._operation(parent, {
            "@type": f"type.googleapis.com/google.cloud.aiplatform.{version}.MutateDeployedModelResponse",
            "deployedModel": {"id": dep_id, "model": self.deployed[dep_id], "displayName": self.display_names[dep_id],
                              "dedicatedResources": now}})


#: The DeployedModel fields mutateDeployedModel accepts, per API version (REST reference above).
MUTABLE = {
    "v1": {"dedicated_resources.min_replica_count", "dedicated_resources.max_replica_count",
           "dedicated_resources.required_replica_count", "dedicated_resources.autoscaling_metric_specs",
           "automatic_resources.min_replica_count", "automatic_resources.max_replica_count",
           "disable_container_logging"},
    "v1beta1": {"dedicated_resources.min_replica_count", "dedicated_resources.max_replica_count",
                "dedicated_resources.required_replica_count", "dedicated_resources.autoscaling_metric_specs",
                "dedicated_resources.scale_to_zero_spec", "dedicated_resources.initial_replica_count",
                "automatic_resources.min_replica_count", "automatic_resources.max_replica_count",
                "enable_container_logging"},
}


def _snake(path: str) -> str:
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), path)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(w.title() for w in rest)


class _Adapter(BaseAdapter):
    def __init__(self, fake: FakeVertex):
        super().__init__()
        self.fake = fake

    def send(self, request, **kwargs):
        path = requests.utils.urlparse(request.url).path
        body = json.loads(request.body) if request.body else {}
        status, data = self.fake.handle(request.method, path, body)
        response = requests.Response()
        response.status_code = status
        response._content = json.dumps(data).encode()
        response.headers["content-type"] = "application/json"
        response.url = request.url
        response.request = request
        response.encoding = "utf-8"
        return response

    def close(self):
        pass


def clients_over(fake: FakeVertex):
    """A make_clients replacement: the official REST clients, their sessions answered by ``fake``."""
    from google.auth.credentials import AnonymousCredentials
    from mlfn_gcp.vertex_provider import _types

    def make(region: str, api: str):
        t = _types(api)
        opts = {"api_endpoint": f"{region}-aiplatform.googleapis.com"}
        out = []
        for cls in (t.ModelServiceClient, t.EndpointServiceClient):
            client = cls(credentials=AnonymousCredentials(), client_options=opts, transport="rest")
            client.transport._session.mount("https://", _Adapter(fake))
            client.transport.operations_client._transport._session.mount("https://", _Adapter(fake))
            out.append(client)
        return tuple(out)

    return make
