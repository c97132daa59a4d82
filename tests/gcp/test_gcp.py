"""The GCP adapter, proven without an account: plans, typed args, Cloud Run's GPU rules, auth, logs."""

import re

import pytest
from helpers import example_project, normalized
from mlfn_gcp.conventions import TAG_STYLE
from pulumi_gcp.cloudrunv2 import _inputs as run_inputs

import mlfn
from mlfn.errors import CheckError
from mlfn.testing import assert_tagged, unknown_args

STACKS = ("gcp-vertex-gpu", "gcp-cloudrun", "gcp-cloudrun-gpu")
BASE = "cloud: gcp\nproject: my-gcp-project\nregion: us-central1\n"


def project_with(tmp_path, stack_text=None, spec_edit=None):
    return example_project(tmp_path, STACKS, stack_text, spec_edit, stack_name="g")



def deployment_of(plan):
    """mlfn's Vertex upload + deploy (a dynamic resource, as is the APIs one)."""
    return next(r for r in plan.find("pulumi-python:dynamic:Resource") if r.name.endswith("-deployment"))


def cloudrun_problems(plan) -> list[str]:
    service = plan.one("gcp:cloudrunv2/service:Service").inputs
    return unknown_args(run_inputs, "ServiceTemplateArgs", service["template"], "template")


@pytest.mark.parametrize("stack", STACKS)
def test_reference_stacks_golden_and_labelled(tmp_path, golden, stack):
    plan = mlfn.plan(project_with(tmp_path), stack=stack)
    golden(f"{stack}.json", normalized(plan.to_json()))
    assert_tagged(plan, TAG_STYLE, ["gcp:storage/bucket:Bucket", "gcp:vertex/aiEndpoint:AiEndpoint",
                                "gcp:artifactregistry/repository:Repository", "gcp:cloudrunv2/service:Service"])
    if "cloudrun" in stack:
        assert cloudrun_problems(plan) == []


def test_vertex_gpu_stack(tmp_path):
    plan = mlfn.plan(project_with(tmp_path), stack="gcp-vertex-gpu")
    dep = deployment_of(plan).inputs
    assert (dep["machine_type"], dep["accelerator_type"], dep["accelerator_count"]) == ("g2-standard-4", "NVIDIA_L4", 1)
    assert (dep["min_replicas"], dep["max_replicas"], dep["api"]) == (1, 3, "v1")
    assert dep["predict_route"] == "/invocations" and dep["health_route"] == "/health/ready" and dep["port"] == 8080
    assert dep["artifact_uri"].startswith("gs://iris-gcp-vertex-gpu-models-iris-bucket-suffix.hex/iris-gcp-vertex-gpu/model-")
    assert "__provider" not in dep  # the serialized provider is left out of the plan
    repo = plan.one("gcp:artifactregistry/repository:Repository").inputs
    assert repo["location"] == "us-central1" and repo["format"] == "DOCKER"
    objects = {r.inputs["name"].rsplit("/", 1)[1] for r in plan.find("gcp:storage/bucketObject:BucketObject")}
    assert objects == {"model.joblib", "mlfn-manifest.json"}
    endpoint = plan.one("gcp:vertex/aiEndpoint:AiEndpoint").inputs
    assert re.fullmatch(r"[1-9]\d{9}", endpoint["name"])
    reader = plan.one("gcp:storage/bucketIAMMember:BucketIAMMember").inputs
    assert reader["role"] == "roles/storage.objectViewer" and reader["member"].startswith("serviceAccount:")


def test_cloudrun_gpu_stack(tmp_path):
    plan = mlfn.plan(project_with(tmp_path), stack="gcp-cloudrun-gpu")
    template = plan.one("gcp:cloudrunv2/service:Service").inputs["template"]
    container = template["containers"][0]
    assert template["nodeSelector"] == {"accelerator": "nvidia-l4"}
    assert container["resources"]["limits"] == {"cpu": "4", "memory": "16384Mi", "nvidia.com/gpu": "1"}
    assert container["resources"]["cpuIdle"] is False  # CPU always allocated with a GPU
    assert template["gpuZonalRedundancyDisabled"] is True
    assert template["scaling"] == {"maxInstanceCount": 2, "minInstanceCount": 0}
    assert container["startupProbe"]["httpGet"]["path"] == "/health/ready"
    assert plan.find("gcp:cloudrunv2/serviceIamMember:ServiceIamMember") == []  # private: no allUsers


