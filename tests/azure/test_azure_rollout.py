"""Azure deploys for real (#15): names that survive destroy and never collide, environments that
roll out, traffic that is set and kept, roles that exist before they are used, no registry admin
user, Container Apps' GPU regions, probes and URL, and the runtime's environment per target.

Each test rests on the documentation page its docstring names, or on the provider's own code."""

import json
import re

import httpx
import pytest
from helpers import example_project
from mlfn_azure import acr_token, traffic, wait

import mlfn
from mlfn.errors import CheckError
from mlfn.testing import change_project, planned_outputs

STACKS = ("azure-azureml", "azure-azureml-gpu", "azure-containerapps", "azure-containerapps-gpu")
ML = "azure-native:machinelearningservices:"
GLOBAL = {  # type -> the input that names it
    "azure-native:resources:ResourceGroup": "resourceGroupName",
    "azure-native:storage:StorageAccount": "accountName",
    "azure-native:keyvault:Vault": "vaultName",
    "azure-native:containerregistry:Registry": "registryName",
    f"{ML}Workspace": "workspaceName",
    f"{ML}OnlineEndpoint": "endpointName",
    "azure-native:app:ContainerApp": "containerAppName",
    "azure-native:app:ManagedEnvironment": "environmentName",
}


def project(tmp_path, stack_text=None, spec_edit=None):
    return example_project(tmp_path, STACKS, stack_text, spec_edit, stack_name="z")


def dynamic(plan, name: str) -> dict:
    return next(r.inputs for r in plan.find("pulumi-python:dynamic:Resource") if r.name == name)


@pytest.fixture
def random_hex(monkeypatch):
    """Plan as if pulumi-random had drawn ``value`` for the deployment's RandomId (a state folder's own)."""
    from mlfn.testing import answer_outputs

    drawn = {"hex": None}
    answer_outputs(monkeypatch, "random:index/randomId:RandomId",
                   lambda inputs: {"hex": drawn["hex"]} if drawn["hex"] else {})

    def use(value: str) -> None:
        drawn["hex"] = value

    return use


def global_names(plan) -> dict[str, str]:
    return {t: r.inputs[key] for t, key in GLOBAL.items() for r in plan.find(t)}


# ---------------------------------------------------------------- names in a global namespace
@pytest.mark.parametrize("stack", ["azure-azureml", "azure-containerapps"])
def test_two_state_folders_get_different_names_and_one_keeps_its_own(tmp_path, random_hex, stack):
    """Storage accounts, registries and key vaults are globally unique, Azure ML endpoints unique per
    region, and one resource group holds what a destroy deletes: two people deploying one project into
    one subscription from two state folders must share none of them. The suffix is a RandomId kept in
    state (learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules)."""
    p = project(tmp_path)
    random_hex("0a1b2c3d")
    first = global_names(mlfn.plan(p, stack=stack))
    again = global_names(mlfn.plan(p, stack=stack))
    random_hex("e4f5a6b7")
    second = global_names(mlfn.plan(p, stack=stack))
    assert first == again  # the same state: the same names, up after up
    assert first.keys() == second.keys() and len(first) >= 4
    for t in first:
        assert first[t] != second[t], t
        assert re.sub(r"[^a-z0-9]", "", first[t].lower()).endswith("0a1b2c3d"), (t, first[t])


def test_names_fit_the_rules_with_the_suffix(tmp_path, random_hex):
    from mlfn_azure.conventions import NAME_RULES

    from mlfn.names import is_valid

    random_hex("0a1b2c3d")
    long_stack = "cloud: azure\nlocation: eastus\ntarget: azureml\nscaling: {min: 1, max: 2}\n"
    p = project(tmp_path, long_stack)
    (p / "stacks" / "z.yaml").rename(p / "stacks" / "a-rather-long-production-stack-name.yaml")
    names = global_names(mlfn.plan(p, stack="a-rather-long-production-stack-name"))
    rules = {"azure-native:storage:StorageAccount": "azure_storage", "azure-native:keyvault:Vault": "azure_key_vault",
             "azure-native:containerregistry:Registry": "acr", f"{ML}Workspace": "azure_ml_workspace",
             f"{ML}OnlineEndpoint": "azure_ml_endpoint"}
    for t, rule in rules.items():
        assert is_valid(names[t], NAME_RULES[rule]), (t, names[t])


def test_key_vault_has_purge_protection_and_the_shortest_soft_delete(tmp_path):
    """The built-in policy "Key vaults should have deletion protection enabled" (policy 0b60c0b2-2dc2-
    4e1c-b5c9-abbed971de53, learn.microsoft.com/azure/key-vault/policy-reference) denies a vault without
    purge protection in governed subscriptions, so it is on. Its cost: a destroyed vault stays
    soft-deleted, unpurgeable, for its retention (7-90 days, 90 by default:
    learn.microsoft.com/azure/key-vault/general/soft-delete-overview), so mlfn asks for the least; its
    name carries the suffix kept in state, so it never blocks the next up."""
    plan = mlfn.plan(project(tmp_path), stack="azure-azureml")
    props = plan.one("azure-native:keyvault:Vault").inputs["properties"]
    assert props["softDeleteRetentionInDays"] == 7
    assert props["enablePurgeProtection"] is True


