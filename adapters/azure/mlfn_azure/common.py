"""What both Azure targets share: the suffix kept in state, the names, the resource group, the
registry (pushed to with an Entra ID token, no admin user), the runtime image and role grants."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pulumi
from mlfn_runtime import contract as c

from mlfn.adapter import CompileContext
from mlfn.image import Registry, context_dir, runtime_image
from mlfn.names import NameRule, resource_name
from mlfn.tags import tags_for

from .conventions import NAME_RULES, TAG_STYLE

ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
#: Bytes of the random suffix (pulumi-random RandomId): 8 hex characters.
SUFFIX_BYTES = 4
SUFFIX_LEN = 2 * SUFFIX_BYTES
#: Seconds to wait after granting a role before anything uses it: "role assignments can take up to
#: 10 minutes to take effect", usually far less (learn.microsoft.com/azure/role-based-access-control/
#: troubleshooting#symptom---role-assignment-changes-are-not-being-detected).
ROLE_PROPAGATION_S = 120
#: The ACR token a registry login uses with an Entra ID refresh token as password
#: (learn.microsoft.com/azure/container-registry/container-registry-authentication#az-acr-login-with---expose-token).
ACR_TOKEN_USER = "00000000-0000-0000-0000-000000000000"

#: What mlfn names in each deployment, and the rule of each: every one carries the suffix.
SUFFIXED = {
    "resource_group": "azure_resource_group",
    "workspace": "azure_ml_workspace",
    "storage": "azure_storage",
    "vault": "azure_key_vault",
    "registry": "acr",
    "endpoint": "azure_ml_endpoint",
    "app": "container_app",
    "environment": "container_app",
    "logs": "container_app",
}


@dataclasses.dataclass
class AzureContext(CompileContext):
    """The compile context of an Azure deployment: every azure-native resource and function call
    goes through ``provider``, the explicit provider of the stack's subscription."""

    provider: Any = None

    def opts(self, **kwargs: Any) -> pulumi.ResourceOptions:
        """``parent`` set, and the stack's provider for azure-native resources (a map by package: the
        RandomId and the dynamic resources keep their own providers)."""
        return pulumi.ResourceOptions(parent=self.parent, providers={"azure-native": self.provider}, **kwargs)

    def invoke_opts(self) -> pulumi.InvokeOutputOptions:
        return pulumi.InvokeOutputOptions(parent=self.parent, provider=self.provider)


def scoped(ctx: CompileContext) -> AzureContext:
    """``ctx`` with an explicit azure-native provider for the stack's ``subscription``.

    Without it the default provider deploys into ARM_SUBSCRIPTION_ID or the az CLI's selected
    subscription, whatever the stack says (pulumi.com/registry/packages/azure-native/installation-
    configuration: subscriptionId, "The Subscription ID which should be used", env ARM_SUBSCRIPTION_ID).
    Credentials stay the provider's own: ARM_CLIENT_ID/ARM_CLIENT_SECRET/ARM_TENANT_ID, ARM_USE_OIDC,
    ARM_USE_MSI or the az CLI, read from the environment as for the default provider."""
    from pulumi_azure_native import Provider

    provider = Provider(ctx.child("provider"), subscription_id=ctx.stack.location.subscription,
                        opts=ctx.opts())
    fields = {f.name: getattr(ctx, f.name) for f in dataclasses.fields(CompileContext)}
    return AzureContext(**fields, provider=provider)


def tags(ctx: CompileContext) -> dict[str, str]:
    return tags_for(ctx.spec.name, ctx.spec.tags, TAG_STYLE)


def suffix_text(suffix: str) -> str:
    """The suffix as names carry it: the RandomId's hex, lowercase letters and digits only."""
    return re.sub(r"[^a-z0-9]", "", suffix.lower())[-SUFFIX_LEN:]


def suffixed(base: str, suffix: str, rule: NameRule) -> str:
    """``base`` under ``rule``, shortened to leave room for ``suffix``, then the suffix."""
    suffix = suffix_text(suffix)
    room = dataclasses.replace(rule, max_len=rule.max_len - SUFFIX_LEN - len(rule.separator),
                               min_len=min(rule.min_len, 1))
    head = resource_name(base, room)
    return f"{head}{rule.separator}{suffix}"


@dataclasses.dataclass
class Names:
    """The names of one deployment: fixed ones (``base``, the deployment) and suffixed Outputs."""

    base: str
    suffix: Any  # Output[str]: the RandomId's hex, created once and kept in the stack's state
    values: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.values[key]


