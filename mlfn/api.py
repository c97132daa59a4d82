"""Every mlfn verb as a plain Python function: the CLI is a thin layer over these.

A notebook can call ``mlfn.plan("examples/iris-sklearn", stack="aws")`` and get a typed result.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .adapter import InvokeResponse, LogsInfo
from .errors import AdapterNotInstalled, MlfnError, StackError
from .plan import Plan, plan_deployment
from .spec import SPEC_FILE, Spec, load_spec
from .stack import LOCAL, ResolvedStack, effective_spec, resolve_stack

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class Project:
    """A project directory with its mlfn.yaml and one resolved stack."""

    dir: Path
    spec: Spec
    stack: ResolvedStack

    @property
    def is_local(self) -> bool:
        return self.stack.cloud == LOCAL


def load_project(project: PathLike = ".", stack: str | None = None, cloud: str | None = None) -> Project:
    root = Path(project).resolve()
    spec_file = root / SPEC_FILE
    if not spec_file.exists():
        raise StackError(f"{spec_file}: file not found (run mlfn init, or pass --project DIR)")
    spec = load_spec(spec_file)
    resolved = resolve_stack(root, spec, stack, cloud)
    return Project(dir=root, spec=effective_spec(spec, resolved.stack), stack=resolved)


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
    notes: tuple[str, ...] = ()
    if not p.is_local:
        from .component import check
        from .registry import adapter_for

        check(p.spec, p.stack)
        notes = tuple(adapter_for(p.stack.cloud).notes(p.spec, p.stack))
    return Validation(spec=p.spec, stack=p.stack, notes=notes)


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
    from .component import check
    from .engine import pulumi_engine

    check(p.spec, p.stack)
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
    from .registry import adapter_for

    outs = pulumi_engine.outputs(p, _engine_options(backend, None), reveal=True).outputs
    if not outs.get("url"):
        raise MlfnError(f"{p.stack.pulumi_stack} has no url output: is it deployed? Run mlfn up")
    return adapter_for(p.stack.cloud).invoke(outs, p.stack, body, content_type)


def status(project: PathLike = ".", stack: str | None = None, cloud: str | None = None) -> dict[str, Any]:
    p = load_project(project, stack, cloud)
    if p.is_local:
        from .engine import local

        return local.status(p)
    from .registry import adapter_for

    adapter = adapter_for(p.stack.cloud)
    outs = outputs(project, stack, cloud)
    if not adapter.supports_status:
        return {"cloud": p.stack.cloud, "target": p.stack.target, **outs}
    return adapter.status(outs, p.stack)


def logs(project: PathLike = ".", stack: str | None = None, cloud: str | None = None,
         lines: int = 50) -> LogsInfo:
    p = load_project(project, stack, cloud)
    if p.is_local:
        from .engine import local

        return local.logs(p, lines)
    from .registry import adapter_for

    adapter = adapter_for(p.stack.cloud)
    if not adapter.supports_logs:
        raise MlfnError(f"cloud {p.stack.cloud} does not report logs; see its console")
    return adapter.logs(outputs(project, stack, cloud), p.stack, lines)


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
        out.append(CloudTargets(name, entry.package, a.targets, a.scale_to_zero_target, a.managed_target))
    return out


@dataclass(frozen=True)
class DoctorCheck:
    name: str
    ok: bool
    detail: str
    fix: str = ""


#: Credentials per cloud: environment variables or files that mean "logged in".
CREDENTIALS: dict[str, tuple[tuple[str, ...], tuple[str, ...], str]] = {
    "aws": (("AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE"), ("~/.aws/credentials",),
            "run `aws configure` or `aws sso login`, or set AWS_PROFILE"),
    "gcp": (("GOOGLE_APPLICATION_CREDENTIALS",), ("~/.config/gcloud/application_default_credentials.json",),
            "run `gcloud auth application-default login`"),
    "azure": (("AZURE_CLIENT_ID", "ARM_CLIENT_ID"), ("~/.azure/azureProfile.json",), "run `az login`"),
    "kubernetes": (("KUBECONFIG",), ("~/.kube/config",), "point KUBECONFIG at your cluster's kubeconfig"),
}


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
        variables, files, fix = CREDENTIALS.get(t.cloud, ((), (), ""))
        found = [v for v in variables if env.get(v)]
        home = env.get("HOME", str(Path.home()))
        found += [f for f in files if Path(f.replace("~", home, 1)).exists()]
        ok = bool(found) or not (variables or files)
        detail = f"credentials: {', '.join(found)}" if found else "no credentials found"
        checks.append(DoctorCheck(f"{t.cloud} credentials", ok, detail, "" if ok else fix))
    return checks
