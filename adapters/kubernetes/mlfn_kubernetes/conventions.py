"""Kubernetes' conventions as typed data the core reads: label style and naming rules."""

from __future__ import annotations

from mlfn.names import NameRule
from mlfn.spec import ComputeSection
from mlfn.tags import TagStyle, restrict

# Label values: at most 63 characters of [A-Za-z0-9_.-], beginning and ending with an alphanumeric.
TAG_STYLE = TagStyle(
    "mlfn.dev/deployment",
    value=restrict("A-Za-z0-9_.-", 63, strip="_.-"),
    source="https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#syntax-and-character-set",
)

NAME_RULES = {
    "k8s": NameRule(1, 63, "a-z0-9-", must_start_with_letter=True, source="RFC 1123 DNS label"),
    # Knative names the predictor's revisions <name>-predictor-00001 and labels their pods with it.
    "kserve": NameRule(1, 47, "a-z0-9-", must_start_with_letter=True,
                       source="RFC 1123 DNS label, less KServe's -predictor and Knative's -00001 revision suffix "
                              "(a label value of at most 63 characters)"),
}


def resources(compute: ComputeSection) -> dict[str, dict[str, str]]:
    """Requests and limits for a Kubernetes container; GPUs as ``nvidia.com/gpu``."""
    requests = {"cpu": f"{compute.cpu:g}", "memory": f"{compute.memory_mib}Mi"}
    limits = {"memory": f"{compute.memory_mib}Mi"}
    if compute.gpu:
        limits["nvidia.com/gpu"] = str(compute.gpu.count)
    return {"requests": requests, "limits": limits}
