"""Every story stays reachable: archive pages (RFC 5005 archived feeds, and their HTML pages)
that keep their stories for good, story pages that outlive a story's topics, 410 Gone for a
retracted story's permalink."""

from __future__ import annotations

import re
import sqlite3
from datetime import timedelta
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import feedparser
import httpx
import lxml.html
import pytest
from reader import make_reader

import corpus
from conftest import DATA, NOW, serving
from nginx_harness import free_port
from publisher import stories
from publisher.serve import FeedServer
from publisher.store import Store
from test_publish import run_validator

FH = "http://purl.org/syndication/history/1.0"
# Ukraine stories only (the odd ones of stories_text), distinct enough that none is a copy of another
UKRAINE = [s for i, s in enumerate(corpus.stories_text(80)) if i % 2]


def small_pages(project, page: int = 3, max_entries: int = 4, base: str | None = None) -> None:
    text = project.config_path.read_text().replace("max_entries = 50",
                                                   f"max_entries = {max_entries}\narchive_page_size = {page}")
    if base:
        text = text.replace('base_url = "http://127.0.0.1:8080/"', f'base_url = "{base}"')
    project.config_path.write_text(text)


def add_stories(project, name: str, texts: list[str]) -> None:
    project.add_source(name, corpus.wire_text([[t] for t in texts]))


def topic_ids(project, topic: str) -> set[str]:
    with sqlite3.connect(project.database) as db:
        return {r[0] for r in db.execute("""SELECT e.entry_id FROM entries e JOIN entry_topics t ON t.entry = e.id
                                            WHERE t.topic = ? AND e.retracted_at IS NULL""", [topic])}


def archive_files(project, slug: str = "ukraine") -> dict[str, bytes]:
    return {p.relative_to(project.feeds).as_posix(): p.read_bytes()
            for p in sorted((project.feeds / slug / "archive").rglob("*")) if p.is_file()}


def links(data: bytes) -> dict[str, str]:
    parsed = feedparser.parse(data)
    return {link.rel: link.href for link in parsed.feed.get("links", [])}


# -- the feed and its archive hold every story -------------------------------------------------------

def test_the_feed_links_back_through_its_archive_pages_to_every_story(project):
    small_pages(project)
    add_stories(project, "2026-11-20_a.txt", UKRAINE[:10])
    assert project.publish().ok
    # 10 stories in pages of 3: pages 1-3 closed, the 10th on the open page (in the feed itself)
    atom = (project.feeds / "ukraine" / "atom.xml").read_bytes()
    assert links(atom)["prev-archive"] == "http://127.0.0.1:8080/ukraine/archive/3/atom.xml"
    assert not (project.feeds / "ukraine" / "archive" / "4").exists()
    seen = {e.id for e in feedparser.parse(atom).entries}
    assert len(seen) == 4  # max_entries
    url, page = links(atom)["prev-archive"], 3
    while url:
        path = project.feeds / urlsplit(url).path.lstrip("/")
        data = path.read_bytes()
        parsed = feedparser.parse(data)
        assert parsed.bozo == 0 and f'xmlns:fh="{FH}"'.encode() in data and b"<fh:archive/>" in data
        rels = links(data)
        assert rels["self"] == url and rels["current"] == "http://127.0.0.1:8080/ukraine/atom.xml"
        assert rels.get("next-archive") == (None if page == 3 else
                                            f"http://127.0.0.1:8080/ukraine/archive/{page + 1}/atom.xml")
        assert len(parsed.entries) == 3
        seen |= {e.id for e in parsed.entries}
        url, page = rels.get("prev-archive"), page - 1
    assert page == 0 and seen == topic_ids(project, "ukraine") and len(seen) == 10
    # RSS says the same with atom:link, JSON Feed pages back with next_url
    rss = (project.feeds / "ukraine" / "archive" / "2" / "rss.xml").read_text()
    assert '<atom:link href="http://127.0.0.1:8080/ukraine/archive/1/rss.xml" rel="prev-archive"/>' in rss
    assert '<atom:link href="http://127.0.0.1:8080/ukraine/rss.xml" rel="current"/>' in rss and "<fh:archive/>" in rss
    import json
    json_ids, url = set(), "http://127.0.0.1:8080/ukraine/feed.json"
    while url:
        doc = json.loads((project.feeds / urlsplit(url).path.lstrip("/")).read_bytes())
        json_ids |= {i["id"] for i in doc["items"]}
        url = doc.get("next_url")
    assert json_ids == seen


