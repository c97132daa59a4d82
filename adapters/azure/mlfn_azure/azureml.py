"""Azure ML: workspace (or an existing one) with the deployment's registry as its registry, the
model in the workspace's default datastore registered as a ModelVersion, an EnvironmentVersion of
the runtime image, a managed online endpoint and deployment, its traffic and its autoscale.

Roles: an endpoint with a system-assigned identity is granted AcrPull on the workspace's registry
and Storage Blob Data Reader on its default datastore by Azure itself, when the endpoint is created
(learn.microsoft.com/azure/machine-learning/concept-endpoints-online-auth#automatic-role-assignment-
for-endpoint-identity); mlfn grants nothing twice. Only with an existing workspace, whose registry is
not mlfn's, does mlfn grant AcrPull on its own registry, and waits for the grant to propagate
before the deployment pulls."""

from __future__ import annotations

from typing import Any

import pulumi
from mlfn_runtime import contract as c
from mlfn_runtime.contract import MANIFEST_FILE

from mlfn.adapter import CompileContext, CompileResult
from mlfn.manifest import manifest_for, model_files

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
    suffix_text,
    tags,
)
from .conventions import CATALOG
from .traffic import EndpointTraffic

PROBE = {"initial_delay": "PT10S", "period": "PT10S", "timeout": "PT2S", "failure_threshold": 30,
         "success_threshold": 1}
#: The default datastore of every workspace, and its blob container (azureml-blobstore-<workspace id>).
DATASTORE = "workspaceblobstore"
#: Soft-deleted key vaults keep their name 7-90 days (90 by default); mlfn asks for the least.
#: learn.microsoft.com/azure/key-vault/general/soft-delete-overview
VAULT_RETENTION_DAYS = 7
#: Managed online endpoints document no request body limit today. The quotas page
#: (learn.microsoft.com/azure/machine-learning/how-to-manage-quotas#azure-machine-learning-online-
#: endpoints-and-batch-endpoints) lists a 180 s request timeout and 5 MBPS of bandwidth per endpoint,
#: no size; the troubleshooting page's HTTP status table (how-to-troubleshoot-online-endpoints#http-
#: status-codes) has no 413. Only its 2021 preview version said "413 Payload too large: your request
#: payload is larger than 1.5 megabytes" (MicrosoftDocs/azure-docs, articles/machine-learning/
#: how-to-troubleshoot-managed-online-endpoints.md, ms.date 05/13/2021), a row the GA page dropped.
#: So the runtime keeps its own default (6 MiB), at least that old figure: it never refuses what
#: Azure's front end lets through, and Azure answers 413 itself if its limit is the lower one.
MAX_BODY_BYTES = c.DEFAULT_MAX_BODY_BYTES
#: Managed online deployments document no kill deadline after SIGTERM and offer no setting for one
#: (ManagedOnlineDeployment has probes, request and scale settings, no termination grace). 30 s,
#: Kubernetes' default terminationGracePeriodSeconds, is assumed; the runtime drains for less.
GRACEFUL_SECONDS = 25
#: Azure Monitor metrics of a managed online deployment (Microsoft.MachineLearningServices/workspaces/
#: onlineEndpoints/deployments): learn.microsoft.com/azure/machine-learning/monitor-azure-machine-learning-reference
CPU_METRIC = "CpuUtilizationPercentage"
GPU_METRIC = "GpuUtilizationPercentage"


