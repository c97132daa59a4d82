"""mlfn adapter for <cloud>: copy, rename, and fill in the marked places (see README.md).

This template is a working adapter: its tests (tests/template/) plan a deployment with it under
Pulumi's mocks and pass mlfn's conformance suite. Its two resource classes below stand in for
your provider's classes; everything else is the shape a real adapter keeps.
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
    ContainerRun,
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
from mlfn.stack import ResolvedStack
from mlfn.tags import TagStyle, tags_for

# 1. Conventions: how <cloud> writes tags, names and machines (cite where each rule comes from).
TAG_STYLE = TagStyle("mlfn:deployment", source="<cloud>'s tagging documentation (URL)")
NAME_RULES = {"endpoint": NameRule(1, 63, "a-z0-9-", must_start_with_letter=True, source="<cloud> endpoint names")}
CATALOG = Catalog(Path(__file__).with_name("catalog.yaml"))
#: Where <cloud> puts a model it hands the container at start.
MODEL_DIR = "/mnt/models"


# 2. Typed settings: the stack file's location fields, overrides.<cloud>, and the outputs compile
#    hands to invoke/logs/status.
class TemplateLocation(Location):
    region: str = setting("<cloud> region, e.g. region-1.", "TEMPLATE_REGION")


class TemplateOverrides(Overrides):
    machine_type: str | None = Field(default=None, description="instances: a machine instead of the catalog's pick.")
    log_retention_days: int = Field(default=30, ge=1, le=3650, description="Days <cloud> keeps the logs.")
    tier: Literal["standard", "premium"] = Field(default="standard", description="The endpoint's tier.")


class TemplateOutputs(Outputs):
    endpoint_name: str = Field(description="The endpoint's name in <cloud>.")
    region: str = Field(description="The region it runs in.")


# 3. One object per target: its rules (check) and its resources (compile).
class Serverless(Target):
    name = "serverless"
    supports_scale_to_zero = True

    def check(self, spec, stack) -> list[str]:
        if spec.compute.gpu:
            return ["<cloud> serverless has no GPUs: use target instances (with scaling.min: 1)"]
        return []

    def compile(self, ctx: CompileContext) -> CompileResult:
        return _endpoint(ctx, machine=None)

    def local_container(self, spec, stack, model_dir: Path) -> ContainerRun | None:
        # How <cloud> runs the image, for `mlfn up --local` (cite the platform's container contract).
        # This stand-in endpoint builds no image of mlfn's: None, and `up --local` says so.
        return None


class Instances(Target):
    name = "instances"
    supports_gpu = True

    def check(self, spec, stack) -> list[str]:
        if stack.overrides.machine_type:
            return []
        from mlfn.errors import CatalogError

        try:
            CATALOG.pick("instances", spec.compute)
        except CatalogError as e:
            return [str(e)]
        return []

    def compile(self, ctx: CompileContext) -> CompileResult:
        machine = ctx.overrides.machine_type or CATALOG.pick("instances", ctx.spec.compute).name
        return _endpoint(ctx, machine=machine)

    def local_container(self, spec, stack, model_dir: Path) -> ContainerRun | None:
        # How <cloud> runs the image, for `mlfn up --local`: the environment compile gives the container,
        # the platform's port and routes, and the model where the platform puts it (mounted read-only).
        from mlfn_runtime import contract as c

        env = c.container_env(model_name=spec.name, model_format=spec.model.format, handler=spec.model.handler,
                              model_uri=MODEL_DIR)
        return ContainerRun(env={**env, "PORT": str(c.DEFAULT_PORT)}, port=c.DEFAULT_PORT, health=c.READINESS_ROUTE,
                            predict=c.INVOCATIONS, command=("serve",), mounts={str(model_dir): MODEL_DIR},
                            stop_grace_s=30)


def _endpoint(ctx: CompileContext, machine: str | None) -> CompileResult:
    import hashlib

    from mlfn.manifest import model_files

    tags = tags_for(ctx.spec.name, ctx.spec.tags, TAG_STYLE)
    name = resource_name(f"{ctx.spec.name}-{ctx.stack.name}", NAME_RULES["endpoint"])
    model = ctx.model_path()
    requirements = ctx.project_dir / (ctx.spec.runtime.requirements or "requirements.txt")
    # Whatever serves traffic must reference what changed, or an update never rolls out.
    version = hashlib.sha256(
        (model_files(model).digest if model else ctx.spec.model.uri).encode()
        + (requirements.read_bytes() if requirements.is_file() else b"")
    ).hexdigest()[:12]
    props = {
        "endpointName": name,
        "region": ctx.stack.location.region,
        "machine": machine,
        "memory": ctx.spec.compute.memory,
        "minReplicas": ctx.spec.scaling.min,
        "maxReplicas": ctx.spec.scaling.max,
        "modelVersion": version,
        "tier": ctx.overrides.tier,
        "logRetentionDays": ctx.overrides.log_retention_days,
        "tags": tags,
        "url": None,
    }
    endpoint = Endpoint(ctx.child("endpoint"), props, ctx.opts())
    return CompileResult(
        url=endpoint.url,
        logs=f"<cloud> logs of {name}",
        extra={"endpoint_name": name, "region": ctx.stack.location.region},
    )


class Endpoint(pulumi.CustomResource):
    """Stands in for your provider's endpoint class (e.g. ``pulumi_<cloud>.ml.Endpoint``)."""

    url: pulumi.Output[str]

    def __init__(self, name: str, props: dict, opts: pulumi.ResourceOptions | None = None):
        super().__init__("template:index:Endpoint", name, props, opts)


# 4. The adapter: what the core reads.
class TemplateAdapter(Adapter):
    name = "template"  # the value of `cloud:` in stack files; equal to the entry point name
    package = "mlfn-template"
    hidden = True  # a real adapter leaves this False so `mlfn targets` and `doctor` list it
    targets = {"serverless": Serverless(), "instances": Instances()}
    scale_to_zero_target = "serverless"  # picked when scaling.min is 0
    managed_target = "instances"  # picked when scaling.min >= 1
    Location = TemplateLocation
    Overrides = TemplateOverrides
    Outputs = TemplateOutputs
    region_field = "region"
    regions = {"us-east": "region-1", "europe-west": "region-2"}  # portable name -> <cloud>'s
    tag_style = TAG_STYLE
    name_rules = NAME_RULES
    catalog = CATALOG
    stack_template = "cloud: template\nregion: region-1\n"
    supports_logs = True

    def check(self, spec, stack: ResolvedStack) -> list[str]:
        problems = []
        if spec.compute.gpu and spec.scaling.min == 0:
            problems.append("<cloud> GPUs cannot scale to zero: set scaling.min: 1")
        return problems + super().check(spec, stack)  # then the target's own rules

    def invoke(self, outputs: TemplateOutputs, stack: ResolvedStack, body: bytes,
               content_type: str) -> InvokeResponse:
        # Sign the request the cloud's way (a token from its SDK's default credentials).
        return post(outputs.url, body, {"content-type": content_type})

    def logs(self, outputs: TemplateOutputs | None, stack: ResolvedStack, lines: int = 50,
             spec=None) -> LogsInfo:
        name = outputs.endpoint_name if outputs else (spec.name if spec else "")
        return LogsInfo(where=f"<cloud> logs of {name}")

    def doctor(self, env: Mapping[str, str]) -> list[DoctorCheck]:
        return [credentials_check(self.name, env, ("TEMPLATE_TOKEN",), ("~/.template/credentials",),
                                  "run `<cloud-cli> login`")]
