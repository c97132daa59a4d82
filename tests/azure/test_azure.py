"""The Azure adapter, proven without an account: plans, pulumi-azure-native's typed args and enums,
ISO-8601 durations and Azure's documented rules, each rule with a bad value; traffic, auth, logs."""

import copy
import re

import httpx
import pytest
from helpers import example_project, normalized
from mlfn_azure import rules
from mlfn_azure.conventions import TAG_STYLE
from pulumi_azure_native.app import _inputs as app_inputs
from pulumi_azure_native.machinelearningservices import _enums as ml_enums
from pulumi_azure_native.machinelearningservices import _inputs as ml_inputs

import mlfn
from mlfn.errors import CheckError, StackError
from mlfn.spec import load_spec
from mlfn.testing import assert_tagged, unknown_args

STACKS = ("azure-azureml", "azure-azureml-gpu", "azure-containerapps", "azure-containerapps-gpu")
BASE = "cloud: azure\nlocation: eastus\n"


def golden_text(plan) -> str:
    """The plan as golden text: image tags and the environment version derived from them are digests of
    the runtime's own source, so golden plans do not pin them."""
    text = normalized(plan.to_json())
    return re.sub(r'(environment-|"version": ")1\d{14}', r"\1<image>", text)


def project_with(tmp_path, stack_text=None, spec_edit=None):
    return example_project(tmp_path, STACKS, stack_text, spec_edit, stack_name="z")



def _snake(d):
    if isinstance(d, dict):
        return {re.sub(r"(?<!^)(?=[A-Z])", "_", k).lower() if not k[0].isupper() else k: _snake(v)
                for k, v in d.items()}
    if isinstance(d, list):
        return [_snake(v) for v in d]
    return d


def typed_problems(plan) -> list[str]:
    """Every planned Azure ML deployment and Container App against the provider's typed args."""
    out = []
    for r in plan.find("azure-native:machinelearningservices:OnlineDeployment"):
        out += unknown_args(ml_inputs, "ManagedOnlineDeploymentArgs", r.inputs["properties"], "deployment")
    for r in plan.find("azure-native:app:ContainerApp"):
        out += unknown_args(app_inputs, "ConfigurationArgs", r.inputs["configuration"], "configuration")
        out += unknown_args(app_inputs, "TemplateArgs", r.inputs["template"], "template")
    return out


def enum_problems(plan) -> list[str]:
    """Enum-typed inputs against pulumi-azure-native's enums."""
    out = []
    allowed = {
        "authMode": {e.value for e in ml_enums.EndpointAuthMode},
        "endpointComputeType": {e.value for e in ml_enums.EndpointComputeType},
        "osType": {e.value for e in ml_enums.OperatingSystemType},
        "publicNetworkAccess": {e.value for e in ml_enums.PublicNetworkAccessType},
    }
    for r in plan.resources:
        props = r.inputs.get("properties")
        if not isinstance(props, dict):
            continue
        for key, values in allowed.items():
            if key in props and props[key] not in values:
                out.append(f"{r.name}.properties.{key}: {props[key]!r} is not one of {sorted(values)}")
    return out


def azureml_rule_problems(plan) -> list[str]:
    out = []
    for r in plan.find("azure-native:machinelearningservices:OnlineEndpoint"):
        out += rules.endpoint_problems(r.inputs["endpointName"], _snake(r.inputs["properties"]))
    for r in plan.find("azure-native:machinelearningservices:OnlineDeployment"):
        props = _snake(r.inputs["properties"])
        out += rules.deployment_problems(r.inputs["deploymentName"], props)
    return out


@pytest.mark.parametrize("stack", STACKS)
def test_reference_stacks_golden_valid_and_tagged(tmp_path, golden, stack):
    plan = mlfn.plan(project_with(tmp_path), stack=stack)
    golden(f"{stack}.json", golden_text(plan))
    assert typed_problems(plan) == []
    assert enum_problems(plan) == []
    assert azureml_rule_problems(plan) == []
    assert_tagged(plan, TAG_STYLE, ["azure-native:resources:ResourceGroup", "azure-native:containerregistry:Registry",
                                  "azure-native:app:ContainerApp", "azure-native:app:ManagedEnvironment",
                                  "azure-native:machinelearningservices:OnlineEndpoint"])


