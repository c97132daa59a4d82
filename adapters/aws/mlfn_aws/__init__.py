"""mlfn adapter for AWS.

Targets: ``sagemaker`` (real-time endpoint, GPUs; the default for ``scaling.min >= 1``),
``sagemaker-serverless`` (scale to zero, CPU; the default for ``min: 0``) and ``lambda``
(a container-image function behind a Function URL).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mlfn.adapter import (
    Adapter,
    DoctorCheck,
    InvokeResponse,
    LogsInfo,
    credentials_check,
)
from mlfn.stack import ResolvedStack

from .conventions import CATALOG, NAME_RULES, TAG_STYLE
from .pricing import PRICING
from .settings import AwsLocation, AwsOutputs, AwsOverrides
from .targets import TARGETS, serverless_concurrency, serverless_memory_mb

__all__ = ["AwsAdapter", "AwsLocation", "AwsOutputs", "AwsOverrides", "serverless_concurrency",
           "serverless_memory_mb"]


class AwsAdapter(Adapter):
    name = "aws"
    package = "mlfn-aws"
    targets = TARGETS
    scale_to_zero_target = "sagemaker-serverless"
    managed_target = "sagemaker"
    Location = AwsLocation
    Overrides = AwsOverrides
    Outputs = AwsOutputs
    region_field = "region"
    regions = {
        "us-east": "us-east-1",  # N. Virginia
        "us-west": "us-west-2",  # Oregon
        "europe-west": "eu-west-1",  # Ireland
        "europe-north": "eu-north-1",  # Stockholm
        "asia-southeast": "ap-southeast-1",  # Singapore
        "asia-northeast": "ap-northeast-1",  # Tokyo
    }
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

    def ambient(self, env: Mapping[str, str]) -> Mapping[str, Any]:
        from .ambient import ambient

        return ambient(env)

    def doctor(self, env: Mapping[str, str]) -> list[DoctorCheck]:
        return [credentials_check(
            self.name, env, ("AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE"),
            ("~/.aws/credentials",),
            "run `aws configure` or `aws sso login`, or set AWS_PROFILE")]

    def check(self, spec, stack: ResolvedStack) -> list[str]:
        """Rules for every AWS target, then the stack's target's own."""
        problems: list[str] = []
        if spec.compute.gpu and spec.scaling.min == 0:
            problems.append("GPUs on AWS cannot scale to zero: set scaling.min: 1 (target sagemaker), "
                            "or use cloud gcp target cloudrun for GPUs that scale to zero")
        if spec.runtime.image:
            from .policies import ecr_repository_arn

            if ecr_repository_arn(spec.runtime.image) is None:
                problems.append(f"runtime.image: {spec.runtime.image!r} is not in Amazon ECR; SageMaker and Lambda "
                                "pull images from ECR only: push it to ECR, or leave runtime.image out to build one")
        return problems + super().check(spec, stack)

    def notes(self, spec, stack: ResolvedStack) -> list[str]:
        """The target's notes, and a region botocore's endpoint data does not know for the target's
        service (a well-formed but unknown name: a typo, or a region newer than this botocore)."""
        notes = list(super().notes(spec, stack))
        import botocore.session

        service = "lambda" if stack.target == "lambda" else "sagemaker"
        known = botocore.session.get_session().get_available_regions(service)
        region = stack.location.region
        if known and region not in known:
            notes.append(f"region {region} is not one botocore knows for {service} "
                         f"({len(known)} known, e.g. {', '.join(known[:3])}...): check its spelling")
        return notes

    def invoke(self, outputs: AwsOutputs, stack: ResolvedStack, body: bytes,
               content_type: str) -> InvokeResponse:
        from .client import invoke

        return invoke(outputs, stack, body, content_type)

    def logs(self, outputs: AwsOutputs | None, stack: ResolvedStack, lines: int = 50, spec=None) -> LogsInfo:
        from .client import recent_logs

        return recent_logs(outputs, stack, lines, spec)

    pricing = PRICING
