"""The aggregator end to end: feeds served on 127.0.0.1 as sources, with the seed's wire copy."""

from __future__ import annotations

import html
import shutil
import sqlite3
import time
from datetime import timedelta

import pytest

from conftest import DATA, NOW, SEED
from publisher import ingest as ingest_mod
from publisher.status import status
from publisher.sources import wire
from test_publish import assert_valid, entries

LATER = NOW + timedelta(hours=1)


def rss(items: list[tuple[str, str, list[str]]], title: str = "Other Wire") -> bytes:
    """An RSS document: items of (guid, title, paragraphs)."""
    body = "".join(
        f"<item><title>{html.escape(t)}</title><link>https://other.example/{g}</link><guid>{g}</guid>"
        f"<description>{html.escape(''.join(f'<p>{html.escape(p)}</p>' for p in ps))}</description></item>"
        for g, t, ps in items)
    return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>{title}</title>'
            f"<link>https://other.example/</link><description>d</description>{body}</channel></rss>").encode()


def with_feeds(project, *urls: str) -> None:
    text = project.config_path.read_text()
    for url in urls:
        text += f'\n[[sources.feeds]]\nurl = "{url}"\n'
    project.config_path.write_text(text)


@pytest.fixture
def seed_article(seed):
    """The seed's first story: a multi-paragraph article about Ukraine."""
    story = wire.read(seed).stories[0]
    assert story.kicker is None and len(story.paragraphs) > 1
    return story


def test_a_feed_entry_repeating_a_seed_story_adds_provenance_not_an_entry(project, seed, seed_article, httpserver):
    project.add_source(SEED.name, seed)
    httpserver.expect_request("/feed.xml").respond_with_data(rss([("a1", "Mines for Ukraine",
                                                                   list(seed_article.paragraphs))]))
    with_feeds(project, httpserver.url_for("/feed.xml"))
    first = project.publish()
    assert first.ok, first.problems()
    (polled,) = first.polled
    assert (polled.outcome, polled.new, polled.duplicate) == ("duplicate", 0, 1)
    assert len(entries(project, "all")) == 5
    with sqlite3.connect(project.database) as db:
        sources = [r[0] for r in db.execute(
            "SELECT s.location FROM provenance p JOIN sources s ON s.id = p.source ORDER BY p.id")]
    assert sources.count(httpserver.url_for("/feed.xml")) == 1


def test_a_feed_entry_updating_a_seed_story_is_a_revision(project, seed, seed_article, httpserver):
    project.add_source(SEED.name, seed)
    project.publish()
    before = {e.id: e for e in entries(project, "ukraine")}
    paragraphs = list(seed_article.paragraphs)
    paragraphs[1] = paragraphs[1].replace("the", "a", 2) + " Officials added that deliveries would start soon."
    httpserver.expect_request("/feed.xml").respond_with_data(rss([("a1", "Mines for Ukraine", paragraphs)]))
    with_feeds(project, httpserver.url_for("/feed.xml"))
    report = project.publish(LATER)
    assert report.polled[0].revised == 1
    (after,) = entries(project, "ukraine")
    assert after.id in before and after.updated > before[after.id].updated
    assert "deliveries would start soon" in after.content[0].value
    assert after.link == "https://other.example/a1"  # the original article
    assert any(l.get("rel") == "related" and "/stories/" in l["href"] for l in after.links)  # and our page
    assert after.source.title == "Other Wire"


def test_a_304_costs_no_parsing_and_changes_nothing(project, httpserver, monkeypatch):
    httpserver.expect_oneshot_request("/feed.xml").respond_with_data(
        rss([("k1", "Kyiv shelters", ["Kyiv opened 40 shelters in Ukraine as strikes went on."])]),
        headers={"ETag": '"v1"'})
    httpserver.expect_request("/feed.xml", headers={"If-None-Match": '"v1"'}).respond_with_data("", status=304)
    with_feeds(project, httpserver.url_for("/feed.xml"))
    project.publish()
    feeds_before = project.site_bytes()
    parsed = []
    real = ingest_mod.feed.parse
    monkeypatch.setattr(ingest_mod.feed, "parse", lambda *a, **k: parsed.append(1) or real(*a, **k))
    report = project.publish(NOW + timedelta(minutes=10))  # due again (interval 300 s)
    assert [f.outcome for f in report.polled] == ["unchanged"] and parsed == []
    assert project.site_bytes() == feeds_before and report.feed_files_written == []
    assert len(httpserver.log) == 2


