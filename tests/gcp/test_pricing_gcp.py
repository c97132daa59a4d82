"""Google Cloud price rows and per-target arithmetic."""

from __future__ import annotations

import pytest
from helpers import example_project, price_book, priced_comparisons
from mlfn_gcp.conventions import CATALOG
from mlfn_gcp.pricing import PRICING

import mlfn
from mlfn.pricing import PriceBook
from mlfn.pricing.prices import dearer_picks
from mlfn.spec import ComputeSection


def test_the_rows_have_sources_dates_and_plausible_units():
    assert PRICING.book.problems() == []
    for region in ("us-central1", "europe-west1", "asia-northeast1"):
        assert PRICING.book.rate("cloudrun", "request-cpu", region) is not None


def test_cloud_run_request_based_billing(tmp_path):
    """Hand-computed from https://cloud.google.com/run/pricing (Tier 1, request-based billing):
    10M requests of 200 ms on 1 vCPU / 2 GiB, 8 concurrent per instance, are 0.76 requests in flight:
    one instance, busy 10M x 0.2 s = 2,000,000 s, plus its start and shutdown (billed, see the
    startup test below): traffic around the clock keeps it up, so it starts once a month, at the
    assumed 2 s. 2,000,002 vCPU-s x $0.000024 = $48.00005, 4,000,004 GiB-s x $0.0000025 = $10.00001,
    10 x $0.40 = $4.00: $62.00006, of which the billing account's free tier (180,000 vCPU-s, 360,000 GiB-s, 2M requests)
    could cover $4.32 + $0.90 + $0.80 = $6.02."""
    project = example_project(tmp_path, ())
    e = mlfn.cost(project, stack="gcp", traffic="10M/month", latency="200ms")
    assert (e.machine, e.region, e.scale_to_zero) == ("1 vCPU, 2 GiB", "us-central1", True)
    billable = 2_000_000 + 2
    assert e.monthly == pytest.approx(billable * 0.000024 + 2 * billable * 0.0000025 + 4.00)
    assert e.free_tier_usd == pytest.approx(6.02)
    assert any("request-based billing" in a for a in e.assumptions)


def test_cloud_run_gpu_bills_the_instance_and_is_unknown_without_a_gpu_row(tmp_path):
    project = example_project(tmp_path, ("gcp-cloudrun-gpu",))
    e = mlfn.cost(project, stack="gcp-cloudrun-gpu", traffic="20/s", latency="200ms")
    assert e.gpu == "1x nvidia-l4" and e.monthly is None
    dims = {c.dimension for c in e.charges}
    assert dims == {"instance-cpu", "instance-memory", "gpu"}  # no per-request fee with GPUs
    gpu = next(c for c in e.charges if c.dimension == "gpu")
    assert gpu.quantity == pytest.approx(730 * 3600) and gpu.monthly is None
    assert any("nvidia-l4-no-zonal-redundancy" in u for u in e.unknown)
    assert any("zonal redundancy off" in a for a in e.assumptions)


def test_vertex_prices_the_plans_machine_type_including_an_override(tmp_path):
    stack = ("cloud: gcp\ntarget: vertex\nproject: p\nregion: us-central1\nscaling: {min: 1, max: 2}\n"
             "overrides:\n  gcp:\n    machine_type: n1-standard-8\n")
    project = example_project(tmp_path, ("gcp-vertex-gpu",), stack)
    e = mlfn.cost(project, stack="t")
    assert e.machine == "n1-standard-8" and e.monthly is None and not e.scale_to_zero
    assert next(c for c in e.charges if c.dimension == "node").quantity == pytest.approx(730)
    gpu = mlfn.cost(project, stack="gcp-vertex-gpu")
    assert (gpu.machine, gpu.gpu) == ("g2-standard-4", "1x NVIDIA_L4")
    assert {c.dimension for c in gpu.charges} == {"node", "accelerator"}


def test_a_wrong_unit_in_a_row_is_caught(tmp_path):
    bad = tmp_path / "prices.yaml"
    bad.write_text(PRICING.book.path.read_text().replace("unit: vcpu-second", "unit: hour", 1))
    assert any("request-cpu" in p and "is the unit right?" in p for p in PriceBook(bad).problems())