def test_changing_a_key_input_changes_the_plan(tmp_path):
    project = project_with(tmp_path)
    before = mlfn.plan(project, stack="gcp-cloudrun").to_json()
    path = project / "stacks" / "gcp-cloudrun.yaml"
    path.write_text(path.read_text().replace("us-central1", "europe-west1"))
    after = mlfn.plan(project, stack="gcp-cloudrun")
    assert after.to_json() != before
    assert after.one("gcp:cloudrunv2/service:Service").inputs["location"] == "europe-west1"


@pytest.mark.parametrize("auth", ["private", "key", "public"])
def test_cloudrun_invoker_per_auth_mode(tmp_path, auth):
    plan = mlfn.plan(project_with(tmp_path, BASE + "target: cloudrun\n",
                                  lambda t: t.replace("auth: private", f"auth: {auth}")), stack="g")
    invokers = plan.find("gcp:cloudrunv2/serviceIamMember:ServiceIamMember")
    assert bool(invokers) == (auth != "private")
    if invokers:
        assert invokers[0].inputs["member"] == "allUsers" and invokers[0].inputs["role"] == "roles/run.invoker"
    envs = plan.one("gcp:cloudrunv2/service:Service").inputs["template"]["containers"][0]["envs"]
    keyed = [e for e in envs if e["name"] == "MLFN_API_KEYS"]
    assert bool(keyed) == (auth == "key")
    if keyed:
        assert "secretKeyRef" in keyed[0]["valueSource"]
        assert plan.one("gcp:secretmanager/secretIamMember:SecretIamMember").inputs["role"] == (
            "roles/secretmanager.secretAccessor")
    assert cloudrun_problems(plan) == []


def test_typed_args_check_rejects_an_unknown_argument(tmp_path):
    plan = mlfn.plan(project_with(tmp_path), stack="gcp-cloudrun")
    service = plan.one("gcp:cloudrunv2/service:Service").inputs
    service["template"]["containers"][0]["resources"]["gpus"] = 1
    service["template"]["scaling"]["minInstances"] = 0
    problems = unknown_args(run_inputs, "ServiceTemplateArgs", service["template"], "template")
    assert problems == [
        "template.containers[0].resources.gpus: not an argument of ServiceTemplateContainerResourcesArgs",
        "template.scaling.minInstances: not an argument of ServiceTemplateScalingArgs",
    ]


def test_vertex_scale_to_zero_opt_in_uses_v1beta1(tmp_path):
    plan = mlfn.plan(project_with(tmp_path, BASE + "target: vertex\noverrides: {gcp: {scale_to_zero: true}}\n"),
                     stack="g")
    dep = deployment_of(plan).inputs
    assert (dep["min_replicas"], dep["api"]) == (0, "v1beta1")


GPU = lambda cpu, mem, kind="l4", count=1: (lambda t: t.replace(  # noqa: E731
    "cpu: 1\n  memory: 2Gi", f"cpu: {cpu}\n  memory: {mem}\n  gpu: {{type: {kind}, count: {count}}}"))


