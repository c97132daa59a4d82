"""The adapter interface: what a cloud plug-in implements.

A new cloud is a copy of ``adapters/_template`` with four things filled in: the class
attributes below, ``check``, ``compile`` and ``invoke``. Optional abilities are flags whose
default says plainly that the ability is not there (``supports_logs = False``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    import pulumi

    from .spec import Spec
    from .stack import ResolvedStack


@dataclass(frozen=True)
class LocationSetting:
    """A stack-file location field an adapter reads (``region``, ``project``...)."""

    env: tuple[str, ...] = ()
    required: bool = True
    default: str | None = None


@dataclass
class CompileContext:
    """What ``Adapter.compile`` gets: the description, the stack and the parent component."""

    name: str
    spec: Spec
    stack: ResolvedStack
    project_dir: Path
    parent: pulumi.ComponentResource

    @property
    def target(self) -> str:
        assert self.stack.target is not None
        return self.stack.target

    @property
    def overrides(self) -> dict[str, Any]:
        return self.stack.overrides

    def child(self, suffix: str) -> str:
        """The logical name of a child resource: ``<deployment>-<suffix>``."""
        return f"{self.name}-{suffix}"

    def opts(self, **kwargs: Any) -> pulumi.ResourceOptions:
        """ResourceOptions with ``parent`` set, so host-program providers apply to children."""
        import pulumi

        return pulumi.ResourceOptions(parent=self.parent, **kwargs)

    def model_path(self) -> Path | None:
        """The model on this machine, or None when model.uri is remote."""
        if self.spec.model.is_remote:
            return None
        return (self.project_dir / self.spec.model.uri).resolve()


@dataclass
class CompileResult:
    """What ``compile`` returns; the component turns these into its typed outputs."""

    url: Any
    logs: Any
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class InvokeResponse:
    status: int
    body: bytes
    content_type: str = "application/json"

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass(frozen=True)
class LogsInfo:
    """Where a deployment's logs are, and the recent lines where a client library allows."""

    where: str
    link: str | None = None
    lines: tuple[str, ...] = ()


class Adapter(ABC):
    """Compiles a portable description into one cloud's Pulumi resources."""

    #: The cloud name used in stack files (``cloud: aws``) and the entry point name.
    name: ClassVar[str]
    #: The distribution that provides this adapter, for install hints.
    package: ClassVar[str] = ""
    #: Targets inside the cloud, e.g. ``("sagemaker", "sagemaker-serverless", "lambda")``.
    targets: ClassVar[tuple[str, ...]]
    #: The default-target rule's choices: ``scaling.min: 0`` picks the first, ``min >= 1`` the second.
    scale_to_zero_target: ClassVar[str]
    managed_target: ClassVar[str]
    #: Stack-file location fields this cloud reads, with their environment fallbacks.
    location: ClassVar[Mapping[str, LocationSetting]] = {}
    #: What the offline plan answers for the provider functions (invokes) ``compile`` calls, by
    #: token, e.g. ``{"aws:index/getCallerIdentity:getCallerIdentity": {"accountId": "123456789012"}}``.
    #: Tokens not listed get ``{"id", "arn", "name"}`` placeholders.
    plan_calls: ClassVar[Mapping[str, Mapping[str, Any]]] = {}
    #: Optional abilities.
    supports_logs: ClassVar[bool] = False
    supports_status: ClassVar[bool] = False

    def check(self, spec: Spec, stack: ResolvedStack) -> list[str]:
        """Portable rules this target cannot honour, each saying what to change. Empty: fine."""
        return []

    def notes(self, spec: Spec, stack: ResolvedStack) -> list[str]:
        """Things the user should know about how the target honours the description (not errors),
        e.g. "reachable only inside the environment's network". Printed by validate, plan and up."""
        return []

    @abstractmethod
    def compile(self, ctx: CompileContext) -> CompileResult:
        """Create the Pulumi resources as children of ``ctx.parent`` (use ``ctx.opts()``)."""

    @abstractmethod
    def invoke(
        self, outputs: Mapping[str, Any], stack: ResolvedStack, body: bytes, content_type: str
    ) -> InvokeResponse:
        """Sign and send one prediction request to a deployed endpoint."""

    def logs(self, outputs: Mapping[str, Any], stack: ResolvedStack, lines: int = 50,
             spec: Spec | None = None) -> LogsInfo:
        """Where the logs are; only called when ``supports_logs`` is True.

        After a failed first ``up`` there are no outputs yet: ``spec`` lets the adapter say where
        the logs of this deployment go all the same."""
        raise NotImplementedError(f"cloud {self.name} does not report logs")

    def status(self, outputs: Mapping[str, Any], stack: ResolvedStack) -> dict[str, Any]:
        """The endpoint's state; only called when ``supports_status`` is True."""
        raise NotImplementedError(f"cloud {self.name} does not report status")


def post(url: str, body: bytes, headers: Mapping[str, str], timeout: float = 120) -> InvokeResponse:
    """POST one request to an endpoint; the same for every adapter and the local engine."""
    import httpx

    from .errors import InvokeError

    try:
        r = httpx.post(url, content=body, headers=dict(headers), timeout=timeout)
    except httpx.TransportError as e:
        raise InvokeError(f"{url} did not answer: {e}") from e
    return InvokeResponse(r.status_code, r.content, r.headers.get("content-type", ""))


def unknown_overrides(cloud: str, overrides: Mapping[str, Any], known: Mapping[str, str]) -> list[str]:
    """A problem naming the settings of ``overrides.<cloud>`` that the adapter does not know."""
    unknown = sorted(set(overrides) - set(known))
    if not unknown:
        return []
    return [f"overrides.{cloud}: {', '.join(unknown)} is not a setting (settings: {', '.join(sorted(known))})"]
