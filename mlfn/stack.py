"""Stack files (``stacks/<name>.yaml``): *where* a deployment runs.

Resolution of ``--stack``, the environment fallbacks for location settings, the default
target rule and the Pulumi stack key all live here, once, for every cloud.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ._yaml import validate_file
from .errors import StackError
from .spec import ComputeSection, ScalingSection

if TYPE_CHECKING:
    from .adapter import Adapter
    from .spec import Spec

STACKS_DIR = "stacks"
LOCAL = "local"
LOCATION_FIELDS = (
    "region", "project", "subscription", "location", "resource_group", "workspace", "namespace", "context",
    "registry",
)


class Stack(BaseModel):
    """One stack file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cloud: str = Field(description="local | aws | gcp | azure | kubernetes | any installed adapter.")
    target: str | None = Field(default=None, description="Target inside the cloud; default from scaling.min.")
    region: str | None = Field(default=None, description="aws, gcp: region.")
    project: str | None = Field(default=None, description="gcp: project id.")
    subscription: str | None = Field(default=None, description="azure: subscription id.")
    location: str | None = Field(default=None, description="azure: location, e.g. westeurope.")
    resource_group: str | None = Field(default=None, description="azure: resource group.")
    workspace: str | None = Field(default=None, description="azure: an existing Azure ML workspace.")
    namespace: str | None = Field(default=None, description="kubernetes: namespace.")
    context: str | None = Field(default=None, description="kubernetes: kubeconfig context.")
    registry: str | None = Field(default=None, description="kubernetes: image registry the cluster pulls from.")
    port: int | None = Field(default=None, ge=1, le=65535, description="local: port to serve on.")
    compute: ComputeSection | None = Field(
        default=None, description="Replaces mlfn.yaml's compute for this stack only (e.g. GPUs in prod)."
    )
    scaling: ScalingSection | None = Field(
        default=None, description="Replaces mlfn.yaml's scaling for this stack only (e.g. min: 2 in prod)."
    )
    overrides: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Per-cloud settings, e.g. {aws: {instance_type: ml.g5.xlarge}}."
    )

    @field_validator("cloud")
    @classmethod
    def _cloud(cls, v: str) -> str:
        if not v or not v.replace("-", "").replace("_", "").isalnum() or v != v.lower():
            raise ValueError("must be a lowercase cloud name such as local, aws, gcp, azure, kubernetes")
        return v

    def overrides_for(self, cloud: str) -> dict[str, Any]:
        return dict(self.overrides.get(cloud, {}))


@dataclass(frozen=True)
class ResolvedStack:
    """A stack file after --cloud, the environment and the default target were applied."""

    name: str
    path: Path | None
    stack: Stack
    target: str | None
    target_was_default: bool

    @property
    def cloud(self) -> str:
        return self.stack.cloud

    @property
    def pulumi_stack(self) -> str:
        """The Pulumi stack behind this stack file: keyed by stack *and* cloud."""
        return pulumi_stack_name(self.name, self.cloud)

    def setting(self, field: str) -> Any:
        return getattr(self.stack, field)

    @property
    def overrides(self) -> dict[str, Any]:
        return self.stack.overrides_for(self.cloud)


def effective_spec(spec: Spec, stack: Stack) -> Spec:
    """mlfn.yaml as this stack runs it: the stack's ``compute`` and ``scaling`` replace the spec's."""
    update = {k: getattr(stack, k) for k in ("compute", "scaling") if getattr(stack, k) is not None}
    return spec.model_copy(update=update) if update else spec


def pulumi_stack_name(stack_name: str, cloud: str) -> str:
    return f"{stack_name}-{cloud}"


def list_stacks(project_dir: Path) -> list[str]:
    d = project_dir / STACKS_DIR
    if not d.is_dir():
        return []
    return sorted(p.stem for p in d.glob("*.yaml"))