# ---------------------------------------------------------------- environments that roll out
def versions(plan) -> tuple[str, str]:
    env = plan.one(f"{ML}EnvironmentVersion")
    model = plan.one(f"{ML}ModelVersion")
    return env.inputs["version"], model.inputs["version"]


def test_environment_version_follows_the_image_not_the_model(tmp_path):
    """Environment versions are immutable (learn.microsoft.com/azure/machine-learning/
    concept-environments: "environments are versioned and immutable"): a changed requirements.txt is a
    new image, so a new environment version that the deployment then references."""
    p = project(tmp_path)
    env1, model1 = versions(mlfn.plan(p, stack="azure-azureml"))
    change_project(p, "model")
    env2, model2 = versions(mlfn.plan(p, stack="azure-azureml"))
    assert env2 == env1 and model2 != model1
    change_project(p, "requirements")
    plan = mlfn.plan(p, stack="azure-azureml")
    env3, model3 = versions(plan)
    assert env3 != env2 and model3 == model2
    dep = plan.one(f"{ML}OnlineDeployment").inputs["properties"]
    assert dep["environmentId"] == f"iris-environment-{env3}-id"


def test_container_app_runs_the_image_by_its_content(tmp_path):
    """A new revision is created when the template changes (learn.microsoft.com/azure/container-apps/
    revisions#revision-scope-changes): the image reference names what it was built from."""
    p = project(tmp_path)
    image = lambda: mlfn.plan(p, stack="azure-containerapps").one(  # noqa: E731
        "azure-native:app:ContainerApp").inputs["template"]["containers"][0]["image"]
    v1 = image()
    assert re.fullmatch(r"iris-registry\.loginServer/iris:[0-9a-f]{16}", v1)
    change_project(p, "model")
    assert image() != v1


# ---------------------------------------------------------------- traffic that is set and kept
ENDPOINT = ("/subscriptions/s/resourceGroups/g/providers/Microsoft.MachineLearningServices/workspaces/w/"
            "onlineEndpoints/e")


@pytest.fixture
def arm(monkeypatch):
    """Azure Resource Manager as it answers: PATCH takes only identity, kind, sku and tags
    (learn.microsoft.com/rest/api/azureml/online-endpoints/update: PartialMinimalTrackedResourceWithIdentity),
    so a body with properties is a 400; PUT starts a long-running operation (201 with
    Azure-AsyncOperation) that is InProgress, then Succeeded (learn.microsoft.com/azure/
    azure-resource-manager/management/async-operations)."""
    state = {"endpoint": {"id": ENDPOINT, "name": "e", "type": "Microsoft.MachineLearningServices/workspaces/"
                          "onlineEndpoints", "location": "eastus", "identity": {"type": "SystemAssigned"},
                          "tags": {"mlfn:deployment": "iris"},
                          "properties": {"authMode": "AADToken", "traffic": {}, "provisioningState": "Succeeded"}},
             "polls": 0, "outcome": "Succeeded", "calls": []}

    def handler(request: httpx.Request) -> httpx.Response:
        state["calls"].append(request)
        if request.url.path.endswith("/operationResults/op2"):
            state["polls"] += 1
            return httpx.Response(202, headers={"retry-after": "1"}) if state["polls"] < 2 else httpx.Response(204)
        if request.url.path.endswith("/operations/op1"):
            state["polls"] += 1
            return httpx.Response(200, json={"status": "InProgress" if state["polls"] < 2 else state["outcome"]})
        if request.url.path != ENDPOINT:
            return httpx.Response(404, json={"error": {"code": "ResourceNotFound"}})
        if request.method == "GET":
            return httpx.Response(200, json=state["endpoint"])
        if request.method == "PATCH":
            body = json.loads(request.content)
            if set(body) - {"identity", "kind", "sku", "tags"}:
                return httpx.Response(400, json={"error": {"code": "BadRequest", "message": "properties"}})
            return httpx.Response(202)
        if request.method == "PUT":
            body = json.loads(request.content)
            state["endpoint"]["properties"]["traffic"] = body["properties"]["traffic"]
            if state.get("location"):
                return httpx.Response(202, headers={"retry-after": "1", "location":
                                                    "https://management.azure.com/subscriptions/s/operationResults/op2"})
            return httpx.Response(201, json=body, headers={
                "azure-asyncoperation": "https://management.azure.com/subscriptions/s/operations/op1",
                "retry-after": "1"})
        return httpx.Response(405)

    monkeypatch.setattr(traffic, "_token", lambda: "arm-token")
    monkeypatch.setattr(traffic, "sleep", lambda s: None)
    monkeypatch.setattr(traffic, "http_client", lambda: httpx.Client(transport=httpx.MockTransport(handler)))
    return state


