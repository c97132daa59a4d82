"""mlfn adapter for Azure.

Targets: ``containerapps`` (Container Apps with serverless GPUs; the default for
``scaling.min: 0``) and ``azureml`` (an Azure ML managed online endpoint; the default for
``min >= 1``).
"""

from __future__ import annotations

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
from mlfn.names import resource_name, short_hash
from mlfn.stack import ResolvedStack

from .conventions import CATALOG, NAME_RULES, TAG_STYLE, containerapps_size
from .pricing import PRICING

__all__ = ["AzureAdapter"]

OVERRIDES = {
    "instance_type": "azureml: a managed online endpoint SKU instead of the catalog's pick",
    "request_timeout": "azureml: ISO-8601 request timeout, at most PT3M (default PT60S)",
    "log_retention_days": "containerapps: Log Analytics retention (default 30)",
}


def names_for(spec, stack) -> dict[str, str]:
    base = f"{spec.name}-{stack.name}"
    return {
        "base": base,
        "resource_group": stack.setting("resource_group")
        or resource_name(base, NAME_RULES["azure_resource_group"], "rg"),
        "workspace": stack.setting("workspace") or resource_name(base, NAME_RULES["azure_ml_workspace"]),
        # Globally unique names carry a short hash of the deployment and stack.
        "storage": resource_name(f"{base}{short_hash(base)}", NAME_RULES["azure_storage"]),
        "vault": resource_name(f"{base}-{short_hash(base)}", NAME_RULES["azure_key_vault"]),
        "registry": resource_name(f"{base}{short_hash(base)}", NAME_RULES["acr"]),
        "endpoint": resource_name(base, NAME_RULES["azure_ml_endpoint"]),
        "deployment": "blue",
        "app": resource_name(base, NAME_RULES["container_app"]),
        "environment": resource_name(base, NAME_RULES["container_app"], "env"),
    }


