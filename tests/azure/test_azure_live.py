"""A real Azure subscription: deploy the iris example to Container Apps, invoke it, destroy it.

Collected always; runs only with MLFN_LIVE_TESTS=1, AZURE_SUBSCRIPTION_ID, `az login`, the pulumi
CLI and Docker.
"""

import os
import shutil

import pytest
from helpers import live_round_trip

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
    # key auth: external ingress, so the test can call it from outside the environment.
    live_round_trip(tmp_path, monkeypatch, "cloud: azure\ntarget: containerapps\nlocation: eastus\n",
                    lambda text: text.replace("auth: private", "auth: key"))
