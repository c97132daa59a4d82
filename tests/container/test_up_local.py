"""`mlfn up --local`: the image a SageMaker Serverless stack's `up` would push, built on the stand-in
base and run by the Docker Engine API as SageMaker runs it (`serve`, the model read-only at
/opt/ml/model, a read-only root with a writable /tmp), then status, invoke, logs, up again
(kept) and destroy through the CLI, as a user types them."""

from __future__ import annotations

import json
import shutil
import time

from container_helpers import TIMINGS, docker, unavailable
from helpers import EXAMPLES
from typer.testing import CliRunner

from mlfn.cli import app

ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]


def cli(*args: str):
    r = CliRunner().invoke(app, list(args))
    assert r.exit_code == 0, f"mlfn {' '.join(args)} exited {r.exit_code}:\n{r.output}"
    return r


def iris_copy(tmp_path):
    """examples/iris-sklearn in tmp_path, once up --local's client (the docker package) is known to be there."""
    try:
        import docker as _docker  # noqa: F401 - up --local's client
    except ImportError:
        unavailable("the docker Python package is not installed: pip install -e '.[local]'")
    project = tmp_path / "iris"
    shutil.copytree(EXAMPLES / "iris-sklearn", project, ignore=shutil.ignore_patterns(".mlfn"))
    return project


def test_up_local_runs_the_stacks_container_and_every_verb_acts_on_it(engine, tmp_path):
    project = iris_copy(tmp_path)
    where = ["--project", str(project), "--stack", "aws", "--local"]  # aws.yaml: sagemaker-serverless (min 0)
    start = time.monotonic()
    name = "(not started)"
    try:
        up = json.loads(cli("up", *where, "--base-image", engine, "--json").stdout)
        TIMINGS["up --local"] = time.monotonic() - start
        assert up["action"] == "started" and up["target"] == "sagemaker-serverless"
        name = up["container"]
        inspect = json.loads(docker("inspect", name).stdout)[0]
        assert inspect["Config"]["Cmd"] == ["serve"] and inspect["HostConfig"]["ReadonlyRootfs"] is True
        (bind,) = inspect["HostConfig"]["Binds"]
        assert bind.endswith(":/opt/ml/model:ro")
        assert inspect["HostConfig"]["PortBindings"] == {"8080/tcp": [{"HostIp": "127.0.0.1",
                                                                        "HostPort": str(up["port"])}]}

        status = json.loads(cli("status", *where, "--json").stdout)
        assert status["running"] is True and status["ready"] is True and status["url"] == up["url"]
        answer = json.loads(cli("invoke", *where, "--data", json.dumps({"instances": ROWS})).stdout)
        assert answer == {"predictions": [0, 2]}
        logs = json.loads(cli("logs", *where, "--json").stdout)
        assert logs["where"] == f"docker logs {name}"
        assert any("loaded sklearn model 'iris' from /opt/ml/model" in line for line in logs["lines"]), logs

        again = json.loads(cli("up", *where, "--base-image", engine, "--json").stdout)
        assert again["action"] == "unchanged" and again["container"] == name
    finally:
        gone = CliRunner().invoke(app, ["destroy", *where])
    assert gone.exit_code == 0 and gone.stdout.startswith(f"removed the local container {name}"), gone.output
    assert docker("ps", "-aq", "--filter", f"name={name}").stdout.strip() == ""
    assert json.loads(cli("status", *where, "--json").stdout)["running"] is False


