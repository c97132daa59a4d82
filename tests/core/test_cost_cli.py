"""`mlfn cost` and `mlfn compare` end to end over the installed adapters (offline plans)."""

from __future__ import annotations

import json

import pytest
from helpers import EXAMPLES
from typer.testing import CliRunner

import mlfn
from mlfn.cli import app

runner = CliRunner()
IRIS = EXAMPLES / "iris-sklearn"


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_compare_prints_a_ranked_table_over_every_installed_target():
    r = run("compare", "--project", IRIS, "--traffic", "1000000/month")
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0] == "traffic: 1,000,000 requests/month (0.381/s), 100 ms per request, 4 KB per request"
    ranked = [line for line in lines if line[:1].isdigit()]
    # Hand-computed from the price rows: Cloud Run 100,000 vCPU-s x $0.000024 + 200,000 GiB-s x
    # $0.0000025 + 1M requests x $0.40/M = $3.30; Lambda 200,000 GB-s x $0.0000166667 + $0.20 = $3.53.
    assert [row.split()[:2] for row in ranked] == [["1", "gcp/cloudrun"], ["2", "aws/lambda"]]
    assert "$3.30" in ranked[0] and "$3.53" in ranked[1]
    for target in ("aws/sagemaker ", "aws/sagemaker-serverless", "azure/containerapps", "kubernetes/kserve"):
        row = next(line for line in lines if target in line)
        assert "unknown" in row and "$0.00" not in row
    assert "  gcp/vertex: Vertex AI endpoints keep at least one replica" in r.stdout
    assert "  azure/azureml: Azure ML online endpoints keep at least one instance" in r.stdout
    assert "cheapest that fits: gcp/cloudrun at $3.30/month" in r.stdout


def test_compare_json_and_the_function_agree():
    c = mlfn.compare(IRIS, "1000000/month")
    assert c.cheapest is not None and (c.cheapest.cloud, c.cheapest.target) == ("gcp", "cloudrun")
    # 1M x 100 ms of 1 vCPU / 2 GiB ($3.30), plus the instance's one start a month (2 s, assumed)
    assert c.cheapest.monthly == pytest.approx(3.30 + 2 * (0.000024 + 2 * 0.0000025))
    rejected = {(o.cloud, o.target) for o in c.options if o.estimate is None}
    assert rejected == {("gcp", "vertex"), ("azure", "azureml")}
    assert all(o.estimate.scale_to_zero for o in c.priced)
    assert json.loads(json.dumps(c.to_dict()))["options"][0]["estimate"]["monthly_usd"] == pytest.approx(
        c.cheapest.monthly)


def test_cost_of_one_stack_shows_breakdown_free_tiers_assumptions_and_sources():
    r = run("cost", "--project", IRIS, "--stack", "gcp", "--traffic", "20/s@8h", "--latency", "50ms")
    assert r.exit_code == 0, r.output
    out = r.stdout
    assert out.startswith("gcp/cloudrun in us-central1, 1 vCPU, 2 GiB, scales to zero\n")
    assert "free tiers (per account, not per deployment; not taken off the total):" in out
    assert "https://cloud.google.com/run/pricing (recorded 2026-11-27; read from the page as stored" in out
    assert "mean latency" not in out  # given, so not an assumption
    e = json.loads(run("cost", "--project", IRIS, "--stack", "gcp", "--traffic", "20/s@8h", "--latency", "50ms",
                       "--json").stdout)
    requests = 20 * 3600 * 8 * 730 / 24
    assert e["traffic"]["requests_per_month"] == pytest.approx(requests)
    cpu = next(c for c in e["charges"] if c["dimension"] == "request-cpu")
    # 50 ms bills 100 ms (Cloud Run rounds up), but 1 request in flight on average keeps the one
    # instance busy all 8 traffic hours (876,000 s caps it); it starts each traffic day (2 s assumed).
    billable = 8 * 3600 * 730 / 24 + 730 / 24 * 2
    assert cpu["quantity"] == pytest.approx(billable) and cpu["unit"] == "vcpu-second"
    assert cpu["recorded"] and all(s["recorded"] for s in e["sources"])  # the date the price is as of
    assert e["monthly_usd"] == pytest.approx(billable * (0.000024 + 2 * 0.0000025) + requests / 1e6 * 0.4)


def test_cost_unknown_is_said_plainly_and_kubernetes_takes_a_node_price():
    r = run("cost", "--project", IRIS, "--stack", "kubernetes")
    assert r.exit_code == 0 and "unknown: the cluster's nodes are yours" in r.stdout
    r = run("cost", "--project", IRIS, "--stack", "kubernetes", "--set", "node_hourly_price=0.192",
            "--set", "node_cpu=4", "--set", "node_memory_gib=16", "--json")
    e = json.loads(r.stdout)
    # The deployment keeps one pod (1 vCPU, 2 GiB: a quarter of a 4 vCPU node) all month.
    assert e["monthly_usd"] == pytest.approx(730 * 0.192 * 0.25)


def test_cost_errors():
    r = run("cost", "--project", IRIS)
    assert r.exit_code == 1 and "cloud local" in r.output
    r = run("cost", "--project", IRIS, "--stack", "gcp", "--traffic", "lots")
    assert r.exit_code == 1 and "is not COUNT/PERIOD" in r.output
    r = run("cost", "--project", IRIS, "--stack", "gcp", "--set", "oops")
    assert r.exit_code == 1 and "NAME=VALUE" in r.output
