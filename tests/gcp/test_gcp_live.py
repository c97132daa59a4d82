"""A real Google Cloud project: deploy the iris example to Cloud Run, invoke it, destroy it.

Collected always; runs only with MLFN_LIVE_TESTS=1, Google credentials, GOOGLE_CLOUD_PROJECT, the
pulumi CLI and Docker.
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
        return "live GCP test: set MLFN_LIVE_TESTS=1 with real Google credentials"
    if not os.environ.get("GOOGLE_CLOUD_PROJECT"):
        return "live GCP test: set GOOGLE_CLOUD_PROJECT"
    for tool in ("pulumi", "docker"):
        if shutil.which(tool) is None:
            return f"live GCP test: needs the {tool} CLI"
    return None


def test_cloudrun_round_trip(tmp_path, monkeypatch):
    reason = _reason()
    if reason:
        pytest.skip(reason)
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", os.environ.get("PULUMI_CONFIG_PASSPHRASE", "live-test"))
    project = tmp_path / "iris"
    shutil.copytree(EXAMPLES / "iris-sklearn", project, ignore=shutil.ignore_patterns(".mlfn"))
    (project / "stacks" / "live.yaml").write_text("cloud: gcp\ntarget: cloudrun\n")
    try:
        mlfn.up(project, stack="live")
        r = mlfn.invoke(project, json.dumps({"instances": [[5.1, 3.5, 1.4, 0.2]]}).encode(), stack="live")
        assert r.ok and json.loads(r.body) == {"predictions": [0]}
    finally:
        mlfn.destroy(project, stack="live")