def test_the_catalog_pick_is_never_dearer_than_another_machine_that_fits():
    computes = [ComputeSection.model_validate(c) for c in (
        {"cpu": 2, "memory": "4Gi"}, {"cpu": 4, "memory": "16Gi", "gpu": {"type": "l4"}},
        {"cpu": 4, "memory": "16Gi", "gpu": {"type": "h100"}})]
    assert dearer_picks(CATALOG, "vertex", PRICING.book, "vertex", "node", computes) == []
    # The shipped rows price only the A3 nodes, so the one real comparison is 1 H100: a3-highgpu-1g
    # ($1.36/h node) against a3-highgpu-8g ($10.88/h); the CPU and L4 picks compare nothing.
    compared = priced_comparisons(CATALOG, "vertex", PRICING.book, "vertex", "node", computes)
    assert compared == {("us-central1", "a3-highgpu-1g", "a3-highgpu-8g")}


def test_the_cpu_picks_are_the_cheapest_under_the_per_core_and_per_gib_rule(tmp_path):
    """No CPU machine has a Vertex row yet, so the rule the rows follow (a node-hour is vCPUs x the
    family's core SKU + GiB x its RAM SKU) is applied here to the fixture's E2 rates ($0.025 per
    vCPU-hour, $0.003 per GiB-hour, tests/gcp/fixtures/billing-catalog-vertex.json) and to made-up N1
    rates 10% dearer: e2-standard-2 = 2 x 0.025 + 8 x 0.003 = $0.074 beats n1-standard-2 =
    2 x 0.0275 + 7.5 x 0.0033 = $0.07975. With N1 made cheaper instead, the check reports the pick."""
    def node(cpu, gib, core, ram):
        return round(cpu * core + gib * ram, 6)

    computes = [ComputeSection.model_validate(c) for c in ({"cpu": 2, "memory": "4Gi"}, {"cpu": 4, "memory": "8Gi"})]
    e2 = {f"e2-standard-{n}": node(n, 4 * n, 0.025, 0.003) for n in (2, 4, 8, 16, 32)}
    n1 = {f"n1-standard-{n}": node(n, 3.75 * n, 0.0275, 0.0033) for n in (2,)}
    book = price_book(tmp_path, "vertex", "node", "us-central1", {**e2, **n1})
    assert dearer_picks(CATALOG, "vertex", book, "vertex", "node", computes) == []
    assert ("us-central1", "e2-standard-2", "n1-standard-2") in priced_comparisons(
        CATALOG, "vertex", book, "vertex", "node", computes)
    cheap_n1 = price_book(tmp_path, "vertex", "node", "us-central1", {**e2, "n1-standard-2": 0.05})
    assert dearer_picks(CATALOG, "vertex", cheap_n1, "vertex", "node", computes[:1]) == [
        "vertex in us-central1: for 2 vCPU/4Gi the catalog picks e2-standard-2 ($0.074) but n1-standard-2 "
        "satisfies it for $0.05"]


FIXTURES = __import__("pathlib").Path(__file__).parent / "fixtures"


