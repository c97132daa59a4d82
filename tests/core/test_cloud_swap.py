"""Swapping clouds is a one-line edit: with portable regions and the cloud CLIs' own configuration
(and nothing in the environment), editing only ``cloud:`` in a stack file plans on every cloud."""

import json
import os
import re

import pytest
from helpers import example_project

import mlfn
from mlfn.errors import CheckError

CLOUD_VARS = ("AWS_", "GOOGLE_", "CLOUDSDK_", "AZURE_", "ARM_", "KUBECONFIG", "MLFN_")
CPU = ("scaling: {min: 0, max: 2}\n", {"aws": "sagemaker-serverless", "gcp": "cloudrun", "azure": "containerapps"})
GPU = ("scaling: {min: 1, max: 2}\ncompute: {cpu: 4, memory: 16Gi, gpu: {type: t4}}\n",
       {"aws": "sagemaker", "gcp": "vertex", "azure": "azureml"})


@pytest.fixture
def cli_home(tmp_path, monkeypatch):
    """An empty environment and a home holding only the cloud CLIs' configuration files."""
    for var in list(os.environ):
        if var.startswith(CLOUD_VARS):
            monkeypatch.delenv(var)
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "config").write_text("[default]\nregion = eu-west-1\n")
    gcloud = home / ".config" / "gcloud"
    (gcloud / "configurations").mkdir(parents=True)
    (gcloud / "active_config").write_text("work\n")
    (gcloud / "configurations" / "config_work").write_text("[core]\nproject = my-real-project\n")
    (home / ".azure").mkdir()
    (home / ".azure" / "azureProfile.json").write_text(
        "\ufeff" + json.dumps({"subscriptions": [{"id": "0000-sub", "isDefault": True}]}), encoding="utf-8")
    monkeypatch.setenv("HOME", str(home))
    return home


@pytest.mark.parametrize(("spec_extra", "targets"), [CPU, GPU], ids=["cpu-min0", "t4-min1"])
def test_every_pair_of_clouds_swaps_by_editing_only_cloud(cli_home, tmp_path, spec_extra, targets):
    import itertools

    for a, b in itertools.permutations(targets, 2):
        project = example_project(tmp_path / f"{a}-{b}", (), f"cloud: {a}\nregion: us-east\n", lambda s: s + spec_extra)
        assert mlfn.plan(project, stack="t").cloud == a
        stack = project / "stacks" / "t.yaml"
        stack.write_text(stack.read_text().replace(f"cloud: {a}", f"cloud: {b}"))
        plan = mlfn.plan(project, stack="t")
        assert (plan.cloud, plan.target) == (b, targets[b])


@pytest.mark.parametrize(("spec_extra", "targets"), [CPU, GPU], ids=["cpu-min0", "t4-min1"])
def test_editing_only_cloud_plans_on_every_cloud(cli_home, tmp_path, spec_extra, targets):
    project = example_project(tmp_path, (), "cloud: aws\nregion: us-east\n", lambda s: s + spec_extra)
    stack = project / "stacks" / "t.yaml"
    for cloud, target in targets.items():
        stack.write_text(stack.read_text().replace(stack.read_text().splitlines()[0], f"cloud: {cloud}"))
        plan = mlfn.plan(project, stack="t")
        assert (plan.cloud, plan.target) == (cloud, target)
    resolved = {c: mlfn.validate(project, stack="t", cloud=c).stack.location for c in targets}
    assert resolved["aws"].region == "us-east-1"
    assert (resolved["gcp"].project, resolved["gcp"].region) == ("my-real-project", "us-east4")
    assert (resolved["azure"].location, resolved["azure"].subscription) == ("eastus", "0000-sub")


def test_the_cli_configuration_fills_what_the_stack_leaves_out(cli_home, tmp_path):
    project = example_project(tmp_path, (), "cloud: aws\n")
    assert mlfn.validate(project, stack="t").stack.location.region == "eu-west-1"


def test_a_swap_to_kubernetes_names_exactly_what_to_add(cli_home, tmp_path):
    project = example_project(tmp_path, (), "cloud: kubernetes\nregion: us-east\n")
    with pytest.raises(CheckError, match="registry"):
        mlfn.validate(project, stack="t")
    (project / "stacks" / "t.yaml").write_text("cloud: kubernetes\nregion: us-east\nregistry: ghcr.io/me\n")
    notes = mlfn.validate(project, stack="t").notes
    assert "cloud kubernetes has no regions: region: us-east is ignored" in notes


@pytest.mark.parametrize(("stack", "message"), [
    ("cloud: aws\nregion: mars-1\n", "region: 'mars-1': is not an AWS region name"),
    ("cloud: aws\nregion: us-central1\n", "did you mean us-central-1?"),
    ("cloud: gcp\nproject: p-1\nregion: us-east-1\n", "did you mean us-east1? (that is an AWS-style name)"),
    ("cloud: azure\nlocation: East US\n", "is not an Azure region name (like eastus"),
])
def test_a_malformed_region_is_an_error_naming_the_clouds_form(tmp_path, stack, message):
    from mlfn.errors import StackError

    project = example_project(tmp_path, (), stack)
    with pytest.raises(StackError, match=re.escape(message)):
        mlfn.validate(project, stack="t")
