"""A real AWS account: deploy the iris example to SageMaker Serverless, invoke it, destroy it.

Collected always; runs only with MLFN_LIVE_TESTS=1, AWS credentials, the pulumi CLI and Docker:

    MLFN_LIVE_TESTS=1 AWS_PROFILE=... AWS_REGION=us-east-1 pytest tests/aws/test_live.py
"""

import json
import os
import shutil

import boto3
import pytest
from helpers import EXAMPLES

import mlfn

pytestmark = pytest.mark.cloud


def _reason() -> str | None:
    if os.environ.get("MLFN_LIVE_TESTS") != "1":
        return "live AWS test: set MLFN_LIVE_TESTS=1 with real AWS credentials"
    for tool in ("pulumi", "docker"):
        if shutil.which(tool) is None:
            return f"live AWS test: needs the {tool} CLI"
    if boto3.Session().get_credentials() is None:
        return "live AWS test: no AWS credentials"
    return None


def test_serverless_round_trip(tmp_path, monkeypatch):
    reason = _reason()
    if reason:
        pytest.skip(reason)
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", os.environ.get("PULUMI_CONFIG_PASSPHRASE", "live-test"))
    project = tmp_path / "iris"
    shutil.copytree(EXAMPLES / "iris-sklearn", project, ignore=shutil.ignore_patterns(".mlfn"))
    region = os.environ.get("AWS_REGION", "us-east-1")
    (project / "stacks" / "live.yaml").write_text(f"cloud: aws\ntarget: sagemaker-serverless\nregion: {region}\n")
    try:
        mlfn.up(project, stack="live")
        r = mlfn.invoke(project, json.dumps({"instances": [[5.1, 3.5, 1.4, 0.2]]}).encode(), stack="live")
        assert r.ok and json.loads(r.body) == {"predictions": [0]}
    finally:
        mlfn.destroy(project, stack="live")
