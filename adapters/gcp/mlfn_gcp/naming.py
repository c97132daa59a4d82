"""The names of one deployment's GCP resources, and where its logs are."""

from __future__ import annotations

import hashlib

from mlfn.names import resource_name

from .conventions import NAME_RULES


def endpoint_id(base: str) -> str:
    """Vertex endpoint IDs are numeric (at most 10 digits, no leading zero): stable from the name."""
    n = int(hashlib.sha256(base.encode()).hexdigest()[:12], 16) % 9_000_000_000 + 1_000_000_000
    return str(n)


def names(spec, stack) -> dict[str, str]:
    base = f"{spec.name}-{stack.name}"
    return {
        "base": base,
        "service": resource_name(base, NAME_RULES["cloud_run"]),
        "repository": resource_name(base, NAME_RULES["artifact_registry"]),
        "account": resource_name(base, NAME_RULES["gcp_service_account"]),
        # + "-<8 hex>" from a RandomId kept in the stack's state (see vertex.py).
        "bucket_prefix": resource_name(base, NAME_RULES["gcs_bucket_prefix"], "models"),
        "endpoint": endpoint_id(base),
    }


def log_query(target: str | None, names: dict[str, str]) -> str:
    if target == "vertex":
        return f'resource.type="aiplatform.googleapis.com/Endpoint" resource.labels.endpoint_id="{names["endpoint"]}"'
    return f'resource.type="cloud_run_revision" resource.labels.service_name="{names["service"]}"'
