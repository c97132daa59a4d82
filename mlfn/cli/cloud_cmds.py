"""validate, plan, preview, up, destroy, outputs, invoke, targets, schema, doctor."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from .. import api
from ..errors import MlfnError
from ..spec import json_schema_text
from . import (
    BackendOpt,
    BaseImageOpt,
    CloudOpt,
    JsonOpt,
    LocalOpt,
    ProjectOpt,
    StackOpt,
    abort,
    app,
    out,
    print_json,
    progress,
    user_errors,
)


def _interactive() -> bool:
    """Whether a person can answer a question (stdin is a terminal)."""
    return sys.stdin.isatty()


def _target_line(stack) -> str:
    if stack.target is None:
        return f"stack {stack.name}: cloud {stack.cloud}"
    how = " (default for scaling.min)" if stack.target_was_default else ""
    return f"stack {stack.name}: cloud {stack.cloud}, target {stack.target}{how}"


@app.command()
@user_errors
def validate(project: ProjectOpt = Path("."), stack: StackOpt = None, cloud: CloudOpt = None,
             json: JsonOpt = False) -> None:
    """Check mlfn.yaml, the stack file and the target's rules."""
    v = api.validate(project, stack, cloud)
    if json:
        print_json({"name": v.spec.name, "cloud": v.stack.cloud, "target": v.stack.target, "ok": True})
        return
    out.print(f"ok: {v.spec.name} is valid; {_target_line(v.stack)}", markup=False)
    for note in v.notes:
        out.print(f"note: {note}", markup=False)


@app.command()
@user_errors
def plan(project: ProjectOpt = Path("."), stack: StackOpt = None, cloud: CloudOpt = None,
         json: JsonOpt = False,
         wide: Annotated[bool, typer.Option("--wide", help="Cut no value short.")] = False) -> None:
    """Show what it costs and every resource and input, offline (Pulumi mocks: no CLI, no credentials)."""
    import json as _json
    import shutil

    from ..plan import render_tree

    p = api.plan(project, stack, cloud)
    if json:
        sys.stdout.write(_json.dumps({**p.to_dict(), "summary": p.summary}, indent=2) + "\n")
        return
    width = None if wide else shutil.get_terminal_size((120, 24)).columns
    out.print(render_tree(p, width=width), markup=False, end="")


@app.command()
@user_errors
def build(project: ProjectOpt = Path("."), stack: StackOpt = None, cloud: CloudOpt = None,
          base_image: BaseImageOpt = None, json: JsonOpt = False) -> None:
    """Build the image a stack's up would push, with the local Docker engine (linux/amd64)."""
    images = api.build(project, stack, cloud, base_image=base_image, on_progress=None if json else progress)
    if json:
        print_json([i.to_dict() for i in images])
        return
    for i in images:
        out.print(f"{i.tag}  {i.size_bytes / 2**20:.0f} MiB  {i.image_id}", markup=False)


@app.command()
@user_errors
def preview(project: ProjectOpt = Path("."), stack: StackOpt = None, cloud: CloudOpt = None,
            backend: BackendOpt = None, json: JsonOpt = False) -> None:
    """What `up` would change in the cloud (needs the pulumi CLI and credentials)."""
    r = api.preview(project, stack, cloud, backend, on_progress=None if json else progress)
    if json:
        print_json(r.to_dict())
        return
    out.print(f"{r.stack}: " + ", ".join(f"{k} {v}" for k, v in sorted(r.changes.items())), markup=False)


@app.command()
@user_errors
def up(project: ProjectOpt = Path("."), stack: StackOpt = None, cloud: CloudOpt = None,
       backend: BackendOpt = None,
       port: Annotated[int | None, typer.Option(help="local: serve on this port (error if busy).")] = None,
       local: LocalOpt = False, base_image: BaseImageOpt = None,
       json: JsonOpt = False) -> None:
    """Deploy: a local server for cloud local, the cloud's resources otherwise.

    --local: build the image this stack's up would push and run it here, as its target runs it."""
    p = api.load_project(project, stack, cloud)
    if not json:
        progress(_target_line(p.stack))
        for note in p.notes():
            progress(f"note: {note}")
    r = api.up(p, backend=backend, on_progress=None if json else progress, port=port, local=local,
               base_image=base_image)
    if local:
        from .local_cmds import print_container_up

        print_container_up(r, p, json)
        return
    if p.is_local:
        from .local_cmds import print_local_up

        print_local_up(r, p, json)
        return
    if json:
        print_json(r.to_dict())
        return
    for key, value in r.outputs.items():
        out.print(f"{key}: {value}", markup=False)
    for other in r.others:
        _, _, other_cloud = other.rpartition("-")
        out.print(
            f"note: {other} still runs; when you no longer need it: mlfn destroy --stack {p.stack.name} "
            f"--cloud {other_cloud}",
            markup=False,
        )


