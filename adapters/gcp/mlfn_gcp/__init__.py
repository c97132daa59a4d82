"""mlfn adapter for Google Cloud.

Targets: ``cloudrun`` (a Cloud Run service, GPUs through ``nvidia-l4``; the default for
``scaling.min: 0``) and ``vertex`` (a Vertex AI endpoint with the model uploaded and deployed by
mlfn's own dynamic provider; the default for ``min >= 1``).
"""

from __future__ import annotations

import hashlib
import urllib.parse
from collections.abc import Mapping
from typing import Any

from mlfn.adapter import (
    Adapter,
    CompileContext,
    CompileResult,
    DoctorCheck,
    InvokeResponse,
    LocationSetting,
    LogsInfo,
    credentials_check,
    post,
    unknown_overrides,
)
from mlfn.errors import CatalogError, InvokeError
from mlfn.names import resource_name
from mlfn.stack import ResolvedStack

from .conventions import CATALOG, NAME_RULES, TAG_STYLE, cloudrun_size
from .pricing import PRICING

__all__ = ["GcpAdapter"]

OVERRIDES = {
    "scale_to_zero": "vertex: allow scaling.min: 0 through the v1beta1 API's scale_to_zero_spec",
    "bucket": "an existing GCS bucket for the model",
    "gpu_zonal_redundancy": "cloudrun: keep GPU zonal redundancy (needs its own quota; default off)",
    "machine_type": "vertex: a machine type instead of the catalog's pick",
}


def endpoint_id(base: str) -> str:
    """Vertex endpoint IDs are numeric (at most 10 digits, no leading zero): stable from the name."""
    n = int(hashlib.sha256(base.encode()).hexdigest()[:12], 16) % 9_000_000_000 + 1_000_000_000
    return str(n)


def _names(spec, stack) -> dict[str, str]:
    base = f"{spec.name}-{stack.name}"
    return {
        "base": base,
        "service": resource_name(base, NAME_RULES["cloud_run"]),
        "repository": resource_name(base, NAME_RULES["artifact_registry"]),
        "account": resource_name(base, NAME_RULES["gcp_service_account"]),
        "bucket": resource_name(base, NAME_RULES["gcs_bucket"], "models"),
        "endpoint": endpoint_id(base),
    }


