"""mlfn cost / mlfn compare machinery: the traffic grammar, estimates, unknown prices, unit checks.

No cloud is named here: the price rows are a small file written by each test."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

from mlfn.catalog import Machine
from mlfn.plan import Plan
from mlfn.pricing import (
    Estimate,
    PriceBook,
    Pricing,
    Traffic,
    TrafficError,
    busy_instance_seconds,
    cpus,
    gib,
    instance_hours,
    parse_traffic,
)
from mlfn.pricing.api import Comparison, Option
from mlfn.pricing.prices import per_vcpu_hour_problems
from mlfn.pricing.render import render_comparison, render_estimate
from mlfn.pricing.traffic import SECONDS_PER_MONTH, parse_latency, parse_payload
from mlfn.spec import ComputeSection, Spec

PRICES = """
sources:
  page: {url: https://example.com/pricing, recorded: "2026-08-27", checked: "2026-11-27"}
targets:
  boxes:
    instance:
      unit: hour
      source: page
      prices:
        region-1: {small: 0.10, big: 0.40}
    requests:
      unit: million-requests
      source: page
      free: 1
      prices: {region-1: 0.20}
"""


@pytest.fixture
def book(tmp_path):
    p = tmp_path / "prices.yaml"
    p.write_text(PRICES)
    return PriceBook(p)


def project(target="boxes", compute=None):
    spec = Spec.model_validate({"name": "m", "model": {"uri": "./model", "format": "sklearn"},
                                **({"compute": compute} if compute else {})})
    return SimpleNamespace(spec=spec, stack=SimpleNamespace(target=target, cloud="test", setting=lambda k: "region-1"))


def boxes(q):
    q.machine = "small"
    q.charge("instance", q.instance_hours(8, 1, 4), key="small")
    q.charge("requests", q.traffic.requests_per_month / 1e6)


# -- the traffic grammar ------------------------------------------------------------------------

def test_a_count_per_month_is_spread_over_the_month():
    t = parse_traffic("1000000/month")
    assert (t.requests_per_month, t.hours_per_day) == (1_000_000, 24)
    assert t.rate == pytest.approx(1_000_000 / SECONDS_PER_MONTH)
    assert parse_traffic("3M/month").requests_per_month == 3_000_000
    assert parse_traffic("2k/day").requests_per_month == pytest.approx(2000 * 730 / 24)


def test_a_rate_per_second_holds_during_the_traffic_hours():
    assert parse_traffic("20/s").requests_per_month == pytest.approx(20 * 3600 * 730)
    t = parse_traffic("20/s@8h")
    assert t.requests_per_month == pytest.approx(20 * 3600 * 8 * 730 / 24)
    assert t.rate == pytest.approx(20)
    assert t.idle_seconds == pytest.approx(16 * 3600 * 730 / 24)
    assert parse_traffic("1200/min").rate == pytest.approx(20)


@pytest.mark.parametrize("bad", ["", "1000000", "20/fortnight", "-5/s", "20/s@25h", "20/s@0h", "a/s", "20/s@8"])
def test_a_profile_off_the_grammar_is_an_error_with_examples(bad):
    with pytest.raises(TrafficError, match=r"1000000/month|hours per day"):
        parse_traffic(bad)


def test_latency_and_payload_units():
    assert parse_latency("120ms") == pytest.approx(0.12)
    assert parse_latency("1.5s") == 1.5
    assert parse_payload("4KB") == 4000 and parse_payload("1MiB") == 1024 * 1024
    with pytest.raises(TrafficError):
        parse_latency("fast")
    t = parse_traffic("20/s", latency="50ms", payload="1KB")
    assert t.latency_given and t.payload_given
    assert not any("assumption" in a for a in t.assumptions())
    assert any("--latency" in a for a in parse_traffic("20/s").assumptions())


def test_quantities():
    assert gib("16384Mi") == 16 and gib("56Gi") == 56 and gib(2) == 2
    assert cpus("500m") == 0.5 and cpus("4") == 4


# -- the arithmetic helpers ---------------------------------------------------------------------

def test_always_on_instances_bill_the_whole_month_and_add_replicas_for_traffic():
    quiet = parse_traffic("1000/month")
    assert instance_hours(quiet, 8, 1, 4)[0] == pytest.approx(730)
    busy = parse_traffic("100/s", latency=0.2)  # 20 in flight / 8 per replica -> 3 replicas
    assert instance_hours(busy, 8, 1, 4)[0] == pytest.approx(3 * 730)
    hours, notes = instance_hours(parse_traffic("1000/s", latency=0.2), 8, 1, 4)
    assert hours == pytest.approx(4 * 730) and "scaling.max" in notes[0]


def test_scale_to_zero_bills_only_traffic_hours_and_the_keep_warm_window():
    t = parse_traffic("100/s@8h", latency=0.2)
    assert instance_hours(t, 8, 0, 4)[0] == pytest.approx(3 * 8 * 730 / 24)
    sparse = parse_traffic("100/month", latency=1)
    assert instance_hours(sparse, 8, 0, 4, keep_warm_s=899)[0] == pytest.approx(100 * 900 / 3600)


def test_busy_seconds_are_shared_only_when_requests_overlap():
    assert busy_instance_seconds(parse_traffic("1000000/month"), 8) == pytest.approx(100_000)
    heavy = parse_traffic("1000/s", latency=1)  # 1000 in flight, 8 each: 125 replicas all month
    assert busy_instance_seconds(heavy, 8) == pytest.approx(125 * SECONDS_PER_MONTH)


# -- estimates: known, free tiers apart, unknown never $0 ---------------------------------------

def test_an_estimate_from_the_rows(book):
    pricing = Pricing(book, {"boxes": boxes}, region_of=lambda s: "region-1")
    e = pricing.estimate(project(), Plan("m", "test", "boxes"), parse_traffic("3M/month"))
    assert e.monthly == pytest.approx(730 * 0.10 + 3 * 0.20)
    assert [(f.dimension, f.quantity, round(f.usd, 2)) for f in e.free_tiers] == [("requests", 1, 0.2)]
    assert e.sources[0].url == "https://example.com/pricing" and e.sources[0].recorded == "2026-08-27"
    text = render_estimate(e)
    assert "$73.60" in text and "free tiers (per account" in text
    # The date a price is as of is when it was recorded, not when it was copied into the file.
    assert "https://example.com/pricing (recorded 2026-08-27)" in text and "2026-11-27" not in text
    assert e.to_dict()["monthly_usd"] == pytest.approx(73.6)


def test_a_machine_without_a_row_is_unknown_never_zero(book):
    def dear(q):
        q.charge("instance", 730, key="huge")
        q.charge("requests", 1)

    e = Pricing(book, {"boxes": dear}, region_of=lambda s: "region-1").estimate(
        project(), Plan("m", "test", "boxes"), parse_traffic("1000000/month"))
    assert e.monthly is None
    assert e.unknown == ("no price row for boxes instance (huge in region-1)",)
    assert e.known_usd == pytest.approx(0.20)  # a floor, shown apart, never the total
    assert "(the priced lines alone)" in render_estimate(e)
    assert "unknown" in e.summary() and "$0" not in render_estimate(e).split("total")[1].splitlines()[0]
    other_region = Pricing(book, {"boxes": boxes}, region_of=lambda s: "region-9").estimate(
        project(), Plan("m", "test", "boxes"), parse_traffic("1000000/month"))
    assert other_region.monthly is None


def test_a_target_without_pricing_is_unknown(book):
    e = Pricing(book, {}, region_of=lambda s: "region-1").estimate(
        project(), Plan("m", "test", "boxes"), parse_traffic("1/s"))
    assert e.monthly is None and "has no pricing" in e.unknown[0]


def test_compare_ranks_priced_then_unknown_then_rejected():
    t = parse_traffic("1/s")
    cheap = Estimate("a", "x", "r", t, unknown=())
    unknown = Estimate("b", "y", "r", t, unknown=("no price row",))
    from mlfn.pricing.api import _rank

    opts = sorted([Option("c", "z", reason="cannot"), Option("b", "y", unknown), Option("a", "x", cheap)], key=_rank)
    assert [o.cloud for o in opts] == ["a", "b", "c"]
    text = render_comparison(Comparison(t, tuple(opts)))
    assert "cannot run this spec:\n  c/z: cannot" in text and "cheapest that fits: a/x at $0.00" in text


# -- the rows themselves: units and plausibility ------------------------------------------------

def test_the_sample_rows_are_plausible(book):
    assert book.problems() == []


def test_a_per_hour_price_written_as_per_second_is_caught(tmp_path):
    p = tmp_path / "prices.yaml"
    p.write_text(PRICES.replace("unit: hour", "unit: second"))
    problems = PriceBook(p).problems()
    assert any("is the unit right?" in x and "big" in x for x in problems)


def test_a_per_second_price_written_as_per_hour_is_caught_by_the_vcpu_band(tmp_path):
    p = tmp_path / "prices.yaml"
    p.write_text(PRICES.replace("{small: 0.10, big: 0.40}", "{small: 0.0000278, big: 0.40}"))
    machines = [Machine("small", 2, 4), Machine("big", 8, 16)]
    problems = per_vcpu_hour_problems(PriceBook(p), "boxes", "instance", machines)
    assert len(problems) == 1 and "small" in problems[0]


def test_rows_need_a_source_a_date_and_a_known_unit(tmp_path):
    p = tmp_path / "prices.yaml"
    p.write_text(PRICES.replace('checked: "2026-11-27"', 'checked: ""').replace("unit: million-requests",
                                                                               "unit: per-request"))
    problems = PriceBook(p).problems()
    assert any("checked date" in x for x in problems) and any("per-request" in x for x in problems)


def test_a_source_says_when_its_numbers_were_recorded_and_where_they_were_read(tmp_path):
    """A bill of December 2023 transcribed today is as of 2023-12, and says it was read from the bill."""
    p = tmp_path / "prices.yaml"
    p.write_text(PRICES.replace('recorded: "2026-08-27", ', ""))
    assert any("source page: needs recorded" in x for x in PriceBook(p).problems())
    p.write_text(PRICES.replace('recorded: "2026-08-27"', 'recorded: "2026-12-01"'))
    assert any("recorded 2026-12-01 is after checked 2026-11-27" in x for x in PriceBook(p).problems())
    p.write_text(PRICES.replace('recorded: "2026-08-27"', 'recorded: "2023-12", read_from: https://github.com/o/r/bill.md'))
    book = PriceBook(p)
    assert book.problems() == []
    source = book.sources["page"]
    assert (source.as_of, source.read_from) == ("2023-12", "https://github.com/o/r/bill.md")
    assert str(source) == "https://example.com/pricing (recorded 2023-12)"


def test_traffic_requires_positive_latency():
    with pytest.raises(TrafficError):
        Traffic(10, latency_s=0)
    assert math.isclose(Traffic(10).busy_seconds, 1.0)
    assert ComputeSection().cpu > 0


def test_a_catalog_pick_dearer_than_another_fitting_machine_is_reported_unless_a_reason_is_given(tmp_path, book):
    from mlfn.catalog import Catalog
    from mlfn.pricing.prices import dearer_picks

    cat = tmp_path / "catalog.yaml"
    cat.write_text("boxes:\n  source: test\n  machines:\n    - {name: big, cpu: 8, memory: 16}\n"
                   "    - {name: small, cpu: 2, memory: 4}\n")
    computes = [ComputeSection.model_validate({"cpu": 1, "memory": "2Gi"})]
    problems = dearer_picks(Catalog(cat), "boxes", book, "boxes", "instance", computes)
    assert problems == ["boxes in region-1: for 1 vCPU/2Gi the catalog picks big ($0.4) but small satisfies it "
                        "for $0.1"]
    assert dearer_picks(Catalog(cat), "boxes", book, "boxes", "instance", computes,
                        reasons={"big": "small is retired"}) == []
