"""The catalog machinery over the fake adapter's rows; each cloud's rows are tested in its own folder."""

import pytest
from mlfn_fake import CATALOG

from mlfn.catalog import Catalog, pick
from mlfn.errors import CatalogError
from mlfn.registry import adapter_for, installed
from mlfn.spec import ComputeSection


def c(**kw) -> ComputeSection:
    return ComputeSection.model_validate(kw)


@pytest.mark.parametrize("cloud", sorted(installed()))
def test_every_adapter_catalog_family_has_a_source_and_valid_rows(cloud):
    catalog = adapter_for(cloud).catalog
    if catalog is None:
        pytest.skip(f"{cloud} declares no catalog (its machines are the user's)")
    for family in catalog.families:
        assert catalog.source(family)
        rows = catalog.machines(family)
        assert all(m.source == catalog.source(family) for m in rows)
        assert len({m.name for m in rows}) == len(rows)


def test_pick_the_first_row_that_fits():
    assert CATALOG.pick("fake", c(cpu=2, memory="4Gi")).name == "f.small"
    assert CATALOG.pick("fake", c(cpu=3, memory="4Gi")).name == "f.large"
    assert CATALOG.pick("fake", c(cpu=2, memory="4Gi", gpu={"type": "t4"})).name == "f.gpu"


def test_unsatisfiable_lists_nearest():
    with pytest.raises(CatalogError, match=r"no fake machine has 192 vCPU, 4000Gi.*nearest: f\."):
        CATALOG.pick("fake", c(cpu=192, memory="4000Gi"))


def test_gpu_a_cloud_lacks():
    with pytest.raises(CatalogError, match=r"fake offers no a10g GPU: compute\.gpu\.type may be t4"):
        pick(CATALOG.machines("fake"), c(gpu={"type": "a10g"}), "fake")


def test_unknown_family(tmp_path):
    (tmp_path / "c.yaml").write_text("x: {source: s, machines: []}\n")
    with pytest.raises(ValueError, match="unknown catalog family 'y' \\(families: x\\)"):
        Catalog(tmp_path / "c.yaml").machines("y")
