"""The GCP adapter's typed settings: stack-file location fields, ``overrides.gcp`` and the outputs
``compile`` hands to ``invoke``/``logs``/``status``."""

from __future__ import annotations

from pydantic import Field, field_validator

from mlfn.adapter import Location, Outputs, Overrides, setting

#: The portable region names (``mlfn.adapter.PORTABLE_REGIONS``) as Google Cloud regions. Each one
#: offers Vertex AI prediction and Cloud Run; us-east4, europe-west1 and asia-southeast1 also offer
#: Cloud Run GPUs (catalog.yaml, cloudrun.gpu_regions).
REGIONS = {
    "us-east": "us-east4",
    "us-west": "us-west1",
    "us-central": "us-central1",
    "europe-west": "europe-west1",
    "europe-north": "europe-north1",
    "asia-southeast": "asia-southeast1",
    "asia-northeast": "asia-northeast1",
}


class GcpLocation(Location):
    """Where a GCP stack runs: a project and a region."""

    project: str = setting("Google Cloud project id, e.g. my-project-123.",
                           "GOOGLE_CLOUD_PROJECT", "CLOUDSDK_CORE_PROJECT", examples=("my-project-123",))
    region: str = setting("Google Cloud region (or a portable name such as europe-west), e.g. us-central1.",
                          "GOOGLE_CLOUD_REGION", "CLOUDSDK_COMPUTE_REGION", default="us-central1",
                          examples=("us-central1", "europe-west4"))

    @field_validator("region")
    @classmethod
    def _region(cls, v: str) -> str:
        """Google Cloud region names are <area>-<direction><n> (us-central1, europe-west4)."""
        import re

        if not re.fullmatch(r"[a-z]+-[a-z]+\d{1,2}", v):
            m = re.fullmatch(r"([a-z]+)-([a-z]+)-(\d+)", v)
            hint = f": did you mean {m[1]}-{m[2]}{m[3]}? (that is an AWS-style name)" if m else ""
            raise ValueError(f"is not a Google Cloud region name (like us-central1 or europe-west4, or a portable "
                             f"name such as europe-west){hint}")
        return v


class GcpOverrides(Overrides):
    """``overrides.gcp``: settings a portable description cannot say."""

    scale_to_zero: bool = Field(
        default=False,
        description="vertex: allow scaling.min: 0 through the v1beta1 API's scale_to_zero_spec (preview).")
    bucket: str | None = Field(
        default=None, min_length=3, max_length=63, pattern=r"^[a-z0-9][a-z0-9._-]*[a-z0-9]$",
        description="vertex: an existing Cloud Storage bucket for the model, instead of one the stack creates.")
    gpu_zonal_redundancy: bool = Field(
        default=False,
        description="cloudrun: keep GPU zonal redundancy (needs its own quota; off by default).")
    deploy_timeout_minutes: int = Field(
        default=60, ge=10, le=120,
        description="vertex: how long a model's upload or deployment may take before mlfn cancels it and "
                    "undeploys what landed (Vertex allows at most 2 hours); big GPU models need 20-30.")
    enable_apis: bool = Field(
        default=True,
        description="Enable the Google APIs the target needs that are off (read first: nothing is enabled that "
                    "is on). false for locked-down projects where an admin enables APIs.")
    machine_type: str | None = Field(
        default=None, pattern=r"^[a-z][a-z0-9]*-[a-z0-9-]+$",
        description="vertex: a machine type (e.g. n1-highmem-8) instead of the catalog's pick.")


class GcpOutputs(Outputs):
    """What ``compile`` returns beside the URL: enough for ``invoke`` and ``logs`` to find it."""

    project: str = Field(description="The Google Cloud project.")
    region: str = Field(description="The region it runs in.")
    log_query: str = Field(default="", description="The Cloud Logging query for its logs.")
    service: str = Field(default="", description="cloudrun: the Cloud Run service's name.")
    api_key: str = Field(default="", description="cloudrun with endpoint.auth key: the runtime's API key.")
    endpoint: str = Field(default="", description="vertex: the endpoint (projects/.../endpoints/ID).")
    # Outputs of mlfn's dynamic provider: unknown (None) until the deploy has run.
    deployed_model_id: str | None = Field(default=None, description="vertex: the deployed model's id on the endpoint.")
    model: str | None = Field(default=None, description="vertex: the uploaded model (projects/.../models/ID).")