def test_azureml_gpu_stack(tmp_path):
    plan = mlfn.plan(project_with(tmp_path), stack="azure-azureml-gpu")
    dep = plan.one("azure-native:machinelearningservices:OnlineDeployment").inputs
    props = dep["properties"]
    assert props["instanceType"] == "Standard_NC4as_T4_v3" and props["endpointComputeType"] == "Managed"
    assert props["requestSettings"]["maxConcurrentRequestsPerInstance"] == 8
    assert props["requestSettings"]["requestTimeout"] == "PT1M"
    assert dep["sku"] == {"capacity": 1, "name": "Default"}
    env = plan.one("azure-native:machinelearningservices:EnvironmentVersion").inputs["properties"]
    assert env["inferenceConfig"] == {"livenessRoute": {"path": "/health/live", "port": 8080},
                                      "readinessRoute": {"path": "/health/ready", "port": 8080},
                                      "scoringRoute": {"path": "/score", "port": 8080}}
    endpoint = plan.one("azure-native:machinelearningservices:OnlineEndpoint").inputs["properties"]
    assert endpoint == {"authMode": "AADToken", "description": "mlfn: iris", "publicNetworkAccess": "Enabled"}
    traffic_res = dynamic(plan, "iris-traffic")
    deployment = plan.one("azure-native:machinelearningservices:OnlineDeployment").inputs["deploymentName"]
    assert traffic_res["traffic"] == {deployment: 100} and deployment.startswith("mlfn-")
    scale = plan.one("azure-native:monitor:AutoscaleSetting").inputs["profiles"][0]["capacity"]
    assert scale == {"default": "1", "maximum": "3", "minimum": "1"}
    model = plan.one("azure-native:machinelearningservices:ModelVersion").inputs["properties"]
    assert model["modelType"] == "custom_model"
    blobs = {b.inputs["blobName"].rsplit("/", 1)[1] for b in plan.find("azure-native:storage:Blob")}
    assert blobs == {"model.joblib", "mlfn-manifest.json"}


def dynamic(plan, name: str) -> dict:
    """The inputs of the dynamic resource (traffic, registry token, wait) named ``name``."""
    return next(r.inputs for r in plan.find("pulumi-python:dynamic:Resource") if r.name == name)


def test_containerapps_gpu_stack(tmp_path):
    plan = mlfn.plan(project_with(tmp_path), stack="azure-containerapps-gpu")
    env = plan.one("azure-native:app:ManagedEnvironment").inputs
    assert {"name": "gpu", "workloadProfileType": "Consumption-GPU-NC8as-T4"} in env["workloadProfiles"]
    app = plan.one("azure-native:app:ContainerApp").inputs
    assert app["workloadProfileName"] == "gpu"
    scale = app["template"]["scale"]
    assert scale["minReplicas"] == 0
    assert scale["rules"] == [{"http": {"metadata": {"concurrentRequests": "8"}}, "name": "http-concurrency"}]
    assert app["configuration"]["ingress"]["external"] is False  # private: internal ingress
    assert app["configuration"]["registries"][0]["identity"] == "iris-identity-id"  # pulled by managed identity
    probes = {p["type"] for p in app["template"]["containers"][0]["probes"]}
    assert probes == {"Startup", "Liveness", "Readiness"}


def test_changing_a_key_input_changes_the_plan(tmp_path):
    project = project_with(tmp_path)
    before = mlfn.plan(project, stack="azure-azureml-gpu").to_json()
    path = project / "stacks" / "azure-azureml-gpu.yaml"
    path.write_text(path.read_text() + "overrides: {azure: {instance_type: Standard_NC8as_T4_v3}}\n")
    after = mlfn.plan(project, stack="azure-azureml-gpu")
    assert after.to_json() != before
    dep = after.one("azure-native:machinelearningservices:OnlineDeployment").inputs["properties"]
    assert dep["instanceType"] == "Standard_NC8as_T4_v3"


@pytest.mark.parametrize(("target", "auth"), [("azureml", "private"), ("azureml", "key"), ("containerapps", "private"),
                                              ("containerapps", "key"), ("containerapps", "public")])
