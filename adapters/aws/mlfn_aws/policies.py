"""IAM policy documents, as pure functions of ARNs (passed to ``Output.apply``).

Every statement names the stack's own bucket, repository, log group or secret, except the
actions AWS only accepts on ``Resource: "*"``; those are listed in ``STAR_ONLY`` with why.
"""

from __future__ import annotations

import json
import re
from typing import Any

#: Actions that AWS authorizes only on "*" (no resource-level permissions exist for them).
STAR_ONLY = {
    # ECR: the token is for the registry, not a repository (ECR API reference, GetAuthorizationToken).
    "ecr:GetAuthorizationToken",
    # CloudWatch: PutMetricData has no resource type; scoped by the cloudwatch:namespace condition.
    "cloudwatch:PutMetricData",
}


def assume_role(service: str, source_account: str | None = None) -> str:
    """The trust policy letting ``service`` assume the role; with ``source_account``, only on behalf
    of that account (the confused-deputy guard the service documents)."""
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    if source_account:
        statement["Condition"] = {"StringEquals": {"aws:SourceAccount": source_account}}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def under(prefix: str) -> str:
    """``prefix/``, or nothing for a bucket's root (``s3://bucket/model.tar.gz``)."""
    prefix = prefix.strip("/")
    return f"{prefix}/" if prefix else ""


_ECR_IMAGE = re.compile(r"^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/([^:@]+)")


def ecr_repository_arn(image: str) -> str | None:
    """The repository ARN of an ECR image reference; None for other registries."""
    m = _ECR_IMAGE.match(image)
    if not m:
        return None
    account, region, repo = m.groups()
    return f"arn:aws:ecr:{region}:{account}:repository/{repo}"


def sagemaker_execution(bucket_arn: str, prefix: str, repository_arn: str, log_group_arn: str,
                        capture: bool, alarm_arns: list[str] | tuple[str, ...] = ()) -> str:
    keys = under(prefix)
    statements: list[dict[str, Any]] = [
        {"Sid": "ReadModel", "Effect": "Allow", "Action": ["s3:GetObject"],
         "Resource": [f"{bucket_arn}/{keys}*"]},
        {"Sid": "ListModelPrefix", "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": [bucket_arn],
         "Condition": {"StringLike": {"s3:prefix": [f"{keys}*"]}}},
        {"Sid": "PullImage", "Effect": "Allow",
         "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
         "Resource": [repository_arn]},
        {"Sid": "RegistryToken", "Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": "*"},
        {"Sid": "WriteLogs", "Effect": "Allow",
         "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
         "Resource": [log_group_arn, f"{log_group_arn}:*"]},
        {"Sid": "PutMetrics", "Effect": "Allow", "Action": ["cloudwatch:PutMetricData"], "Resource": "*",
         "Condition": {"StringLike": {"cloudwatch:namespace": ["/aws/sagemaker/*", "AWS/SageMaker"]}}},
    ]
    if capture:
        statements.append({"Sid": "WriteCapture", "Effect": "Allow", "Action": ["s3:PutObject"],
                           "Resource": [f"{bucket_arn}/{keys}capture/*"]})
    if alarm_arns:
        # Deployment guardrails read the auto-rollback alarms with the execution role.
        statements.append({"Sid": "ReadRollbackAlarms", "Effect": "Allow", "Action": ["cloudwatch:DescribeAlarms"],
                           "Resource": list(alarm_arns)})
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def lambda_execution(log_group_arn: str, secret_arn: str | None) -> str:
    statements: list[dict[str, Any]] = [
        {"Sid": "WriteLogs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": [log_group_arn, f"{log_group_arn}:*"]},
    ]
    if secret_arn:
        statements.append({"Sid": "ReadApiKeys", "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"],
                           "Resource": [secret_arn]})
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def lambda_pull(region: str, account: str, function: str, partition: str = "aws") -> str:
    """The ECR repository policy that lets Lambda pull the image for this stack's function only."""
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "LambdaPull", "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
        "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
        "Condition": {"StringLike": {
            "aws:sourceArn": f"arn:{partition}:lambda:{region}:{account}:function:{function}"}},
    }]})
