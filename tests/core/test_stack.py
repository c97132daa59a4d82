from pathlib import Path

import pytest
from helpers import ROOT, write_project

from mlfn.errors import AdapterNotInstalled, StackError
from mlfn.project import resolve_stack
from mlfn.spec import load_spec

SPEC = "name: iris\nmodel: {uri: ./model, format: sklearn}\nscaling: {min: %d, max: 4}\n"


def project(tmp_path: Path, stacks: dict[str, str], min_replicas: int = 0):
    root = write_project(tmp_path / "p", SPEC % min_replicas, stacks)
    return root, load_spec(root / "mlfn.yaml")


def test_no_stack_means_local_when_it_exists(tmp_path):
    root, spec = project(tmp_path, {"local": "cloud: local\n", "prod": "cloud: fake\nregion: r\n"})
    r = resolve_stack(root, spec)
    assert (r.name, r.cloud, r.target) == ("local", "local", None)


def test_no_stack_means_the_only_one(tmp_path):
    root, spec = project(tmp_path, {"prod": "cloud: fake\nregion: r\n"})
    assert resolve_stack(root, spec).name == "prod"


def test_several_stacks_without_local_is_an_error_listing_them(tmp_path):
    root, spec = project(tmp_path, {"a": "cloud: fake\nregion: r\n", "b": "cloud: fake\nregion: r\n"})
    with pytest.raises(StackError, match="pass --stack with one of a, b"):
        resolve_stack(root, spec)


def test_no_stacks_at_all(tmp_path):
    root, spec = project(tmp_path, {})
    with pytest.raises(StackError, match="no stack files"):
        resolve_stack(root, spec)


def test_unknown_stack_name_lists_the_stacks(tmp_path):
    root, spec = project(tmp_path, {"local": "cloud: local\n"})
    with pytest.raises(StackError, match=r"stack 'prod' not found .*\(stacks: local\)"):
        resolve_stack(root, spec, "prod")


def test_stack_by_path(tmp_path):
    root, spec = project(tmp_path, {"local": "cloud: local\n", "prod": "cloud: fake\nregion: r\n"})
    assert resolve_stack(root, spec, str(root / "stacks" / "prod.yaml")).cloud == "fake"


@pytest.mark.parametrize(("min_replicas", "target"), [(0, "serverless"), (1, "instances"), (3, "instances")])
def test_default_target_rule(tmp_path, min_replicas, target):
    root, spec = project(tmp_path, {"prod": "cloud: fake\nregion: r\n"}, min_replicas)
    r = resolve_stack(root, spec, "prod")
    assert (r.target, r.target_was_default) == (target, True)


def test_explicit_target_and_unknown_target(tmp_path):
    root, spec = project(tmp_path, {"a": "cloud: fake\nregion: r\ntarget: instances\n",
                                    "b": "cloud: fake\nregion: r\ntarget: gpu-pods\n"})
    assert resolve_stack(root, spec, "a").target == "instances"
    message = r"target: 'gpu-pods' is not a target of cloud fake \(targets: serverless, instances\)"
    with pytest.raises(StackError, match=message):
        resolve_stack(root, spec, "b")


def test_location_from_environment_else_error_naming_field(tmp_path):
    root, spec = project(tmp_path, {"prod": "cloud: fake\n"})
    assert resolve_stack(root, spec, "prod", env={"FAKE_REGION": "eu-9"}).location.region == "eu-9"
    with pytest.raises(StackError, match=r"cloud fake needs region \(or set FAKE_REGION\)"):
        resolve_stack(root, spec, "prod", env={})


def test_setting_of_another_cloud_is_an_error(tmp_path):
    root, spec = project(tmp_path, {"prod": "cloud: fake\nregion: r\nnamespace: ml\n"})
    with pytest.raises(StackError, match="namespace is not a setting of cloud fake"):
        resolve_stack(root, spec, "prod")


def test_cloud_override_for_one_run(tmp_path):
    root, spec = project(tmp_path, {"local": "cloud: local\nport: 9000\n"})
    r = resolve_stack(root, spec, "local", cloud="fake", env={"FAKE_REGION": "x"})
    assert (r.cloud, r.target, r.pulumi_stack) == ("fake", "serverless", "local-fake")


def test_pulumi_stack_keyed_by_stack_and_cloud(tmp_path):
    root, spec = project(tmp_path, {"prod": "cloud: fake\nregion: r\n"})
    assert resolve_stack(root, spec, "prod").pulumi_stack == "prod-fake"


def test_cloud_without_adapter_names_the_install_command_that_works_from_here(tmp_path, monkeypatch):
    from importlib import metadata

    from mlfn import registry

    only_fake = [ep for ep in metadata.entry_points(group=registry.GROUP) if ep.name == "fake"]
    monkeypatch.setattr(metadata, "entry_points", lambda group: only_fake)
    root, spec = project(tmp_path, {"prod": "cloud: gcp\nproject: p\n"})
    monkeypatch.chdir(ROOT)
    with pytest.raises(AdapterNotInstalled, match=r"cloud 'gcp' needs its adapter: pip install -e adapters/gcp$"):
        resolve_stack(root, spec, "prod")
    assert registry.install_hint("mlfn-gcp", root=tmp_path) == "pip install mlfn-gcp"  # not a checkout


def test_unknown_third_party_cloud(tmp_path):
    root, spec = project(tmp_path, {"prod": "cloud: ibm\n"})
    message = r"no adapter for cloud 'ibm' is installed \(installed: local, .*fake"
    with pytest.raises(AdapterNotInstalled, match=message):
        resolve_stack(root, spec, "prod")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("cloud: AWS\n", "cloud: 'AWS': must be a lowercase cloud name"),
        ("cloud: fake\nregoin: r\n",
         "stacks/prod.yaml:2: regoin is not a setting of cloud fake \\(its settings: region"),
        ("region: r\n", "cloud: is required"),
        ("cloud: local\nport: 70000\n", "port: 70000: Input should be less than or equal to 65535"),
    ],
)
def test_bad_stack_files(tmp_path, text, message):
    root, spec = project(tmp_path, {"prod": text})
    with pytest.raises(StackError, match=message):
        resolve_stack(root, spec, "prod")
