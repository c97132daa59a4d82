"""Helpers shared by the tests (import as `helpers`)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def write_project(root: Path, spec: str, stacks: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "mlfn.yaml").write_text(spec)
    (root / "stacks").mkdir(exist_ok=True)
    for name, text in stacks.items():
        (root / "stacks" / f"{name}.yaml").write_text(text)
    (root / "model").mkdir(exist_ok=True)
    return root


def example_project(tmp_path: Path, stacks: tuple[str, ...], stack_text: str | None = None,
                    spec_edit: Callable[[str], str] | None = None, stack_name: str = "t") -> Path:
    """A copy of examples/iris-sklearn with the reference ``stacks`` from stacks/, plus an optional
    stack file ``stacks/<stack_name>.yaml`` and an edit of its mlfn.yaml."""
    dest = tmp_path / "iris"
    shutil.copytree(EXAMPLES / "iris-sklearn", dest, ignore=shutil.ignore_patterns(".mlfn"))
    for name in stacks:
        shutil.copy(ROOT / "stacks" / f"{name}.yaml", dest / "stacks" / f"{name}.yaml")
    if stack_text is not None:
        (dest / "stacks" / f"{stack_name}.yaml").write_text(stack_text)
    if spec_edit:
        spec = dest / "mlfn.yaml"
        spec.write_text(spec_edit(spec.read_text()))
    return dest


def live_round_trip(tmp_path: Path, monkeypatch, stack_text: str, spec_edit: Callable[[str], str] | None = None):
    """Deploy the iris example with ``stack_text``, invoke it, check the prediction, destroy it."""
    import json
    import os

    import mlfn

    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", os.environ.get("PULUMI_CONFIG_PASSPHRASE", "live-test"))
    project = example_project(tmp_path, (), stack_text, spec_edit, stack_name="live")
    try:
        mlfn.up(project, stack="live")
        r = mlfn.invoke(project, json.dumps({"instances": [[5.1, 3.5, 1.4, 0.2]]}).encode(), stack="live")
        assert r.ok and json.loads(r.body) == {"predictions": [0]}
    finally:
        mlfn.destroy(project, stack="live")


def normalized(plan_json: str) -> str:
    """Image tags are digests of the runtime's own source: golden plans do not pin them."""
    import re

    return re.sub(r':[0-9a-f]{16}"', ':<digest>"', plan_json)


def container_run(project_dir: Path, stack: str, model_dir: Path):
    """(project, the stack target's ContainerRun for ``mlfn up --local``) with the model laid out in
    ``model_dir`` as up --local lays it out (files + manifest)."""
    from mlfn.engine.local.model import prepare_model
    from mlfn.project import load_project

    project = load_project(project_dir, stack)
    prepare_model(project, model_dir)
    target = project.adapter.target(project.stack.target)
    return project, target.local_container(project.spec, project.stack, model_dir)


def priced_comparisons(catalog, family: str, book, target: str, dimension: str, computes) -> set[tuple]:
    """What a "smallest that satisfies" check really compares: (region, picked, other) for every
    request whose pick and another fitting machine both have a price row in a region. A request
    whose pick has no row compares nothing, so an empty set means the check proved nothing."""
    from mlfn.catalog import _fits
    from mlfn.errors import CatalogError

    out = set()
    for compute in computes:
        try:
            picked = catalog.pick(family, compute)
        except CatalogError:
            continue
        for region in book.regions(target, dimension):
            if book.rate(target, dimension, region, picked.name) is None:
                continue
            out |= {(region, picked.name, m.name) for m in catalog.machines(family)
                    if m.name != picked.name and _fits(m, compute)
                    and book.rate(target, dimension, region, m.name) is not None}
    return out


def price_book(tmp_path: Path, target: str, dimension: str, region: str, prices: dict[str, float]):
    """A one-row price book written for a test (USD per hour), to check arithmetic over rows the
    shipped catalog does not have."""
    from mlfn.pricing import PriceBook

    rows = ", ".join(f"{name}: {usd}" for name, usd in prices.items())
    path = tmp_path / "prices.yaml"
    path.write_text(f"sources:\n  test: {{url: https://example.com/test-prices, checked: \"2026-11-27\"}}\n"
                    f"targets:\n  {target}:\n    {dimension}:\n      unit: hour\n      source: test\n"
                    f"      prices:\n        {region}: {{{rows}}}\n")
    return PriceBook(path)