def test_the_billing_catalog_parser_reads_cloud_run_skus_by_their_catalog_descriptions():
    """Fixture: the documented services.skus.list response of the Cloud Billing Catalog API,
    https://cloud.google.com/billing/v1/how-tos/catalog-api ("Get the list of SKUs for a service": skus
    of name, skuId, description, category {serviceDisplayName, resourceFamily, resourceGroup,
    usageType}, serviceRegions, pricingInfo [{effectiveTime, summary, pricingExpression {usageUnit,
    usageUnitDescription, baseUnit, baseUnitConversionFactor, displayQuantity, tieredRates
    [{startUsageAmount, unitPrice {currencyCode, units, nanos}}]}, aggregationInfo,
    currencyConversionRate}], serviceProviderName; nextPageToken). The page documents that shape with
    placeholders only, so every value is substituted:

    - descriptions: Cloud Run's own, verbatim from a recorded listing of the catalog (2026-04-23,
      code index file 54045611957), including "Services CPU Tier 2  (Request-based billing)" (two
      spaces) and "Services CPU (Instance-based billing) in in asia-northeast1" (its typo); "Jobs CPU in
      us-central1" must give no row. The GPU SKU's description was not found in any recording: it is
      modelled on the quota name "Total Nvidia L4 GPU allocation without zonal redundancy".
    - prices: us-central1 Tier 1 as recorded from the catalog (code index files 57695558359,
      2026-07-26, and 60446838168, 2026-08: $0.000024 per vCPU-second request-based, $0.0000025 min
      instance, instance-based $0.000018 and $0.000002, $0.40 per million requests, L4 without zonal
      redundancy $0.0001867 per second), Tier 2 CPU $0.0000336; free tiers (180,000 vCPU-s, 2 million
      requests, https://cloud.google.com/run/pricing) written as a tier priced 0 before the paid tier.
    - skuIds: "SUBSTITUTED-n"; usage units s, GiBy.s and count."""
    import json

    from mlfn.pricing.refresh import Row, apply_rows

    page = json.loads((FIXTURES / "billing-catalog-cloudrun.json").read_text())
    rows = PRICING.refresh.parse(page)
    by = {(r.dimension, r.region, r.key): (round(r.usd, 10), r.free) for r in rows}
    t1 = ("us-central1", "europe-west1", "asia-northeast1")
    assert by == {
        **{("request-cpu", r, None): (0.000024, 180000) for r in t1},
        ("request-cpu", "southamerica-east1", None): (0.0000336, None),
        **{("idle-min-memory", r, None): (0.0000025, None) for r in t1},
        ("instance-memory", "us-central1", None): (0.000002, None),
        ("instance-cpu", "asia-northeast1", None): (0.000018, None),
        ("requests", "us-central1", None): (0.4, 2),
        ("gpu", "us-central1", "nvidia-l4-no-zonal-redundancy"): (0.0001867, None),
    }
    assert len(rows) == len(by)  # jobs and committed-use SKUs give no row
    result = apply_rows(PRICING.book, [r for r in rows if r.dimension == "requests"], PRICING.refresh.source,
                        PRICING.refresh.url, "2026-12-01")
    assert result.changes == ["cloudrun.requests us-central1: source cloudrun-page -> gcp-billing-catalog"]
    assert Row("cloudrun", "gpu", "us-central1", 0.0001867, "nvidia-l4-no-zonal-redundancy") in [
        Row(r.target, r.dimension, r.region, round(r.usd, 10), r.key) for r in rows]


@pytest.mark.parametrize(("description", "found"), [
    ("Services Memory (Request-based billing)", ("request-memory", None)),
    ("Services Memory Tier 2 (Request-based billing)", ("request-memory", None)),
    ("Services Min Instance CPU (Request-based billing)", ("idle-min-cpu", None)),
    ("Services Min Instance CPU (Request-based)", ("idle-min-cpu", None)),
    ("Services Min Instance Memory Tier 2 (Request-based billing)", ("idle-min-memory", None)),
    ("Services CPU (Instance-based billing) in europe-west1", ("instance-cpu", None)),
    ("Services Nvidia L4 GPU with zonal redundancy in europe-west1", ("gpu", "nvidia-l4-zonal-redundancy")),
    ("Worker Pools CPU in us-central1", None),
    ("Jobs Memory in us-central1", None),
    ("CPU Allocation Time (request-based billing) tier 1", None),  # the old guess matches nothing real
])
def test_cloud_run_sku_descriptions_map_to_dimensions(description, found):
    """Descriptions from the recorded catalog listing (code index file 54045611957) and rate table
    (file 57695558359, which writes "(Request-based)")."""
    from mlfn_gcp.price_api import _cloud_run_row

    assert _cloud_run_row(" ".join(description.lower().split())) == found


@pytest.mark.cloud
def test_live_refresh_reads_the_billing_catalog():
    import os

    if os.environ.get("MLFN_LIVE_TESTS") != "1" or not os.environ.get("MLFN_GCP_BILLING_API_KEY"):
        pytest.skip("live price API test: set MLFN_LIVE_TESTS=1 and MLFN_GCP_BILLING_API_KEY")
    from mlfn.pricing.refresh import refresh

    assert refresh(PRICING).changes is not None