@pytest.mark.parametrize(
    ("stack", "edit", "message"),
    [
        (BASE + "target: vertex\n", None, "Vertex AI endpoints keep at least one replica"),
        (BASE + "target: vertex\nscaling: {min: 1, max: 2}\n", lambda t: t.replace("auth: private", "auth: key"),
         "always called with Google credentials"),
        (BASE + "target: vertex\nscaling: {min: 1, max: 2}\n", lambda t: t.replace("uri: ./model", "uri: s3://b/m"),
         "Vertex AI reads models from Cloud Storage"),
        (BASE + "target: vertex\nscaling: {min: 1, max: 2}\n", GPU(4, "16Gi", "a10g"), "vertex offers no a10g GPU"),
        (BASE + "target: cloudrun\n", GPU(2, "16Gi"), "needs compute.cpu of at least 4"),
        (BASE + "target: cloudrun\n", GPU(4, "8Gi"), "needs compute.memory of at least 16Gi"),
        (BASE + "target: cloudrun\n", GPU(4, "16Gi", "l4", 2), "allows 1 GPU per instance"),
        (BASE + "target: cloudrun\n", GPU(4, "16Gi", "t4"), "Cloud Run offers no t4 GPU"),
        (BASE.replace("us-central1", "us-west2") + "target: cloudrun\n", GPU(4, "16Gi"),
         "region us-west2 offers no Cloud Run GPUs"),
    ],
)
def test_check_rules_reject_bad_values(tmp_path, stack, edit, message):
    with pytest.raises(CheckError, match=re.escape(message)):
        mlfn.plan(project_with(tmp_path, stack, edit), stack="g")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ("{gcp: {min_instances: 1}}", "stacks/g.yaml:3: overrides.gcp.min_instances: is not a known field"),
        ('{gcp: {scale_to_zero: "a month"}}', "stacks/g.yaml:3: overrides.gcp.scale_to_zero: "),
        ('{gcp: {deploy_timeout_minutes: "a month"}}', "stacks/g.yaml:3: overrides.gcp.deploy_timeout_minutes: "),
        ("{gcp: {deploy_timeout_minutes: 600}}", "stacks/g.yaml:3: overrides.gcp.deploy_timeout_minutes: "),
        ("{gcp: {machine_type: N1 STANDARD}}", "stacks/g.yaml:3: overrides.gcp.machine_type: "),
        ("{gcp: {bucket: Models}}", "stacks/g.yaml:3: overrides.gcp.bucket: "),
    ],
)
def test_bad_overrides_fail_validate_with_file_and_line(tmp_path, overrides, message):
    project = project_with(tmp_path, f"cloud: gcp\nproject: p\noverrides: {overrides}\n")
    with pytest.raises(mlfn.StackError) as e:
        mlfn.validate(project, stack="g")
    assert message in str(e.value)


@pytest.mark.parametrize(("portable", "region"), [("us-east", "us-east4"), ("us-west", "us-west1"),
                                                  ("europe-west", "europe-west1"),
                                                  ("asia-southeast", "asia-southeast1")])
def test_portable_regions_map_to_google_regions(tmp_path, portable, region):
    project = project_with(tmp_path, f"cloud: gcp\nproject: p\nregion: {portable}\n")
    assert mlfn.validate(project, stack="g").stack.location.region == region


def test_every_portable_region_is_a_region_with_cloud_run_and_vertex():
    from mlfn_gcp.settings import REGIONS

    from mlfn.adapter import PORTABLE_REGIONS

    assert set(REGIONS) <= set(PORTABLE_REGIONS)
    assert all(re.fullmatch(r"[a-z]+-[a-z]+\d", r) for r in REGIONS.values())


def test_project_comes_from_the_environment_or_is_named(tmp_path, monkeypatch):
    project = project_with(tmp_path, "cloud: gcp\n")
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "from-env")
    assert mlfn.validate(project, stack="g").stack.location.project == "from-env"
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT")
    monkeypatch.delenv("CLOUDSDK_CORE_PROJECT", raising=False)
    with pytest.raises(mlfn.StackError, match="cloud gcp needs project"):
        mlfn.validate(project, stack="g")


def test_init_gcp_template_compiles(tmp_path):
    from mlfn.scaffold import init

    init(tmp_path / "p", "sklearn", train=False)
    (tmp_path / "p" / "model").mkdir()
    (tmp_path / "p" / "model" / "model.joblib").write_bytes(b"x")
    assert mlfn.plan(tmp_path / "p", stack="gcp").target == "cloudrun"


def test_logs_give_the_query_and_console_link(tmp_path):
    from mlfn.project import resolve_stack
    from mlfn.registry import adapter_for
    from mlfn.spec import load_spec

    project = project_with(tmp_path)
    spec = load_spec(project / "mlfn.yaml")
    stack = resolve_stack(project, spec, "gcp-cloudrun")
    info = adapter_for("gcp").logs(None, stack, spec=spec)  # no outputs yet: a failed first up
    assert 'resource.type="cloud_run_revision" resource.labels.service_name="iris-gcp-cloudrun"' in info.where
    assert info.link.startswith("https://console.cloud.google.com/logs/query;query=resource.type%3D")
    assert info.link.endswith("?project=my-gcp-project")