@app.command()
@user_errors
def destroy(project: ProjectOpt = Path("."), stack: StackOpt = None, cloud: CloudOpt = None,
            backend: BackendOpt = None, json: JsonOpt = False,
            yes: Annotated[bool, typer.Option("--yes", "-y", help="Destroy a cloud deployment unasked.")] = False,
            local: LocalOpt = False,
            ) -> None:
    """Remove the deployment (stop the local server or container, or delete the cloud resources)."""
    p = api.load_project(project, stack, cloud)
    if not p.is_local and not local and not yes:
        what = f"{p.stack.pulumi_stack} (every resource of {p.spec.name} on {p.cloud})"
        if not _interactive():
            raise abort(f"destroying {what} needs confirmation: run it on a terminal, or pass --yes", code=2)
        if not typer.confirm(f"destroy {what}?", default=False, err=True):
            raise abort("not destroyed", code=1)
    r = api.destroy(p, backend=backend, on_progress=None if json else progress, local=local)
    if json:
        print_json(r.to_dict())
        return
    out.print(r.message, markup=False)


@app.command()
@user_errors
def outputs(project: ProjectOpt = Path("."), stack: StackOpt = None, cloud: CloudOpt = None,
            backend: BackendOpt = None, local: LocalOpt = False, json: JsonOpt = False) -> None:
    """The deployment's outputs: URL, target, where the logs are."""
    o = api.outputs(project, stack, cloud, backend, local=local)
    if json:
        print_json(o)
        return
    for key, value in o.items():
        out.print(f"{key}: {value}", markup=False)


@app.command()
@user_errors
def invoke(project: ProjectOpt = Path("."), stack: StackOpt = None, cloud: CloudOpt = None,
           data: Annotated[str | None, typer.Option("--data", "-d", help="Request body.")] = None,
           file: Annotated[Path | None, typer.Option("--file", help="Read the body from a file.")] = None,
           content_type: Annotated[str, typer.Option("--content-type")] = "application/json",
           backend: BackendOpt = None, local: LocalOpt = False, json: JsonOpt = False) -> None:
    """Send one prediction request (body from --data, --file or stdin) and print the response."""
    if data is not None and file is not None:
        raise abort("pass --data or --file, not both")
    if data is not None:
        body = data.encode()
    elif file is not None:
        try:
            body = file.read_bytes()
        except OSError as e:
            raise abort(f"--file {file}: {e.strerror}") from None
    elif not sys.stdin.isatty():
        body = sys.stdin.buffer.read()
    else:
        raise abort("no request body: pass --data '{\"instances\": [[...]]}', --file F, or pipe it on stdin")
    r = api.invoke(project, body, content_type, stack, cloud, backend, local=local)
    text = r.body.decode(errors="replace")
    if json:
        import json as _json

        try:
            parsed = _json.loads(text)
        except ValueError:
            parsed = text
        print_json({"status": r.status, "body": parsed})
        if not r.ok:
            raise typer.Exit(1)
        return
    if not r.ok:
        raise abort(f"HTTP {r.status}: {_error_text(text)}")
    out.print(text, markup=False)


def _error_text(text: str) -> str:
    """The runtime's error body ({"error", "detail", "request_id"}) as one readable line."""
    import json as _json

    try:
        data = _json.loads(text)
    except ValueError:
        return text
    if not isinstance(data, dict) or not ("error" in data or "detail" in data):
        return text
    parts = [str(data["error"])] if data.get("error") else []
    if data.get("detail") and data.get("detail") != data.get("error"):
        parts.append(str(data["detail"]))
    if data.get("request_id"):
        parts.append(f"(request id {data['request_id']})")
    return " ".join(parts)


@app.command()
@user_errors
def targets(json: JsonOpt = False) -> None:
    """Installed clouds and their targets."""
    rows = api.targets()
    if json:
        print_json([r.__dict__ for r in rows])
        return
    for r in rows:
        if r.error:
            out.print(f"{r.cloud:<12} ({r.package}) unavailable: {r.error}", markup=False)
            continue
        default = (
            f"default: {r.scale_to_zero_target} when scaling.min is 0, else {r.managed_target}"
            if r.cloud != "local" else "this machine"
        )
        out.print(f"{r.cloud:<12} {', '.join(r.targets):<44} {default}", markup=False)


@app.command()
def schema() -> None:
    """Print the JSON Schema of mlfn.yaml (for editor completion)."""
    sys.stdout.write(json_schema_text())


@app.command()
def doctor(project: ProjectOpt = Path("."), json: JsonOpt = False) -> None:
    """Check what this machine has: pulumi CLI, Docker, credentials per installed cloud.

    Only the clouds the project's stacks use can fail; the others are shown as warnings."""
    try:
        checks = api.doctor(project=project)
    except MlfnError as e:
        raise abort(str(e)) from None
    if json:
        print_json([c.__dict__ for c in checks])
    else:
        for c in checks:
            mark = "ok  " if c.ok else ("FAIL" if c.required else "warn")
            line = f"{mark} {c.name}: {c.detail}"
            if c.fix:
                line += f"\n     fix: {c.fix}"
            out.print(line, markup=False)
    if not all(c.ok or not c.required for c in checks):
        raise typer.Exit(1)
