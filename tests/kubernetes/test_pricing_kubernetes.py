"""Kubernetes: the cluster's nodes are the user's; a pod costs its share of a node, or "unknown"."""

from __future__ import annotations

import pytest
from helpers import example_project

import mlfn


def test_without_a_node_price_the_cost_is_unknown_never_zero(tmp_path):
    project = example_project(tmp_path, ("kubernetes-deployment",))
    e = mlfn.cost(project, stack="kubernetes-deployment")
    assert e.monthly is None and "node_hourly_price" in e.unknown[0]
    assert "or name its type: --set node_type=" in e.unknown[0]  # the node table is the other way


def test_a_gpu_pod_costs_its_gpu_share_of_the_node_while_it_runs(tmp_path):
    """KServe GPU pod: 4 vCPU, 16 GiB, 1 T4 on a 4-GPU, 48 vCPU, 192 GiB node at $3.912/h: the GPU
    share (1/4) is the largest, so a pod-hour costs $0.978. At 20/s x 200 ms for 8 h a day, 4 requests
    in flight fit one pod (8 each): 8 h x 730/24 days = 243.33 pod-hours -> $237.98; scale to zero
    outside those hours."""
    project = example_project(tmp_path, ("kubernetes-kserve-gpu",))
    inputs = {"node_hourly_price": 3.912, "node_cpu": 48, "node_memory_gib": 192, "node_gpus": 4}
    e = mlfn.cost(project, stack="kubernetes-kserve-gpu", traffic="20/s@8h", latency="200ms", inputs=inputs)
    assert e.scale_to_zero and e.monthly == pytest.approx(8 * 730 / 24 * 3.912 / 4)
    no_gpus = {k: v for k, v in inputs.items() if k != "node_gpus"}
    assert mlfn.cost(project, stack="kubernetes-kserve-gpu", inputs=no_gpus).monthly is None


# -- a named node type priced from the VM table --------------------------------------------------
# adapters/kubernetes/mlfn_kubernetes/prices.yaml: AKS node types (Azure VM sizes) with their vCPUs,
# memory and GPUs and the Linux pay-as-you-go VM price per region, from the same public records of
# the Azure Retail Prices API as the Azure adapter's rows (SkyPilot's catalog for eastus/westus2,
# the westeurope record of 2026-08-20).

def test_a_named_aks_node_type_is_priced_from_the_vm_table(tmp_path):
    """Deployment pod 1 vCPU / 2 GiB on Standard_DS2_v2 (2 vCPU, 7 GiB, $0.146/h in eastus): the CPU
    share (1/2) is the largest, so a pod-hour costs $0.073; 1M requests/month need one pod, all
    month: 730 pod-hours -> $53.29."""
    project = example_project(tmp_path, ("kubernetes-deployment",))
    inputs = {"node_type": "Standard_DS2_v2", "node_region": "eastus"}
    e = mlfn.cost(project, stack="kubernetes-deployment", traffic="1000000/month", inputs=inputs)
    share = e.charges[0]
    assert share.quantity == pytest.approx(730) and share.unit_price == pytest.approx(0.073)
    assert e.monthly == pytest.approx(53.29)
    assert "skypilot-catalog" in share.source.url and "Standard_DS2_v2" in share.what
    assert any("allocatable" in a for a in e.assumptions)


def test_a_gpu_pod_on_a_named_gpu_node_type_costs_its_gpu_share(tmp_path):
    """KServe pod 4 vCPU / 16 GiB / 1 T4 on Standard_NC64as_T4_v3 (64 vCPU, 440 GiB, 4 T4) in
    westeurope at $5.44/h: the GPU share (1/4) is the largest -> $1.36 a pod-hour; 20/s x 200 ms for
    8 h a day fits one pod: 243.33 pod-hours -> $330.93."""
    project = example_project(tmp_path, ("kubernetes-kserve-gpu",))
    inputs = {"node_type": "Standard_NC64as_T4_v3", "node_region": "westeurope"}
    e = mlfn.cost(project, stack="kubernetes-kserve-gpu", traffic="20/s@8h", latency="200ms", inputs=inputs)
    assert e.monthly == pytest.approx(8 * 730 / 24 * 5.44 / 4)
    assert "andy-diericks/azure-pricing-radar" in e.charges[0].source.url


def test_a_node_type_without_a_price_row_says_unknown_and_what_to_pass(tmp_path):
    project = example_project(tmp_path, ("kubernetes-deployment",))

    def unknown(**inputs):
        e = mlfn.cost(project, stack="kubernetes-deployment", inputs=inputs)
        assert e.monthly is None and "$0.00" not in e.summary()
        return " ".join(e.unknown)

    assert "--set node_region=" in unknown(node_type="Standard_DS2_v2")
    assert "eastus, westeurope, westus2" in unknown(node_type="Standard_DS2_v2")
    assert "no price row for node type Standard_DS2_v2 in japaneast" in unknown(
        node_type="Standard_DS2_v2", node_region="japaneast")
    missing = unknown(node_type="m5.xlarge", node_region="us-east-1")
    assert "m5.xlarge is not in the node table" in missing and "node_hourly_price" in missing


def test_the_node_table_has_sources_shapes_and_plausible_units(tmp_path):
    from mlfn_kubernetes.pricing import NODES, PRICING

    from mlfn.catalog import Machine
    from mlfn.pricing import PriceBook
    from mlfn.pricing.prices import per_vcpu_hour_problems

    assert PRICING.book.problems() == []
    machines = [Machine(name, s["cpu"], s["memory"], gpus=s.get("gpus", 0)) for name, s in NODES.items()]
    assert per_vcpu_hour_problems(PRICING.book, "nodes", "instance", machines) == []
    priced = {r.key for r in PRICING.book.rows()}
    assert priced == set(NODES)
    bad = tmp_path / "prices.yaml"
    bad.write_text(PRICING.book.path.read_text().replace("Standard_DS2_v2: 0.146", "Standard_DS2_v2: 0.0000406"))
    assert per_vcpu_hour_problems(PriceBook(bad), "nodes", "instance", machines)