class GcpAdapter(Adapter):
    name = "gcp"
    package = "mlfn-gcp"
    targets = ("cloudrun", "vertex")
    scale_to_zero_target = "cloudrun"
    managed_target = "vertex"
    location = {
        "project": LocationSetting(env=("GOOGLE_CLOUD_PROJECT", "CLOUDSDK_CORE_PROJECT")),
        "region": LocationSetting(env=("GOOGLE_CLOUD_REGION", "CLOUDSDK_COMPUTE_REGION"), default="us-central1"),
    }
    plan_calls = {
        "gcp:organizations/getClientConfig:getClientConfig": {
            "accessToken": "plan-access-token", "project": "plan-project", "region": "us-central1",
            "zone": "us-central1-a", "id": "client-config",
        },
    }
    supports_logs = True
    tag_style = TAG_STYLE
    name_rules = NAME_RULES
    catalog = CATALOG
    stack_template = "cloud: gcp\nproject: my-gcp-project\nregion: us-central1\n"

    def doctor(self, env: Mapping[str, str]) -> list[DoctorCheck]:
        return [credentials_check(
            self.name, env, ("GOOGLE_APPLICATION_CREDENTIALS",),
            ("~/.config/gcloud/application_default_credentials.json",),
            "run `gcloud auth application-default login`")]

    def check(self, spec, stack: ResolvedStack) -> list[str]:
        problems: list[str] = []
        o = stack.overrides
        problems += unknown_overrides("gcp", o, OVERRIDES)
        region = stack.setting("region")
        if stack.target == "vertex":
            if spec.scaling.min == 0 and not o.get("scale_to_zero"):
                problems.append("Vertex AI endpoints keep at least one replica: set scaling.min: 1, use target "
                                "cloudrun to scale to zero, or opt in to Vertex's preview scale-to-zero with "
                                "overrides.gcp.scale_to_zero: true")
            if spec.endpoint.auth != "private":
                problems.append(f"Vertex AI endpoints are always called with Google credentials: set "
                                f"endpoint.auth: private, or use target cloudrun for auth {spec.endpoint.auth}")
            if spec.model.is_remote and not spec.model.uri.startswith("gs://"):
                problems.append("Vertex AI reads models from Cloud Storage: set model.uri to a local directory "
                                "(mlfn uploads it) or a gs:// URI")
            if "machine_type" not in o:
                try:
                    CATALOG.pick("vertex", spec.compute)
                except CatalogError as e:
                    problems.append(str(e))
        if stack.target == "cloudrun":
            try:
                cloudrun_size(spec.compute, region)
            except CatalogError as e:
                problems.append(str(e))
        return problems

    def compile(self, ctx: CompileContext) -> CompileResult:
        if ctx.target == "vertex":
            from .vertex import compile_vertex

            return compile_vertex(ctx, _names(ctx.spec, ctx.stack))
        from .cloudrun import compile_cloudrun

        return compile_cloudrun(ctx, _names(ctx.spec, ctx.stack))

    def invoke(self, outputs: Mapping[str, Any], stack: ResolvedStack, body: bytes,
               content_type: str) -> InvokeResponse:
        details = outputs.get("details") or {}
        url = str(outputs["url"])
        headers = {"content-type": content_type}
        if details.get("target") == "vertex":
            headers["authorization"] = f"Bearer {_access_token()}"
        elif details.get("api_key"):
            headers["authorization"] = f"Bearer {details['api_key']}"
            url = url.rstrip("/") + "/invocations"
        else:
            headers["authorization"] = f"Bearer {_id_token(url)}"
            url = url.rstrip("/") + "/invocations"
        return post(url, body, headers)

    def logs(self, outputs: Mapping[str, Any], stack: ResolvedStack, lines: int = 50, spec=None) -> LogsInfo:
        project = stack.setting("project")
        details = outputs.get("details") or {}
        query = details.get("log_query")
        if not query and spec is not None:
            query = log_query(stack.target, _names(spec, stack))
        if not query:
            return LogsInfo(where=f"Cloud Logging in project {project}")
        link = ("https://console.cloud.google.com/logs/query;query="
                f"{urllib.parse.quote(query, safe='')}?project={project}")
        return LogsInfo(where=f"Cloud Logging, project {project}, query: {query}", link=link)

    pricing = PRICING


def log_query(target: str | None, names: dict[str, str]) -> str:
    if target == "vertex":
        return f'resource.type="aiplatform.googleapis.com/Endpoint" resource.labels.endpoint_id="{names["endpoint"]}"'
    return f'resource.type="cloud_run_revision" resource.labels.service_name="{names["service"]}"'


def _access_token() -> str:
    try:
        import google.auth
        import google.auth.transport.requests
    except ImportError as e:  # pragma: no cover - google-auth comes with the adapter
        raise InvokeError("invoking Vertex AI needs google-auth: pip install mlfn-gcp") from e
    try:
        creds, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])
        creds.refresh(google.auth.transport.requests.Request())
    except google.auth.exceptions.DefaultCredentialsError as e:
        raise InvokeError("no Google credentials: run `gcloud auth application-default login`") from e
    return creds.token


def _id_token(audience: str) -> str:
    """An ID token for a Cloud Run URL: service accounts mint one; user credentials carry one."""
    import google.auth
    import google.auth.transport.requests
    import google.oauth2.id_token

    request = google.auth.transport.requests.Request()
    try:
        return google.oauth2.id_token.fetch_id_token(request, audience)
    except google.auth.exceptions.DefaultCredentialsError:
        pass
    try:
        creds, _ = google.auth.default()
        creds.refresh(request)
    except google.auth.exceptions.DefaultCredentialsError as e:
        raise InvokeError("no Google credentials: run `gcloud auth application-default login`") from e
    token = getattr(creds, "id_token", None)
    if not token:
        raise InvokeError("these Google credentials cannot mint an ID token for Cloud Run: use a service "
                          "account, or `gcloud auth application-default login`")
    return token