def _workspace(ctx: CompileContext, n: Names, group: Any, client, reg: Any):
    """(workspace name, storage account id, storage account name, workspace id, whether Azure grants
    the endpoint pull on ``reg``)."""
    from pulumi_azure_native import applicationinsights, keyvault, operationalinsights, storage
    from pulumi_azure_native import machinelearningservices as ml

    location = ctx.stack.location.location
    if ctx.stack.location.workspace:
        ws = ml.get_workspace_output(resource_group_name=group, workspace_name=n["workspace"],
                                     opts=ctx.invoke_opts())
        name = ws.storage_account.apply(lambda i: str(i or "").rstrip("/").rsplit("/", 1)[-1])
        return n["workspace"], ws.storage_account, name, ws.workspace_id, False
    account = storage.StorageAccount(
        ctx.child("storage"), account_name=n["storage"], resource_group_name=group, location=location,
        kind="StorageV2", sku={"name": "Standard_LRS"}, allow_blob_public_access=False,
        minimum_tls_version="TLS1_2", tags=tags(ctx), opts=ctx.opts(),
    )
    vault = keyvault.Vault(
        ctx.child("key-vault"), vault_name=n["vault"], resource_group_name=group, location=location,
        # Purge protection on: the built-in policy "Key vaults should have deletion protection enabled"
        # denies vaults without it in governed subscriptions. A destroyed vault then stays soft-deleted
        # (unpurgeable) for VAULT_RETENTION_DAYS; its name carries the suffix, so it never blocks the next up.
        properties={"tenant_id": client.tenant_id, "sku": {"family": "A", "name": "standard"},
                    "enable_rbac_authorization": True, "soft_delete_retention_in_days": VAULT_RETENTION_DAYS,
                    "enable_purge_protection": True},
        tags=tags(ctx), opts=ctx.opts(),
    )
    # Workspace-based Application Insights (classic was retired on 29 February 2024: learn.microsoft.com/
    # azure/azure-monitor/app/create-new-resource), in a Log Analytics workspace mlfn owns, so a destroy
    # leaves nothing in a default resource group.
    logs = operationalinsights.Workspace(
        ctx.child("logs"), workspace_name=n["logs"], resource_group_name=group, location=location,
        sku={"name": "PerGB2018"}, retention_in_days=ctx.stack.overrides.log_retention_days,
        tags=tags(ctx), opts=ctx.opts(),
    )
    insights = applicationinsights.Component(
        ctx.child("insights"), resource_name_=n["workspace"], resource_group_name=group, location=location,
        kind="web", application_type="web", workspace_resource_id=logs.id, ingestion_mode="LogAnalytics",
        tags=tags(ctx), opts=ctx.opts(),
    )
    ws = ml.Workspace(
        ctx.child("workspace"), workspace_name=n["workspace"], resource_group_name=group, location=location,
        identity={"type": "SystemAssigned"}, storage_account=account.id, key_vault=vault.id,
        application_insights=insights.id, container_registry=reg.id if reg is not None else None,
        tags=tags(ctx), opts=ctx.opts(),
    )
    return ws.name, account.id, account.name, ws.workspace_id, True


def _upload_model(ctx: CompileContext, n: Names, group: Any, account_name: Any, workspace_id: Any,
                  subscription: Any, workspace: Any):
    """The model's files (and manifest) as blobs in the workspace's default datastore, and the
    datastore URI to register it from (learn.microsoft.com/azure/machine-learning/how-to-manage-models
    #supported-paths), in the long form the REST API is sent: azure-ai-ml expands
    azureml://datastores/<ds>/paths/<path> to azureml://subscriptions/<sub>/resourcegroups/<rg>/
    workspaces/<ws>/datastores/<ds>/paths/<path> before calling it (Azure/azure-sdk-for-python
    sdk/ml/azure-ai-ml: _utils/utils.py resolve_short_datastore_url, _storage_utils.py LONG_URI_FORMAT)."""
    from pulumi_azure_native import storage

    source = ctx.model_path()
    assert source is not None
    model = model_files(source)
    folder, version = registered_model(model.digest)
    prefix = f"mlfn/{n.base}/{folder}"
    container = pulumi.Output.concat("azureml-blobstore-", workspace_id)
    blobs = [storage.Blob(ctx.child(f"model-{i}"), blob_name=f"{prefix}/{model.relative(p)}",
                          container_name=container, account_name=account_name, resource_group_name=group,
                          source=pulumi.FileAsset(str(p)), type="Block", opts=ctx.opts())
             for i, p in enumerate(model.files)]
    blobs.append(storage.Blob(ctx.child("model-manifest"), blob_name=f"{prefix}/{MANIFEST_FILE}",
                              container_name=container, account_name=account_name, resource_group_name=group,
                              source=pulumi.StringAsset(manifest_for(ctx.spec, source).to_json()), type="Block",
                              opts=ctx.opts()))
    uri = pulumi.Output.concat("azureml://subscriptions/", subscription, "/resourcegroups/", group, "/workspaces/",
                               workspace, f"/datastores/{DATASTORE}/paths/{prefix}")
    return uri, version, blobs


