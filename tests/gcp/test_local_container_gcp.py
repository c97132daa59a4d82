"""How Google Cloud's targets run the image for `mlfn up --local` (Target.local_container), against
each platform's contract and the plan's own container settings. Sources:
https://cloud.google.com/vertex-ai/docs/predictions/custom-container-requirements (AIP_HTTP_PORT,
AIP_HEALTH_ROUTE, AIP_PREDICT_ROUTE, AIP_STORAGE_URI, AIP_MODE);
https://cloud.google.com/run/docs/container-contract (PORT, writable in-memory file system, SIGKILL
10 s after SIGTERM)."""

from helpers import container_run, example_project
from mlfn_runtime import contract as c
from mlfn_runtime.settings import Settings, model_location

import mlfn

VERTEX = "cloud: gcp\ntarget: vertex\nproject: p-123\nregion: us-central1\nscaling: {min: 1, max: 2}\n"


def test_vertex_sets_the_aip_variables_and_hands_the_model_over_through_aip_storage_uri(tmp_path):
    d = example_project(tmp_path, (), VERTEX, stack_name="vx")
    _, run = container_run(d, "vx", tmp_path / "m")
    (deploy,) = [r for r in mlfn.plan(d, stack="vx").find("pulumi-python:dynamic:Resource") if "env" in r.inputs]
    planned = deploy.inputs
    assert {k: v for k, v in run.env.items() if not k.startswith("AIP_")} == planned["env"]
    assert run.env["AIP_HTTP_PORT"] == str(planned["port"]) and c.port_from_env(run.env) == run.port == 8080
    assert run.env[c.AIP_HEALTH_ROUTE] == planned["health_route"] == run.health
    assert run.env[c.AIP_PREDICT_ROUTE] == planned["predict_route"] == run.predict
    assert run.env["AIP_MODE"] == "PREDICTION"
    assert run.mounts == {str(tmp_path / "m"): run.env[c.AIP_STORAGE_URI]}
    # The runtime finds the model where AIP_STORAGE_URI says, as on Vertex.
    assert model_location(Settings.from_env(run.env), run.env) == run.env[c.AIP_STORAGE_URI]
    assert run.read_only and run.stop_grace_s == 30 and run.command == ()


def test_cloudrun_sets_port_and_runs_the_baked_model_on_a_writable_file_system(tmp_path):
    d = example_project(tmp_path, ("gcp-cloudrun",))
    _, run = container_run(d, "gcp-cloudrun", tmp_path / "m")
    container = mlfn.plan(d, stack="gcp-cloudrun").one("gcp:cloudrunv2/service:Service").inputs["template"][
        "containers"][0]
    assert run.env == {**{e["name"]: e["value"] for e in container["envs"]}, "PORT": "8080"}
    assert run.port == container["ports"]["containerPort"] == c.port_from_env(run.env)
    assert run.health == container["startupProbe"]["httpGet"]["path"] and run.predict == c.INVOCATIONS
    assert run.mounts == {} and c.MODEL_URI not in run.env  # baked into the image
    assert not run.read_only and run.tmpfs == () and run.stop_grace_s == 10
