"""Stack files (``stacks/<name>.yaml``): *where* a deployment runs.

A stack file is data: ``cloud``, an optional ``target``, stack-level ``compute``/``scaling``,
``overrides`` per cloud, and the location fields of its cloud. The location fields and the
overrides are declared by the cloud's adapter (``Adapter.Location``, ``Adapter.Overrides``);
``resolve_model`` validates them against those models with file:line errors, applies the
environment fallbacks, the portable regions and the default-target rule. Which adapter to ask is
decided by the caller (``mlfn.project``); this module never looks one up.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from ._yaml import _display, format_validation_error, validate_file
from .adapter import PORTABLE_REGIONS, Location, Overrides, env_of
from .errors import StackError
from .spec import ComputeSection, ScalingSection

if TYPE_CHECKING:
    from .adapter import Adapter
    from .spec import Spec

STACKS_DIR = "stacks"
LOCAL = "local"


class LocalLocation(Location):
    """The settings of ``cloud: local``: the runtime as a process on this machine."""

    port: int | None = Field(default=None, ge=1, le=65535, description="local: port to serve on.")


class Stack(BaseModel):
    """One stack file. Fields other than these are the cloud's location settings."""

    model_config = ConfigDict(extra="allow", frozen=True)

    cloud: str = Field(description="local, or the name of an installed adapter's cloud (mlfn targets lists them).")
    target: str | None = Field(default=None, description="Target inside the cloud; default from scaling.min.")
    compute: ComputeSection | None = Field(
        default=None, description="Replaces mlfn.yaml's compute for this stack only (e.g. GPUs in prod)."
    )
    scaling: ScalingSection | None = Field(
        default=None, description="Replaces mlfn.yaml's scaling for this stack only (e.g. min: 2 in prod)."
    )
    overrides: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Per-cloud settings, under the cloud's name; each adapter declares its own."
    )
    _lines: dict[tuple, int] = PrivateAttr(default_factory=dict)

    @field_validator("cloud")
    @classmethod
    def _cloud(cls, v: str) -> str:
        if not v or not v.replace("-", "").replace("_", "").isalnum() or v != v.lower():
            raise ValueError("must be a lowercase cloud name: local, or one that `mlfn targets` lists")
        return v

    @property
    def settings(self) -> dict[str, Any]:
        """The location settings written in the file (every field that is not one of the above)."""
        return dict(self.model_extra or {})

    def overrides_for(self, cloud: str) -> dict[str, Any]:
        return dict(self.overrides.get(cloud) or {})


@dataclass(frozen=True)
class ResolvedStack:
    """A stack file after --cloud, the environment and the default target were applied."""

    name: str
    path: Path | None
    stack: Stack
    target: str | None
    target_was_default: bool
    #: The cloud's location settings, typed by its adapter's ``Location`` model.
    location: Location = field(default_factory=LocalLocation)
    #: ``overrides.<cloud>``, typed by its adapter's ``Overrides`` model.
    overrides: Any = field(default_factory=Overrides)
    #: What resolving the stack decided that the user should know (printed by validate, plan, up).
    notes: tuple[str, ...] = ()

    @property
    def cloud(self) -> str:
        return self.stack.cloud

    @property
    def pulumi_stack(self) -> str:
        """The Pulumi stack behind this stack file: keyed by stack *and* cloud."""
        return pulumi_stack_name(self.name, self.cloud)


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
    st, lines = validate_file(Stack, path, StackError, with_lines=True)
    st._lines.update(lines)
    return st


def default_target(adapter: Adapter, spec: Spec) -> str:
    """The default-target rule, the same on every cloud.

    ``scaling.min: 0`` picks the cloud's scale-to-zero target, ``min >= 1`` its managed-instance target.
    """
    return adapter.scale_to_zero_target if spec.scaling.min == 0 else adapter.managed_target


def _validate(model: type[Any], data: Mapping[str, Any], st: Stack, path: Path | None, prefix: tuple = (),
              hints: dict[str, str] | None = None) -> Any:
    try:
        return model.model_validate(dict(data))
    except ValidationError as e:
        raise StackError(format_validation_error(path, e, st._lines, prefix, hints, model=model)) from e