class AzureAdapter(Adapter):
    name = "azure"
    package = "mlfn-azure"
    targets = ("containerapps", "azureml")
    scale_to_zero_target = "containerapps"
    managed_target = "azureml"
    location = {
        "location": LocationSetting(env=("AZURE_LOCATION",)),
        "resource_group": LocationSetting(required=False),
        "workspace": LocationSetting(required=False),
        "subscription": LocationSetting(env=("AZURE_SUBSCRIPTION_ID", "ARM_SUBSCRIPTION_ID"), required=False),
    }
    plan_calls = {
        "azure-native:authorization:getClientConfig": {
            "clientId": "00000000-0000-0000-0000-000000000001", "objectId": "00000000-0000-0000-0000-000000000002",
            "subscriptionId": "00000000-0000-0000-0000-000000000003",
            "tenantId": "00000000-0000-0000-0000-000000000004",
        },
        "azure-native:containerregistry:listRegistryCredentials": {
            "username": "registry-user", "passwords": [{"name": "password", "value": "registry-password"}],
        },
        "azure-native:operationalinsights:getSharedKeys": {"primarySharedKey": "plan-shared-key"},
    }
    supports_logs = True
    tag_style = TAG_STYLE
    name_rules = NAME_RULES
    catalog = CATALOG
    stack_template = "cloud: azure\nlocation: eastus\nresource_group: {name}-rg\n"

    def doctor(self, env: Mapping[str, str]) -> list[DoctorCheck]:
        return [credentials_check(self.name, env, ("AZURE_CLIENT_ID", "ARM_CLIENT_ID"), ("~/.azure/azureProfile.json",),
            "run `az login`")]

    def check(self, spec, stack: ResolvedStack) -> list[str]:
        from . import rules

        problems: list[str] = []
        o = stack.overrides
        problems += unknown_overrides("azure", o, OVERRIDES)
        if stack.target == "azureml":
            if spec.scaling.min == 0:
                problems.append("Azure ML online endpoints keep at least one instance: set scaling.min: 1, "
                                "or use target containerapps to scale to zero")
            if spec.endpoint.auth == "public":
                problems.append("Azure ML online endpoints always need a key or an Entra ID token: set "
                                "endpoint.auth: key or private, or use target containerapps for public")
            if "instance_type" in o:
                skus = {m.name for m in CATALOG.machines("azureml")}
                if o["instance_type"] not in skus:
                    problems.append(f"overrides.azure.instance_type: {o['instance_type']!r} is not a managed "
                                    "online endpoint SKU (e.g. Standard_DS3_v2, Standard_NC4as_T4_v3)")
            else:
                try:
                    CATALOG.pick("azureml", spec.compute)
                except CatalogError as e:
                    problems.append(str(e))
            if "request_timeout" in o:
                timeout_problems: list[str] = []
                s = rules.duration_s(o["request_timeout"], "overrides.azure.request_timeout", timeout_problems)
                if s is not None and not 0 < s <= rules.MAX_REQUEST_TIMEOUT_S:
                    timeout_problems.append("overrides.azure.request_timeout: Azure ML allows at most PT3M (180 s)")
                problems += timeout_problems
            if spec.model.is_remote:
                problems.append("Azure ML registers the model from the workspace's storage: set model.uri to a "
                                "local directory (mlfn uploads it)")
        if stack.target == "containerapps":
            if spec.compute.gpu and spec.compute.gpu.type not in ("t4", "a100"):
                problems.append(f"Container Apps serverless GPUs are T4 or A100: compute.gpu.type "
                                f"{spec.compute.gpu.type!r} is not offered (use t4 or a100, or target azureml)")
            else:
                try:
                    containerapps_size(spec.compute)
                except CatalogError as e:
                    problems.append(str(e))
        return problems

    def notes(self, spec, stack: ResolvedStack) -> list[str]:
        if stack.target == "containerapps" and spec.endpoint.auth == "private":
            return ["endpoint.auth private on Container Apps is internal ingress: the endpoint is reachable only "
                    "from inside the Container Apps environment's network (Entra ID sign-in on the app needs an "
                    "app registration mlfn does not create); use endpoint.auth key to call it from outside"]
        return []

    def compile(self, ctx: CompileContext) -> CompileResult:
        if ctx.target == "azureml":
            from .azureml import compile_azureml

            return compile_azureml(ctx, names_for(ctx.spec, ctx.stack))
        from .containerapps import compile_containerapps

        return compile_containerapps(ctx, names_for(ctx.spec, ctx.stack))

    def invoke(self, outputs: Mapping[str, Any], stack: ResolvedStack, body: bytes,
               content_type: str) -> InvokeResponse:
        details = outputs.get("details") or {}
        url = str(outputs["url"])
        headers = {"content-type": content_type}
        if details.get("target") == "azureml":
            if details.get("auth_mode") == "Key":
                headers["authorization"] = f"Bearer {_endpoint_key(details['endpoint_id'])}"
            else:
                headers["authorization"] = f"Bearer {_token('https://ml.azure.com/.default')}"
        else:
            url = url.rstrip("/") + "/invocations"
            if details.get("api_key"):
                headers["authorization"] = f"Bearer {details['api_key']}"
        return post(url, body, headers)

    def logs(self, outputs: Mapping[str, Any], stack: ResolvedStack, lines: int = 50, spec=None) -> LogsInfo:
        details = outputs.get("details") or {}
        query = details.get("log_query")
        if not query and spec is not None:
            query = log_query(stack.target, names_for(spec, stack))
        resource = details.get("log_workspace_id")
        link = (f"https://portal.azure.com/#@/resource{resource}/logs?query={urllib.parse.quote(query or '')}"
                if resource else None)
        if stack.target == "azureml":
            n = names_for(spec, stack) if spec is not None else None
            where = details.get("log_command") or (
                f"az ml online-deployment get-logs --name blue --endpoint-name {n['endpoint']} "
                f"--resource-group {n['resource_group']} --workspace-name {n['workspace']}" if n else "Azure ML studio")
            return LogsInfo(where=where, link=link)
        return LogsInfo(where=f"Log Analytics query: {query}" if query else "Log Analytics", link=link)

    pricing = PRICING


def log_query(target: str | None, n: dict[str, str]) -> str:
    if target == "azureml":
        return f'AmlOnlineEndpointConsoleLog | where EndpointName == "{n["endpoint"]}"'
    return f'ContainerAppConsoleLogs_CL | where ContainerAppName_s == "{n["app"]}" | order by TimeGenerated desc'


def _token(scope: str) -> str:
    try:
        from azure.core.exceptions import ClientAuthenticationError
        from azure.identity import DefaultAzureCredential
    except ImportError as e:  # pragma: no cover - azure-identity comes with the adapter
        raise InvokeError("invoking Azure needs azure-identity: pip install mlfn-azure") from e
    try:
        return DefaultAzureCredential().get_token(scope).token
    except ClientAuthenticationError as e:
        raise InvokeError("no Azure credentials: run `az login`") from e


def _endpoint_key(endpoint_id: str) -> str:
    import httpx

    r = httpx.post(f"https://management.azure.com{endpoint_id}/listKeys", params={"api-version": "2024-04-01"},
                   headers={"authorization": f"Bearer {_token('https://management.azure.com/.default')}"}, timeout=60)
    if r.status_code >= 400:
        raise InvokeError(f"reading the endpoint's keys failed: HTTP {r.status_code} {r.text[:300]}")
    return r.json()["primaryKey"]