def test_traffic_is_put_with_the_endpoint_and_the_operation_is_awaited(arm):
    p = traffic.TrafficProvider()
    created = p.create({"endpoint_id": ENDPOINT, "traffic": {"blue": 100}})
    assert created.id == ENDPOINT + "/traffic"
    methods = [(r.method, r.url.path.rsplit("/", 1)[-1]) for r in arm["calls"]]
    assert methods == [("GET", "e"), ("PUT", "e"), ("GET", "op1"), ("GET", "op1")]
    put = json.loads(arm["calls"][1].content)
    assert put["properties"]["traffic"] == {"blue": 100} and put["properties"]["authMode"] == "AADToken"
    assert put["identity"] == {"type": "SystemAssigned"} and put["location"] == "eastus" and "id" not in put
    assert arm["calls"][1].headers["authorization"] == "Bearer arm-token"
    assert arm["endpoint"]["properties"]["traffic"] == {"blue": 100}


def test_traffic_is_cleared_on_delete_and_a_gone_endpoint_is_fine(arm):
    traffic.TrafficProvider().delete("x", {"endpoint_id": ENDPOINT, "traffic": {"blue": 100}})
    assert arm["endpoint"]["properties"]["traffic"] == {}
    traffic.TrafficProvider().delete("x", {"endpoint_id": ENDPOINT + "-gone", "traffic": {"blue": 100}})


def test_an_operation_polled_by_location_ends_with_204(arm, monkeypatch):
    """Without Azure-AsyncOperation the Location URL is polled: 202 while the operation runs, then
    200 or 204 once it succeeded (learn.microsoft.com/azure/azure-resource-manager/management/
    async-operations: "When the operation successfully completes, it returns either 200 (OK) or
    204 (No Content)"; "Location - URL for determining when an operation has completed")."""
    arm["location"] = True
    clock = iter(range(0, 10**6, 60))
    monkeypatch.setattr(traffic.time, "monotonic", lambda: next(clock))  # a loop would hit the deadline
    traffic.set_traffic(ENDPOINT, {"blue": 100})
    methods = [(r.method, r.url.path.rsplit("/", 1)[-1]) for r in arm["calls"]]
    assert methods == [("GET", "e"), ("PUT", "e"), ("GET", "op2"), ("GET", "op2")]


def test_a_failed_traffic_operation_says_so(arm):
    arm["outcome"] = "Failed"
    with pytest.raises(traffic.TrafficError, match="ended Failed"):
        traffic.set_traffic(ENDPOINT, {"blue": 100})


def test_a_tag_change_updates_the_traffic_after_the_endpoint(tmp_path):
    """pulumi-azure-native 3.x has OnlineEndpointPropertiesArgs.traffic, but the endpoint is created
    before its deployment and its traffic can name only a deployment that exists, so mlfn leaves the
    input out; a tag change then PUTs the endpoint without traffic, so the traffic resource carries
    the endpoint's tags and is updated right after it."""
    from pulumi_azure_native.machinelearningservices import OnlineEndpointPropertiesArgs

    assert "traffic" in OnlineEndpointPropertiesArgs.__init__.__code__.co_varnames
    p = project(tmp_path)
    v1 = dynamic(mlfn.plan(p, stack="azure-azureml"), "iris-traffic")
    change_project(p, "tag")
    v2 = dynamic(mlfn.plan(p, stack="azure-azureml"), "iris-traffic")
    assert v2["traffic"] == v1["traffic"] and list(v2["traffic"].values()) == [100] and v2["tags"] != v1["tags"]
    assert traffic.TrafficProvider().diff("x", v1, v2).changes
    endpoint = mlfn.plan(p, stack="azure-azureml").one(f"{ML}OnlineEndpoint").inputs["properties"]
    assert "traffic" not in endpoint  # never names a deployment before it exists


# ---------------------------------------------------------------- model path and roles
def test_model_is_registered_from_the_default_datastore(tmp_path):
    """Models are registered from a datastore URI (learn.microsoft.com/azure/machine-learning/
    how-to-manage-models#supported-paths), not a raw blob URL; the default datastore
    workspaceblobstore is the container azureml-blobstore-<workspace id>. The REST API gets the long
    form: azure-ai-ml expands azureml://datastores/<ds>/paths/<p> to azureml://subscriptions/<sub>/
    resourcegroups/<rg>/workspaces/<ws>/datastores/<ds>/paths/<p> before it calls REST
    (Azure/azure-sdk-for-python sdk/ml/azure-ai-ml azure/ai/ml/_utils/utils.py
    resolve_short_datastore_url, and _storage_utils.py LONG_URI_FORMAT)."""
    stack = (f"cloud: azure\ntarget: azureml\nlocation: eastus\nsubscription: {SUB}\nresource_group: ml-rg\n"
             "workspace: shared-ws\nscaling: {min: 1, max: 2}\n")
    plan = mlfn.plan(project(tmp_path, stack), stack="z")
    model = plan.one(f"{ML}ModelVersion").inputs["properties"]
    assert re.fullmatch(f"azureml://subscriptions/{SUB}/resourcegroups/ml-rg/workspaces/shared-ws/datastores/"
                        "workspaceblobstore/paths/mlfn/iris-z/model-[0-9a-f]{16}", model["modelUri"]), model["modelUri"]
    containers = {b.inputs["containerName"] for b in plan.find("azure-native:storage:Blob")}
    assert containers == {"azureml-blobstore-00000000-0000-0000-0000-000000000005"}
    prefix = model["modelUri"].split("/paths/", 1)[1]
    assert all(b.inputs["blobName"].startswith(prefix + "/") for b in plan.find("azure-native:storage:Blob"))
    own = mlfn.plan(project(tmp_path / "own"), stack="azure-azureml").one(f"{ML}ModelVersion").inputs["properties"]
    assert own["modelUri"].startswith("azureml://subscriptions/00000000-0000-0000-0000-000000000003/resourcegroups/"
                                      "iris-resource-group.name/workspaces/iris-workspace.name/datastores/"
                                      "workspaceblobstore/paths/mlfn/iris-azure-azureml/model-")


