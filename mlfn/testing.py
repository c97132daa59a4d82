"""Helpers for adapter tests: checks every adapter's plan must pass, and the conformance suite
(``AdapterConformance``) every adapter's tests run."""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .plan import Plan, PlannedResource
from .tags import TagStyle

#: Input paths under which clouds take tags or labels.
TAG_FIELDS = ("tags", "labels", "metadata.labels")


def _at(inputs: dict, path: str):
    value = inputs
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def untagged(plan: Plan, style: TagStyle, taggable: Iterable[str] = ()) -> list[str]:
    """Resources that should carry ``<deployment key>=<name>`` (in ``style``'s form) and do not.

    A resource is taggable when its type is in ``taggable`` or it has a tags/labels input.
    """
    key = style.deployment_key
    must = set(taggable)
    missing = []
    for r in plan.resources:
        # Only mappings are tags: docker-build's `tags` input is a list of image references.
        fields = [f for f in TAG_FIELDS if isinstance(_at(r.inputs, f), dict)]
        if r.type not in must and not fields:
            continue
        values = [_at(r.inputs, f) or {} for f in fields]
        if not any(isinstance(v, dict) and v.get(key) == plan.name for v in values):
            missing.append(f"{r.type} {r.name}")
    return missing


def assert_tagged(plan: Plan, style: TagStyle, taggable: Iterable[str] = ()) -> None:
    missing = untagged(plan, style, taggable)
    assert not missing, f"not tagged with {style.deployment_key}={plan.name}: {', '.join(missing)}"


def answer_outputs(monkeypatch, type_: str, answer) -> None:
    """Within a test, the offline plan answers every ``type_`` resource's outputs with
    ``answer(inputs)`` (e.g. a RandomId's ``hex``, to plan as another state folder would)."""
    from .plan import RESOURCE_ANSWERS

    monkeypatch.setitem(RESOURCE_ANSWERS, type_, answer)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def unknown_args(module, cls_name: str, value: Any, path: str) -> list[str]:
    """Keys of a planned input that are not arguments of the provider's typed ``Args`` class (and,
    recursively, of the nested Args classes its signature names)."""
    cls = getattr(module, cls_name)
    params = inspect.signature(cls.__init__).parameters
    source = inspect.getsource(cls.__init__)
    out = []
    for key, item in value.items():
        arg = _snake(key)
        if arg not in params:
            out.append(f"{path}.{key}: not an argument of {cls_name}")
            continue
        m = re.search(rf"\b{arg}: [^\n]*?'(\w+Args)'", source)
        if m is None:
            continue
        inner = m.group(1)
        if isinstance(item, dict):
            out += unknown_args(module, inner, item, f"{path}.{key}")
        elif isinstance(item, list):
            for i, element in enumerate(item):
                if isinstance(element, dict):
                    out += unknown_args(module, inner, element, f"{path}.{key}[{i}]")
    return out


# -- the adapter conformance suite -------------------------------------------------------------

LIFECYCLE_CASES = ("model", "requirements", "compute", "nothing", "tag")
_NAME_KEYS = ("name",)


@dataclass(frozen=True)
class Lifecycle:
    """What one target's plan must do between v1 and v2 of a project (``mlfn up`` twice).

    The cases: ``model`` (a new model file), ``requirements`` (a changed requirements.txt),
    ``compute`` (a changed ``compute``), ``nothing`` (the same files: the plan must not change at
    all) and ``tag`` (only a tag changed: nothing but tags/labels may change).

    ``changes[case]``: resource types whose inputs must differ in v2 (the new artifact is
    referenced by whatever serves traffic). ``replaced[case]``: types that must come back under a
    new name (resources the cloud cannot change in place). ``stays``: types whose logical name and
    ``name`` input never change in any case (buckets, registries, endpoints: what holds a URL or
    data). ``xfail[case]``: a known failure, naming the issue that fixes it (strict: it turns red
    the day it passes, so the fix removes the mark)."""

    stack: str
    changes: Mapping[str, Sequence[str]] = field(default_factory=dict)
    replaced: Mapping[str, Sequence[str]] = field(default_factory=dict)
    stays: Sequence[str] = ()
    xfail: Mapping[str, str] = field(default_factory=dict)
    #: The inputs that hold a resource's name in the cloud (``registryName``, ``endpointName``...):
    #: with the logical name, they are what ``stays`` keeps and ``replaced`` changes.
    name_inputs: Sequence[str] = _NAME_KEYS


def _identity(r: PlannedResource, keys: Sequence[str] = _NAME_KEYS) -> tuple:
    return (r.name, *(r.inputs.get(k) for k in keys))


def _by_type(plan: Plan) -> dict[str, list[PlannedResource]]:
    out: dict[str, list[PlannedResource]] = {}
    for r in plan.resources:
        out.setdefault(r.type, []).append(r)
    return out


