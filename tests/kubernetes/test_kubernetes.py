"""The Kubernetes adapter, proven without a cluster: plans, official schemas, KServe's CRD, rules."""

import copy
import re

import jsonschema
import kubernetes_validate
import pytest
from helpers import example_project, normalized
from mlfn_kubernetes import KubernetesOutputs
from mlfn_kubernetes.conventions import TAG_STYLE
from validate import validate_inference_service, validate_k8s

import mlfn
from mlfn.errors import CheckError, StackError
from mlfn.testing import assert_tagged

STACKS = ("kubernetes-deployment", "kubernetes-kserve", "kubernetes-kserve-gpu")


def project_with(tmp_path, stack_text=None, spec_edit=None):
    return example_project(tmp_path, STACKS, stack_text, spec_edit, stack_name="k")


def k8s_objects(plan):
    """The planned Kubernetes objects, as the API server would receive them (secrets filled in)."""
    out = []
    for r in plan.resources:
        if r.type.startswith("kubernetes:") and not r.type.startswith("kubernetes:serving.kserve.io"):
            obj = copy.deepcopy(r.inputs)
            if obj.get("stringData") == "[secret]":
                obj["stringData"] = {"api-keys": "a-planned-secret"}
            out.append(obj)
    return out


def isvcs(plan):
    return [r.inputs for r in plan.resources if r.type == "kubernetes:serving.kserve.io/v1beta1:InferenceService"]



@pytest.mark.parametrize("stack", STACKS)
def test_reference_stacks_golden_and_valid(tmp_path, golden, stack):
    plan = mlfn.plan(project_with(tmp_path), stack=stack)
    golden(f"{stack}.json", normalized(plan.to_json()))
    for obj in k8s_objects(plan):
        validate_k8s(obj)
    for obj in isvcs(plan):
        validate_inference_service(obj)
    assert_tagged(plan, TAG_STYLE)