def test_auth_modes(tmp_path, target, auth):
    scaling = "scaling: {min: 1, max: 2}\n" if target == "azureml" else ""
    plan = mlfn.plan(project_with(tmp_path, BASE + f"target: {target}\n" + scaling,
                                  lambda t: t.replace("auth: private", f"auth: {auth}")), stack="z")
    assert typed_problems(plan) == [] and enum_problems(plan) == [] and azureml_rule_problems(plan) == []
    if target == "azureml":
        mode = plan.one("azure-native:machinelearningservices:OnlineEndpoint").inputs["properties"]["authMode"]
        assert mode == ("Key" if auth == "key" else "AADToken")
    else:
        app = plan.one("azure-native:app:ContainerApp").inputs
        assert app["configuration"]["ingress"]["external"] == (auth != "private")
        env = app["template"]["containers"][0]["env"]
        keyed = [e for e in env if e["name"] == "MLFN_API_KEYS"]
        assert bool(keyed) == (auth == "key")
        if keyed:
            assert keyed[0]["secretRef"] == "api-keys"


# ---------------------------------------------------------------- every rule fails on a bad value
def planned_deployment(tmp_path):
    plan = mlfn.plan(project_with(tmp_path), stack="azure-azureml-gpu")
    r = plan.one("azure-native:machinelearningservices:OnlineDeployment")
    return r.inputs["deploymentName"], _snake(copy.deepcopy(r.inputs["properties"]))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda p: p.update(instance_type="Standard_Bogus_v9"), "is not a managed online endpoint SKU"),
        (lambda p: p["request_settings"].update(request_timeout="PT5M"), "over Azure ML's limit of 180 s"),
        (lambda p: p["request_settings"].update(request_timeout="60 seconds"), "not an ISO-8601 duration"),
        (lambda p: p["liveness_probe"].update(period="PT0S"), "liveness_probe.period: must be at least 1s"),
        (lambda p: p["readiness_probe"].update(timeout="soon"), "readiness_probe.timeout"),
        (lambda p: p["liveness_probe"].update(failure_threshold=0), "failure_threshold: must be at least 1"),
        (lambda p: p["liveness_probe"].update(success_threshold=3), "success_threshold: must be 1"),
        (lambda p: p["request_settings"].update(max_concurrent_requests_per_instance=0), "must be at least 1"),
    ],
)
def test_deployment_rules_reject_bad_values(tmp_path, edit, message):
    name, props = planned_deployment(tmp_path)
    assert rules.deployment_problems(name, props) == []
    edit(props)
    assert any(message in p for p in rules.deployment_problems(name, props)), rules.deployment_problems(name, props)


def test_name_and_auth_mode_rules():
    assert rules.endpoint_problems("iris-prod", {"auth_mode": "Key"}) == []
    assert rules.endpoint_problems("1iris", {"auth_mode": "Key"})
    assert rules.endpoint_problems("ab", {"auth_mode": "Key"})
    assert rules.endpoint_problems("a" * 33, {"auth_mode": "Key"})
    assert rules.endpoint_problems("iris", {"auth_mode": "Password"})


def test_container_app_rules_reject_bad_values(tmp_path):
    plan = mlfn.plan(project_with(tmp_path), stack="azure-containerapps-gpu")
    app = _snake(copy.deepcopy(plan.one("azure-native:app:ContainerApp").inputs))
    profiles = _snake(copy.deepcopy(plan.one("azure-native:app:ManagedEnvironment").inputs["workloadProfiles"]))
    assert rules.container_app_problems(app, profiles) == []
    cases = [
        (lambda a, p: p.append({"name": "x", "workload_profile_type": "Consumption-GPU-H100"}), "is not one of"),
        (lambda a, p: a.update(workload_profile_name="nope"), "is not a profile of the environment"),
        (lambda a, p: a["template"]["scale"].update(min_replicas=5, max_replicas=2), "min_replicas <= max_replicas"),
        (lambda a, p: a["template"]["scale"]["rules"][0]["http"]["metadata"].update(concurrentRequests="many"),
         "concurrentRequests must be a whole number"),
        (lambda a, p: a["template"]["containers"][0]["probes"][0].update(type="Warmup"), "probe type 'Warmup'"),
        (lambda a, p: a["template"]["containers"][0]["probes"][0].update(period_seconds=500), "period_seconds"),
        (lambda a, p: a["configuration"]["ingress"].update(target_port=0), "target_port"),
    ]
    for edit, message in cases:
        a, p = copy.deepcopy(app), copy.deepcopy(profiles)
        edit(a, p)
        assert any(message in x for x in rules.container_app_problems(a, p)), message


def test_typed_args_reject_unknown_arguments(tmp_path):
    plan = mlfn.plan(project_with(tmp_path), stack="azure-azureml-gpu")
    props = copy.deepcopy(plan.one("azure-native:machinelearningservices:OnlineDeployment").inputs["properties"])
    props["requestSettings"]["timeoutSeconds"] = 60
    assert unknown_args(ml_inputs, "ManagedOnlineDeploymentArgs", props, "deployment") == [
        "deployment.requestSettings.timeoutSeconds: not an argument of OnlineRequestSettingsArgs"]


