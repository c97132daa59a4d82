"""init, status, logs, and what `up` prints for the local engine."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated

import typer

from .. import api
from ..scaffold import INIT_FORMATS
from ..scaffold import init as scaffold
from . import CloudOpt, JsonOpt, LocalOpt, ProjectOpt, StackOpt, app, out, print_json, user_errors

SAMPLE = '{"instances": [[5.1, 3.5, 1.4, 0.2]]}'


def print_local_up(result, project, as_json: bool) -> None:
    o = result.outputs
    if as_json:
        print_json({"action": result.action, "url": o["url"], "pid": o["pid"], "port": o["port"], "log": o["logs"],
                    "notes": list(result.notes)})
        return
    # The notes went to stderr as progress while up ran: not again here.
    verb = {"unchanged": "already running", "replaced": "replaced", "recovered": "started",
            "started": "started"}[result.action]
    out.print(f"{project.spec.name} {verb}: {o['url']} (pid {o['pid']})", markup=False)
    where = "" if project.dir == Path.cwd() else f" --project {shlex.quote(str(project.dir))}"
    stack = "" if project.stack.name == "local" else f" --stack {project.stack.name}"
    out.print(f"  mlfn invoke{where}{stack} --data '{SAMPLE}'", markup=False)
    auth = f" -H 'authorization: Bearer {o['api_key']}'" if o.get("api_key") else ""
    out.print(f"  curl -s {o['url']}/invocations -H 'content-type: application/json'{auth} -d '{SAMPLE}'",
              markup=False)
    out.print(f"  logs: mlfn logs{where}{stack}   stop: mlfn destroy{where}{stack}", markup=False)


def print_container_up(result, project, as_json: bool) -> None:
    """What ``up --local`` prints: the URL of the stack's container, and how to reach it."""
    o = result.outputs
    if as_json:
        print_json({"action": result.action, "url": o["url"], "container": o["container"], "image": o["image"],
                    "port": o["port"], "target": o["target"], "notes": list(result.notes)})
        return
    verb = {"unchanged": "already running", "replaced": "replaced", "recovered": "started",
            "started": "started"}[result.action]
    out.print(f"{project.spec.name} {verb}: {o['url']} (container {o['container']}, target {o['target']}, "
              f"image {o['image']})", markup=False)
    where = "" if project.dir == Path.cwd() else f" --project {shlex.quote(str(project.dir))}"
    flags = f"{where} --stack {project.stack.name} --local"
    out.print(f"  mlfn invoke{flags} --data '{SAMPLE}'", markup=False)
    out.print(f"  logs: mlfn logs{flags}   status: mlfn status{flags}   stop: mlfn destroy{flags}", markup=False)


@app.command()
@user_errors
def init(directory: Annotated[Path, typer.Argument(help="Project directory (created if missing).")] = Path("."),
         format: Annotated[str | None, typer.Option(
             "--format", help=" | ".join(INIT_FORMATS) + " (default sklearn; --from-model: from the file)")] = None,
         name: Annotated[str | None, typer.Option(help="Deployment name (default: the directory's).")] = None,
         from_model: Annotated[Path | None, typer.Option(
             "--from-model", help="Your own model file or folder in DIR: write the project around it.")] = None,
         force: Annotated[bool, typer.Option(
             "--force", help="In a folder that is not empty, add only the files that are missing.")] = False,
         json: JsonOpt = False,
         ) -> None:
    """Scaffold a runnable project: mlfn.yaml, a model, stacks for local and every cloud. Never replaces a file."""
    r = scaffold(directory, format, name, force=force, from_model=from_model)
    where = "" if r.directory.resolve() == Path.cwd() else f" --project {shlex.quote(str(r.directory))}"
    if json:
        print_json({"directory": str(r.directory), "files": list(r.files), "kept": list(r.kept),
                    "servable": r.servable, "message": r.message})
    else:
        out.print(r.message, markup=False)
        for f in r.files:
            out.print(f"  {f}", markup=False)
        for f in r.kept:
            out.print(f"  {f} (kept: it was there)", markup=False)
        if r.servable:
            out.print(f"next: mlfn up{where}", markup=False)
    if not r.servable:
        raise typer.Exit(1)