def test_no_grant_azure_makes_itself_and_a_wait_after_the_grants_mlfn_makes(tmp_path):
    """A system-assigned endpoint identity gets AcrPull on the workspace's registry and Storage Blob Data
    Reader on its default datastore from Azure (learn.microsoft.com/azure/machine-learning/
    concept-endpoints-online-auth#automatic-role-assignment-for-endpoint-identity): mlfn makes its
    registry the workspace's and grants nothing. Grants it must make (an existing workspace; Container
    Apps' identity) are followed by a wait before the first pull (role assignments take up to 10
    minutes: learn.microsoft.com/azure/role-based-access-control/troubleshooting)."""
    plan = mlfn.plan(project(tmp_path), stack="azure-azureml")
    assert plan.find("azure-native:authorization:RoleAssignment") == []
    assert plan.one(f"{ML}Workspace").inputs["containerRegistry"] == "iris-registry-id"
    existing = "cloud: azure\nlocation: eastus\ntarget: azureml\nresource_group: ml-rg\nworkspace: shared-ws\n" \
               "scaling: {min: 1, max: 2}\n"
    plan = mlfn.plan(project(tmp_path / "b", existing), stack="z")
    [grant] = plan.find("azure-native:authorization:RoleAssignment")
    assert grant.inputs["roleDefinitionId"].endswith("7f951dda-4ed3-4680-a7ca-43fe172d538d")
    assert dynamic(plan, "iris-registry-pull-propagated") == {"seconds": 120, "after": ["iris-registry-pull-id"]}
    plan = mlfn.plan(project(tmp_path / "c"), stack="azure-containerapps")
    assert dynamic(plan, "iris-registry-pull-propagated")["after"] == ["iris-registry-pull-id"]


def test_wait_runs_again_only_when_its_grants_change(monkeypatch):
    slept = []
    monkeypatch.setattr(wait, "sleep", slept.append)
    p = wait.WaitProvider()
    p.create({"seconds": 120, "after": ["g1"]})
    assert slept == [120]
    assert not p.diff("w", {"seconds": 120, "after": ["g1"]}, {"seconds": 120, "after": ["g1"]}).changes
    assert p.diff("w", {"seconds": 120, "after": ["g1"]}, {"seconds": 120, "after": ["g2"]}).changes


# ---------------------------------------------------------------- registry: no admin user
def test_registry_has_no_admin_user_and_the_push_uses_an_entra_token(tmp_path):
    """The admin user is a static credential, refused by the built-in policy "Container registries
    should have local admin account disabled" (learn.microsoft.com/azure/container-registry/
    container-registry-authentication#admin-account); the push logs in with an Entra ID token
    exchanged for an ACR refresh token (user 00000000-0000-0000-0000-000000000000)."""
    for stack in ("azure-azureml", "azure-containerapps"):
        plan = mlfn.plan(project(tmp_path / stack), stack=stack)
        assert plan.one("azure-native:containerregistry:Registry").inputs["adminUserEnabled"] is False
        [login] = plan.one("docker-build:index:Image").inputs["registries"]
        assert login["username"] == "00000000-0000-0000-0000-000000000000"
        assert dynamic(plan, "iris-registry-token")["login_server"] == "iris-registry.loginServer"


def test_registry_token_exchange_and_refresh(monkeypatch):
    import base64
    import time

    seen = []
    exp = int(time.time()) + 3 * 3600
    token = "h." + base64.urlsafe_b64encode(json.dumps({"exp": exp}).encode()).decode().rstrip("=") + ".s"

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"refresh_token": token})

    monkeypatch.setattr(acr_token, "_aad_token", lambda: "aad")
    monkeypatch.setattr(acr_token, "http_client", lambda: httpx.Client(transport=httpx.MockTransport(handler)))
    p = acr_token.AcrTokenProvider()
    outs = p.create({"login_server": "r.azurecr.io"}).outs
    assert outs["refresh_token"] == token and outs["expires_at"] == exp
    form = dict(x.split("=") for x in seen[0].content.decode().split("&"))
    assert seen[0].url == "https://r.azurecr.io/oauth2/exchange"
    assert form == {"grant_type": "access_token", "service": "r.azurecr.io", "access_token": "aad"}
    assert not p.diff("t", outs, {"login_server": "r.azurecr.io"}).changes  # still fresh: nothing to do
    assert p.diff("t", {**outs, "expires_at": time.time() + 60}, {"login_server": "r.azurecr.io"}).changes


