"""A Pulumi dynamic provider that uploads a custom model to Vertex AI and deploys it to an endpoint.

pulumi-gcp has no resource for this step (only Model Garden deployments), so mlfn carries its
own. Requests are built with Google's ``aiplatform_v1`` types (``aiplatform_v1beta1`` when
scale-to-zero is asked for), which reject unknown fields, wrong types and unknown enum values.

- create: upload the model (image, routes, port, env, artifact URI), then deploy it to the
  endpoint with 100% of the traffic. A deploy that fails deletes the model it uploaded; if that
  cleanup fails too, the error names what is left. A deploy that outlives the wait is cancelled
  and whatever landed is undeployed (Vertex goes on deploying after the client stops waiting).
  Earlier deployments of this deployment (same display name on this endpoint) that no state
  tracks -- left by a run that timed out or crashed -- are undeployed and deleted once the new one
  has the traffic, so they neither serve beside it nor keep their machines billed.
- update, when only replica counts and autoscaling targets change (``min_replicas``,
  ``max_replicas``, ``autoscaling_targets``; a state from before ``autoscaling_targets`` existed
  included): one endpoints.mutateDeployedModel, a long-running operation, changes the deployed
  model in place, updateMask ``dedicated_resources.{min_replica_count,max_replica_count,
  autoscaling_metric_specs}``: the only DedicatedResources fields it may change in v1 besides
  required_replica_count
  (https://cloud.google.com/vertex-ai/docs/reference/rest/v1/projects.locations.endpoints/mutateDeployedModel,
  although DedicatedResources' reference still marks them Immutable). No second fleet is billed
  and the model and deployed model ids stay. A change to or from zero replicas (v1beta1's
  scale_to_zero_spec) and an endpoint holding leftovers of an earlier run redeploy as below.
- update, any other change: upload and deploy the new model beside the old one, move all traffic
  to it, then undeploy and delete the old one: no downtime. A failed new deploy leaves the old one
  serving.
- delete: undeploy, then delete the model.
- diff: only the inputs that change what is served.

Long-running operations are polled with a bound; running past it is an error that says which
operation to look at.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ResourceProvider, UpdateResult

#: How long one long-running operation may take before it is reported (deploys of big GPU models
#: take 20-30 minutes on Vertex).
OPERATION_TIMEOUT_S = 3600.0
#: Polling of long-running operations: first delay, growth, longest delay (seconds).
POLL_INITIAL, POLL_MULTIPLIER, POLL_MAXIMUM = 1.0, 1.5, 30.0

#: Inputs whose change means a new model and a new deployment.
SERVED_FIELDS = (
    "image", "artifact_uri", "env", "predict_route", "health_route", "port", "machine_type", "accelerator_type",
    "accelerator_count", "min_replicas", "max_replicas", "autoscaling_targets", "service_account", "api",
    "display_name", "labels",
)
#: Served inputs that endpoints.mutateDeployedModel changes in place on the DeployedModel, and the
#: updateMask path of each (https://cloud.google.com/vertex-ai/docs/reference/rest/v1/projects.locations.endpoints/mutateDeployedModel;
#: paths as in https://cloud.google.com/vertex-ai/docs/predictions/autoscaling).
SCALING_FIELDS = {
    "min_replicas": "dedicated_resources.min_replica_count",
    "max_replicas": "dedicated_resources.max_replica_count",
    "autoscaling_targets": "dedicated_resources.autoscaling_metric_specs",
}


class VertexError(Exception):
    """A Vertex AI step failed; the message says which and what is left."""


class VertexTimeout(VertexError):
    """A long-running operation outlived the wait (it may still be running on Vertex)."""


def _types(api: str):
    if api == "v1beta1":
        from google.cloud import aiplatform_v1beta1 as types
    else:
        from google.cloud import aiplatform_v1 as types
    return types


def make_clients(region: str, api: str):
    """The official clients for a region. Tests replace this function's transport, not its calls."""
    types = _types(api)
    options = {"api_endpoint": f"{region}-aiplatform.googleapis.com"}
    return (types.ModelServiceClient(client_options=options, transport="rest"),
            types.EndpointServiceClient(client_options=options, transport="rest"))


