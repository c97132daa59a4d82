import pytest
from mlfn_aws.conventions import CATALOG

from mlfn.errors import CatalogError
from mlfn.spec import ComputeSection


def c(**kw) -> ComputeSection:
    return ComputeSection.model_validate(kw)


@pytest.mark.parametrize(
    ("compute", "expected"),
    [
        (c(cpu=2, memory="4Gi"), "ml.c5.large"),
        (c(cpu=2, memory="6Gi"), "ml.m5.large"),
        (c(cpu=4, memory="16Gi", gpu={"type": "t4"}), "ml.g4dn.xlarge"),
        (c(cpu=4, memory="16Gi", gpu={"type": "a10g", "count": 4}), "ml.g5.12xlarge"),
    ],
)
def test_pick_smallest_machine(compute, expected):
    assert CATALOG.pick("sagemaker", compute).name == expected


def test_unsatisfiable_lists_nearest():
    with pytest.raises(CatalogError, match=r"no sagemaker machine has 192 vCPU, 4000Gi.*nearest: ml\."):
        CATALOG.pick("sagemaker", c(cpu=192, memory="4000Gi"))
