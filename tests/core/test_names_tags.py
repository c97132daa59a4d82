import pytest

from mlfn.names import RULES, is_valid, resource_name
from mlfn.tags import tags_for


@pytest.mark.parametrize("kind", sorted(RULES))
@pytest.mark.parametrize("name", ["a", "x" * 40, "model-" + "b" * 34, "iris"])
def test_every_kind_gets_a_valid_name_at_1_and_40_chars(kind, name):
    out = resource_name(name, kind)
    assert is_valid(out, kind), (kind, name, out)
    assert resource_name(name, kind) == out  # stable


def test_long_names_keep_a_hash_so_they_do_not_collide():
    a = resource_name("a" * 40, "azure_storage", "models")
    b = resource_name("a" * 39 + "b", "azure_storage", "models")
    assert a != b and len(a) == 24 and len(b) == 24


def test_storage_and_acr_drop_dashes_and_sa_pads_to_six():
    assert resource_name("my-model", "azure_storage") == "mymodel"
    assert resource_name("my-model", "acr") == "mymodel"
    sa = resource_name("a", "gcp_service_account")
    assert 6 <= len(sa) <= 30 and sa[0].isalpha()


def test_is_valid_rejects_bad_names():
    assert not is_valid("Has_Upper", "azure_storage")
    assert not is_valid("ab", "azure_storage")
    assert not is_valid("1abc", "k8s")


def test_unknown_kind():
    with pytest.raises(ValueError, match="unknown resource kind"):
        resource_name("a", "nope")


def test_tags_per_cloud_style():
    assert tags_for("iris", {"team": "ds"}, "aws") == {"team": "ds", "mlfn:deployment": "iris"}
    assert tags_for("iris", {"Team": "Data Science"}, "gcp") == {"team": "data_science", "mlfn-deployment": "iris"}
    assert tags_for("iris", {}, "kubernetes") == {"mlfn.dev/deployment": "iris"}
    with pytest.raises(ValueError):
        tags_for("iris", {}, "ibm")
