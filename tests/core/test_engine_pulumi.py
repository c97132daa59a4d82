"""The Pulumi engine, with the Automation API replaced at its edge (no CLI here)."""

import os
from types import SimpleNamespace

import pytest
from helpers import write_project

import mlfn
from mlfn.engine import pulumi_engine
from mlfn.errors import EngineError, PulumiCliMissing

SPEC = "name: iris\nmodel: {uri: ./model, format: sklearn}\n"


class CommandError(Exception):
    pass


class FakeStack:
    def __init__(self, fail: bool = False):
        self.fail = fail
        self.calls = []
        self.workspace = SimpleNamespace(list_stacks=lambda: [
            SimpleNamespace(name="prod-fake", resource_count=4),
            SimpleNamespace(name="prod-other", resource_count=7),
            SimpleNamespace(name="prod-gone", resource_count=0),
            SimpleNamespace(name="staging-fake", resource_count=3),
        ])

    #: The state's resources, as ``pulumi stack export`` lists them.
    resources: list = []
    fail_refresh: bool = False
    #: What a preview would do: (URN, operation) for each step, as its resource pre-events say.
    planned: list = []

    def preview(self, on_event=None):
        self.calls.append("preview")
        for urn, op in self.planned:
            meta = SimpleNamespace(urn=urn, op=SimpleNamespace(value=op), type=urn.split("::")[2].split("$")[-1])
            if on_event is not None:
                on_event(SimpleNamespace(resource_pre_event=SimpleNamespace(metadata=meta), res_op_failed_event=None,
                                         diagnostic_event=None))
        return SimpleNamespace(change_summary={op: 1 for _, op in self.planned})

    def export_stack(self):
        self.calls.append("export")
        return SimpleNamespace(version=3, deployment={"manifest": {}, "resources": list(self.resources)})

    def refresh(self, target=None, on_event=None):
        self.calls.append(("refresh", target))
        if self.fail_refresh:
            raise CommandError("code: 255 stderr: reading deployment failed")
        return SimpleNamespace(summary=SimpleNamespace(resource_changes={"same": len(target or ())}))

    def up(self, on_event=None):
        self.calls.append("up")
        if self.fail:
            raise CommandError("code: 255 stderr: creating endpoint failed")
        outputs = {"url": SimpleNamespace(value="https://x", secret=False),
                   "token": SimpleNamespace(value="t", secret=True)}
        return SimpleNamespace(outputs=outputs, summary=SimpleNamespace(resource_changes={"create": 3}))

    def destroy(self, on_event=None):
        self.calls.append("destroy")
        return SimpleNamespace(summary=SimpleNamespace(resource_changes={"delete": 3}))

    def outputs(self):
        return {"url": SimpleNamespace(value="https://x", secret=False)}


@pytest.fixture
def fake_auto(monkeypatch, tmp_path):
    made = {}

    def create_or_select_stack(stack_name, project_name, program, opts):
        made.update(stack_name=stack_name, project_name=project_name, opts=opts, program=program)
        return made.setdefault("stack", FakeStack(made.get("fail", False)))

    auto = SimpleNamespace(
        CommandError=CommandError,
        ProjectSettings=lambda **kw: SimpleNamespace(**kw),
        ProjectBackend=lambda url: SimpleNamespace(url=url),
        LocalWorkspaceOptions=lambda **kw: SimpleNamespace(**kw),
        create_or_select_stack=create_or_select_stack,
        PulumiCommand=lambda version: SimpleNamespace(min_version=version),
        InvalidVersionError=type("InvalidVersionError", (Exception,), {}),
    )
    monkeypatch.setattr(pulumi_engine, "_auto", lambda: auto)
    monkeypatch.setattr(pulumi_engine.shutil, "which", lambda name: "/usr/bin/pulumi")
    return made


@pytest.fixture
def project(tmp_path):
    return write_project(tmp_path / "p", SPEC, {"prod": "cloud: fake\nregion: eu-1\n"})


