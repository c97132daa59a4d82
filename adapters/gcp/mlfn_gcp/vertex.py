"""Vertex AI: a regional repository and image, the model in GCS, a service account, an endpoint,
and the upload + deploy through mlfn's dynamic provider."""

from __future__ import annotations

from typing import Any

import pulumi
from mlfn_runtime import contract as c
from mlfn_runtime.contract import MANIFEST_FILE

from mlfn.adapter import CompileContext, CompileResult
from mlfn.manifest import manifest_for, model_files

from .common import (
    VERTEX_LIMITS,
    enable_apis,
    gcs_reader,
    image,
    labels,
    remote_model_reader,
    repository_reader,
    runtime_env,
    served_labels,
    service_account,
    service_agent,
)
from .conventions import CATALOG, vertex_autoscaling
from .naming import log_query
from .vertex_provider import VertexDeployment


def _upload_model(ctx: CompileContext, names: dict[str, str], member, apis: list[pulumi.Resource]) -> Any:
    """The model directory and its manifest as objects under one GCS prefix: the artifact URI."""
    import pulumi_gcp as gcp

    project, region = ctx.stack.location.project, ctx.stack.location.region
    source = ctx.model_path()
    assert source is not None
    model = model_files(source)
    prefix = f"{names['base']}/model-{model.digest[:16]}"
    if ctx.overrides.bucket:
        # A bucket the user names may hold other things: read on this deployment's prefix only.
        bucket_name: Any = ctx.overrides.bucket
        gcs_reader(ctx, bucket_name, member, f"{names['base']}/", suffix="bucket-reader")
    else:
        import pulumi_random as random

        # Bucket names are global across all of Cloud Storage: a suffix created once and kept in
        # this stack's state, so two state folders (or two users of one example) never share one.
        suffix = random.RandomId(ctx.child("bucket-suffix"), byte_length=4, opts=ctx.opts())
        bucket = gcp.storage.Bucket(
            ctx.child("bucket"), name=pulumi.Output.concat(names["bucket_prefix"], "-", suffix.hex),
            project=project, location=region,
            uniform_bucket_level_access=True, public_access_prevention="enforced", force_destroy=True,
            labels=labels(ctx), opts=ctx.opts(depends_on=apis or None),
        )
        bucket_name = bucket.name
        # The stack's own bucket holds only this deployment's models.
        gcs_reader(ctx, bucket_name, member, suffix="bucket-reader")
    objects = []
    for i, p in enumerate(model.files):
        rel = model.relative(p)
        objects.append(gcp.storage.BucketObject(ctx.child(f"model-{i}"), bucket=bucket_name, name=f"{prefix}/{rel}",
                                                source=pulumi.FileAsset(str(p)), opts=ctx.opts()))
    manifest = manifest_for(ctx.spec, source)
    objects.append(gcp.storage.BucketObject(ctx.child("model-manifest"), bucket=bucket_name,
                                            name=f"{prefix}/{MANIFEST_FILE}",
                                            source=pulumi.StringAsset(manifest.to_json()), opts=ctx.opts()))
    return pulumi.Output.concat("gs://", bucket_name, "/", prefix), objects


def compile_vertex(ctx: CompileContext, names: dict[str, str]) -> CompileResult:
    import pulumi_gcp as gcp

    spec = ctx.spec
    project, region = ctx.stack.location.project, ctx.stack.location.region
    needs = ["aiplatform.googleapis.com", "iam.googleapis.com", "storage.googleapis.com"]
    needs += [] if spec.runtime.image else ["artifactregistry.googleapis.com"]
    apis = enable_apis(ctx, sorted(needs))
    account, member = service_account(ctx, names, "Vertex AI serving", after=apis)
    # Vertex hands the runtime the model as AIP_STORAGE_URI=gs://...: the image needs the GCS client.
    ref, repo = image(ctx, names, "gpu" if spec.compute.gpu else "cpu", bake_model=False, after=apis,
                      model_store="gs")
    # Vertex pulls the image with its own service agent, never with the model's service account.
    reader = None
    if repo is not None:
        agent = service_agent(ctx, "aiplatform.googleapis.com", "vertex-agent", after=apis)
        reader = repository_reader(ctx, repo, agent.member)
    depends: list[pulumi.Resource] = [*apis, *(r for r in (reader,) if r is not None)]
    if spec.model.is_remote:
        artifact_uri: Any = spec.model.uri
        remote_model_reader(ctx, member)
    else:
        artifact_uri, objects = _upload_model(ctx, names, member, apis)
        depends += objects
    endpoint = gcp.vertex.AiEndpoint(
        ctx.child("endpoint"), name=names["endpoint"], display_name=names["base"], location=region,
        region=region, project=project, labels=labels(ctx), opts=ctx.opts(depends_on=apis or None),
    )
    if ctx.overrides.machine_type is not None:
        machine_type, accelerator, count = ctx.overrides.machine_type, None, 0
        if spec.compute.gpu:
            accelerator = CATALOG.pick("vertex", spec.compute).accelerator
            count = spec.compute.gpu.count
    else:
        m = CATALOG.pick("vertex", spec.compute)
        machine_type, accelerator, count = m.name, m.accelerator, m.gpus
    env = {**runtime_env(ctx, VERTEX_LIMITS), **c.container_env(model_name=spec.name, model_format=spec.model.format,
                                                 handler=spec.model.handler)}
    deployment = VertexDeployment(ctx.child("deployment"), {
        "project": project, "region": region, "endpoint": endpoint.id, "display_name": names["base"],
        "image": ref, "artifact_uri": artifact_uri, "env": env,
        "predict_route": c.VERTEX_PREDICT, "health_route": c.VERTEX_HEALTH, "port": c.DEFAULT_PORT,
        "machine_type": machine_type, "accelerator_type": accelerator, "accelerator_count": count,
        "min_replicas": spec.scaling.min, "max_replicas": spec.scaling.max,
        "autoscaling_targets": vertex_autoscaling(spec.scaling.concurrency, gpu=bool(spec.compute.gpu)),
        "service_account": account.email,
        "api": "v1beta1" if spec.scaling.min == 0 else "v1", "labels": served_labels(ctx),
        "timeout_s": ctx.overrides.deploy_timeout_minutes * 60,
    }, ctx.opts(depends_on=depends))
    query = log_query("vertex", names)
    url = pulumi.Output.concat("https://", region, "-aiplatform.googleapis.com/v1/", endpoint.id, ":predict")
    return CompileResult(url=url, logs=query, extra={
        "target": "vertex", "region": region, "project": project, "endpoint": endpoint.id,
        "deployed_model_id": deployment.deployed_model_id, "model": deployment.model, "log_query": query,
    })