def test_reference_deployment_stack_contents(tmp_path):
    plan = mlfn.plan(project_with(tmp_path), stack="kubernetes-deployment")
    assert plan.target == "deployment"
    dep = plan.one("kubernetes:apps/v1:Deployment").inputs
    pod = dep["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert dep["metadata"]["namespace"] == "ml"
    assert dep["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
    assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    assert {"name": "MLFN_MODEL_URI", "value": "/opt/ml/model"} in container["env"]  # baked in
    assert plan.one("kubernetes:core/v1:Service").inputs["spec"]["type"] == "ClusterIP"  # private
    hpa = plan.one("kubernetes:autoscaling/v2:HorizontalPodAutoscaler").inputs["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (1, 2)
    assert plan.find("kubernetes:policy/v1:PodDisruptionBudget") == []
    assert plan.one("kubernetes:core/v1:Namespace").inputs["metadata"]["name"] == "ml"
    image = plan.one("docker-build:index:Image").inputs
    assert image["tags"][0].startswith("ghcr.io/example/iris:")
    assert "ARG BASE_IMAGE=python:3.11-slim\nFROM ${BASE_IMAGE}\n" in (tmp_path / "iris" / ".mlfn" / "build" /
                                       "kubernetes-deployment-kubernetes-cpu" / "Dockerfile").read_text()


def test_reference_kserve_gpu_stack_contents(tmp_path):
    plan = mlfn.plan(project_with(tmp_path), stack="kubernetes-kserve-gpu")
    (isvc,) = isvcs(plan)
    predictor = isvc["spec"]["predictor"]
    container = predictor["containers"][0]
    assert (predictor["minReplicas"], predictor["maxReplicas"]) == (0, 2)
    assert (predictor["scaleMetric"], predictor["scaleTarget"]) == ("concurrency", 8)
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert {"name": "STORAGE_URI", "value": "gs://example-models/iris"} in container["env"]
    assert {"name": "MLFN_MODEL_URI", "value": "/mnt/models"} in container["env"]
    assert container["ports"] == [{"containerPort": 8080, "protocol": "TCP"}]
    assert predictor["nodeSelector"] == {"cloud.google.com/gke-accelerator": "nvidia-tesla-t4",
                                         "kubernetes.io/arch": "amd64"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in predictor["tolerations"]
    assert isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "Serverless"
    assert isvc["metadata"]["labels"]["networking.knative.dev/visibility"] == "cluster-local"
    dockerfile = next((tmp_path / "iris" / ".mlfn" / "build").glob("*gpu*/Dockerfile")).read_text()
    assert "NVIDIA_VISIBLE_DEVICES=all" in dockerfile  # the GPU variant (CUDA 12 wheels on the official Python)


def test_changing_a_key_input_changes_the_plan(tmp_path):
    project = project_with(tmp_path)
    before = mlfn.plan(project, stack="kubernetes-deployment").to_json()
    path = project / "stacks" / "kubernetes-deployment.yaml"
    path.write_text(path.read_text().replace("namespace: ml", "namespace: prod"))
    after = mlfn.plan(project, stack="kubernetes-deployment")
    assert after.to_json() != before
    assert after.one("kubernetes:apps/v1:Deployment").inputs["metadata"]["namespace"] == "prod"


BASE = "cloud: kubernetes\nregistry: ghcr.io/example\n"
TLS = "    ingress_host: iris.example.com\n    tls_secret: iris-tls\n"


def _matrix():
    """Every target (and KServe mode) x auth, with replicas, GPU and model location rotating through their values."""
    combos = [(target, mode, auth) for target, mode in (("deployment", None), ("kserve", None),
                                                        ("kserve", "RawDeployment"))
              for auth in ("private", "key", "public")]
    cases = []
    for i, (target, mode, auth) in enumerate(combos):
        replicas = (0, 1, 3)[i % 3] or (1 if mode else 0)  # raw mode cannot scale to zero
        cases.append((target, mode, auth, replicas, i % 2 == 0, i % 4 < 2))
    return cases


@pytest.mark.parametrize(("target", "mode", "auth", "replicas", "gpu", "remote"), _matrix())
def test_matrix_every_object_passes_its_schema(tmp_path, target, mode, auth, replicas, gpu, remote):
    def edit(text):
        text = text.replace("auth: private", f"auth: {auth}").replace("min: 0", f"min: {replicas}")
        text = text.replace("max: 2", "max: 5")
        if gpu:
            text = text.replace("cpu: 1\n", "cpu: 4\n  gpu: {type: l4, count: 1}\n")
        if remote:
            text = text.replace("uri: ./model", "uri: s3://models/iris/model.tar.gz")
        return text

    overrides = TLS if target == "deployment" else "    external_tls: true\n"
    if mode:
        overrides += f"    deployment_mode: {mode}\n"
    stack = BASE + f"target: {target}\noverrides:\n  kubernetes:\n" + overrides
    plan = mlfn.plan(project_with(tmp_path, stack, edit), stack="k")
    objs = k8s_objects(plan)
    for obj in objs:
        validate_k8s(obj)
    for obj in isvcs(plan):
        validate_inference_service(obj)
    assert_tagged(plan, TAG_STYLE)
    kinds = {o["kind"] for o in objs}
    assert ("Secret" in kinds) == (auth == "key")
    if target == "deployment":
        assert next(o for o in objs if o["kind"] == "Service")["spec"]["type"] == "ClusterIP"
        assert ("Ingress" in kinds) == (auth != "private")
        assert ("PodDisruptionBudget" in kinds) == (replicas >= 2)
        dep = next(o for o in objs if o["kind"] == "Deployment")["spec"]["template"]["spec"]
        assert ("initContainers" in dep) == remote
        env = dep["containers"][0]["env"]
    else:
        env = isvcs(plan)[0]["spec"]["predictor"]["containers"][0]["env"]
    keyed = [e for e in env if e["name"] == "MLFN_API_KEYS"]
    assert bool(keyed) == (auth == "key")
    if keyed:
        assert keyed[0]["valueFrom"]["secretKeyRef"]["key"] == "api-keys"


# ---------------------------------------------------------------- every rule fails on a bad value
def a_deployment(tmp_path):
    plan = mlfn.plan(project_with(tmp_path), stack="kubernetes-deployment")
    return copy.deepcopy(plan.one("kubernetes:apps/v1:Deployment").inputs)


def test_k8s_schema_rejects_wrong_type(tmp_path):
    dep = a_deployment(tmp_path)
    dep["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        validate_k8s(dep)


def test_k8s_schema_rejects_unknown_field(tmp_path):
    dep = a_deployment(tmp_path)
    dep["spec"]["template"]["spec"]["containers"][0]["readinessProbes"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        validate_k8s(dep)


def test_k8s_schema_rejects_missing_required(tmp_path):
    plan = mlfn.plan(project_with(tmp_path), stack="kubernetes-deployment")
    hpa = copy.deepcopy(plan.one("kubernetes:autoscaling/v2:HorizontalPodAutoscaler").inputs)
    del hpa["spec"]["maxReplicas"]
    with pytest.raises(kubernetes_validate.ValidationError):
        validate_k8s(hpa)


def an_isvc(tmp_path):
    return copy.deepcopy(isvcs(mlfn.plan(project_with(tmp_path), stack="kubernetes-kserve-gpu"))[0])


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda p: p.update(scaleMetric="latency"), "'latency' is not one of"),
        (lambda p: p.update(minReplicas="zero"), "'zero' is not of type 'integer'"),
        (lambda p: p["containers"][0].pop("name"), "'name' is a required property"),
        (lambda p: p.update(scaleMetrics="concurrency"), "(pruned silently): spec.predictor.scaleMetrics"),
        (lambda p: p["containers"][0].update(port=8080), "spec.predictor.containers[0].port"),
    ],
)
def test_kserve_schema_rejects_bad_values(tmp_path, edit, message):
    isvc = an_isvc(tmp_path)
    edit(isvc["spec"]["predictor"])
    with pytest.raises(jsonschema.ValidationError, match=re.escape(message)):
        validate_inference_service(isvc)


@pytest.mark.parametrize(
    ("stack", "message"),
    [
        ("cloud: kubernetes\n", "Kubernetes has no registry of its own"),
        (BASE + "target: kserve\noverrides: {kubernetes: {deployment_mode: RawDeployment}}\n",
         "KServe scales to zero only in Serverless (Knative) mode"),
    ],
)
def test_check_rules_reject_bad_values(tmp_path, stack, message):
    with pytest.raises(CheckError, match=re.escape(message)):
        mlfn.plan(project_with(tmp_path, stack), stack="k")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ("{expose: nodeport}", "overrides.kubernetes.expose: 'nodeport' is not one of loadbalancer, ingress"),
        ("{deployment_mode: Knative}", "overrides.kubernetes.deployment_mode: 'Knative' is not one of"),
        ("{cpu_utilization: 0}", "overrides.kubernetes.cpu_utilization: 0: Input should be greater than or equal to 1"),
        ("{cpu_utilization: 101}", "overrides.kubernetes.cpu_utilization: 101: Input should be less than or equal"),
        ("{cpu_utilization: a month}", "overrides.kubernetes.cpu_utilization: 'a month': Input should be a valid"),
        ("{replicas: 3}", "overrides.kubernetes.replicas: is not a known field"),
    ],
)
def test_bad_overrides_are_stack_errors_with_file_and_line(tmp_path, overrides, message):
    """overrides.kubernetes is typed (KubernetesOverrides): a bad value fails validate with file:line."""
    project = project_with(tmp_path, BASE + f"overrides:\n  kubernetes: {overrides}\n")
    with pytest.raises(StackError) as e:
        mlfn.validate(project, stack="k")
    assert str(e.value).startswith(f"stacks/k.yaml:4: {message}"), str(e.value)


def test_bad_override_exits_1_with_file_and_line(tmp_path):
    from typer.testing import CliRunner

    from mlfn.cli import app

    project = project_with(tmp_path, BASE + "overrides:\n  kubernetes:\n    cpu_utilization: a month\n")
    r = CliRunner().invoke(app, ["validate", "--project", str(project), "--stack", "k"])
    assert r.exit_code == 1
    assert "stacks/k.yaml:5: overrides.kubernetes.cpu_utilization: 'a month'" in r.output
    assert "Traceback" not in r.output


def test_kserve_with_ingress_for_a_public_endpoint_is_an_error(tmp_path):
    stack = BASE + "target: kserve\noverrides: {kubernetes: {expose: ingress}}\n"
    with pytest.raises(CheckError, match="exposed by Knative's own ingress"):
        mlfn.plan(project_with(tmp_path, stack, lambda t: t.replace("auth: private", "auth: public")), stack="k")


def test_prebuilt_image_needs_no_registry(tmp_path):
    plan = mlfn.plan(project_with(tmp_path, "cloud: kubernetes\ntarget: deployment\n",
                                  lambda t: t + "runtime: {image: 'ghcr.io/me/iris:1'}\n"), stack="k")
    assert plan.find("docker-build:index:Image") == []
    dep = plan.one("kubernetes:apps/v1:Deployment").inputs
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "ghcr.io/me/iris:1"


def test_init_template_compiles(tmp_path):
    from mlfn.scaffold import init

    init(tmp_path / "p", "sklearn", train=False)
    (tmp_path / "p" / "model").mkdir()
    (tmp_path / "p" / "model" / "model.joblib").write_bytes(b"x")
    plan = mlfn.plan(tmp_path / "p", stack="kubernetes")
    assert plan.target == "kserve"


def test_validate_refuses_the_init_template_registry(tmp_path):
    from mlfn.registry import adapter_for

    project = project_with(tmp_path, adapter_for("kubernetes").stack_template)
    with pytest.raises(CheckError, match=re.escape("registry: 'ghcr.io/your-org' is the placeholder")):
        mlfn.validate(project, stack="k")


def test_logs_say_where_without_kubectl(monkeypatch):
    from mlfn.registry import adapter_for

    monkeypatch.setenv("PATH", "/nonexistent")
    outputs = KubernetesOutputs(url="http://iris.ml.svc.cluster.local", namespace="ml", name="iris",
                                port_forward="svc/iris", logs="kubectl logs -n ml -l app.kubernetes.io/name=iris")
    info = adapter_for("kubernetes").logs(outputs, None)
    assert info.where.startswith("kubectl logs -n ml") and info.lines == ()


def test_logs_after_a_failed_first_up_come_from_the_spec(tmp_path, monkeypatch):
    """No outputs yet (outputs None): the adapter still says where this deployment's logs go."""
    from mlfn.project import load_project

    monkeypatch.setenv("PATH", "/nonexistent")
    p = load_project(project_with(tmp_path), stack="kubernetes-deployment")
    info = p.adapter.logs(None, p.stack, spec=p.spec)
    assert info.where == (
        "kubectl logs -n ml -l app.kubernetes.io/instance=iris-kubernetes-deployment --all-containers --prefix")


def test_notes_say_how_the_target_honours_the_description(tmp_path):
    project = project_with(tmp_path)
    v = mlfn.validate(project, stack="kubernetes-kserve-gpu")
    assert any("works only in KServe's Serverless mode" in n for n in v.notes)
    v = mlfn.validate(project, stack="kubernetes-deployment")
    assert any("scaling.min 0 runs as 1" in n for n in v.notes)
    assert any("kubectl port-forward" in n for n in v.notes)


# ---------------------------------------------------------------- #16: Day 2, the next `mlfn up`
def test_the_hpa_owns_replicas_so_the_deployment_does_not_write_them(tmp_path):
    """An HPA owns the Deployment's replica count: with spec.replicas in the manifest, every `up`
    scales the Deployment back to it, fighting the HPA.
    https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/#migrating-deployments-and-statefulsets-to-horizontal-autoscaling
    """
    plan = mlfn.plan(project_with(tmp_path, BASE + "target: deployment\nscaling: {min: 3, max: 5}\n"), stack="k")
    assert "replicas" not in plan.one("kubernetes:apps/v1:Deployment").inputs["spec"]
    assert plan.one("kubernetes:autoscaling/v2:HorizontalPodAutoscaler").inputs["spec"]["minReplicas"] == 3


@pytest.mark.parametrize("stack", ["kubernetes-deployment", "kubernetes-kserve"])
def test_a_new_build_changes_the_pod_template(tmp_path, stack):
    """The pods name the image by the build's `ref` (tag@digest), which rolls them out on a real
    `up`; the pod template also records what the image was built from (mlfn.dev/build), so the
    plan shows the rollout and `kubectl describe pod` says which model a pod serves."""
    project = project_with(tmp_path)

    def build(plan):
        if plan.target == "kserve":
            return isvcs(plan)[0]["spec"]["predictor"]["annotations"]["mlfn.dev/build"]
        return plan.one("kubernetes:apps/v1:Deployment").inputs["spec"]["template"]["metadata"]["annotations"][
            "mlfn.dev/build"]

    before = build(mlfn.plan(project, stack=stack))
    assert build(mlfn.plan(project, stack=stack)) == before
    (project / "model" / "model.joblib").write_bytes(b"another model")
    after_model = build(mlfn.plan(project, stack=stack))
    (project / "requirements.txt").write_text("requests>=2\n")
    spec = project / "mlfn.yaml"
    spec.write_text(spec.read_text().replace("format: sklearn", "format: sklearn\nruntime: {requirements: "
                                                                "requirements.txt}"))
    after_requirements = build(mlfn.plan(project, stack=stack))
    assert len({before, after_model, after_requirements}) == 3


def test_pulumi_kubernetes_refuses_to_adopt_an_existing_object():
    """Before pulumi-kubernetes 4.29, creating an object that already exists silently updated it
    (server-side apply upsert); a later delete of the other stack then deleted it. From 4.29 the
    create fails with AlreadyExists. https://github.com/pulumi/pulumi-kubernetes/releases/tag/v4.29.0
    """
    from helpers import ROOT
    from packaging.requirements import Requirement

    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    deps = tomllib.loads((ROOT / "adapters" / "kubernetes" / "pyproject.toml").read_text())["project"]["dependencies"]
    (req,) = [Requirement(d) for d in deps if d.startswith("pulumi-kubernetes")]
    assert not req.specifier.contains("4.28.0") and req.specifier.contains("4.29.0")


# ---------------------------------------------------------------- #16: names
@pytest.mark.parametrize("target", ["deployment", "kserve"])
def test_two_stacks_in_one_namespace_never_share_an_object(tmp_path, target):
    """Names within a namespace include the stack: `prod` and `staging` of one model, both in
    namespace ml, create different objects with different selectors."""
    project = project_with(tmp_path)
    planned = {}
    for stack in ("prod", "staging"):
        (project / "stacks" / f"{stack}.yaml").write_text(f"{BASE}namespace: ml\ntarget: {target}\n")
        plan = mlfn.plan(project, stack=stack)
        objs = k8s_objects(plan) + isvcs(plan)
        planned[stack] = {(o["kind"], o["metadata"]["name"]) for o in objs}
        assert all(o["metadata"]["namespace"] == "ml" for o in objs)
        for o in objs:
            if o["kind"] in ("Deployment", "PodDisruptionBudget"):
                assert o["spec"]["selector"]["matchLabels"] == {"app.kubernetes.io/instance": f"iris-{stack}"}
            if o["kind"] == "Service":
                assert o["spec"]["selector"] == {"app.kubernetes.io/instance": f"iris-{stack}"}
    assert planned["prod"] and not planned["prod"] & planned["staging"]


# ---------------------------------------------------------------- #16: Day 1, KServe
def kserve_plan(tmp_path, mode=None, auth="private", extra=""):
    overrides = f"overrides:\n  kubernetes:\n    deployment_mode: {mode}\n{extra}" if mode else ""
    def edit(text):
        return text.replace("auth: private", f"auth: {auth}").replace("min: 0", "min: 1")

    plan = mlfn.plan(project_with(tmp_path, BASE + "target: kserve\n" + overrides, edit), stack="k")
    (isvc,) = isvcs(plan)
    validate_inference_service(isvc)
    return isvc


def test_kserve_serverless_leaves_port_to_knative(tmp_path):
    """Knative sets PORT itself and rejects a Service whose container sets it ("The environment
    variables defined in the container runtime contract are reserved and cannot be set. In
    particular, the PORT environment variable is injected inside your container by Knative").
    https://cloud.google.com/kubernetes-engine/enterprise/knative-serving/docs/configuring/environment-variables
    The runtime listens on 8080 without it, the containerPort Knative defaults to as well."""
    for mode in (None, "RawDeployment"):
        env = kserve_plan(tmp_path / str(mode), mode)["spec"]["predictor"]["containers"][0]["env"]
        assert "PORT" not in {e["name"] for e in env}


@pytest.mark.parametrize("mode", ["RawDeployment", "Standard"])
def test_kserve_raw_mode_private_is_cluster_local_for_kserve_too(tmp_path, mode):
    """Raw mode ignores Knative's label and creates an Ingress unless the InferenceService carries
    networking.kserve.io/visibility: cluster-local. `Standard` is raw mode's name from KServe 0.17.
    https://kserve.github.io/website/docs/admin-guide/configurations"""
    isvc = kserve_plan(tmp_path, mode)
    assert isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == mode
    assert isvc["metadata"]["labels"]["networking.kserve.io/visibility"] == "cluster-local"
    public = kserve_plan(tmp_path / "public", mode, auth="public", extra="    external_tls: true\n")
    assert "networking.kserve.io/visibility" not in public["metadata"]["labels"]


def test_kserve_raw_mode_scales_on_cpu_and_says_so(tmp_path):
    """Raw mode autoscales with an HPA, whose metrics are cpu and memory: "Concurrency and RPS are
    supported via Knative Pod Autoscaler" only.
    https://kserve.github.io/website/docs/model-serving/predictive-inference/autoscaling/hpa-autoscaler"""
    predictor = kserve_plan(tmp_path, "RawDeployment")["spec"]["predictor"]
    assert (predictor["scaleMetric"], predictor["scaleTarget"]) == ("cpu", 70)
    serverless = kserve_plan(tmp_path / "s")["spec"]["predictor"]
    assert (serverless["scaleMetric"], serverless["scaleTarget"]) == ("concurrency", 8)
    project = project_with(tmp_path / "n", BASE + "target: kserve\noverrides: {kubernetes: {deployment_mode: "
                           "Standard}}\n", lambda t: t.replace("min: 0", "min: 1"))
    assert any("scales on CPU" in n for n in mlfn.validate(project, stack="k").notes)


def test_kserve_raw_mode_gives_slow_models_a_startup_probe(tmp_path):
    """Liveness would restart a pod whose model is still loading; a startup probe holds it off.
    https://kubernetes.io/docs/concepts/configuration/liveness-readiness-startup-probes/#startup-probe"""
    container = kserve_plan(tmp_path, "RawDeployment")["spec"]["predictor"]["containers"][0]
    assert container["startupProbe"]["httpGet"]["path"] == "/health/ready"
    assert container["startupProbe"]["failureThreshold"] * container["startupProbe"]["periodSeconds"] >= 600


# ---------------------------------------------------------------- #16: mlfn invoke connects
class _FakeKubectl:
    """Stands in for `kubectl port-forward`: records its arguments, prints what kubectl prints."""

    calls: list = []

    def __init__(self, args, **kw):
        import io

        _FakeKubectl.calls.append(args)
        self.stdout = io.StringIO("Forwarding from 127.0.0.1:40123 -> 8080\n")
        self.stderr = io.StringIO("")

    def terminate(self):
        pass

    def wait(self, timeout=None):
        return 0

    def kill(self):
        pass


def invoke_through_port_forward(tmp_path, monkeypatch, stack_text, spec_edit=None):
    import mlfn_kubernetes

    from mlfn.adapter import InvokeResponse
    from mlfn.project import load_project
    from mlfn.testing import planned_outputs

    p = load_project(project_with(tmp_path, stack_text, spec_edit), stack="k")
    outputs = p.adapter.Outputs.model_validate(planned_outputs(p))
    sent = {}

    def post(url, body, headers, timeout=0):
        sent.update(url=url, headers=headers)
        return InvokeResponse(200, b"{}")

    _FakeKubectl.calls = []
    monkeypatch.delenv("MLFN_INVOKE_URL", raising=False)
    monkeypatch.setattr(mlfn_kubernetes.shutil, "which", lambda _: "/usr/bin/kubectl")
    monkeypatch.setattr(mlfn_kubernetes.subprocess, "Popen", _FakeKubectl)
    monkeypatch.setattr(mlfn_kubernetes, "post", post)
    assert p.adapter.invoke(outputs, p.stack, b"{}", "application/json").ok
    (args,) = _FakeKubectl.calls
    return args, sent


def test_invoke_on_kserve_serverless_private_forwards_to_the_cluster_local_gateway(tmp_path, monkeypatch):
    """Knative's route Service (<name>-predictor) has no selector, and kubectl port-forward needs
    pods behind a Service ("cannot attach to *v1.Service: invalid service '...': Service is
    defined without a selector"). mlfn forwards to Knative's cluster-local gateway, which has
    pods (and wakes a revision scaled to zero), and names the predictor in the Host header.
    https://knative.dev/docs/serving/services/private-services/"""
    args, sent = invoke_through_port_forward(tmp_path, monkeypatch, BASE + "namespace: ml\ntarget: kserve\n")
    assert args[1:] == ["port-forward", "-n", "istio-system", "svc/knative-local-gateway", ":80"]
    assert sent["url"] == "http://127.0.0.1:40123/invocations"
    assert sent["headers"]["host"] == "iris-k-predictor.ml.svc.cluster.local"

    kourier = (BASE + "namespace: ml\ntarget: kserve\n"
               "overrides: {kubernetes: {local_gateway: kourier-system/kourier-internal}}\n")
    args, _ = invoke_through_port_forward(tmp_path / "kourier", monkeypatch, kourier)
    assert args[1:] == ["port-forward", "-n", "kourier-system", "svc/kourier-internal", ":80"]


def test_invoke_on_kserve_raw_and_deployment_forwards_to_their_services(tmp_path, monkeypatch):
    """Raw mode's <name>-predictor and the deployment target's Service select pods: kubectl
    port-forwards to them directly, with no Host header."""
    raw = BASE + "namespace: ml\ntarget: kserve\noverrides: {kubernetes: {deployment_mode: Standard}}\n"
    args, sent = invoke_through_port_forward(tmp_path, monkeypatch, raw, lambda t: t.replace("min: 0", "min: 1"))
    assert args[1:] == ["port-forward", "-n", "ml", "svc/iris-k-predictor", ":80"]
    assert "host" not in sent["headers"]
    args, sent = invoke_through_port_forward(tmp_path / "d", monkeypatch, BASE + "namespace: ml\ntarget: deployment\n")
    assert args[1:] == ["port-forward", "-n", "ml", "svc/iris-k", ":80"]
    assert "host" not in sent["headers"]


# ---------------------------------------------------------------- #16: remote models, image architecture
def pod_specs(plan):
    """(pod spec, container) of the deployment's pods, for either target."""
    if plan.target == "kserve":
        predictor = isvcs(plan)[0]["spec"]["predictor"]
        return predictor, predictor["containers"][0]
    pod = plan.one("kubernetes:apps/v1:Deployment").inputs["spec"]["template"]["spec"]
    return pod, pod["containers"][0]


@pytest.mark.parametrize("target", ["deployment", "kserve"])
def test_a_remote_model_is_read_with_the_service_account_given(tmp_path, target):
    """An s3:// or gs:// model is read with the pod's identity: IRSA (EKS) and Workload Identity
    (GKE) bind a cloud role to a Kubernetes ServiceAccount, and KServe's storage initializer reads
    the credentials attached to the predictor's serviceAccountName.
    https://docs.aws.amazon.com/eks/latest/userguide/associate-service-account-role.html
    https://cloud.google.com/kubernetes-engine/docs/how-to/workload-identity
    https://kserve.github.io/website/docs/model-serving/storage/providers/s3"""
    stack = BASE + f"target: {target}\noverrides: {{kubernetes: {{service_account: model-reader}}}}\n"
    plan = mlfn.plan(project_with(tmp_path, stack, lambda t: t.replace("uri: ./model", "uri: s3://models/iris")),
                     stack="k")
    pod, _ = pod_specs(plan)
    assert pod["serviceAccountName"] == "model-reader"
    for obj in k8s_objects(plan):
        validate_k8s(obj)
    for obj in isvcs(plan):
        validate_inference_service(obj)
    notes = mlfn.validate(project_with(tmp_path / "n", BASE + f"target: {target}\n",
                                       lambda t: t.replace("uri: ./model", "uri: s3://models/iris")), stack="k").notes
    assert any("overrides.kubernetes.service_account" in n for n in notes)


@pytest.mark.parametrize("target", ["deployment", "kserve"])
def test_pods_of_the_amd64_image_run_on_amd64_nodes(tmp_path, target):
    """mlfn builds the image for linux/amd64 only; on a cluster with arm64 nodes (Graviton, Ampere)
    a pod scheduled there cannot start it. kubernetes.io/arch is the well-known node label.
    https://kubernetes.io/docs/reference/labels-annotations-taints/#kubernetes-io-arch"""
    plan = mlfn.plan(project_with(tmp_path, BASE + f"target: {target}\n"), stack="k")
    pod, _ = pod_specs(plan)
    assert pod["nodeSelector"]["kubernetes.io/arch"] == "amd64"
    prebuilt = mlfn.plan(project_with(tmp_path / "p", f"cloud: kubernetes\ntarget: {target}\n",
                                      lambda t: t + "runtime: {image: 'ghcr.io/me/iris:1'}\n"), stack="k")
    pod, _ = pod_specs(prebuilt)
    assert "kubernetes.io/arch" not in pod.get("nodeSelector", {})  # the user's image: its own platforms


# ---------------------------------------------------------------- #16: key and public need TLS
@pytest.mark.parametrize("auth", ["key", "public"])
@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ("    expose: loadbalancer\n", "a LoadBalancer Service serves plain HTTP"),
        ("    ingress_host: iris.example.com\n", "set overrides.kubernetes.tls_secret"),
        ("    tls_secret: iris-tls\n", "set overrides.kubernetes.ingress_host"),
    ],
)
def test_deployment_key_and_public_need_tls(tmp_path, auth, overrides, message):
    """With `key`, the API key travels in every request's Authorization header: over plain HTTP
    (a LoadBalancer on port 80, an Ingress without TLS) anyone on the path reads it. An Ingress
    terminates TLS with a kubernetes.io/tls Secret named in spec.tls.
    https://kubernetes.io/docs/concepts/services-networking/ingress/#tls"""
    stack = BASE + "target: deployment\noverrides:\n  kubernetes:\n" + overrides
    with pytest.raises(CheckError, match=re.escape(message)):
        mlfn.validate(project_with(tmp_path, stack, lambda t: t.replace("auth: private", f"auth: {auth}")),
                      stack="k")