def _without_tags(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_tags(v) for k, v in value.items() if k not in ("tags", "labels")}
    if isinstance(value, list):
        return [_without_tags(v) for v in value]
    return value


def lifecycle_problems(v1: Plan, v2: Plan, case: str, spec: Lifecycle) -> list[str]:
    """What ``v2`` does wrong against ``spec`` for ``case`` (empty: it honours it)."""
    problems: list[str] = []
    a, b = _by_type(v1), _by_type(v2)
    if case == "nothing":
        if v1.to_dict() != v2.to_dict():
            names = {f"{r.type} {r.name}" for r in v2.resources} ^ {f"{r.type} {r.name}" for r in v1.resources}
            changed = sorted(names)
            old = {(r.type, r.name): r.inputs for r in v1.resources}
            changed += [f"{r.type} {r.name}" for r in v2.resources if old.get((r.type, r.name), r.inputs) != r.inputs]
            problems.append(f"nothing changed, yet the plan did: {', '.join(changed) or 'order'}")
        return problems
    if case == "tag":
        before = {(r.type, r.name): _without_tags(r.inputs) for r in v1.resources}
        after = {(r.type, r.name): _without_tags(r.inputs) for r in v2.resources}
        if before.keys() != after.keys():
            problems.append(f"a tag change added or removed resources: {sorted(set(before) ^ set(after))}")
        problems += [f"a tag change changed {t} {n} beyond its tags" for (t, n), v in after.items()
                     if (t, n) in before and before[(t, n)] != v]
        return problems
    for t in spec.changes.get(case, ()):
        old, new = a.get(t, []), b.get(t, [])
        if not new:
            problems.append(f"{case}: no {t} in the plan")
        elif [r.inputs for r in old] == [r.inputs for r in new] and [r.name for r in old] == [r.name for r in new]:
            problems.append(f"{case}: {t} did not change, so the new version never reaches it")
    for t in spec.replaced.get(case, ()):
        old, new = a.get(t, []), b.get(t, [])
        if new and {_identity(r, spec.name_inputs) for r in old} & {_identity(r, spec.name_inputs) for r in new}:
            problems.append(f"{case}: {t} kept its name, but the cloud cannot change it in place: "
                            "name it from a hash of what forces its replacement")
    for t in spec.stays:
        ident = [_identity(r, spec.name_inputs) for r in a.get(t, [])], [_identity(r, spec.name_inputs)
                                                                          for r in b.get(t, [])]
        if sorted(ident[0], key=repr) != sorted(ident[1], key=repr):
            problems.append(f"{case}: {t} changed its name: it holds data or a URL and must stay")
    return problems