def test_enum_check_rejects_a_bad_value(tmp_path):
    plan = mlfn.plan(project_with(tmp_path), stack="azure-azureml-gpu")
    endpoint = plan.one("azure-native:machinelearningservices:OnlineEndpoint")
    endpoint.inputs["properties"]["authMode"] = "Password"
    assert enum_problems(plan) == [f"{endpoint.name}.properties.authMode: 'Password' is not one of "
                                   f"{sorted(e.value for e in ml_enums.EndpointAuthMode)}"]


@pytest.mark.parametrize(
    ("stack", "edit", "message"),
    [
        (BASE + "target: azureml\n", None, "keep at least one instance: set scaling.min: 1"),
        (BASE + "target: azureml\nscaling: {min: 1, max: 2}\n", lambda t: t.replace("auth: private", "auth: public"),
         "always need a key or an Entra ID token"),
        (BASE + "target: azureml\nscaling: {min: 1, max: 2}\n", lambda t: t.replace("uri: ./model", "uri: s3://b/m"),
         "registers the model from the workspace's storage"),
        (BASE + "target: containerapps\n", lambda t: t.replace("cpu: 1\n", "cpu: 4\n  gpu: {type: l4}\n"),
         "Container Apps serverless GPUs are T4 or A100"),
        (BASE + "target: containerapps\n", lambda t: t.replace("cpu: 1\n", "cpu: 4\n  gpu: {type: t4, count: 2}\n"),
         "one GPU per replica"),
        (BASE + "target: containerapps\n", lambda t: t.replace("cpu: 1\n", "cpu: 8\n"), "stops at 4 vCPU"),
    ],
)
def test_check_rules_reject_bad_values(tmp_path, stack, edit, message):
    with pytest.raises(CheckError, match=re.escape(message)):
        mlfn.plan(project_with(tmp_path, stack, edit), stack="z")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ("{instance_type: Standard_X}", r"stacks/z.yaml:4: overrides.azure.instance_type: 'Standard_X': not a "
                                        "managed online endpoint SKU"),
        ("{request_timeout: PT10M}", r"stacks/z.yaml:4: overrides.azure.request_timeout: .*at most PT3M"),
        ("{request_timeout: ten}", r"stacks/z.yaml:4: overrides.azure.request_timeout: .*not an ISO-8601 duration"),
        ("{log_retention_days: a month}", r"stacks/z.yaml:4: overrides.azure.log_retention_days: "),
        ("{log_retention_days: 7}", r"stacks/z.yaml:4: overrides.azure.log_retention_days: .*greater than or equal "
                                    "to 30"),
        ("{sku: P1}", r"stacks/z.yaml:4: overrides.azure.sku: "),
    ],
)
def test_bad_overrides_fail_validate_with_file_and_line(tmp_path, overrides, message):
    """overrides.azure is typed: a bad value fails `mlfn validate` naming file, line and field."""
    stack = BASE + "target: azureml\noverrides: {azure: " + overrides + "}\n"
    with pytest.raises(StackError, match=message):
        mlfn.validate(project_with(tmp_path, stack), stack="z")


def test_bad_override_exits_1_on_the_command_line(tmp_path):
    from typer.testing import CliRunner

    from mlfn.cli import app

    project = project_with(tmp_path, BASE + "overrides: {azure: {log_retention_days: a month}}\n")
    r = CliRunner().invoke(app, ["validate", "--project", str(project), "--stack", "z"])
    assert r.exit_code == 1 and "overrides.azure.log_retention_days" in r.stderr and "Traceback" not in r.stderr


def test_private_container_app_says_plainly_where_it_is_reachable(tmp_path):
    v = mlfn.validate(project_with(tmp_path), stack="azure-containerapps")
    assert any("reachable only from inside the Container Apps environment's network" in n for n in v.notes)


def test_existing_resource_group_and_workspace_are_used_not_created(tmp_path):
    stack = BASE + "target: azureml\nresource_group: ml-rg\nworkspace: shared-ws\nscaling: {min: 1, max: 2}\n"
    plan = mlfn.plan(project_with(tmp_path, stack), stack="z")
    assert plan.find("azure-native:resources:ResourceGroup") == []
    assert plan.find("azure-native:machinelearningservices:Workspace") == []
    endpoint = plan.one("azure-native:machinelearningservices:OnlineEndpoint").inputs
    assert (endpoint["resourceGroupName"], endpoint["workspaceName"]) == ("ml-rg", "shared-ws")


