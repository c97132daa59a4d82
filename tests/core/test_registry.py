from importlib import metadata

import pytest

from mlfn import registry
from mlfn.errors import AdapterConflict, AdapterNotInstalled


def fake_eps(*pairs):
    return [metadata.EntryPoint(name=n, value=v, group=registry.GROUP) for n, v in pairs]


def test_the_installed_fake_adapter_loads_through_its_entry_point():
    a = registry.adapter_for("fake")
    assert a.name == "fake" and a.target_names() == ("serverless", "instances")
    assert registry.installed()["fake"].package == "mlfn-fake"


def test_duplicate_cloud_names_are_an_error(monkeypatch):
    monkeypatch.setattr(metadata, "entry_points", lambda group: fake_eps(
        ("fake", "mlfn_fake:FakeAdapter"), ("fake", "other_pkg:Adapter")))
    with pytest.raises(AdapterConflict, match="two adapters claim cloud 'fake'"):
        registry.installed()


def test_adapter_with_missing_sdk_does_not_break_the_others(monkeypatch):
    monkeypatch.setattr(metadata, "entry_points", lambda group: fake_eps(
        ("fake", "mlfn_fake:FakeAdapter"), ("gcp", "mlfn_gcp_missing_module:GcpAdapter")))
    with pytest.raises(AdapterNotInstalled, match="cannot be imported"):
        registry.adapter_for("gcp")
    assert registry.adapter_for("fake").name == "fake"
    from mlfn import api

    rows = {t.cloud: t for t in api.targets()}
    assert rows["gcp"].error
    assert "fake" not in rows  # loaded fine, and hidden from listings


def test_entry_point_that_is_not_an_adapter(monkeypatch):
    monkeypatch.setattr(metadata, "entry_points", lambda group: fake_eps(("x", "json:dumps")))
    with pytest.raises(AdapterNotInstalled, match="is not an mlfn Adapter class"):
        registry.adapter_for("x")


def test_entry_point_name_must_match_adapter_name(monkeypatch):
    monkeypatch.setattr(metadata, "entry_points", lambda group: fake_eps(("other", "mlfn_fake:FakeAdapter")))
    with pytest.raises(AdapterConflict, match="loads an adapter named 'fake'"):
        registry.adapter_for("other")
