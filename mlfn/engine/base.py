"""One ``Engine`` interface, two implementations: the local engine (``cloud: local``: the runtime
as a process on this machine) and the Pulumi engine (every cloud). Both return the same typed
results, and the API picks the engine once per command (``engine_for``), never in each verb.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ..adapter import InvokeResponse, LogsInfo
    from ..project import Project


@dataclass(frozen=True)
class EngineOptions:
    """How to run an engine: one options object, not a keyword per setting."""

    #: Any Pulumi backend URL; default: ``file://<project>/.mlfn/state``.
    backend: str | None = None
    #: Called with one line per step, for progress.
    on_progress: Callable[[str], None] | None = None
    #: local: serve on this port (an error if busy).
    port: int | None = None
    #: --local: build the image on this base (the Dockerfiles' BASE_IMAGE) instead of the official one.
    base_image: str | None = None

    def say(self, line: str) -> None:
        if self.on_progress is not None:
            self.on_progress(line)


@dataclass(frozen=True)
class UpResult:
    """What ``up`` did."""

    stack: str
    #: started | replaced | unchanged | recovered (local), updated (Pulumi).
    action: str
    outputs: dict[str, Any] = field(default_factory=dict)
    #: Resource changes by kind (``{"create": 3}``).
    changes: dict[str, int] = field(default_factory=dict)
    #: Other clouds' deployments of the same stack file that still run (``prod-aws`` beside ``prod-gcp``).
    others: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def url(self) -> str | None:
        return self.outputs.get("url")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "others": list(self.others), "notes": list(self.notes)}


@dataclass(frozen=True)
class PreviewResult:
    stack: str
    changes: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DestroyResult:
    stack: str
    destroyed: bool
    message: str
    changes: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Status:
    """Is it running, and where."""

    stack: str
    cloud: str
    target: str | None
    #: None where the engine cannot tell without asking the cloud.
    running: bool | None
    ready: bool | None = None
    url: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in asdict(self).items() if k != "details"}
        return {**data, **self.details}


class Engine(Protocol):
    """What every engine does for a resolved ``Project``."""

    name: str

    def preview(self, project: Project, options: EngineOptions) -> PreviewResult: ...

    def up(self, project: Project, options: EngineOptions) -> UpResult: ...

    def destroy(self, project: Project, options: EngineOptions) -> DestroyResult: ...

    def outputs(self, project: Project, options: EngineOptions, reveal: bool = False) -> dict[str, Any]: ...

    def invoke(self, project: Project, options: EngineOptions, body: bytes, content_type: str) -> InvokeResponse: ...

    def status(self, project: Project, options: EngineOptions) -> Status: ...

    def logs(self, project: Project, options: EngineOptions, lines: int = 50) -> LogsInfo: ...

    def follow(self, project: Project, options: EngineOptions, poll_s: float = 2.0) -> Iterator[str]:
        """New log lines as they come (the caller stops by closing the iterator or Ctrl-C)."""
        ...


def engine_for(project: Project, local: bool = False) -> Engine:
    """The one place that picks an engine: local for ``cloud: local``, the container engine for a
    cloud stack's image run on this machine (``--local``), Pulumi otherwise."""
    if local:
        from .container import ContainerEngine

        return ContainerEngine()
    if project.is_local:
        from .local import LocalEngine

        return LocalEngine()
    from .pulumi_engine import PulumiEngine

    return PulumiEngine()
