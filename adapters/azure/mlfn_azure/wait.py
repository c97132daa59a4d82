"""A Pulumi dynamic provider that waits: what uses a fresh role assignment depends on it.

Azure role assignments take a while to reach every service ("up to 10 minutes", usually one or
two: learn.microsoft.com/azure/role-based-access-control/troubleshooting), and a pull that runs
first fails the deployment. The wait runs again whenever the grants it follows are replaced.
"""

from __future__ import annotations

import time
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ResourceProvider, UpdateResult


def sleep(seconds: float) -> None:
    """Tests replace it."""
    time.sleep(seconds)


class WaitProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        sleep(props["seconds"])
        return CreateResult(id_="wait", outs=props)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        return DiffResult(changes=olds.get("after") != news.get("after"))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        sleep(news["seconds"])
        return UpdateResult(outs=news)


class Wait(pulumi.dynamic.Resource):
    def __init__(self, name: str, seconds: float, after: list[Any] | None = None,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__(WaitProvider(), name, {"seconds": seconds, "after": after or []}, opts)
