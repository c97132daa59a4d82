"""What both Azure targets share: the resource group, the registry and the runtime image."""

from __future__ import annotations

from typing import Any

import pulumi

from mlfn.adapter import CompileContext
from mlfn.image import Registry, runtime_image
from mlfn.tags import tags_for

from .conventions import TAG_STYLE

ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
STORAGE_BLOB_DATA_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"


def tags(ctx: CompileContext) -> dict[str, str]:
    return tags_for(ctx.spec.name, ctx.spec.tags, TAG_STYLE)


def resource_group(ctx: CompileContext, n: dict[str, str]) -> Any:
    """The stack's resource group when it names one; otherwise one this deployment owns."""
    from pulumi_azure_native import resources

    if ctx.stack.location.resource_group:
        return ctx.stack.location.resource_group
    group = resources.ResourceGroup(ctx.child("resource-group"), resource_group_name=n["resource_group"],
                                    location=ctx.stack.location.location, tags=tags(ctx), opts=ctx.opts())
    return group.name


def registry_and_image(ctx: CompileContext, n: dict[str, str], group: Any, variant: str, bake_model: bool):
    from pulumi_azure_native import containerregistry

    if ctx.spec.runtime.image:
        return None, pulumi.Output.from_input(ctx.spec.runtime.image)
    registry = containerregistry.Registry(
        ctx.child("registry"), registry_name=n["registry"], resource_group_name=group,
        location=ctx.stack.location.location, sku={"name": "Basic"},
        # The admin user only lets Pulumi push the image; the endpoint pulls with its managed identity.
        admin_user_enabled=True, tags=tags(ctx), opts=ctx.opts(),
    )
    creds = containerregistry.list_registry_credentials_output(
        resource_group_name=group, registry_name=registry.name, opts=pulumi.InvokeOutputOptions(parent=ctx.parent))
    ref = runtime_image(ctx, Registry(
        repository=pulumi.Output.concat(registry.login_server, "/", ctx.spec.name),
        address=registry.login_server, username=creds.username,
        password=pulumi.Output.secret(creds.passwords.apply(lambda p: p[0].value if p else "")),
    ), variant=variant, bake_model=bake_model)
    return registry, ref


def role_id(subscription: Any, guid: str) -> Any:
    return pulumi.Output.concat("/subscriptions/", subscription, "/providers/Microsoft.Authorization/roleDefinitions/",
                                guid)


def assign(ctx: CompileContext, name: str, scope: Any, principal: Any, subscription: Any, guid: str):
    from pulumi_azure_native import authorization

    return authorization.RoleAssignment(
        ctx.child(name), scope=scope, principal_id=principal, principal_type="ServicePrincipal",
        role_definition_id=role_id(subscription, guid), opts=ctx.opts(),
    )
