"""The ``mlfn`` command line: thin commands over :mod:`mlfn.api`.

User errors (any :class:`mlfn.MlfnError`) print one message and exit 1, never a traceback.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from ..errors import CheckError, LogsUnsupported, MlfnError

app = typer.Typer(
    name="mlfn",
    help="Deploy a trained ML model to any cloud from one portable description.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

ProjectOpt = Annotated[Path, typer.Option("--project", "-p", help="Project directory (holds mlfn.yaml).")]
StackOpt = Annotated[str | None, typer.Option("--stack", "-s", help="Stack name (stacks/NAME.yaml) or path.")]
CloudOpt = Annotated[str | None, typer.Option("--cloud", help="Use this cloud instead of the stack's, for one run.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
LocalOpt = Annotated[bool, typer.Option(
    "--local", help="The stack's own image as a container on this machine (Docker), not the cloud.")]
BaseImageOpt = Annotated[str | None, typer.Option(
    "--base-image", help="Build on this base instead of the official python image (BASE_IMAGE).")]
BackendOpt = Annotated[str | None, typer.Option("--backend", help="Pulumi backend URL (default: .mlfn/state).")]


def abort(message: str, code: int = 1) -> typer.Exit:
    err.print(f"error: {message}", markup=False)
    return typer.Exit(code)


def user_errors(fn):
    """Turn MlfnError into one clear message on stderr and exit code 1 (2 where the verb cannot
    apply); under --json the message is a JSON object ``{"error": ..., "exit_code": ...}``."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        as_json = bool(kwargs.get("json"))
        try:
            return fn(*args, **kwargs)
        except CheckError as e:
            message, code = "this deployment cannot run as described:\n" + str(e), 1
        except LogsUnsupported as e:
            message, code = str(e), 2
        except MlfnError as e:
            message, code = str(e), 1
        if as_json:
            sys.stderr.write(json.dumps({"error": message, "exit_code": code}) + "\n")
            raise typer.Exit(code)
        raise abort(message, code)

    return wrapper


def _version(value: bool) -> None:
    if value:
        from .. import __version__

        out.print(f"mlfn {__version__}", markup=False)
        raise typer.Exit(0)


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                 help="Print the version and exit.")] = False) -> None:
    """Deploy a trained ML model to any cloud from one portable description."""


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def progress(line: str) -> None:
    err.print(line, markup=False)


from . import cloud_cmds, local_cmds  # noqa: E402,F401 - registers the commands


def main() -> None:
    app()


from . import cost_cmds  # noqa: E402,F401 - registers cost, compare and catalog
