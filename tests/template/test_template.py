"""The adapter template is a working adapter: copy these tests to tests/<cloud>/ with your adapter.

- the conformance suite (mlfn.testing.AdapterConformance): reference stacks plan tagged, typed
  settings, bad overrides and unhonourable specs rejected, the init template compiles, the lifecycle;
- the golden plan of each reference stack (`pytest --update-golden` rewrites it; review the diff);
- every check() rule rejects a bad value.
"""

from pathlib import Path

import pytest
from helpers import EXAMPLES, example_project

import mlfn
from mlfn.errors import CheckError
from mlfn.testing import AdapterConformance, Lifecycle

STACKS = Path(__file__).parent / "stacks"
ENDPOINT = "template:index:Endpoint"


class TestConformance(AdapterConformance):
    cloud = "template"
    project = EXAMPLES / "iris-sklearn"
    reference_stacks = (STACKS / "template-serverless.yaml", STACKS / "template-instances.yaml")
    taggable = (ENDPOINT,)
    bad_overrides = (({"tier": "gold"}, "tier"), ({"log_retention_days": "a month"}, "log_retention_days"),
                     ({"log_retention_days": 0}, "log_retention_days"), ({"replicas": 2}, "replicas"))
    unhonourable = (
        ("cloud: template\nregion: region-1\n", "compute: {gpu: {type: l4}}\n", "GPUs cannot scale to zero"),
        ("cloud: template\ntarget: serverless\nregion: region-1\n",
         "scaling: {min: 1, max: 2}\ncompute: {gpu: {type: l4}}\n", "serverless has no GPUs"),
        ("cloud: template\ntarget: instances\nregion: region-1\n", "compute: {cpu: 64, memory: 512Gi}\n",
         "no instances machine has 64 vCPU"),
    )
    lifecycle = {
        target: Lifecycle(f"template-{target}", changes={"model": [ENDPOINT], "requirements": [ENDPOINT],
                                                          "compute": [ENDPOINT]}, stays=[ENDPOINT])
        for target in ("serverless", "instances")
    }


@pytest.mark.parametrize("stack", ["template-serverless", "template-instances"])
def test_reference_stacks_golden(stack, tmp_path, golden):
    project = example_project(tmp_path, ())
    (project / "stacks" / f"{stack}.yaml").write_text((STACKS / f"{stack}.yaml").read_text())
    golden(f"{stack}.json", mlfn.plan(project, stack=stack).to_json())


def test_overrides_reach_the_plan(tmp_path):
    project = example_project(tmp_path, (), "cloud: template\ntarget: instances\nregion: region-1\n"
                              "overrides: {template: {machine_type: big-1}}\n")
    assert mlfn.plan(project, stack="t").one(ENDPOINT).inputs["machine"] == "big-1"
    with pytest.raises(CheckError, match="GPUs cannot scale to zero"):
        mlfn.validate(example_project(tmp_path / "b", (), "cloud: template\nregion: region-1\n",
                                      lambda s: s + "compute: {gpu: {type: l4}}\n"), stack="t")
