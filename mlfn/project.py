"""One ``Project``, resolved once: the project folder, its ``mlfn.yaml``, one stack and its adapter.

Every verb, the CLI and ``mlfn.Deployment`` share it, so a command parses the files once, looks
the adapter up once and runs ``check()`` once.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import CheckError, StackError
from .spec import SPEC_FILE, Spec, load_spec
from .stack import LOCAL, ResolvedStack, Stack, effective_spec, load_stack, resolve_model, stack_path, with_cloud

if TYPE_CHECKING:
    from .adapter import Adapter

PathLike = str | os.PathLike[str]


def adapter_of(cloud: str) -> Adapter | None:
    """The adapter of ``cloud``; None for ``cloud: local`` (served by the local engine)."""
    if cloud == LOCAL:
        return None
    from .registry import adapter_for

    return adapter_for(cloud)


def resolve(st: Stack, spec: Spec, name: str, path: Path | None = None, env: Mapping[str, str] | None = None,
            cloud_overridden: bool = False) -> ResolvedStack:
    """A Stack model resolved against its cloud's adapter."""
    return resolve_model(st, spec, name, adapter_of(st.cloud), path, env, cloud_overridden)


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
        st = with_cloud(st, cloud or "")
    return resolve(st, spec, path.stem, path, env, cloud_overridden=overridden)


@dataclass(frozen=True)
class Project:
    """A project directory with its mlfn.yaml (as this stack runs it), one resolved stack and its adapter."""

    dir: Path
    spec: Spec
    stack: ResolvedStack
    adapter: Adapter | None = field(default=None, compare=False)

    @property
    def is_local(self) -> bool:
        return self.adapter is None

    @property
    def cloud(self) -> str:
        return self.stack.cloud

    def problems(self, placeholders: bool = True) -> list[str]:
        """Everything this project cannot do as described: the offline checks, then the adapter's rules.

        ``placeholders=False`` leaves out the placeholders of mlfn init's stack files, for what never
        reaches a cloud (cost estimates, comparisons)."""
        from .checks import model_problems, stack_problems

        problems = model_problems(self) + stack_problems(self, placeholders)
        return problems + ([] if self.adapter is None else self.adapter.check(self.spec, self.stack))

    def check(self, placeholders: bool = True) -> None:
        """Run the offline checks and the adapter's rules; raise CheckError listing what to change."""
        problems = self.problems(placeholders)
        if problems:
            raise CheckError(problems)

    def notes(self) -> tuple[str, ...]:
        from .checks import local_notes

        if self.adapter is None:
            return tuple(local_notes(self))
        return (*self.stack.notes, *self.adapter.notes(self.spec, self.stack))


def load_project(project: PathLike = ".", stack: str | None = None, cloud: str | None = None,
                 env: Mapping[str, str] | None = None) -> Project:
    """Resolve (project folder, --stack, --cloud) once."""
    root = Path(project).resolve()
    spec_file = root / SPEC_FILE
    if not spec_file.exists():
        raise StackError(f"{spec_file}: file not found (run mlfn init, or pass --project DIR)")
    spec = load_spec(spec_file)
    resolved = resolve_stack(root, spec, stack, cloud, env)
    return Project(dir=root, spec=effective_spec(spec, resolved.stack), stack=resolved,
                   adapter=adapter_of(resolved.cloud))
