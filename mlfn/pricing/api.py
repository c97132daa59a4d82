"""``mlfn.cost()`` and ``mlfn.compare()``: the estimate of one stack, and every target ranked.

Both plan offline (Pulumi mocks) and price what the plan resolved, so an ``overrides`` instance
type, a stack's own ``compute`` or a GPU billing mode is what gets priced.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import MlfnError, StackError
from .estimate import Estimate
from .traffic import Traffic, parse_traffic

DEFAULT_TRAFFIC = "1000000/month"


def _traffic(traffic: str | Traffic | None, latency: Any, payload: Any) -> Traffic:
    return traffic if isinstance(traffic, Traffic) else parse_traffic(traffic or DEFAULT_TRAFFIC, latency, payload)


def _with_measured_latency(t: Traffic, given: str | Traffic | None, project_dir: Path) -> Traffic:
    """A parsed profile without a ``--latency`` takes the mean a running local stack of the project
    measured, if any (a ``Traffic`` the caller built is used as it is)."""
    if isinstance(given, Traffic) or t.latency_given:
        return t
    from .measured import measured_latency

    measured = measured_latency(project_dir)
    if measured is None:
        return t
    return replace(t, latency_s=measured.seconds, latency_note=measured.describe())


def estimate_project(project, traffic: Traffic, inputs: Mapping[str, Any] | None = None, plan=None) -> Estimate:
    """Price a resolved, checked ``mlfn.project.Project``: its offline ``plan`` (made here unless given)."""
    from ..plan import plan_deployment

    adapter = project.adapter
    pricing = getattr(adapter, "pricing", None)
    if pricing is None:
        return Estimate(project.stack.cloud, project.stack.target or "", "", traffic,
                        unknown=(f"cloud {project.stack.cloud} has no price catalog",))
    if plan is None:
        plan = plan_deployment(project.spec, project.stack, project.dir, checked=True)
    return pricing.estimate(project, plan, traffic, inputs)


def cost(project: Any = ".", stack: str | None = None, cloud: str | None = None,
         traffic: str | Traffic | None = None, latency: str | float | None = None,
         payload: str | int | None = None, inputs: Mapping[str, Any] | None = None) -> Estimate:
    """The monthly estimate, in USD, of one stack for one traffic profile (default 1000000/month).

    ``traffic``: ``1000000/month``, ``20/s``, ``20/s@8h`` (see :mod:`mlfn.pricing.traffic`);
    ``inputs``: values the cloud cannot tell (``{"node_hourly_price": 0.19}``)."""
    from ..project import Project, load_project

    t = _traffic(traffic, latency, payload)  # a bad profile fails before any planning
    p = project if isinstance(project, Project) else load_project(project, stack, cloud)
    if p.is_local:
        raise StackError(f"stack {p.stack.name} is cloud local: it runs on this machine at no cloud cost. "
                         "Pass --stack or --cloud to price a cloud deployment, or run mlfn compare.")
    p.check(placeholders=False)  # an estimate reaches no cloud
    return estimate_project(p, _with_measured_latency(t, traffic, p.dir), inputs)


@dataclass(frozen=True)
class Option:
    """One cloud target in a comparison: its estimate, or why it cannot run this spec."""

    cloud: str
    target: str
    estimate: Estimate | None = None
    reason: str | None = None
    stack: str = ""

    @property
    def monthly(self) -> float | None:
        return self.estimate.monthly if self.estimate else None

    def to_dict(self) -> dict[str, Any]:
        return {"cloud": self.cloud, "target": self.target, "stack": self.stack, "reason": self.reason,
                "estimate": self.estimate.to_dict() if self.estimate else None}


@dataclass(frozen=True)
class Comparison:
    """Every installed target, priced for one traffic profile: cheapest first, then those whose
    price is unknown, then those that cannot run the spec (with the reason)."""

    traffic: Traffic
    options: tuple[Option, ...] = field(default_factory=tuple)

    @property
    def priced(self) -> list[Option]:
        return [o for o in self.options if o.monthly is not None]

    @property
    def cheapest(self) -> Option | None:
        priced = self.priced
        return priced[0] if priced else None

    def to_dict(self) -> dict[str, Any]:
        return {"traffic": self.traffic.to_dict(), "options": [o.to_dict() for o in self.options]}


def _rank(o: Option) -> tuple:
    if o.estimate is None:
        return (2, 0.0, o.cloud, o.target)
    m = o.monthly
    return (1, 0.0, o.cloud, o.target) if m is None else (0, m, o.cloud, o.target)


def _base_stack(project_dir, adapter, spec, chosen):
    """The stack a cloud is compared on: the chosen stack if it is this cloud's, else the project's
    first stack file of this cloud, else the adapter's ``mlfn init`` template."""
    from ..stack import STACKS_DIR, Stack, list_stacks, load_stack

    if chosen is not None and chosen[1].cloud == adapter.name:
        return chosen
    for name in list_stacks(project_dir):
        path = project_dir / STACKS_DIR / f"{name}.yaml"
        try:
            st = load_stack(path)
        except MlfnError:
            continue
        if st.cloud == adapter.name:
            return path, st
    import yaml

    data = yaml.safe_load(adapter.stack_template.replace("{name}", spec.name)) or {"cloud": adapter.name}
    return None, Stack.model_validate(data)


def compare(project: Any = ".", traffic: str | Traffic | None = None, stack: str | None = None,
            latency: str | float | None = None, payload: str | int | None = None,
            inputs: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None) -> Comparison:
    """Every installed, listed cloud and target, planned offline and priced for one traffic profile.

    The ``compute`` and ``scaling`` are mlfn.yaml's (or ``stack``'s, when given) on every target;
    each cloud's location settings come from the project's stack file for that cloud, else from its
    ``mlfn init`` template. A target whose rules reject the spec is listed with the reason."""
    from ..project import Project
    from ..registry import adapter_for, installed
    from ..spec import SPEC_FILE, load_spec
    from ..stack import effective_spec, load_stack, resolve_model, stack_path

    root = Path(project).resolve()
    t = _with_measured_latency(_traffic(traffic, latency, payload), traffic, root)
    if not (root / SPEC_FILE).exists():
        raise StackError(f"{root / SPEC_FILE}: file not found (pass --project DIR)")
    spec = load_spec(root / SPEC_FILE)
    chosen = None
    if stack:
        path = stack_path(root, stack)
        chosen = (path, load_stack(path))
        spec = effective_spec(spec, chosen[1])
    env = os.environ if env is None else env
    options: list[Option] = []
    for name in sorted(installed()):
        try:
            adapter = adapter_for(name)
        except MlfnError as e:
            options.append(Option(name, "", reason=str(e)))
            continue
        if adapter.hidden:
            continue
        path, base = _base_stack(root, adapter, spec, chosen)
        stack_name = path.stem if path else f"{name} (template)"
        for target in adapter.target_names():
            st = base.model_copy(update={"target": target, "compute": None, "scaling": None})
            try:
                resolved = resolve_model(st, spec, path.stem if path else name, adapter, path, env)
                p = Project(dir=root, spec=spec, stack=resolved, adapter=adapter)
                problems = p.problems(placeholders=False)
                if problems:
                    options.append(Option(name, target, reason="; ".join(problems), stack=stack_name))
                    continue
                options.append(Option(name, target, estimate_project(p, t, inputs), stack=stack_name))
            except MlfnError as e:
                options.append(Option(name, target, reason=str(e), stack=stack_name))
    return Comparison(t, tuple(sorted(options, key=_rank)))
