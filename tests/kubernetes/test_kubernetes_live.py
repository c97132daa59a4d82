"""A real cluster: deploy the iris example with the deployment target, invoke it, destroy it.

Collected always; runs only with MLFN_LIVE_TESTS=1, a kubeconfig, the pulumi CLI, kubectl and a
registry the cluster can pull from (MLFN_REGISTRY), plus Docker to build the image.
"""

import json
import os
import shutil
from pathlib import Path

import pytest
from helpers import EXAMPLES

import mlfn

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
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", os.environ.get("PULUMI_CONFIG_PASSPHRASE", "live-test"))
    project = tmp_path / "iris"
    shutil.copytree(EXAMPLES / "iris-sklearn", project, ignore=shutil.ignore_patterns(".mlfn"))
    (project / "stacks" / "live.yaml").write_text("cloud: kubernetes\ntarget: deployment\nnamespace: default\n")
    try:
        mlfn.up(project, stack="live")
        r = mlfn.invoke(project, json.dumps({"instances": [[5.1, 3.5, 1.4, 0.2]]}).encode(), stack="live")
        assert r.ok and json.loads(r.body) == {"predictions": [0]}
    finally:
        mlfn.destroy(project, stack="live")
