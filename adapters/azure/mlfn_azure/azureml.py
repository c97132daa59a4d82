"""Azure ML: workspace (or an existing one), registry and image, the model as a ModelVersion in the
workspace's storage, an EnvironmentVersion with the runtime's routes, a managed online endpoint
and deployment, its traffic, autoscale and least-privilege role assignments."""

from __future__ import annotations

from typing import Any

import pulumi
from mlfn_runtime import contract as c
from mlfn_runtime.contract import MANIFEST_FILE

from mlfn.adapter import CompileContext, CompileResult
from mlfn.manifest import manifest_for, model_files

from . import log_query, rules
from .common import ACR_PULL, STORAGE_BLOB_DATA_READER, assign, registry_and_image, resource_group, tags
from .conventions import CATALOG
from .traffic import EndpointTraffic

PROBE = {"initial_delay": "PT10S", "period": "PT10S", "timeout": "PT2S", "failure_threshold": 30,
         "success_threshold": 1}


def _workspace(ctx: CompileContext, n: dict[str, str], group: Any, client):
    from pulumi_azure_native import applicationinsights, keyvault, storage
    from pulumi_azure_native import machinelearningservices as ml

    location = ctx.stack.location.location
    if ctx.stack.location.workspace:
        ws = ml.get_workspace_output(resource_group_name=group, workspace_name=n["workspace"],
                                     opts=pulumi.InvokeOutputOptions(parent=ctx.parent))
        name = ws.storage_account.apply(lambda i: str(i or "").rstrip("/").rsplit("/", 1)[-1])
        return n["workspace"], ws.storage_account, name
    account = storage.StorageAccount(
        ctx.child("storage"), account_name=n["storage"], resource_group_name=group, location=location,
        kind="StorageV2", sku={"name": "Standard_LRS"}, allow_blob_public_access=False,
        minimum_tls_version="TLS1_2", tags=tags(ctx), opts=ctx.opts(),
    )
    vault = keyvault.Vault(
        ctx.child("key-vault"), vault_name=n["vault"], resource_group_name=group, location=location,
        properties={"tenant_id": client.tenant_id, "sku": {"family": "A", "name": "standard"},
                    "enable_rbac_authorization": True}, tags=tags(ctx), opts=ctx.opts(),
    )
    insights = applicationinsights.Component(
        ctx.child("insights"), resource_name_=f"{n['base']}-insights", resource_group_name=group, location=location,
        kind="web", application_type="web", tags=tags(ctx), opts=ctx.opts(),
    )
    ws = ml.Workspace(
        ctx.child("workspace"), workspace_name=n["workspace"], resource_group_name=group, location=location,
        identity={"type": "SystemAssigned"}, storage_account=account.id, key_vault=vault.id,
        application_insights=insights.id, tags=tags(ctx), opts=ctx.opts(),
    )
    return ws.name, account.id, account.name


def _upload_model(ctx: CompileContext, n: dict[str, str], group: Any, account_name: Any):
    from pulumi_azure_native import storage

    source = ctx.model_path()
    assert source is not None
    model = model_files(source)
    prefix = f"{n['base']}/model-{model.digest[:16]}"
    container = storage.BlobContainer(ctx.child("models"), container_name="mlfn-models", account_name=account_name,
                                      resource_group_name=group, public_access="None", opts=ctx.opts())
    blobs = [storage.Blob(ctx.child(f"model-{i}"), blob_name=f"{prefix}/{model.relative(p)}",
                          container_name=container.name, account_name=account_name, resource_group_name=group,
                          source=pulumi.FileAsset(str(p)), type="Block", opts=ctx.opts())
             for i, p in enumerate(model.files)]
    blobs.append(storage.Blob(ctx.child("model-manifest"), blob_name=f"{prefix}/{MANIFEST_FILE}",
                              container_name=container.name, account_name=account_name, resource_group_name=group,
                              source=pulumi.StringAsset(manifest_for(ctx.spec, source).to_json()), type="Block",
                              opts=ctx.opts()))
    uri = pulumi.Output.concat("https://", account_name, ".blob.core.windows.net/mlfn-models/", prefix)
    version = str(int(model.digest[:8], 16) % 1_000_000_000 + 1)
    return uri, version, blobs


