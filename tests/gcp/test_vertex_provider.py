"""The Vertex dynamic provider against the official clients, their HTTP transport replaced."""

import pytest
from fake_vertex import FakeVertex, clients_over
from mlfn_gcp import vertex_provider as vp

ENDPOINT = "projects/p/locations/us-central1/endpoints/1234567890"
# AutoscalingMetricSpec.metric_name's values for online prediction
# (https://cloud.google.com/vertex-ai/docs/reference/rest/v1/DedicatedResources#AutoscalingMetricSpec).
DUTY_CYCLE = "aiplatform.googleapis.com/prediction/online/accelerator/duty_cycle"
REQUEST_COUNT = "aiplatform.googleapis.com/prediction/online/request_count"
PROPS = {
    "project": "p", "region": "us-central1", "endpoint": ENDPOINT, "display_name": "iris-prod",
    "image": "us-central1-docker.pkg.dev/p/iris-prod/iris@sha256:" + "a" * 64,
    "artifact_uri": "gs://iris-prod-models/iris-prod/model-0123", "env": {"MLFN_MODEL_NAME": "iris"},
    "predict_route": "/invocations", "health_route": "/health/ready", "port": 8080,
    "machine_type": "g2-standard-4", "accelerator_type": "NVIDIA_L4", "accelerator_count": 1,
    "min_replicas": 1, "max_replicas": 3, "autoscaling_targets": {DUTY_CYCLE: 60, REQUEST_COUNT: 480},
    "service_account": "iris@p.iam.gserviceaccount.com", "api": "v1", "labels": {"mlfn-deployment": "iris"},
}


@pytest.fixture
def fake(monkeypatch):
    f = FakeVertex()
    monkeypatch.setattr(vp, "make_clients", clients_over(f))
    monkeypatch.setattr(vp, "POLL_INITIAL", 0.01)
    monkeypatch.setattr(vp, "POLL_MAXIMUM", 0.02)
    return f


def test_create_uploads_then_deploys_with_all_traffic(fake):
    result = vp.VertexDeploymentProvider().create(dict(PROPS))
    model = result.outs["model"]
    assert fake.models[model]["containerSpec"]["imageUri"] == PROPS["image"]
    assert fake.models[model]["containerSpec"]["predictRoute"] == "/invocations"
    assert fake.models[model]["containerSpec"]["ports"] == [{"containerPort": 8080}]
    assert fake.models[model]["artifactUri"] == PROPS["artifact_uri"]
    assert fake.deployed == {result.id: model} and fake.traffic == {result.id: 100}
    polls = [c for c in fake.calls if c[0] == "GET"]
    assert len(polls) >= 2 * (fake.polls_before_done + 1)  # both operations were polled until done


def test_deploy_request_carries_the_machine_spec(fake, monkeypatch):
    seen = {}
    original = fake.handle

    def spy(method, path, body):
        if path.endswith(":deployModel"):
            seen.update(body)
        return original(method, path, body)

    monkeypatch.setattr(fake, "handle", spy)
    vp.VertexDeploymentProvider().create(dict(PROPS))
    res = seen["deployedModel"]["dedicatedResources"]
    from google.cloud.aiplatform_v1 import AcceleratorType

    spec = res["machineSpec"]
    assert (spec["machineType"], spec["acceleratorCount"]) == ("g2-standard-4", 1)
    assert spec["acceleratorType"] in ("NVIDIA_L4", int(AcceleratorType.NVIDIA_L4))  # REST sends enums as numbers
    assert (res["minReplicaCount"], res["maxReplicaCount"]) == (1, 3)
    assert seen["deployedModel"]["serviceAccount"] == PROPS["service_account"]


def metric_specs(deploy_request: dict) -> dict[str, int]:
    specs = deploy_request["deployedModel"]["dedicatedResources"]["autoscalingMetricSpecs"]
    assert len(specs) == len({s["metricName"] for s in specs})  # "At most one entry is allowed per metric"
    return {s["metricName"]: s["target"] for s in specs}