def test_deployment_key_is_served_over_tls_by_the_ingress(tmp_path):
    from mlfn.project import load_project
    from mlfn.testing import planned_outputs

    stack = BASE + "target: deployment\noverrides:\n  kubernetes:\n" + TLS
    project = project_with(tmp_path, stack, lambda t: t.replace("auth: private", "auth: key"))
    plan = mlfn.plan(project, stack="k")
    ing = plan.one("kubernetes:networking.k8s.io/v1:Ingress").inputs
    assert ing["spec"]["tls"] == [{"hosts": ["iris.example.com"], "secretName": "iris-tls"}]
    validate_k8s(ing)
    assert plan.one("kubernetes:core/v1:Service").inputs["spec"]["type"] == "ClusterIP"
    assert planned_outputs(load_project(project, stack="k"))["url"] == "https://iris.example.com"


@pytest.mark.parametrize("auth", ["key", "public"])
def test_kserve_key_and_public_need_the_cluster_to_serve_tls(tmp_path, auth):
    """Knative serves an external host over plain HTTP unless the cluster enables TLS for it
    (external-domain-tls, with cert-manager). https://knative.dev/docs/serving/encryption/external-domain-tls/"""
    from mlfn.project import load_project
    from mlfn.testing import planned_outputs

    def edit(text):
        return text.replace("auth: private", f"auth: {auth}")

    with pytest.raises(CheckError, match=re.escape("set overrides.kubernetes.external_tls: true")):
        mlfn.validate(project_with(tmp_path, BASE + "target: kserve\n", edit), stack="k")
    project = project_with(tmp_path / "tls", BASE + "target: kserve\noverrides: {kubernetes: {external_tls: true}}\n",
                           edit)
    assert planned_outputs(load_project(project, stack="k"))["url"] == "https://iris-k.default.example.com"


