"""The APIs provider against a fake Service Usage API: it reads first and enables only what is off."""

import json
from urllib.parse import parse_qsl

import pytest
import requests
from mlfn_gcp import apis
from requests.adapters import BaseAdapter


class FakeServiceUsage(BaseAdapter):
    def __init__(self, on: set[str], refuse_enable: bool = False):
        super().__init__()
        self.on, self.refuse_enable, self.calls = set(on), refuse_enable, []

    def send(self, request, **kwargs):
        url = requests.utils.urlparse(request.url)
        self.calls.append((request.method, url.path))
        status, data = 200, {}
        if url.path.endswith("services:batchGet"):
            names = [v for k, v in parse_qsl(url.query) if k == "names"]
            data = {"services": [{"name": n, "config": {"name": n.rsplit("/", 1)[1]},
                                  "state": "ENABLED" if n.rsplit("/", 1)[1] in self.on else "DISABLED"}
                                 for n in names]}
        elif url.path.endswith("services:batchEnable"):
            if self.refuse_enable:
                status, data = 403, {"error": {"message": "Permission denied to enable service"}}
            else:
                self.on |= set(json.loads(request.body)["serviceIds"])
                data = {"name": "operations/acf.1", "done": False}
        elif "/operations/" in url.path:
            data = {"name": "operations/acf.1", "done": True, "response": {}}
        r = requests.Response()
        r.status_code, r._content, r.url, r.request = status, json.dumps(data).encode(), request.url, request
        return r

    def close(self):
        pass


@pytest.fixture
def fake(monkeypatch):
    holder = {}

    def use(on, **kw):
        f = FakeServiceUsage(on, **kw)
        s = requests.Session()
        s.mount("https://", f)
        monkeypatch.setattr(apis, "session", lambda: s)
        monkeypatch.setattr(apis, "POLL_S", 0)
        holder["f"] = f
        return f

    return use


PROPS = {"project": "p", "services": ["aiplatform.googleapis.com", "iam.googleapis.com"]}


def test_apis_already_on_are_only_read_never_enabled(fake):
    """Enabling needs serviceusage.services.enable even for an API that is on: read first."""
    f = fake({"aiplatform.googleapis.com", "iam.googleapis.com"}, refuse_enable=True)
    made = apis.ApisProvider().create(dict(PROPS))
    assert made.outs["enabled_now"] == []
    assert [m for m, _ in f.calls] == ["GET"]


def test_apis_that_are_off_are_enabled_and_waited_for(fake):
    f = fake({"iam.googleapis.com"})
    made = apis.ApisProvider().create(dict(PROPS))
    assert made.outs["enabled_now"] == ["aiplatform.googleapis.com"]
    assert "aiplatform.googleapis.com" in f.on
    assert any(p.endswith("operations/acf.1") for _, p in f.calls)  # the operation was polled


def test_a_refused_enable_says_what_to_do(fake):
    fake({"iam.googleapis.com"}, refuse_enable=True)
    with pytest.raises(apis.ApiError, match="enable_apis: false"):
        apis.ApisProvider().create(dict(PROPS))


def test_delete_leaves_apis_on(fake):
    f = fake({"aiplatform.googleapis.com", "iam.googleapis.com"})
    apis.ApisProvider().delete("p/apis", dict(PROPS))
    assert f.calls == []