def test_up_local_runs_a_lambda_image_behind_its_runtime_interface_emulator(lambda_base, tmp_path):
    """A Lambda stack: the image's own entrypoint (no AWS_LAMBDA_RUNTIME_API: the base's emulator on 8080,
    as AWS's base runs its RIE), and invoke sends the body as a Function URL event and unwraps the answer."""
    project = iris_copy(tmp_path)
    (project / "stacks" / "fn.yaml").write_text("cloud: aws\ntarget: lambda\nregion: us-east\n")
    where = ["--project", str(project), "--stack", "fn", "--local"]
    start = time.monotonic()
    name = "(not started)"
    try:
        up = json.loads(cli("up", *where, "--base-image", lambda_base, "--json").stdout)
        TIMINGS["up --local lambda"] = time.monotonic() - start
        assert up["action"] == "started" and up["target"] == "lambda"
        name = up["container"]
        inspect = json.loads(docker("inspect", name).stdout)[0]
        env = inspect["Config"]["Env"]
        assert not any(e.startswith("AWS_LAMBDA_RUNTIME_API=") for e in env)
        # As Lambda: a least-privileged user (the model baked as root must be readable by it), the function's
        # timeout for the emulator to enforce (overrides.aws.timeout, 60 s unset) and its memory.
        assert inspect["Config"]["User"] == "61000:61000"
        assert "AWS_LAMBDA_FUNCTION_TIMEOUT=60" in env and "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=2048" in env
        status = json.loads(cli("status", *where, "--json").stdout)
        assert status["running"] is True and status["ready"] is None  # no health route: unknown, not true
        answer = json.loads(cli("invoke", *where, "--data", json.dumps({"instances": ROWS})).stdout)
        assert answer == {"predictions": [0, 2]}
        bad = CliRunner().invoke(app, ["invoke", *where, "--data", "{bad"])
        assert bad.exit_code != 0 and "400" in bad.output, bad.output
    finally:
        gone = CliRunner().invoke(app, ["destroy", *where])
    assert gone.exit_code == 0, gone.output
    assert docker("ps", "-aq", "--filter", f"name={name}").stdout.strip() == ""


#: stacks/<file>.yaml -> (target, where the model must be mounted in the container or None where it is baked,
#: a variable the platform sets, as `docker inspect` shows it).
PLATFORMS = {
    "gcp-vertex": ("vertex", "/mnt/aip-storage", "AIP_STORAGE_URI=/mnt/aip-storage"),  # written below
    "azure-azureml": ("azureml", "/var/azureml-app/azureml-models/iris/", "AZUREML_MODEL_DIR=/var/azureml-app/"),
    "kubernetes-kserve": ("kserve", None, "PORT=8080"),  # a local model is baked (no storageUri to download)
    "gcp-cloudrun": ("cloudrun", None, "PORT=8080"),
}


def test_up_local_runs_every_platforms_contract(engine, tmp_path):
    """#17: the other platforms through `up --local` too, not only hand-written `docker run` arguments:
    Vertex (AIP_* and the model at AIP_STORAGE_URI), Azure ML (AZUREML_MODEL_DIR, the model one
    folder below), KServe (the InferenceService's args and env, its V1 route), Cloud Run (the model
    baked in, PORT). Each is built from the stack's own plan, answers status (ready) and invoke, and
    destroy removes it. The images share the stand-in's layers; one test for all four."""
    from helpers import ROOT

    project = iris_copy(tmp_path)
    for stack, (target, mount, variable) in PLATFORMS.items():
        if stack == "gcp-vertex":  # the reference stack is the GPU one; the CPU image is the one built here
            (project / "stacks" / f"{stack}.yaml").write_text(
                "cloud: gcp\ntarget: vertex\nproject: my-gcp-project\nregion: us-central1\nscaling: {min: 1}\n")
        else:
            shutil.copy(ROOT / "stacks" / f"{stack}.yaml", project / "stacks" / f"{stack}.yaml")
        where = ["--project", str(project), "--stack", stack, "--local"]
        start = time.monotonic()
        name = "(not started)"
        try:
            up = json.loads(cli("up", *where, "--base-image", engine, "--json").stdout)
            TIMINGS[f"up --local {target}"] = time.monotonic() - start
            assert up["action"] == "started" and up["target"] == target, up
            name = up["container"]
            inspect = json.loads(docker("inspect", name).stdout)[0]
            binds = inspect["HostConfig"]["Binds"] or []
            if mount is None:
                assert binds == [], binds  # baked into the image
            else:
                (bind,) = binds
                assert bind.split(":")[1].startswith(mount) and bind.endswith(":ro"), bind
            assert any(e.startswith(variable) for e in inspect["Config"]["Env"]), (variable, inspect["Config"]["Env"])
            status = json.loads(cli("status", *where, "--json").stdout)
            assert status["running"] is True and status["ready"] is True, status
            answer = json.loads(cli("invoke", *where, "--data", json.dumps({"instances": ROWS})).stdout)
            assert answer == {"predictions": [0, 2]}, (stack, answer)
        finally:
            gone = CliRunner().invoke(app, ["destroy", *where])
        assert gone.exit_code == 0, gone.output
        assert docker("ps", "-aq", "--filter", f"name={name}").stdout.strip() == ""
