"""The offline plan: the deployment program run under Pulumi's mocks.

No CLI, no credentials: every resource the adapter would create, with every input, as a
deterministic tree or JSON. Output properties are answered with placeholders such as
``"<name>.arn"`` so an input built from another resource's output is never dropped.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e"
SIG_KEY = "4dabf18193072939515e22adb298388d"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
SECRET_TEXT = "[secret]"
_LOCK = threading.Lock()
#: Outputs the offline plan gives a resource type, from its inputs (``{"random:index/randomId:RandomId":
#: lambda inputs: {"hex": ...}}``), over the placeholders: how tests plan as another state folder, or
#: with a provider's real answer. Set it through ``mlfn.testing.answer_outputs``.
RESOURCE_ANSWERS: dict[str, Callable[[Mapping[str, Any]], Mapping[str, Any]]] = {}


@dataclass(frozen=True)
class PlannedResource:
    type: str
    name: str
    parent: str | None
    inputs: dict[str, Any]
    provider: str | None = None


@dataclass
class Plan:
    name: str
    cloud: str
    target: str
    resources: list[PlannedResource] = field(default_factory=list)
    #: The component's outputs as the plan resolves them (url, logs, target, details).
    outputs: dict[str, Any] = field(default_factory=dict)
    #: What costs money and who can call it, for people (``summary_lines``); not part of to_dict().
    summary: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "cloud": self.cloud,
            "target": self.target,
            "resources": [
                {"type": r.type, "name": r.name, "parent": r.parent, "inputs": r.inputs}
                for r in self.resources
            ],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    def find(self, type_: str) -> list[PlannedResource]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str) -> PlannedResource:
        found = self.find(type_)
        if len(found) != 1:
            raise LookupError(f"expected one {type_} in the plan, found {len(found)}")
        return found[0]


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def _urn_name(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


def _clean(value: Any, replace: list[tuple[str, str]]) -> Any:
    """Protobuf-JSON values -> plan values: ints stay ints, secrets masked, refs by name."""
    if isinstance(value, dict):
        sig = value.get(SIG_KEY)
        if sig == SECRET_SIG:
            return SECRET_TEXT
        if sig == RESOURCE_SIG:
            return f"<{_urn_name(value.get('urn', ''))}>"
        return {k: _clean(v, replace) for k, v in sorted(value.items()) if k != "__provider"}
    if isinstance(value, list):
        return [_clean(v, replace) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        if value == UNKNOWN:
            return "[unknown]"
        for old, new in replace:
            value = value.replace(old, new)
        return value
    return value


class _Recorder:
    """Collects what the mocked engine sees."""

    def __init__(self, replace: list[tuple[str, str]]):
        self.replace = replace
        self.resources: list[PlannedResource] = []
        self.output_names: dict[tuple[str, str], list[str]] = {}
        # Inputs not to echo back as outputs: their output type is a different shape.
        self.no_echo: dict[tuple[str, str], set[str]] = {}


def _make_mocks(recorder: _Recorder, calls: Mapping[str, Mapping[str, Any]]):
    from google.protobuf import json_format
    from pulumi.runtime import mocks as pm

    class Mocks(pm.Mocks):
        def new_resource(self, args: pm.MockResourceArgs):
            # Outputs whose type differs from the input's shape are answered with an empty object:
            # left out, the SDK would fill them from the inputs and fail to convert them.
            skip = recorder.no_echo.get((args.typ, args.name), set())
            state = {k: ({} if k in skip and isinstance(v, dict) else v) for k, v in args.inputs.items()}
            for out in recorder.output_names.get((args.typ, args.name), []):
                state.setdefault(out, f"{args.name}.{out}")
            state.setdefault("name", args.name)
            answer = RESOURCE_ANSWERS.get(args.typ)
            if answer is not None:
                state.update(answer(args.inputs))
            return f"{args.name}-id", state

        def call(self, args: pm.MockCallArgs):
            if args.token in calls:
                return dict(calls[args.token])
            return {k: f"{args.token}.{k}" for k in ("id", "arn", "name")}

    class Monitor(pm.MockMonitor):
        def RegisterResource(self, request):  # noqa: N802 - gRPC method name
            if request.type != "pulumi:pulumi:Stack":
                raw = json_format.MessageToDict(request.object)
                parent = _urn_name(request.parent) if request.parent else None
                if parent and request.parent.split("::")[2].endswith("pulumi:pulumi:Stack"):
                    parent = None
                # A provider reference is "<urn>::<id>"; keep the provider's logical name.
                provider = request.provider.rsplit("::", 2)[-2] if request.provider else None
                recorder.resources.append(
                    PlannedResource(
                        type=request.type,
                        name=request.name,
                        parent=parent,
                        inputs=_clean(raw, recorder.replace),
                        provider=provider,
                    )
                )
            return super().RegisterResource(request)

    return Mocks(), Monitor


def _annotation(cls: type, prop: str) -> str:
    """The declared type of an output property, as text ('' when undeclared)."""
    attr = getattr(cls, prop, None)
    annotation = None
    if isinstance(attr, property) and attr.fget is not None:
        annotation = attr.fget.__annotations__.get("return")
    if annotation is None:
        for klass in cls.__mro__:
            annotation = getattr(klass, "__annotations__", {}).get(prop)
            if annotation is not None:
                break
    if annotation is None:
        return ""
    return annotation if isinstance(annotation, str) else repr(annotation)


def _is_text(cls: type, prop: str) -> bool:
    """Whether an output is declared as text: only those get placeholders (an enum or object
    output answered with a string would not convert)."""
    text = _annotation(cls, prop)
    if not text:
        return True
    return re.search(r"\bstr\b", text) is not None and "Sequence" not in text and "Mapping" not in text


@contextlib.contextmanager
def _capture_output_names(recorder: _Recorder) -> Iterator[None]:
    """Learn each resource's output property names (the SDK knows them; the mocks do not)."""
    import pulumi.resource as pr

    original = pr.register_resource

    def wrapper(res, ty, name, custom, remote, new_dependency, props, opts, *args, **kwargs):
        names = [_camel(k) for k, v in (props or {}).items() if v is None and _is_text(type(res), k)]
        recorder.output_names[(ty, name)] = names
        recorder.no_echo[(ty, name)] = {_camel(k) for k in (props or {}) if "Response" in _annotation(type(res), k)}
        return original(res, ty, name, custom, remote, new_dependency, props, opts, *args, **kwargs)

    pr.register_resource = wrapper
    try:
        yield
    finally:
        pr.register_resource = original


