"""Polled feeds in the run's numbers: /metrics counts their stories as it counts files', and a
feed that yields nothing is failing in the run's line and in status alike, every time."""

from __future__ import annotations

from datetime import timedelta

from conftest import NOW
from publisher.model import Outcome
from publisher.service import Metrics
from publisher.status import status
from test_publish_feeds import rss, with_feeds

EMPTY = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>Quiet</title><link>https://q.example/</link>'
         b"<description>d</description></channel></rss>")


def test_a_feed_that_yields_nothing_is_failing_in_the_run_line_and_in_status_every_time(project, httpserver):
    httpserver.expect_request("/empty.xml").respond_with_data(EMPTY, content_type="application/rss+xml")
    url = httpserver.url_for("/empty.xml")
    with_feeds(project, url)
    for hours in (0, 1):  # the second poll gets the same bytes (no ETag, no 304)
        now = NOW + timedelta(hours=hours)
        report = project.publish(now)
        assert "1 feeds polled (0 read, 0 unchanged, 1 failed)" in report.summary(), report.summary()
        assert f"{url}: failed: no entries with text" in report.problems()
        doc = status(project.config, now)
        (feed,) = doc["feeds"]
        assert (feed["errors"], feed["last_error"]) == (hours + 1, "no entries with text")
        (source,) = [s for s in doc["sources"] if s["path"] == url]
        assert (source["outcome"], source["reason"]) == ("failed", "no entries with text")


def test_metrics_count_the_stories_of_polled_feeds(project, httpserver):
    httpserver.expect_request("/feed.xml").respond_with_data(
        rss([("a1", "Kyiv metro", ["Kyiv's metro stations in Ukraine will stay open all night, the city said."]),
             ("a2", "Taipei drill", ["Taiwan held an air raid drill in Taipei on Monday, officials said."])]),
        content_type="application/rss+xml")
    with_feeds(project, httpserver.url_for("/feed.xml"))
    report = project.publish()
    assert [s.outcome for s in report.polled] == [Outcome.NEW]
    metrics = Metrics(lambda: 0)
    metrics.record("poll", report, 0.1, 0.0)
    text = metrics.text().decode()
    assert 'publisher_stories_total{outcome="new"} 2.0' in text
    assert 'publisher_feeds_polled_total{outcome="new"} 1.0' in text