def test_an_old_cli_is_refused_before_it_replaces_resources(project, fake_auto, monkeypatch, tmp_path):
    """Before 3.153.0 the engine replaced resources whose provider became explicit (pulumi/pulumi#18509).
    The Automation API's own version check (a real PulumiCommand against a stand-in CLI) holds it to that."""
    from pulumi import automation

    auto = pulumi_engine._auto()
    monkeypatch.setattr(auto, "PulumiCommand", automation.PulumiCommand, raising=False)
    monkeypatch.setattr(auto, "InvalidVersionError", automation.InvalidVersionError, raising=False)
    monkeypatch.delenv("PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK", raising=False)
    cli = tmp_path / "pulumi"
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    monkeypatch.setattr(pulumi_engine.shutil, "which", lambda name: str(cli))
    cli.write_text("#!/bin/sh\necho v3.150.1\n")
    cli.chmod(0o755)
    with pytest.raises(PulumiCliMissing) as e:
        mlfn.up(project, stack="prod")
    assert f"the pulumi CLI at {cli} is older than mlfn needs (3.153.0 or later)" in str(e.value)
    assert "3.150.1" in str(e.value) and "brew upgrade pulumi" in str(e.value)
    cli.write_text("#!/bin/sh\necho v3.153.0\n")
    mlfn.up(project, stack="prod")
    assert str(fake_auto["opts"].pulumi_command.version) == "3.153.0"


def test_missing_cli_says_how_to_install_and_offers_plan(project, monkeypatch):
    monkeypatch.setattr(pulumi_engine.shutil, "which", lambda name: None)
    with pytest.raises(PulumiCliMissing) as e:
        mlfn.up(project, stack="prod")
    assert "get.pulumi.com" in str(e.value) and "`mlfn plan` works without it" in str(e.value)


def test_up_uses_local_state_and_stack_keyed_by_cloud(project, fake_auto):
    r = mlfn.up(project, stack="prod")
    assert fake_auto["stack_name"] == "prod-fake" and fake_auto["project_name"] == "iris"
    backend = fake_auto["opts"].project_settings.backend.url
    assert backend == f"file://{project / '.mlfn' / 'state'}"
    assert r.outputs == {"url": "https://x", "token": "[secret]"}
    assert r.changes == {"create": 3}
    assert r.others == ("prod-other",)


def test_backend_option(project, fake_auto):
    mlfn.up(project, stack="prod", backend="s3://bucket/state")
    assert fake_auto["opts"].project_settings.backend.url == "s3://bucket/state"


def test_failed_up_says_where_the_logs_are(project, fake_auto):
    fake_auto["fail"] = True
    with pytest.raises(EngineError) as e:
        mlfn.up(project, stack="prod")
    assert "up of prod-fake failed" in str(e.value) and "Logs: " in str(e.value)


@pytest.mark.parametrize("stderr", [
    "creating IAM Role (iris-prod-exec): EntityAlreadyExists: Role with name iris-prod-exec already exists.",
    "googleapi: Error 409: Resource 'iris-prod' already exists, alreadyExists",
    "Status=409 Code=\"Conflict\" Message=\"A resource with that name already exists\"",
])
def test_a_name_taken_elsewhere_says_how_to_share_the_state(project, fake_auto, monkeypatch, stderr):
    """The same stack deployed from two clones (each with its own .mlfn/state) collides on the names the
    second up creates: the error says why and what to do, instead of the cloud's message alone."""
    fake_auto["fail"] = True
    monkeypatch.setattr(FakeStack, "up", lambda self, on_event=None: (_ for _ in ()).throw(
        CommandError(f"code: 255 stderr: {stderr}")))
    with pytest.raises(EngineError) as e:
        mlfn.up(project, stack="prod")
    assert "share one state backend instead (--backend s3://" in str(e.value) and stderr in str(e.value)


def test_other_failures_get_no_state_hint(project, fake_auto):
    fake_auto["fail"] = True
    with pytest.raises(EngineError) as e:
        mlfn.up(project, stack="prod")
    assert "state backend" not in str(e.value)


