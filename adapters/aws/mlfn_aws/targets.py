"""AWS's targets, one small object each: their rules, flags and resources.

Importing this module loads no Pulumi provider: ``compile`` imports its resources when called.
"""

from __future__ import annotations

import math
from pathlib import Path

from mlfn.adapter import CompileContext, CompileResult, ContainerRun, Target
from mlfn.errors import CatalogError
from mlfn.spec import Spec
from mlfn.stack import ResolvedStack

from .conventions import CATALOG
from .lambda_image import python_notes, python_problems

SERVERLESS_MEMORY_MB = (1024, 6144)
SERVERLESS_MAX_CONCURRENCY = 200
LAMBDA_MEMORY_MB = (128, 10240)
#: Regions without Lambda function URLs (https://docs.aws.amazon.com/lambda/latest/dg/urls-configuration.html).
NO_FUNCTION_URLS = ("ap-south-2", "ap-southeast-4", "ap-southeast-5", "ap-southeast-6", "ap-southeast-7",
                    "ap-east-2", "ca-west-1", "eu-south-2", "eu-central-2", "il-central-1", "me-central-1")


def serverless_memory_mb(memory_mib: int) -> int:
    """compute.memory rounded up to SageMaker Serverless's 1 GB steps (1024-6144 MB)."""
    return max(SERVERLESS_MEMORY_MB[0], math.ceil(memory_mib / 1024) * 1024)


def serverless_concurrency(scaling) -> int:
    return min(SERVERLESS_MAX_CONCURRENCY, scaling.max * scaling.concurrency)


def _sagemaker_rules(spec: Spec) -> list[str]:
    """What both SageMaker targets require."""
    problems: list[str] = []
    if spec.endpoint.auth != "private":
        problems.append(f"SageMaker endpoints are always called with AWS credentials (SigV4): set "
                        f"endpoint.auth: private, or use target lambda for auth {spec.endpoint.auth}")
    if spec.model.is_remote:
        uri = spec.model.uri
        if not (uri.startswith("s3://") and uri.endswith(".tar.gz")):
            problems.append("SageMaker reads the model from S3 as model.tar.gz: set model.uri to a local "
                            "directory (mlfn packs and uploads it) or an s3://.../model.tar.gz")
    return problems


class SageMaker(Target):
    """A SageMaker real-time endpoint: instances from the catalog, GPUs, blue/green updates, autoscaling."""

    name = "sagemaker"
    supports_gpu = True

    def check(self, spec: Spec, stack: ResolvedStack) -> list[str]:
        problems = _sagemaker_rules(spec)
        if stack.overrides.instance_type is None:
            try:
                CATALOG.pick("sagemaker", spec.compute)
            except CatalogError as e:
                problems.append(str(e))
        return problems

    def machine(self, spec: Spec, stack: ResolvedStack) -> str | None:
        if stack.overrides.instance_type:
            return stack.overrides.instance_type
        try:
            return CATALOG.pick("sagemaker", spec.compute).name
        except CatalogError:
            return None

    def compile(self, ctx: CompileContext) -> CompileResult:
        from .sagemaker import compile_sagemaker

        return compile_sagemaker(ctx)

    def local_container(self, spec: Spec, stack: ResolvedStack, model_dir: Path) -> ContainerRun:
        from .local_run import sagemaker_run

        return sagemaker_run(self.name, spec, model_dir)


class SageMakerServerless(Target):
    """SageMaker Serverless Inference: scales to zero, CPU only, 1-6 GB."""

    name = "sagemaker-serverless"
    supports_scale_to_zero = True

    def check(self, spec: Spec, stack: ResolvedStack) -> list[str]:
        problems = _sagemaker_rules(spec)
        if spec.compute.gpu:
            problems.append("SageMaker Serverless has no GPUs: use target sagemaker (with scaling.min: 1), "
                            "or cloud gcp target cloudrun")
        if spec.compute.memory_mib > SERVERLESS_MEMORY_MB[1]:
            problems.append(f"SageMaker Serverless offers at most 6144 MB: lower compute.memory "
                            f"({spec.compute.memory}), or use target sagemaker")
        if spec.monitoring.capture > 0:
            problems.append("SageMaker Serverless cannot capture requests: set monitoring.capture: 0, "
                            "or use target sagemaker")
        return problems

    def machine(self, spec: Spec, stack: ResolvedStack) -> str | None:
        return f"serverless, {serverless_memory_mb(spec.compute.memory_mib)} MB"

    def compile(self, ctx: CompileContext) -> CompileResult:
        from .sagemaker import compile_sagemaker

        return compile_sagemaker(ctx)

    def local_container(self, spec: Spec, stack: ResolvedStack, model_dir: Path) -> ContainerRun:
        from .local_run import sagemaker_run

        return sagemaker_run(self.name, spec, model_dir)


class Lambda(Target):
    """A container-image Lambda function (model baked in) behind a Function URL."""

    name = "lambda"
    supports_scale_to_zero = True

    def check(self, spec: Spec, stack: ResolvedStack) -> list[str]:
        problems: list[str] = []
        mib = spec.compute.memory_mib
        if spec.compute.gpu:
            problems.append("Lambda has no GPUs: use target sagemaker (with scaling.min: 1)")
        if not LAMBDA_MEMORY_MB[0] <= mib <= LAMBDA_MEMORY_MB[1]:
            problems.append(f"Lambda memory is 128-10240 MB: set compute.memory between 128Mi and 10Gi "
                            f"(now {spec.compute.memory})")
        if spec.monitoring.capture > 0:
            problems.append("Lambda has no request capture: set monitoring.capture: 0, or use target sagemaker")
        region = stack.location.region
        if region in NO_FUNCTION_URLS:
            problems.append(f"Lambda function URLs are not offered in {region}: set region to one that has them "
                            "(e.g. us-east-1, eu-west-1), or use target sagemaker-serverless")
        if not spec.runtime.image:
            problems += python_problems(spec)
        return problems

    def notes(self, spec: Spec, stack: ResolvedStack) -> list[str]:
        return [] if spec.runtime.image else python_notes(spec)

    def machine(self, spec: Spec, stack: ResolvedStack) -> str | None:
        return f"function, {spec.compute.memory_mib} MB"

    def compile(self, ctx: CompileContext) -> CompileResult:
        from .lambda_target import compile_lambda

        return compile_lambda(ctx)

    def local_container(self, spec: Spec, stack: ResolvedStack, model_dir: Path) -> ContainerRun:
        from .local_run import lambda_run

        return lambda_run(spec, stack, model_dir)


TARGETS: dict[str, Target] = {t.name: t for t in (SageMaker(), SageMakerServerless(), Lambda())}