def test_every_story_of_a_topic_is_linked_from_its_feed_page(project):
    small_pages(project)
    add_stories(project, "2026-11-20_a.txt", UKRAINE[:11])
    assert project.publish().ok
    start = project.feeds / "ukraine" / "index.html"
    pages, todo, stories_found = set(), [start], set()
    while todo:  # every page reached by following links from the feed's page, inside the feed's directory
        page = todo.pop()
        if page in pages:
            continue
        pages.add(page)
        for href in lxml.html.fromstring(page.read_text()).xpath("//main//a/@href"):
            target = (page.parent / href).resolve()
            if target.is_dir():
                target = target / "index.html"
            if "/stories/" in target.as_posix():
                stories_found.add(target)
            elif target.is_relative_to((project.feeds / "ukraine").resolve()):
                todo.append(target)
    assert len(pages) == 1 + 3  # the feed's page and archive pages 1-3
    assert all(p.exists() for p in stories_found)
    with sqlite3.connect(project.database) as db:
        names = {r[0] for r in db.execute("SELECT e.name FROM entries e JOIN entry_topics t ON t.entry = e.id "
                                          "WHERE t.topic = 'ukraine'")}
    assert {p.stem for p in stories_found} == names and len(names) == 11


def test_archive_documents_pass_the_w3c_validator(project):
    small_pages(project)
    add_stories(project, "2026-11-20_a.txt", UKRAINE[:7])
    assert project.publish().ok
    documents = [p for p in sorted(project.feeds.rglob("archive/*/*")) if p.suffix in (".xml", ".json")]
    assert len(documents) == 2 * 2 * 3  # ukraine and all, pages 1-2, three formats
    proc = run_validator(project.feeds)  # every feed document under feeds/: the archives and the feeds
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert all(str(p) in out for p in documents), out
    files = len(documents) + 3 * 3
    assert out.count("=== ") == files and out.count("-> valid (0 errors, 0 warnings)") == files, out


def test_a_config_error_names_the_archive_page_size_key(project):
    from publisher import config as config_mod
    from publisher.errors import ConfigError

    small_pages(project, page=80, max_entries=50)
    with pytest.raises(ConfigError, match=r"\[feeds\] archive_page_size: must be between 1 and max_entries \(50\), "
                                          r"got 80"):
        config_mod.load(project.config_path)


# -- archive pages keep their bytes ----------------------------------------------------------------

def _changed(before: dict[str, bytes], after: dict[str, bytes]) -> set[str]:
    return {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}


def test_closed_archive_pages_keep_their_bytes_and_change_only_when_a_story_on_them_does(project):
    small_pages(project)
    texts = UKRAINE[:7]
    add_stories(project, "2026-11-20_a.txt", texts)
    assert project.publish().ok  # pages 1-2 closed, story 7 on the open page
    first = archive_files(project)
    assert sorted({k.rsplit("/", 1)[0] for k in first}) == ["ukraine/archive/1", "ukraine/archive/2"]

    add_stories(project, "2026-11-21_b.txt", UKRAINE[7:8])  # the open page holds 2: nothing closes
    assert project.publish(NOW + timedelta(hours=1)).ok
    assert archive_files(project) == first

    add_stories(project, "2026-11-22_c.txt", UKRAINE[8:9])  # page 3 closes
    assert project.publish(NOW + timedelta(hours=2)).ok
    second = archive_files(project)
    changed = _changed(first, second)
    # page 3 is new; page 2 gains its next-archive link (and nothing else); page 1 keeps its bytes
    assert {k.rsplit("/", 1)[0] for k in changed} == {"ukraine/archive/2", "ukraine/archive/3"}
    old, new = first["ukraine/archive/2/atom.xml"].decode(), second["ukraine/archive/2/atom.xml"].decode()
    assert [line for line in new.splitlines() if line not in old.splitlines()] == [
        '  <link href="http://127.0.0.1:8080/ukraine/archive/3/atom.xml" rel="next-archive"/>']

    # a revision of a story on page 1 (the same file saved again, one figure changed): only page 1 changes
    revised = texts[1].replace("report 3.", "report 3, with 40 more villages.")
    add_stories(project, "2026-11-20_a.txt", [texts[0], revised, *texts[2:]])
    report = project.publish(NOW + timedelta(hours=3))
    assert report.ok and sum(s.revised for s in report.sources) == 1, report.sources
    third = archive_files(project)
    assert {k.rsplit("/", 1)[0] for k in _changed(second, third)} == {"ukraine/archive/1"}
    assert "40 more villages" in third["ukraine/archive/1/atom.xml"].decode()

    # a retraction of a story on page 2: only page 2 changes, and it no longer holds the story
    (gone,) = [e for e in feedparser.parse(third["ukraine/archive/2/atom.xml"]).entries if "report 9." in e.summary]
    result = stories.retract(project.config, gone.id, "filed twice", NOW + timedelta(hours=4))
    assert result.done and result.report.ok
    fourth = archive_files(project)
    assert {k.rsplit("/", 1)[0] for k in _changed(third, fourth)} == {"ukraine/archive/2"}
    page2 = feedparser.parse(fourth["ukraine/archive/2/atom.xml"])
    assert gone.id not in {e.id for e in page2.entries} and len(page2.entries) == 2
    assert page2.feed.updated > feedparser.parse(third["ukraine/archive/2/atom.xml"]).feed.updated
    # brought back: on its page again, where it was
    assert stories.unretract(project.config, gone.id, NOW + timedelta(hours=5)).done
    fifth = archive_files(project)
    assert {k.rsplit("/", 1)[0] for k in _changed(fourth, fifth)} == {"ukraine/archive/2"}
    assert gone.id in {e.id for e in feedparser.parse(fifth["ukraine/archive/2/atom.xml"]).entries}
    # and a publish with nothing new writes no archive file
    report = project.publish(NOW + timedelta(hours=6))
    assert archive_files(project) == fifth and not [p for p in report.feed_files_written if "archive" in p.parts]


