"""poll.py: when to fetch a feed again, from `now`, the answer and the history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from publisher import poll

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def seconds(dt: datetime) -> float:
    return (dt - NOW).total_seconds()


def test_after_success_the_interval_or_the_feeds_own_freshness_whichever_is_longer():
    assert seconds(poll.after_success(NOW, 300, {})) == 300
    assert seconds(poll.after_success(NOW, 300, {"Cache-Control": "public, max-age=3600"})) == 3600
    assert seconds(poll.after_success(NOW, 300, {"cache-control": "max-age=60"})) == 300
    assert seconds(poll.after_success(NOW, 300, {}, ttl_minutes=60)) == 3600
    assert seconds(poll.after_success(NOW, 300, {"Cache-Control": "s-maxage=900, max-age=100"})) == 900


def test_expires_counts_from_the_servers_date():
    headers = {"Date": "Wed, 25 Nov 2026 11:00:00 GMT", "Expires": "Wed, 25 Nov 2026 13:00:00 GMT"}
    assert seconds(poll.after_success(NOW, 300, headers)) == 7200
    assert seconds(poll.after_success(NOW, 300, {"Expires": "0"})) == 300  # invalid: ignored


def test_no_cache_and_absurd_max_ages_are_bounded():
    assert seconds(poll.after_success(NOW, 300, {"Cache-Control": "no-cache, max-age=9999"})) == 300
    assert seconds(poll.after_success(NOW, 300, {"Cache-Control": "max-age=99999999"})) == poll.MAX_FRESH_SECONDS


def test_failures_back_off_exponentially_up_to_a_day_and_never_stop():
    delays = [seconds(poll.after_failure(NOW, 300, n)) for n in range(1, 12)]
    assert delays[:5] == [300, 600, 1200, 2400, 4800]
    assert delays[-1] == poll.MAX_BACKOFF_SECONDS and all(d <= 86400 for d in delays)


def test_retry_after_is_waited_out_in_seconds_or_as_a_date():
    assert seconds(poll.after_failure(NOW, 300, 1, {"Retry-After": "3600"})) == 3600
    assert seconds(poll.after_failure(NOW, 300, 1, {"retry-after": "Wed, 25 Nov 2026 14:00:00 GMT"})) == 7200
    assert seconds(poll.after_failure(NOW, 300, 3, {"Retry-After": "10"})) == 1200  # backoff is longer
    assert seconds(poll.after_failure(NOW, 300, 1, {"Retry-After": "9999999"})) == 86400


def test_a_feed_never_fetched_is_due():
    assert poll.is_due(None, NOW)
    assert poll.is_due(NOW, NOW) and not poll.is_due(NOW + timedelta(seconds=1), NOW)