def resolve_location(st: Stack, path: Path | None, model: type[Location], cloud: str,
                     env: Mapping[str, str], region_field: str | None = None,
                     regions: Mapping[str, str] | None = None,
                     ambient: Callable[[], Mapping[str, Any]] | None = None,
                     notes: list[str] | None = None) -> Location:
    """The stack's location settings of ``cloud``: from the file, else the environment, else the
    cloud CLI's own configuration (``ambient``), typed by ``model``.

    ``region`` is the one location word every cloud's stack may use: on a cloud whose region field
    has another name (``location``) it is that field; on a cloud with no regions it is ignored
    with a note, so that editing only ``cloud:`` moves a stack between clouds."""
    values = st.settings
    if "region" in values and "region" not in model.model_fields:
        value = values.pop("region")
        if region_field and region_field in model.model_fields:
            values.setdefault(region_field, value)
        elif notes is not None:
            notes.append(f"cloud {cloud} has no regions: region: {value} is ignored")
    unknown = sorted(set(values) - set(model.model_fields))
    if unknown:
        line = st._lines.get((unknown[0],))
        where = f"{_display(path)}:{line}" if line else _display(path)
        allowed = ", ".join(model.model_fields) or "none"
        raise StackError(
            f"{where}: {', '.join(unknown)} is not a setting of cloud {cloud} (its settings: {allowed}; "
            "other fields: cloud, target, compute, scaling, overrides)"
        )
    hints = {}
    ambient_values: Mapping[str, Any] | None = None
    for name in model.model_fields:
        envs = env_of(model, name)
        if values.get(name) is None:
            found = next((env[v] for v in envs if env.get(v)), None)
            if found is None and ambient is not None:
                if ambient_values is None:
                    ambient_values = ambient() or {}
                found = ambient_values.get(name)
            if found is not None:
                values[name] = found
            else:
                values.pop(name, None)
        hints[name] = f" (or set {' or '.join(envs)})" if envs else ""
    if region_field and isinstance(values.get(region_field), str) and values[region_field] in PORTABLE_REGIONS:
        portable = values[region_field]
        if portable not in (regions or {}):
            line = st._lines.get((region_field,))
            where = f"{_display(path)}:{line}" if line else _display(path)
            mapped = ", ".join(sorted(regions or {})) or "none"
            raise StackError(f"{where}: {region_field}: cloud {cloud} has no region for the portable name "
                             f"{portable!r} (it maps: {mapped}); write one of its own region names")
        values[region_field] = (regions or {})[portable]
    try:
        return model.model_validate(values)
    except ValidationError as e:
        missing = [err["loc"][0] for err in e.errors() if err["type"] == "missing"]
        if missing and len(missing) == len(e.errors()):
            needs = "; ".join(f"{m}{hints.get(str(m), '')}" for m in missing)
            raise StackError(f"{path or 'the stack'}: cloud {cloud} needs {needs}") from e
        raise StackError(format_validation_error(path, e, st._lines, (), hints, model=model)) from e


def resolve_model(
    st: Stack,
    spec: Spec,
    name: str,
    adapter: Adapter | None,
    path: Path | None = None,
    env: Mapping[str, str] | None = None,
    cloud_overridden: bool = False,
) -> ResolvedStack:
    """Apply the adapter's location and overrides models, the environment and the default target.

    ``adapter`` is None for ``cloud: local``."""
    env = os.environ if env is None else env
    if adapter is None:
        location = _validate(LocalLocation, st.settings, st, path)
        return ResolvedStack(name=name, path=path, stack=st, target=None, target_was_default=False,
                             location=location)
    spec = effective_spec(spec, st)
    model = adapter.location_model()
    if cloud_overridden:
        # Settings of the stack file's own cloud do not apply to the one --cloud names.
        kept = {k: v for k, v in st.settings.items() if k in model.model_fields}
        fixed = {k: getattr(st, k) for k in Stack.model_fields}
        lines = st._lines
        st = Stack.model_validate({**fixed, **kept})
        st._lines.update(lines)
    notes: list[str] = []
    location = resolve_location(st, path, model, st.cloud, env, adapter.region_field, adapter.regions,
                                ambient=lambda: adapter.ambient(env), notes=notes)
    overrides = _validate(adapter.overrides_model(), st.overrides_for(st.cloud), st, path,
                          prefix=("overrides", st.cloud))
    if st.target is None:
        target, was_default = default_target(adapter, spec), True
    elif st.target not in adapter.target_names():
        line = st._lines.get(("target",))
        where = f"{_display(path)}:{line}" if (line and path) else (path or "the stack")
        raise StackError(
            f"{where}: target: {st.target!r} is not a target of cloud {st.cloud} "
            f"(targets: {', '.join(adapter.target_names())})"
        )
    else:
        target, was_default = st.target, False
    return ResolvedStack(name, path, st, target, was_default, location=location, overrides=overrides,
                         notes=tuple(notes))


def with_cloud(st: Stack, cloud: str) -> Stack:
    """The stack for ``--cloud``: a target belongs to the cloud it was written for, so it is dropped."""
    try:
        new = Stack.model_validate({**st.model_dump(), "cloud": cloud, "target": None})
    except ValueError as e:
        raise StackError(f"--cloud {cloud!r}: not a valid cloud name") from e
    new._lines.update(st._lines)
    return new