def test_invoke_sends_an_id_token_to_cloud_run(monkeypatch):
    import httpx
    import mlfn_gcp

    from mlfn.registry import adapter_for

    seen = {}

    def post(url, content, headers, timeout):
        seen.update(url=url, headers=headers)
        return httpx.Response(200, json={"predictions": [0]})

    monkeypatch.setattr(mlfn_gcp, "_id_token", lambda audience: f"id-token-for:{audience}")
    monkeypatch.setattr(httpx, "post", post)
    adapter = adapter_for("gcp")
    outputs = adapter.outputs_of({"url": "https://iris-abc.a.run.app", "target": "cloudrun", "logs": "q",
                                  "details": {"target": "cloudrun", "project": "p", "region": "us-central1"}})
    r = adapter.invoke(outputs, None, b"{}", "application/json")
    assert r.ok and seen["url"] == "https://iris-abc.a.run.app/invocations"
    assert seen["headers"]["authorization"] == "Bearer id-token-for:https://iris-abc.a.run.app"


def test_id_token_without_credentials_says_how_to_log_in(monkeypatch, tmp_path):
    from mlfn_gcp import _id_token

    from mlfn.errors import InvokeError

    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    with pytest.raises(InvokeError, match="gcloud auth application-default login"):
        _id_token("https://iris.a.run.app")


RANDOM_ID = "random:index/randomId:RandomId"


@pytest.fixture
def fresh_random_state(monkeypatch):
    """Each plan runs as a new state folder would: every RandomId gets new random bytes (the
    offline plan otherwise answers its outputs with fixed placeholders)."""
    import secrets

    from mlfn.testing import answer_outputs

    def draw(inputs):
        size = int(inputs["byteLength"])
        n = secrets.randbits(8 * size)
        return {"hex": f"{n:0{2 * size}x}", "dec": str(n)}

    answer_outputs(monkeypatch, RANDOM_ID, draw)


def test_two_state_folders_get_different_bucket_names(tmp_path, fresh_random_state):
    """Bucket names are global across every Google Cloud customer: a name from the project's files
    alone collides with anyone else who deploys the same example (and between two state folders).
    https://cloud.google.com/storage/docs/buckets#naming: "Bucket names reside in a single namespace
    that is shared by all Cloud Storage users"."""
    project = project_with(tmp_path)
    first = mlfn.plan(project, stack="gcp-vertex-gpu").one("gcp:storage/bucket:Bucket").inputs["name"]
    second = mlfn.plan(project, stack="gcp-vertex-gpu").one("gcp:storage/bucket:Bucket").inputs["name"]
    assert first != second
    assert re.fullmatch(r"iris-gcp-vertex-gpu-models-[0-9a-f]{8}", first)


def test_bucket_name_is_the_random_suffix_kept_in_state(tmp_path):
    plan = mlfn.plan(project_with(tmp_path), stack="gcp-vertex-gpu")
    suffix = plan.one(RANDOM_ID)
    assert suffix.inputs == {"byteLength": 4}  # no keepers: created once, never replaced
    name = plan.one("gcp:storage/bucket:Bucket").inputs["name"]
    assert name == f"iris-gcp-vertex-gpu-models-{suffix.name}.hex"  # the plan's placeholder of its output
    dep = deployment_of(plan).inputs
    assert dep["artifact_uri"].startswith(f"gs://{name}/")


@pytest.mark.parametrize("stack", ["gcp-cloudrun", "gcp-vertex-gpu"])
def test_what_serves_is_labelled_with_the_model_and_requirements_it_serves(tmp_path, stack):
    """The revision (Cloud Run) and the uploaded model (Vertex) say which model and requirements
    they serve, so a new version visibly reaches what serves traffic (in the console and the plan)."""
    from mlfn.manifest import model_files

    project = project_with(tmp_path)
    (project / "requirements.txt").write_text("pandas==2.2.2\n")
    spec = project / "mlfn.yaml"
    spec.write_text(spec.read_text() + "runtime: {requirements: requirements.txt}\n")
    plan = mlfn.plan(project, stack=stack)
    if stack == "gcp-cloudrun":
        served = plan.one("gcp:cloudrunv2/service:Service").inputs["template"]["labels"]
    else:
        served = deployment_of(plan).inputs["labels"]
    import hashlib

    assert served["mlfn-model"] == model_files(project / "model").digest[:12]
    assert served["mlfn-requirements"] == hashlib.sha256(b"pandas==2.2.2\n").hexdigest()[:12]
    assert served["mlfn-deployment"] == "iris"


