"""cost, compare: what a deployment will cost, before anything is deployed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ..pricing import api as pricing_api
from ..pricing.render import render_comparison, render_estimate
from . import CloudOpt, JsonOpt, ProjectOpt, StackOpt, abort, app, out, print_json, progress, user_errors

TrafficOpt = Annotated[str, typer.Option(
    "--traffic", "-t",
    help="Requests: COUNT/PERIOD[@HOURSh][,peak=RATE[@HOURSh]], e.g. 1000000/month, 20/s, 20/s@8h (8 hours a day), "
         "20/s,peak=100/s@2h (a peak of 100/s for 2 hours a day).")]
LatencyOpt = Annotated[str | None, typer.Option(
    "--latency", help="Mean latency per request, e.g. 120ms (default: what a running local stack measured, else "
                 "100ms; either is stated as an assumption).")]
PayloadOpt = Annotated[str | None, typer.Option(
    "--payload", help="Bytes in and out per request, e.g. 4KB (default: 4KB, stated as an assumption).")]
SetOpt = Annotated[list[str] | None, typer.Option(
    "--set", help="A pricing input the cloud cannot tell, NAME=VALUE (e.g. node_hourly_price=0.19); repeatable.")]


def _inputs(values: list[str] | None) -> dict[str, Any]:
    out_: dict[str, Any] = {}
    for item in values or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise abort(f"--set {item!r}: write NAME=VALUE, e.g. node_hourly_price=0.19")
        try:
            out_[name.strip()] = float(value)
        except ValueError:
            out_[name.strip()] = value.strip()
    return out_


@app.command()
@user_errors
def cost(project: ProjectOpt = Path("."), stack: StackOpt = None, cloud: CloudOpt = None,
         traffic: TrafficOpt = pricing_api.DEFAULT_TRAFFIC, latency: LatencyOpt = None, payload: PayloadOpt = None,
         set_: SetOpt = None, json: JsonOpt = False) -> None:
    """The monthly estimate (USD) of a stack, offline: breakdown, free tiers, assumptions, sources."""
    e = pricing_api.cost(project, stack, cloud, traffic, latency, payload, _inputs(set_))
    if json:
        print_json(e.to_dict())
        return
    out.print(render_estimate(e), markup=False, end="")


@app.command()
@user_errors
def compare(project: ProjectOpt = Path("."), traffic: TrafficOpt = pricing_api.DEFAULT_TRAFFIC,
            stack: Annotated[str | None, typer.Option(
                "--stack", "-s", help="Take compute and scaling from this stack (default: mlfn.yaml's).")] = None,
            latency: LatencyOpt = None, payload: PayloadOpt = None, set_: SetOpt = None,
            json: JsonOpt = False) -> None:
    """Every installed cloud and target, planned offline and priced for the same traffic, cheapest first."""
    if not json:
        progress("planning every installed target offline...")
    c = pricing_api.compare(project, traffic, stack, latency, payload, _inputs(set_))
    if json:
        print_json(c.to_dict())
        return
    out.print(render_comparison(c), markup=False, end="")


catalog_app = typer.Typer(help="The compute and price catalogs.", no_args_is_help=True)
app.add_typer(catalog_app, name="catalog")


@catalog_app.command("refresh")
@user_errors
def catalog_refresh(
    cloud: Annotated[str, typer.Option("--cloud", help="The cloud whose price rows to rebuild.")],
    from_: Annotated[list[Path] | None, typer.Option(
        "--from", help="Saved API responses (JSON) to read instead of calling the price API.")] = None,
    region: Annotated[list[str] | None, typer.Option("--region", help="Regions to fetch (live only).")] = None,
    write: Annotated[bool, typer.Option("--write", help="Save the file (default: show the diff only).")] = False,
) -> None:
    """Rebuild a cloud's price rows from its public price API (or saved responses) and show the diff."""
    from ..pricing.refresh import load_response, refresh
    from ..registry import adapter_for

    pricing = getattr(adapter_for(cloud), "pricing", None)
    if pricing is None or pricing.refresh is None:
        raise abort(f"cloud {cloud} has no price API refresher")
    responses = [load_response(p) for p in from_] if from_ else None
    r = refresh(pricing, responses, region or (), write=write)
    for line in r.changes or ["no change"]:
        out.print(line, markup=False)
    for line in r.skipped:
        out.print(f"skipped: {line}", markup=False)
    for line in r.problems:  # --write refuses these (RefreshRefused); shown here before anyone writes
        out.print(f"problem: {line}", markup=False)
    if write:
        out.print(f"wrote {pricing.book.path}", markup=False)
