"""mlfn: deploy a trained ML model to any cloud from one portable description.

Every CLI verb is a function here; ``Deployment`` is the Pulumi component for host programs.
Importing ``mlfn`` does not import Pulumi: ``Deployment`` loads it on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .adapter import (
    Adapter,
    CompileContext,
    CompileResult,
    InvokeResponse,
    Location,
    LogsInfo,
    Outputs,
    Overrides,
    Target,
)
from .api import (
    build,
    destroy,
    doctor,
    follow_logs,
    invoke,
    logs,
    outputs,
    plan,
    preview,
    status,
    targets,
    up,
    validate,
)
from .errors import (
    AdapterConflict,
    AdapterNotInstalled,
    CatalogError,
    CheckError,
    ConfigError,
    EngineError,
    InvokeError,
    MlfnError,
    PulumiCliMissing,
    SpecError,
    StackError,
)
from .pricing import Comparison, Estimate, compare, cost
from .project import Project, load_project
from .spec import Spec, load_spec
from .stack import Stack

if TYPE_CHECKING:
    from .component import Deployment

__version__ = "0.1.0"

__all__ = [
    "Adapter",
    "AdapterConflict",
    "AdapterNotInstalled",
    "CatalogError",
    "CheckError",
    "Comparison",
    "CompileContext",
    "CompileResult",
    "ConfigError",
    "Deployment",
    "EngineError",
    "Estimate",
    "InvokeError",
    "InvokeResponse",
    "Location",
    "LogsInfo",
    "MlfnError",
    "Outputs",
    "Overrides",
    "Project",
    "PulumiCliMissing",
    "Spec",
    "SpecError",
    "Stack",
    "StackError",
    "Target",
    "build",
    "compare",
    "cost",
    "destroy",
    "doctor",
    "follow_logs",
    "invoke",
    "load_project",
    "load_spec",
    "logs",
    "outputs",
    "plan",
    "preview",
    "status",
    "targets",
    "up",
    "validate",
]


def __getattr__(name: str) -> Any:
    if name == "Deployment":
        from .component import Deployment

        return Deployment
    raise AttributeError(f"module 'mlfn' has no attribute {name!r}")