def _env(plan) -> dict[str, str]:
    service = plan.find("gcp:cloudrunv2/service:Service")
    if service:
        return {e["name"]: e.get("value") for e in service[0].inputs["template"]["containers"][0]["envs"]}
    return deployment_of(plan).inputs["env"]


@pytest.mark.parametrize(
    ("stack", "edit", "workers", "body", "graceful"),
    [
        # Cloud Run: 32 MiB per HTTP/1 request; SIGKILL 10 s after SIGTERM.
        (BASE + "target: cloudrun\n", lambda t: t.replace("cpu: 1\n", "cpu: 2\n"), "2", str(32 * 1024 * 1024), 8),
        (BASE + "target: cloudrun\n", GPU(4, "16Gi"), "1", str(32 * 1024 * 1024), 8),  # one per GPU
        # Vertex AI: 1.5 MB per online prediction request.
        (BASE + "target: vertex\nscaling: {min: 1, max: 2}\n", lambda t: t.replace("cpu: 1\n", "cpu: 4\n"), "4",
         "1500000", 25),
        (BASE + "target: vertex\nscaling: {min: 1, max: 2}\n", GPU(4, "16Gi", "l4", 1), "1", "1500000", 25),
    ],
    ids=["cloudrun-cpu", "cloudrun-gpu", "vertex-cpu", "vertex-gpu"],
)
def test_runtime_env_per_target(tmp_path, stack, edit, workers, body, graceful):
    """MLFN_WORKERS from compute.cpu (one per GPU); MLFN_MAX_BODY_BYTES the target's documented
    request limit: Cloud Run 32 MiB per HTTP/1 request (https://cloud.google.com/run/quotas),
    Vertex AI 1.5 MB per online prediction request (https://cloud.google.com/sdk/gcloud/reference/ai/
    endpoints/predict: "the payload limit size (currently, 1.5MB)"); MLFN_GRACEFUL_SECONDS below the
    kill deadline after SIGTERM: Cloud Run sends SIGKILL 10 s after SIGTERM
    (https://cloud.google.com/run/docs/container-contract#instance-shutdown); Vertex documents none,
    its prediction nodes are Kubernetes pods (default terminationGracePeriodSeconds 30)."""
    from mlfn_runtime import contract as c

    env = _env(mlfn.plan(project_with(tmp_path, stack, edit), stack="g"))
    assert env[c.WORKERS] == workers
    assert env[c.MAX_BODY_BYTES] == body
    assert int(env["MLFN_GRACEFUL_SECONDS"]) == graceful


def test_runtime_env_the_user_sets_wins(tmp_path):
    edit = lambda t: t + "runtime: {env: {MLFN_WORKERS: '1'}}\n"  # noqa: E731
    env = _env(mlfn.plan(project_with(tmp_path, BASE + "target: cloudrun\ncompute: {cpu: 4, memory: 4Gi}\n", edit),
                         stack="g"))
    assert env["MLFN_WORKERS"] == "1"


def test_vertex_image_pull_is_granted_to_vertex_service_agent(tmp_path):
    """Vertex pulls the serving image with its own service agent, not with the deployed model's
    custom service account: "You can't configure a custom service account to pull images from
    Artifact Registry. Vertex AI uses the default service account to pull images."
    (https://cloud.google.com/vertex-ai/docs/general/custom-service-account)."""
    plan = mlfn.plan(project_with(tmp_path), stack="gcp-vertex-gpu")
    agent = plan.one("gcp:projects/serviceIdentity:ServiceIdentity")
    assert agent.inputs["service"] == "aiplatform.googleapis.com"
    (reader,) = plan.find("gcp:artifactregistry/repositoryIamMember:RepositoryIamMember")
    assert reader.inputs["role"] == "roles/artifactregistry.reader"
    assert reader.inputs["member"] == f"{agent.name}.member"


def test_doctor_says_the_deployer_needs_act_as_on_the_runtime_service_account(tmp_path):
    """Deploying a Cloud Run service or a Vertex model that runs as a service account needs
    iam.serviceAccounts.actAs on it (https://cloud.google.com/run/docs/securing/service-identity,
    https://cloud.google.com/vertex-ai/docs/general/custom-service-account)."""
    from mlfn.registry import adapter_for

    checks = adapter_for("gcp").doctor({"PATH": "", "HOME": str(tmp_path)})
    text = " ".join(f"{c.detail} {c.fix}" for c in checks)
    assert "iam.serviceAccounts.actAs" in text and "roles/iam.serviceAccountUser" in text


