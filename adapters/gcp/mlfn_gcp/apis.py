"""A Pulumi dynamic provider that enables the Google APIs a deployment needs, reading first.

``projects.Service`` enables an API on every create, and enabling needs
``serviceusage.services.enable`` even for an API that is already on, so a deployer who may not
enable APIs fails in a project whose admin enabled them all. This resource reads which of its
APIs are on (``services:batchGet``, which needs only ``serviceusage.services.get``) and enables
only the missing ones (``services:batchEnable``). It never disables anything: on delete the APIs
stay on (other things in the project may use them). ``overrides.gcp.enable_apis: false`` leaves
it out for projects where APIs are managed elsewhere.
https://cloud.google.com/service-usage/docs/reference/rest/v1/services
"""

from __future__ import annotations

import time
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ResourceProvider, UpdateResult

SERVICE_USAGE = "https://serviceusage.googleapis.com/v1"
#: How long enabling may take before it is reported, and how often it is polled (seconds).
ENABLE_TIMEOUT_S, POLL_S = 600.0, 2.0


class ApiError(Exception):
    """Reading or enabling an API failed; the message says which and what to do."""


def session():
    """An authorized HTTP session with the user's credentials. Tests replace this function."""
    import google.auth
    import google.auth.transport.requests

    creds, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])
    return google.auth.transport.requests.AuthorizedSession(creds)


def _check(r, what: str) -> dict[str, Any]:
    if r.status_code >= 400:
        try:
            message = r.json().get("error", {}).get("message", r.text)
        except ValueError:
            message = r.text
        raise ApiError(f"{what} failed ({r.status_code}): {message}")
    return r.json() if r.content else {}


def enabled(s, project: str, services: list[str]) -> set[str]:
    """Which of ``services`` are on in ``project`` (batchGet takes at most 30 names)."""
    on: set[str] = set()
    for i in range(0, len(services), 30):
        names = [("names", f"projects/{project}/services/{x}") for x in services[i:i + 30]]
        data = _check(s.get(f"{SERVICE_USAGE}/projects/{project}/services:batchGet", params=names),
                      f"reading which APIs are on in project {project}")
        on |= {x["config"]["name"] for x in data.get("services", []) if x.get("state") == "ENABLED"}
    return on


def enable(s, project: str, services: list[str]) -> None:
    """Enable ``services`` and wait until it is done."""
    op = _check(s.post(f"{SERVICE_USAGE}/projects/{project}/services:batchEnable", json={"serviceIds": services}),
                f"enabling {', '.join(services)} in project {project} (it needs serviceusage.services.enable, "
                "or ask an admin to enable them and set overrides.gcp.enable_apis: false)")
    deadline = time.monotonic() + ENABLE_TIMEOUT_S
    while not op.get("done"):
        if time.monotonic() > deadline:
            raise ApiError(f"enabling {', '.join(services)} did not finish within {ENABLE_TIMEOUT_S:.0f}s "
                           f"(operation {op.get('name')}); run mlfn up again")
        time.sleep(POLL_S)
        op = _check(s.get(f"{SERVICE_USAGE}/{op['name']}"), f"waiting for operation {op.get('name')}")
    if op.get("error"):
        raise ApiError(f"enabling {', '.join(services)} failed: {op['error'].get('message', op['error'])}")


def ensure(project: str, services: list[str]) -> list[str]:
    """Enable those of ``services`` that are off; return them."""
    s = session()
    missing = sorted(set(services) - enabled(s, project, sorted(services)))
    if missing:
        enable(s, project, missing)
    return missing


class ApisProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        missing = ensure(props["project"], list(props["services"]))
        return CreateResult(id_=f"{props['project']}/apis", outs={**props, "enabled_now": missing})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = olds.get("project") != news.get("project") or sorted(olds.get("services") or []) != sorted(
            news.get("services") or [])
        return DiffResult(changes=changed, replaces=[], delete_before_replace=False)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        missing = ensure(news["project"], list(news["services"]))
        return UpdateResult(outs={**news, "enabled_now": missing})

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        """APIs stay on: other things in the project may use them."""


class EnabledApis(pulumi.dynamic.Resource):
    """The Google APIs a deployment needs, on in its project."""

    def __init__(self, name: str, project: Any, services: list[str], opts: pulumi.ResourceOptions | None = None):
        super().__init__(ApisProvider(), name, {"project": project, "services": sorted(services)}, opts)