# ---------------------------------------------------------------- #16: the runtime's environment per target
def env_of(container):
    return {e["name"]: e.get("value") for e in container["env"]}


@pytest.mark.parametrize(("target", "mode"), [("deployment", None), ("kserve", None), ("kserve", "RawDeployment")])
@pytest.mark.parametrize(("compute", "workers"), [("cpu: 4", "4"), ("cpu: 0.5", "1"),
                                                  ("cpu: 8\n  gpu: {type: l4, count: 2}", "2")])
def test_the_runtime_is_tuned_for_its_pod(tmp_path, target, mode, compute, workers):
    """MLFN_WORKERS: one per requested CPU, one per GPU. MLFN_MAX_BODY_BYTES: neither Kubernetes
    Services nor Knative document a request-size limit, so the runtime keeps the contract's default
    and the Ingress is told the same (ingress-nginx refuses bodies over 1m by default:
    https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/annotations/#custom-max-body-size).
    MLFN_GRACEFUL_SECONDS: below the kill deadline after SIGTERM, terminationGracePeriodSeconds
    (https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#pod-termination); Knative
    sets a revision's to its timeout, 300 s by default
    (https://knative.dev/docs/serving/configuration/config-defaults/#revision-timeout-seconds)."""
    from mlfn_runtime import contract as c

    overrides = f"overrides: {{kubernetes: {{deployment_mode: {mode}}}}}\n" if mode else ""

    def edit(text):
        return text.replace("cpu: 1", compute).replace("min: 0", "min: 1")

    plan = mlfn.plan(project_with(tmp_path, BASE + f"target: {target}\n" + overrides, edit), stack="k")
    pod, container = pod_specs(plan)
    env = env_of(container)
    assert env[c.WORKERS] == workers
    assert env[c.MAX_BODY_BYTES] == str(c.DEFAULT_MAX_BODY_BYTES)
    deadline = pod.get("terminationGracePeriodSeconds", 300 if target == "kserve" and not mode else 30)
    assert 0 < int(env[c.GRACEFUL_SECONDS]) < deadline
    for obj in isvcs(plan):
        validate_inference_service(obj)