def test_destroy_and_outputs(project, fake_auto):
    assert mlfn.destroy(project, stack="prod").changes == {"delete": 3}
    assert mlfn.outputs(project, stack="prod") == {"url": "https://x"}


def test_one_up_checks_once_and_the_program_does_not_check_again(project, fake_auto, monkeypatch):
    from mlfn_fake import FakeAdapter

    from mlfn.plan import run_program

    calls = []
    original = FakeAdapter.check
    monkeypatch.setattr(FakeAdapter, "check", lambda self, spec, stack: calls.append(1) or original(self, spec, stack))
    mlfn.up(project, stack="prod")
    run_program(fake_auto["program"], "iris", "prod-fake")  # what the CLI would run
    assert len(calls) == 1


def test_both_engines_return_the_same_result_types(project, fake_auto, tmp_path):
    from mlfn.engine.base import DestroyResult, Status, UpResult

    assert isinstance(mlfn.up(project, stack="prod"), UpResult)
    assert isinstance(mlfn.destroy(project, stack="prod"), DestroyResult)
    status = mlfn.status(project, stack="prod")
    assert isinstance(status, Status) and status.url == "https://x" and status.cloud == "fake"
    local = write_project(tmp_path / "l", SPEC, {"local": "cloud: local\n"})
    assert isinstance(mlfn.destroy(local), DestroyResult) and isinstance(mlfn.status(local), Status)


def test_cloud_invoke_gets_typed_outputs(project, fake_auto, monkeypatch):
    from mlfn_fake import FakeAdapter, FakeOutputs

    from mlfn.adapter import InvokeResponse

    seen = {}
    fake_auto["stack"] = stack = FakeStack()
    stack.outputs = lambda: {k: SimpleNamespace(value=v, secret=False) for k, v in {
        "url": "https://x", "logs": "fake-logs://iris", "target": "instances",
        "details": {"region": "eu-1", "store": "iris-prod"}}.items()}
    monkeypatch.setattr(FakeAdapter, "invoke", lambda self, outs, st, body, ct: seen.setdefault(
        "o", outs) and InvokeResponse(200, b"{}"))
    assert mlfn.invoke(project, b"{}", stack="prod").ok
    assert isinstance(seen["o"], FakeOutputs) and seen["o"].store == "iris-prod"


def test_cloud_logs_follow_polls_and_yields_only_new_lines(project, fake_auto, monkeypatch):
    from mlfn_fake import FakeAdapter

    from mlfn.adapter import LogsInfo
    from mlfn.engine import pulumi_engine as pe

    fake_auto["stack"] = stack = FakeStack()
    stack.outputs = lambda: {"url": SimpleNamespace(value="https://x", secret=False),
                             "details": SimpleNamespace(value={"region": "eu-1", "store": "s"}, secret=False)}
    batches = iter([("a", "b"), ("a", "b", "c"), ("b", "c", "d", "e")])
    monkeypatch.setattr(FakeAdapter, "logs", lambda self, outs, st, lines=50, spec=None: LogsInfo("w", None,
                                                                                                  next(batches)))
    monkeypatch.setattr(pe.time, "sleep", lambda s: None)
    follow = mlfn.follow_logs(project, stack="prod")
    assert [next(follow) for _ in range(3)] == ["c", "d", "e"]


def test_logs_on_a_cloud_without_logs_exits_2_saying_so(project, fake_auto, monkeypatch):
    from mlfn_fake import FakeAdapter
    from typer.testing import CliRunner

    from mlfn.cli import app

    monkeypatch.setattr(FakeAdapter, "supports_logs", False)
    r = CliRunner().invoke(app, ["logs", "-f", "--project", str(project), "--stack", "prod"])
    assert r.exit_code == 2
    assert "cloud fake does not report logs" in r.stderr


