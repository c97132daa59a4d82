"""The Pulumi engine against the real pulumi CLI: collected always, skipped where the CLI is missing.

Needs no cloud: it creates the stack in the project's local file backend and reads its outputs.
Cloud round trips live beside each adapter's tests.
"""

import shutil

import pytest

import mlfn

pytestmark = pytest.mark.cloud


@pytest.mark.skipif(shutil.which("pulumi") is None, reason="needs the pulumi CLI (not installed here)")
def test_real_cli_creates_the_stack_in_the_local_backend(iris_project, monkeypatch):
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "test")
    (iris_project / "stacks" / "fake.yaml").write_text("cloud: fake\nregion: eu-1\n")
    assert mlfn.outputs(iris_project, stack="fake") == {}
    assert (iris_project / ".mlfn" / "state" / ".pulumi").is_dir()