@pytest.mark.parametrize("stack", [BASE + "target: cloudrun\n", BASE + "target: vertex\nscaling: {min: 1, max: 2}\n"],
                         ids=["cloudrun", "vertex"])
def test_a_remote_gs_model_is_readable_by_the_runtime_service_account_on_its_prefix_only(tmp_path, stack):
    """The runtime reads a gs:// model with its service account (Cloud Run: MLFN_MODEL_URI at start;
    Vertex: AIP_STORAGE_URI, read with the deployed model's custom service account when one is
    set, https://cloud.google.com/vertex-ai/docs/general/custom-service-account). A user-named
    bucket may hold other things: read is limited to the model's prefix with an IAM condition
    (https://cloud.google.com/storage/docs/access-control/iam#conditions)."""
    edit = lambda t: t.replace("uri: ./model", "uri: gs://team-models/iris/v3")  # noqa: E731
    plan = mlfn.plan(project_with(tmp_path, stack, edit), stack="g")
    (grant,) = [r for r in plan.find("gcp:storage/bucketIAMMember:BucketIAMMember")
                if r.inputs["bucket"] == "team-models"]
    assert grant.inputs["role"] == "roles/storage.objectViewer"
    assert grant.inputs["member"] == "serviceAccount:iris-service-account.email"
    expression = grant.inputs["condition"]["expression"]
    assert 'resource.name.startsWith("projects/_/buckets/team-models/objects/iris/v3")' in expression
    assert 'resource.name == "projects/_/buckets/team-models"' in expression  # listing the prefix


def test_an_existing_bucket_named_in_overrides_is_read_on_this_deployment_prefix_only(tmp_path):
    plan = mlfn.plan(project_with(tmp_path, BASE + "target: vertex\nscaling: {min: 1, max: 2}\n"
                                  "overrides: {gcp: {bucket: shared-models}}\n"), stack="g")
    assert plan.find("gcp:storage/bucket:Bucket") == []
    (grant,) = plan.find("gcp:storage/bucketIAMMember:BucketIAMMember")
    assert grant.inputs["bucket"] == "shared-models"
    assert "objects/iris-g/" in grant.inputs["condition"]["expression"]


@pytest.mark.parametrize(
    ("stack", "edit", "services"),
    [
        (BASE + "target: cloudrun\n", None,
         ["artifactregistry.googleapis.com", "iam.googleapis.com", "run.googleapis.com"]),
        (BASE + "target: cloudrun\n", lambda t: t.replace("auth: private", "auth: key"),
         ["artifactregistry.googleapis.com", "iam.googleapis.com", "run.googleapis.com",
          "secretmanager.googleapis.com"]),
        (BASE + "target: vertex\nscaling: {min: 1, max: 2}\n", None,
         ["aiplatform.googleapis.com", "artifactregistry.googleapis.com", "iam.googleapis.com",
          "storage.googleapis.com"]),
    ],
    ids=["cloudrun", "cloudrun-key", "vertex"],
)
def test_each_target_enables_the_apis_it_needs(tmp_path, stack, edit, services):
    """A new project has none of these APIs on; creating a resource of an API that is off fails
    (https://cloud.google.com/service-usage/docs/enable-disable)."""
    plan = mlfn.plan(project_with(tmp_path, stack, edit), stack="g")
    apis = next(r for r in plan.find("pulumi-python:dynamic:Resource") if r.name.endswith("-apis"))
    assert apis.inputs["services"] == services and apis.inputs["project"] == "my-gcp-project"


def test_enabling_apis_can_be_left_out_for_locked_down_projects(tmp_path):
    plan = mlfn.plan(project_with(tmp_path, BASE + "target: cloudrun\noverrides: {gcp: {enable_apis: false}}\n"),
                     stack="g")
    assert not [r for r in plan.find("pulumi-python:dynamic:Resource") if r.name.endswith("-apis")]