def test_deploy_request_scales_on_utilisation_and_request_count(fake):
    """Vertex autoscales a DeployedModel on dedicatedResources.autoscalingMetricSpecs, at most one
    entry per metric (https://cloud.google.com/vertex-ai/docs/reference/rest/v1/DedicatedResources);
    listed metrics replace the defaults, so utilisation is listed beside request_count, whose target
    is requests per minute per replica (https://cloud.google.com/vertex-ai/docs/predictions/autoscaling)."""
    vp.VertexDeploymentProvider().create(dict(PROPS))
    (request,) = fake.deploy_requests
    assert metric_specs(request) == {DUTY_CYCLE: 60, REQUEST_COUNT: 480}


#: endpoints.mutateDeployedModel changes these DeployedModel fields in place; updateMask names them
#: (https://cloud.google.com/vertex-ai/docs/reference/rest/v1/projects.locations.endpoints/mutateDeployedModel,
#: paths as in https://cloud.google.com/vertex-ai/docs/predictions/autoscaling).
SCALING_MASK = ["dedicatedResources.minReplicaCount", "dedicatedResources.maxReplicaCount",
                "dedicatedResources.autoscalingMetricSpecs"]


def redeploys(calls) -> list[str]:
    return [p for m, p in calls if m == "POST" and p.endswith((":deployModel", ":undeployModel", "models:upload"))]


def mask(request: dict) -> list[str]:
    m = request["updateMask"]  # a FieldMask is a comma-separated string in JSON
    return sorted(m.split(",") if isinstance(m, str) else m["paths"])


@pytest.mark.parametrize("change", [
    {"autoscaling_targets": {DUTY_CYCLE: 60, REQUEST_COUNT: 240}},
    {"min_replicas": 2, "max_replicas": 6},
    {"max_replicas": 5, "autoscaling_targets": {DUTY_CYCLE: 70}},
])
def test_a_scaling_only_change_mutates_the_deployed_model_in_place(fake, change):
    """Replica counts and autoscaling targets are changed in place by one mutateDeployedModel (a
    long-running operation, polled like deploys): no new model, no second fleet, no traffic move."""
    provider = vp.VertexDeploymentProvider()
    old = provider.create(dict(PROPS))
    before = list(fake.calls)
    news = {**PROPS, **change}
    diff = provider.diff(old.id, old.outs, news)
    assert diff.changes and not diff.replaces
    updated = provider.update(old.id, old.outs, news)
    new_calls = fake.calls[len(before):]
    assert not redeploys(new_calls)  # no upload, deploy or undeploy
    (request,) = fake.mutate_requests
    assert request["deployedModel"]["id"] == old.id
    assert mask(request) == sorted(SCALING_MASK)
    assert any("/operations/" in p for m, p in new_calls if m == "GET")  # the operation was polled
    want = {**PROPS, **change}
    res = fake.resources[old.id]
    assert (res["minReplicaCount"], res["maxReplicaCount"]) == (want["min_replicas"], want["max_replicas"])
    assert {s["metricName"]: s["target"] for s in res["autoscalingMetricSpecs"]} == want["autoscaling_targets"]
    assert res["machineSpec"]["machineType"] == "g2-standard-4"  # untouched, not in the mask
    assert (updated.outs["deployed_model_id"], updated.outs["model"]) == (old.id, old.outs["model"])
    assert fake.deployed == {old.id: old.outs["model"]} and fake.traffic == {old.id: 100}
    assert updated.outs["min_replicas"] == want["min_replicas"]


def test_a_scaling_change_beside_a_served_change_redeploys(fake):
    """A new image (or machine, env, ...) needs a new model: the whole change rolls out as a new
    deployment beside the old one, replica counts included; nothing is mutated."""
    provider = vp.VertexDeploymentProvider()
    old = provider.create(dict(PROPS))
    news = {**PROPS, "image": PROPS["image"].replace("a" * 64, "c" * 64), "max_replicas": 5}
    updated = provider.update(old.id, old.outs, news)
    assert fake.mutate_requests == []
    assert updated.outs["deployed_model_id"] != old.id
    assert fake.deploy_requests[-1]["deployedModel"]["dedicatedResources"]["maxReplicaCount"] == 5
    assert fake.deployed == {updated.outs["deployed_model_id"]: updated.outs["model"]}


