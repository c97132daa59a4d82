"""How Azure's targets run the image for `mlfn up --local` (Target.local_container), against each
platform's contract and the plan's own container settings. Sources:
https://learn.microsoft.com/azure/machine-learning/how-to-deploy-custom-container (AZUREML_MODEL_DIR,
the inference_config routes); https://learn.microsoft.com/azure/container-apps/containers."""

from helpers import container_run, example_project
from mlfn_runtime import contract as c
from mlfn_runtime.settings import Settings, model_location

import mlfn


def test_azureml_puts_the_model_one_folder_below_azureml_model_dir_as_registered(tmp_path):
    d = example_project(tmp_path, ("azure-azureml",))
    _, run = container_run(d, "azure-azureml", tmp_path / "m")
    plan = mlfn.plan(d, stack="azure-azureml")
    props = plan.one("azure-native:machinelearningservices:OnlineDeployment").inputs["properties"]
    model = plan.one("azure-native:machinelearningservices:ModelVersion").inputs
    assert {k: v for k, v in run.env.items() if k != c.AZUREML_MODEL_DIR} == props["environmentVariables"]
    root = run.env[c.AZUREML_MODEL_DIR]
    assert root == f"/var/azureml-app/azureml-models/iris/{model['version']}"
    folder = model["properties"]["modelUri"].rsplit("/", 1)[1]
    assert run.mounts == {str(tmp_path / "m"): f"{root}/{folder}"}
    assert model_location(Settings.from_env(run.env), run.env) == root  # the runtime looks one folder below
    env = plan.one("azure-native:machinelearningservices:EnvironmentVersion").inputs["properties"]["inferenceConfig"]
    assert run.health == env["readinessRoute"]["path"] and run.predict == env["scoringRoute"]["path"]
    assert run.port == env["scoringRoute"]["port"] == c.port_from_env(run.env)
    assert run.read_only and run.stop_grace_s == 30


def test_containerapps_runs_the_baked_model_on_the_ingress_port(tmp_path):
    d = example_project(tmp_path, ("azure-containerapps",))
    _, run = container_run(d, "azure-containerapps", tmp_path / "m")
    app = mlfn.plan(d, stack="azure-containerapps").one("azure-native:app:ContainerApp").inputs
    (container,) = app["template"]["containers"]
    assert run.env == {e["name"]: e["value"] for e in container["env"]}
    assert run.port == app["configuration"]["ingress"]["targetPort"] == c.port_from_env(run.env)
    assert run.mounts == {} and not run.read_only and run.stop_grace_s == 30
    assert run.health == c.READINESS_ROUTE and run.predict == c.INVOCATIONS
