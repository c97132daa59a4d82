"""``mlfn.Deployment``: the Pulumi component every engine and host program uses."""

from __future__ import annotations

from pathlib import Path

import pulumi

from .adapter import CompileContext
from .errors import CheckError, StackError
from .project import adapter_of, resolve
from .spec import Spec, load_spec
from .stack import ResolvedStack, Stack, effective_spec, load_stack

TYPE_TOKEN = "mlfn:index:Deployment"


def check(spec: Spec, stack: ResolvedStack) -> None:
    """Run the adapter's portable rules; raise CheckError listing what to change."""
    adapter = adapter_of(stack.cloud)
    problems = adapter.check(spec, stack) if adapter is not None else []
    if problems:
        raise CheckError(problems)


class Deployment(pulumi.ComponentResource):
    """One model served on one cloud target, as a Pulumi component.

    Drop it into any Pulumi program::

        mlfn.Deployment("iris", spec, stack)                       # models
        mlfn.Deployment.from_files("mlfn.yaml", "stacks/prod.yaml")  # files

    Providers passed through ``opts`` (``providers=[...]``) apply to every child.
    """

    #: The endpoint's invoke URL.
    url: pulumi.Output[str]
    #: The cloud target that serves it (``sagemaker``, ``cloudrun``...).
    target: pulumi.Output[str]
    #: Where the logs are: a log group, a query or a console link.
    logs: pulumi.Output[str]
    #: Cloud-specific outputs (endpoint name, region...).
    details: pulumi.Output[dict]

    def __init__(
        self,
        name: str,
        spec: Spec,
        stack: Stack | ResolvedStack,
        opts: pulumi.ResourceOptions | None = None,
        project_dir: str | Path = ".",
        *,
        checked: bool = False,
    ) -> None:
        """``checked=True`` says the caller already ran the adapter's ``check`` (the engines do)."""
        super().__init__(TYPE_TOKEN, name, None, opts)
        resolved = stack if isinstance(stack, ResolvedStack) else resolve(stack, spec, name=name)
        spec = effective_spec(spec, resolved.stack)
        adapter = adapter_of(resolved.cloud)
        if adapter is None:
            raise StackError("cloud local is served by the local engine (mlfn up), not by Pulumi")
        if not checked:
            check(spec, resolved)
        ctx = CompileContext(
            name=name, spec=spec, stack=resolved, project_dir=Path(project_dir).resolve(), parent=self
        )
        result = adapter.compile(ctx)
        self.url = pulumi.Output.from_input(result.url)
        self.target = pulumi.Output.from_input(ctx.target)
        self.logs = pulumi.Output.from_input(result.logs)
        self.details = pulumi.Output.from_input(result.extra)
        self.register_outputs(
            {"url": self.url, "target": self.target, "logs": self.logs, "details": self.details}
        )

    @classmethod
    def from_files(
        cls,
        spec_file: str | Path,
        stack_file: str | Path,
        name: str | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> Deployment:
        """Import an mlfn project's stack into an existing Pulumi program."""
        spec_path = Path(spec_file)
        stack_path = Path(stack_file)
        spec = load_spec(spec_path)
        resolved = resolve(load_stack(stack_path), spec, name=stack_path.stem, path=stack_path)
        return cls(name or spec.name, spec, resolved, opts, project_dir=spec_path.resolve().parent)