def test_cloud_run_gpu_in_us_central1_bills_cpu_memory_and_the_l4_for_the_instance_life(tmp_path):
    """Hand-computed from the us-central1 rows: one always-on instance (scaling.min 1) of 4 vCPU,
    16 GiB and one L4 without zonal redundancy: (4 x $0.000018 + 16 x $0.000002 + $0.0001867) per
    second x 2,628,000 s = $763.96 a month; no per-request fee."""
    def gpu_spec(text):
        return text.replace("cpu: 1\n  memory: 2Gi", "cpu: 4\n  memory: 16Gi\n  gpu: {type: l4}").replace(
            "min: 0 ", "min: 1 ")

    stack = "cloud: gcp\ntarget: cloudrun\nproject: p\nregion: us-central1\n"
    project = example_project(tmp_path, (), stack, spec_edit=gpu_spec)
    e = mlfn.cost(project, stack="t", traffic="20/s", latency="200ms")
    assert (e.gpu, e.scale_to_zero) == ("1x nvidia-l4", False)
    assert e.monthly == pytest.approx(2_628_000 * (4 * 0.000018 + 16 * 0.000002 + 0.0001867))
    assert {c.dimension for c in e.charges} == {"instance-cpu", "instance-memory", "gpu"}
    # Instance-based billing's own free tier, per billing account, shown apart (never taken off):
    # "CPU - First 240,000 vCPU-seconds free per month", "RAM - First 450,000 GiB-seconds free per month"
    # (https://cloud.google.com/run/pricing, instance-based table, as quoted in public records read
    # 2026-10-01); 240,000 x $0.000018 + 450,000 x $0.000002 = $5.22. No free GPU-seconds.
    assert e.free_tier_usd == pytest.approx(240_000 * 0.000018 + 450_000 * 0.000002)


def test_the_billing_catalog_parser_prices_vertex_machines_from_core_and_ram_skus():
    """Fixture: the same documented services.skus.list shape (see the Cloud Run test above) with the
    three Vertex AI prediction SKUs recorded from a Cloud Billing report in Iowa (2025-08-15, code index
    file 13115385303): "Vertex AI: Online/Batch Prediction A3 Predefined Instance Core running in Iowa"
    (A002-4323-D900) $0.0293227 per hour, "... A3 Predefined Instance Ram running in Iowa"
    (2424-9F04-82A8) $0.0025534 per GiB-hour, "... Nvidia H100 80gb GPU running in Iowa"
    (AE9C-DB60-DF46) $11.2660332 per hour; their other fields are substituted. A node-hour is vCPUs x
    the family's core rate + GiB x its RAM rate: a3-highgpu-8g (208 vCPU, 1872 GiB) = $10.8790864, the
    row in prices.yaml."""
    import json

    from mlfn.pricing.refresh import apply_rows

    page = json.loads((FIXTURES / "billing-catalog-vertex.json").read_text())
    rows = PRICING.refresh.parse(page)
    by = {(r.dimension, r.key): r.usd for r in rows}
    assert by[("node", "a3-highgpu-8g")] == pytest.approx(208 * 0.0293227 + 1872 * 0.0025534)
    assert by[("accelerator", "NVIDIA_H100_80GB")] == pytest.approx(11.2660332)
    # The catalog's other A3 machine is priced by the same per-core/per-GiB rule, as prices.yaml has it.
    assert by[("node", "a3-highgpu-1g")] == pytest.approx(26 * 0.0293227 + 234 * 0.0025534)
    assert by[("node", "a3-highgpu-1g")] == pytest.approx(
        PRICING.book.rate("vertex", "node", "us-central1", "a3-highgpu-1g").usd)
    assert set(by) == {("node", "a3-highgpu-8g"), ("node", "a3-highgpu-1g"),
                       ("accelerator", "NVIDIA_H100_80GB")}  # no G2 SKUs: no G2 rows
    result = apply_rows(PRICING.book, rows, PRICING.refresh.source, PRICING.refresh.url, "2026-12-01")
    assert not [c for c in result.changes if "->" in c and "source" not in c]  # the same prices as the rows


