"""Every mlfn verb as a plain Python function: the CLI is a thin layer over these.

A notebook can call ``mlfn.plan("examples/iris-sklearn", stack="aws")`` and get a typed result.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .adapter import DoctorCheck, InvokeResponse, LogsInfo
from .engine.base import DestroyResult, PreviewResult, Status, UpResult
from .errors import AdapterNotInstalled, MlfnError, StackError
from .plan import Plan, plan_deployment
from .pricing import compare, cost  # noqa: F401 - mlfn.api.cost/compare, like every verb
from .project import Project, load_project
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
    plan = plan_deployment(p.spec, p.stack, p.dir)
    plan.summary["estimate"] = _estimate_line(p, plan)
    return plan


def _estimate_line(p: Project, plan: Plan) -> str:
    """The plan summary's cost line: what the plan resolved, priced for mlfn cost's default traffic.
    Advice only: a pricing failure says so on the line and never stops the plan."""
    from .pricing.api import DEFAULT_TRAFFIC, estimate_project
    from .pricing.traffic import parse_traffic

    try:
        estimate = estimate_project(p, parse_traffic(DEFAULT_TRAFFIC), plan=plan)
    except Exception as e:
        return f"unavailable ({type(e).__name__}: {e})"
    return f"{estimate.summary()} at 1,000,000 requests a month (mlfn cost --traffic T prices yours)"


def build(project: PathLike | Project = ".", stack: str | None = None, cloud: str | None = None,
          base_image: str | None = None, on_progress: Callable[[str], None] | None = None) -> list:
    """Build the image(s) the stack's ``up`` would push, with the local Docker engine (linux/amd64)."""
    from .image.local_build import build as build_images

    p = project if isinstance(project, Project) else load_project(project, stack, cloud)
    return build_images(p, base_image=base_image, on_progress=on_progress)


def _run(project: PathLike | Project, stack: str | None, cloud: str | None, backend: str | None = None,
         on_progress: Callable[[str], None] | None = None, port: int | None = None, local: bool = False,
         base_image: str | None = None):
    """Resolve the project once (or take one already resolved) and pick its engine once
    (``local``: the stack's container on this machine's Docker engine)."""
    from .engine.base import EngineOptions, engine_for

    p = project if isinstance(project, Project) else load_project(project, stack, cloud)
    return p, engine_for(p, local=local), EngineOptions(backend=backend, on_progress=on_progress, port=port,
                                                        base_image=base_image)


def preview(project: PathLike | Project = ".", stack: str | None = None, cloud: str | None = None,
            backend: str | None = None, on_progress: Callable[[str], None] | None = None) -> PreviewResult:
    """What ``up`` would change in the cloud."""
    p, engine, options = _run(project, stack, cloud, backend, on_progress)
    p.check()
    return engine.preview(p, options)


def up(project: PathLike | Project = ".", stack: str | None = None, cloud: str | None = None,
       backend: str | None = None, on_progress: Callable[[str], None] | None = None,
       port: int | None = None, local: bool = False, base_image: str | None = None) -> UpResult:
    """Deploy: the local engine for cloud local, Pulumi otherwise.

    ``local=True``: build the image the stack's ``up`` would push (on ``base_image`` when given) and
    run it with this machine's Docker engine the way the stack's target runs it."""
    p, engine, options = _run(project, stack, cloud, backend, on_progress, port, local, base_image)
    # A container on this machine reaches no cloud: the stack's placeholders can wait.
    p.check(placeholders=not local)
    return engine.up(p, options)


def destroy(project: PathLike | Project = ".", stack: str | None = None, cloud: str | None = None,
            backend: str | None = None, on_progress: Callable[[str], None] | None = None,
            local: bool = False) -> DestroyResult:
    p, engine, options = _run(project, stack, cloud, backend, on_progress, local=local)
    return engine.destroy(p, options)


def outputs(project: PathLike | Project = ".", stack: str | None = None, cloud: str | None = None,
            backend: str | None = None, local: bool = False) -> dict[str, Any]:
    p, engine, options = _run(project, stack, cloud, backend, local=local)
    return engine.outputs(p, options)


def invoke(project: PathLike | Project = ".", body: bytes = b"", content_type: str = "application/json",
           stack: str | None = None, cloud: str | None = None, backend: str | None = None,
           local: bool = False) -> InvokeResponse:
    """Send one prediction request to the deployed endpoint, signed the cloud's way."""
    p, engine, options = _run(project, stack, cloud, backend, local=local)
    return engine.invoke(p, options, body, content_type)


def status(project: PathLike | Project = ".", stack: str | None = None, cloud: str | None = None,
           backend: str | None = None, local: bool = False) -> Status:
    p, engine, options = _run(project, stack, cloud, backend, local=local)
    return engine.status(p, options)


def logs(project: PathLike | Project = ".", stack: str | None = None, cloud: str | None = None,
         lines: int = 50, backend: str | None = None, local: bool = False) -> LogsInfo:
    p, engine, options = _run(project, stack, cloud, backend, local=local)
    return engine.logs(p, options, lines)


def follow_logs(project: PathLike | Project = ".", stack: str | None = None, cloud: str | None = None,
                backend: str | None = None, local: bool = False) -> Iterator[str]:
    """New log lines as they come: the local log file, or the cloud's logs polled."""
    p, engine, options = _run(project, stack, cloud, backend, local=local)
    return engine.follow(p, options)


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


def _clouds_in_use(project: PathLike | None) -> set[str] | None:
    """The clouds the project's stack files name; None outside a project."""
    from pathlib import Path

    from .stack import STACKS_DIR, list_stacks, load_stack

    if project is None or not (Path(project) / "mlfn.yaml").exists():
        return None
    used = set()
    for name in list_stacks(Path(project)):
        try:
            used.add(load_stack(Path(project) / STACKS_DIR / f"{name}.yaml").cloud)
        except MlfnError:
            continue  # validate reports a broken stack file
    return used


def doctor(env: Mapping[str, str] | None = None, project: PathLike | None = None) -> list[DoctorCheck]:
    """What this machine has for deploying: the pulumi CLI, Docker, credentials per installed cloud.

    In a project, only the clouds its stacks use are required; elsewhere a cloud's missing
    credentials are a warning."""
    import dataclasses

    env = os.environ if env is None else env
    used = _clouds_in_use(project)
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
            from .registry import install_hint

            checks.append(DoctorCheck(f"{t.cloud} adapter", False, t.error, install_hint(t.package),
                                      required=used is not None and t.cloud in used))
            continue
        from .registry import adapter_for

        required = used is not None and t.cloud in used
        checks += [dataclasses.replace(c, required=required) for c in adapter_for(t.cloud).doctor(env)]
    return checks
