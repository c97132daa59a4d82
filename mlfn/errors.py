"""Exceptions raised by mlfn.

::

    MlfnError                      every error mlfn raises on purpose
    ├── ConfigError                a file the user wrote is wrong (mlfn.yaml, a stack file)
    │   ├── SpecError              mlfn.yaml
    │   └── StackError             stacks/<name>.yaml, --stack, --cloud
    ├── CheckError                 an adapter cannot honour the description on its target
    ├── CatalogError               no machine on a cloud satisfies compute:
    ├── AdapterNotInstalled        the stack's cloud has no installed adapter
    ├── AdapterConflict            two adapters claim the same cloud name
    ├── EngineError                a deployment engine failed (Pulumi, the local engine)
    │   └── PulumiCliMissing       the `pulumi` CLI is not on PATH
    ├── LogsUnsupported            the stack's cloud reports no logs (the CLI exits 2)
    └── InvokeError                a request to a deployed endpoint failed

The CLI prints ``str(error)`` of any MlfnError and exits 1; nothing else is caught.
"""

from __future__ import annotations


class MlfnError(Exception):
    """Base class of every error mlfn raises on purpose."""


class ConfigError(MlfnError):
    """A file the user wrote is wrong; the message names file, field and fix."""


class SpecError(ConfigError):
    """mlfn.yaml is wrong."""


class StackError(ConfigError):
    """A stack file, --stack or --cloud is wrong."""


class CheckError(MlfnError):
    """An adapter's check() found things its target cannot honour."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("\n".join(f"- {p}" for p in self.problems))


class CatalogError(MlfnError):
    """No machine on a cloud satisfies the requested compute."""


class AdapterNotInstalled(MlfnError):
    """The cloud named by a stack has no installed adapter."""


class AdapterConflict(MlfnError):
    """Two adapters register the same cloud name."""


class EngineError(MlfnError):
    """A deployment engine failed."""


class PulumiCliMissing(EngineError):
    """The pulumi CLI is not installed."""


class InvokeError(MlfnError):
    """A request to a deployed endpoint failed."""

    def __init__(self, message: str, status: int | None = None, body: str = ""):
        self.status = status
        self.body = body
        super().__init__(message)


class LogsUnsupported(MlfnError):
    """The stack's cloud reports no logs: say where to look instead (the CLI exits 2)."""