def test_a_story_that_leaves_its_topic_leaves_its_archive_page_and_keeps_its_place(project):
    small_pages(project)
    texts = UKRAINE[:6]
    texts[1] = texts[1].replace("report 3.", "report 3 on the grid.")
    add_stories(project, "2026-11-20_a.txt", texts)
    assert project.publish().ok
    before = archive_files(project)
    project.config_path.write_text(project.config_path.read_text().replace('exclude = ["eurovision"]',
                                                                           'exclude = ["eurovision", "grid"]'))
    assert project.publish(NOW + timedelta(hours=1)).ok
    after = archive_files(project)
    assert {k.rsplit("/", 1)[0] for k in _changed(before, after)} == {"ukraine/archive/1"}
    assert len(feedparser.parse(after["ukraine/archive/1/atom.xml"]).entries) == 2
    assert len(feedparser.parse(after["ukraine/archive/2/atom.xml"]).entries) == 3


def test_a_new_page_size_pages_the_archive_again(project):
    small_pages(project, page=2)
    add_stories(project, "2026-11-20_a.txt", UKRAINE[:7])
    assert project.publish().ok
    assert sorted(p.name for p in (project.feeds / "ukraine" / "archive").iterdir()) == ["1", "2", "3"]
    project.config_path.write_text(project.config_path.read_text().replace("archive_page_size = 2",
                                                                           "archive_page_size = 3"))
    assert project.publish(NOW + timedelta(hours=1)).ok
    assert sorted(p.name for p in (project.feeds / "ukraine" / "archive").iterdir()) == ["1", "2"]
    ids = set()
    for n in (1, 2):
        ids |= {e.id for e in feedparser.parse((project.feeds / "ukraine" / "archive" / str(n) / "atom.xml")
                                               .read_bytes()).entries}
    assert len(ids) == 6


# -- a real reader, over HTTP --------------------------------------------------------------------------