@dataclass(frozen=True)
class Inputs:
    project: str
    region: str
    endpoint: str  # projects/.../locations/.../endpoints/...
    display_name: str
    image: str
    artifact_uri: str | None
    env: dict[str, str]
    predict_route: str
    health_route: str
    port: int
    machine_type: str
    accelerator_type: str | None
    accelerator_count: int
    min_replicas: int
    max_replicas: int
    #: DedicatedResources.autoscalingMetricSpecs as metric name -> target (one entry per metric, as
    #: Vertex allows); empty or absent: Vertex's defaults.
    autoscaling_targets: dict[str, int] | None
    service_account: str | None
    api: str
    labels: dict[str, str]
    #: How long to wait for each operation (None: OPERATION_TIMEOUT_S).
    timeout_s: float | None = None

    @property
    def timeout(self) -> float:
        return float(self.timeout_s or OPERATION_TIMEOUT_S)

    @classmethod
    def of(cls, props: dict[str, Any]) -> Inputs:
        fields = cls.__dataclass_fields__
        return cls(**{k: props.get(k) for k in fields})


def build_model(inputs: Inputs):
    """The Model to upload, as the API's own type (unknown fields and bad values raise here)."""
    t = _types(inputs.api)
    container = t.ModelContainerSpec(
        image_uri=inputs.image,
        env=[t.EnvVar(name=k, value=v) for k, v in sorted(inputs.env.items())],
        ports=[t.Port(container_port=inputs.port)],
        predict_route=inputs.predict_route,
        health_route=inputs.health_route,
    )
    if inputs.timeout_s:
        # Vertex stops a deployment that runs longer, so nothing keeps deploying after mlfn gives up.
        container.deployment_timeout = {"seconds": int(inputs.timeout_s)}
    model = t.Model(display_name=inputs.display_name, container_spec=container, labels=inputs.labels)
    if inputs.artifact_uri:
        model.artifact_uri = inputs.artifact_uri
    return model


def build_deployed_model(inputs: Inputs, model_name: str):
    t = _types(inputs.api)
    machine = t.MachineSpec(machine_type=inputs.machine_type)
    if inputs.accelerator_type:
        machine.accelerator_type = t.AcceleratorType[inputs.accelerator_type]
        machine.accelerator_count = inputs.accelerator_count
    resources = t.DedicatedResources(
        machine_spec=machine,
        min_replica_count=inputs.min_replicas,
        max_replica_count=inputs.max_replicas,
        autoscaling_metric_specs=[t.AutoscalingMetricSpec(metric_name=name, target=target)
                                  for name, target in sorted((inputs.autoscaling_targets or {}).items())],
    )
    if inputs.min_replicas == 0:
        if inputs.api != "v1beta1":
            raise ValueError("min_replicas 0 needs the v1beta1 API (scale_to_zero_spec)")
        # v1beta1 only: Vertex scales the deployment to zero replicas when idle. It starts with
        # initial_replica_count replicas, which must be at least 1 (and at most max) when min is 0.
        resources.initial_replica_count = 1
        resources.scale_to_zero_spec = t.DedicatedResources.ScaleToZeroSpec(min_scaleup_period={"seconds": 300},
                                                                            idle_scaledown_period={"seconds": 900})
    deployed = t.DeployedModel(model=model_name, display_name=inputs.display_name, dedicated_resources=resources)
    if inputs.service_account:
        deployed.service_account = inputs.service_account
    return deployed


def _wait(operation, what: str, timeout: float | None = None):
    from google.api_core import exceptions
    from google.api_core.future.polling import DEFAULT_POLLING

    timeout = timeout or OPERATION_TIMEOUT_S
    polling = DEFAULT_POLLING.with_timeout(timeout).with_delay(
        initial=POLL_INITIAL, maximum=POLL_MAXIMUM, multiplier=POLL_MULTIPLIER)
    try:
        return operation.result(timeout=timeout, polling=polling)
    except (exceptions.RetryError, TimeoutError, exceptions.DeadlineExceeded) as e:
        name = getattr(getattr(operation, "operation", None), "name", "?")
        raise VertexTimeout(f"{what} did not finish within {timeout:.0f}s (operation {name}); "
                            "see it in the Cloud console, then run mlfn up again") from e
    except exceptions.GoogleAPICallError as e:
        raise VertexError(f"{what} failed: {e.message or e}") from e


def _delete_model(models, name: str) -> str | None:
    """Delete an uploaded model; return what is left behind when that fails."""
    from google.api_core import exceptions

    try:
        _wait(models.delete_model(name=name), f"deleting model {name}")
    except (VertexError, exceptions.GoogleAPICallError) as e:
        return f"model {name} is left ({e}); delete it in the Cloud console"
    return None


def build_requests(inputs: Inputs):
    """Both requests, built (and so checked by the API's own types) before anything is called."""
    try:
        return build_model(inputs), build_deployed_model(inputs, "pending")
    except (ValueError, TypeError, KeyError) as e:
        raise VertexError(f"the Vertex AI request is not valid: {e!r}") from e