class AdapterConformance:
    """Subclass as ``class TestConformance(AdapterConformance)`` in an adapter's tests and fill in
    the class attributes; pytest then runs every rule every adapter must honour:

    - every reference stack plans, every taggable resource carries the adapter's tags, and the
      component's outputs validate against the adapter's ``Outputs`` model;
    - ``Location``, ``Overrides`` and ``Outputs`` are declared, every location field has a
      description, the portable regions map to this cloud's names;
    - each of ``bad_overrides`` is rejected with an error naming ``overrides.<cloud>.<field>``;
    - each of ``unhonourable`` (a spec the target cannot honour) is rejected naming what to change;
    - the stack template ``mlfn init`` writes compiles with its default target;
    - the lifecycle of each target (``lifecycle``: see ``Lifecycle``).
    """

    #: The cloud (``cloud:`` in stack files).
    cloud: str = ""
    #: A project to copy for every test (its mlfn.yaml, model, requirements).
    project: Path = Path()
    #: Reference stack files to plan, as paths.
    reference_stacks: Sequence[Path] = ()
    #: Types that must carry tags even when the plan shows no tags input for them.
    taggable: Sequence[str] = ()
    #: ``(overrides.<cloud> mapping, the field the error must name)``.
    bad_overrides: Sequence[tuple[Mapping[str, Any], str]] = ()
    #: ``(stack file text, text appended to mlfn.yaml, text the error must contain)``.
    unhonourable: Sequence[tuple[str, str, str]] = ()
    #: By target.
    lifecycle: Mapping[str, Lifecycle] = {}

    # -- parametrization -------------------------------------------------------------------------

    def pytest_generate_tests(self, metafunc) -> None:
        import pytest

        names = metafunc.fixturenames
        if "reference_stack" in names:
            metafunc.parametrize("reference_stack", list(self.reference_stacks),
                                 ids=[p.stem for p in self.reference_stacks])
        if "bad_override" in names:
            metafunc.parametrize("bad_override", list(self.bad_overrides), ids=[f for _, f in self.bad_overrides])
        if "unhonourable_case" in names:
            metafunc.parametrize("unhonourable_case", list(self.unhonourable),
                                 ids=[str(i) for i in range(len(self.unhonourable))])
        if "lifecycle_case" in names:
            params = []
            for target, spec in sorted(self.lifecycle.items()):
                for case in LIFECYCLE_CASES:
                    marks = [pytest.mark.xfail(reason=spec.xfail[case], strict=True)] if case in spec.xfail else []
                    params.append(pytest.param((target, case), id=f"{target}-{case}", marks=marks))
            metafunc.parametrize("lifecycle_case", params)

    # -- helpers ---------------------------------------------------------------------------------

    def adapter(self):
        from .registry import adapter_for

        return adapter_for(self.cloud)

    def copy_project(self, tmp_path: Path, stack_text: str | None = None, name: str = "t") -> Path:
        import shutil

        dest = tmp_path / "project"
        shutil.copytree(self.project, dest, ignore=shutil.ignore_patterns(".mlfn"))
        (dest / "stacks").mkdir(exist_ok=True)
        if stack_text is not None:
            (dest / "stacks" / f"{name}.yaml").write_text(stack_text)
        return dest

    def first_stack_text(self) -> str:
        assert self.reference_stacks, f"{type(self).__name__} lists no reference_stacks"
        return Path(self.reference_stacks[0]).read_text()

    # -- the rules -------------------------------------------------------------------------------

    def test_reference_stack_plans_tagged_with_typed_outputs(self, reference_stack, tmp_path):
        from . import api
        from .project import load_project

        project = self.copy_project(tmp_path, Path(reference_stack).read_text())
        plan = api.plan(project, stack="t")
        assert plan.resources, "the plan is empty"
        assert_tagged(plan, self.adapter().tag_style, self.taggable)
        outputs = planned_outputs(load_project(project, stack="t"))
        self.adapter().Outputs.model_validate(outputs)

    def test_local_container_is_none_or_a_coherent_run(self, reference_stack, tmp_path):
        """``mlfn up --local``: the target runs no container of mlfn's image (None), or one whose port
        is the one its environment gives the runtime, with routes and read-only mounts of the model."""
        from mlfn_runtime.contract import port_from_env

        from .adapter import ContainerRun
        from .project import load_project

        project = load_project(self.copy_project(tmp_path, Path(reference_stack).read_text()), stack="t")
        model_dir = tmp_path / "model"
        target = project.adapter.target(project.stack.target or "")
        run = target.local_container(project.spec, project.stack, model_dir) if target is not None else None
        if run is None:
            return
        assert isinstance(run, ContainerRun), f"local_container returned {type(run).__name__}, not a ContainerRun"
        if run.wrap is None:  # the runtime itself listens: its port comes from the platform's variables
            assert port_from_env(run.env) == run.port, f"the container listens on {port_from_env(run.env)}, " \
                                                       f"not on the port {run.port} the run publishes"
        assert run.predict.startswith("/") and (run.health is None or run.health.startswith("/"))
        assert set(run.mounts) <= {str(model_dir)}, "only the model is mounted"
        assert all(target_dir.startswith("/") for target_dir in run.mounts.values())
        assert (run.wrap is None) == (run.unwrap is None), "wrap and unwrap come together"

    def test_typed_settings_are_declared_and_described(self):
        from .adapter import PORTABLE_REGIONS, Location, Outputs, Overrides

        a = self.adapter()
        assert a.Location is not None and issubclass(a.Location, Location), "declare Location"
        assert a.Overrides is not None and issubclass(a.Overrides, Overrides), "declare Overrides"
        assert a.Outputs is not None and issubclass(a.Outputs, Outputs), "declare Outputs"
        for name, f in a.Location.model_fields.items():
            assert f.description, f"location field {name} has no description"
        for name, f in a.Overrides.model_fields.items():
            assert f.description, f"overrides field {name} has no description"
        assert set(a.regions) <= set(PORTABLE_REGIONS), "regions maps names that are not portable"
        if a.regions:
            assert a.region_field in a.Location.model_fields
        assert a.tag_style is not None and a.tag_style.source, "declare tag_style with its source"
        assert all(rule.source for rule in a.name_rules.values()), "every NameRule names its source"

    def test_portable_regions_resolve(self, tmp_path):
        from .project import load_project

        a = self.adapter()
        if not a.regions:
            return
        portable, native = sorted(a.regions.items())[0]
        text = f"{self.first_stack_text().rstrip()}\n"
        lines = [ln for ln in text.splitlines() if not ln.startswith(f"{a.region_field}:")]
        project = self.copy_project(tmp_path, "\n".join([*lines, f"{a.region_field}: {portable}"]) + "\n")
        assert getattr(load_project(project, stack="t").stack.location, a.region_field) == native

    def test_bad_overrides_are_rejected_naming_the_field(self, bad_override, tmp_path):
        import pytest
        import yaml

        from . import api
        from .errors import StackError

        overrides, field_name = bad_override
        data = yaml.safe_load(self.first_stack_text())
        data.setdefault("overrides", {})[self.cloud] = {**(data.get("overrides") or {}).get(self.cloud, {}),
                                                       **overrides}
        project = self.copy_project(tmp_path, yaml.safe_dump(data))
        with pytest.raises(StackError, match=rf"stacks/t\.yaml:\d+: overrides\.{self.cloud}\.{field_name}"):
            api.validate(project, stack="t")

    def test_specs_the_target_cannot_honour_are_rejected(self, unhonourable_case, tmp_path):
        import pytest

        from . import api
        from .errors import MlfnError

        stack_text, spec_extra, message = unhonourable_case
        project = self.copy_project(tmp_path, stack_text)
        spec = project / "mlfn.yaml"
        spec.write_text(spec.read_text().rstrip() + "\n" + spec_extra)
        with pytest.raises(MlfnError) as e:
            api.validate(project, stack="t")
        assert message in str(e.value)

    def test_init_stack_template_compiles(self, tmp_path):
        from . import api

        template = self.adapter().stack_template
        assert template, "declare stack_template (the stack mlfn init writes)"
        project = self.copy_project(tmp_path, template.format(name="iris"))
        assert api.plan(project, stack="t").resources

    def test_doctor_checks_say_how_to_fix(self, tmp_path):
        checks = self.adapter().doctor({"PATH": "", "HOME": str(tmp_path)})
        assert checks, "declare at least one doctor check (credentials)"
        assert all(c.ok or c.fix for c in checks)

    def test_lifecycle(self, lifecycle_case, tmp_path):
        target, case = lifecycle_case
        spec = self.lifecycle[target]
        stack_text = next(Path(p).read_text() for p in self.reference_stacks if Path(p).stem == spec.stack)
        project = self.copy_project(tmp_path, stack_text)
        from . import api

        v1 = api.plan(project, stack="t")
        assert v1.target == target, f"{spec.stack} plans target {v1.target}, not {target}"
        change_project(project, case)
        v2 = api.plan(project, stack="t")
        problems = lifecycle_problems(v1, v2, case, spec)
        assert not problems, "\n".join(problems)


