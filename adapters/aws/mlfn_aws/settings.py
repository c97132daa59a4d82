"""AWS's typed stack-file settings: the location fields, ``overrides.aws`` and the outputs.

The core validates a stack file's ``region`` against ``AwsLocation`` and ``overrides.aws``
against ``AwsOverrides`` (file:line errors), and hands ``AwsOutputs`` (built from the stack's
outputs) to ``invoke`` and ``logs``. Pure value rules live here; rules that need the spec or the
target live in the targets' ``check``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from mlfn.adapter import Location, Outputs, Overrides, setting

#: CloudWatch Logs accepts only these retention periods (PutRetentionPolicy, retentionInDays).
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
                      2922, 3288, 3653)
LogRetentionDays = Literal[LOG_RETENTION_DAYS]  # type: ignore[valid-type]

#: Lambda's timeout range, seconds (CreateFunction Timeout: 1-900).
LAMBDA_TIMEOUT_S = (1, 900)
#: SageMaker's ContainerStartupHealthCheckTimeoutInSeconds / ModelDataDownloadTimeoutInSeconds: 60-3600.
STARTUP_TIMEOUT_S = (60, 3600)


class AwsLocation(Location):
    """Where on AWS: one region."""

    region: str = setting(
        "AWS region, e.g. us-east-1 (or a portable name: us-east, us-west, europe-west, asia-southeast...).",
        "AWS_REGION", "AWS_DEFAULT_REGION", examples=("us-east-1", "eu-west-1"),
    )

    @field_validator("region")
    @classmethod
    def _region(cls, v: str) -> str:
        """AWS region names are <area>-<direction>-<n> (us-east-1, eu-central-2, us-gov-west-1)."""
        import re

        if not re.fullmatch(r"[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}", v):
            raise ValueError(f"is not an AWS region name (like us-east-1 or eu-west-1, or a portable name such "
                             f"as us-east){_gcp_style_hint(v)}")
        return v


def _gcp_style_hint(v: str) -> str:
    import re

    m = re.fullmatch(r"([a-z]+)-([a-z]+)(\d+)", v)
    return f": did you mean {m[1]}-{m[2]}-{m[3]}?" if m else ""


class AwsOverrides(Overrides):
    """``overrides.aws``: explicit AWS choices instead of mlfn's defaults."""

    instance_type: str | None = Field(
        default=None, description="sagemaker: the instance type, instead of the catalog's pick (e.g. ml.g5.xlarge).")
    bucket: str | None = Field(
        default=None, pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
        description="sagemaker: an existing S3 bucket for the model (and data capture) instead of a new one.")
    timeout: int = Field(
        default=60, ge=LAMBDA_TIMEOUT_S[0], le=LAMBDA_TIMEOUT_S[1],
        description="lambda: the function's timeout, whole seconds 1-900 (Lambda's limit).")
    invocations_per_instance: int | None = Field(
        default=None, ge=1,
        description="sagemaker: autoscaling target, invocations per instance per minute "
        "(default: scaling.concurrency * 60).")
    startup_timeout: int | None = Field(
        default=None, ge=STARTUP_TIMEOUT_S[0], le=STARTUP_TIMEOUT_S[1],
        description="sagemaker: container start-up health check and model download timeout, whole seconds "
        "60-3600 (default 900 with GPUs or 16 GiB and more, else 300).")
    inference_ami_version: str | None = Field(
        default=None, description="sagemaker with GPUs: the GPU driver image (SageMaker's InferenceAmiVersion), "
        "instead of al2-ami-sagemaker-inference-gpu-2 (NVIDIA 535, CUDA 12.2).")
    log_retention_days: LogRetentionDays = Field(
        default=30, description="Days CloudWatch Logs keeps the logs (one of CloudWatch's retention periods).")

    @field_validator("instance_type")
    @classmethod
    def _instance_type(cls, v: str | None) -> str | None:
        if v is None:
            return v
        from .schemas import enum_of

        if v not in enum_of("sagemaker", "ProductionVariantInstanceType"):
            raise ValueError("is not a SageMaker real-time instance type (e.g. ml.m5.large, ml.g5.xlarge)")
        return v

    @field_validator("inference_ami_version")
    @classmethod
    def _ami(cls, v: str | None) -> str | None:
        if v is None:
            return v
        from .schemas import enum_of

        allowed = [a for a in enum_of("sagemaker", "ProductionVariantInferenceAmiVersion") if "gpu" in a]
        if v not in allowed:
            raise ValueError(f"is not a SageMaker GPU inference AMI (one of {', '.join(allowed)})")
        return v


class AwsOutputs(Outputs):
    """What ``compile`` hands to ``invoke`` and ``logs``."""

    region: str = Field(description="The AWS region the deployment runs in.")
    log_group: str = Field(default="", description="The CloudWatch Logs group.")
    console: str = Field(default="", description="The log group in the AWS console.")
    endpoint_name: str | None = Field(default=None, description="sagemaker: the SageMaker endpoint's name.")
    endpoint_arn: str | None = Field(default=None, description="sagemaker: the SageMaker endpoint's ARN.")
    function_name: str | None = Field(default=None, description="lambda: the function's name.")
    function_arn: str | None = Field(default=None, description="lambda: the function's ARN.")
    auth_type: Literal["AWS_IAM", "NONE"] | None = Field(
        default=None, description="lambda: the Function URL's auth type.")
    api_key: str | None = Field(default=None, description="lambda with endpoint.auth key: the API key (secret).")