def test_cloud_run_minimum_instances_bill_idle_time_at_the_min_instance_rates(tmp_path):
    """Hand-computed from the us-central1 rows (Cloud Billing Catalog, verified 2026-07-26: Services Min
    Instance CPU and Memory (Request-based) $0.0000025 per vCPU-second and per GiB-second): one minimum
    instance of 1 vCPU / 2 GiB, 1M requests of 100 ms: busy 100,000 s -> $2.40 CPU + $0.50 memory +
    $0.40 requests; idle 2,628,000 - 100,000 = 2,528,000 s -> $6.32 CPU + $12.64 memory; $22.26."""
    stack = "cloud: gcp\ntarget: cloudrun\nproject: p\nregion: us-central1\nscaling: {min: 1, max: 2}\n"
    project = example_project(tmp_path, (), stack)
    e = mlfn.cost(project, stack="t", traffic="1000000/month", latency="100ms")
    assert not e.scale_to_zero and not e.unknown
    idle = {c.dimension: c for c in e.charges if c.dimension.startswith("idle-min")}
    assert idle["idle-min-cpu"].quantity == pytest.approx(2_528_000)
    assert idle["idle-min-memory"].monthly == pytest.approx(12.64)
    assert e.monthly == pytest.approx(22.26)


def test_vertex_h100_node_in_us_central1_is_priced_from_vertex_prediction_skus(tmp_path):
    """Vertex AI's own prediction SKUs in Iowa (us-central1), as recorded from Cloud Billing:
    "Online/Batch Prediction A3 Predefined Instance Core running in Iowa" $0.0293227 per vCPU-hour,
    "... A3 Predefined Instance Ram running in Iowa" $0.0025534 per GiB-hour, "... Nvidia H100 80gb GPU
    running in Iowa" $11.2660332 per GPU-hour (the recording's worked example: a3-highgpu-1g, 26 vCPU
    + 234 GiB + 1 GPU = $12.625919/h). a3-highgpu-8g is 208 vCPU and 1872 GiB with 8 GPUs: one node
    always on is 730 x (208 x 0.0293227 + 1872 x 0.0025534) + 730 x 8 x 11.2660332 a month."""
    node = 208 * 0.0293227 + 1872 * 0.0025534
    assert PRICING.book.rate("vertex", "node", "us-central1", "a3-highgpu-8g").usd == pytest.approx(node, abs=5e-5)
    stack = "cloud: gcp\ntarget: vertex\nproject: p\nregion: us-central1\nscaling: {min: 1, max: 1}\n"
    project = example_project(tmp_path, (), stack, spec_edit=lambda s: s.replace(
        "memory: 2Gi", "memory: 2Gi\n  gpu: {type: h100, count: 8}"))
    e = mlfn.cost(project, stack="t", traffic="1000000/month")
    assert (e.machine, e.gpu) == ("a3-highgpu-8g", "8x NVIDIA_H100_80GB") and not e.unknown
    assert e.monthly == pytest.approx(730 * (node + 8 * 11.2660332), rel=1e-5)


def test_one_h100_on_vertex_is_an_a3_highgpu_1g_node_priced_from_the_same_skus(tmp_path):
    """gpu: {type: h100} (one GPU) picks a3-highgpu-1g (26 vCPU, 234 GiB, 1 H100), not the 8-GPU node.
    Its price is the recording's own worked example for an a3-highgpu-1g online-prediction node in
    Iowa: 26 x $0.0293227 + 234 x $0.0025534 = $1.3598858 node + $11.2660332 GPU = $12.625919 an hour;
    always on, 730 x $12.625919 = $9,216.92 a month."""
    assert PRICING.book.rate("vertex", "node", "us-central1", "a3-highgpu-1g").usd == pytest.approx(
        26 * 0.0293227 + 234 * 0.0025534, abs=5e-8)
    stack = "cloud: gcp\ntarget: vertex\nproject: p\nregion: us-central1\nscaling: {min: 1, max: 1}\n"
    project = example_project(tmp_path, (), stack, spec_edit=lambda s: s.replace(
        "memory: 2Gi", "memory: 2Gi\n  gpu: {type: h100}"))
    e = mlfn.cost(project, stack="t", traffic="1000000/month")
    assert (e.machine, e.gpu) == ("a3-highgpu-1g", "1x NVIDIA_H100_80GB") and not e.unknown
    assert e.monthly == pytest.approx(730 * 12.625919, rel=1e-7)
    plan = mlfn.plan(project, stack="t")
    deployed = next(r.inputs for r in plan.resources if "machine_type" in r.inputs)
    assert (deployed["machine_type"], deployed["accelerator_count"]) == ("a3-highgpu-1g", 1)


