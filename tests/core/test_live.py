"""Live deployments: collected always, run only with the pulumi CLI and a cloud's credentials.

Run them with: MLFN_LIVE_TESTS=1 pytest -m cloud  (plus the cloud's credentials and adapter).
"""

import os
import shutil

import pytest

pytestmark = pytest.mark.cloud


def _skip_reason(cloud_vars: tuple[str, ...]) -> str | None:
    if os.environ.get("MLFN_LIVE_TESTS") != "1":
        return "live test: set MLFN_LIVE_TESTS=1 with real credentials to run it"
    if shutil.which("pulumi") is None:
        return "live test: needs the pulumi CLI"
    if not any(os.environ.get(v) for v in cloud_vars):
        return f"live test: needs credentials ({' or '.join(cloud_vars)})"
    return None


def test_live_pulumi_engine_round_trip_on_the_fake_free_path(iris_project):
    reason = _skip_reason(("PULUMI_CONFIG_PASSPHRASE",))
    if reason:
        pytest.skip(reason)
    import mlfn

    # The pulumi CLI and a local backend, with no cloud: preview of a stack whose adapter makes no calls.
    (iris_project / "stacks" / "fake.yaml").write_text("cloud: fake\nregion: eu-1\n")
    result = mlfn.preview(iris_project, stack="fake")
    assert result.stack == "fake-fake"
