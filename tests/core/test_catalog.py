import pytest

from mlfn import catalog
from mlfn.errors import CatalogError
from mlfn.spec import ComputeSection


def c(**kw) -> ComputeSection:
    return ComputeSection.model_validate(kw)


def test_every_family_has_a_source_and_valid_rows():
    for family in catalog.FAMILIES:
        assert catalog.source(family).startswith("https://")
        rows = catalog.machines(family)
        assert rows and all(m.source == catalog.source(family) for m in rows)
        assert len({m.name for m in rows}) == len(rows)


@pytest.mark.parametrize(
    ("family", "compute", "expected"),
    [
        ("sagemaker", c(cpu=2, memory="4Gi"), "ml.c5.large"),
        ("sagemaker", c(cpu=2, memory="6Gi"), "ml.m5.large"),
        ("sagemaker", c(cpu=4, memory="16Gi", gpu={"type": "t4"}), "ml.g4dn.xlarge"),
        ("sagemaker", c(cpu=4, memory="16Gi", gpu={"type": "a10g", "count": 4}), "ml.g5.12xlarge"),
        ("vertex", c(cpu=4, memory="16Gi", gpu={"type": "l4"}), "g2-standard-4"),
        ("vertex", c(cpu=2, memory="4Gi"), "e2-standard-2"),
        ("azureml", c(cpu=4, memory="16Gi", gpu={"type": "t4"}), "Standard_NC4as_T4_v3"),
        ("azureml", c(cpu=2, memory="4Gi"), "Standard_F2s_v2"),
    ],
)
def test_pick_smallest_machine(family, compute, expected):
    assert catalog.pick(family, compute).name == expected


def test_vertex_accelerator_names():
    m = catalog.pick("vertex", c(cpu=4, memory="8Gi", gpu={"type": "t4"}))
    assert m.accelerator == "NVIDIA_TESLA_T4"


def test_unsatisfiable_lists_nearest():
    with pytest.raises(CatalogError, match=r"no sagemaker machine has 192 vCPU, 4000Gi.*nearest: ml\."):
        catalog.pick("sagemaker", c(cpu=192, memory="4000Gi"))


def test_gpu_a_cloud_lacks():
    with pytest.raises(CatalogError, match=r"vertex offers no a10g GPU: compute\.gpu\.type may be a100, h100, l4, t4"):
        catalog.pick("vertex", c(gpu={"type": "a10g"}))


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
        catalog.cloudrun(compute, region)


def test_cloudrun_gpu_ok():
    size = catalog.cloudrun(c(cpu=4, memory="16Gi", gpu={"type": "l4"}), "europe-west4")
    assert (size.accelerator, size.gpus, size.cpu, size.memory) == ("nvidia-l4", 1, "4", "16384Mi")


def test_containerapps_sizes():
    assert catalog.containerapps(c(cpu=1, memory="2Gi")).memory == "2Gi"
    assert catalog.containerapps(c(cpu=0.3, memory="1Gi")).cpu == 0.5
    gpu = catalog.containerapps(c(cpu=4, memory="16Gi", gpu={"type": "t4"}))
    assert gpu.workload_profile == "Consumption-GPU-NC8as-T4"
    with pytest.raises(CatalogError, match="one GPU per replica"):
        catalog.containerapps(c(gpu={"type": "t4", "count": 2}))
    with pytest.raises(CatalogError, match="stops at 4 vCPU"):
        catalog.containerapps(c(cpu=8, memory="16Gi"))


def test_kubernetes_resources():
    r = catalog.kubernetes(c(cpu=2, memory="4Gi", gpu={"type": "a100", "count": 2}))
    assert r == {"requests": {"cpu": "2", "memory": "4096Mi"},
                 "limits": {"memory": "4096Mi", "nvidia.com/gpu": "2"}}
