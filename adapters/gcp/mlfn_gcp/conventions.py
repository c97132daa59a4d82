"""Google Cloud's conventions as typed data the core reads: label style, naming rules, catalog rows,
and Cloud Run's sizing rules."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlfn.catalog import Catalog
from mlfn.errors import CatalogError
from mlfn.names import NameRule
from mlfn.spec import ComputeSection
from mlfn.tags import TagStyle, restrict

# Label keys: lowercase letters, digits, '_' and '-', starting with a letter; values the same; 63 chars.
TAG_STYLE = TagStyle(
    "mlfn-deployment",
    key=restrict("a-z0-9_-", 63, lowercase=True, start_letter=True),
    value=restrict("a-z0-9_-", 63, lowercase=True),
    source="https://cloud.google.com/resource-manager/docs/labels-overview#requirements",
)

NAME_RULES = {
    "gcp_service_account": NameRule(6, 30, "a-z0-9-", must_start_with_letter=True, source="IAM accountId"),
    "gcs_bucket": NameRule(3, 63, "a-z0-9_-", source="Cloud Storage bucket naming"),
    # The part of a bucket name before "-<8 hex>", a random suffix kept in state (bucket names are
    # one namespace shared by every Cloud Storage user).
    "gcs_bucket_prefix": NameRule(3, 54, "a-z0-9-", source="https://cloud.google.com/storage/docs/buckets#naming"),
    "artifact_registry": NameRule(1, 63, "a-z0-9-", must_start_with_letter=True, source="Artifact Registry"),
    "cloud_run": NameRule(1, 49, "a-z0-9-", must_start_with_letter=True, source="Cloud Run service name"),
    "vertex": NameRule(1, 128, "a-zA-Z0-9_-", lowercase=False, source="Vertex AI display name"),
}

CATALOG = Catalog(Path(__file__).with_name("catalog.yaml"))


@dataclass(frozen=True)
class CloudRunSize:
    cpu: str
    memory: str
    accelerator: str | None
    gpus: int


def cloudrun_size(compute: ComputeSection, region: str | None) -> CloudRunSize:
    """Cloud Run's cpu/memory limits and GPU rules, enforced."""
    data = CATALOG.family("cloudrun")
    problems = []
    if compute.cpu > data["max_cpu"]:
        problems.append(f"compute.cpu {compute.cpu:g} is over Cloud Run's {data['max_cpu']} vCPU")
    if compute.memory_gib > data["max_memory"]:
        problems.append(f"compute.memory {compute.memory} is over Cloud Run's {data['max_memory']}Gi")
    accelerator = None
    gpus = 0
    if compute.gpu:
        rule = data["gpu"].get(compute.gpu.type)
        if rule is None:
            problems.append(
                f"Cloud Run offers no {compute.gpu.type} GPU: use compute.gpu.type "
                f"{', '.join(data['gpu'])}, or target vertex"
            )
        else:
            accelerator, gpus = rule["accelerator"], compute.gpu.count
            if compute.gpu.count > rule["max_count"]:
                problems.append(f"Cloud Run allows {rule['max_count']} GPU per instance: set compute.gpu.count: 1")
            if compute.cpu < rule["min_cpu"]:
                problems.append(f"a Cloud Run {compute.gpu.type} GPU needs compute.cpu of at least {rule['min_cpu']}")
            if compute.memory_gib < rule["min_memory"]:
                problems.append(
                    f"a Cloud Run {compute.gpu.type} GPU needs compute.memory of at least {rule['min_memory']}Gi"
                )
            if region is not None and region not in data["gpu_regions"]:
                problems.append(
                    f"region {region} offers no Cloud Run GPUs: use one of {', '.join(data['gpu_regions'])}"
                )
    if problems:
        raise CatalogError("; ".join(problems))
    return CloudRunSize(
        cpu=f"{compute.cpu:g}", memory=f"{compute.memory_mib}Mi", accelerator=accelerator, gpus=gpus
    )


# Vertex AI's autoscaling metrics for online prediction, and what their targets mean
# (https://cloud.google.com/vertex-ai/docs/predictions/autoscaling, "Target utilization and
# configuration"; AutoscalingMetricSpec in https://cloud.google.com/vertex-ai/docs/reference/rest/v1/DedicatedResources):
# cpu/utilization and accelerator/duty_cycle: a percentage per replica, default 60; request_count:
# "requests per minute per replica", an integer, off unless listed. Listed metrics replace the
# defaults ("if your deployment is configured to scale based only on CPU usage, it won't scale up
# even if GPU usage is high"), so utilisation is listed beside request_count; at most one entry per
# metric. For CPU and GPU together Vertex documents that it scales up when either passes its target
# and down only when both are under; the reference says nothing different for request_count.
VERTEX_CPU_UTILIZATION = "aiplatform.googleapis.com/prediction/online/cpu/utilization"
VERTEX_DUTY_CYCLE = "aiplatform.googleapis.com/prediction/online/accelerator/duty_cycle"
VERTEX_REQUEST_COUNT = "aiplatform.googleapis.com/prediction/online/request_count"
#: Vertex's own default utilisation target (percent), kept.
VERTEX_UTILIZATION_TARGET = 60
#: scaling.concurrency is in-flight requests per replica; request_count counts requests per minute
#: per replica. At one second per request, N in flight is N x 60 a minute (Little's law): the same
#: assumption as the AWS adapter's SageMaker InvocationsPerInstance target (scaling.concurrency * 60).
VERTEX_REQUESTS_PER_MINUTE_PER_IN_FLIGHT = 60


def vertex_autoscaling(concurrency: int, gpu: bool) -> dict[str, int]:
    """The DeployedModel's autoscaling targets, metric name -> target: utilisation (GPU duty cycle
    with a GPU, else CPU) at Vertex's default, and scaling.concurrency as requests per minute per replica."""
    utilization = VERTEX_DUTY_CYCLE if gpu else VERTEX_CPU_UTILIZATION
    return {utilization: VERTEX_UTILIZATION_TARGET,
            VERTEX_REQUEST_COUNT: concurrency * VERTEX_REQUESTS_PER_MINUTE_PER_IN_FLIGHT}