def upload_and_deploy(inputs: Inputs, traffic_from: str | None = None) -> dict[str, Any]:
    """Upload the model and deploy it with all traffic; clean up the upload if the deploy fails."""
    from google.api_core import exceptions

    model, deployed = build_requests(inputs)
    models, endpoints = make_clients(inputs.region, inputs.api)
    parent = f"projects/{inputs.project}/locations/{inputs.region}"
    try:
        uploaded = _wait(models.upload_model(parent=parent, model=model), "uploading the model")
    except exceptions.GoogleAPICallError as e:
        raise VertexError(f"uploading the model failed: {e.message or e}") from e
    model_name = uploaded.model
    op = None
    try:
        deployed.model = model_name
        op = endpoints.deploy_model(endpoint=inputs.endpoint, deployed_model=deployed, traffic_split={"0": 100})
        result = _wait(op, f"deploying {model_name} to {inputs.endpoint}", inputs.timeout)
    except (VertexError, exceptions.GoogleAPICallError) as e:
        if isinstance(e, VertexTimeout) and op is not None:
            # Vertex goes on deploying after we stop waiting: stop it, then undeploy what landed.
            # (The client's operations mixin: Operation.cancel() over REST fails in google-api-core.)
            with contextlib.suppress(Exception):
                endpoints.cancel_operation(request={"name": op.operation.name})
        landed = deployed_on(endpoints, inputs.endpoint, lambda d: _same_model(d.model, model_name))
        left = retire(models, endpoints, inputs.endpoint, landed, inputs.timeout)
        if not landed:
            gone = _delete_model(models, model_name)
            left += [gone] if gone else []
        still = f" The previous deployment {traffic_from} keeps serving." if traffic_from else ""
        cleanup = "; ".join(left) or f"the uploaded model {model_name} was deleted, nothing is left"
        raise VertexError(f"deploying to {inputs.endpoint} failed: {e}. {cleanup}.{still}") from e
    return {"model": model_name, "deployed_model_id": result.deployed_model.id, "endpoint": inputs.endpoint}


def _same_model(a: str, b: str) -> bool:
    """Model names compare by their id: Vertex may answer projects/<number>/... for projects/<id>/..."""
    return a.rsplit("/", 1)[-1] == b.rsplit("/", 1)[-1]


def deployed_on(endpoints, endpoint: str, match) -> list[tuple[str, str]]:
    """(deployed model id, model) of the deployed models on ``endpoint`` that ``match``."""
    from google.api_core import exceptions

    try:
        found = endpoints.get_endpoint(name=endpoint)
    except exceptions.NotFound:
        return []
    except exceptions.GoogleAPICallError as e:
        raise VertexError(f"reading {endpoint} failed: {e.message or e}") from e
    return [(d.id, d.model) for d in found.deployed_models if match(d)]


def retire(models, endpoints, endpoint: str, deployed: list[tuple[str, str]], timeout: float | None = None,
           ) -> list[str]:
    """Undeploy each deployed model, then delete its model; return what is left, said plainly."""
    from google.api_core import exceptions

    left = []
    for dep_id, model in deployed:
        try:
            _wait(endpoints.undeploy_model(endpoint=endpoint, deployed_model_id=dep_id),
                  f"undeploying {dep_id} from {endpoint}", timeout)
        except exceptions.NotFound:
            pass
        except (VertexError, exceptions.GoogleAPICallError) as e:
            left.append(f"deployed model {dep_id} ({model}) is still on {endpoint} ({e}); undeploy it in "
                        "the Cloud console, or run mlfn up again")
            continue
        gone = _delete_model(models, model)
        if gone:
            left.append(gone)
    return left


def scaling_only(olds: dict[str, Any], news: dict[str, Any]) -> bool:
    """Whether the change is replica counts and autoscaling targets only, with replicas always on
    (scale to zero is v1beta1's scale_to_zero_spec and initial_replica_count: those redeploy)."""
    changed = {k for k in SERVED_FIELDS if olds.get(k) != news.get(k)}
    always_on = all((props.get("min_replicas") or 0) >= 1 for props in (olds, news))
    return bool(changed) and changed <= SCALING_FIELDS.keys() and always_on and bool(olds.get("deployed_model_id"))


