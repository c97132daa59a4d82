import json

import pulumi
import pytest
from helpers import write_project
from mlfn_fake import TAG_STYLE as FAKE_STYLE

import mlfn
from mlfn.errors import CheckError, StackError
from mlfn.plan import run_program
from mlfn.project import resolve_stack
from mlfn.spec import load_spec
from mlfn.testing import assert_tagged, untagged

SPEC = """\
name: iris
model: {uri: ./model, format: sklearn}
scaling: {min: 0, max: 4, concurrency: 8}
endpoint: {auth: key}
tags: {team: ds}
"""


@pytest.fixture
def project(tmp_path):
    return write_project(tmp_path / "p", SPEC, {"prod": "cloud: fake\nregion: eu-1\n", "local": "cloud: local\n"})


def test_plan_json_shape_and_golden(project, golden):
    p = mlfn.plan(project, stack="prod")
    data = json.loads(p.to_json())
    assert list(data) == ["name", "cloud", "target", "resources"]
    assert (data["name"], data["cloud"], data["target"]) == ("iris", "fake", "serverless")
    types = [(r["type"], r["name"]) for r in data["resources"]]
    assert types == sorted(types)
    golden("fake-prod.json", p.to_json())


def test_output_of_one_resource_feeds_another(project):
    p = mlfn.plan(project, stack="prod")
    endpoint = p.one("fake:index:Endpoint")
    assert endpoint.inputs["modelLocation"] == "iris-store.arn/model"
    assert endpoint.parent == "iris" and p.one("fake:index:Store").parent == "iris"


def test_secrets_masked_and_ints_stay_ints(project):
    inputs = mlfn.plan(project, stack="prod").one("fake:index:Endpoint").inputs
    assert inputs["apiKey"] == "[secret]"
    assert inputs["replicas"] == 0 and isinstance(inputs["replicas"], int)
    assert inputs["concurrency"] == 8 and isinstance(inputs["concurrency"], int)


def test_same_input_same_bytes_twice_in_one_process(project):
    assert mlfn.plan(project, stack="prod").to_json() == mlfn.plan(project, stack="prod").to_json()


def test_changing_a_key_input_changes_the_plan(project):
    before = mlfn.plan(project, stack="prod").to_json()
    (project / "stacks" / "prod.yaml").write_text("cloud: fake\nregion: eu-1\noverrides: {fake: {size: large}}\n")
    after = mlfn.plan(project, stack="prod")
    assert after.to_json() != before
    assert after.one("fake:index:Endpoint").inputs["size"] == "large"


def test_check_errors_stop_the_plan(project):
    (project / "mlfn.yaml").write_text(SPEC.replace("endpoint: {auth: key}", "endpoint: {auth: public}"))
    with pytest.raises(CheckError, match="fake serverless endpoints are never public"):
        mlfn.plan(project, stack="prod")


def test_local_stack_has_no_plan(project):
    with pytest.raises(StackError, match="cloud local: there is no cloud plan"):
        mlfn.plan(project)


def test_tag_helper_passes_and_fails(project):
    p = mlfn.plan(project, stack="prod")
    assert_tagged(p, FAKE_STYLE, taggable=["fake:index:Store", "fake:index:Endpoint"])
    assert untagged(p, FAKE_STYLE, taggable=["mlfn:index:Deployment"]) == ["mlfn:index:Deployment iris"]


def test_host_program_provider_applies_to_children(project):
    spec = load_spec(project / "mlfn.yaml")
    resolved = resolve_stack(project, spec, "prod")

    def program():
        provider = pulumi.ProviderResource("fake", "eu-provider", {})
        d = mlfn.Deployment("iris", spec, resolved, pulumi.ResourceOptions(providers=[provider]), project)
        return d.url

    resources = run_program(program, "host", "dev")
    children = [r for r in resources if r.type.startswith("fake:index:")]
    assert children and all(r.provider == "eu-provider" for r in children)


def test_planning_leaves_the_processs_pickler_as_it_was(tmp_path):
    """Pulumi's dynamic providers patch the pure-Python pickler and never restore it; after a plan
    with one (GCP's Vertex deployment), joblib.dump in the same process still works, however many
    plans ran."""
    import pickle

    import joblib
    from helpers import example_project

    before = pickle._Pickler.__dict__["_batch_setitems"]
    project = example_project(tmp_path, ("gcp-vertex-gpu",))
    for _ in range(3):
        mlfn.plan(project, stack="gcp-vertex-gpu")
    assert pickle._Pickler.__dict__["_batch_setitems"] is before
    joblib.dump({"a": [1, 2, {"b": 3}]}, tmp_path / "x.joblib")
    assert joblib.load(tmp_path / "x.joblib") == {"a": [1, 2, {"b": 3}]}


def test_a_plan_runs_after_other_code_closed_the_event_loop(project):
    """Pulumi's mocks need the thread's event loop; asyncio.run or an ASGI test client earlier in
    the process may leave none (this failed whenever the runtime's tests ran first)."""
    import asyncio

    asyncio.set_event_loop(None)
    assert mlfn.plan(project, stack="prod").resources
