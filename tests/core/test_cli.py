"""The CLI: exact output and exit codes, in process; one run in a real subprocess."""

import json
import os
import subprocess
import sys

import pytest
from helpers import write_project
from typer.testing import CliRunner

import mlfn
from mlfn.cli import app
from mlfn.spec import json_schema_text

SPEC = "name: iris\nmodel: {uri: ./model, format: sklearn}\nscaling: {min: 1, max: 3}\n"
runner = CliRunner()


@pytest.fixture
def project(tmp_path):
    return write_project(tmp_path / "p", SPEC, {"prod": "cloud: fake\nregion: eu-1\n", "local": "cloud: local\n"})


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_validate_local_and_cloud(project):
    r = run("validate", "--project", project)
    assert (r.exit_code, r.stdout) == (0, "ok: iris is valid; stack local: cloud local\n")
    r = run("validate", "--project", project, "--stack", "prod")
    assert r.stdout == "ok: iris is valid; stack prod: cloud fake, target instances (default for scaling.min)\n"
    r = run("validate", "--project", project, "--stack", "prod", "--json")
    assert json.loads(r.stdout) == {"name": "iris", "cloud": "fake", "target": "instances", "ok": True}


def test_bad_spec_exits_1_with_the_message_and_no_traceback(project):
    (project / "mlfn.yaml").write_text(SPEC.replace("format: sklearn", "format: sklearn}\ncompute: {gpu: {type: v100x"))
    (project / "mlfn.yaml").write_text(
        "name: iris\nmodel: {uri: ./model, format: sklearn}\ncompute:\n  gpu: {type: v100x}\n")
    r = run("validate", "--project", project)
    assert r.exit_code == 1
    assert r.stderr == "error: mlfn.yaml:4: compute.gpu.type: 'v100x' is not one of l4, t4, a10g, a100, h100\n"
    assert "Traceback" not in r.output


def test_check_errors_are_listed(project):
    (project / "mlfn.yaml").write_text(SPEC.replace("min: 1", "min: 0") + "compute: {gpu: {type: t4}}\n")
    r = run("validate", "--project", project, "--stack", "prod")
    assert r.exit_code == 1
    assert r.stderr == ("error: this deployment cannot run as described:\n"
                        "- fake has no GPUs that scale to zero: set scaling.min: 1\n")


def test_plan_json_and_tree(project):
    r = run("plan", "--project", project, "--stack", "prod", "--json")
    assert r.exit_code == 0
    data = json.loads(r.stdout)
    types = [x["type"] for x in data["resources"]]
    assert types == ["fake:index:Endpoint", "fake:index:Store", "mlfn:index:Deployment"]
    r = run("plan", "--project", project, "--stack", "prod")
    assert r.stdout.splitlines()[0] == "iris  cloud=fake target=instances  (3 resources)"
    assert "    + fake:index:Store  iris-store" in r.stdout


