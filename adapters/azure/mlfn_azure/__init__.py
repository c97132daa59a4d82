"""mlfn adapter for Azure.

Targets: ``containerapps`` (Container Apps with serverless GPUs; the default for
``scaling.min: 0``) and ``azureml`` (an Azure ML managed online endpoint; the default for
``min >= 1``).
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
from mlfn.names import resource_name, short_hash
from mlfn.stack import ResolvedStack

from .conventions import CATALOG, NAME_RULES, TAG_STYLE
from .settings import REGIONS, AzureLocation, AzureOutputs, AzureOverrides
from .targets import TARGETS

__all__ = ["AzureAdapter", "AzureLocation", "AzureOutputs", "AzureOverrides"]


def names_for(spec, stack) -> dict[str, str]:
    base = f"{spec.name}-{stack.name}"
    loc = stack.location
    return {
        "base": base,
        "resource_group": loc.resource_group or resource_name(base, NAME_RULES["azure_resource_group"], "rg"),
        "workspace": loc.workspace or resource_name(base, NAME_RULES["azure_ml_workspace"]),
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
    targets = TARGETS
    scale_to_zero_target = "containerapps"
    managed_target = "azureml"
    Location = AzureLocation
    Overrides = AzureOverrides
    Outputs = AzureOutputs
    region_field = "location"
    regions = REGIONS
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

    def invoke(self, outputs: AzureOutputs, stack: ResolvedStack | None, body: bytes,
               content_type: str) -> InvokeResponse:
        url = outputs.url
        headers = {"content-type": content_type}
        if (outputs.target or (stack.target if stack else "")) == "azureml":
            if outputs.auth_mode == "Key":
                headers["authorization"] = f"Bearer {_endpoint_key(outputs.endpoint_id)}"
            else:
                headers["authorization"] = f"Bearer {_token('https://ml.azure.com/.default')}"
        else:
            url = url.rstrip("/") + "/invocations"
            if outputs.api_key:
                headers["authorization"] = f"Bearer {outputs.api_key}"
        return post(url, body, headers)

    def logs(self, outputs: AzureOutputs | None, stack: ResolvedStack, lines: int = 50, spec=None) -> LogsInfo:
        """Where the logs are. ``outputs`` is None (or empty) after a failed first ``up``: the names then
        come from ``spec``."""
        if not isinstance(outputs, AzureOutputs):
            outputs = None
        n = names_for(spec, stack) if spec is not None else None
        query = (outputs.log_query if outputs else "") or (log_query(stack.target, n) if n else "")
        resource = outputs.log_workspace_id if outputs else ""
        link = (f"https://portal.azure.com/#@/resource{resource}/logs?query={urllib.parse.quote(query)}"
                if resource else None)
        if stack.target == "azureml":
            where = (outputs.log_command if outputs else "") or (
                f"az ml online-deployment get-logs --name {n['deployment']} --endpoint-name {n['endpoint']} "
                f"--resource-group {n['resource_group']} --workspace-name {n['workspace']}" if n else "Azure ML studio")
            return LogsInfo(where=where, link=link)
        return LogsInfo(where=f"Log Analytics query: {query}" if query else "Log Analytics", link=link)


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
