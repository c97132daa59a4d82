"""The one image helper every adapter uses: build and push the runtime image.

The build context (``mlfn.image.context``: Dockerfile, a wheel of the installed runtime, the model
when baked) is written by the core, so it works however ``mlfn-runtime`` was installed. Builds it
with pulumi-docker-build for ``linux/amd64`` and pushes it. The
provider offers no attestation switch, so the image is exported with Docker (not OCI) media
types: BuildKit cannot attach provenance or SBOM attestations without OCI media types, and
Lambda rejects the OCI index those attestations produce. ``runtime.image`` skips all of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..manifest import manifest_for
from .context import CPU, GPU, VARIANTS, BuildContext, ImageVariant, context_digest, write_context
from .pins import PinConflict, model_libraries, pin_conflicts

if TYPE_CHECKING:
    import pulumi

    from ..adapter import CompileContext

__all__ = ["BUILD_DIR", "CPU", "GPU", "VARIANTS", "BuildContext", "ImageVariant", "PinConflict", "Registry",
           "context_digest", "context_dir", "model_libraries", "pin_conflicts", "runtime_image", "write_context"]

BUILD_DIR = ".mlfn/build"


@dataclass(frozen=True)
class Registry:
    """Where to push, and how to log in (outputs of the adapter's registry resource)."""

    repository: Any  # Input[str]: e.g. <account>.dkr.ecr.<region>.amazonaws.com/<name>
    address: Any = None  # Input[str]
    username: Any = None  # Input[str]
    password: Any = None  # Input[str] (secret)


def runtime_image(
    ctx: CompileContext, registry: Registry | None, *, variant: str | ImageVariant, bake_model: bool,
    model_store: str | None = None,
    python: str | None = None,
) -> pulumi.Output[str]:
    """The image reference to run: ``runtime.image`` as given, else a built and pushed image.

    ``model_store``: where the target puts the model for the runtime to read at start (a URI or its
    scheme: ``gs`` where the platform hands the runtime a ``gs://`` URI, as Vertex does; the source a
    Kubernetes deployment's fetch init container reads); the image installs that store's client.
    Targets that mount the model as files (SageMaker, Azure ML, KServe) or bake it pass nothing. A
    remote ``model.uri`` that is not baked is read at start too (Cloud Run, Container Apps), so its
    store's client is installed as well (also, needlessly, where the platform mounts it as files).
    ``python``: the image's Python where the target decides it (None: ``runtime.python``).
    """
    import pulumi

    if ctx.spec.runtime.image:
        return pulumi.Output.from_input(ctx.spec.runtime.image)
    if registry is None:
        raise ValueError("runtime_image needs a registry when runtime.image is not set")
    import pulumi_docker_build as docker_build

    model_dir = ctx.model_path() if bake_model else None
    requirements = ctx.project_dir / ctx.spec.runtime.requirements if ctx.spec.runtime.requirements else None
    context = write_context(
        context_dir(ctx, variant),
        variant=variant,
        manifest=manifest_for(ctx.spec, ctx.model_path()),
        model_dir=model_dir,
        requirements=requirements,
        python=python or ctx.spec.runtime.python,
        model_uri=ctx.spec.model.uri if bake_model and ctx.spec.model.is_remote else None,
        model_store=model_store or (ctx.spec.model.uri if ctx.spec.model.is_remote and not bake_model else None),
    )
    tag = pulumi.Output.concat(registry.repository, ":", context.tag)
    registries = None
    if registry.address is not None:
        registries = [
            docker_build.RegistryArgs(
                address=registry.address, username=registry.username, password=registry.password
            )
        ]
    image = docker_build.Image(
        ctx.child("image"),
        context=docker_build.BuildContextArgs(location=str(context.path)),
        dockerfile=docker_build.DockerfileArgs(location=str(context.dockerfile)),
        platforms=[docker_build.Platform.LINUX_AMD64],
        push=True,
        tags=[tag],
        registries=registries,
        exports=[
            docker_build.ExportArgs(
                registry=docker_build.ExportRegistryArgs(oci_media_types=False, push=True)
            )
        ],
        opts=ctx.opts(),
    )
    return image.ref


def context_dir(ctx: CompileContext, variant: str | ImageVariant) -> Path:
    name = variant.name if isinstance(variant, ImageVariant) else variant
    return ctx.project_dir / BUILD_DIR / f"{ctx.stack.pulumi_stack}-{name}"
