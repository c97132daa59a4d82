"""Names of the AWS resources of one deployment: stable, valid, and distinct per stack."""

from __future__ import annotations

from dataclasses import dataclass

from mlfn.names import resource_name

from .conventions import NAME_RULES


@dataclass(frozen=True)
class Names:
    base: str  # <deployment>-<stack>
    endpoint: str  # SageMaker model, endpoint config and endpoint
    function: str  # Lambda function
    role: str
    repository: str
    bucket: str
    prefix: str  # key prefix of this deployment's objects in the bucket

    @property
    def sagemaker_log_group(self) -> str:
        return f"/aws/sagemaker/Endpoints/{self.endpoint}"

    @property
    def lambda_log_group(self) -> str:
        return f"/aws/lambda/{self.function}"


def names_for(deployment: str, stack: str) -> Names:
    base = f"{deployment}-{stack}"
    return Names(
        base=base,
        endpoint=resource_name(base, NAME_RULES["sagemaker"]),
        function=resource_name(base, NAME_RULES["lambda"]),
        role=resource_name(base, NAME_RULES["iam_role"], "exec"),
        repository=resource_name(base, NAME_RULES["ecr"]),
        bucket=resource_name(base, NAME_RULES["s3_bucket"], "models"),
        prefix=resource_name(base, NAME_RULES["sagemaker"]),
    )
