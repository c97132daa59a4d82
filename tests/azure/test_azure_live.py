"""A real Azure subscription: deploy the iris example to Container Apps, invoke it, destroy it.

Collected always; runs only with MLFN_LIVE_TESTS=1, AZURE_SUBSCRIPTION_ID, `az login`, the pulumi
CLI and Docker.
"""

import json
import os
import shutil

import pytest
from helpers import EXAMPLES

import mlfn

pytestmark = pytest.mark.cloud


def _reason() -> str | None:
    if os.environ.get("MLFN_LIVE_TESTS") != "1":
        return "live Azure test: set MLFN_LIVE_TESTS=1 with real Azure credentials"
    if not os.environ.get("AZURE_SUBSCRIPTION_ID"):
        return "live Azure test: set AZURE_SUBSCRIPTION_ID"
    for tool in ("pulumi", "docker", "az"):
        if shutil.which(tool) is None:
            return f"live Azure test: needs the {tool} CLI"
    return None


def test_containerapps_round_trip(tmp_path, monkeypatch):
    reason = _reason()
    if reason:
        pytest.skip(reason)
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", os.environ.get("PULUMI_CONFIG_PASSPHRASE", "live-test"))
    project = tmp_path / "iris"
    shutil.copytree(EXAMPLES / "iris-sklearn", project, ignore=shutil.ignore_patterns(".mlfn"))
    spec = project / "mlfn.yaml"
    spec.write_text(spec.read_text().replace("auth: private", "auth: key"))
    (project / "stacks" / "live.yaml").write_text("cloud: azure\ntarget: containerapps\nlocation: eastus\n")
    try:
        mlfn.up(project, stack="live")
        r = mlfn.invoke(project, json.dumps({"instances": [[5.1, 3.5, 1.4, 0.2]]}).encode(), stack="live")
        assert r.ok and json.loads(r.body) == {"predictions": [0]}
    finally:
        mlfn.destroy(project, stack="live")
