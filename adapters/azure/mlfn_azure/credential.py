"""The Entra ID credential for what mlfn sends to Azure itself (the traffic and registry-token
dynamic providers, ``mlfn invoke``): the one pulumi-azure-native builds from the same ARM_*
variables, so a CI job configured for the provider needs nothing more.

The provider's order (pulumi/pulumi-azure-native provider/pkg/provider/auth_azidentity.go,
newSingleMethodAuthCredential; variables: readAuthConfig there and pulumi.com/registry/packages/
azure-native/installation-configuration): ARM_USE_DEFAULT_AZURE_CREDENTIAL, a client certificate
(ARM_CLIENT_CERTIFICATE_PATH), a client secret (ARM_CLIENT_SECRET), OIDC (ARM_USE_OIDC with
ARM_OIDC_TOKEN, ARM_OIDC_TOKEN_FILE_PATH or GitHub Actions' ACTIONS_ID_TOKEN_REQUEST_URL/TOKEN),
a managed identity (ARM_USE_MSI, ARM_CLIENT_ID for a user-assigned one), else the az CLI's login
(AzureCliCredential, in ARM_TENANT_ID's tenant when set) — not DefaultAzureCredential, whose chain tries
AZURE_* variables and a machine's managed identity first, so on a VM with an identity and an az login
mlfn would act as another principal than the provider that deployed. A switch is on when its value is
exactly ``true``, as the provider reads it."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

#: The audience GitHub's OIDC token is requested for (the provider's default, ARM_OIDC_AUDIENCE).
OIDC_AUDIENCE = "api://AzureADTokenExchange"


class CredentialError(Exception):
    """ARM_* variables that name a method without what it needs; the message says what to set."""


def _on(env: Mapping[str, str], name: str) -> bool:
    return env.get(name, "") == "true"


def _need(env: Mapping[str, str], method: str, *names: str) -> list[str]:
    missing = [n for n in names if not env.get(n)]
    if missing:
        raise CredentialError(f"{method} needs {' and '.join(missing)} set in the environment as well "
                              "(the variables pulumi-azure-native reads)")
    return [env[n] for n in names]


def _github_assertion(env: Mapping[str, str]) -> Callable[[], str]:
    url, bearer = env["ACTIONS_ID_TOKEN_REQUEST_URL"], env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"]
    audience = env.get("ARM_OIDC_AUDIENCE") or OIDC_AUDIENCE

    def fetch() -> str:
        import httpx

        r = httpx.get(url, params={"audience": audience}, headers={"authorization": f"Bearer {bearer}"}, timeout=30)
        if r.status_code >= 400:
            raise CredentialError(f"GitHub's OIDC token request failed: HTTP {r.status_code} {r.text[:300]}")
        return r.json()["value"]

    return fetch


def _oidc_assertion(env: Mapping[str, str]) -> Callable[[], str]:
    if env.get("ARM_OIDC_TOKEN"):
        token = env["ARM_OIDC_TOKEN"]
        return lambda: token
    if env.get("ARM_OIDC_TOKEN_FILE_PATH"):
        path = env["ARM_OIDC_TOKEN_FILE_PATH"]
        # Read on every token request: federated token files are rotated.
        return lambda: open(path, encoding="utf-8").read().strip()
    if env.get("ACTIONS_ID_TOKEN_REQUEST_URL") and env.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN"):
        return _github_assertion(env)
    raise CredentialError("ARM_USE_OIDC is true but no token is given: set ARM_OIDC_TOKEN or "
                          "ARM_OIDC_TOKEN_FILE_PATH (or run in GitHub Actions with id-token: write)")


def credential(env: Mapping[str, str] | None = None) -> Any:
    """The azure-identity credential the ARM_* variables in ``env`` (default: os.environ) describe."""
    import azure.identity as identity

    env = os.environ if env is None else env
    if _on(env, "ARM_USE_DEFAULT_AZURE_CREDENTIAL"):
        return identity.DefaultAzureCredential()
    if env.get("ARM_CLIENT_CERTIFICATE_PATH"):
        tenant, client = _need(env, "ARM_CLIENT_CERTIFICATE_PATH", "ARM_TENANT_ID", "ARM_CLIENT_ID")
        password = env.get("ARM_CLIENT_CERTIFICATE_PASSWORD")
        extra = {"password": password} if password else {}
        return identity.CertificateCredential(tenant, client, env["ARM_CLIENT_CERTIFICATE_PATH"], **extra)
    if env.get("ARM_CLIENT_SECRET"):
        tenant, client = _need(env, "ARM_CLIENT_SECRET", "ARM_TENANT_ID", "ARM_CLIENT_ID")
        return identity.ClientSecretCredential(tenant, client, env["ARM_CLIENT_SECRET"])
    if _on(env, "ARM_USE_OIDC"):
        tenant, client = _need(env, "ARM_USE_OIDC", "ARM_TENANT_ID", "ARM_CLIENT_ID")
        return identity.ClientAssertionCredential(tenant, client, _oidc_assertion(env))
    if _on(env, "ARM_USE_MSI"):
        return identity.ManagedIdentityCredential(**({"client_id": env["ARM_CLIENT_ID"]}
                                                     if env.get("ARM_CLIENT_ID") else {}))
    return identity.AzureCliCredential(**({"tenant_id": env["ARM_TENANT_ID"]} if env.get("ARM_TENANT_ID") else {}))
