"""--traffic with an average and a peak rate: the grammar, and replicas sized for the peak.

The form is ``AVERAGE,peak=RATE[@HOURSh]``: the average sets the requests a month (so per-request
and request-time charges do not change); the peak sets the replicas that whole-instance targets run
while it lasts, ``ceil(peak x latency / concurrency)`` capped at scaling.max. With ``@HOURSh`` the
peak lasts that many hours of each traffic day; without it the estimate provisions for the peak
through every traffic hour (the dearest reading, stated as an assumption)."""

from __future__ import annotations

import pytest

from mlfn.pricing import TrafficError, instance_hours, parse_traffic
from mlfn.pricing.estimate import replica_segments
from mlfn.pricing.traffic import DAYS_PER_MONTH, HOURS_PER_MONTH, SECONDS_PER_MONTH, replicas_needed


def test_the_peak_keeps_the_average_request_count_and_adds_a_rate():
    t = parse_traffic("20/s,peak=100/s@2h")
    assert t.requests_per_month == pytest.approx(20 * 3600 * HOURS_PER_MONTH)
    assert (t.peak_rate, t.peak_hours) == (100, 2)
    assert t.peak_seconds == pytest.approx(2 * 3600 * DAYS_PER_MONTH)
    spaced = parse_traffic("3M/month@12h , peak = 6000/min")
    assert spaced.requests_per_month == 3_000_000 and spaced.peak_rate == pytest.approx(100)
    assert spaced.peak_hours is None and spaced.peak_seconds == pytest.approx(spaced.traffic_seconds)
    assert parse_traffic("20/s").peak_rate is None


def test_the_peak_is_described_and_stated_as_an_assumption():
    t = parse_traffic("20/s,peak=100/s@2h")
    assert "peak 100/s for 2 h a day" in t.describe()
    assert t.to_dict()["peak_rate_per_second"] == 100 and t.to_dict()["peak_hours_per_day"] == 2
    whole = parse_traffic("20/s,peak=100/s")
    assert any("peak" in a and "every traffic hour" in a for a in whole.assumptions())


@pytest.mark.parametrize(("bad", "says"), [
    ("20/s,peak=10/s", "below the average"),
    ("20/s,peak=100/month", "a rate per s, min or h"),
    ("20/s@8h,peak=100/s@9h", "at most the 8 traffic hours"),
    ("1000/month,peak=10/s@2h", "more requests than the average"),
    ("20/s,peak=", "AVERAGE,peak=RATE"),
    ("20/s,top=100/s", "AVERAGE,peak=RATE"),
])
def test_a_peak_that_cannot_be_is_an_error_saying_what_to_change(bad, says):
    with pytest.raises(TrafficError, match=says):
        parse_traffic(bad)


def test_replicas_at_the_peak_are_peak_times_latency_over_concurrency():
    t = parse_traffic("20/s,peak=100/s@2h", latency=0.2)  # 4 in flight on average, 20 at the peak
    assert replicas_needed(t, 8) == 1 and replicas_needed(t, 8, at_peak=True) == 3


def test_whole_instances_run_peak_replicas_only_while_the_peak_lasts():
    """Hand-computed: 20/s average, 100/s for 2 h a day, 200 ms, 8 per replica, min 1, max 10:
    1 replica for 22 h a day and 3 for 2 h -> (22 x 1 + 2 x 3) x 730/24 = 851.67 instance-hours;
    without the peak it would be 730."""
    t = parse_traffic("20/s,peak=100/s@2h", latency=0.2)
    assert instance_hours(t, 8, 1, 10)[0] == pytest.approx((22 + 2 * 3) * DAYS_PER_MONTH)
    assert instance_hours(parse_traffic("20/s", latency=0.2), 8, 1, 10)[0] == pytest.approx(730)


def test_without_peak_hours_the_peak_replicas_run_every_traffic_hour_and_max_caps_them():
    t = parse_traffic("20/s@8h,peak=100/s", latency=0.2)
    assert instance_hours(t, 8, 0, 10)[0] == pytest.approx(3 * 8 * DAYS_PER_MONTH)
    hours, notes = instance_hours(t, 8, 0, 2)
    assert hours == pytest.approx(2 * 8 * DAYS_PER_MONTH)
    assert any("at the peak" in n and "scaling.max is 2" in n for n in notes)


def test_segments_cover_the_month_and_carry_the_requests():
    """The month split into (replicas, seconds, share of requests) pieces: peak, the other traffic
    hours, and the hours without traffic. 100/s for 2 h of a 24 h, 20/s-average day carries
    100 x 7200 / (20 x 86400) = 5/12 of the requests."""
    t = parse_traffic("20/s,peak=100/s@2h", latency=0.2)
    segments = replica_segments(t, 8, 1, 10)
    assert sum(s.seconds for s in segments) == pytest.approx(SECONDS_PER_MONTH)
    assert sum(s.share for s in segments) == pytest.approx(1)
    peak = next(s for s in segments if s.replicas == 3)
    assert peak.seconds == pytest.approx(t.peak_seconds) and peak.share == pytest.approx(5 / 12)


def test_busy_seconds_are_capped_by_the_replicas_the_peak_and_the_average_need():
    """52.56M requests x 200 ms = 10.5M request-seconds overlap: 4 in flight on average (1 replica of
    8), 20 at the 2-hour peak (3 replicas): at most 3 x 219,000 + 1 x 2,409,000 = 3,066,000 busy
    instance-seconds; without the peak, 1 x 2,628,000."""
    from mlfn.pricing import busy_instance_seconds

    peak = parse_traffic("20/s,peak=100/s@2h", latency=0.2)
    assert busy_instance_seconds(peak, 8) == pytest.approx(3 * 2 * 3600 * DAYS_PER_MONTH + 22 * 3600 * DAYS_PER_MONTH)
    assert busy_instance_seconds(parse_traffic("20/s", latency=0.2), 8) == pytest.approx(SECONDS_PER_MONTH)
