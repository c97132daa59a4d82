"""Azure price rows and per-target arithmetic: no unit price was sourced, so every total is unknown."""

from __future__ import annotations

import pytest
from helpers import example_project
from mlfn_azure.pricing import PRICING

import mlfn


def test_the_rows_have_sources_dates_and_plausible_units():
    assert PRICING.book.problems() == []


def test_container_apps_charges_active_idle_and_requests_and_says_unknown(tmp_path):
    project = example_project(tmp_path, ())
    e = mlfn.cost(project, stack="azure", traffic="1000000/month")
    assert e.monthly is None and e.scale_to_zero and e.region == "eastus"
    assert [c.dimension for c in e.charges] == ["active-vcpu", "active-memory", "idle-vcpu", "idle-memory",
                                                "requests"]
    active = e.charges[0]
    assert active.quantity == pytest.approx(100_000) and active.monthly is None  # 1M x 0.1 s x 1 vCPU
    assert "$0.00" not in e.summary()


def test_gpu_profiles_and_managed_endpoints_price_what_the_plan_resolved(tmp_path):
    project = example_project(tmp_path, ("azure-containerapps-gpu", "azure-azureml-gpu"))
    gpu = mlfn.cost(project, stack="azure-containerapps-gpu", traffic="5/s")
    assert gpu.gpu == "1x t4" and gpu.machine.startswith("Consumption-GPU-NC8as-T4")
    assert any(c.dimension == "gpu" for c in gpu.charges)
    ml = mlfn.cost(project, stack="azure-azureml-gpu")
    assert (ml.machine, ml.gpu, ml.monthly) == ("Standard_NC4as_T4_v3", "1x t4", None)
    assert next(c for c in ml.charges if c.dimension == "instance").quantity == pytest.approx(730)


def test_the_retail_prices_parser_keeps_linux_on_demand_vm_skus_and_container_apps_meters():
    """Fixture: the documented response shape (see its _comment); a Windows Spot item is never a row."""
    import json
    from pathlib import Path

    from mlfn.pricing.refresh import Row

    page = json.loads((Path(__file__).parent / "fixtures" / "retail-prices.json").read_text())
    rows = PRICING.refresh.parse(page)
    assert rows == [Row("azureml", "instance", "eastus", 0.5, "Standard_NC4as_T4_v3"),
                    Row("containerapps", "active-vcpu", "eastus", pytest.approx(0.00002)),
                    Row("containerapps", "requests", "eastus", 0.3)]


@pytest.mark.cloud
def test_live_refresh_reads_the_retail_prices_api():
    import os

    if os.environ.get("MLFN_LIVE_TESTS") != "1":
        pytest.skip("live price API test: set MLFN_LIVE_TESTS=1 (calls prices.azure.com)")
    from mlfn.pricing.refresh import refresh

    r = refresh(PRICING, regions=["eastus"])
    assert any(c.startswith("azureml.instance eastus") for c in r.changes)


def test_container_apps_in_westus2_bills_active_and_idle_seconds(tmp_path):
    """Hand-computed from the westus2 rows: 1M requests of 100 ms a month arrive every 2.6 s, so one
    1 vCPU / 2 GiB replica stays up all month (2,628,000 s): active 100,000 s (vCPU $3.40, memory
    $0.80), idle 2,528,000 s (vCPU $10.112, memory $20.224), requests $0.40: $34.936."""
    stack = "cloud: azure\ntarget: containerapps\nlocation: westus2\nresource_group: rg\n"
    project = example_project(tmp_path, (), stack)
    e = mlfn.cost(project, stack="t", traffic="1000000/month")
    assert e.monthly == pytest.approx(34.936)
    assert [round(c.monthly, 3) for c in e.charges] == [3.4, 0.8, 10.112, 20.224, 0.4]
    assert e.free_tier_usd == pytest.approx(100_000 * 0.000034 + 200_000 * 0.000004 + 0.4)
