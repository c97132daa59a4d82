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
    help="Requests: COUNT/PERIOD[@HOURSh], e.g. 1000000/month, 3M/month, 20/s, 20/s@8h (8 hours a day).")]
LatencyOpt = Annotated[str | None, typer.Option(
    "--latency", help="Mean latency per request, e.g. 120ms (default: 100ms, stated as an assumption).")]
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
