"""mlfn adapter for <cloud>: copy, rename, and fill in the marked places (see README.md)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mlfn.adapter import Adapter, CompileContext, CompileResult, InvokeResponse, LocationSetting
from mlfn.stack import ResolvedStack


class TemplateAdapter(Adapter):
    name = "template"  # the value of `cloud:` in stack files; equal to the entry point name
    package = "mlfn-template"
    targets = ("serverless", "instances")
    scale_to_zero_target = "serverless"  # picked when scaling.min is 0
    managed_target = "instances"  # picked when scaling.min >= 1
    location = {"region": LocationSetting(env=("TEMPLATE_REGION",))}

    def check(self, spec, stack: ResolvedStack) -> list[str]:
        problems = []
        if spec.compute.gpu and stack.target == "serverless":
            problems.append("<cloud> serverless has no GPUs: use target instances")
        return problems

    def compile(self, ctx: CompileContext) -> CompileResult:
        # Import the provider's submodules here, e.g. `import pulumi_<cloud>.compute as compute`,
        # and create each resource with opts=ctx.opts() and a name from ctx.child("...").
        raise NotImplementedError("fill in compile() for your cloud (see README.md)")

    def invoke(self, outputs: Mapping[str, Any], stack: ResolvedStack, body: bytes,
               content_type: str) -> InvokeResponse:
        raise NotImplementedError("fill in invoke() for your cloud (see README.md)")
