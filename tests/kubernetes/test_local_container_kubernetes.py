"""How a cluster runs the image for `mlfn up --local` (Target.local_container): read off the pod spec
the plan applies (args, environment, user, read-only root, /tmp, grace period), the model at
/mnt/models where the cluster fetches it (an init container, or KServe's storage initializer:
https://kserve.github.io/website/latest/modelserving/storage/storagecontainers/)."""

import pytest
from helpers import container_run, example_project
from mlfn_runtime import contract as c

import mlfn


def _deployment_pod(plan):
    return plan.one("kubernetes:apps/v1:Deployment").inputs["spec"]["template"]["spec"]


def test_deployment_runs_as_the_pod_does(tmp_path):
    d = example_project(tmp_path, ("kubernetes-deployment",))
    _, run = container_run(d, "kubernetes-deployment", tmp_path / "m")
    pod = _deployment_pod(mlfn.plan(d, stack="kubernetes-deployment"))
    (container,) = pod["containers"]
    assert run.env == {e["name"]: e["value"] for e in container["env"]}
    assert run.command == tuple(container["args"]) == ("serve",)
    assert run.user == str(container["securityContext"]["runAsUser"]) == "10001"
    assert run.read_only is container["securityContext"]["readOnlyRootFilesystem"] is True
    assert run.tmpfs == ("/tmp",) and run.mounts == {}  # a local model is baked into the image
    assert run.port == container["ports"][0]["containerPort"] == c.port_from_env(run.env)
    assert run.health == container["readinessProbe"]["httpGet"]["path"]
    assert run.stop_grace_s == pod["terminationGracePeriodSeconds"]


@pytest.mark.parametrize("stack", ["kubernetes-deployment", "kubernetes-kserve"])
def test_a_remote_model_is_mounted_at_mnt_models(tmp_path, stack):
    d = example_project(tmp_path, (stack,))
    from mlfn.project import load_project

    p = load_project(d, stack)
    spec = p.spec.model_copy(update={"model": p.spec.model.model_copy(update={"uri": "s3://bucket/iris"})})
    run = p.adapter.target(p.stack.target).local_container(spec, p.stack, tmp_path / "m")
    assert run.mounts == {str(tmp_path / "m"): "/mnt/models"} and run.env[c.MODEL_URI] == "/mnt/models"


def test_kserve_runs_the_predictor_container_with_knatives_port(tmp_path):
    d = example_project(tmp_path, ("kubernetes-kserve",))
    _, run = container_run(d, "kubernetes-kserve", tmp_path / "m")
    isvc = mlfn.plan(d, stack="kubernetes-kserve").one("kubernetes:serving.kserve.io/v1beta1:InferenceService")
    (container,) = isvc.inputs["spec"]["predictor"]["containers"]
    assert run.env == {**{e["name"]: e["value"] for e in container["env"]}, "PORT": "8080"}
    assert run.command == tuple(container["args"]) and run.port == c.port_from_env(run.env) == 8080
    assert run.health == container["readinessProbe"]["httpGet"]["path"]
    assert run.predict == "/v1/models/iris:predict"