def _ensure_event_loop() -> None:
    """Pulumi's mocks run on the thread's current event loop; code that ran before in this process
    (asyncio.run, an ASGI test client) may have closed it or left none: give the thread a fresh one."""
    import asyncio

    try:
        loop = asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:
        loop = None
    if loop is None or loop.is_closed():
        asyncio.set_event_loop(asyncio.new_event_loop())


@contextlib.contextmanager
def pickler_restored() -> Iterator[None]:
    """Undo what Pulumi's dynamic providers leave on the pure-Python pickler.

    ``pulumi.dynamic.serialize_provider`` sorts dicts by patching ``pickle._Pickler._batch_setitems``
    and ``save_dict`` and restores only the ``pickle.Pickler`` name: every later ``joblib.dump`` in
    the process goes through the patched methods, and each further serialization wraps
    ``_batch_setitems`` once more until pickling hits the recursion limit. The program runs inside
    this guard, so the process's pickler is as it was."""
    import pickle

    names = ("_batch_setitems", "save_dict")
    saved = {n: pickle._Pickler.__dict__[n] for n in names if n in pickle._Pickler.__dict__}
    try:
        yield
    finally:
        for n in names:
            if n in saved:
                setattr(pickle._Pickler, n, saved[n])


def run_program(program, project: str, stack: str, replace: list[tuple[str, str]] | None = None,
                calls: Mapping[str, Mapping[str, Any]] | None = None):
    """Run ``program`` under mocks; return the recorded resources, sorted by (type, name)."""
    import pulumi
    from pulumi.runtime import mocks as pm
    from pulumi.runtime import settings as ps

    recorder = _Recorder(replace or [])
    mocks, monitor_cls = _make_mocks(recorder, calls or {})
    _ensure_event_loop()
    with _LOCK, _capture_output_names(recorder), pickler_restored():
        pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=False, monitor=monitor_cls(mocks))
        try:
            pm.test(program)()
        finally:
            ps.SETTINGS.rpc_manager.clear()
            ps.SETTINGS.outputs.clear()
    return sorted(recorder.resources, key=lambda r: (r.type, r.name))


