"""Cloud Run: a service running the runtime image (model baked in), GPUs through nvidia-l4."""

from __future__ import annotations

from typing import Any

import pulumi
from mlfn_runtime import contract as c

from mlfn.adapter import CompileContext, CompileResult

from .common import (
    CLOUDRUN_LIMITS,
    enable_apis,
    image,
    labels,
    remote_model_reader,
    repository_reader,
    runtime_env,
    served_labels,
    service_account,
)
from .conventions import cloudrun_size
from .naming import log_query


def compile_cloudrun(ctx: CompileContext, names: dict[str, str]) -> CompileResult:
    import pulumi_gcp as gcp

    spec = ctx.spec
    project, region = ctx.stack.location.project, ctx.stack.location.region
    size = cloudrun_size(spec.compute, region)
    needs = ["iam.googleapis.com", "run.googleapis.com"]
    needs += [] if spec.runtime.image else ["artifactregistry.googleapis.com"]
    needs += ["secretmanager.googleapis.com"] if spec.endpoint.auth == "key" else []
    apis = enable_apis(ctx, sorted(needs))
    account, member = service_account(ctx, names, "Cloud Run serving", after=apis)
    ref, repo = image(ctx, names, "gpu" if spec.compute.gpu else "cpu", bake_model=not spec.model.is_remote,
                      after=apis)
    reader = repository_reader(ctx, repo, member)
    envs: list[dict[str, Any]] = [{"name": k, "value": v}
                                  for k, v in sorted(runtime_env(ctx, CLOUDRUN_LIMITS).items())]
    envs += [{"name": k, "value": v} for k, v in c.container_env(
        model_name=spec.name, model_format=spec.model.format, handler=spec.model.handler,
        model_uri=spec.model.uri if spec.model.is_remote else None).items()]
    # A gs:// model.uri is read by the runtime at start, as the service's account.
    model_reader = remote_model_reader(ctx, member)
    depends: list[pulumi.Resource] = [*apis, *(r for r in (reader, model_reader) if r is not None)]
    extra: dict[str, Any] = {}
    if spec.endpoint.auth == "key":
        import pulumi_random as random

        key = random.RandomPassword(ctx.child("api-key"), length=40, special=False, opts=ctx.opts())
        secret = gcp.secretmanager.Secret(ctx.child("api-keys"), secret_id=f"{names['service']}-api-keys",
                                          project=project, replication={"auto": {}}, labels=labels(ctx),
                                          opts=ctx.opts(depends_on=apis or None))
        version = gcp.secretmanager.SecretVersion(ctx.child("api-keys-value"), secret=secret.id,
                                                  secret_data=key.result, opts=ctx.opts())
        access = gcp.secretmanager.SecretIamMember(
            ctx.child("api-keys-reader"), project=project, secret_id=secret.secret_id,
            role="roles/secretmanager.secretAccessor", member=member, opts=ctx.opts())
        envs.append({"name": c.API_KEYS, "value_source": {"secret_key_ref": {
            "secret": secret.secret_id, "version": version.version}}})
        depends.append(access)
        extra["api_key"] = key.result
    limits = {"cpu": size.cpu, "memory": size.memory}
    if size.accelerator:
        limits["nvidia.com/gpu"] = str(size.gpus)
    template: dict[str, Any] = {
        "service_account": account.email,
        "scaling": {"min_instance_count": spec.scaling.min, "max_instance_count": spec.scaling.max},
        "max_instance_request_concurrency": spec.scaling.concurrency,
        "labels": served_labels(ctx),
        "containers": [{
            "image": ref,
            "ports": {"container_port": c.DEFAULT_PORT},
            "envs": envs,
            "resources": {
                "limits": limits,
                # GPUs need CPU always allocated (instance-based billing); CPU-only services idle cheaply.
                "cpu_idle": not bool(size.accelerator),
                "startup_cpu_boost": True,
            },
            "startup_probe": {"http_get": {"path": c.READINESS_ROUTE, "port": c.DEFAULT_PORT},
                              "period_seconds": 5, "failure_threshold": 60, "timeout_seconds": 3},
            "liveness_probe": {"http_get": {"path": c.LIVENESS_ROUTE, "port": c.DEFAULT_PORT},
                               "period_seconds": 15, "failure_threshold": 3, "timeout_seconds": 3},
        }],
    }
    if size.accelerator:
        template["node_selector"] = {"accelerator": size.accelerator}
        template["gpu_zonal_redundancy_disabled"] = not ctx.overrides.gpu_zonal_redundancy
    service = gcp.cloudrunv2.Service(
        ctx.child("service"), name=names["service"], location=region, project=project,
        ingress="INGRESS_TRAFFIC_ALL", deletion_protection=False, labels=labels(ctx), template=template,
        opts=ctx.opts(depends_on=depends),
    )
    if spec.endpoint.auth in ("key", "public"):
        gcp.cloudrunv2.ServiceIamMember(ctx.child("invoker-all"), project=project, location=region,
                                        name=service.name, role="roles/run.invoker", member="allUsers",
                                        opts=ctx.opts())
    query = log_query("cloudrun", names)
    return CompileResult(url=service.uri, logs=query, extra={
        "target": "cloudrun", "region": region, "project": project, "service": service.name, "log_query": query,
        **extra,
    })
