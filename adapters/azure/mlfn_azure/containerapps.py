"""Container Apps: a managed environment (with a serverless GPU workload profile when asked), a
registry pulled through a managed identity, and a ContainerApp that scales on HTTP concurrency."""

from __future__ import annotations

from typing import Any

import pulumi
from mlfn_runtime import contract as c

from mlfn.adapter import CompileContext, CompileResult

from . import log_query, rules
from .common import ACR_PULL, assign, registry_and_image, resource_group, tags
from .conventions import containerapps_size


def compile_containerapps(ctx: CompileContext, n: dict[str, str]) -> CompileResult:
    from pulumi_azure_native import app, authorization, managedidentity, operationalinsights

    spec = ctx.spec
    location = ctx.stack.location.location
    client = authorization.get_client_config_output(opts=pulumi.InvokeOutputOptions(parent=ctx.parent))
    subscription = ctx.stack.location.subscription or client.subscription_id
    group = resource_group(ctx, n)
    size = containerapps_size(spec.compute)
    logs = operationalinsights.Workspace(
        ctx.child("logs"), workspace_name=f"{n['base']}-logs", resource_group_name=group, location=location,
        sku={"name": "PerGB2018"}, retention_in_days=ctx.stack.overrides.log_retention_days,
        tags=tags(ctx), opts=ctx.opts(),
    )
    keys = operationalinsights.get_shared_keys_output(resource_group_name=group, workspace_name=logs.name,
                                                      opts=pulumi.InvokeOutputOptions(parent=ctx.parent))
    profiles = [{"name": "Consumption", "workload_profile_type": "Consumption"}]
    profile = "Consumption"
    if size.workload_profile:
        profile = "gpu"
        profiles.append({"name": profile, "workload_profile_type": size.workload_profile})
    environment = app.ManagedEnvironment(
        ctx.child("environment"), environment_name=n["environment"], resource_group_name=group, location=location,
        workload_profiles=profiles,
        app_logs_configuration={"destination": "log-analytics", "log_analytics_configuration": {
            "customer_id": logs.customer_id, "shared_key": pulumi.Output.secret(keys.primary_shared_key)}},
        tags=tags(ctx), opts=ctx.opts(),
    )
    registry, image = registry_and_image(ctx, n, group, "gpu" if spec.compute.gpu else "cpu",
                                         bake_model=not spec.model.is_remote)
    identity = managedidentity.UserAssignedIdentity(ctx.child("identity"), resource_name_=f"{n['base']}-pull",
                                                    resource_group_name=group, location=location, tags=tags(ctx),
                                                    opts=ctx.opts())
    depends = []
    registries = []
    if registry is not None:
        depends.append(assign(ctx, "registry-pull", registry.id, identity.principal_id, subscription, ACR_PULL))
        registries.append({"server": registry.login_server, "identity": identity.id})
    env: list[dict[str, Any]] = [{"name": k, "value": v} for k, v in sorted(spec.runtime.env.items())]
    env += [{"name": k, "value": v} for k, v in c.container_env(
        model_name=spec.name, model_format=spec.model.format, handler=spec.model.handler,
        model_uri=spec.model.uri if spec.model.is_remote else None).items()]
    secrets: list[dict[str, Any]] = []
    extra: dict[str, Any] = {}
    if spec.endpoint.auth == "key":
        import pulumi_random as random

        key = random.RandomPassword(ctx.child("api-key"), length=40, special=False, opts=ctx.opts())
        secrets.append({"name": "api-keys", "value": key.result})
        env.append({"name": c.API_KEYS, "secret_ref": "api-keys"})
        extra["api_key"] = key.result
    probe = lambda kind, path, **kw: {"type": kind, "http_get": {"path": path, "port": c.DEFAULT_PORT}, **kw}  # noqa: E731
    container = {
        "name": "model",
        "image": image,
        "env": env,
        "resources": {"cpu": size.cpu, "memory": size.memory},
        "probes": [
            probe("Startup", c.READINESS_ROUTE, period_seconds=5, failure_threshold=10, timeout_seconds=3),
            probe("Liveness", c.LIVENESS_ROUTE, period_seconds=15, failure_threshold=3, timeout_seconds=3),
            probe("Readiness", c.READINESS_ROUTE, period_seconds=5, failure_threshold=3, timeout_seconds=3),
        ],
    }
    external = spec.endpoint.auth != "private"
    app_args: dict[str, Any] = {
        "workload_profile_name": profile,
        "configuration": {
            "ingress": {"external": external, "target_port": c.DEFAULT_PORT, "transport": "auto"},
            "registries": registries,
            "secrets": secrets,
        },
        "template": {
            "containers": [container],
            "scale": {"min_replicas": spec.scaling.min, "max_replicas": spec.scaling.max, "rules": [{
                "name": "http-concurrency",
                "http": {"metadata": {"concurrentRequests": str(spec.scaling.concurrency)}},
            }]},
        },
    }
    problems = rules.container_app_problems(app_args, profiles)
    if problems:
        raise ValueError("; ".join(problems))
    container_app = app.ContainerApp(
        ctx.child("app"), container_app_name=n["app"], resource_group_name=group, location=location,
        managed_environment_id=environment.id,
        identity={"type": "UserAssigned", "user_assigned_identities": [identity.id]},
        tags=tags(ctx), **app_args, opts=ctx.opts(depends_on=depends),
    )
    url = container_app.latest_revision_fqdn.apply(lambda f: f"https://{f}" if f else "")
    query = log_query("containerapps", n)
    return CompileResult(url=url, logs=query, extra={
        "target": "containerapps", "app": container_app.name, "location": location, "external": external,
        "log_query": query, "log_workspace_id": logs.id, **extra,
    })