def test_scaling_to_zero_redeploys(fake):
    """min_replicas 0 is v1beta1's scale_to_zero_spec and initial_replica_count, set at deploy: a
    change to or from zero redeploys rather than mutating min_replica_count alone."""
    provider = vp.VertexDeploymentProvider()
    old = provider.create({**PROPS, "api": "v1beta1"})
    updated = provider.update(old.id, old.outs, {**PROPS, "api": "v1beta1", "min_replicas": 0})
    assert fake.mutate_requests == [] and updated.outs["deployed_model_id"] != old.id
    assert "scaleToZeroSpec" in fake.deploy_requests[-1]["deployedModel"]["dedicatedResources"]


def test_a_scaling_change_with_leftovers_on_the_endpoint_redeploys_to_retire_them(fake):
    """Leftovers of a timed-out run may hold traffic; the redeploy moves all traffic to the new
    deployment before retiring them, so a scaling change then takes that path, not a mutate."""
    provider = vp.VertexDeploymentProvider()
    old = provider.create(dict(PROPS))
    left_id, _ = _leftover(fake)
    updated = provider.update(old.id, old.outs, {**PROPS, "max_replicas": 5})
    assert fake.mutate_requests == []
    assert fake.deployed == {updated.outs["deployed_model_id"]: updated.outs["model"]} and left_id not in fake.deployed


def test_a_failed_mutate_says_so_and_leaves_the_deployment_serving(fake):
    provider = vp.VertexDeploymentProvider()
    old = provider.create(dict(PROPS))
    fake.fail_mutate = "RESOURCE_EXHAUSTED: no L4 quota for 6 replicas"
    with pytest.raises(vp.VertexError, match="no L4 quota") as e:
        provider.update(old.id, old.outs, {**PROPS, "max_replicas": 6})
    assert old.id in str(e.value) and str(e.value).count("failed") == 1
    assert fake.deployed == {old.id: old.outs["model"]} and fake.traffic == {old.id: 100}


def test_a_deployment_from_before_autoscaling_targets_is_mutated_by_the_next_up(fake):
    """State written before mlfn sent autoscaling targets has none (it had concurrency_target, which
    the provider never sent): the deployment there scales on utilisation only, so the next up must
    change it -- in place, not by a 20-30 minute redeploy of every existing Vertex deployment."""
    provider = vp.VertexDeploymentProvider()
    made = provider.create({k: v for k, v in PROPS.items() if k != "autoscaling_targets"})
    outs = {k: v for k, v in made.outs.items() if k != "autoscaling_targets"}
    outs["concurrency_target"] = 8
    assert provider.diff(made.id, outs, dict(PROPS)).changes
    updated = provider.update(made.id, outs, dict(PROPS))
    (request,) = fake.mutate_requests
    assert request["deployedModel"]["id"] == made.id and mask(request) == sorted(SCALING_MASK)
    assert metric_specs(request) == {DUTY_CYCLE: 60, REQUEST_COUNT: 480}
    assert len(fake.deploy_requests) == 1  # the create's only
    assert updated.outs["deployed_model_id"] == made.id and "concurrency_target" not in updated.outs


def test_failed_deploy_deletes_the_upload_and_says_so(fake):
    fake.fail_deploy = "RESOURCE_EXHAUSTED: no L4 quota in us-central1"
    with pytest.raises(vp.VertexError) as e:
        vp.VertexDeploymentProvider().create(dict(PROPS))
    assert "no L4 quota" in str(e.value) and "was deleted, nothing is left" in str(e.value)
    assert fake.models == {} and fake.deployed == {}


def test_failed_deploy_and_failed_cleanup_name_what_is_left(fake):
    fake.fail_deploy = "quota"
    fake.fail_delete = True
    with pytest.raises(vp.VertexError) as e:
        vp.VertexDeploymentProvider().create(dict(PROPS))
    (left,) = fake.models
    assert f"model {left} is left" in str(e.value) and "delete it in the Cloud console" in str(e.value)