# ---------------------------------------------------------------- Container Apps: regions, probes, URL
@pytest.mark.parametrize(("location", "gpu", "ok"), [("westus3", "t4", True), ("eastus", "t4", False),
                                                     ("westus", "t4", False), ("westus", "a100", True),
                                                     ("westeurope", "a100", False)])
def test_container_apps_gpu_regions(tmp_path, location, gpu, ok):
    """Serverless GPUs exist in few regions, per GPU type (learn.microsoft.com/azure/container-apps/
    gpu-serverless-overview#supported-regions)."""
    memory = "56Gi" if gpu == "t4" else "220Gi"
    cpu = 8 if gpu == "t4" else 24
    stack = f"cloud: azure\ntarget: containerapps\nlocation: {location}\ncompute: {{cpu: {cpu}, memory: {memory}, " \
            f"gpu: {{type: {gpu}}}}}\n"
    if ok:
        v = mlfn.validate(project(tmp_path, stack), stack="z")
        assert any("GPU quota" in n for n in v.notes)
    else:
        with pytest.raises(CheckError, match=f"no serverless {gpu.upper()} GPUs in {location}: set location to one of"):
            mlfn.validate(project(tmp_path, stack), stack="z")


def test_gpu_startup_probe_gives_a_big_model_time_to_load(tmp_path):
    """Container Apps allows a startup probe up to 60 s of initial delay and 240 s periods, 10 failures
    (learn.microsoft.com/azure/container-apps/health-probes#restrictions): a GPU model gets minutes."""
    from mlfn_azure import rules

    plan = mlfn.plan(project(tmp_path), stack="azure-containerapps-gpu")
    probes = plan.one("azure-native:app:ContainerApp").inputs["template"]["containers"][0]["probes"]
    startup = next(p for p in probes if p["type"] == "Startup")
    allowed = startup["initialDelaySeconds"] + startup["periodSeconds"] * startup["failureThreshold"]
    assert allowed >= 600 and startup["initialDelaySeconds"] <= 60
    bad = {"template": {"scale": {"min_replicas": 0, "max_replicas": 1}, "containers": [{"probes": [
        {"type": "Startup", "initial_delay_seconds": 90}]}]}, "configuration": {"ingress": {"target_port": 8080}},
        "workload_profile_name": "Consumption"}
    assert "probe initial_delay_seconds must be 1-60" in rules.container_app_problems(
        bad, [{"name": "Consumption", "workload_profile_type": "Consumption"}])


def test_container_app_url_is_the_apps_not_a_revisions(tmp_path, random_hex):
    """Each revision has its own FQDN; the app's ingress FQDN (<app>.<environment domain>, internal:
    <app>.internal.<domain>) stays across revisions (learn.microsoft.com/azure/container-apps/
    ingress-overview#domain-names)."""
    from mlfn.project import load_project

    random_hex("0a1b2c3d")
    url = planned_outputs(load_project(project(tmp_path), stack="azure-containerapps"))["url"]
    assert "latestRevisionFqdn" not in url
    assert re.fullmatch(r"https://iris-azure-conta[-0-9a-f]*-0a1b2c3d\.internal\.iris-environment\.defaultDomain", url)


# ---------------------------------------------------------------- autoscale
def test_autoscale_owns_the_count_and_gpus_scale_on_the_gpu(tmp_path, monkeypatch):
    """Azure Monitor autoscale sets the deployment's instance count (learn.microsoft.com/azure/
    machine-learning/how-to-autoscale-endpoints): mlfn sets it only on create and never resets it;
    GPU deployments scale on GpuUtilizationPercentage, CPU ones on CpuUtilizationPercentage."""
    from pulumi_azure_native import machinelearningservices as ml

    seen = {}
    original = ml.OnlineDeployment

    class Spy(original):
        def __init__(self, name, *args, opts=None, **kwargs):
            seen["ignore_changes"] = opts.ignore_changes if opts else None
            super().__init__(name, *args, opts=opts, **kwargs)

    monkeypatch.setattr(ml, "OnlineDeployment", Spy)
    for stack, metric in (("azure-azureml-gpu", "GpuUtilizationPercentage"),
                          ("azure-azureml", "CpuUtilizationPercentage")):
        plan = mlfn.plan(project(tmp_path / stack), stack=stack)
        rules = plan.one("azure-native:monitor:AutoscaleSetting").inputs["profiles"][0]["rules"]
        assert {r["metricTrigger"]["metricName"] for r in rules} == {metric}
        assert seen["ignore_changes"] == ["sku"]