def test_runtime_env_given_in_mlfn_yaml_wins(tmp_path):
    plan = mlfn.plan(project_with(tmp_path, BASE + "target: deployment\n",
                                  lambda t: t + "runtime: {env: {MLFN_WORKERS: '3'}}\n"), stack="k")
    names = [e["name"] for e in pod_specs(plan)[1]["env"]]
    assert names.count("MLFN_WORKERS") == 1 and env_of(pod_specs(plan)[1])["MLFN_WORKERS"] == "3"


def test_the_ingress_accepts_what_the_runtime_accepts(tmp_path):
    stack = BASE + "target: deployment\noverrides:\n  kubernetes:\n" + TLS
    plan = mlfn.plan(project_with(tmp_path, stack, lambda t: t.replace("auth: private", "auth: public")), stack="k")
    ing = plan.one("kubernetes:networking.k8s.io/v1:Ingress").inputs
    assert ing["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-body-size"] == "6m"


# ---------------------------------------------------------------- names KServe and Knative derive
def test_kserve_names_leave_room_for_knatives_revision_label(tmp_path):
    """Knative names the predictor's revisions <name>-predictor-00001 and labels its pods with that
    name, a label value of at most 63 characters
    (https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#syntax-and-character-set):
    the InferenceService's name keeps to 47."""
    long_name = "a-fraud-detector-for-card-payments"

    def edit(text):
        return text.replace("name: iris", f"name: {long_name}")

    project = example_project(tmp_path, STACKS, BASE + "target: kserve\n", edit, stack_name="kubernetes-kserve-prod")
    plan = mlfn.plan(project, stack="kubernetes-kserve-prod")
    (isvc,) = isvcs(plan)
    assert len(isvc["metadata"]["name"]) <= 47
    assert len(f"{isvc['metadata']['name']}-predictor-00001") <= 63


