"""mlfn adapter for Google Cloud.

Targets: ``cloudrun`` (a Cloud Run service, GPUs through ``nvidia-l4``; the default for
``scaling.min: 0``) and ``vertex`` (a Vertex AI endpoint with the model uploaded and deployed by
mlfn's own dynamic provider; the default for ``min >= 1``).
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping

from mlfn.adapter import (
    Adapter,
    DoctorCheck,
    InvokeResponse,
    LogsInfo,
    credentials_check,
    post,
)
from mlfn.errors import InvokeError
from mlfn.stack import ResolvedStack

from .conventions import CATALOG, NAME_RULES, TAG_STYLE
from .naming import endpoint_id, log_query, names
from .settings import REGIONS, GcpLocation, GcpOutputs, GcpOverrides
from .targets import CloudRun, Vertex

__all__ = ["GcpAdapter", "GcpLocation", "GcpOutputs", "GcpOverrides", "endpoint_id", "log_query"]


#: What the identity that runs `mlfn up` needs (not checked offline; the README has the details).
DEPLOY_ROLES = (
    "not checked here: the identity that runs mlfn up needs iam.serviceAccounts.actAs on the runtime "
    "service account it creates (roles/iam.serviceAccountUser), besides roles/run.admin or "
    "roles/aiplatform.user, roles/artifactregistry.admin, roles/iam.serviceAccountAdmin, "
    "roles/resourcemanager.projectIamAdmin, roles/storage.admin (vertex), roles/secretmanager.admin "
    "(cloudrun with auth key) and roles/serviceusage.serviceUsageAdmin (to enable APIs that are off)"
)


class GcpAdapter(Adapter):
    name = "gcp"
    package = "mlfn-gcp"
    targets = {"cloudrun": CloudRun(), "vertex": Vertex()}
    scale_to_zero_target = "cloudrun"
    managed_target = "vertex"
    Location = GcpLocation
    Overrides = GcpOverrides
    Outputs = GcpOutputs
    region_field = "region"
    regions = REGIONS
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
            "run `gcloud auth application-default login`"),
            DoctorCheck("gcp deploy roles", True, DEPLOY_ROLES)]

    def invoke(self, outputs: GcpOutputs, stack: ResolvedStack, body: bytes,
               content_type: str) -> InvokeResponse:
        url = outputs.url
        headers = {"content-type": content_type}
        if outputs.target == "vertex":
            headers["authorization"] = f"Bearer {_access_token()}"
        elif outputs.api_key:
            headers["authorization"] = f"Bearer {outputs.api_key}"
            url = url.rstrip("/") + "/invocations"
        else:
            headers["authorization"] = f"Bearer {_id_token(url)}"
            url = url.rstrip("/") + "/invocations"
        return post(url, body, headers)

    def logs(self, outputs: GcpOutputs | None, stack: ResolvedStack, lines: int = 50, spec=None) -> LogsInfo:
        project = stack.location.project
        query = outputs.log_query if outputs is not None else ""
        if not query and spec is not None:
            query = log_query(stack.target, names(spec, stack))
        if not query:
            return LogsInfo(where=f"Cloud Logging in project {project}")
        link = ("https://console.cloud.google.com/logs/query;query="
                f"{urllib.parse.quote(query, safe='')}?project={project}")
        return LogsInfo(where=f"Cloud Logging, project {project}, query: {query}", link=link)


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
