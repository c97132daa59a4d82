"""Azure's two targets, one object each: their rules, their notes, their resources.

The Pulumi programs live in ``azureml.py`` and ``containerapps.py`` and are imported only when a
deployment is compiled, so looking the adapter up stays cheap."""

from __future__ import annotations

from pathlib import Path

from mlfn.adapter import CompileContext, CompileResult, ContainerRun, Target
from mlfn.errors import CatalogError

from .conventions import CATALOG, containerapps_size
from .rules import CONTAINERAPPS_GPU_REGIONS


class AzureML(Target):
    """An Azure ML managed online endpoint and deployment (default for ``scaling.min >= 1``)."""

    name = "azureml"
    supports_scale_to_zero = False
    supports_gpu = True
    #: Azure Monitor autoscale sets the deployment's sku.capacity; pulumi-azure-native PUTs the whole
    #: deployment on any update, with the ignored sku taken from the state: refresh it first.
    refreshed_before_update = ("azure-native:machinelearningservices:OnlineDeployment",)

    def check(self, spec, stack) -> list[str]:
        problems: list[str] = []
        if spec.scaling.min == 0:
            problems.append("Azure ML online endpoints keep at least one instance: set scaling.min: 1, "
                            "or use target containerapps to scale to zero")
        if spec.endpoint.auth == "public":
            problems.append("Azure ML online endpoints always need a key or an Entra ID token: set "
                            "endpoint.auth: key or private, or use target containerapps for public")
        if stack.overrides.instance_type is None:
            try:
                CATALOG.pick("azureml", spec.compute)
            except CatalogError as e:
                problems.append(str(e))
        if spec.model.is_remote:
            problems.append("Azure ML registers the model from the workspace's storage: set model.uri to a "
                            "local directory (mlfn uploads it)")
        return problems

    def compile(self, ctx: CompileContext) -> CompileResult:
        from .azureml import compile_azureml
        from .common import names, scoped

        ctx = scoped(ctx)
        return compile_azureml(ctx, names(ctx))

    def local_container(self, spec, stack, model_dir: Path) -> ContainerRun:
        from .local_run import azureml_run

        return azureml_run(spec, model_dir)


class ContainerApps(Target):
    """A Container App, with a serverless GPU workload profile when asked (default for ``min: 0``)."""

    name = "containerapps"
    supports_scale_to_zero = True
    supports_gpu = True

    def check(self, spec, stack) -> list[str]:
        if spec.compute.gpu and spec.compute.gpu.type not in ("t4", "a100"):
            return [f"Container Apps serverless GPUs are T4 or A100: compute.gpu.type "
                    f"{spec.compute.gpu.type!r} is not offered (use t4 or a100, or target azureml)"]
        try:
            containerapps_size(spec.compute)
        except CatalogError as e:
            return [str(e)]
        if spec.compute.gpu:
            regions = CONTAINERAPPS_GPU_REGIONS[spec.compute.gpu.type]
            if stack.location.location not in regions:
                return [f"Container Apps has no serverless {spec.compute.gpu.type.upper()} GPUs in "
                        f"{stack.location.location}: set location to one of {', '.join(regions)}, or use target "
                        "azureml"]
        return []

    def notes(self, spec, stack) -> list[str]:
        notes = []
        if spec.compute.gpu:
            notes.append("Container Apps serverless GPUs need GPU quota in the region before the first up (request "
                         "it with a support case; enterprise agreements get one T4 by default): "
                         "https://learn.microsoft.com/azure/container-apps/gpu-serverless-overview")
        if spec.endpoint.auth == "private":
            notes.append("endpoint.auth private on Container Apps is internal ingress: the endpoint is reachable only "
                         "from inside the Container Apps environment's network (Entra ID sign-in on the app needs "
                         "an app registration mlfn does not create); use endpoint.auth key to call it from outside")
        return notes

    def compile(self, ctx: CompileContext) -> CompileResult:
        from .common import names, scoped
        from .containerapps import compile_containerapps

        ctx = scoped(ctx)
        return compile_containerapps(ctx, names(ctx))

    def local_container(self, spec, stack, model_dir: Path) -> ContainerRun:
        from .local_run import containerapps_run

        return containerapps_run(spec, model_dir)


TARGETS = {"containerapps": ContainerApps(), "azureml": AzureML()}
