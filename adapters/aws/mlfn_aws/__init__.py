"""mlfn adapter for AWS.

Targets: ``sagemaker`` (real-time endpoint, GPUs; the default for ``scaling.min >= 1``),
``sagemaker-serverless`` (scale to zero, CPU; the default for ``min: 0``) and ``lambda``
(a container-image function behind a Function URL).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from mlfn.adapter import (
    Adapter,
    CompileContext,
    CompileResult,
    DoctorCheck,
    InvokeResponse,
    LocationSetting,
    LogsInfo,
    credentials_check,
    unknown_overrides,
)
from mlfn.errors import CatalogError
from mlfn.stack import ResolvedStack

from .conventions import CATALOG, NAME_RULES, TAG_STYLE
from .pricing import PRICING

__all__ = ["AwsAdapter"]

SERVERLESS_MEMORY_MB = (1024, 6144)
SERVERLESS_MAX_CONCURRENCY = 200
LAMBDA_MEMORY_MB = (128, 10240)
LAMBDA_TIMEOUT_S = (1, 900)
OVERRIDES = {
    "instance_type": "SageMaker instance type, instead of the catalog's pick (e.g. ml.g5.xlarge)",
    "bucket": "an existing S3 bucket for the model (and data capture) instead of a new one",
    "timeout": "lambda: seconds, 1-900 (default 60)",
    "invocations_per_instance": "sagemaker: autoscaling target, invocations per instance per minute",
    "startup_timeout": "sagemaker: container start-up health-check timeout, seconds (60-3600)",
    "log_retention_days": "CloudWatch log retention (default 30)",
}


def serverless_memory_mb(memory_mib: int) -> int:
    """compute.memory rounded up to SageMaker Serverless's 1 GB steps (1024-6144 MB)."""
    return max(SERVERLESS_MEMORY_MB[0], math.ceil(memory_mib / 1024) * 1024)


def serverless_concurrency(scaling) -> int:
    return min(SERVERLESS_MAX_CONCURRENCY, scaling.max * scaling.concurrency)