def change_project(project: Path, case: str) -> None:
    """Edit a project the way each lifecycle case says."""
    import yaml

    spec_file = project / "mlfn.yaml"
    data = yaml.safe_load(spec_file.read_text())
    if case == "model":
        model = project / data["model"]["uri"]
        files = [model] if model.is_file() else sorted(p for p in model.rglob("*") if p.is_file())
        with files[0].open("ab") as f:
            f.write(b"\0")  # a new model: other bytes
    elif case == "requirements":
        req = project / (data.get("runtime") or {}).get("requirements", "requirements.txt")
        req.write_text((req.read_text() if req.exists() else "") + "\nrequests>=2\n")
        runtime = data.setdefault("runtime", {})
        runtime.setdefault("requirements", req.name)
    elif case == "compute":
        compute = data.setdefault("compute", {})
        compute["memory"] = "8Gi" if compute.get("memory") != "8Gi" else "6Gi"
        stack_file = project / "stacks" / "t.yaml"
        stack = yaml.safe_load(stack_file.read_text())
        if stack.get("compute"):
            stack["compute"]["memory"] = compute["memory"]
            stack["compute"]["cpu"] = max(float(stack["compute"].get("cpu", 1)), 4)
            stack_file.write_text(yaml.safe_dump(stack))
    elif case == "tag":
        data.setdefault("tags", {})["team"] = "another-team"
    elif case != "nothing":
        raise ValueError(f"unknown lifecycle case {case!r} (cases: {', '.join(LIFECYCLE_CASES)})")
    spec_file.write_text(yaml.safe_dump(data, sort_keys=False))


def planned_outputs(project) -> dict[str, Any]:
    """The component's outputs (url, logs, target and details flattened) as the offline plan resolves them."""
    from .plan import plan_calls_of, run_program

    got: dict[str, Any] = {}

    def program():
        import pulumi

        from .component import Deployment

        d = Deployment(project.spec.name, project.spec, project.stack, project_dir=project.dir)

        def keep(values):
            url, logs, target, details = values
            got.update(details or {})
            got.update(url=url, logs=logs, target=target)

        return pulumi.Output.all(d.url, d.logs, d.target, d.details).apply(keep)

    run_program(program, project.spec.name, project.stack.pulumi_stack, calls=plan_calls_of(project.stack.cloud))
    return got