@app.command()
@user_errors
def status(project: ProjectOpt = Path("."), stack: StackOpt = None, cloud: CloudOpt = None,
           local: LocalOpt = False, json: JsonOpt = False) -> None:
    """Is it running? URL, pid, uptime, model."""
    st = api.status(project, stack, cloud, local=local)
    s = st.to_dict()
    if json:
        print_json(s)
        return
    if st.running is False:
        out.print(f"stack {st.stack}: not running (mlfn up{' --local' if local else ''} starts it)", markup=False)
        if "container" in s:
            out.print(f"  the recorded container {s['container']} is {s.get('state', 'gone')}; see "
                      f"{s.get('logs', 'docker ps -a')}", markup=False)
            raise typer.Exit(1)
        if "pid" in s:
            out.print(f"  the recorded server (pid {s['pid']}) has died; see {s['log']}", markup=False)
        raise typer.Exit(1 if "pid" in s else 0)
    for key, value in s.items():
        if key == "ready_note":
            continue
        if key == "ready" and value is None and "ready_note" in s:
            value = s["ready_note"]  # e.g. a function's container: running, and nothing more can be told
        out.print(f"{key}: {value}", markup=False)


def parse_since(text: str):
    """``10m``, ``2h``, ``1d``, ``30s`` ago, or an ISO time (local time when it names no zone)."""
    import re
    from datetime import datetime, timedelta

    from ..errors import MlfnError

    m = re.fullmatch(r"(\d+(?:\.\d+)?)([smhd])", text.strip())
    if m:
        seconds = float(m[1]) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[m[2]]
        return datetime.now() - timedelta(seconds=seconds)
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        raise MlfnError(f"--since {text!r}: use a duration (30s, 10m, 2h, 1d) or a time (2026-11-27T08:00)") from None


def since_filter(lines, since) -> list[str]:
    """The lines logged at or after ``since``: JSON lines by their ``time``; a line with no time of
    its own (a traceback's continuation) goes with the line before it."""
    import json
    from datetime import datetime

    kept: list[str] = []
    keep = False
    for line in lines:
        stamp = None
        if line.startswith("{"):
            try:
                value = json.loads(line).get("time")
                stamp = datetime.strptime(str(value)[:19], "%Y-%m-%d %H:%M:%S") if value else None
            except (ValueError, AttributeError):
                stamp = None
        if stamp is not None:
            if since.tzinfo is not None:
                since = since.astimezone().replace(tzinfo=None)
            keep = stamp >= since
        if keep:
            kept.append(line)
    return kept


@app.command()
@user_errors
def logs(project: ProjectOpt = Path("."), stack: StackOpt = None, cloud: CloudOpt = None,
         lines: Annotated[int, typer.Option("--lines", "-n", help="How many recent lines.")] = 50,
         follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines.")] = False,
         since: Annotated[str | None, typer.Option(
             "--since", help="Only lines from the last 10m, 2h, 1d, or since a time (2026-11-27T08:00).")] = None,
         local: LocalOpt = False, json: JsonOpt = False,
         ) -> None:
    """Where the logs are, and the recent lines."""
    info = api.logs(project, stack, cloud, lines, local=local)
    shown = info.lines if since is None else since_filter(info.lines, parse_since(since))
    if json:
        print_json({"where": info.where, "link": info.link, "lines": list(shown)})
        return
    for line in shown:
        out.print(line, markup=False)
    if not shown:
        out.print(f"(no log lines{' in that time' if since else ' yet'}) {info.where}", markup=False)
    if info.link:
        out.print(info.link, markup=False)
    if not follow:
        return
    lines_iter = api.follow_logs(project, stack, cloud, local=local)
    try:
        for line in lines_iter:
            out.print(line, markup=False)
    except KeyboardInterrupt:
        return