def test_update_deploys_new_moves_traffic_then_retires_old(fake):
    provider = vp.VertexDeploymentProvider()
    old = provider.create(dict(PROPS))
    news = {**PROPS, "image": PROPS["image"].replace("a" * 64, "b" * 64)}
    assert provider.diff(old.id, old.outs, news).changes
    updated = provider.update(old.id, old.outs, news)
    assert list(fake.deployed) == [updated.outs["deployed_model_id"]]
    assert fake.traffic == {updated.outs["deployed_model_id"]: 100}
    assert list(fake.models) == [updated.outs["model"]]  # the old model was deleted
    order = [p.rsplit("/", 1)[-1].split(":")[-1] for m, p in fake.calls if m == "POST"]
    assert order.index("deployModel", 1) < order.index("undeployModel")  # new first, then retire the old


def test_failed_update_keeps_the_old_deployment_serving(fake):
    provider = vp.VertexDeploymentProvider()
    old = provider.create(dict(PROPS))
    fake.fail_deploy = "bad image"
    with pytest.raises(vp.VertexError, match="keeps serving"):
        provider.update(old.id, old.outs, {**PROPS, "machine_type": "g2-standard-8"})
    assert fake.deployed == {old.id: old.outs["model"]} and list(fake.models) == [old.outs["model"]]


def test_delete_undeploys_then_deletes(fake):
    provider = vp.VertexDeploymentProvider()
    made = provider.create(dict(PROPS))
    provider.delete(made.id, made.outs)
    assert fake.deployed == {} and fake.models == {}
    provider.delete(made.id, {**made.outs})  # already gone: undeploy's 404 is fine, the delete is idempotent


def test_diff_only_on_what_is_served(fake):
    provider = vp.VertexDeploymentProvider()
    outs = {**PROPS, "model": "m", "deployed_model_id": "1"}
    assert not provider.diff("1", outs, dict(PROPS)).changes
    assert provider.diff("1", outs, {**PROPS, "max_replicas": 5}).changes
    assert provider.diff("1", outs, {**PROPS, "endpoint": ENDPOINT + "9"}).replaces == ["endpoint"]


def test_operation_that_never_finishes_is_a_clear_timeout(fake, monkeypatch):
    fake.never_done = True
    monkeypatch.setattr(vp, "OPERATION_TIMEOUT_S", 0.3)
    with pytest.raises(vp.VertexError, match=r"uploading the model did not finish within 0s \(operation projects/"):
        vp.VertexDeploymentProvider().create(dict(PROPS))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"accelerator_type": "NVIDIA_BOGUS_9000"}, "NVIDIA_BOGUS_9000"),
        ({"min_replicas": "two"}, "DedicatedResources"),
        ({"port": "http"}, "Port"),
        ({"autoscaling_targets": {REQUEST_COUNT: "many"}}, "AutoscalingMetricSpec"),
    ],
)
def test_aiplatform_types_reject_bad_requests_before_anything_is_created(fake, change, message):
    with pytest.raises(vp.VertexError, match="the Vertex AI request is not valid") as e:
        vp.VertexDeploymentProvider().create({**PROPS, **change})
    assert message in str(e.value)
    assert fake.calls == []


def test_aiplatform_types_reject_unknown_fields():
    from google.cloud import aiplatform_v1

    with pytest.raises(ValueError):
        aiplatform_v1.ModelContainerSpec(image_uri="x", bogus_field=1)


def test_scale_to_zero_uses_the_v1beta1_types(fake, monkeypatch):
    seen = {}
    original = fake.handle

    def spy(method, path, body):
        if path.endswith(":deployModel"):
            seen["path"], seen["body"] = path, body
        return original(method, path, body)

    monkeypatch.setattr(fake, "handle", spy)
    vp.VertexDeploymentProvider().create({**PROPS, "min_replicas": 0, "api": "v1beta1"})
    assert seen["path"].startswith("/v1beta1/")
    resources = seen["body"]["deployedModel"]["dedicatedResources"]
    assert "scaleToZeroSpec" in resources
    # v1beta1 DedicatedResources.initial_replica_count: "When min_replica_count = 0 ...
    # initial_replica_count should be larger than zero, but no greater than max_replica_count."
    # (https://cloud.google.com/vertex-ai/docs/reference/rest/v1beta1/DedicatedResources)
    assert 1 <= int(resources["initialReplicaCount"]) <= int(resources["maxReplicaCount"])
    with pytest.raises(ValueError, match="needs the v1beta1 API"):
        vp.build_deployed_model(vp.Inputs.of({**PROPS, "min_replicas": 0}), "m")  # v1 has no scale_to_zero_spec


