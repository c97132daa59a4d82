"""The Pulumi engine: the Automation API with an inline program.

This is the one choke point that talks to the ``pulumi`` CLI. State lives in the project
(``.mlfn/state``) unless a backend URL is given, so no Pulumi account is needed.
"""

from __future__ import annotations

import os
import shutil
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..adapter import InvokeResponse, LogsInfo
from ..errors import EngineError, LogsUnsupported, MlfnError, PulumiCliMissing
from .base import DestroyResult, EngineOptions, PreviewResult, Status, UpResult

INSTALL_HINT = (
    "the pulumi CLI is not installed, and `mlfn {verb}` on a cloud stack needs it (it reads and writes the "
    "deployment's state).\n"
    "Install it: curl -fsSL https://get.pulumi.com | sh   (or: brew install pulumi)\n"
    "`mlfn plan` works without it: it shows every resource and input offline."
)
STATE_DIR = ".mlfn/state"
#: The oldest CLI mlfn runs: before 3.153.0 the engine replaced every resource whose provider moved
#: from the default provider to an explicit one without asking the provider (pulumi/pulumi#18509 made
#: it call DiffConfig), and adapters pass explicit providers (a cloud account, a cluster context).
MIN_CLI = (3, 153, 0)
UPGRADE_HINT = (
    "the pulumi CLI at {path} is older than mlfn needs ({need} or later): older CLIs replace every resource "
    "whose provider changes from the default one to an explicit one ({detail}).\n"
    "Upgrade it: curl -fsSL https://get.pulumi.com | sh   (or: brew upgrade pulumi)"
)


def _auto():
    """The Automation API module; tests replace this edge."""
    from pulumi import automation

    return automation


def require_cli(verb: str = "up") -> str:
    path = shutil.which("pulumi")
    if path is None:
        raise PulumiCliMissing(INSTALL_HINT.format(verb=verb))
    return path


def _pulumi_command(auto, path: str):
    """The CLI, held to ``MIN_CLI`` by the Automation API's own check (the ``pulumi version`` it runs for
    every workspace anyway): a CLI that is too old is the one message saying how to upgrade."""
    from semver import VersionInfo  # what the Automation API compares versions with

    try:
        return auto.PulumiCommand(version=VersionInfo(*MIN_CLI))
    except auto.InvalidVersionError as e:
        raise PulumiCliMissing(UPGRADE_HINT.format(path=path, need=".".join(map(str, MIN_CLI)), detail=e)) from e


def backend_url(project_dir: Path, options: EngineOptions) -> str:
    if options.backend:
        return options.backend
    state = project_dir / STATE_DIR
    state.mkdir(parents=True, exist_ok=True)
    return f"file://{state}"


def _program(project):
    def program() -> None:
        import pulumi

        from ..component import Deployment

        d = Deployment(project.spec.name, project.spec, project.stack, project_dir=project.dir, checked=True)
        pulumi.export("url", d.url)
        pulumi.export("target", d.target)
        pulumi.export("logs", d.logs)
        pulumi.export("details", d.details)

    return program


def _stack(project, options: EngineOptions, verb: str):
    path = require_cli(verb)
    auto = _auto()
    command = _pulumi_command(auto, path)
    settings = auto.ProjectSettings(
        name=project.spec.name,
        runtime="python",
        backend=auto.ProjectBackend(url=backend_url(project.dir, options)),
    )
    env = {"PULUMI_CONFIG_PASSPHRASE": os.environ.get("PULUMI_CONFIG_PASSPHRASE", "")}
    ws = auto.LocalWorkspaceOptions(work_dir=str(project.dir), project_settings=settings, env_vars=env,
                                    pulumi_command=command)
    return auto.create_or_select_stack(
        stack_name=project.stack.pulumi_stack,
        project_name=project.spec.name,
        program=_program(project),
        opts=ws,
    )


def _progress(options: EngineOptions):
    if options.on_progress is None:
        return None

    def on_event(event) -> None:
        pre = getattr(event, "resource_pre_event", None)
        failed = getattr(event, "res_op_failed_event", None)
        diag = getattr(event, "diagnostic_event", None)
        if pre is not None:
            m = pre.metadata
            options.on_progress(f"{m.op.value:>8}  {m.type}  {m.urn.rsplit('::', 1)[-1]}")
        elif failed is not None:
            m = failed.metadata
            options.on_progress(f"  failed  {m.type}  {m.urn.rsplit('::', 1)[-1]}")
        elif diag is not None and diag.severity == "error":
            options.on_progress(f"   error  {diag.message.strip()}")

    return on_event


