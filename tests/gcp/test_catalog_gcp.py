import pytest
from mlfn_gcp.conventions import CATALOG, cloudrun_size

from mlfn.errors import CatalogError
from mlfn.spec import ComputeSection


def c(**kw) -> ComputeSection:
    return ComputeSection.model_validate(kw)


@pytest.mark.parametrize(
    ("compute", "expected"),
    [(c(cpu=4, memory="16Gi", gpu={"type": "l4"}), "g2-standard-4"), (c(cpu=2, memory="4Gi"), "e2-standard-2")],
)
def test_pick_smallest_machine(compute, expected):
    assert CATALOG.pick("vertex", compute).name == expected


def test_vertex_accelerator_names():
    m = CATALOG.pick("vertex", c(cpu=4, memory="8Gi", gpu={"type": "t4"}))
    assert m.accelerator == "NVIDIA_TESLA_T4"


def test_gpu_a_cloud_lacks():
    with pytest.raises(CatalogError, match=r"vertex offers no a10g GPU: compute\.gpu\.type may be a100, h100, l4, t4"):
        CATALOG.pick("vertex", c(gpu={"type": "a10g"}))


@pytest.mark.parametrize(
    ("compute", "region", "message"),
    [
        (c(cpu=2, memory="8Gi", gpu={"type": "l4"}), "us-central1", "needs compute.cpu of at least 4"),
        (c(cpu=4, memory="8Gi", gpu={"type": "l4"}), "us-central1", "needs compute.memory of at least 16Gi"),
        (c(cpu=4, memory="16Gi", gpu={"type": "l4", "count": 2}), "us-central1", "1 GPU per instance"),
        (c(cpu=4, memory="16Gi", gpu={"type": "l4"}), "us-west2", "region us-west2 offers no Cloud Run GPUs"),
        (c(cpu=4, memory="16Gi", gpu={"type": "t4"}), "us-central1", "Cloud Run offers no t4 GPU"),
        (c(cpu=16, memory="8Gi"), "us-central1", "over Cloud Run's 8 vCPU"),
        (c(cpu=2, memory="64Gi"), "us-central1", "over Cloud Run's 32Gi"),
    ],
)
def test_cloudrun_rules_reject_bad_values(compute, region, message):
    with pytest.raises(CatalogError, match=message):
        cloudrun_size(compute, region)


def test_cloudrun_gpu_ok():
    size = cloudrun_size(c(cpu=4, memory="16Gi", gpu={"type": "l4"}), "europe-west4")
    assert (size.accelerator, size.gpus, size.cpu, size.memory) == ("nvidia-l4", 1, "4", "16384Mi")