def _leftover(fake, display_name="iris-prod", dep_id="77"):
    """What a run that timed out leaves: a model deployed on the endpoint that no state tracks."""
    model = "projects/p/locations/us-central1/models/55"
    fake.models[model] = {"displayName": display_name}
    fake.deployed[dep_id] = model
    fake.display_names[dep_id] = display_name
    fake.traffic = {dep_id: 100}
    return dep_id, model


def test_create_retires_what_an_earlier_timed_out_run_left_on_the_endpoint(fake):
    """A deploy that timed out leaves a deployed model no state tracks: the next create must not
    leave it serving beside the new one, billing its machines. Vertex's traffic split covers every
    deployed model (https://cloud.google.com/vertex-ai/docs/general/deployment#models-endpoint)."""
    _, old_model = _leftover(fake)
    made = vp.VertexDeploymentProvider().create(dict(PROPS))
    assert fake.deployed == {made.id: made.outs["model"]}
    assert fake.traffic == {made.id: 100}
    assert old_model not in fake.models
    order = [p.rsplit("/", 1)[-1].split(":")[-1] for m, p in fake.calls if m == "POST"]
    assert order.index("deployModel") < order.index("undeployModel")  # the new one serves first


def test_create_leaves_deployments_of_others_on_the_endpoint_alone(fake):
    other_id, other_model = _leftover(fake, display_name="someone-elses-model")
    made = vp.VertexDeploymentProvider().create(dict(PROPS))
    assert set(fake.deployed) == {other_id, made.id} and other_model in fake.models


def test_deploy_timeout_cancels_and_undeploys_what_landed(fake, monkeypatch):
    """A deploy that outlives mlfn's wait keeps going on Vertex: cancel it and undeploy what landed,
    or it serves (and bills GPUs) with no state tracking it."""
    fake.deploy_never_done = True
    monkeypatch.setattr(vp, "OPERATION_TIMEOUT_S", 0.5)
    with pytest.raises(vp.VertexError, match="did not finish within") as e:
        vp.VertexDeploymentProvider().create(dict(PROPS))
    assert fake.cancelled, "the deploy operation was not cancelled"
    assert fake.deployed == {} and fake.models == {}
    assert "nothing is left" in str(e.value)


def test_deploy_timeout_with_a_failing_undeploy_names_what_is_left(fake, monkeypatch):
    fake.deploy_never_done = True
    fake.fail_undeploy = True
    monkeypatch.setattr(vp, "OPERATION_TIMEOUT_S", 0.5)
    with pytest.raises(vp.VertexError) as e:
        vp.VertexDeploymentProvider().create(dict(PROPS))
    (dep_id,) = fake.deployed
    assert f"deployed model {dep_id}" in str(e.value) and "mlfn up again" in str(e.value)


def test_update_also_retires_what_an_earlier_timed_out_update_left(fake):
    provider = vp.VertexDeploymentProvider()
    old = provider.create(dict(PROPS))
    _leftover(fake, dep_id="88")
    fake.traffic = {old.id: 100}
    updated = provider.update(old.id, old.outs, {**PROPS, "machine_type": "g2-standard-8"})
    assert fake.deployed == {updated.outs["deployed_model_id"]: updated.outs["model"]}
    assert list(fake.models) == [updated.outs["model"]]


def test_the_model_carries_the_deploy_timeout_so_vertex_stops_too():
    model = vp.build_model(vp.Inputs.of({**PROPS, "timeout_s": 1800}))
    assert model.container_spec.deployment_timeout.total_seconds() == 1800
    assert vp.Inputs.of({**PROPS, "timeout_s": 1800}).timeout == 1800
