"""Validation of planned Kubernetes objects against the official schemas and KServe's CRD."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate

K8S_VERSION = "1.33.0"
SCHEMA = Path(__file__).with_name("schemas") / "kserve-inferenceservice-v1beta1.schema.json"


@cache
def kserve_schema() -> dict:
    return json.loads(SCHEMA.read_text())


def validate_k8s(obj: dict[str, Any]) -> None:
    """Official schema, strict: wrong types, missing required fields and unknown fields all fail."""
    kubernetes_validate.validate(obj, K8S_VERSION, strict=True)


def unknown_fields(obj: Any, schema: dict, path: str = "") -> list[str]:
    """Fields the CRD does not declare: the API server would prune them silently."""
    out: list[str] = []
    if isinstance(obj, dict):
        props = schema.get("properties")
        if props is None:
            return out  # free-form (x-kubernetes-preserve-unknown-fields, maps)
        for key, value in obj.items():
            if key not in props:
                out.append(f"{path}.{key}".lstrip("."))
            else:
                out += unknown_fields(value, props[key], f"{path}.{key}")
    elif isinstance(obj, list) and "items" in schema:
        for i, item in enumerate(obj):
            out += unknown_fields(item, schema["items"], f"{path}[{i}]")
    return out


def validate_inference_service(obj: dict[str, Any]) -> None:
    jsonschema.validate(obj, kserve_schema())
    unknown = unknown_fields(obj["spec"], kserve_schema()["properties"]["spec"], "spec")
    if unknown:
        raise jsonschema.ValidationError(f"fields KServe does not know (pruned silently): {', '.join(unknown)}")
