"""Every mlfn verb as a plain Python function: the CLI is a thin layer over these.

A notebook can call ``mlfn.plan("examples/iris-sklearn", stack="aws")`` and get a typed result.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .adapter import DoctorCheck, InvokeResponse, LogsInfo
from .errors import AdapterNotInstalled, MlfnError, StackError
from .plan import Plan, plan_deployment
from .project import load_project
from .spec import Spec
from .stack import LOCAL, ResolvedStack

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class Validation:
    spec: Spec
    stack: ResolvedStack
    notes: tuple[str, ...] = ()

    @property
    def target(self) -> str | None:
        return self.stack.target


def validate(project: PathLike = ".", stack: str | None = None, cloud: str | None = None) -> Validation:
    """Check mlfn.yaml, the stack file and the adapter's rules; raise on the first problem set."""
    p = load_project(project, stack, cloud)
    p.check()
    return Validation(spec=p.spec, stack=p.stack, notes=p.notes())


def plan(project: PathLike = ".", stack: str | None = None, cloud: str | None = None) -> Plan:
    """The offline plan: every resource and input, under Pulumi mocks."""
    p = load_project(project, stack, cloud)
    if p.is_local:
        raise StackError(
            f"stack {p.stack.name} is cloud local: there is no cloud plan; `mlfn up` serves it here. "
            "Pass --stack or --cloud to plan a cloud deployment."
        )
    return plan_deployment(p.spec, p.stack, p.dir)


def _engine_options(backend: str | None, on_progress: Callable[[str], None] | None):
    from .engine.pulumi_engine import EngineOptions

    return EngineOptions(backend=backend, on_progress=on_progress)


def preview(project: PathLike = ".", stack: str | None = None, cloud: str | None = None,
            backend: str | None = None, on_progress: Callable[[str], None] | None = None):
    p = load_project(project, stack, cloud)
    if p.is_local:
        raise StackError("cloud local has no preview: `mlfn up` starts it and `mlfn destroy` stops it")
    from .engine import pulumi_engine

    return pulumi_engine.preview(p, _engine_options(backend, on_progress))


def up(project: PathLike = ".", stack: str | None = None, cloud: str | None = None,
       backend: str | None = None, on_progress: Callable[[str], None] | None = None,
       port: int | None = None):
    """Deploy: the local engine for cloud local, Pulumi otherwise."""
    p = load_project(project, stack, cloud)
    if p.is_local:
        from .engine import local

        return local.up(p, port=port, on_progress=on_progress)
    from .engine import pulumi_engine

    p.check()
    return pulumi_engine.up(p, _engine_options(backend, on_progress))


def destroy(project: PathLike = ".", stack: str | None = None, cloud: str | None = None,
            backend: str | None = None, on_progress: Callable[[str], None] | None = None):
    p = load_project(project, stack, cloud)
    if p.is_local:
        from .engine import local

        return local.destroy(p)
    from .engine import pulumi_engine

    return pulumi_engine.destroy(p, _engine_options(backend, on_progress))


def outputs(project: PathLike = ".", stack: str | None = None, cloud: str | None = None,
            backend: str | None = None) -> dict[str, Any]:
    p = load_project(project, stack, cloud)
    if p.is_local:
        from .engine import local

        return local.outputs(p)
    from .engine import pulumi_engine

    return pulumi_engine.outputs(p, _engine_options(backend, None)).outputs


def invoke(project: PathLike = ".", body: bytes = b"", content_type: str = "application/json",
           stack: str | None = None, cloud: str | None = None, backend: str | None = None) -> InvokeResponse:
    """Send one prediction request to the deployed endpoint, signed the cloud's way."""
    p = load_project(project, stack, cloud)
    if p.is_local:
        from .engine import local

        return local.invoke(p, body, content_type)
    from .engine import pulumi_engine

    outs = pulumi_engine.outputs(p, _engine_options(backend, None), reveal=True).outputs
    if not outs.get("url"):
        raise MlfnError(f"{p.stack.pulumi_stack} has no url output: is it deployed? Run mlfn up")
    assert p.adapter is not None
    return p.adapter.invoke(p.adapter.outputs_of(outs), p.stack, body, content_type)


def status(project: PathLike = ".", stack: str | None = None, cloud: str | None = None) -> dict[str, Any]:
    p = load_project(project, stack, cloud)
    if p.is_local:
        from .engine import local

        return local.status(p)
    adapter = p.adapter
    assert adapter is not None
    outs = outputs(project, stack, cloud)
    if not adapter.supports_status:
        return {"cloud": p.stack.cloud, "target": p.stack.target, **outs}
    return adapter.status(adapter.outputs_of(outs), p.stack)


def logs(project: PathLike = ".", stack: str | None = None, cloud: str | None = None,
         lines: int = 50) -> LogsInfo:
    p = load_project(project, stack, cloud)
    if p.is_local:
        from .engine import local

        return local.logs(p, lines)
    adapter = p.adapter
    assert adapter is not None
    if not adapter.supports_logs:
        raise MlfnError(f"cloud {p.stack.cloud} does not report logs; see its console")
    return adapter.logs(adapter.outputs_of(outputs(project, stack, cloud)), p.stack, lines)


@dataclass(frozen=True)
class CloudTargets:
    cloud: str
    package: str
    targets: tuple[str, ...]
    scale_to_zero_target: str | None
    managed_target: str | None
    error: str | None = None


def targets() -> list[CloudTargets]:
    """Installed clouds and their targets (local first); a broken adapter says why."""
    from .registry import adapter_for, installed

    out = [CloudTargets(LOCAL, "mlfn", ("process",), "process", "process")]
    for name, entry in sorted(installed().items()):
        try:
            a = adapter_for(name)
        except (AdapterNotInstalled, MlfnError) as e:
            out.append(CloudTargets(name, entry.package, (), None, None, str(e)))
            continue
        if a.hidden:
            continue
        out.append(CloudTargets(name, entry.package, a.target_names(), a.scale_to_zero_target, a.managed_target))
    return out


def doctor(env: Mapping[str, str] | None = None) -> list[DoctorCheck]:
    """What this machine has for deploying: the pulumi CLI, Docker, credentials per installed cloud."""
    env = os.environ if env is None else env
    path = env.get("PATH", "")
    checks = []
    pulumi_path = shutil.which("pulumi", path=path)
    checks.append(DoctorCheck(
        "pulumi CLI", pulumi_path is not None, pulumi_path or "not found on PATH",
        "" if pulumi_path else "curl -fsSL https://get.pulumi.com | sh  (mlfn plan works without it)",
    ))
    docker = shutil.which("docker", path=path)
    checks.append(DoctorCheck(
        "docker", docker is not None, docker or "not found on PATH",
        "" if docker else "install Docker to build images, or set runtime.image to a prebuilt one",
    ))
    checks.append(DoctorCheck("python", True, sys.version.split()[0]))
    for t in targets():
        if t.cloud == LOCAL:
            continue
        if t.error:
            checks.append(DoctorCheck(f"{t.cloud} adapter", False, t.error, f"pip install {t.package}"))
            continue
        from .registry import adapter_for

        checks += adapter_for(t.cloud).doctor(env)
    return checks
