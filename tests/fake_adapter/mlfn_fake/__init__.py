"""A fake cloud for mlfn's tests, installed as a real distribution with a real entry point.

It creates two resources, the second taking an output of the first, so the plan machinery is
tested on a real dependency; it has one rule per kind of check error. It declares everything a
cloud owns — location fields, overrides, outputs, names, tag style, catalog rows, stack template,
portable regions, a doctor check — with no core change, which is the proof that adding a cloud
needs no edit under ``mlfn/``. It is hidden from the listings a user sees.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import pulumi
from pydantic import Field

from mlfn.adapter import (
    Adapter,
    CompileContext,
    CompileResult,
    DoctorCheck,
    InvokeResponse,
    Location,
    LogsInfo,
    Outputs,
    Overrides,
    Target,
    credentials_check,
    post,
    setting,
)
from mlfn.catalog import Catalog
from mlfn.names import NameRule, resource_name
from mlfn.tags import TagStyle, restrict

TAG_STYLE = TagStyle("fake.test/deployment", key=restrict("a-z0-9./-", 40, lowercase=True),
                     value=restrict("a-z0-9-", 40, lowercase=True), source="the fake cloud's tag rules")
NAME_RULES = {"store": NameRule(3, 20, "a-z0-9-", source="the fake cloud's store names")}
CATALOG = Catalog(Path(__file__).with_name("catalog.yaml"))


class FakeLocation(Location):
    region: str = setting("The fake cloud's region, e.g. eu-1.", "FAKE_REGION")


class FakeOverrides(Overrides):
    size: Literal["small", "large"] = Field(default="small", description="The endpoint's size.")
    log_retention_days: int = Field(default=30, ge=1, le=3650, description="Days the fake keeps logs.")


class FakeOutputs(Outputs):
    region: str = Field(description="Where the endpoint runs.")
    store: str = Field(description="The model store's name.")


class Serverless(Target):
    name = "serverless"
    supports_scale_to_zero = True

    def check(self, spec, stack) -> list[str]:
        if spec.endpoint.auth == "public":
            return ["fake serverless endpoints are never public: use endpoint.auth private or key"]
        return []

    def compile(self, ctx: CompileContext) -> CompileResult:
        return _compile(ctx, machine=None)


class Instances(Target):
    name = "instances"
    supports_gpu = True

    def machine(self, spec, stack) -> str | None:
        return CATALOG.pick("fake", spec.compute).name

    def compile(self, ctx: CompileContext) -> CompileResult:
        return _compile(ctx, machine=CATALOG.pick("fake", ctx.spec.compute).name)


def _compile(ctx: CompileContext, machine: str | None) -> CompileResult:
    import hashlib

    from mlfn.manifest import model_files

    tags = _tags(ctx)
    model = ctx.model_path()
    requirements = ctx.project_dir / (ctx.spec.runtime.requirements or "requirements.txt")
    runtime = hashlib.sha256(requirements.read_bytes() if requirements.is_file() else b"").hexdigest()[:12]
    store_name = resource_name(f"{ctx.spec.name}-{ctx.stack.name}", NAME_RULES["store"])
    store = Store(ctx.child("store"), store_name, tags, ctx.opts())
    props: dict[str, object] = {
        "modelLocation": store.arn.apply(lambda arn: f"{arn}/model"),
        "target": ctx.target,
        "region": ctx.stack.location.region,
        "replicas": ctx.spec.scaling.min,
        "concurrency": ctx.spec.scaling.concurrency,
        "size": ctx.overrides.size,
        "memory": ctx.spec.compute.memory,
        "modelDigest": model_files(model).digest[:12] if model else ctx.spec.model.uri,
        "runtimeDigest": runtime,
        "logRetentionDays": ctx.overrides.log_retention_days,
        "tags": tags,
    }
    if machine:
        props["machine"] = machine
    if ctx.spec.endpoint.auth == "key":
        props["apiKey"] = pulumi.Output.secret("k-123")
    endpoint = Endpoint(ctx.child("endpoint"), props, ctx.opts(depends_on=[store]))
    return CompileResult(
        url=endpoint.url,
        logs=pulumi.Output.concat("fake-logs://", ctx.spec.name),
        extra={"region": ctx.stack.location.region, "store": store_name},
    )


def _tags(ctx: CompileContext) -> dict[str, str]:
    from mlfn.tags import tags_for

    return tags_for(ctx.spec.name, ctx.spec.tags, TAG_STYLE)


class Store(pulumi.CustomResource):
    """A fake model store; outputs ``arn``."""

    arn: pulumi.Output[str]

    def __init__(self, name: str, store_name: str, tags: dict, opts: pulumi.ResourceOptions | None = None):
        super().__init__("fake:index:Store", name, {"storeName": store_name, "tags": tags, "arn": None}, opts)


class Endpoint(pulumi.CustomResource):
    """A fake endpoint reading its model from a Store; outputs ``url``."""

    url: pulumi.Output[str]

    def __init__(self, name: str, props: dict, opts: pulumi.ResourceOptions | None = None):
        super().__init__("fake:index:Endpoint", name, {**props, "url": None}, opts)


class FakeAdapter(Adapter):
    name = "fake"
    package = "mlfn-fake"
    hidden = True
    targets = {"serverless": Serverless(), "instances": Instances()}
    scale_to_zero_target = "serverless"
    managed_target = "instances"
    Location = FakeLocation
    Overrides = FakeOverrides
    Outputs = FakeOutputs
    region_field = "region"
    regions = {"europe-west": "eu-1", "us-east": "us-1"}
    tag_style = TAG_STYLE
    name_rules = NAME_RULES
    catalog = CATALOG
    stack_template = "cloud: fake\nregion: eu-1\n"
    supports_logs = True

    def check(self, spec, stack) -> list[str]:
        problems = []
        if spec.compute.gpu and spec.scaling.min == 0:
            problems.append("fake has no GPUs that scale to zero: set scaling.min: 1")
        return problems + super().check(spec, stack)

    def invoke(self, outputs: FakeOutputs, stack, body: bytes, content_type: str) -> InvokeResponse:
        return post(outputs.url, body, {"content-type": content_type}, timeout=30)

    def logs(self, outputs: FakeOutputs | None, stack, lines: int = 50, spec=None) -> LogsInfo:
        return LogsInfo(where=outputs.logs if outputs else f"fake-logs://{spec.name if spec else ''}")

    def doctor(self, env: Mapping[str, str]) -> list[DoctorCheck]:
        return [credentials_check(self.name, env, ("FAKE_TOKEN",), ("~/.fake/token",), "set FAKE_TOKEN")]