def registered_model(digest: str) -> tuple[str, str]:
    """The model's folder (the last part of the path it is registered from, which Azure ML keeps
    under AZUREML_MODEL_DIR) and its version, from the model files' digest."""
    return f"model-{digest[:16]}", str(int(digest[:8], 16) % 1_000_000_000 + 1)


def deployment_name(instance_type: str) -> str:
    """The deployment's name, from its instance type: an update cannot change the type of a managed
    online deployment (Azure/AML-Kubernetes#247: "deployment update can't change instance type ...
    deploy a new deployment, move traffic there, and delete the old one"), so a new type is a new
    deployment. 13 characters, a letter first (rules.ENDPOINT_NAME)."""
    import hashlib

    return "mlfn-" + hashlib.sha256(instance_type.encode()).hexdigest()[:8]


def environment_version(image_digest: str) -> str:
    """An environment version from what the image is built from (15 digits): versions are immutable,
    so a new image needs a new one."""
    return str(int(image_digest[:12], 16) % 10**14 + 10**14)


def _durations(probe: dict[str, Any]) -> dict[str, Any]:
    """A probe's durations as Azure reads them back (``rules.normal_duration``)."""
    return {k: rules.normal_duration(v) if isinstance(v, str) else v for k, v in probe.items()}


def compile_azureml(ctx: AzureContext, n: Names) -> CompileResult:
    from pulumi_azure_native import authorization, monitor
    from pulumi_azure_native import machinelearningservices as ml

    spec = ctx.spec
    location = ctx.stack.location.location
    client = authorization.get_client_config_output(opts=ctx.invoke_opts())
    subscription = ctx.stack.location.subscription or client.subscription_id
    group = resource_group(ctx, n)
    reg = None if spec.runtime.image else registry(ctx, n, group)
    workspace, _storage_id, storage_name, workspace_id, pull_granted = _workspace(ctx, n, group, client, reg)
    image_ref, image_digest = image(ctx, reg, "gpu" if spec.compute.gpu else "cpu", bake_model=False)
    model_uri, version, blobs = _upload_model(ctx, n, group, storage_name, workspace_id, subscription,
                                              workspace)

    # Assets are named per workspace: with the stack's suffix, two stacks in one existing workspace
    # never register into (or destroy) each other's model or environment.
    model_name = n.suffix.apply(lambda h: f"{spec.name}-{suffix_text(h)}")
    env_name = n.suffix.apply(lambda h: f"{spec.name}-runtime-{suffix_text(h)}")
    container = ml.ModelContainer(ctx.child("model-container"), name=model_name, resource_group_name=group,
                                  workspace_name=workspace, properties={"tags": tags(ctx)}, opts=ctx.opts())
    # Versions are immutable: a new one under a new logical name, created before the old one goes.
    model = ml.ModelVersion(
        ctx.child(f"model-{version}"), name=model_name, version=version, resource_group_name=group,
        workspace_name=workspace,
        properties={"model_uri": model_uri, "model_type": "custom_model", "tags": tags(ctx),
                    "description": f"mlfn: {spec.model.format} model {spec.name}"},
        opts=ctx.opts(depends_on=[*blobs, container]),
    )
    route = lambda path: {"path": path, "port": c.DEFAULT_PORT}  # noqa: E731
    env_ver = environment_version(image_digest)
    env_version = ml.EnvironmentVersion(
        ctx.child(f"environment-{env_ver}"), name=env_name, version=env_ver, resource_group_name=group,
        workspace_name=workspace,
        properties={"image": image_ref, "os_type": "Linux", "tags": tags(ctx), "inference_config": {
            "liveness_route": route(c.AZURE_LIVE), "readiness_route": route(c.AZURE_READY),
            "scoring_route": route(c.AZURE_SCORE)}},
        opts=ctx.opts(),
    )
    auth_mode = "Key" if spec.endpoint.auth == "key" else "AADToken"
    endpoint_props = {"auth_mode": auth_mode, "public_network_access": "Enabled",
                      "description": f"mlfn: {spec.name}"}
    problems = rules.endpoint_problems("endpoint", endpoint_props)
    endpoint = ml.OnlineEndpoint(
        ctx.child("endpoint"), endpoint_name=n["endpoint"], resource_group_name=group, workspace_name=workspace,
        location=location, identity={"type": "SystemAssigned"}, properties=endpoint_props, tags=tags(ctx),
        opts=ctx.opts(),
    )
    ready: list[Any] = []
    if reg is not None and not pull_granted:
        principal = endpoint.identity.apply(lambda i: (i or {}).get("principal_id") if isinstance(i, dict)
                                            else getattr(i, "principal_id", None))
        grant = assign(ctx, "registry-pull", reg.id, principal, subscription, ACR_PULL)
        ready.append(propagated(ctx, "registry-pull-propagated", [grant]))

    instance_type = ctx.stack.overrides.instance_type or CATALOG.pick("azureml", spec.compute).name
    dep_name = deployment_name(instance_type)
    deployment_props: dict[str, Any] = {
        "endpoint_compute_type": "Managed",
        "model": model.id,
        "environment_id": env_version.id,
        "instance_type": instance_type,
        "liveness_probe": _durations(PROBE),
        "readiness_probe": _durations({**PROBE, "failure_threshold": 3}),
        "request_settings": {"max_concurrent_requests_per_instance": spec.scaling.concurrency,
                             "request_timeout": rules.normal_duration(ctx.stack.overrides.request_timeout)},
        "scale_settings": {"scale_type": "Default"},
        "app_insights_enabled": True,
        "environment_variables": {**spec.runtime.env, **c.container_env(
            model_name=spec.name, model_format=spec.model.format, handler=spec.model.handler),
            **runtime_env(ctx, MAX_BODY_BYTES, GRACEFUL_SECONDS)},
    }
    problems += rules.deployment_problems(dep_name, deployment_props)
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
    # A new instance type is a new deployment name: Pulumi replaces the deployment create-before-
    # delete (the default), so the new one exists, the traffic and autoscale move to it, and only
    # then is the old one (no traffic left) deleted.
    deployment = ml.OnlineDeployment(
        ctx.child("deployment"), deployment_name=dep_name, endpoint_name=endpoint.name,
        resource_group_name=group, workspace_name=workspace, location=location,
        # The instance count is autoscale's once the deployment exists: a changed scaling.min moves
        # autoscale's minimum, never the count of a running deployment. An update (a new model) PUTs
        # the whole deployment with the sku Pulumi holds in its state, so the target asks the engine
        # to refresh the deployment first (AzureML.refreshed_before_update): the PUT then carries the
        # count autoscale set. Leaving sku out of the PUT is no alternative: the REST spec makes it
        # optional and does not say what an update without it does to the count.
        sku={"name": "Default", "capacity": max(1, spec.scaling.min)}, properties=typed, tags=tags(ctx),
        opts=ctx.opts(depends_on=ready, ignore_changes=["sku"]),
    )
    EndpointTraffic(ctx.child("traffic"), endpoint.id, {dep_name: 100},
                    endpoint={"auth_mode": auth_mode, "public_network_access": "Enabled"}, tags=tags(ctx),
                    opts=ctx.opts(depends_on=[deployment]))
    # GPU deployments are scaled on the GPU: their CPU idles while the GPU is saturated.
    metric = {"metric_name": GPU_METRIC if spec.compute.gpu else CPU_METRIC, "metric_resource_uri": deployment.id,
              "time_grain": "PT1M", "statistic": "Average", "time_window": "PT5M", "time_aggregation": "Average"}
    # An autoscale setting's target cannot change (Azure: TargetResourceIdIsImmutable): named after
    # the deployment, it is replaced with it.
    monitor.AutoscaleSetting(
        ctx.child("autoscale"), autoscale_setting_name=pulumi.Output.concat(n["endpoint"], "-", dep_name),
        resource_group_name=group,
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
    query = n["endpoint"].apply(lambda e: log_query("azureml", e))
    return CompileResult(url=scoring, logs=query, extra={
        "target": "azureml", "endpoint_id": endpoint.id, "endpoint": endpoint.name, "auth_mode": auth_mode,
        "location": location, "log_query": query,
        "log_command": pulumi.Output.concat(
            "az ml online-deployment get-logs --name ", dep_name, " --endpoint-name ", endpoint.name,
            " --resource-group ", group, " --workspace-name ", workspace),
    })
