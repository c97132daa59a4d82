"""GCP's two targets, one object each: their rules, their notes, their resources."""

from __future__ import annotations

from pathlib import Path

from mlfn.adapter import CompileContext, CompileResult, ContainerRun, Target
from mlfn.errors import CatalogError

from .conventions import (
    CATALOG,
    VERTEX_DUTY_CYCLE,
    VERTEX_REQUEST_COUNT,
    VERTEX_UTILIZATION_TARGET,
    cloudrun_size,
    vertex_autoscaling,
)
from .naming import names


class CloudRun(Target):
    """A Cloud Run service: scales to zero, one NVIDIA L4 per instance at most."""

    name = "cloudrun"
    supports_scale_to_zero = True
    supports_gpu = True

    def check(self, spec, stack) -> list[str]:
        try:
            cloudrun_size(spec.compute, stack.location.region)
        except CatalogError as e:
            return [str(e)]
        return []

    def compile(self, ctx: CompileContext) -> CompileResult:
        from .cloudrun import compile_cloudrun

        return compile_cloudrun(ctx, names(ctx.spec, ctx.stack))

    def local_container(self, spec, stack, model_dir: Path) -> ContainerRun:
        from .local_run import cloudrun_run

        return cloudrun_run(spec, model_dir)


class Vertex(Target):
    """A Vertex AI endpoint with a custom model deployed on dedicated machines."""

    name = "vertex"
    supports_scale_to_zero = False  # only through the opt-in preview (overrides.gcp.scale_to_zero)
    supports_gpu = True

    def check(self, spec, stack) -> list[str]:
        problems: list[str] = []
        o = stack.overrides
        if spec.scaling.min == 0 and not o.scale_to_zero:
            problems.append("Vertex AI endpoints keep at least one replica: set scaling.min: 1, use target "
                            "cloudrun to scale to zero, or opt in to Vertex's preview scale-to-zero with "
                            "overrides.gcp.scale_to_zero: true")
        if spec.endpoint.auth != "private":
            problems.append(f"Vertex AI endpoints are always called with Google credentials: set "
                            f"endpoint.auth: private, or use target cloudrun for auth {spec.endpoint.auth}")
        if spec.model.is_remote and not spec.model.uri.startswith("gs://"):
            problems.append("Vertex AI reads models from Cloud Storage: set model.uri to a local directory "
                            "(mlfn uploads it) or a gs:// URI")
        if o.machine_type is None:
            try:
                CATALOG.pick("vertex", spec.compute)
            except CatalogError as e:
                problems.append(str(e))
        return problems

    def notes(self, spec, stack) -> list[str]:
        """How scaling.concurrency is honoured: Vertex counts requests per minute per replica, not
        requests in flight (https://cloud.google.com/vertex-ai/docs/predictions/autoscaling)."""
        targets = vertex_autoscaling(spec.scaling.concurrency, gpu=bool(spec.compute.gpu))
        utilization = "GPU duty cycle" if VERTEX_DUTY_CYCLE in targets else "CPU utilization"
        per_minute = targets[VERTEX_REQUEST_COUNT]
        return [f"Vertex AI autoscales on {utilization} (target {VERTEX_UTILIZATION_TARGET}%) and on request count: "
                f"scaling.concurrency {spec.scaling.concurrency} becomes {per_minute} requests per minute per "
                f"replica, which assumes about one second per request; replicas are added when either passes "
                f"its target"]

    def compile(self, ctx: CompileContext) -> CompileResult:
        from .vertex import compile_vertex

        return compile_vertex(ctx, names(ctx.spec, ctx.stack))

    def local_container(self, spec, stack, model_dir: Path) -> ContainerRun:
        from .local_run import vertex_run

        return vertex_run(spec, model_dir)