def plan_calls_of(cloud: str) -> Mapping[str, Mapping[str, Any]]:
    """What the offline plan answers for the provider functions the cloud's adapter calls."""
    from .registry import adapter_for

    return adapter_for(cloud).plan_calls


def plan_deployment(spec, resolved, project_dir: Path, checked: bool = False) -> Plan:
    """Plan one deployment of ``spec`` on ``resolved`` (a non-local stack). ``checked``: the caller
    already ran the project's checks, so the component does not run the adapter's again."""
    from .component import Deployment

    project_dir = Path(project_dir).resolve()
    replace = [(str(project_dir), "."), (str(Path.home()), "~")]

    outputs: dict[str, Any] = {}

    def program():
        import pulumi

        d = Deployment(spec.name, spec, resolved, project_dir=project_dir, checked=checked)

        def keep(values):
            url, logs, details = values
            outputs.update(url=url, logs=logs, details=details or {})

        return pulumi.Output.all(d.url, d.logs, d.details).apply(keep)

    resources = run_program(program, project=spec.name, stack=resolved.pulumi_stack, replace=replace,
                            calls=plan_calls_of(resolved.cloud))
    plan = Plan(name=spec.name, cloud=resolved.cloud, target=resolved.target or "", resources=resources,
                outputs=outputs)
    plan.summary = summarize(spec, resolved, outputs)
    return plan


def summarize(spec, resolved, outputs: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What a reviewer needs before the tree: target, where, machine, replicas, scale to zero, auth, logs."""
    from .registry import adapter_for

    adapter = adapter_for(resolved.cloud)
    target = adapter.target(resolved.target or "")
    compute = spec.compute
    size = f"{compute.cpu:g} vCPU, {compute.memory}"
    if compute.gpu:
        size += f", {compute.gpu.count}x {compute.gpu.type}"
    machine = target.machine(spec, resolved) if target is not None else None
    where = ", ".join(f"{k}={v}" for k, v in resolved.location.model_dump().items() if v is not None)
    scales_to_zero = spec.scaling.min == 0 and (target is None or target.supports_scale_to_zero)
    if spec.scaling.min == 0 and target is not None and not target.supports_scale_to_zero:
        zero = f"no: target {resolved.target} keeps at least one replica on (billed while idle)"
    else:
        zero = "yes" if scales_to_zero else f"no: scaling.min is {spec.scaling.min}"
    return {
        "target": resolved.target + (" (default for scaling.min)" if resolved.target_was_default else ""),
        "location": where or "-",
        "machine": machine or "-",
        "compute": size,
        "replicas": f"{spec.scaling.min}-{spec.scaling.max}",
        "scale to zero": zero,
        "auth": spec.endpoint.auth,
        "logs": str((outputs or {}).get("logs") or "-"),
    }


def summary_lines(plan: Plan) -> list[str]:
    width = max((len(k) for k in plan.summary), default=0)
    return [f"  {k + ':':<{width + 1}} {v}" for k, v in plan.summary.items()]


def render_tree(plan: Plan, key_inputs: int = 4, width: int | None = 100) -> str:
    """A summary of what costs money, then a readable tree: type, name, and a few key inputs per
    resource. Values longer than ``width`` allows are cut with '...'; ``width=None`` cuts nothing."""
    children: dict[str | None, list[PlannedResource]] = {}
    for r in plan.resources:
        children.setdefault(r.parent, []).append(r)
    lines = [f"{plan.name}  cloud={plan.cloud} target={plan.target}  ({len(plan.resources)} resources)"]
    lines += summary_lines(plan)
    if plan.summary:
        lines.append("")
    limit = None if width is None else max(20, width // 3)

    def summary(inputs: dict[str, Any]) -> str:
        parts = []
        for k, v in inputs.items():
            if isinstance(v, dict | list):
                continue
            text = str(v)
            if limit is not None and len(text) > limit:
                text = text[: limit - 3] + "..."
            parts.append(f"{k}={text}")
            if len(parts) == key_inputs:
                break
        return "  " + " ".join(parts) if parts else ""

    def walk(parent: str | None, depth: int) -> None:
        for r in children.get(parent, []):
            lines.append(f"{'  ' * depth}+ {r.type}  {r.name}{summary(r.inputs)}")
            if r.name != parent:
                walk(r.name, depth + 1)

    walk(None, 1)
    return "\n".join(lines) + "\n"