def mutate_scaling(inputs: Inputs, deployed_model_id: str) -> None:
    """Set the replica counts and autoscaling targets of a deployed model in place: one
    mutateDeployedModel, a long-running operation, polled like a deploy. Every scaling field is in
    the mask, so the deployed model ends as ``inputs`` say (no targets: Vertex's defaults)."""
    from google.api_core import exceptions
    from google.protobuf import field_mask_pb2

    t = _types(inputs.api)
    resources = t.DedicatedResources(
        min_replica_count=inputs.min_replicas,
        max_replica_count=inputs.max_replicas,
        autoscaling_metric_specs=[t.AutoscalingMetricSpec(metric_name=name, target=target)
                                  for name, target in sorted((inputs.autoscaling_targets or {}).items())],
    )
    deployed = t.DeployedModel(id=deployed_model_id, dedicated_resources=resources)
    mask = field_mask_pb2.FieldMask(paths=list(SCALING_FIELDS.values()))
    _, endpoints = make_clients(inputs.region, inputs.api)
    what = f"changing the replicas and autoscaling of deployed model {deployed_model_id} on {inputs.endpoint}"
    keeps = f"Deployed model {deployed_model_id} keeps serving; fix the cause and run mlfn up again"
    try:
        _wait(endpoints.mutate_deployed_model(endpoint=inputs.endpoint, deployed_model=deployed, update_mask=mask),
              what, inputs.timeout)
    except VertexTimeout:
        raise
    except VertexError as e:  # the operation failed; the message already says what
        raise VertexError(f"{e}. {keeps}") from e
    except exceptions.GoogleAPICallError as e:  # the request was refused
        raise VertexError(f"{what} failed: {e.message or e}. {keeps}") from e


def earlier_deployments(inputs: Inputs, keep: str | None = None) -> list[tuple[str, str]]:
    """Deployments of this deployment on its endpoint (its display name) other than ``keep``."""
    _, endpoints = make_clients(inputs.region, inputs.api)
    return deployed_on(endpoints, inputs.endpoint, lambda d: d.display_name == inputs.display_name and d.id != keep)


def retire_earlier(inputs: Inputs, earlier: list[tuple[str, str]]) -> None:
    """Retire deployments no state tracks, once the new one has the traffic; warn about what is left."""
    if not earlier:
        return
    models, endpoints = make_clients(inputs.region, inputs.api)
    left = retire(models, endpoints, inputs.endpoint, earlier, inputs.timeout)
    if left:
        pulumi.log.warn("earlier deployments of this model are left: " + "; ".join(left))


def undeploy_and_delete(inputs: Inputs, model: str, deployed_model_id: str) -> None:
    from google.api_core import exceptions

    models, endpoints = make_clients(inputs.region, inputs.api)
    with contextlib.suppress(exceptions.NotFound):  # already gone
        _wait(endpoints.undeploy_model(endpoint=inputs.endpoint, deployed_model_id=deployed_model_id),
              f"undeploying {deployed_model_id} from {inputs.endpoint}")
    left = _delete_model(models, model)
    if left:
        raise VertexError(left)


class VertexDeploymentProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        inputs = Inputs.of(props)
        build_requests(inputs)
        # What an earlier run left (a deploy that timed out, a crash before state was written).
        earlier = earlier_deployments(inputs)
        outs = upload_and_deploy(inputs)
        retire_earlier(inputs, earlier)
        return CreateResult(id_=outs["deployed_model_id"], outs={**props, **outs})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [k for k in SERVED_FIELDS if olds.get(k) != news.get(k)]
        replaces = [k for k in ("project", "region", "endpoint") if olds.get(k) != news.get(k)]
        return DiffResult(changes=bool(changed or replaces), replaces=replaces, delete_before_replace=False)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        inputs = Inputs.of(news)
        build_requests(inputs)
        earlier = earlier_deployments(inputs, keep=olds.get("deployed_model_id"))
        if scaling_only(olds, news) and not earlier:
            # Same model, same machines: scale the deployed model in place, no second fleet.
            mutate_scaling(inputs, olds["deployed_model_id"])
            kept = {k: olds[k] for k in ("model", "deployed_model_id")}
            return UpdateResult(outs={**news, **kept, "endpoint": inputs.endpoint})
        # Anything else (or leftovers of an earlier run to retire once the traffic has moved): redeploy.
        outs = upload_and_deploy(inputs, traffic_from=olds.get("deployed_model_id"))
        # The new model has all the traffic: retire the old one, and any an earlier update left.
        undeploy_and_delete(Inputs.of(olds), olds["model"], olds["deployed_model_id"])
        retire_earlier(inputs, earlier)
        return UpdateResult(outs={**news, **outs})

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        undeploy_and_delete(Inputs.of(props), props["model"], props["deployed_model_id"])


class VertexDeployment(pulumi.dynamic.Resource):
    """A custom model uploaded to Vertex AI and deployed to an endpoint."""

    model: pulumi.Output[str]
    deployed_model_id: pulumi.Output[str]

    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None):
        super().__init__(VertexDeploymentProvider(), name, {**props, "model": None, "deployed_model_id": None}, opts)