def test_kserve_raw_mode_host_label_fits(tmp_path):
    """Raw mode names the predictor's host <name>-predictor-<namespace>, one DNS label of at most 63
    characters; longer, KServe fails to reconcile (https://github.com/kserve/kserve/issues/4807)."""
    stack = (BASE + "namespace: the-data-science-team-production\ntarget: kserve\n"
             "overrides: {kubernetes: {deployment_mode: RawDeployment}}\n")
    with pytest.raises(CheckError, match=re.escape("iris-k-predictor-the-data-science-team-production")):
        mlfn.validate(project_with(tmp_path, stack.replace("production", "production-cluster-number-one"),
                                   lambda t: t.replace("min: 0", "min: 1")), stack="k")
    mlfn.validate(project_with(tmp_path / "ok", stack, lambda t: t.replace("min: 0", "min: 1")), stack="k")


def test_kserve_raw_mode_public_url_follows_kserves_domain_template(tmp_path):
    """Raw mode's Ingress host comes from KServe's domainTemplate, "{{ .Name }}-{{ .Namespace }}.{{
    .IngressDomain }}" by default (https://kserve.github.io/website/docs/admin-guide/configurations);
    Serverless mode's from Knative's, <name>.<namespace>.<domain>."""
    from mlfn.project import load_project
    from mlfn.testing import planned_outputs

    stack = (BASE + "namespace: ml\ntarget: kserve\n"
             "overrides: {kubernetes: {external_tls: true, deployment_mode: Standard}}\n")

    def edit(text):
        return text.replace("auth: private", "auth: key").replace("min: 0", "min: 1")

    project = project_with(tmp_path, stack, edit)
    assert planned_outputs(load_project(project, stack="k"))["url"] == "https://iris-k-ml.example.com"