def compile_azureml(ctx: CompileContext, n: dict[str, str]) -> CompileResult:
    from pulumi_azure_native import authorization, monitor
    from pulumi_azure_native import machinelearningservices as ml

    spec = ctx.spec
    location = ctx.stack.location.location
    client = authorization.get_client_config_output(opts=pulumi.InvokeOutputOptions(parent=ctx.parent))
    subscription = ctx.stack.location.subscription or client.subscription_id
    group = resource_group(ctx, n)
    workspace, storage_id, storage_name = _workspace(ctx, n, group, client)
    registry, image = registry_and_image(ctx, n, group, "gpu" if spec.compute.gpu else "cpu", bake_model=False)
    model_uri, version, blobs = _upload_model(ctx, n, group, storage_name)

    ml.ModelContainer(ctx.child("model-container"), name=spec.name, resource_group_name=group,
                      workspace_name=workspace, properties={"tags": tags(ctx)}, opts=ctx.opts())
    model = ml.ModelVersion(
        ctx.child("model"), name=spec.name, version=version, resource_group_name=group, workspace_name=workspace,
        properties={"model_uri": model_uri, "model_type": "custom_model", "tags": tags(ctx),
                    "description": f"mlfn: {spec.model.format} model {spec.name}"},
        opts=ctx.opts(depends_on=blobs),
    )
    route = lambda path: {"path": path, "port": c.DEFAULT_PORT}  # noqa: E731
    env_version = ml.EnvironmentVersion(
        ctx.child("environment"), name=f"{spec.name}-runtime", version=version, resource_group_name=group,
        workspace_name=workspace,
        properties={"image": image, "os_type": "Linux", "tags": tags(ctx), "inference_config": {
            "liveness_route": route(c.AZURE_LIVE), "readiness_route": route(c.AZURE_READY),
            "scoring_route": route(c.AZURE_SCORE)}},
        opts=ctx.opts(),
    )
    auth_mode = "Key" if spec.endpoint.auth == "key" else "AADToken"
    endpoint_props = {"auth_mode": auth_mode, "public_network_access": "Enabled",
                      "description": f"mlfn: {spec.name}"}
    problems = rules.endpoint_problems(n["endpoint"], endpoint_props)
    endpoint = ml.OnlineEndpoint(
        ctx.child("endpoint"), endpoint_name=n["endpoint"], resource_group_name=group, workspace_name=workspace,
        location=location, identity={"type": "SystemAssigned"}, properties=endpoint_props, tags=tags(ctx),
        opts=ctx.opts(),
    )
    principal = endpoint.identity.apply(lambda i: (i or {}).get("principal_id") if isinstance(i, dict)
                                        else getattr(i, "principal_id", None))
    grants = [assign(ctx, "storage-reader", storage_id, principal, subscription, STORAGE_BLOB_DATA_READER)]
    if registry is not None:
        grants.append(assign(ctx, "registry-pull", registry.id, principal, subscription, ACR_PULL))

    instance_type = ctx.stack.overrides.instance_type or CATALOG.pick("azureml", spec.compute).name
    deployment_props: dict[str, Any] = {
        "endpoint_compute_type": "Managed",
        "model": model.id,
        "environment_id": env_version.id,
        "instance_type": instance_type,
        "liveness_probe": dict(PROBE),
        "readiness_probe": {**PROBE, "failure_threshold": 3},
        "request_settings": {"max_concurrent_requests_per_instance": spec.scaling.concurrency,
                             "request_timeout": ctx.stack.overrides.request_timeout},
        "scale_settings": {"scale_type": "Default"},
        "app_insights_enabled": True,
        "environment_variables": {**spec.runtime.env, **c.container_env(
            model_name=spec.name, model_format=spec.model.format, handler=spec.model.handler)},
    }
    problems += rules.deployment_problems(n["deployment"], deployment_props)
    if problems:
        raise ValueError("; ".join(problems))
    # `properties` is a union (managed or Kubernetes deployments): only the typed args say which,
    # and only they turn the keys into the API's camelCase.
    typed = ml.ManagedOnlineDeploymentArgs(
        **{k: v for k, v in deployment_props.items()
           if k not in ("liveness_probe", "readiness_probe", "request_settings", "scale_settings")},
        liveness_probe=ml.ProbeSettingsArgs(**deployment_props["liveness_probe"]),
        readiness_probe=ml.ProbeSettingsArgs(**deployment_props["readiness_probe"]),
        request_settings=ml.OnlineRequestSettingsArgs(**deployment_props["request_settings"]),
        scale_settings=ml.DefaultScaleSettingsArgs(**deployment_props["scale_settings"]),
    )
    deployment = ml.OnlineDeployment(
        ctx.child("deployment"), deployment_name=n["deployment"], endpoint_name=endpoint.name,
        resource_group_name=group, workspace_name=workspace, location=location,
        sku={"name": "Default", "capacity": max(1, spec.scaling.min)}, properties=typed, tags=tags(ctx),
        opts=ctx.opts(depends_on=grants),
    )
    EndpointTraffic(ctx.child("traffic"), endpoint.id, {n["deployment"]: 100}, ctx.opts(depends_on=[deployment]))
    metric = {"metric_name": "CpuUtilizationPercentage", "metric_resource_uri": deployment.id,
              "time_grain": "PT1M", "statistic": "Average", "time_window": "PT5M", "time_aggregation": "Average"}
    monitor.AutoscaleSetting(
        ctx.child("autoscale"), autoscale_setting_name=f"{n['base']}-autoscale", resource_group_name=group,
        location=location, target_resource_uri=deployment.id, enabled=True, tags=tags(ctx),
        profiles=[{
            "name": "mlfn",
            "capacity": {"minimum": str(max(1, spec.scaling.min)), "maximum": str(spec.scaling.max),
                         "default": str(max(1, spec.scaling.min))},
            "rules": [
                {"metric_trigger": {**metric, "operator": "GreaterThan", "threshold": 70},
                 "scale_action": {"direction": "Increase", "type": "ChangeCount", "value": "1",
                                  "cooldown": "PT5M"}},
                {"metric_trigger": {**metric, "operator": "LessThan", "threshold": 25},
                 "scale_action": {"direction": "Decrease", "type": "ChangeCount", "value": "1",
                                  "cooldown": "PT10M"}},
            ],
        }],
        opts=ctx.opts(),
    )
    scoring = endpoint.properties.apply(lambda p: (p.get("scoring_uri") if isinstance(p, dict)
                                                   else getattr(p, "scoring_uri", None)) or "")
    query = log_query("azureml", n)
    return CompileResult(url=scoring, logs=query, extra={
        "target": "azureml", "endpoint_id": endpoint.id, "endpoint": endpoint.name, "auth_mode": auth_mode,
        "location": location, "log_query": query,
        "log_command": pulumi.Output.concat(
            "az ml online-deployment get-logs --name ", n["deployment"], " --endpoint-name ", endpoint.name,
            " --resource-group ", group, " --workspace-name ", workspace),
    })
