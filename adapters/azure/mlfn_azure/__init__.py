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
    DoctorCheck,
    InvokeResponse,
    LogsInfo,
    credentials_check,
    post,
)
from mlfn.errors import InvokeError
from mlfn.stack import ResolvedStack

from .conventions import CATALOG, NAME_RULES, TAG_STYLE
from .pricing import PRICING
from .settings import REGIONS, AzureLocation, AzureOutputs, AzureOverrides
from .targets import TARGETS

__all__ = ["AzureAdapter", "AzureLocation", "AzureOutputs", "AzureOverrides"]


def base_name(spec, stack) -> str:
    """What every name of a deployment starts with; the suffix kept in state follows it."""
    return f"{spec.name}-{stack.name}"


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
        "azure-native:operationalinsights:getSharedKeys": {"primarySharedKey": "plan-shared-key"},
        "azure-native:machinelearningservices:getWorkspace": {
            "workspaceId": "00000000-0000-0000-0000-000000000005",
            "storageAccount": "/subscriptions/00000000-0000-0000-0000-000000000003/resourceGroups/existing/providers/"
                              "Microsoft.Storage/storageAccounts/existingstorage",
        },
    }
    supports_logs = True
    tag_style = TAG_STYLE
    name_rules = NAME_RULES
    catalog = CATALOG
    stack_template = "cloud: azure\nlocation: eastus\nresource_group: {name}-rg\n"

    def ambient(self, env: Mapping[str, str]) -> Mapping[str, Any]:
        from .ambient import ambient

        return ambient(env)

    def doctor(self, env: Mapping[str, str]) -> list[DoctorCheck]:
        # What pulumi-azure-native signs in with (credential.py): the ARM_* methods, else the az CLI's
        # login; AZURE_* variables are not read by it, so they do not count.
        return [credentials_check(self.name, env, ("ARM_CLIENT_ID", "ARM_USE_MSI", "ARM_USE_OIDC",
                                                   "ARM_USE_DEFAULT_AZURE_CREDENTIAL"),
                                  ("~/.azure/azureProfile.json",),
                                  "run `az login`, or set the ARM_* variables of a service principal or identity")]

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
        carry a suffix only the stack's state knows, so the query and command match their prefix."""
        if not isinstance(outputs, AzureOutputs):
            outputs = None
        resource = outputs.log_workspace_id if outputs else ""
        if outputs and outputs.log_query:
            query = outputs.log_query
        elif spec is not None:
            query = log_query(stack.target, base_name(spec, stack), prefix=True)
        else:
            query = ""
        link = (f"https://portal.azure.com/#@/resource{resource}/logs?query={urllib.parse.quote(query)}"
                if resource else None)
        if stack.target == "azureml":
            if outputs and outputs.log_command:
                where = outputs.log_command
            elif spec is not None:
                from .azureml import deployment_name

                base = base_name(spec, stack)
                sku = stack.overrides.instance_type or CATALOG.pick("azureml", spec.compute).name
                where = (f"az ml online-endpoint list --query \"[?starts_with(name, '{base}')].name\" (then: az ml "
                         f"online-deployment get-logs --name {deployment_name(sku)} --endpoint-name NAME), or the Log "
                         "Analytics query: " + query)
            else:
                where = "Azure ML studio"
            return LogsInfo(where=where, link=link)
        return LogsInfo(where=f"Log Analytics query: {query}" if query else "Log Analytics", link=link)

    pricing = PRICING


def log_query(target: str | None, name: str, prefix: bool = False) -> str:
    """The Log Analytics query of a deployment's console logs (by its endpoint or app name, or by the
    prefix of that name)."""
    op = "startswith" if prefix else "=="
    if target == "azureml":
        return f'AmlOnlineEndpointConsoleLog | where EndpointName {op} "{name}"'
    return f'ContainerAppConsoleLogs_CL | where ContainerAppName_s {op} "{name}" | order by TimeGenerated desc'


def _token(scope: str) -> str:
    try:
        from azure.core.exceptions import ClientAuthenticationError

        from .credential import CredentialError, credential
    except ImportError as e:  # pragma: no cover - azure-identity comes with the adapter
        raise InvokeError("invoking Azure needs azure-identity: pip install mlfn-azure") from e
    try:
        return credential().get_token(scope).token
    except CredentialError as e:
        raise InvokeError(str(e)) from e
    except ClientAuthenticationError as e:
        raise InvokeError("no Azure credentials: run `az login`") from e


def _endpoint_key(endpoint_id: str) -> str:
    import httpx

    r = httpx.post(f"https://management.azure.com{endpoint_id}/listKeys", params={"api-version": "2024-04-01"},
                   headers={"authorization": f"Bearer {_token('https://management.azure.com/.default')}"}, timeout=60)
    if r.status_code >= 400:
        raise InvokeError(f"reading the endpoint's keys failed: HTTP {r.status_code} {r.text[:300]}")
    return r.json()["primaryKey"]