def test_a_new_model_resends_the_count_autoscale_set_not_the_first_one(tmp_path, monkeypatch):
    """A new model updates the OnlineDeployment, and pulumi-azure-native PUTs the whole resource,
    sku included. ignoreChanges makes Pulumi send the sku *from the state* (pulumi.com/docs/iac/
    concepts/options/ignorechanges: "Skipping the refresh step leaves stale values in the state,
    and Pulumi will continue to send those stale values"). The Azure ML REST spec makes sku optional
    ("Sku details required for ARM contract for Autoscaling") and does not say what a PUT without it
    does, so mlfn keeps sending it: the deployment ignores sku, and the azureml target asks the engine
    to refresh the deployment before an up, whose Read stores the live sku in the state's inputs
    (pulumi/pulumi-azure-native#280, "Make Refresh update resource inputs"). Container Apps sends
    only min/max replicas, never a count, so it asks for nothing."""
    from mlfn_azure import AzureAdapter
    from pulumi_azure_native import machinelearningservices as ml

    seen: list = []
    original = ml.OnlineDeployment

    class Spy(original):
        def __init__(self, name, *args, opts=None, **kwargs):
            seen.append(opts.ignore_changes if opts else None)
            super().__init__(name, *args, opts=opts, **kwargs)

    monkeypatch.setattr(ml, "OnlineDeployment", Spy)
    for stack in ("azure-azureml", "azure-azureml-gpu"):
        p = project(tmp_path / stack)
        v1 = mlfn.plan(p, stack=stack).one(f"{ML}OnlineDeployment").inputs
        change_project(p, "model")
        v2 = mlfn.plan(p, stack=stack).one(f"{ML}OnlineDeployment").inputs
        assert v1["properties"]["model"] != v2["properties"]["model"]  # an update: the whole body is PUT
    assert seen == [["sku"]] * 4
    adapter = AzureAdapter()
    assert adapter.target("azureml").refreshed_before_update == (f"{ML}OnlineDeployment",)
    assert adapter.target("containerapps").refreshed_before_update == ()
    scale = mlfn.plan(project(tmp_path / "apps"), stack="azure-containerapps").one(
        "azure-native:app:ContainerApp").inputs["template"]["scale"]
    assert set(scale) <= {"minReplicas", "maxReplicas", "rules", "cooldownPeriod", "pollingInterval"}


def test_the_engine_refreshes_the_deployment_and_nothing_else(tmp_path):
    """What the engine picks from an azureml stack's state to refresh before an up: the
    OnlineDeployment autoscale resizes, not the AutoscaleSetting, endpoint or blobs mlfn owns."""
    from types import SimpleNamespace

    from mlfn.engine.pulumi_engine import _controller_owned
    from mlfn.project import load_project

    urn = "urn:pulumi:z-azure::iris::mlfn:index:Deployment${}::iris-{}".format
    state = [{"type": f"{ML}OnlineDeployment", "urn": urn(f"{ML}OnlineDeployment", "deployment")},
             {"type": f"{ML}OnlineEndpoint", "urn": urn(f"{ML}OnlineEndpoint", "endpoint")},
             {"type": "azure-native:monitor:AutoscaleSetting", "urn": urn("azure-native:monitor:AutoscaleSetting",
                                                                        "autoscale")},
             {"type": f"{ML}OnlineDeployment", "urn": urn(f"{ML}OnlineDeployment", "old"), "delete": True}]
    stack = SimpleNamespace(export_stack=lambda: SimpleNamespace(deployment={"resources": state}))
    p = project(tmp_path)
    assert _controller_owned(stack, load_project(p, stack="azure-azureml")) == [urn(f"{ML}OnlineDeployment",
                                                                                    "deployment")]
    assert _controller_owned(stack, load_project(p, stack="azure-containerapps")) == []


# ---------------------------------------------------------------- the runtime's environment
def test_runtime_environment_per_target(tmp_path):
    """Workers from compute.cpu (one per GPU); a drain time below the kill deadline: Container Apps gives
    terminationGracePeriodSeconds (30 s by default, set explicitly, at most 600 s) after SIGTERM
    (learn.microsoft.com/azure/container-apps/application-lifecycle-management#shutdown;
    azureossd.github.io/2024/05/27/Graceful-termination-on-Container-Apps); Azure ML documents no
    deadline, so the runtime drains for less than Kubernetes' default 30 s.

    Body limits: neither target documents one today (Azure ML's quotas page lists a 180 s timeout and
    5 MBPS per endpoint, its troubleshooting page no 413; Container Apps' ingress page the 240 s
    timeout). The one figure Azure ever published, "413 ... larger than 1.5 megabytes" (Azure ML's
    2021 preview troubleshooting page), is a floor: the runtime must never refuse what the platform
    accepts, so its limit is the runtime default and at least that."""
    from mlfn_azure import azureml, containerapps
    from mlfn_runtime import contract as c

    p = project(tmp_path, spec_edit=lambda t: t.replace("cpu: 1\n", "cpu: 2\n"))
    app = mlfn.plan(p, stack="azure-containerapps").one("azure-native:app:ContainerApp").inputs
    env = {e["name"]: e.get("value") for e in app["template"]["containers"][0]["env"]}
    grace = app["template"]["terminationGracePeriodSeconds"]
    assert env[c.WORKERS] == "2" and int(env["MLFN_GRACEFUL_SECONDS"]) < grace == 30
    assert grace <= containerapps.MAX_TERMINATION_GRACE_S == 600
    gpu = mlfn.plan(p, stack="azure-azureml-gpu").one(f"{ML}OnlineDeployment").inputs["properties"]
    gpu_env = gpu["environmentVariables"]
    assert gpu_env[c.WORKERS] == "1" and int(gpu_env["MLFN_GRACEFUL_SECONDS"]) < 30
    for limit in (env[c.MAX_BODY_BYTES], gpu_env[c.MAX_BODY_BYTES]):
        assert int(limit) == c.DEFAULT_MAX_BODY_BYTES >= 1_500_000
    assert azureml.MAX_BODY_BYTES == containerapps.MAX_BODY_BYTES == c.DEFAULT_MAX_BODY_BYTES