def stack_path(project_dir: Path, stack: str | None) -> Path:
    """--stack NAME is <project>/stacks/NAME.yaml, a path is taken as it is; none: local, else the only one."""
    if stack:
        if stack.endswith((".yaml", ".yml")) or os.sep in stack or "/" in stack:
            p = Path(stack)
            return p if p.is_absolute() or p.exists() else project_dir / p
        p = project_dir / STACKS_DIR / f"{stack}.yaml"
        if not p.exists():
            names = list_stacks(project_dir)
            listed = ", ".join(names) if names else f"none: create {STACKS_DIR}/{stack}.yaml"
            raise StackError(f"stack {stack!r} not found at {p} (stacks: {listed})")
        return p
    names = list_stacks(project_dir)
    if LOCAL in names:
        return project_dir / STACKS_DIR / f"{LOCAL}.yaml"
    if len(names) == 1:
        return project_dir / STACKS_DIR / f"{names[0]}.yaml"
    if not names:
        raise StackError(
            f"no stack files in {project_dir / STACKS_DIR}: create {STACKS_DIR}/local.yaml "
            "with the line 'cloud: local' (mlfn init does), or pass --stack"
        )
    raise StackError(f"several stacks and no {LOCAL}.yaml: pass --stack with one of {', '.join(names)}")


def load_stack(path: Path) -> Stack:
    return validate_file(Stack, path, StackError)


def default_target(adapter: Adapter, spec: Spec) -> str:
    """The default-target rule, the same on every cloud.

    ``scaling.min: 0`` picks the cloud's scale-to-zero target, ``min >= 1`` its managed-instance target.
    """
    return adapter.scale_to_zero_target if spec.scaling.min == 0 else adapter.managed_target


def apply_location_defaults(
    stack: Stack, path: Path | None, adapter: Adapter, env: Mapping[str, str]
) -> Stack:
    """Fill missing location settings from the usual environment; fail naming the field."""
    updates: dict[str, str] = {}
    missing = []
    for field_name, setting in adapter.location.items():
        if getattr(stack, field_name) is not None:
            continue
        value = next((env[v] for v in setting.env if env.get(v)), None)
        if value is None:
            value = setting.default
        if value is None and setting.required:
            envs = " or ".join(setting.env) if setting.env else "no environment variable"
            missing.append(f"{field_name} (or set {envs})")
        elif value is not None:
            updates[field_name] = value
    if missing:
        where = path if path else "the stack"
        raise StackError(f"{where}: cloud {stack.cloud} needs {'; '.join(missing)}")
    unknown = [
        f
        for f in LOCATION_FIELDS
        if getattr(stack, f) is not None and f not in adapter.location
    ]
    if unknown:
        allowed = ", ".join(adapter.location) or "none"
        raise StackError(
            f"{path or 'the stack'}: {', '.join(unknown)} is not a setting of cloud {stack.cloud} "
            f"(its settings: {allowed})"
        )
    return stack.model_copy(update=updates) if updates else stack


def resolve_model(
    st: Stack,
    spec: Spec,
    name: str,
    path: Path | None = None,
    env: Mapping[str, str] | None = None,
    cloud_overridden: bool = False,
) -> ResolvedStack:
    """Apply the environment and the default target to a Stack model."""
    from .registry import adapter_for

    env = os.environ if env is None else env
    if st.cloud == LOCAL:
        return ResolvedStack(name=name, path=path, stack=st, target=None, target_was_default=False)
    adapter = adapter_for(st.cloud)
    spec = effective_spec(spec, st)
    if cloud_overridden:
        # Settings of the stack file's own cloud do not apply to the one --cloud names.
        st = st.model_copy(update={f: None for f in LOCATION_FIELDS if f not in adapter.location})
    st = apply_location_defaults(st, path, adapter, env)
    if st.target is None:
        return ResolvedStack(name, path, st, default_target(adapter, spec), True)
    if st.target not in adapter.targets:
        raise StackError(
            f"{path or 'the stack'}: target: {st.target!r} is not a target of cloud {st.cloud} "
            f"(targets: {', '.join(adapter.targets)})"
        )
    return ResolvedStack(name, path, st, st.target, False)


def resolve_stack(
    project_dir: Path,
    spec: Spec,
    stack: str | None = None,
    cloud: str | None = None,
    env: Mapping[str, str] | None = None,
) -> ResolvedStack:
    """Find the stack file, apply --cloud, the environment and the default target."""
    path = stack_path(project_dir, stack)
    st = load_stack(path)
    overridden = bool(cloud) and cloud != st.cloud
    if overridden:
        # A target belongs to the cloud it was written for: --cloud takes that cloud's default.
        try:
            st = Stack.model_validate({**st.model_dump(), "cloud": cloud, "target": None})
        except ValueError as e:
            raise StackError(f"--cloud {cloud!r}: not a valid cloud name") from e
    return resolve_model(st, spec, path.stem, path, env, cloud_overridden=overridden)
