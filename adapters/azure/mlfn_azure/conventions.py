"""Azure's conventions as typed data the core reads: tag style, naming rules, catalog rows, and
Container Apps' sizing rules."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from mlfn.catalog import Catalog
from mlfn.errors import CatalogError
from mlfn.names import NameRule
from mlfn.spec import ComputeSection
from mlfn.tags import TagStyle

TAG_STYLE = TagStyle(
    "mlfn:deployment",
    source="https://learn.microsoft.com/azure/azure-resource-manager/management/tag-resources#limitations",
)

NAME_RULES = {
    "azure_storage": NameRule(3, 24, "a-z0-9", separator="", source="Storage account name"),
    "acr": NameRule(5, 50, "a-zA-Z0-9", separator="", lowercase=False, source="Container registry name"),
    "azure_ml_workspace": NameRule(3, 33, "a-zA-Z0-9-", must_start_with_letter=True, source="AML workspace"),
    "azure_ml_endpoint": NameRule(3, 32, "a-zA-Z0-9-", must_start_with_letter=True, source="AML online endpoint"),
    "azure_key_vault": NameRule(3, 24, "a-zA-Z0-9-", must_start_with_letter=True, source="Key Vault name"),
    "azure_resource_group": NameRule(1, 90, "a-zA-Z0-9._()-", lowercase=False, source="Resource group"),
    "container_app": NameRule(2, 32, "a-z0-9-", must_start_with_letter=True, source="Container App name"),
}

CATALOG = Catalog(Path(__file__).with_name("catalog.yaml"))


@dataclass(frozen=True)
class ContainerAppsSize:
    cpu: float
    memory: str
    workload_profile: str | None


def containerapps_size(compute: ComputeSection) -> ContainerAppsSize:
    """Consumption profile for CPU (0.25 vCPU steps, 2 GiB per vCPU), a GPU profile otherwise."""
    if compute.gpu:
        if compute.gpu.count != 1:
            raise CatalogError("Container Apps serverless GPUs give one GPU per replica: set compute.gpu.count: 1")
        m = CATALOG.pick("containerapps", compute)
        return ContainerAppsSize(cpu=m.cpu, memory=f"{m.memory:g}Gi", workload_profile=m.name)
    need = max(compute.cpu, compute.memory_gib / 2)
    cpu = math.ceil(need * 4) / 4
    max_cpu = CATALOG.family("containerapps")["max_cpu"]
    if cpu > max_cpu:
        raise CatalogError(
            f"Container Apps' consumption profile stops at {max_cpu} vCPU / {2 * max_cpu}Gi: "
            f"lower compute.cpu/compute.memory, or use cloud azure target azureml"
        )
    return ContainerAppsSize(cpu=cpu, memory=f"{cpu * 2:g}Gi", workload_profile=None)
