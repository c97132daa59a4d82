"""Container Apps: a managed environment (with a serverless GPU workload profile when asked), a
registry pulled through a user-assigned identity (granted, and the grant given time to propagate,
before the app first pulls), and a ContainerApp that scales on HTTP concurrency."""

from __future__ import annotations

from typing import Any

import pulumi
from mlfn_runtime import contract as c

from mlfn.adapter import CompileResult

from . import log_query, rules
from .common import (
    ACR_PULL,
    AzureContext,
    Names,
    assign,
    image,
    propagated,
    registry,
    resource_group,
    runtime_env,
    suffixed,
    tags,
)
from .conventions import NAME_RULES, containerapps_size

#: The grace period Container Apps gives a replica after SIGTERM (template.terminationGracePeriodSeconds,
#: default 30 s: learn.microsoft.com/azure/container-apps/application-lifecycle-management#shutdown;
#: at most 600 s: azureossd.github.io/2024/05/27/Graceful-termination-on-Container-Apps), set
#: explicitly, and the runtime's drain time below it.
TERMINATION_GRACE_S = 30
MAX_TERMINATION_GRACE_S = 600
GRACEFUL_SECONDS = 25
#: Container Apps documents no request body limit for HTTP ingress (ingress-overview documents the
#: 240 s request timeout, nothing on size). The 4 MB limit users meet (microsoft/azure-container-apps
#: #116) is Dapr's sidecar, which mlfn does not enable; a maintainer sent bodies over 10 MB through
#: ingress (#424), and the 30 MB 413 of #1005 is Kestrel's own default. The runtime keeps its 6 MiB.
MAX_BODY_BYTES = c.DEFAULT_MAX_BODY_BYTES
#: Startup probe: Container Apps allows initialDelaySeconds up to 60 and periodSeconds up to 240, with
#: at most 10 failures (learn.microsoft.com/azure/container-apps/health-probes#restrictions). A GPU
#: model gets 60 + 10 x 60 s = 11 minutes to load; a CPU one 10 + 10 x 10 s.
STARTUP = {"gpu": {"initial_delay_seconds": 60, "period_seconds": 60, "failure_threshold": 10},
           "cpu": {"initial_delay_seconds": 10, "period_seconds": 10, "failure_threshold": 10}}


def compile_containerapps(ctx: AzureContext, n: Names) -> CompileResult:
    from pulumi_azure_native import app, authorization, managedidentity, operationalinsights

    spec = ctx.spec
    location = ctx.stack.location.location
    client = authorization.get_client_config_output(opts=ctx.invoke_opts())
    subscription = ctx.stack.location.subscription or client.subscription_id
    group = resource_group(ctx, n)
    size = containerapps_size(spec.compute)
    if size.workload_profile:
        _gpu_names(n, spec.compute.gpu.type)
    logs = operationalinsights.Workspace(
        ctx.child("logs"), workspace_name=n["logs"], resource_group_name=group, location=location,
        sku={"name": "PerGB2018"}, retention_in_days=ctx.stack.overrides.log_retention_days,
        tags=tags(ctx), opts=ctx.opts(),
    )
    keys = operationalinsights.get_shared_keys_output(resource_group_name=group, workspace_name=logs.name,
                                                      opts=ctx.invoke_opts())
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
    reg = None if spec.runtime.image else registry(ctx, n, group)
    image_ref, _digest = image(ctx, reg, "gpu" if spec.compute.gpu else "cpu", bake_model=not spec.model.is_remote)
    identity = managedidentity.UserAssignedIdentity(ctx.child("identity"), resource_name_=n["app"],
                                                    resource_group_name=group, location=location, tags=tags(ctx),
                                                    opts=ctx.opts())
    depends = []
    registries = []
    if reg is not None:
        grant = assign(ctx, "registry-pull", reg.id, identity.principal_id, subscription, ACR_PULL)
        depends.append(propagated(ctx, "registry-pull-propagated", [grant]))
        registries.append({"server": reg.login_server, "identity": identity.id})
    env: list[dict[str, Any]] = [{"name": k, "value": v} for k, v in sorted(spec.runtime.env.items())]
    env += [{"name": k, "value": v} for k, v in c.container_env(
        model_name=spec.name, model_format=spec.model.format, handler=spec.model.handler,
        model_uri=spec.model.uri if spec.model.is_remote else None).items()]
    env += [{"name": k, "value": v} for k, v in runtime_env(ctx, MAX_BODY_BYTES, GRACEFUL_SECONDS).items()]
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
        "image": image_ref,
        "env": env,
        "resources": {"cpu": size.cpu, "memory": size.memory},
        "probes": [
            probe("Startup", c.READINESS_ROUTE, timeout_seconds=3, **STARTUP["gpu" if spec.compute.gpu else "cpu"]),
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
            "termination_grace_period_seconds": TERMINATION_GRACE_S,
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
    # The app's own FQDN (the same for every revision), not the latest revision's.
    url = pulumi.Output.all(container_app.configuration, n["app"], environment.default_domain).apply(
        lambda a: f"https://{_ingress_fqdn(a[0]) or _fqdn(a[1], a[2], external)}")
    query = n["app"].apply(lambda a: log_query("containerapps", a))
    return CompileResult(url=url, logs=query, extra={
        "target": "containerapps", "app": container_app.name, "location": location, "external": external,
        "log_query": query, "log_workspace_id": logs.id, **extra,
    })


def _gpu_names(n: Names, gpu: str) -> None:
    """Environment and app names that carry the GPU type: "You can only apply a GPU workload profile
    to an environment as the environment is created" (learn.microsoft.com/azure/container-apps/
    workload-profiles-overview), so a CPU -> GPU (or T4 -> A100) change is a new environment, and a
    new app in it, replaced create-before-delete under their new names. CPU names stay as they were."""
    rule = NAME_RULES["container_app"]
    for key, text in (("environment", f"{n.base}-{gpu}-env"), ("app", f"{n.base}-{gpu}")):
        n.values[key] = n.suffix.apply(lambda h, t=text: suffixed(t, h, rule))


def _ingress_fqdn(configuration: Any) -> str:
    ingress = (configuration or {}).get("ingress") if isinstance(configuration, dict) else getattr(
        configuration, "ingress", None)
    if ingress is None:
        return ""
    return (ingress.get("fqdn") if isinstance(ingress, dict) else getattr(ingress, "fqdn", None)) or ""


def _fqdn(app: str, default_domain: str, external: bool) -> str:
    """<app>.<environment's default domain>, or <app>.internal.<domain> for internal ingress
    (learn.microsoft.com/azure/container-apps/ingress-overview#domain-names)."""
    return f"{app}.{default_domain}" if external else f"{app}.internal.{default_domain}"