def test_vertex_deploy_timeout_comes_from_overrides(tmp_path):
    """Vertex's own limit for a model's deployment timeout is 2 hours (ModelContainerSpec
    .deployment_timeout, https://cloud.google.com/vertex-ai/docs/reference/rest/v1/ModelContainerSpec)."""
    stack = BASE + "target: vertex\nscaling: {min: 1, max: 2}\n"
    assert deployment_of(mlfn.plan(project_with(tmp_path / "a", stack), stack="g")).inputs["timeout_s"] == 3600
    plan = mlfn.plan(project_with(tmp_path / "b", stack + "overrides: {gcp: {deploy_timeout_minutes: 30}}\n"),
                     stack="g")
    assert deployment_of(plan).inputs["timeout_s"] == 1800


@pytest.mark.parametrize("stack", ["gcp-cloudrun", "gcp-vertex-gpu"])
def test_what_calls_an_api_waits_for_the_apis_step(tmp_path, monkeypatch, stack):
    """Creating a resource of an API that is still off fails: the first resource of each API waits
    for the step that enables it."""
    import importlib

    mp = importlib.import_module("mlfn.plan")
    deps: dict[str, list[str]] = {}
    original = mp._make_mocks

    def make(recorder, calls):
        mocks, monitor_cls = original(recorder, calls)

        class Recording(monitor_cls):
            def RegisterResource(self, request):  # noqa: N802
                deps[request.name] = [u.rsplit("::", 1)[-1] for u in request.dependencies]
                return super().RegisterResource(request)

        return mocks, Recording

    monkeypatch.setattr(mp, "_make_mocks", make)
    mlfn.plan(project_with(tmp_path), stack=stack)
    first = ["iris-repository", "iris-service-account"]
    first += ["iris-service"] if "cloudrun" in stack else ["iris-bucket", "iris-endpoint", "iris-vertex-agent",
                                                           "iris-deployment"]
    for name in first:
        assert "iris-apis" in deps[name], f"{name} does not wait for iris-apis"


# Vertex's online-prediction autoscaling metrics and their targets
# (https://cloud.google.com/vertex-ai/docs/predictions/autoscaling): utilisation in percent, and
# request_count in "requests per minute per replica".
CPU_UTILIZATION = "aiplatform.googleapis.com/prediction/online/cpu/utilization"
DUTY_CYCLE = "aiplatform.googleapis.com/prediction/online/accelerator/duty_cycle"
REQUEST_COUNT = "aiplatform.googleapis.com/prediction/online/request_count"
VERTEX_CPU = BASE + "target: vertex\nscaling: {{min: 1, max: 2, concurrency: {}}}\n"


@pytest.mark.parametrize(
    ("stack_text", "stack", "utilisation", "per_minute"),
    [(None, "gcp-vertex-gpu", DUTY_CYCLE, 8 * 60), (VERTEX_CPU.format(3), "g", CPU_UTILIZATION, 3 * 60)],
    ids=["gpu", "cpu"],
)
def test_vertex_scales_on_utilisation_and_on_concurrency_as_requests_per_minute(tmp_path, stack_text, stack,
                                                                                 utilisation, per_minute):
    """scaling.concurrency (in-flight requests per replica) becomes request_count's target in
    requests per minute per replica, at one second per request: concurrency x 60, as SageMaker's
    InvocationsPerInstance default (adapters/aws). Utilisation stays at Vertex's default 60%."""
    plan = mlfn.plan(project_with(tmp_path, stack_text), stack=stack)
    dep = deployment_of(plan).inputs
    assert dep["autoscaling_targets"] == {utilisation: 60, REQUEST_COUNT: per_minute}
    assert "concurrency_target" not in dep  # the provider takes Vertex's own targets, nothing it would ignore