def _outputs(raw: dict[str, Any], reveal: bool = False) -> dict[str, Any]:
    """Output values; secrets masked unless ``reveal`` (invoke needs an endpoint's key)."""
    return {k: ("[secret]" if getattr(v, "secret", False) and not reveal else v.value) for k, v in raw.items()}


def _others(stack, project) -> tuple[str, ...]:
    """Deployments of the same stack file on other clouds, from the workspace's stack list."""
    prefix = f"{project.stack.name}-"
    try:
        summaries = stack.workspace.list_stacks()
    except Exception:  # listing is advice only: never fail an up over it
        return ()
    return tuple(
        sorted(
            s.name
            for s in summaries
            if s.name.startswith(prefix)
            and s.name != project.stack.pulumi_stack
            and (s.resource_count or 0) > 0
        )
    )


def _failure(project, e: Exception, action: str) -> EngineError:
    adapter = project.adapter
    where = ""
    if adapter.supports_logs:
        try:
            info = adapter.logs(None, project.stack, spec=project.spec)
            where = f"\nLogs: {info.where}" + (f"\n      {info.link}" if info.link else "")
        except Exception:  # a failed logs lookup must not hide the real failure
            where = ""
    return EngineError(f"{action} of {project.stack.pulumi_stack} failed: {e}{where}{_name_taken_hint(e)}")


#: How the clouds' APIs say a name is taken (an HTTP 409, "...AlreadyExists", "already exists").
_NAME_TAKEN = ("already exists", "alreadyexists", "409 conflict", "status code: 409", "statuscode=409")


def _name_taken_hint(e: Exception) -> str:
    """A name another deployment holds: most often the same stack deployed from another state folder
    (a teammate's clone or a CI runner with the default local state), which mlfn cannot see."""
    text = str(e).lower()
    if not any(marker in text for marker in _NAME_TAKEN):
        return ""
    return ("\nA resource with one of these names already exists. If this stack was deployed from another state "
            "folder (a teammate's clone, a CI runner: the default state is .mlfn/state in each checkout), share "
            "one state backend instead (--backend s3://..., gs://..., azblob://... or a Pulumi Cloud URL) so "
            "every `up` sees the same deployment; or give this deployment another stack name.")


def _controller_owned(stack, project) -> list[str]:
    """The URNs, in the stack's state, of the resources whose live state a controller changes (the
    target's ``refreshed_before_update`` types); none before the first up."""
    target = project.adapter.target(project.stack.target or "")
    types = set(target.refreshed_before_update) if target is not None else set()
    if not types:
        return []
    resources = (stack.export_stack().deployment or {}).get("resources") or []
    return [r["urn"] for r in resources if r.get("type") in types and not r.get("delete")]


#: Preview operations after which a resource's state is sent to its provider again: an update, or a
#: replacement (whose steps all carry the resource's URN).
CHANGING_OPS = frozenset({"update", "replace", "create-replacement", "delete-replaced"})


def _planned_changes(stack) -> set[str]:
    """The URNs a preview of ``stack`` says the up will update or replace (its resource pre-events)."""
    changing: set[str] = set()

    def on_event(event) -> None:
        pre = getattr(event, "resource_pre_event", None)
        if pre is None:
            return
        op = getattr(pre.metadata.op, "value", pre.metadata.op)
        if str(op) in CHANGING_OPS:
            changing.add(pre.metadata.urn)

    stack.preview(on_event=on_event)
    return changing


def _operation(project, options: EngineOptions, verb: str):
    """Run ``stack.<verb>`` (preview, up, destroy) with progress; a failure says where the logs are.

    Before an up, a resource a controller changes is refreshed when, and only when, the up will
    update or replace it (a preview says which), so that the update sends its live values rather
    than the ones recorded at the last up. Not more: a whole-stack refresh would pull unrelated
    drift into the state, and even the resource's own refresh reads back values that differ from
    what was sent without being a change (a duration written another way, a default filled in),
    which would make every up update it."""
    from ..plan import pickler_restored

    stack = _stack(project, options, verb)
    auto = _auto()
    step = verb
    try:
        with pickler_restored():  # the inline program runs in this process
            urns = _controller_owned(stack, project) if verb == "up" else []
            if urns:
                step = "preview"
                changing = _planned_changes(stack)
                urns = [u for u in urns if u in changing]
            if urns:
                step = "refresh"
                stack.refresh(target=urns, on_event=_progress(options))
            step = verb
            return stack, getattr(stack, verb)(on_event=_progress(options))
    except auto.CommandError as e:
        raise _failure(project, e, step) from e


