"""A fake cloud for mlfn's tests, installed as a real distribution with a real entry point.

It creates two resources, the second taking an output of the first, so the plan machinery is
tested on a real dependency; it has one rule per kind of check error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
import pulumi

from mlfn.adapter import Adapter, CompileContext, CompileResult, InvokeResponse, LocationSetting, LogsInfo
from mlfn.tags import tags_for


class Store(pulumi.CustomResource):
    """A fake model store; outputs ``arn``."""

    arn: pulumi.Output[str]

    def __init__(self, name: str, tags: dict, opts: pulumi.ResourceOptions | None = None):
        super().__init__("fake:index:Store", name, {"tags": tags, "arn": None}, opts)


class Endpoint(pulumi.CustomResource):
    """A fake endpoint reading its model from a Store; outputs ``url``."""

    url: pulumi.Output[str]

    def __init__(self, name: str, props: dict, opts: pulumi.ResourceOptions | None = None):
        super().__init__("fake:index:Endpoint", name, {**props, "url": None}, opts)


class FakeAdapter(Adapter):
    name = "fake"
    package = "mlfn-fake"
    targets = ("serverless", "instances")
    scale_to_zero_target = "serverless"
    managed_target = "instances"
    location = {"region": LocationSetting(env=("FAKE_REGION",))}
    supports_logs = True

    def check(self, spec, stack) -> list[str]:
        problems = []
        if spec.compute.gpu and spec.scaling.min == 0:
            problems.append("fake has no GPUs that scale to zero: set scaling.min: 1")
        if stack.target == "serverless" and spec.endpoint.auth == "public":
            problems.append("fake serverless endpoints are never public: use endpoint.auth private or key")
        return problems

    def compile(self, ctx: CompileContext) -> CompileResult:
        tags = tags_for(ctx.spec.name, ctx.spec.tags, "aws")
        store = Store(ctx.child("store"), tags, ctx.opts())
        props: dict[str, Any] = {
            "modelLocation": store.arn.apply(lambda arn: f"{arn}/model"),
            "target": ctx.target,
            "region": ctx.stack.setting("region"),
            "replicas": ctx.spec.scaling.min,
            "concurrency": ctx.spec.scaling.concurrency,
            "size": ctx.overrides.get("size", "small"),
            "tags": tags,
        }
        if ctx.spec.endpoint.auth == "key":
            props["apiKey"] = pulumi.Output.secret("k-123")
        endpoint = Endpoint(ctx.child("endpoint"), props, ctx.opts(depends_on=[store]))
        return CompileResult(
            url=endpoint.url,
            logs=pulumi.Output.concat("fake-logs://", ctx.spec.name),
            extra={"region": ctx.stack.setting("region")},
        )

    def invoke(self, outputs: Mapping[str, Any], stack, body: bytes, content_type: str) -> InvokeResponse:
        r = httpx.post(outputs["url"], content=body, headers={"content-type": content_type}, timeout=30)
        return InvokeResponse(r.status_code, r.content, r.headers.get("content-type", ""))

    def logs(self, outputs: Mapping[str, Any], stack, lines: int = 50, spec=None) -> LogsInfo:
        return LogsInfo(where=str(outputs.get("logs", "")), link=None, lines=())