def test_a_feed_reader_paging_back_over_http_gets_every_story_once_with_stable_ids(project, tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    small_pages(project, base=base + "/")
    add_stories(project, "2026-11-20_a.txt", UKRAINE[:8])
    assert project.publish().ok
    app = FeedServer(project.feeds)
    app.reload()
    with serving(app, port=port) as served:
        assert served == base
        r = make_reader(str(tmp_path / "reader.sqlite"))
        # reader does not follow RFC 5005 itself: the archive documents are found as a client
        # that does would (prev-archive from the feed, then from each archive), each added as a feed
        urls, url = [], f"{base}/ukraine/atom.xml"
        while url:
            response = httpx.get(url)
            assert response.status_code == 200 and response.headers["content-type"].startswith("application/atom+xml")
            urls.append(url)
            url = links(response.content).get("prev-archive")
        assert len(urls) == 1 + 2
        for url in urls:
            r.add_feed(url)
        r.update_feeds()
        for url in urls:
            assert r.get_feed(url).last_exception is None, url
        got = [e.id for e in r.get_entries()]
        per_feed = {url: {e.id for e in r.get_entries(feed=url)} for url in urls}
        # archives hold 3 each; the feed its newest 4 (so one story is in both: the same id)
        assert [len(per_feed[u]) for u in urls] == [4, 3, 3]
        assert set(got) == topic_ids(project, "ukraine") and len(set(got)) == 8
        # a publish with new stories: the reader updating again sees the same ids for the old ones
        add_stories(project, "2026-11-21_b.txt", UKRAINE[8:10])
        assert project.publish(NOW + timedelta(hours=1)).ok
        app.reload()
        r.update_feeds(scheduled=False)  # (now, not when reader's schedule says)
        again = {url: {e.id for e in r.get_entries(feed=url)} for url in urls}
        assert again[urls[1]] == per_feed[urls[1]] and again[urls[2]] == per_feed[urls[2]]
        assert len(again[urls[0]] - per_feed[urls[0]]) == 2
        assert set(e.id for e in r.get_entries()) == topic_ids(project, "ukraine")
        r.close()


# -- permalinks never 404 ------------------------------------------------------------------------------

def test_a_story_that_left_every_topic_still_answers_200_and_a_retracted_one_410(project):
    add_stories(project, "2026-11-20_a.txt", UKRAINE[:2])
    assert project.publish().ok
    # (the feed: newest first)
    feed = feedparser.parse((project.feeds / "ukraine" / "atom.xml").read_bytes())
    (other, other_path), (story, path) = [(e.id, urlsplit(e.link).path) for e in feed.entries]
    app = FeedServer(project.feeds)
    with serving(app) as base:
        # one story leaves every topic (a new rule), the other is retracted
        text = project.config_path.read_text()
        word = re.search(r"that (\w+)", UKRAINE[0]).group(1)  # a word of the first story only
        assert word not in UKRAINE[1]
        project.config_path.write_text(text.replace('exclude = ["eurovision"]', f'exclude = ["eurovision", "{word}"]'))
        assert project.publish(NOW + timedelta(hours=1)).ok
        assert stories.retract(project.config, other, "wrong desk", NOW + timedelta(hours=2)).done
        app.reload()
        left = httpx.get(base + path)
        assert left.status_code == 200 and "no longer in any topic's feed" in left.text
        gone = httpx.get(base + other_path)
        assert gone.status_code == 410 and "This story was retracted" in gone.text and "wrong desk" in gone.text
        assert gone.headers["content-type"] == "text/html; charset=utf-8"
        assert "default-src 'none'" in gone.headers["content-security-policy"]
        # conditional requests do not turn a 410 into a 304; HEAD says 410 too
        assert httpx.get(base + other_path, headers={"If-None-Match": "*"}).status_code == 410
        assert httpx.head(base + other_path).status_code == 410
        assert httpx.get(base + "/stories/retracted/" + other_path.rsplit("/", 1)[1]).status_code == 404
        assert httpx.get(base + "/stories/retracted/").status_code == 404
        # brought back: 200 again
        assert stories.unretract(project.config, other, NOW + timedelta(hours=3)).done
        app.reload()
        back = httpx.get(base + other_path)
        assert back.status_code == 200 and "This story was retracted" not in back.text


# -- a store made before 0012 ----------------------------------------------------------------------------

def test_a_store_made_before_0012_gets_its_archive_places_in_first_seen_order(project):
    """tests/data/store/pre-0010.sql (see test_feed_metadata): five stories in topics; 0012
    places them in each feed in the order they were first seen."""
    small_pages(project, page=2)
    with sqlite3.connect(project.database) as db:
        db.executescript((DATA / "store" / "pre-0010.sql").read_text())
    project.add_source("2026-11-20_desk.txt", (DATA / "store" / "pre-0010-wire.txt").read_bytes())
    Path(project.sources / "radio.rss").write_bytes((DATA / "store" / "pre-0010-radio.rss").read_bytes())
    store = Store.open(project.database, now=NOW)
    try:
        placed = store.sql.execute("""SELECT m.seq, e.entry_id FROM archive_members m JOIN entries e ON e.id = m.entry
                                      WHERE m.feed = '*' ORDER BY m.seq""").fetchall()
        order = store.sql.execute("SELECT entry_id FROM entries e WHERE EXISTS (SELECT 1 FROM entry_topics t "
                                  "WHERE t.entry = e.id) ORDER BY first_seen, id").fetchall()
        counts = store.archive_feeds()
        topics = store.topic_counts()
    finally:
        store.close()
    assert [r[1] for r in placed] == [r[0] for r in order] and [r[0] for r in placed] == list(range(1, len(order) + 1))
    assert {k: v[0] for k, v in counts.items() if k != "*"} == topics and counts["*"][0] == len(order)
    report = project.publish()
    assert report.ok
    page1 = feedparser.parse((project.feeds / "all" / "archive" / "1" / "atom.xml").read_bytes())
    assert {e.id for e in page1.entries} == {r[0] for r in order[:2]}