class PulumiEngine:
    """Every cloud, through the Automation API and the adapter's ``invoke``/``logs``/``status``."""

    name = "pulumi"

    def preview(self, project, options: EngineOptions) -> PreviewResult:
        _, result = _operation(project, options, "preview")
        changes = {str(k.value if hasattr(k, "value") else k): v for k, v in result.change_summary.items()}
        return PreviewResult(stack=project.stack.pulumi_stack, changes=changes)

    def up(self, project, options: EngineOptions) -> UpResult:
        stack, result = _operation(project, options, "up")
        return UpResult(
            stack=project.stack.pulumi_stack,
            action="updated",
            outputs=_outputs(result.outputs),
            changes=dict(result.summary.resource_changes or {}),
            others=_others(stack, project),
        )

    def destroy(self, project, options: EngineOptions) -> DestroyResult:
        _, result = _operation(project, options, "destroy")
        name = project.stack.pulumi_stack
        return DestroyResult(name, True, f"destroyed {name}", changes=dict(result.summary.resource_changes or {}))

    def outputs(self, project, options: EngineOptions, reveal: bool = False, verb: str = "outputs") -> dict[str, Any]:
        return _outputs(_stack(project, options, verb).outputs(), reveal)

    @staticmethod
    def _typed(project, outs: dict[str, Any]):
        if not outs.get("url"):
            raise MlfnError(f"{project.stack.pulumi_stack} has no url output: is it deployed? Run mlfn up")
        return project.adapter.outputs_of(outs)

    def invoke(self, project, options: EngineOptions, body: bytes, content_type: str) -> InvokeResponse:
        outs = self.outputs(project, options, reveal=True, verb="invoke")
        return project.adapter.invoke(self._typed(project, outs), project.stack, body, content_type)

    def status(self, project, options: EngineOptions) -> Status:
        adapter = project.adapter
        raw = _stack(project, options, "status").outputs()  # read once: masked for display, revealed for the adapter
        outs = _outputs(raw)
        base = dict(stack=project.stack.pulumi_stack, cloud=project.cloud, target=project.stack.target,
                    url=outs.get("url"))
        if not adapter.supports_status:
            return Status(**base, running=None if outs.get("url") else False, details=outs)
        details = adapter.status(self._typed(project, _outputs(raw, reveal=True)), project.stack)
        running = details.get("running")
        return Status(**base, running=running if isinstance(running, bool) else None,
                      ready=details.get("ready") if isinstance(details.get("ready"), bool) else None,
                      details={k: v for k, v in details.items() if k not in ("running", "ready")})

    def logs(self, project, options: EngineOptions, lines: int = 50) -> LogsInfo:
        """Where the logs are; before a first successful up (no outputs yet) the adapter gets None
        and says where this deployment's logs will go from the spec."""
        return self._logs(project, self._logs_outputs(project, options), lines)

    def _logs_outputs(self, project, options: EngineOptions):
        if not project.adapter.supports_logs:
            raise LogsUnsupported(f"cloud {project.cloud} does not report logs; see its console")
        outs = self.outputs(project, options, reveal=True, verb="logs")
        return project.adapter.outputs_of(outs) if outs.get("url") else None

    @staticmethod
    def _logs(project, typed, lines: int) -> LogsInfo:
        return project.adapter.logs(typed, project.stack, lines, spec=project.spec)

    def follow(self, project, options: EngineOptions, poll_s: float = 5.0) -> Iterator[str]:
        """Poll the adapter's logs and yield the lines not seen before."""
        typed = self._logs_outputs(project, options)  # the stack's outputs once, not on every poll
        seen: deque[str] = deque(maxlen=5000)
        known: set[str] = set()
        first = True
        while True:
            info = self._logs(project, typed, 200)
            for line in info.lines:
                if line in known:
                    continue
                if len(seen) == seen.maxlen:
                    known.discard(seen[0])
                seen.append(line)
                known.add(line)
                if not first:
                    yield line
            first = False
            time.sleep(poll_s)
