"""The Pulumi engine: the Automation API with an inline program.

This is the one choke point that talks to the ``pulumi`` CLI. State lives in the project
(``.mlfn/state``) unless a backend URL is given, so no Pulumi account is needed.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import EngineError, PulumiCliMissing
from ..registry import adapter_for

INSTALL_HINT = (
    "the pulumi CLI is not installed, and `mlfn preview/up/destroy/outputs` need it.\n"
    "Install it: curl -fsSL https://get.pulumi.com | sh   (or: brew install pulumi)\n"
    "`mlfn plan` works without it: it shows every resource and input offline."
)
STATE_DIR = ".mlfn/state"


@dataclass(frozen=True)
class EngineOptions:
    """How to run the Pulumi engine."""

    #: Any Pulumi backend URL; default: ``file://<project>/.mlfn/state``.
    backend: str | None = None
    #: Called with one line per resource step, for progress.
    on_progress: Callable[[str], None] | None = None


@dataclass(frozen=True)
class EngineResult:
    stack: str
    outputs: dict[str, Any] = field(default_factory=dict)
    changes: dict[str, int] = field(default_factory=dict)
    #: Other clouds' deployments of the same stack file that still run (``prod-aws`` beside ``prod-gcp``).
    others: tuple[str, ...] = ()


def _auto():
    """The Automation API module; tests replace this edge."""
    from pulumi import automation

    return automation


def require_cli() -> str:
    path = shutil.which("pulumi")
    if path is None:
        raise PulumiCliMissing(INSTALL_HINT)
    return path


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

        d = Deployment(project.spec.name, project.spec, project.stack, project_dir=project.dir)
        pulumi.export("url", d.url)
        pulumi.export("target", d.target)
        pulumi.export("logs", d.logs)
        pulumi.export("details", d.details)

    return program


def _stack(project, options: EngineOptions):
    require_cli()
    auto = _auto()
    settings = auto.ProjectSettings(
        name=project.spec.name,
        runtime="python",
        backend=auto.ProjectBackend(url=backend_url(project.dir, options)),
    )
    env = {"PULUMI_CONFIG_PASSPHRASE": os.environ.get("PULUMI_CONFIG_PASSPHRASE", "")}
    ws = auto.LocalWorkspaceOptions(work_dir=str(project.dir), project_settings=settings, env_vars=env)
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
    adapter = adapter_for(project.stack.cloud)
    where = ""
    if adapter.supports_logs:
        try:
            info = adapter.logs({}, project.stack, spec=project.spec)
            where = f"\nLogs: {info.where}" + (f"\n      {info.link}" if info.link else "")
        except Exception:  # a failed logs lookup must not hide the real failure
            where = ""
    return EngineError(f"{action} of {project.stack.pulumi_stack} failed: {e}{where}")


def preview(project, options: EngineOptions) -> EngineResult:
    stack = _stack(project, options)
    auto = _auto()
    try:
        result = stack.preview(on_event=_progress(options))
    except auto.CommandError as e:
        raise _failure(project, e, "preview") from e
    changes = {str(k.value if hasattr(k, "value") else k): v for k, v in result.change_summary.items()}
    return EngineResult(stack=project.stack.pulumi_stack, changes=changes)


def up(project, options: EngineOptions) -> EngineResult:
    stack = _stack(project, options)
    auto = _auto()
    try:
        result = stack.up(on_event=_progress(options))
    except auto.CommandError as e:
        raise _failure(project, e, "up") from e
    changes = dict(result.summary.resource_changes or {})
    return EngineResult(
        stack=project.stack.pulumi_stack,
        outputs=_outputs(result.outputs),
        changes=changes,
        others=_others(stack, project),
    )


def destroy(project, options: EngineOptions) -> EngineResult:
    stack = _stack(project, options)
    auto = _auto()
    try:
        result = stack.destroy(on_event=_progress(options))
    except auto.CommandError as e:
        raise _failure(project, e, "destroy") from e
    return EngineResult(stack=project.stack.pulumi_stack, changes=dict(result.summary.resource_changes or {}))


def outputs(project, options: EngineOptions, reveal: bool = False) -> EngineResult:
    stack = _stack(project, options)
    return EngineResult(stack=project.stack.pulumi_stack, outputs=_outputs(stack.outputs(), reveal))
