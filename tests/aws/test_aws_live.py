"""A real AWS account: deploy the iris example to SageMaker Serverless, invoke it, destroy it.

Collected always; runs only with MLFN_LIVE_TESTS=1, AWS credentials, the pulumi CLI and Docker:

    MLFN_LIVE_TESTS=1 AWS_PROFILE=... AWS_REGION=us-east-1 pytest tests/aws/test_aws_live.py
"""

import os
import shutil

import boto3
import pytest
from helpers import live_round_trip

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
    region = os.environ.get("AWS_REGION", "us-east-1")
    live_round_trip(tmp_path, monkeypatch, f"cloud: aws\ntarget: sagemaker-serverless\nregion: {region}\n")
