"""Cloud resource names from a deployment's ``name``.

Each kind of resource has its own length limits and alphabet. ``resource_name`` makes a valid
name for a kind, stable across runs: when it must shorten or pad, it appends a short hash of
the full name so two long names do not collide.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class NameRule:
    min_len: int
    max_len: int
    allowed: str  # regex character class of allowed characters
    lowercase: bool = True
    separator: str = "-"
    must_start_with_letter: bool = False
    source: str = ""


RULES: dict[str, NameRule] = {
    # AWS
    "s3_bucket": NameRule(3, 63, "a-z0-9-", source="S3 bucket naming rules"),
    "iam_role": NameRule(1, 64, "A-Za-z0-9+=,.@_-", lowercase=False, source="IAM CreateRole RoleName"),
    "sagemaker": NameRule(1, 63, "a-zA-Z0-9-", source="SageMaker EntityName pattern"),
    "lambda": NameRule(1, 64, "a-zA-Z0-9_-", source="Lambda FunctionName"),
    "ecr": NameRule(2, 256, "a-z0-9._/-", source="ECR repositoryName"),
    "log_group": NameRule(1, 512, "a-zA-Z0-9_./#-", lowercase=False, source="CloudWatch Logs"),
    # Google Cloud
    "gcp_service_account": NameRule(6, 30, "a-z0-9-", must_start_with_letter=True, source="IAM accountId"),
    "gcs_bucket": NameRule(3, 63, "a-z0-9_-", source="Cloud Storage bucket naming"),
    "artifact_registry": NameRule(1, 63, "a-z0-9-", must_start_with_letter=True, source="Artifact Registry"),
    "cloud_run": NameRule(1, 49, "a-z0-9-", must_start_with_letter=True, source="Cloud Run service name"),
    "vertex": NameRule(1, 128, "a-zA-Z0-9_-", lowercase=False, source="Vertex AI display name"),
    # Azure
    "azure_storage": NameRule(3, 24, "a-z0-9", separator="", source="Storage account name"),
    "acr": NameRule(5, 50, "a-zA-Z0-9", separator="", lowercase=False, source="Container registry name"),
    "azure_ml_workspace": NameRule(3, 33, "a-zA-Z0-9-", must_start_with_letter=True, source="AML workspace"),
    "azure_ml_endpoint": NameRule(3, 32, "a-zA-Z0-9-", must_start_with_letter=True, source="AML online endpoint"),
    "azure_key_vault": NameRule(3, 24, "a-zA-Z0-9-", must_start_with_letter=True, source="Key Vault name"),
    "azure_resource_group": NameRule(1, 90, "a-zA-Z0-9._()-", lowercase=False, source="Resource group"),
    "container_app": NameRule(2, 32, "a-z0-9-", must_start_with_letter=True, source="Container App name"),
    # Kubernetes
    "k8s": NameRule(1, 63, "a-z0-9-", must_start_with_letter=True, source="RFC 1123 DNS label"),
}

_HASH_LEN = 6


def short_hash(text: str, length: int = _HASH_LEN) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def resource_name(name: str, kind: str, suffix: str = "") -> str:
    """A valid, stable name of ``kind`` for deployment ``name`` (plus an optional suffix)."""
    try:
        rule = RULES[kind]
    except KeyError as e:
        raise ValueError(f"unknown resource kind {kind!r} (kinds: {', '.join(sorted(RULES))})") from e
    full = f"{name}-{suffix}" if suffix else name
    text = full.lower() if rule.lowercase else full
    text = re.sub(f"[^{rule.allowed}]+", rule.separator, text.replace("-", rule.separator))
    if rule.separator:
        text = re.sub(f"{re.escape(rule.separator)}+", rule.separator, text).strip(rule.separator)
    if rule.must_start_with_letter and (not text or not text[0].isalpha()):
        text = "m" + text
    tag = short_hash(full)
    if len(text) < rule.min_len:
        text = f"{text}{rule.separator}{tag}" if text else f"m{tag}"
    if len(text) > rule.max_len:
        keep = rule.max_len - len(tag) - len(rule.separator)
        text = text[:keep].rstrip(rule.separator) + rule.separator + tag
    return text


def is_valid(candidate: str, kind: str) -> bool:
    rule = RULES[kind]
    if not (rule.min_len <= len(candidate) <= rule.max_len):
        return False
    if not re.fullmatch(f"[{rule.allowed}]+", candidate):
        return False
    if rule.lowercase and candidate != candidate.lower():
        return False
    return not (rule.must_start_with_letter and not candidate[0].isalpha())