# ---------------------------------------------------------------- the stack's subscription
SUB = "11111111-2222-3333-4444-555555555555"


@pytest.mark.parametrize("target", ["azureml", "containerapps"])
def test_every_azure_resource_lands_in_the_stacks_subscription(tmp_path, target):
    """The stack's ``subscription:`` is the provider's: an explicit azure-native provider with that
    subscriptionId (pulumi.com/registry/packages/azure-native/installation-configuration: "subscriptionId
    ... The Subscription ID which should be used", default ARM_SUBSCRIPTION_ID or the az CLI's
    default) serves every azure-native resource of the deployment, so a stack never lands in whatever
    subscription the CLI happens to have selected."""
    p = project(tmp_path, f"cloud: azure\ntarget: {target}\nlocation: eastus\nsubscription: {SUB}\n"
                          "scaling: {min: 1, max: 3}\n")
    plan = mlfn.plan(p, stack="z")
    providers = plan.find("pulumi:providers:azure-native")
    assert [r.inputs.get("subscriptionId") for r in providers] == [SUB]
    azure = [r for r in plan.resources if r.type.startswith("azure-native:")]
    assert len(azure) > 5
    assert {r.provider for r in azure} == {providers[0].name}, [r.name for r in azure if r.provider is None]


# ---------------------------------------------------------------- durations as Azure writes them back
@pytest.mark.parametrize(("given", "sent"), [("PT60S", "PT1M"), ("PT90S", "PT1M30S"), ("PT2M", "PT2M"),
                                             ("PT180S", "PT3M"), ("PT1.5S", "PT1.5S")])
def test_durations_are_sent_the_way_azure_reads_them_back(tmp_path, given, sent):
    """Azure ML reads durations back normalised (a request timeout sent as PT60S comes back PT1M:
    pulumi-azure-native issues #3220/#2798 report such read-backs as diffs), so a refreshed
    OnlineDeployment would differ from its program on every up. mlfn sends the normal form."""
    stack = (f"cloud: azure\ntarget: azureml\nlocation: eastus\nscaling: {{min: 1, max: 2}}\n"
             f"overrides: {{azure: {{request_timeout: {given}}}}}\n")
    plan = mlfn.plan(project(tmp_path, stack), stack="z")
    props = plan.one(f"{ML}OnlineDeployment").inputs["properties"]
    assert props["requestSettings"]["requestTimeout"] == sent
    assert props["livenessProbe"]["initialDelay"] == "PT10S" and props["livenessProbe"]["timeout"] == "PT2S"


# ---------------------------------------------------------------- a compute change is a new deployment
def test_a_compute_change_is_a_new_deployment_traffic_moves_then_the_old_one_goes(tmp_path):
    """A managed online deployment's instance type cannot be changed by an update: "today deployment
    update can't change instance type. The recommended behavior is ... deploy a new deployment, move
    traffic there, and delete the old one" (Azure ML team, Azure/AML-Kubernetes#247). So the deployment
    is named from its instance type (3-32 characters, a letter first: how-to-manage-quotas), a new
    type is a new name, which Pulumi replaces create-before-delete: the new deployment is created,
    its dependents (the traffic, the autoscale setting) are updated, and only then is the old one
    deleted (pulumi.com/docs/iac/concepts/options/deletebeforereplace: the default creates the
    replacement first). An autoscale setting's target cannot change ("TargetResourceIdIsImmutable"),
    so it is named from the deployment too and replaced with it."""
    from mlfn_azure.rules import ENDPOINT_NAME

    def plan_of(stack_text):
        p = project(tmp_path / str(len(list(tmp_path.iterdir()))), stack_text)
        return mlfn.plan(p, stack="z")

    base = "cloud: azure\ntarget: azureml\nlocation: eastus\nscaling: {min: 1, max: 2}\n"
    v1 = plan_of(base + "overrides: {azure: {instance_type: Standard_DS3_v2}}\n")
    v2 = plan_of(base + "overrides: {azure: {instance_type: Standard_F4s_v2}}\n")
    d1, d2 = (p.one(f"{ML}OnlineDeployment").inputs["deploymentName"] for p in (v1, v2))
    assert d1 != d2 and ENDPOINT_NAME.match(d1) and ENDPOINT_NAME.match(d2)
    assert dynamic(v1, "iris-traffic")["traffic"] == {d1: 100} and dynamic(v2, "iris-traffic")["traffic"] == {d2: 100}
    a1, a2 = (p.one("azure-native:monitor:AutoscaleSetting").inputs["autoscaleSettingName"] for p in (v1, v2))
    assert a1 != a2
    same = plan_of(base + "overrides: {azure: {instance_type: Standard_DS3_v2}}\n")
    assert same.one(f"{ML}OnlineDeployment").inputs["deploymentName"] == d1


