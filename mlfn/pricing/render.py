"""Plain-text renderings of an estimate and a comparison (the CLI prints these)."""

from __future__ import annotations

from .api import Comparison
from .estimate import Estimate


def _usd(v: float | None) -> str:
    if v is None:
        return "unknown"
    return f"${v:,.2f}" if v >= 0.01 or v == 0 else f"${v:.2g}"


def _price(v: float) -> str:
    text = f"{v:.7f}".rstrip("0").rstrip(".")
    return f"${text}"


def _qty(v: float) -> str:
    return f"{v:,.0f}" if v >= 100 else f"{v:,.4g}"


def render_estimate(e: Estimate) -> str:
    lines = [f"{e.cloud}/{e.target} in {e.region or '(no region)'}"
             + (f", {e.machine}" if e.machine else "") + (f", GPU {e.gpu}" if e.gpu else "")
             + (", scales to zero" if e.scale_to_zero else ", always on"),
             f"traffic: {e.traffic.describe()}",
             "",
             f"  {'dimension':<46} {'quantity/month':>15}  {'unit price':>26}  {'USD/month':>10}"]
    for c in e.charges:
        price = "unknown" if c.unit_price is None else f"{_price(c.unit_price)}/{c.unit or '?'}"
        lines.append(f"  {c.what:<46} {_qty(c.quantity):>15}  {price:>26}  {_usd(c.monthly):>10}")
    lines.append(f"  {'total':<46} {'':>15}  {'':>26}  {_usd(e.monthly):>10}")
    if e.monthly is None and e.known_usd:
        lines.append(f"  {'(the priced lines alone)':<46} {'':>15}  {'':>26}  {_usd(e.known_usd):>10}")
    if e.unknown:
        lines.append("")
        lines += [f"unknown: {u}" for u in e.unknown]
    if e.free_tiers:
        lines.append("")
        lines.append("free tiers (per account, not per deployment; not taken off the total):")
        lines += [f"  {f.dimension}: would use {_qty(f.quantity)} of the {_qty(f.grant)} {f.unit} free each month, "
                  f"worth {_usd(f.usd)}" for f in e.free_tiers]
    if e.assumptions:
        lines.append("")
        lines.append("assumptions:")
        lines += [f"  - {a}" for a in e.assumptions]
    if e.sources:
        lines.append("")
        lines.append("prices from:")
        lines += [f"  {s.url} (recorded {s.as_of}" + (f"; read from {s.read_from}" if s.read_from else "") + ")"
                  for s in e.sources]
    return "\n".join(lines) + "\n"


def render_comparison(c: Comparison) -> str:
    head = f"traffic: {c.traffic.describe()}"
    rows = [("#", "cloud/target", "region", "machine", "GPU", "to zero", "USD/month", "note")]
    n = 0
    for o in c.options:
        e = o.estimate
        if e is None:
            continue
        n += 1 if e.monthly is not None else 0
        note = ""
        if e.monthly is None:
            note = e.unknown[0] if e.unknown else "a price is unknown"
            if e.known_usd:
                note += f"; the priced part alone is {_usd(e.known_usd)}"
        elif e.free_tier_usd:
            note = f"free tiers could cover {_usd(e.free_tier_usd)}"
        rows.append((str(n) if e.monthly is not None else "-", f"{o.cloud}/{o.target}", e.region or "-",
                     e.machine or "-", e.gpu or "-", "yes" if e.scale_to_zero else "no", _usd(e.monthly), note))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    lines = [head, ""]
    for r in rows:
        cells = [r[i].rjust(widths[i]) if i in (0, 6) else r[i].ljust(widths[i]) for i in range(len(widths))]
        lines.append("  ".join(cells) + ("  " + r[-1] if r[-1] else ""))
    rejected = [o for o in c.options if o.estimate is None]
    if rejected:
        lines.append("")
        lines.append("cannot run this spec:")
        for o in rejected:
            lines.append(f"  {o.cloud}/{o.target}: {o.reason}")
    if c.cheapest is not None:
        lines.append("")
        lines.append(f"cheapest that fits: {c.cheapest.cloud}/{c.cheapest.target} at {_usd(c.cheapest.monthly)}/month"
                     " (mlfn cost --stack S shows the breakdown, assumptions and sources)")
    return "\n".join(lines) + "\n"