# ---------------------------------------------------------------- what a controller changes
ENDPOINT_URN = "urn:pulumi:prod-fake::iris::mlfn:index:Deployment$fake:index:Endpoint::iris-endpoint"
STATE = [
    {"urn": "urn:pulumi:prod-fake::iris::pulumi:pulumi:Stack::iris-prod-fake", "type": "pulumi:pulumi:Stack"},
    {"urn": "urn:pulumi:prod-fake::iris::mlfn:index:Deployment$fake:index:Store::iris-store",
     "type": "fake:index:Store"},
    {"urn": ENDPOINT_URN, "type": "fake:index:Endpoint"},
]


@pytest.fixture
def controller_owned(monkeypatch):
    """The fake's targets say an outside controller changes their Endpoint's live state."""
    from mlfn_fake import Instances, Serverless

    for cls in (Instances, Serverless):
        monkeypatch.setattr(cls, "refreshed_before_update", ("fake:index:Endpoint",))


def test_up_refreshes_a_controller_owned_resource_the_preview_will_update(project, fake_auto, controller_owned):
    """Pulumi sends an ignored property's value from the state (pulumi.com/docs/iac/concepts/options/
    ignorechanges: "run pulumi refresh ... to pull the latest provider values into the state"); a
    refresh stores the provider's inputs whatever ignoreChanges says (pulumi/pulumi
    pkg/resource/deploy/step.go, RefreshStep.Apply). So before an up that will update a
    controller-owned resource, the engine refreshes it (and only it), then runs the up."""
    fake_auto["stack"] = stack = FakeStack()
    stack.resources = STATE
    stack.planned = [(ENDPOINT_URN, "update"), (STATE[1]["urn"], "update")]
    mlfn.up(project, stack="prod")
    assert stack.calls == ["export", "preview", ("refresh", [ENDPOINT_URN]), "up"]


def test_an_up_that_changes_nothing_it_refreshes_refreshes_nothing(project, fake_auto, controller_owned):
    """A refresh is not free: the provider's read-back differs from what was sent in ways that are no
    change (durations, defaults), and the next up would update (for a deployment: roll) the resource
    over them. So a resource the preview leaves alone is not refreshed."""
    fake_auto["stack"] = stack = FakeStack()
    stack.resources = STATE
    stack.planned = [(ENDPOINT_URN, "same"), (STATE[1]["urn"], "update")]
    mlfn.up(project, stack="prod")
    assert stack.calls == ["export", "preview", "up"]


def test_a_replaced_controller_owned_resource_is_refreshed_too(project, fake_auto, controller_owned):
    fake_auto["stack"] = stack = FakeStack()
    stack.resources = STATE
    stack.planned = [(ENDPOINT_URN, "create-replacement"), (ENDPOINT_URN, "replace"),
                     (ENDPOINT_URN, "delete-replaced")]
    mlfn.up(project, stack="prod")
    assert stack.calls == ["export", "preview", ("refresh", [ENDPOINT_URN]), "up"]


def test_first_up_refreshes_nothing(project, fake_auto, controller_owned):
    fake_auto["stack"] = stack = FakeStack()
    stack.resources = STATE[:1]  # nothing deployed yet
    mlfn.up(project, stack="prod")
    assert stack.calls == ["export", "up"]


def test_targets_that_own_all_their_state_are_not_refreshed(project, fake_auto):
    fake_auto["stack"] = stack = FakeStack()
    stack.resources = STATE
    mlfn.up(project, stack="prod")
    mlfn.destroy(project, stack="prod")
    assert stack.calls == ["up", "destroy"]


def test_a_failed_refresh_stops_the_up_and_says_so(project, fake_auto, controller_owned):
    fake_auto["stack"] = stack = FakeStack()
    stack.resources, stack.fail_refresh = STATE, True
    stack.planned = [(ENDPOINT_URN, "update")]
    with pytest.raises(EngineError) as e:
        mlfn.up(project, stack="prod")
    assert "refresh of prod-fake failed" in str(e.value) and "reading deployment failed" in str(e.value)
    assert "up" not in stack.calls