def _pip_extras(project, stack: str) -> set[str]:
    """The runtime extras the stack's generated Dockerfile installs (its pip line's ``[...]``)."""
    dockerfile = next((project / ".mlfn" / "build").glob(f"{stack}-*/Dockerfile")).read_text()
    match = re.search(r'\./runtime/[^"\[]+\.whl\[([^\]]*)\]"', dockerfile)
    return set(match.group(1).split(",")) if match else set()


@pytest.mark.parametrize("target,overrides,edit,present,absent", [
    # The deployment's fetch-model init container runs the mlfn runtime (this image) against the
    # store: storage_uri overrides a local model.uri, so the image must carry that store's client.
    ("deployment", "{storage_uri: s3://models/iris}", None, {"s3"}, {"gcs"}),
    ("deployment", "{storage_uri: gs://models/iris}", None, {"gcs"}, {"s3"}),
    ("deployment", "{}", lambda t: t.replace("uri: ./model", "uri: gs://models/iris"), {"gcs"}, {"s3"}),
    # Baked in: nothing is read at start.
    ("deployment", "{}", None, set(), {"s3", "gcs"}),
    # KServe's storage initializer (its own image) fetches storageUri into /mnt/models: the runtime reads files.
    ("kserve", "{storage_uri: gs://models/iris}", None, set(), {"s3", "gcs"}),
], ids=["deployment-storage-uri-s3", "deployment-storage-uri-gs", "deployment-remote-model", "deployment-baked",
        "kserve-storage-uri"])
def test_the_image_carries_the_client_of_the_store_its_runtime_reads(tmp_path, target, overrides, edit, present,
                                                                      absent):
    """adapters/kubernetes manifests.deployment: ``mlfn-runtime fetch <source> /mnt/models`` runs in the
    same image; without the store's extra it exits ("s3:// models need boto3")."""
    project = project_with(tmp_path, BASE + f"target: {target}\noverrides: {{kubernetes: {overrides}}}\n", edit)
    mlfn.plan(project, stack="k")
    extras = _pip_extras(project, "k")
    assert "sklearn" in extras and present <= extras and not (absent & extras), extras