def test_a_feed_is_not_fetched_again_before_it_is_due(project, httpserver):
    httpserver.expect_request("/feed.xml").respond_with_data(
        rss([("k1", "Kyiv", ["Kyiv opened 40 shelters in Ukraine."])]), headers={"Cache-Control": "max-age=3600"})
    with_feeds(project, httpserver.url_for("/feed.xml"))
    project.publish()
    assert project.publish(NOW + timedelta(minutes=30)).polled == []  # max-age 1 h: not yet
    assert len(httpserver.log) == 1
    assert len(project.publish(NOW + timedelta(minutes=61)).polled) == 1
    assert len(httpserver.log) == 2


def test_ids_are_stable_across_polls_and_a_changed_item_revises_its_entry(project, httpserver):
    url = httpserver.url_for("/feed.xml")
    text = "Kyiv's council opened 40 shelters in Ukraine's capital on Tuesday as Russian strikes went on."
    httpserver.expect_oneshot_request("/feed.xml").respond_with_data(rss([("k1", "Shelters", [text])]))
    httpserver.expect_oneshot_request("/feed.xml").respond_with_data(rss([("k1", "Shelters", [text])]))
    rewritten = "Ukraine: Kyiv now runs 55 heated shelters, officials said on Wednesday."  # shares almost nothing
    httpserver.expect_oneshot_request("/feed.xml").respond_with_data(rss([("k1", "Shelters", [rewritten])]))
    with_feeds(project, url)
    project.publish(NOW)
    (first,) = entries(project, "ukraine")
    second = project.publish(NOW + timedelta(minutes=10))
    assert second.polled[0].outcome == "unchanged" and second.feed_files_written == []  # same bytes: nothing
    third = project.publish(NOW + timedelta(minutes=20))
    assert third.polled[0].revised == 1
    (now_,) = entries(project, "ukraine")
    assert now_.id == first.id and "55 heated shelters" in now_.content[0].value


def test_an_item_id_twice_in_one_document_is_one_entry_its_second_text_a_revision(project, httpserver):
    """A feed that lists one guid twice (a publisher's bug, or an update appended) gives one
    entry: the second item is the same item, so its other text revises the first, as when the
    two come in two polls; and the same text twice is one arrival."""
    first = "Kyiv's council opened 40 shelters in Ukraine's capital on Tuesday as Russian strikes went on."
    second = "Ukraine: Kyiv now runs 55 heated shelters, officials said on Wednesday."  # shares almost nothing
    httpserver.expect_request("/feed.xml").respond_with_data(
        rss([("k1", "Shelters", [first]), ("k1", "Shelters", [second]), ("k2", "Again", [first]),
             ("k2", "Again", [first])]))
    with_feeds(project, httpserver.url_for("/feed.xml"))
    report = project.publish(NOW)
    (rep,) = report.polled
    assert (rep.new, rep.revised) == (1, 1)
    (entry,) = entries(project, "ukraine")
    assert "55 heated shelters" in entry.content[0].value


@pytest.mark.parametrize("respond, reason", [
    (lambda s: s.respond_with_data("down", status=500), "HTTP 500 Internal Server Error"),
    (lambda s: s.respond_with_data("gone", status=404), "HTTP 404 Not Found"),
    (lambda s: s.respond_with_data(b"<rss><channel><item>", content_type="application/rss+xml"),
     "no entries with text"),
    (lambda s: s.respond_with_data("<html><p>a page</p></html>", content_type="text/html"), "not a feed"),
])
def test_a_failing_feed_is_recorded_and_the_rest_is_published(project, seed, httpserver, respond, reason):
    project.add_source(SEED.name, seed)
    respond(httpserver.expect_request("/bad.xml"))
    httpserver.expect_request("/good.xml").respond_with_data(
        rss([("k1", "Kyiv", ["Kyiv opened 40 shelters in Ukraine as strikes went on."])]))
    with_feeds(project, httpserver.url_for("/bad.xml"), httpserver.url_for("/good.xml"))
    report = project.publish()
    bad, good = report.polled
    assert bad.reason.startswith(reason) and good.outcome == "new"
    assert not report.ok and f"{httpserver.url_for('/bad.xml')}: " in "\n".join(report.problems())
    assert len(entries(project, "all")) == 6
    feeds = {f["url"]: f for f in status(project.config, NOW)["feeds"]}
    failing = feeds[httpserver.url_for("/bad.xml")]
    assert failing["errors"] == 1 and failing["last_error"].startswith(reason) and failing["last_success"] is None
    assert failing["next_fetch"] == "2026-11-25T12:05:00.000000Z"  # the interval, then doubling
    assert feeds[httpserver.url_for("/good.xml")]["errors"] == 0