def test_init_azure_template_compiles(tmp_path):
    from mlfn.scaffold import init

    init(tmp_path / "p", "sklearn", train=False)
    (tmp_path / "p" / "model").mkdir()
    (tmp_path / "p" / "model" / "model.joblib").write_bytes(b"x")
    assert mlfn.plan(tmp_path / "p", stack="azure").target == "containerapps"


def test_logs_point_at_the_query_and_command(tmp_path):
    """After a failed first up there are no outputs: the names' suffix is in the state only, so the
    query and command match the names' prefix; with outputs, the exact names."""
    from mlfn.project import resolve_stack
    from mlfn.registry import adapter_for

    project = project_with(tmp_path)
    spec = load_spec(project / "mlfn.yaml")
    adapter = adapter_for("azure")
    info = adapter.logs(None, resolve_stack(project, spec, "azure-azureml-gpu"), spec=spec)
    assert "starts_with(name, 'iris-azure-azureml-gpu')" in info.where
    assert "get-logs --name mlfn-" in info.where  # the deployment is named from its instance type
    assert 'AmlOnlineEndpointConsoleLog | where EndpointName startswith "iris-azure-azureml-gpu"' in info.where
    info = adapter.logs(None, resolve_stack(project, spec, "azure-containerapps"), spec=spec)
    assert 'ContainerAppConsoleLogs_CL | where ContainerAppName_s startswith "iris-azure-containerapps"' in info.where
    outputs = adapter.outputs_of({"url": "https://x", "target": "azureml", "details": {
        "log_command": "az ml online-deployment get-logs --name blue --endpoint-name iris-z-0a1b2c3d"}})
    info = adapter.logs(outputs, resolve_stack(project, spec, "azure-azureml-gpu"), spec=spec)
    assert info.where == "az ml online-deployment get-logs --name blue --endpoint-name iris-z-0a1b2c3d"


def test_invoke_containerapps_with_the_key(monkeypatch):
    from mlfn.registry import adapter_for

    seen = {}

    def post(url, content, headers, timeout):
        seen.update(url=url, headers=headers)
        return httpx.Response(200, json={"predictions": [0]})

    monkeypatch.setattr(httpx, "post", post)
    adapter = adapter_for("azure")
    outputs = adapter.outputs_of({"url": "https://iris.example.azurecontainerapps.io", "target": "containerapps",
                                  "details": {"target": "containerapps", "api_key": "k9", "app": "iris"}})
    r = adapter.invoke(outputs, None, b"{}", "application/json")
    assert r.ok and seen["url"].endswith("/invocations") and seen["headers"]["authorization"] == "Bearer k9"


# ---------------------------------------------------------------- the adapter's typed shape (#11)
@pytest.mark.parametrize("stack", STACKS)
def test_every_compile_output_is_a_typed_output(tmp_path, monkeypatch, stack):
    """What compile hands to invoke/logs/status is declared, field by field, in AzureOutputs."""
    from mlfn_azure import AzureOutputs, targets

    seen = {}
    for t in targets.TARGETS.values():
        original = t.compile

        def spy(ctx, original=original):
            result = original(ctx)
            seen.update(result.extra)
            return result

        monkeypatch.setattr(t, "compile", spy)
    mlfn.plan(project_with(tmp_path), stack=stack)
    assert seen and set(seen) <= set(AzureOutputs.model_fields)
    AzureOutputs.model_validate({"url": "https://x", **{k: ("" if k != "external" else False) for k in seen}})


def test_portable_region_maps_to_an_azure_region(tmp_path):
    plan = mlfn.plan(project_with(tmp_path, "cloud: azure\nlocation: europe-west\n"), stack="z")
    assert plan.one("azure-native:app:ContainerApp").inputs["location"] == "westeurope"


def test_location_fields_are_described_and_targets_are_objects():
    from mlfn.registry import adapter_for

    adapter = adapter_for("azure")
    assert all(f.description for f in adapter.Location.model_fields.values())
    assert {"us-east", "us-west", "europe-west", "asia-southeast"} <= set(adapter.regions)
    assert {n: (t.supports_scale_to_zero, t.supports_gpu) for n, t in adapter.targets.items()} == {
        "containerapps": (True, True), "azureml": (False, True)}
