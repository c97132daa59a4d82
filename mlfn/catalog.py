"""The compute catalog: portable ``compute`` -> a machine on each cloud.

The data lives in ``catalog.yaml`` beside this module, each family with its source. Adapters
call these functions; none hard-codes a size.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .errors import CatalogError
from .spec import ComputeSection

CATALOG_FILE = Path(__file__).with_name("catalog.yaml")
FAMILIES = ("sagemaker", "vertex", "azureml", "containerapps")


@dataclass(frozen=True)
class Machine:
    name: str
    cpu: float
    memory: float  # GiB
    gpu: str | None = None
    gpus: int = 0
    accelerator: str | None = None
    #: Where the row's numbers come from (its family's source in catalog.yaml).
    source: str = ""

    def describe(self) -> str:
        gpu = f", {self.gpus}x {self.gpu}" if self.gpu else ""
        return f"{self.name} ({self.cpu:g} vCPU, {self.memory:g} GiB{gpu})"


@functools.cache
def _data() -> dict[str, Any]:
    return yaml.safe_load(CATALOG_FILE.read_text())


def source(family: str) -> str:
    return _data()[family]["source"]


def machines(family: str) -> list[Machine]:
    if family not in FAMILIES:
        raise ValueError(f"unknown catalog family {family!r} (families: {', '.join(FAMILIES)})")
    data = _data()[family]
    return [Machine(**row, source=data["source"]) for row in data["machines"]]


def _fits(m: Machine, compute: ComputeSection) -> bool:
    gpu = compute.gpu
    if gpu is None:
        if m.gpu is not None:
            return False
    elif m.gpu != gpu.type or m.gpus < gpu.count:
        return False
    return m.cpu >= compute.cpu and m.memory >= compute.memory_gib


def _wanted(compute: ComputeSection) -> str:
    gpu = f", {compute.gpu.count}x {compute.gpu.type}" if compute.gpu else ""
    return f"{compute.cpu:g} vCPU, {compute.memory}{gpu}"


def pick(family: str, compute: ComputeSection) -> Machine:
    """The first (cheapest) machine of ``family`` that satisfies ``compute``."""
    rows = machines(family)
    for m in rows:
        if _fits(m, compute):
            return m
    same_kind = [m for m in rows if (m.gpu == (compute.gpu.type if compute.gpu else None))]
    if compute.gpu and not same_kind:
        offered = sorted({m.gpu for m in rows if m.gpu})
        raise CatalogError(
            f"{family} offers no {compute.gpu.type} GPU: compute.gpu.type may be {', '.join(offered)}"
        )
    nearest = sorted(
        same_kind or rows,
        key=lambda m: (abs(m.cpu - compute.cpu) + abs(m.memory - compute.memory_gib) / 4, m.gpus),
    )[:3]
    raise CatalogError(
        f"no {family} machine has {_wanted(compute)}; nearest: "
        + "; ".join(m.describe() for m in nearest)
    )


@dataclass(frozen=True)
class CloudRunSize:
    cpu: str
    memory: str
    accelerator: str | None
    gpus: int


def cloudrun(compute: ComputeSection, region: str | None) -> CloudRunSize:
    """Cloud Run's cpu/memory limits and GPU rules, enforced."""
    data = _data()["cloudrun"]
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


@dataclass(frozen=True)
class ContainerAppsSize:
    cpu: float
    memory: str
    workload_profile: str | None


def containerapps(compute: ComputeSection) -> ContainerAppsSize:
    """Consumption profile for CPU (0.25 vCPU steps, 2 GiB per vCPU), a GPU profile otherwise."""
    if compute.gpu:
        if compute.gpu.count != 1:
            raise CatalogError("Container Apps serverless GPUs give one GPU per replica: set compute.gpu.count: 1")
        m = pick("containerapps", compute)
        return ContainerAppsSize(cpu=m.cpu, memory=f"{m.memory:g}Gi", workload_profile=m.name)
    need = max(compute.cpu, compute.memory_gib / 2)
    cpu = math.ceil(need * 4) / 4
    max_cpu = _data()["containerapps"]["max_cpu"]
    if cpu > max_cpu:
        raise CatalogError(
            f"Container Apps' consumption profile stops at {max_cpu} vCPU / {2 * max_cpu}Gi: "
            f"lower compute.cpu/compute.memory, or use cloud azure target azureml"
        )
    return ContainerAppsSize(cpu=cpu, memory=f"{cpu * 2:g}Gi", workload_profile=None)


def kubernetes(compute: ComputeSection) -> dict[str, dict[str, str]]:
    """Requests and limits for a Kubernetes container; GPUs as ``nvidia.com/gpu``."""
    requests = {"cpu": f"{compute.cpu:g}", "memory": f"{compute.memory_mib}Mi"}
    limits = {"memory": f"{compute.memory_mib}Mi"}
    if compute.gpu:
        limits["nvidia.com/gpu"] = str(compute.gpu.count)
    return {"requests": requests, "limits": limits}