# ---------------------------------------------------------------- two stacks in one existing workspace
def test_two_stacks_in_one_workspace_share_no_model_or_environment(tmp_path, random_hex):
    """Models and environments are named per workspace (learn.microsoft.com/azure/machine-learning/
    concept-azure-machine-learning-v2: assets are versioned by name in the workspace): two stacks in
    one existing ``workspace:`` must not register into, or on destroy delete, each other's. Their
    names carry the stack's suffix, as every other name does."""
    stack = ("cloud: azure\ntarget: azureml\nlocation: eastus\nresource_group: ml-rg\nworkspace: shared-ws\n"
             "scaling: {min: 1, max: 2}\n")
    p = project(tmp_path, stack)

    def assets(hex_):
        random_hex(hex_)
        plan = mlfn.plan(p, stack="z")
        container = plan.one(f"{ML}ModelContainer").inputs["name"]
        model = plan.one(f"{ML}ModelVersion").inputs["name"]
        env = plan.one(f"{ML}EnvironmentVersion").inputs["name"]
        return container, model, env

    first, second = assets("0a1b2c3d"), assets("e4f5a6b7")
    assert first == ("iris-0a1b2c3d", "iris-0a1b2c3d", "iris-runtime-0a1b2c3d")
    assert second == ("iris-e4f5a6b7", "iris-e4f5a6b7", "iris-runtime-e4f5a6b7")


# ---------------------------------------------------------------- Application Insights in a workspace mlfn owns
def test_application_insights_is_workspace_based_in_mlfns_resource_group(tmp_path):
    """Classic Application Insights was retired on 29 February 2024 and newer regions cannot create
    it (learn.microsoft.com/azure/azure-monitor/app/create-new-resource): a component is linked to a
    Log Analytics workspace (WorkspaceResourceId, learn.microsoft.com/azure/azure-monitor/app/
    convert-classic-resource). mlfn creates that workspace in its own resource group, so nothing is
    left behind in a default one when the stack is destroyed."""
    plan = mlfn.plan(project(tmp_path), stack="azure-azureml")
    logs = plan.one("azure-native:operationalinsights:Workspace")
    insights = plan.one("azure-native:applicationinsights:Component").inputs
    assert insights["workspaceResourceId"] == f"{logs.name}-id"  # the plan's placeholder for logs.id
    assert insights["ingestionMode"] == "LogAnalytics"
    group = plan.one("azure-native:resources:ResourceGroup")
    assert logs.inputs["resourceGroupName"] == insights["resourceGroupName"] == f"{group.name}.name"
    assert logs.inputs["sku"] == {"name": "PerGB2018"} and logs.inputs["retentionInDays"] == 30


# ---------------------------------------------------------------- a GPU profile comes with a new environment
def test_a_gpu_change_is_a_new_environment_and_app(tmp_path):
    """"You can only apply a GPU workload profile to an environment as the environment is created"
    (learn.microsoft.com/azure/container-apps/workload-profiles-overview), so CPU -> T4 -> A100 must
    each be a new environment, and the app (which cannot move environments) a new app: their names
    carry the GPU, and Pulumi replaces them create-before-delete. A CPU stack keeps its names."""
    def names_of(compute, hex_="0a1b2c3d"):
        stack = f"cloud: azure\ntarget: containerapps\nlocation: westus3\n{compute}"
        plan = mlfn.plan(project(tmp_path / str(len(list(tmp_path.iterdir()))), stack), stack="z")
        env = plan.one("azure-native:app:ManagedEnvironment").inputs["environmentName"]
        app = plan.one("azure-native:app:ContainerApp").inputs["containerAppName"]
        return env, app

    cpu = names_of("")
    t4 = names_of("compute: {cpu: 8, memory: 56Gi, gpu: {type: t4, count: 1}}\n")
    a100 = names_of("compute: {cpu: 24, memory: 220Gi, gpu: {type: a100, count: 1}}\n")
    assert cpu == ("iris-z-env-uffixhex", "iris-z-uffixhex")
    assert len({cpu[0], t4[0], a100[0]}) == 3 and len({cpu[1], t4[1], a100[1]}) == 3
    assert "t4" in t4[0] and "a100" in a100[0]
