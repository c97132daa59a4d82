"""What both GCP targets share: a regional Artifact Registry repository and the runtime image."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pulumi
from mlfn_runtime import contract as c

from mlfn.adapter import CompileContext
from mlfn.image import Registry, runtime_image
from mlfn.manifest import model_files
from mlfn.names import short_hash
from mlfn.tags import tags_for

from .conventions import TAG_STYLE


def labels(ctx: CompileContext) -> dict[str, str]:
    return tags_for(ctx.spec.name, ctx.spec.tags, TAG_STYLE)


def served_labels(ctx: CompileContext) -> dict[str, str]:
    """Labels of what serves traffic (a Cloud Run revision, a Vertex model): the deployment's, plus
    digests of the model and requirements it serves, so each revision or model says which version
    it is, and a new version visibly reaches it (the image reference alone is only known after the
    build)."""
    source = ctx.model_path()
    model = model_files(source).digest[:12] if source is not None else short_hash(ctx.spec.model.uri, 12)
    req = ctx.spec.runtime.requirements
    path = ctx.project_dir / req if req else None
    requirements = hashlib.sha256(path.read_bytes()).hexdigest()[:12] if path and path.is_file() else "none"
    return {**labels(ctx), "mlfn-model": model, "mlfn-requirements": requirements}


def enable_apis(ctx: CompileContext, services: list[str]) -> list[pulumi.Resource]:
    """The APIs this target needs, on before anything that calls them (``after`` of the others);
    nothing when ``overrides.gcp.enable_apis`` is false."""
    if not ctx.overrides.enable_apis:
        return []
    from .apis import EnabledApis

    return [EnabledApis(ctx.child("apis"), ctx.stack.location.project, services, ctx.opts())]


def image(ctx: CompileContext, names: dict[str, str], variant: str, bake_model: bool,
          after: list[pulumi.Resource] | None = None, model_store: str | None = None):
    """The runtime image in a regional Artifact Registry repository (Vertex needs the model's region).
    ``model_store``: the store the runtime reads the model from at start (``gs`` on Vertex)."""
    import pulumi_gcp as gcp

    if ctx.spec.runtime.image:
        return pulumi.Output.from_input(ctx.spec.runtime.image), None
    region, project = ctx.stack.location.region, ctx.stack.location.project
    repo = gcp.artifactregistry.Repository(
        ctx.child("repository"), repository_id=names["repository"], location=region, project=project,
        format="DOCKER", labels=labels(ctx), opts=ctx.opts(depends_on=after or None),
    )
    host = f"{region}-docker.pkg.dev"
    token = gcp.organizations.get_client_config_output(opts=pulumi.InvokeOutputOptions(parent=ctx.parent))
    registry = Registry(
        repository=pulumi.Output.concat(host, "/", project, "/", repo.repository_id, "/", ctx.spec.name),
        address=host, username="oauth2accesstoken", password=pulumi.Output.secret(token.access_token),
    )
    return runtime_image(ctx, registry, variant=variant, bake_model=bake_model, model_store=model_store), repo


def service_account(ctx: CompileContext, names: dict[str, str], purpose: str,
                    after: list[pulumi.Resource] | None = None):
    import pulumi_gcp as gcp

    project = ctx.stack.location.project
    account = gcp.serviceaccount.Account(
        ctx.child("service-account"), account_id=names["account"], project=project,
        display_name=f"mlfn {ctx.spec.name}: {purpose}", opts=ctx.opts(depends_on=after or None),
    )
    member = pulumi.Output.concat("serviceAccount:", account.email)
    # What serving needs and no more: write its logs and metrics.
    for role in ("roles/logging.logWriter", "roles/monitoring.metricWriter"):
        gcp.projects.IAMMember(ctx.child(f"sa-{role.split('/')[1].split('.')[1].lower()}"), project=project,
                               role=role, member=member, opts=ctx.opts())
    return account, member


def service_agent(ctx: CompileContext, service: str, suffix: str, after: list[pulumi.Resource] | None = None):
    """A Google-managed service agent of ``service`` in the project (created if it does not exist
    yet: agents appear on first use of their API), e.g. Vertex AI's, which pulls serving images."""
    import pulumi_gcp as gcp

    return gcp.projects.ServiceIdentity(ctx.child(suffix), project=ctx.stack.location.project, service=service,
                                        opts=ctx.opts(depends_on=after or None))


def repository_reader(ctx: CompileContext, repo, member):
    """Read on the image repository for ``member``: the principal that pulls the image."""
    import pulumi_gcp as gcp

    if repo is None:
        return None
    return gcp.artifactregistry.RepositoryIamMember(
        ctx.child("repository-reader"), project=repo.project, location=repo.location, repository=repo.name,
        role="roles/artifactregistry.reader", member=member, opts=ctx.opts(),
    )


#: The runtime's drain time after SIGTERM.
GRACEFUL_SECONDS = c.GRACEFUL_SECONDS


@dataclass(frozen=True)
class RuntimeLimits:
    """What a target allows the runtime: its documented request size, and how long it may drain."""

    max_body_bytes: int
    graceful_seconds: int
    source: str


#: Cloud Run: 32 MiB per HTTP/1 request; SIGKILL 10 seconds after SIGTERM.
CLOUDRUN_LIMITS = RuntimeLimits(32 * 1024 * 1024, 8, "https://cloud.google.com/run/quotas; "
                                "https://cloud.google.com/run/docs/container-contract#instance-shutdown")
#: Vertex AI: 1.5 MB per online prediction request. Vertex states no kill deadline after SIGTERM;
#: its prediction nodes run Kubernetes pods, whose default grace period is 30 seconds.
VERTEX_LIMITS = RuntimeLimits(1_500_000, 25, "https://cloud.google.com/sdk/gcloud/reference/ai/endpoints/predict")


def runtime_env(ctx: CompileContext, limits: RuntimeLimits) -> dict[str, str]:
    """The runtime's tuning for this target; what ``runtime.env`` sets wins."""
    return spec_runtime_env(ctx.spec, limits)


def spec_runtime_env(spec, limits: RuntimeLimits) -> dict[str, str]:
    """``runtime_env`` from the description alone (``mlfn up --local`` has no compile context)."""
    compute = spec.compute
    workers = compute.gpu.count if compute.gpu else max(1, int(compute.cpu))  # one per GPU
    env = {c.WORKERS: str(workers), c.MAX_BODY_BYTES: str(limits.max_body_bytes),
           GRACEFUL_SECONDS: str(limits.graceful_seconds)}
    return {**env, **spec.runtime.env}


def gcs_reader(ctx: CompileContext, bucket, member, prefix: str | None = None, suffix: str = "model-reader"):
    """Read for ``member`` on a bucket, or (``prefix``) on exactly the objects under that prefix:
    an IAM condition allows the prefix's objects, and the bucket itself so the prefix can be
    listed. Conditions need the bucket's uniform bucket-level access."""
    import pulumi_gcp as gcp

    condition = None
    if prefix:
        root = f"projects/_/buckets/{bucket}"
        condition = {
            "title": "mlfn model prefix",
            "description": f"read gs://{bucket}/{prefix} only",
            "expression": f'resource.name == "{root}" || resource.name.startsWith("{root}/objects/{prefix}")',
        }
    return gcp.storage.BucketIAMMember(ctx.child(suffix), bucket=bucket, role="roles/storage.objectViewer",
                                       member=member, condition=condition, opts=ctx.opts())


def remote_model_reader(ctx: CompileContext, member):
    """Read on a user-named gs:// model (model.uri) for the runtime's service account; None otherwise."""
    uri = ctx.spec.model.uri
    if not (ctx.spec.model.is_remote and uri.startswith("gs://")):
        return None
    bucket, _, prefix = uri.removeprefix("gs://").partition("/")
    return gcs_reader(ctx, bucket, member, prefix or None)