def test_cloud_commands_without_pulumi_cli(project, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    for verb in ("up", "preview", "destroy", "outputs", "status", "logs"):
        r = run(verb, "--project", project, "--stack", "prod", *(["--yes"] if verb == "destroy" else []))
        assert r.exit_code == 1, verb
        assert f"error: the pulumi CLI is not installed, and `mlfn {verb}` on a cloud stack needs it" in r.stderr, verb
        assert "`mlfn plan` works without it" in r.stderr


def test_schema_prints_the_json_schema():
    r = run("schema")
    assert r.exit_code == 0 and r.stdout == json_schema_text()


def test_targets_lists_local_and_installed():
    r = run("targets")
    lines = r.stdout.splitlines()
    assert lines[0] == "local        process                                      this machine"
    assert ("aws          sagemaker, sagemaker-serverless, lambda      default: sagemaker-serverless when "
            "scaling.min is 0, else sagemaker") in lines
    assert not [line for line in lines if line.startswith("fake")]  # test adapters are hidden


def test_doctor_reports_each_check_with_a_fix(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("HOME", str(tmp_path))
    r = run("doctor")
    assert r.exit_code == 1
    assert "FAIL pulumi CLI: not found on PATH\n     fix: curl -fsSL https://get.pulumi.com | sh" in r.stdout
    assert "FAIL docker: not found on PATH" in r.stdout
    for tool in ("pulumi", "docker"):
        (bin_dir / tool).write_text("#!/bin/sh\n")
        (bin_dir / tool).chmod(0o755)
    # Credentials of every cloud whose adapter may be installed in this environment.
    for rel in (".aws/credentials", ".config/gcloud/application_default_credentials.json",
                ".azure/azureProfile.json", ".kube/config"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("{}")
    r = run("doctor")
    assert f"ok   pulumi CLI: {bin_dir}/pulumi" in r.stdout and f"ok   docker: {bin_dir}/docker" in r.stdout
    assert r.exit_code == 0, r.stdout


def test_invoke_needs_a_body(project):
    r = runner.invoke(app, ["invoke", "--project", str(project), "--data", "{}", "--file", "x"])
    assert (r.exit_code, r.stderr) == (1, "error: pass --data or --file, not both\n")


def test_missing_project(tmp_path):
    r = run("validate", "--project", tmp_path)
    assert r.exit_code == 1 and "mlfn.yaml: file not found (run mlfn init, or pass --project DIR)" in r.stderr


def test_real_subprocess_exit_code(project):
    (project / "stacks" / "prod.yaml").write_text("cloud: fake\nregion: eu-1\ntarget: nope\n")
    env = dict(os.environ)
    p = subprocess.run([sys.executable, "-m", "mlfn.cli", "validate", "--project", str(project), "--stack", "prod"],
                       capture_output=True, text=True, env=env)
    assert p.returncode == 1
    assert p.stderr.startswith("error: ") and "Traceback" not in p.stderr


def test_a_badly_typed_override_is_a_clear_error_with_file_and_line(project):
    (project / "stacks" / "prod.yaml").write_text("cloud: fake\nregion: eu-1\noverrides:\n  fake:\n"
                                                  "    log_retention_days: a month\n")
    for verb in ("validate", "plan"):
        r = run(verb, "--project", project, "--stack", "prod")
        assert r.exit_code == 1, r.output
        assert r.stderr.startswith("error: stacks/prod.yaml:5: overrides.fake.log_retention_days: 'a month': ")
        assert "Traceback" not in r.output


def test_a_portable_region_is_mapped_by_the_adapter(project):
    (project / "stacks" / "prod.yaml").write_text("cloud: fake\nregion: europe-west\n")
    assert mlfn.validate(project, stack="prod").stack.location.region == "eu-1"
    (project / "stacks" / "prod.yaml").write_text("cloud: fake\nregion: asia-southeast\n")
    r = run("validate", "--project", project, "--stack", "prod")
    assert r.exit_code == 1
    assert "stacks/prod.yaml:2: region: cloud fake has no region for the portable name 'asia-southeast'" in r.stderr


def test_plan_text_starts_with_what_costs_money(project):
    (project / "stacks" / "prod.yaml").write_text("cloud: fake\ntarget: instances\nregion: eu-1\n")
    (project / "mlfn.yaml").write_text(SPEC.replace("min: 1", "min: 0"))
    r = run("plan", "--project", project, "--stack", "prod")
    assert r.exit_code == 0
    assert r.stdout.splitlines()[1:9] == [
        "  target:        instances",
        "  location:      region=eu-1",
        "  machine:       f.small",
        "  compute:       2 vCPU, 4Gi",
        "  replicas:      0-3",
        "  scale to zero: no: target instances keeps at least one replica on (billed while idle)",
        "  auth:          private",
        "  logs:          fake-logs://iris",
    ]
    assert r.stdout.splitlines()[9] == ("  estimate:      unknown/month (cloud fake has no price catalog) at 1,000,000 "
                                        "requests a month (mlfn cost --traffic T prices yours)")
    data = json.loads(run("plan", "--project", project, "--stack", "prod", "--json").stdout)
    assert data["summary"]["machine"] == "f.small"


def test_plan_tree_cuts_long_values_to_the_width_and_wide_cuts_none():
    from mlfn.plan import Plan, PlannedResource, render_tree

    plan = Plan("iris", "fake", "instances", [PlannedResource("fake:index:Store", "s", None, {"k": "v" * 90})])
    assert "v" * 90 not in render_tree(plan, width=80) and "..." in render_tree(plan, width=80)
    assert f"k={'v' * 90}" in render_tree(plan, width=None)


def test_destroying_a_cloud_deployment_asks_first(project, monkeypatch):
    r = run("destroy", "--project", project, "--stack", "prod")
    assert r.exit_code == 2
    assert r.stderr == ("error: destroying prod-fake (every resource of iris on fake) needs confirmation: "
                        "run it on a terminal, or pass --yes\n")
    from mlfn.cli import cloud_cmds

    monkeypatch.setattr(cloud_cmds, "_interactive", lambda: True)
    r = runner.invoke(app, ["destroy", "--project", str(project), "--stack", "prod"], input="n\n")
    assert r.exit_code == 1 and "not destroyed" in r.stderr


def test_version_and_short_help():
    from mlfn import __version__

    assert run("--version").stdout == f"mlfn {__version__}\n"
    r = run("plan", "-h")
    assert r.exit_code == 0 and "--wide" in r.stdout


def test_errors_are_json_under_json(project):
    (project / "stacks" / "prod.yaml").write_text("cloud: fake\nregion: eu-1\ntarget: nope\n")
    r = run("validate", "--project", project, "--stack", "prod", "--json")
    assert r.exit_code == 1 and r.stdout == ""
    err = json.loads(r.stderr)
    assert err["exit_code"] == 1 and "target: 'nope' is not a target of cloud fake" in err["error"]


def test_a_misspelt_field_gets_a_did_you_mean(project):
    (project / "mlfn.yaml").write_text(SPEC.replace("model:", "modle:"))
    r = run("validate", "--project", project)
    assert "mlfn.yaml:2: modle: is not a known field: did you mean model?" in r.stderr


def test_invoke_prints_the_runtime_error_as_one_line(project, monkeypatch):
    from mlfn import api
    from mlfn.adapter import InvokeResponse

    body = b'{"error": "wrong shape", "detail": "expected 4 features, got 3", "request_id": "r1"}'
    monkeypatch.setattr(api, "invoke", lambda *a, **k: InvokeResponse(422, body))
    r = run("invoke", "--project", project, "--data", "{}")
    assert (r.exit_code, r.stderr) == (1, "error: HTTP 422: wrong shape expected 4 features, got 3 (request id r1)\n")
    r = run("invoke", "--project", project, "--data", "{}", "--json")
    assert r.exit_code == 1 and json.loads(r.stdout) == {"status": 422, "body": json.loads(body)}


def test_doctor_fails_only_for_clouds_the_project_uses(tmp_path, monkeypatch):
    for var in ("AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE", "GOOGLE_APPLICATION_CREDENTIALS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    root = write_project(tmp_path / "p", SPEC, {"prod": "cloud: aws\nregion: us-east-1\n"})
    r = run("doctor", "--project", root)
    assert r.exit_code == 1
    assert "FAIL aws credentials: no credentials found" in r.stdout
    assert "warn gcp credentials: no credentials found" in r.stdout
    (root / "stacks" / "prod.yaml").write_text("cloud: local\n")
    lines = run("doctor", "--project", root).stdout
    assert "warn aws credentials" in lines and "FAIL" not in lines.replace("FAIL pulumi", "").replace(
        "FAIL docker", "")


def test_logs_since_keeps_the_lines_of_that_time(tmp_path, monkeypatch):
    from datetime import datetime, timedelta

    from mlfn import api
    from mlfn.adapter import LogsInfo

    now = datetime.now()
    old, new = (now - timedelta(hours=3)), (now - timedelta(minutes=2))
    lines = (json.dumps({"time": old.strftime("%Y-%m-%d %H:%M:%S,000"), "message": "old"}),
             json.dumps({"time": new.strftime("%Y-%m-%d %H:%M:%S,000"), "message": "new"}),
             "Traceback continuation of new")
    monkeypatch.setattr(api, "logs", lambda *a, **k: LogsInfo("w", None, lines))
    r = run("logs", "--project", tmp_path, "--since", "10m")
    assert r.exit_code == 0 and r.stdout.splitlines() == [lines[1], lines[2]]
    assert run("logs", "--project", tmp_path, "--since", "5h").stdout.splitlines() == list(lines)
    data = json.loads(run("logs", "--project", tmp_path, "--since", "10m", "--json").stdout)
    assert data == {"where": "w", "link": None, "lines": [lines[1], lines[2]]}
    r = run("logs", "--project", tmp_path, "--since", "yesterday")
    assert r.exit_code == 1 and "--since 'yesterday': use a duration" in r.stderr


def test_build_without_docker_says_how_to_get_it(project, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no docker CLI here, and no engine behind DOCKER_HOST
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    r = run("build", "--project", project, "--stack", "prod")
    assert r.exit_code == 1
    assert r.stderr.startswith("error: mlfn build builds the image with the Docker engine, and the Docker engine "
                               "does not answer (")
    assert "install Docker (https://docs.docker.com/engine/install/) and start it" in r.stderr
    r = run("build", "--project", project)
    assert r.exit_code == 1 and "is cloud local: it runs no image" in r.stderr
