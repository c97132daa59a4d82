"""Kubernetes: the cluster's nodes are the user's; a pod costs its share of a node, or "unknown"."""

from __future__ import annotations

import pytest
from helpers import example_project

import mlfn


def test_without_a_node_price_the_cost_is_unknown_never_zero(tmp_path):
    project = example_project(tmp_path, ("kubernetes-deployment",))
    e = mlfn.cost(project, stack="kubernetes-deployment")
    assert e.monthly is None and "node_hourly_price" in e.unknown[0]


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