def test_a_failing_feed_backs_off_and_recovers(project, httpserver):
    url = httpserver.url_for("/feed.xml")
    httpserver.expect_request("/feed.xml").respond_with_data("busy", status=503, headers={"Retry-After": "900"})
    with_feeds(project, url)
    project.publish(NOW)
    (f,) = status(project.config, NOW)["feeds"]
    assert (f["errors"], f["next_fetch"]) == (1, "2026-11-25T12:15:00.000000Z")  # Retry-After beats 300 s
    project.publish(NOW + timedelta(minutes=15))
    (f,) = status(project.config, NOW)["feeds"]
    assert (f["errors"], f["next_fetch"]) == (2, "2026-11-25T12:30:00.000000Z")
    httpserver.clear_all_handlers()
    httpserver.expect_request("/feed.xml").respond_with_data(rss([("k", "Kyiv", ["Kyiv shelters in Ukraine."])]))
    project.publish(NOW + timedelta(minutes=30))
    (f,) = status(project.config, NOW)["feeds"]
    assert f["errors"] == 0 and f["last_success"] == "2026-11-25T12:30:00.000000Z"


def test_an_oversized_feed_is_refused(project, httpserver, monkeypatch):
    from publisher.sources import fetch

    real = fetch.fetch_all
    monkeypatch.setattr(fetch, "fetch_all", lambda reqs, **kw: real(reqs, fetch.Limits(max_bytes=10_000), **kw))
    httpserver.expect_request("/feed.xml").respond_with_data(b"<rss>" + b" " * 50_000)
    with_feeds(project, httpserver.url_for("/feed.xml"))
    (polled,) = project.publish().polled
    assert polled.outcome == "failed" and polled.reason.startswith("too big")


def test_a_json_feed_url_is_read(project, httpserver):
    httpserver.expect_request("/feed.json").respond_with_data((DATA / "feeds" / "site.json").read_bytes(),
                                                              content_type="application/feed+json")
    with_feeds(project, httpserver.url_for("/feed.json"))
    report = project.publish()
    assert report.polled[0].outcome == "new" and report.polled[0].new == 2
    (e,) = entries(project, "ukraine")
    assert e.title == "Kyiv opens shelters" and "javascript" not in e.content[0].value


def test_a_feed_file_dropped_into_sources_is_read_as_a_feed_sanitised_and_valid(project):
    shutil.copy(DATA / "feeds" / "hostile.rss", project.sources / "harbour.rss")
    report = project.publish()
    assert report.sources[0].outcome == "new", report.problems()
    (e,) = entries(project, "taiwan-security")
    content = e.content[0].value
    for bad in ("<script", "onclick", "onerror", "javascript:", "<iframe"):
        assert bad not in content
    assert 'src="https://news.example/img/ship.jpg"' in content
    assert e.source.title == "Harbour & Strait News"
    assert e.link == "https://news.example/2026/11/coast-guard"  # the original, as its subscribers see it
    (ours,) = [link.href for link in e.links if link.rel == "related"]  # and its own page here
    assert ours.startswith("http://127.0.0.1:8080/stories/")
    assert_valid(project)
    page = (project.feeds / "stories" / ours.rsplit("/", 1)[1]).read_text()
    assert 'href="https://news.example/2026/11/coast-guard"' in page and "<script" not in page


def test_a_slow_feed_never_holds_the_write_lock(project, httpserver):
    """Fetching happens before the lock is taken: a writer can go on meanwhile."""
    import threading
    from publisher import lock

    def slow(request):
        time.sleep(1.5)
        from werkzeug.wrappers import Response
        return Response(rss([("k", "Kyiv", ["Kyiv shelters in Ukraine."])]))

    httpserver.expect_request("/feed.xml").respond_with_handler(slow)
    with_feeds(project, httpserver.url_for("/feed.xml"))
    thread = threading.Thread(target=project.publish)
    thread.start()
    time.sleep(0.5)  # the fetch is under way
    start = time.monotonic()
    with lock.held(project.config.paths.lock, wait=0):  # free: no LockHeld
        pass
    assert time.monotonic() - start < 0.5
    thread.join(30)
