"""A Pulumi dynamic provider that gives the image build an Entra ID token for the registry.

The registry has no admin user, so the push logs in the way ``az acr login --expose-token`` does:
an Entra ID access token of whoever runs ``mlfn up`` (``credential.credential()``: the ARM_*
variables pulumi-azure-native reads, else the az CLI's login) is exchanged at the
registry's ``/oauth2/exchange`` for an ACR refresh token, used as the password of the user
00000000-0000-0000-0000-000000000000 (learn.microsoft.com/azure/container-registry/
container-registry-authentication#az-acr-login-with---expose-token; the exchange:
github.com/Azure/acr/blob/main/docs/AAD-OAuth.md). ACR refresh tokens expire (3 hours), so the
token is fetched again once it is close to expiry and kept otherwise: an unchanged project changes
nothing.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ResourceProvider, UpdateResult

#: Fetch a new token when the old one has less than this left (seconds).
MARGIN_S = 30 * 60


class RegistryTokenError(Exception):
    """The exchange failed; the message says what the registry answered."""


def _aad_token() -> str:
    from . import credential

    return credential.credential().get_token("https://management.azure.com/.default").token


def http_client():
    """The HTTP client; tests replace its transport."""
    import httpx

    return httpx.Client(timeout=60)


def _expiry(token: str) -> float:
    """The ``exp`` claim of a JWT, or one hour from now when it cannot be read."""
    try:
        payload = token.split(".")[1]
        return float(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["exp"])
    except (IndexError, KeyError, ValueError):
        return time.time() + 3600


def exchange(login_server: str) -> dict[str, Any]:
    with http_client() as client:
        r = client.post(f"https://{login_server}/oauth2/exchange",
                        data={"grant_type": "access_token", "service": login_server, "access_token": _aad_token()})
    if r.status_code >= 400:
        raise RegistryTokenError(f"getting a push token for {login_server} failed: HTTP {r.status_code} "
                                 f"{r.text[:300]} (the signed-in identity needs AcrPush on the registry)")
    token = r.json()["refresh_token"]
    return {"login_server": login_server, "refresh_token": token, "expires_at": _expiry(token)}


class AcrTokenProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(id_=f"{props['login_server']}/token", outs=exchange(props["login_server"]))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        stale = float(olds.get("expires_at") or 0) - time.time() < MARGIN_S
        return DiffResult(changes=stale or olds.get("login_server") != news.get("login_server"))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs=exchange(news["login_server"]))


class AcrPushToken(pulumi.dynamic.Resource):
    refresh_token: pulumi.Output[str]

    def __init__(self, name: str, login_server: Any, opts: pulumi.ResourceOptions | None = None):
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=["refresh_token"]))
        super().__init__(AcrTokenProvider(), name,
                         {"login_server": login_server, "refresh_token": None, "expires_at": None}, opts)
