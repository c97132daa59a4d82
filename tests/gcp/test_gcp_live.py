"""A real Google Cloud project: deploy the iris example to Cloud Run, invoke it, destroy it.

Collected always; runs only with MLFN_LIVE_TESTS=1, Google credentials, GOOGLE_CLOUD_PROJECT, the
pulumi CLI and Docker.
"""

import os
import shutil

import pytest
from helpers import live_round_trip

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
    live_round_trip(tmp_path, monkeypatch, "cloud: gcp\ntarget: cloudrun\n")
