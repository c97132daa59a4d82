"""A real cluster: deploy the iris example with the deployment target, invoke it, destroy it.

Collected always; runs only with MLFN_LIVE_TESTS=1, a kubeconfig, the pulumi CLI, kubectl and a
registry the cluster can pull from (MLFN_REGISTRY), plus Docker to build the image.
"""

import os
import shutil
from pathlib import Path

import pytest
from helpers import live_round_trip

pytestmark = pytest.mark.cloud


def _reason() -> str | None:
    kubeconfig = Path(os.environ.get("KUBECONFIG", Path.home() / ".kube" / "config"))
    needs = {
        "MLFN_LIVE_TESTS=1": os.environ.get("MLFN_LIVE_TESTS") == "1",
        "a kubeconfig": kubeconfig.exists(),
        "the pulumi CLI": shutil.which("pulumi") is not None,
        "kubectl": shutil.which("kubectl") is not None,
        "docker": shutil.which("docker") is not None,
        "MLFN_REGISTRY": bool(os.environ.get("MLFN_REGISTRY")),
    }
    missing = [k for k, ok in needs.items() if not ok]
    return f"live cluster test needs {', '.join(missing)}" if missing else None


@pytest.mark.skipif(_reason() is not None, reason=_reason() or "")
def test_deploy_invoke_destroy_on_a_real_cluster(tmp_path, monkeypatch):
    live_round_trip(tmp_path, monkeypatch, "cloud: kubernetes\ntarget: deployment\nnamespace: default\n")
