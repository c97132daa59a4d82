"""``mlfn.Deployment``: the Pulumi component every engine and host program uses."""

from __future__ import annotations

from pathlib import Path

import pulumi

from .adapter import CompileContext
from .errors import CheckError, StackError
from .registry import adapter_for
from .spec import Spec, load_spec
from .stack import LOCAL, ResolvedStack, Stack, effective_spec, load_stack, resolve_model

TYPE_TOKEN = "mlfn:index:Deployment"


def check(spec: Spec, stack: ResolvedStack) -> None:
    """Run the adapter's portable rules; raise CheckError listing what to change."""
    problems = adapter_for(stack.cloud).check(spec, stack)
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
    ) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        resolved = stack if isinstance(stack, ResolvedStack) else resolve_model(stack, spec, name=name)
        spec = effective_spec(spec, resolved.stack)
        if resolved.cloud == LOCAL:
            raise StackError("cloud local is served by the local engine (mlfn up), not by Pulumi")
        check(spec, resolved)
        ctx = CompileContext(
            name=name, spec=spec, stack=resolved, project_dir=Path(project_dir).resolve(), parent=self
        )
        result = adapter_for(resolved.cloud).compile(ctx)
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
        resolved = resolve_model(load_stack(stack_path), spec, name=stack_path.stem, path=stack_path)
        return cls(name or spec.name, spec, resolved, opts, project_dir=spec_path.resolve().parent)
