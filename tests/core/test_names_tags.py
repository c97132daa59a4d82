"""The naming and tagging machinery, run over every installed adapter's own rules and style."""

import pytest

from mlfn.names import NameRule, is_valid, resource_name
from mlfn.registry import adapter_for, installed
from mlfn.tags import TagStyle, restrict, tags_for


def _rules():
    out = []
    for cloud in sorted(installed()):
        for kind, rule in adapter_for(cloud).name_rules.items():
            out.append(pytest.param(rule, id=f"{cloud}-{kind}"))
    return out


RULES = _rules()
STORAGE = NameRule(3, 24, "a-z0-9", separator="")
SERVICE_ACCOUNT = NameRule(6, 30, "a-z0-9-", must_start_with_letter=True)
DNS_LABEL = NameRule(1, 63, "a-z0-9-", must_start_with_letter=True)


def test_every_installed_adapter_declares_name_rules_with_a_source():
    assert len(RULES) >= 15
    for p in RULES:
        assert p.values[0].source, p.id


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("name", ["a", "x" * 40, "model-" + "b" * 34, "iris"])
def test_every_rule_gives_a_valid_name_at_1_and_40_chars(rule, name):
    out = resource_name(name, rule)
    assert is_valid(out, rule), (rule, name, out)
    assert resource_name(name, rule) == out  # stable


def test_long_names_keep_a_hash_so_they_do_not_collide():
    a = resource_name("a" * 40, STORAGE, "models")
    b = resource_name("a" * 39 + "b", STORAGE, "models")
    assert a != b and len(a) == 24 and len(b) == 24


def test_dashes_dropped_without_separator_and_short_names_padded():
    assert resource_name("my-model", STORAGE) == "mymodel"
    sa = resource_name("a", SERVICE_ACCOUNT)
    assert 6 <= len(sa) <= 30 and sa[0].isalpha()


def test_is_valid_rejects_bad_names():
    assert not is_valid("Has_Upper", STORAGE)
    assert not is_valid("ab", STORAGE)
    assert not is_valid("1abc", DNS_LABEL)


def test_a_kind_name_is_not_a_rule():
    with pytest.raises(TypeError, match="NameRule"):
        resource_name("a", "s3_bucket")  # type: ignore[arg-type]


def test_tags_in_a_style_of_its_own():
    style = TagStyle("x.io/deployment", key=restrict("a-z0-9_-", 63, lowercase=True, start_letter=True),
                     value=restrict("a-z0-9_-", 63, lowercase=True))
    assert tags_for("iris", {"Team": "Data Science", "9x": "v"}, style) == {
        "team": "data_science", "k9x": "v", "x.io/deployment": "iris"}
    assert tags_for("iris", {"team": "ds"}, TagStyle("mlfn:deployment")) == {"team": "ds", "mlfn:deployment": "iris"}
    with pytest.raises(TypeError, match="TagStyle"):
        tags_for("iris", {}, "aws")  # type: ignore[arg-type]


@pytest.mark.parametrize("cloud", sorted(installed()))
def test_every_installed_adapter_has_a_tag_style_with_a_source(cloud):
    style = adapter_for(cloud).tag_style
    assert isinstance(style, TagStyle) and style.deployment_key and style.source
