"""AWS's conventions as typed data the core reads: tag style, naming rules, catalog rows."""

from __future__ import annotations

from pathlib import Path

from mlfn.catalog import Catalog
from mlfn.names import NameRule
from mlfn.tags import TagStyle

TAG_STYLE = TagStyle(
    "mlfn:deployment",
    source="https://docs.aws.amazon.com/tag-editor/latest/userguide/tagging.html (keys and values: "
    "letters, numbers, spaces, _ . : / = + - @)",
)

NAME_RULES = {
    "s3_bucket": NameRule(3, 63, "a-z0-9-", source="S3 bucket naming rules"),
    "iam_role": NameRule(1, 64, "A-Za-z0-9+=,.@_-", lowercase=False, source="IAM CreateRole RoleName"),
    "sagemaker": NameRule(1, 63, "a-zA-Z0-9-", source="SageMaker EntityName pattern"),
    "lambda": NameRule(1, 64, "a-zA-Z0-9_-", source="Lambda FunctionName"),
    "ecr": NameRule(2, 256, "a-z0-9._/-", source="ECR repositoryName"),
    "log_group": NameRule(1, 512, "a-zA-Z0-9_./#-", lowercase=False, source="CloudWatch Logs"),
}

CATALOG = Catalog(Path(__file__).with_name("catalog.yaml"))
