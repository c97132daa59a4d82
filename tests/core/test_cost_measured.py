"""mlfn cost's default latency: the mean a running local stack measured (mlfn.pricing.measured)."""

from __future__ import annotations

import pytest

from mlfn.pricing import api, measured
from mlfn.pricing.measured import MIN_REQUESTS, Measured, mean_latency
from mlfn.pricing.traffic import DEFAULT_LATENCY_S, parse_traffic

METRICS = """\
# HELP mlfn_request_latency_seconds Time to answer a request, by route.
# TYPE mlfn_request_latency_seconds histogram
mlfn_request_latency_seconds_bucket{le="0.005",route="invocations"} 3.0
mlfn_request_latency_seconds_count{route="invocations"} 30.0
mlfn_request_latency_seconds_sum{route="invocations"} 0.6
mlfn_request_latency_seconds_count{route="v2_infer"} 10.0
mlfn_request_latency_seconds_sum{route="v2_infer"} 0.4
mlfn_request_latency_seconds_count{route="ping"} 500.0
mlfn_request_latency_seconds_sum{route="ping"} 0.05
"""


def profile(text, latency, project_dir):
    """What mlfn.cost and mlfn.compare price: the parsed profile, with the measured latency where none is given."""
    return api._with_measured_latency(api._traffic(text, latency, None), text, project_dir)


def test_the_mean_counts_only_the_routes_that_run_the_model():
    seconds, n = mean_latency(METRICS)
    assert n == 40 and seconds == pytest.approx(1.0)  # health probes (ping) would pull the mean down


def test_a_measured_latency_is_used_and_said_when_none_is_given(monkeypatch, tmp_path):
    monkeypatch.setattr(measured, "measured_latency", lambda _dir: Measured(0.025, 40, ("local",)))
    t = profile("1000000/month", None, tmp_path)
    assert t.latency_s == 0.025 and t.latency_source == "measured"
    (line,) = [a for a in t.assumptions() if "latency" in a]
    assert "25 ms" in line and "measured by the running local stack (local) over 40 predictions" in line
    given = profile("1000000/month", "120ms", tmp_path)
    assert given.latency_s == 0.12 and given.latency_source == "given"


def test_without_a_measurement_the_default_is_a_stated_assumption(tmp_path):
    t = profile("1000000/month", None, tmp_path)  # no .mlfn/local here
    assert t.latency_s == DEFAULT_LATENCY_S and t.latency_source == "assumed"
    assert any("an assumption: pass --latency" in a for a in t.assumptions())
    assert parse_traffic("1/s").to_dict()["latency_source"] == "assumed"


def test_stopped_or_damaged_local_states_are_skipped(tmp_path):
    local = tmp_path / ".mlfn" / "local"
    local.mkdir(parents=True)
    (local / "local.json").write_text(  # a whole state, whose server has stopped
        '{"pid": 999999999, "port": 9, "url": "http://127.0.0.1:9", "started_at": 0, "deployed_hash": "h", '
        '"log": "l", "model_dir": "m", "model_name": "iris"}')
    (local / "other.json").write_text("not json")
    assert measured.measured_latency(tmp_path) is None
    assert MIN_REQUESTS >= 10
