"""The Kubernetes adapter, proven without a cluster: plans, official schemas, KServe's CRD, rules."""

import copy
import re
from itertools import product

import jsonschema
import kubernetes_validate
import pytest
from helpers import example_project, normalized
from mlfn_kubernetes.conventions import TAG_STYLE
from validate import validate_inference_service, validate_k8s

import mlfn
from mlfn.errors import CheckError
from mlfn.testing import assert_tagged

STACKS = ("kubernetes-deployment", "kubernetes-kserve-gpu")


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
    assert predictor["nodeSelector"] == {"cloud.google.com/gke-accelerator": "nvidia-tesla-t4"}
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


def _matrix():
    """Every target x auth x expose, with replicas, GPU and model location rotating through their values."""
    cases = []
    for i, (target, auth, expose) in enumerate(product(["deployment", "kserve"], ["private", "key", "public"],
                                                       ["loadbalancer", "ingress"])):
        if target == "kserve" and expose == "ingress" and auth != "private":
            continue  # a check() error, tested below
        cases.append((target, auth, expose, (0, 1, 3)[i % 3], i % 2 == 0, i % 4 < 2))
    return cases


@pytest.mark.parametrize(("target", "auth", "expose", "replicas", "gpu", "remote"), _matrix())
def test_matrix_every_object_passes_its_schema(tmp_path, target, auth, expose, replicas, gpu, remote):
    def edit(text):
        text = text.replace("auth: private", f"auth: {auth}").replace("min: 0", f"min: {replicas}")
        text = text.replace("max: 2", "max: 5")
        if gpu:
            text = text.replace("cpu: 1\n", "cpu: 4\n  gpu: {type: l4, count: 1}\n")
        if remote:
            text = text.replace("uri: ./model", "uri: s3://models/iris/model.tar.gz")
        return text

    stack = (BASE + f"target: {target}\noverrides:\n  kubernetes:\n    expose: {expose}\n"
             "    ingress_host: iris.example.com\n")
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
        svc = next(o for o in objs if o["kind"] == "Service")["spec"]["type"]
        exposed = auth != "private"
        assert svc == ("LoadBalancer" if exposed and expose == "loadbalancer" else "ClusterIP")
        assert ("Ingress" in kinds) == (exposed and expose == "ingress")
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
        (BASE + "overrides: {kubernetes: {expose: nodeport}}\n", "expose: 'nodeport' is not one of"),
        (BASE + "overrides: {kubernetes: {deployment_mode: Knative}}\n", "deployment_mode: 'Knative' is not one of"),
        (BASE + "target: kserve\noverrides: {kubernetes: {deployment_mode: RawDeployment}}\n",
         "KServe scales to zero only in Serverless (Knative) mode"),
        (BASE + "overrides: {kubernetes: {cpu_utilization: 0}}\n", "cpu_utilization must be a percentage"),
        (BASE + "overrides: {kubernetes: {replicas: 3}}\n", "overrides.kubernetes: replicas is not a setting"),
    ],
)
def test_check_rules_reject_bad_values(tmp_path, stack, message):
    with pytest.raises(CheckError, match=re.escape(message)):
        mlfn.plan(project_with(tmp_path, stack), stack="k")


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


def test_logs_say_where_without_kubectl(monkeypatch):
    from mlfn.registry import adapter_for

    monkeypatch.setenv("PATH", "/nonexistent")
    info = adapter_for("kubernetes").logs({"logs": "kubectl logs -n ml -l app.kubernetes.io/name=iris"}, None)
    assert info.where.startswith("kubectl logs -n ml") and info.lines == ()


def test_notes_say_how_the_target_honours_the_description(tmp_path):
    project = project_with(tmp_path)
    v = mlfn.validate(project, stack="kubernetes-kserve-gpu")
    assert any("works only in KServe's Serverless mode" in n for n in v.notes)
    v = mlfn.validate(project, stack="kubernetes-deployment")
    assert any("scaling.min 0 runs as 1" in n for n in v.notes)
    assert any("kubectl port-forward" in n for n in v.notes)