def names(ctx: CompileContext) -> Names:
    """Every name this deployment gives, from ``<name>-<stack>`` and a suffix created once (pulumi-random)
    and kept in state: two state folders deploying the same project into one subscription never share
    a resource group, registry, storage account, key vault, workspace or endpoint, and a destroyed
    workspace (soft-deleted 14 days) or key vault (7-90 days) never blocks the next ``up``."""
    import pulumi_random as random

    base = f"{ctx.spec.name}-{ctx.stack.name}"
    rid = random.RandomId(ctx.child("suffix"), byte_length=SUFFIX_BYTES, opts=ctx.opts())
    loc = ctx.stack.location
    values: dict[str, Any] = {}
    for key, rule in SUFFIXED.items():
        text = {"resource_group": f"{base}-rg", "environment": f"{base}-env", "logs": f"{base}-logs"}.get(key, base)
        values[key] = rid.hex.apply(lambda h, t=text, r=NAME_RULES[rule]: suffixed(t, h, r))
    if loc.resource_group:
        values["resource_group"] = loc.resource_group
    if loc.workspace:
        values["workspace"] = loc.workspace
    return Names(base, rid.hex, values)


def resource_group(ctx: CompileContext, n: Names) -> Any:
    """The stack's resource group when it names one; otherwise one this deployment owns."""
    from pulumi_azure_native import resources

    if ctx.stack.location.resource_group:
        return ctx.stack.location.resource_group
    group = resources.ResourceGroup(ctx.child("resource-group"), resource_group_name=n["resource_group"],
                                    location=ctx.stack.location.location, tags=tags(ctx), opts=ctx.opts())
    return group.name


def registry(ctx: CompileContext, n: Names, group: Any):
    """The deployment's container registry: no admin user (static credentials, refused by the built-in
    policy "Container registries should have local admin account disabled"); mlfn pushes with an
    Entra ID token and the platforms pull with a managed identity."""
    from pulumi_azure_native import containerregistry

    return containerregistry.Registry(
        ctx.child("registry"), registry_name=n["registry"], resource_group_name=group,
        location=ctx.stack.location.location, sku={"name": "Basic"}, admin_user_enabled=False,
        tags=tags(ctx), opts=ctx.opts(),
    )


def image(ctx: CompileContext, reg: Any, variant: str, bake_model: bool) -> tuple[Any, str]:
    """The runtime image to run, and the digest of what it is built from.

    The image is referenced by its content-addressed tag (``<registry>/<name>:<tag>``, pushed by the
    build this reference depends on), so a new model baked in, a changed requirements.txt or a new
    runtime gives a new reference and the platform rolls it out; ``runtime.image`` is used as given."""
    if ctx.spec.runtime.image:
        import hashlib

        given = ctx.spec.runtime.image
        return pulumi.Output.from_input(given), hashlib.sha256(given.encode()).hexdigest()
    from .acr_token import AcrPushToken

    token = AcrPushToken(ctx.child("registry-token"), reg.login_server, opts=ctx.opts())
    repository = pulumi.Output.concat(reg.login_server, "/", ctx.spec.name)
    ref = runtime_image(ctx, Registry(repository=repository, address=reg.login_server, username=ACR_TOKEN_USER,
                                      password=pulumi.Output.secret(token.refresh_token)), variant=variant,
                       bake_model=bake_model)
    digest = context_digest(context_dir(ctx, variant))
    tagged = pulumi.Output.all(ref, repository).apply(lambda a: f"{a[1]}:{digest[:16]}")
    return tagged, digest


def context_digest(root: Path) -> str:
    """The digest of a build context as the image builder tags it."""
    from mlfn.image import context_digest as digest

    return digest(root)


def role_id(subscription: Any, guid: str) -> Any:
    return pulumi.Output.concat("/subscriptions/", subscription, "/providers/Microsoft.Authorization/roleDefinitions/",
                                guid)


def assign(ctx: CompileContext, name: str, scope: Any, principal: Any, subscription: Any, guid: str):
    from pulumi_azure_native import authorization

    return authorization.RoleAssignment(
        ctx.child(name), scope=scope, principal_id=principal, principal_type="ServicePrincipal",
        role_definition_id=role_id(subscription, guid), opts=ctx.opts(),
    )


def propagated(ctx: CompileContext, name: str, grants: list[Any]) -> Any:
    """A wait after ``grants``: what pulls with them depends on it, not on the grants alone."""
    from .wait import Wait

    return Wait(ctx.child(name), ROLE_PROPAGATION_S, after=[g.id for g in grants], opts=ctx.opts(depends_on=grants))


def runtime_env(ctx: CompileContext, max_body_bytes: int, graceful_seconds: int) -> dict[str, str]:
    """The runtime's tuning for this target: workers from compute (one per GPU), the target's
    request limit, and a drain time below the platform's kill deadline after SIGTERM."""
    return spec_runtime_env(ctx.spec, max_body_bytes, graceful_seconds)


def spec_runtime_env(spec, max_body_bytes: int, graceful_seconds: int) -> dict[str, str]:
    """``runtime_env`` from the description alone (``mlfn up --local`` has no compile context)."""
    compute = spec.compute
    workers = compute.gpu.count if compute.gpu else max(1, int(compute.cpu))
    return {c.WORKERS: str(workers), c.MAX_BODY_BYTES: str(max_body_bytes),
            c.GRACEFUL_SECONDS: str(graceful_seconds)}