class AwsAdapter(Adapter):
    name = "aws"
    package = "mlfn-aws"
    targets = ("sagemaker", "sagemaker-serverless", "lambda")
    scale_to_zero_target = "sagemaker-serverless"
    managed_target = "sagemaker"
    location = {"region": LocationSetting(env=("AWS_REGION", "AWS_DEFAULT_REGION"))}
    plan_calls = {
        "aws:index/getCallerIdentity:getCallerIdentity": {
            "accountId": "123456789012", "arn": "arn:aws:iam::123456789012:user/plan", "userId": "PLAN",
            "id": "123456789012",
        },
        "aws:index/getPartition:getPartition": {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"},
        "aws:ecr/getAuthorizationToken:getAuthorizationToken": {
            "userName": "AWS", "password": "ecr-token", "proxyEndpoint": "https://123456789012.dkr.ecr.amazonaws.com",
            "authorizationToken": "token", "expiresAt": "2099-01-01T00:00:00Z", "id": "ecr",
        },
    }
    supports_logs = True
    stack_template = "cloud: aws\nregion: us-east-1\n"
    tag_style = TAG_STYLE
    name_rules = NAME_RULES
    catalog = CATALOG

    def doctor(self, env: Mapping[str, str]) -> list[DoctorCheck]:
        return [credentials_check(
            self.name, env, ("AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE"),
            ("~/.aws/credentials",),
            "run `aws configure` or `aws sso login`, or set AWS_PROFILE")]

    def check(self, spec, stack: ResolvedStack) -> list[str]:
        problems: list[str] = []
        o = stack.overrides
        problems += unknown_overrides("aws", o, OVERRIDES)
        target, gpu, mib = stack.target, spec.compute.gpu, spec.compute.memory_mib
        if gpu and spec.scaling.min == 0:
            problems.append("GPUs on AWS cannot scale to zero: set scaling.min: 1 (target sagemaker), "
                            "or use cloud gcp target cloudrun for GPUs that scale to zero")
        if target in ("sagemaker", "sagemaker-serverless") and spec.endpoint.auth != "private":
            problems.append(f"SageMaker endpoints are always called with AWS credentials (SigV4): set "
                            f"endpoint.auth: private, or use target lambda for auth {spec.endpoint.auth}")
        if spec.runtime.image:
            from .policies import ecr_repository_arn

            if ecr_repository_arn(spec.runtime.image) is None:
                problems.append(f"runtime.image: {spec.runtime.image!r} is not in Amazon ECR; SageMaker and Lambda "
                                "pull images from ECR only: push it to ECR, or leave runtime.image out to build one")
        if target in ("sagemaker", "sagemaker-serverless") and spec.model.is_remote:
            uri = spec.model.uri
            if not (uri.startswith("s3://") and uri.endswith(".tar.gz")):
                problems.append("SageMaker reads the model from S3 as model.tar.gz: set model.uri to a local "
                                "directory (mlfn packs and uploads it) or an s3://.../model.tar.gz")
        if target == "sagemaker-serverless":
            if gpu:
                problems.append("SageMaker Serverless has no GPUs: use target sagemaker (with scaling.min: 1), "
                                "or cloud gcp target cloudrun")
            if mib > SERVERLESS_MEMORY_MB[1]:
                problems.append(f"SageMaker Serverless offers at most 6144 MB: lower compute.memory "
                                f"({spec.compute.memory}), or use target sagemaker")
            if spec.monitoring.capture > 0:
                problems.append("SageMaker Serverless cannot capture requests: set monitoring.capture: 0, "
                                "or use target sagemaker")
        if target == "sagemaker":
            if "instance_type" in o:
                from .schemas import enum_of

                allowed = enum_of("sagemaker", "ProductionVariantInstanceType")
                if o["instance_type"] not in allowed:
                    problems.append(f"overrides.aws.instance_type: {o['instance_type']!r} is not a SageMaker "
                                    "real-time instance type (e.g. ml.m5.large, ml.g5.xlarge)")
            else:
                try:
                    CATALOG.pick("sagemaker", spec.compute)
                except CatalogError as e:
                    problems.append(str(e))
            st = o.get("startup_timeout")
            if st is not None and not (isinstance(st, int) and 60 <= st <= 3600):
                problems.append("overrides.aws.startup_timeout must be whole seconds between 60 and 3600")
        if target == "lambda":
            if gpu:
                problems.append("Lambda has no GPUs: use target sagemaker (with scaling.min: 1)")
            if not LAMBDA_MEMORY_MB[0] <= mib <= LAMBDA_MEMORY_MB[1]:
                problems.append(f"Lambda memory is 128-10240 MB: set compute.memory between 128Mi and 10Gi "
                                f"(now {spec.compute.memory})")
            timeout = o.get("timeout", 60)
            if not (isinstance(timeout, int) and LAMBDA_TIMEOUT_S[0] <= timeout <= LAMBDA_TIMEOUT_S[1]):
                problems.append("overrides.aws.timeout must be whole seconds between 1 and 900 (Lambda's limit)")
            if spec.monitoring.capture > 0:
                problems.append("Lambda has no request capture: set monitoring.capture: 0, or use target sagemaker")
        return problems

    def compile(self, ctx: CompileContext) -> CompileResult:
        if ctx.target == "lambda":
            from .lambda_target import compile_lambda

            return compile_lambda(ctx)
        from .sagemaker import compile_sagemaker

        return compile_sagemaker(ctx)

    def invoke(self, outputs: Mapping[str, Any], stack: ResolvedStack, body: bytes,
               content_type: str) -> InvokeResponse:
        from .client import invoke

        return invoke(outputs, stack, body, content_type)

    def logs(self, outputs: Mapping[str, Any], stack: ResolvedStack, lines: int = 50, spec=None) -> LogsInfo:
        from .client import recent_logs

        return recent_logs(outputs, stack, lines, spec)

    pricing = PRICING
