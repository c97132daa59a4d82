"""Azure's typed settings: the stack file's location fields, ``overrides.azure`` and the outputs
``compile`` hands to ``invoke``/``logs``/``status``. The core validates the first two with file:line
errors; value rules that need no other input (SKU names, ISO-8601 limits, ranges) live here."""

from __future__ import annotations

from pydantic import Field, field_validator

from mlfn.adapter import Location, Outputs, Overrides, setting

from .conventions import CATALOG
from .rules import MAX_REQUEST_TIMEOUT_S, duration_s

#: Portable regions (``mlfn.adapter.PORTABLE_REGIONS``) -> Azure region names.
REGIONS = {
    "us-east": "eastus",
    "us-west": "westus3",
    "us-central": "centralus",
    "europe-west": "westeurope",
    "europe-north": "swedencentral",
    "asia-southeast": "southeastasia",
    "asia-northeast": "japaneast",
}


class AzureLocation(Location):
    location: str = setting("Azure region, e.g. eastus or westeurope (a portable name such as us-east works too).",
                            "AZURE_LOCATION", examples=("eastus", "westeurope"))
    resource_group: str | None = setting(
        "An existing resource group to deploy into; without it mlfn creates one for this deployment.", default=None)
    workspace: str | None = setting(
        "azureml: an existing Azure ML workspace (in resource_group); without it mlfn creates one.", default=None)
    subscription: str | None = setting(
        "Subscription id; default: the signed-in one (az account show).", "AZURE_SUBSCRIPTION_ID",
        "ARM_SUBSCRIPTION_ID", default=None)

    @field_validator("location")
    @classmethod
    def _location(cls, v: str) -> str:
        """Azure region names are one lowercase word (eastus, westeurope, southeastasia)."""
        import re

        if not re.fullmatch(r"[a-z]+[a-z0-9]*", v):
            hint = f": did you mean {v.replace('-', '').replace(' ', '').lower()}?" if re.fullmatch(
                r"[A-Za-z0-9 -]+", v) else ""
            raise ValueError(f"is not an Azure region name (like eastus or westeurope, or a portable name such as "
                             f"us-east){hint}")
        return v


def _skus() -> set[str]:
    return {m.name for m in CATALOG.machines("azureml")}


class AzureOverrides(Overrides):
    instance_type: str | None = Field(
        default=None, description="azureml: a managed online endpoint SKU instead of the catalog's pick, "
        "e.g. Standard_NC8as_T4_v3.")
    request_timeout: str = Field(
        default="PT60S", description="azureml: ISO-8601 request timeout, at most PT3M (180 s).")
    log_retention_days: int = Field(
        # "Possible values are either 7 (Free Tier only) or range between 30 and 730" (terraform-provider-azurerm,
        # log_analytics_workspace.html.markdown, retention_in_days); mlfn creates PerGB2018 workspaces.
        default=30, ge=30, le=730, description="Log Analytics retention in days (30-730): containerapps' logs, "
        "azureml's Application Insights.")

    @field_validator("instance_type")
    @classmethod
    def _sku(cls, v: str | None) -> str | None:
        if v is not None and v not in _skus():
            raise ValueError("not a managed online endpoint SKU mlfn knows (e.g. Standard_DS3_v2, "
                             "Standard_NC4as_T4_v3)")
        return v

    @field_validator("request_timeout")
    @classmethod
    def _timeout(cls, v: str) -> str:
        problems: list[str] = []
        s = duration_s(v, "request_timeout", problems)
        if problems:
            raise ValueError("not an ISO-8601 duration such as PT30S")
        if s is not None and not 0 < s <= MAX_REQUEST_TIMEOUT_S:
            raise ValueError("Azure ML allows at most PT3M (180 s)")
        return v


class AzureOutputs(Outputs):
    location: str = Field(default="", description="The Azure region it runs in.")
    log_query: str = Field(default="", description="The Log Analytics (KQL) query that shows its logs.")
    # azureml
    endpoint_id: str = Field(default="", description="azureml: the online endpoint's ARM resource id.")
    endpoint: str = Field(default="", description="azureml: the online endpoint's name.")
    auth_mode: str = Field(default="", description="azureml: AADToken (private) or Key.")
    log_command: str = Field(default="", description="azureml: the az command that prints the deployment's logs.")
    # containerapps
    app: str = Field(default="", description="containerapps: the Container App's name.")
    external: bool = Field(default=False, description="containerapps: whether ingress is reachable from outside.")
    log_workspace_id: str = Field(default="", description="containerapps: the Log Analytics workspace's id.")
    api_key: str = Field(default="", description="containerapps: the runtime's API key (endpoint.auth key).")