def test_a_concurrency_change_in_mlfn_yaml_rolls_out_through_the_provider(tmp_path, monkeypatch):
    """From the stack's scaling.concurrency to the deploy request: a new concurrency is a change the
    provider's diff sees, and its update sets the new request_count target on the deployed model in
    place, by mutateDeployedModel
    (https://cloud.google.com/vertex-ai/docs/reference/rest/v1/projects.locations.endpoints/mutateDeployedModel)."""
    from fake_vertex import FakeVertex, clients_over
    from mlfn_gcp import vertex_provider as vp

    fake = FakeVertex()
    monkeypatch.setattr(vp, "make_clients", clients_over(fake))
    monkeypatch.setattr(vp, "POLL_INITIAL", 0.01)
    monkeypatch.setattr(vp, "POLL_MAXIMUM", 0.02)
    project = project_with(tmp_path, VERTEX_CPU.format(8))
    live = {"project": "p", "region": "us-central1", "endpoint": "projects/p/locations/us-central1/endpoints/1",
            "image": "us-central1-docker.pkg.dev/p/r/iris@sha256:" + "a" * 64, "artifact_uri": "gs://b/m",
            "service_account": "iris@p.iam.gserviceaccount.com"}  # what the plan knows only after up
    first = {**deployment_of(mlfn.plan(project, stack="g")).inputs, **live}
    (project / "stacks" / "g.yaml").write_text(VERTEX_CPU.format(2))
    second = {**deployment_of(mlfn.plan(project, stack="g")).inputs, **live}
    provider = vp.VertexDeploymentProvider()
    made = provider.create(first)
    assert provider.diff(made.id, made.outs, second).changes
    updated = provider.update(made.id, made.outs, second)
    specs = [r["deployedModel"]["dedicatedResources"]["autoscalingMetricSpecs"]
             for r in fake.deploy_requests + fake.mutate_requests]
    assert [{s["metricName"]: s["target"] for s in x} for x in specs] == [
        {CPU_UTILIZATION: 60, REQUEST_COUNT: 480}, {CPU_UTILIZATION: 60, REQUEST_COUNT: 120}]
    assert len(fake.deploy_requests) == 1 and updated.outs["deployed_model_id"] == made.id
    assert fake.deployed == {made.id: made.outs["model"]}


def test_vertex_notes_say_how_concurrency_is_honoured_and_what_it_assumes(tmp_path):
    stack = VERTEX_CPU.format(3).replace("my-gcp-project", "iris-proj")  # validate refuses mlfn init's placeholder
    notes = mlfn.validate(project_with(tmp_path / "cpu", stack), stack="g").notes
    (note,) = [n for n in notes if "scaling.concurrency" in n]
    assert "180 requests per minute per replica" in note and "one second" in note
    assert "CPU utilization" in note and "60%" in note
    gpu = mlfn.validate(project_with(tmp_path / "gpu", stack, GPU(4, "16Gi")), stack="g").notes
    (note,) = [n for n in gpu if "scaling.concurrency" in n]
    assert "GPU duty cycle" in note and "180 requests per minute per replica" in note


def _pip_extras(project, stack: str) -> set[str]:
    """The runtime extras the stack's generated Dockerfile installs (its pip line's ``[...]``)."""
    dockerfile = next((project / ".mlfn" / "build").glob(f"{stack}-*/Dockerfile")).read_text()
    match = re.search(r'\./runtime/[^"\[]+\.whl\[([^\]]*)\]"', dockerfile)
    return set(match.group(1).split(",")) if match else set()


@pytest.mark.parametrize("stack,edit,store", [
    ("gcp-vertex-gpu", None, "gcs"),
    ("g", None, "gcs"),
    ("g", lambda t: t.replace("uri: ./model", "uri: gs://team-models/iris/v3"), "gcs"),
], ids=["vertex-gpu-reference", "vertex-cpu", "vertex-remote-model"])
def test_vertex_image_installs_the_gcs_client_it_reads_aip_storage_uri_with(tmp_path, stack, edit, store):
    """Vertex hands the container its model as a gs:// URI (AIP_STORAGE_URI), which the runtime reads
    at start, so the image needs the runtime's ``gcs`` extra whatever the model's location in mlfn.yaml
    (https://cloud.google.com/vertex-ai/docs/predictions/custom-container-requirements#artifacts)."""
    project = project_with(tmp_path, BASE + "target: vertex\nscaling: {min: 1, max: 2}\n", edit)
    mlfn.plan(project, stack=stack)
    extras = _pip_extras(project, stack)
    assert {"sklearn", store} <= extras, extras


def test_cloudrun_image_with_a_baked_model_has_no_store_client(tmp_path):
    """Cloud Run bakes a local model into the image: no store is read at start, no client is installed."""
    project = project_with(tmp_path)
    mlfn.plan(project, stack="gcp-cloudrun")
    assert "gcs" not in _pip_extras(project, "gcp-cloudrun") and "sklearn" in _pip_extras(project, "gcp-cloudrun")
