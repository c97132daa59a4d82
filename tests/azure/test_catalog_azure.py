import pytest
from mlfn_azure.conventions import CATALOG, containerapps_size

from mlfn.errors import CatalogError
from mlfn.spec import ComputeSection


def c(**kw) -> ComputeSection:
    return ComputeSection.model_validate(kw)


@pytest.mark.parametrize(
    ("compute", "expected"),
    [(c(cpu=4, memory="16Gi", gpu={"type": "t4"}), "Standard_NC4as_T4_v3"),
     (c(cpu=2, memory="4Gi"), "Standard_F2s_v2")],
)
def test_pick_smallest_machine(compute, expected):
    assert CATALOG.pick("azureml", compute).name == expected


def test_containerapps_sizes():
    assert containerapps_size(c(cpu=1, memory="2Gi")).memory == "2Gi"
    assert containerapps_size(c(cpu=0.3, memory="1Gi")).cpu == 0.5
    gpu = containerapps_size(c(cpu=4, memory="16Gi", gpu={"type": "t4"}))
    assert gpu.workload_profile == "Consumption-GPU-NC8as-T4"
    with pytest.raises(CatalogError, match="one GPU per replica"):
        containerapps_size(c(gpu={"type": "t4", "count": 2}))
    with pytest.raises(CatalogError, match="stops at 4 vCPU"):
        containerapps_size(c(cpu=8, memory="16Gi"))