# Cloud Run request-based billing, per Google's pages: "Cloud Run charges you only for the resources
# you use, rounded up to the nearest 100 millisecond" (https://cloud.google.com/run/pricing), and
# request-based instances "are only charged when they process requests, when they start, and when
# they shut down" (https://cloud.google.com/run/docs/configuring/billing-settings).

def test_cloud_run_rounds_each_requests_billable_time_up_to_100_ms(tmp_path):
    """1M requests of 120 ms a month (0.05 in flight: they do not overlap) bill 200 ms each:
    200,000 vCPU-s x $0.000024 = $4.80, 400,000 GiB-s x $0.0000025 = $1.00, requests $0.40: $6.20
    (unrounded, 120,000 s, it would be $3.88). Start-up time set to 0 here to isolate the rounding."""
    e = mlfn.cost(example_project(tmp_path, ()), stack="gcp", traffic="1000000/month", latency="120ms",
                  inputs={"instance_start_s": 0})
    cpu = next(c for c in e.charges if c.dimension == "request-cpu")
    assert cpu.quantity == pytest.approx(200_000)
    assert e.monthly == pytest.approx(6.20)
    assert any("rounded up to 100 ms" in a for a in e.assumptions)


def test_cloud_run_bills_instance_startup_and_shutdown(tmp_path):
    """1,000 requests a month of 100 ms arrive 2,628 s apart, more than the 15 minutes Cloud Run keeps
    an idle instance: every request starts one. With 3 s to start and shut down: 1,000 x (0.1 + 3) =
    3,100 vCPU-s x $0.000024 = $0.0744, 6,200 GiB-s x $0.0000025 = $0.0155, 0.001M requests x $0.40 =
    $0.0004: $0.0903."""
    project = example_project(tmp_path, ())
    e = mlfn.cost(project, stack="gcp", traffic="1000/month", latency="100ms", inputs={"instance_start_s": "3"})
    assert next(c for c in e.charges if c.dimension == "request-cpu").quantity == pytest.approx(3_100)
    assert e.monthly == pytest.approx(0.0903)
    assert any("1,000 instance starts" in a and "3 s" in a for a in e.assumptions)
    assumed = mlfn.cost(project, stack="gcp", traffic="1000/month", latency="100ms")
    assert next(c for c in assumed.charges if c.dimension == "request-cpu").quantity == pytest.approx(2_100)
    assert any("assumed 2 s" in a and "instance_start_s" in a for a in assumed.assumptions)
    assert not any("cold starts are not billed" in a for a in assumed.assumptions)


def test_cloud_run_start_time_must_be_a_number_of_seconds(tmp_path):
    with pytest.raises(mlfn.MlfnError, match="instance_start_s"):
        mlfn.cost(example_project(tmp_path, ()), stack="gcp", traffic="1000/month", inputs={"instance_start_s": "x"})


def test_cloud_run_instances_that_stop_outside_traffic_hours_start_once_a_traffic_day(tmp_path):
    """20/s for 8 h a day, 100 ms, 8 per instance: 2 requests in flight on average share one instance,
    busy through the 8 traffic hours (8 x 3600 x 730/24 = 876,000 s; the 1,752,000 request-seconds
    overlap), which scales in each night: 730/24 = 30.42 starts a month x 2 s = 60.83 s more."""
    e = mlfn.cost(example_project(tmp_path, ()), stack="gcp", traffic="20/s@8h", latency="100ms")
    cpu = next(c for c in e.charges if c.dimension == "request-cpu")
    assert cpu.quantity == pytest.approx(8 * 3600 * 730 / 24 + 730 / 24 * 2)
