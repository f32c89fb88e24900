"""Other people's metadata kept: an item's own dates (when sane), authors, categories,
enclosures and link; wire stories dated by their file; our topics as categories. Through the
real pipeline, checked with the W3C validator and read with `reader` as a subscriber would."""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
from datetime import UTC, datetime, timedelta

import feedparser
import pytest
from reader import make_reader

from conftest import DATA, NOW
from publisher import entries as rules
from publisher.model import Category, Enclosure, Person
from publisher.sources import feed
from publisher.store import MIGRATIONS, Store
from test_publish import assert_valid

FEEDS = DATA / "feeds"
LATER = NOW + timedelta(days=1)
READ = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # NOW: the time every story here is read


# -- the rules for dates (pure) ------------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    (datetime(2026, 11, 23, 6, 30, tzinfo=UTC), datetime(2026, 11, 23, 6, 30, tzinfo=UTC)),  # sane
    (NOW + timedelta(hours=3), NOW),  # within the skew: not later than when it was read
    (NOW + timedelta(days=2), None),  # the future: the time read is shown
    (datetime(1983, 1, 1, tzinfo=UTC), None),  # before 1990
    (None, None),  # none
])
def test_a_source_date_is_kept_only_when_sane(value, expected):
    assert rules.source_date(value, NOW) == expected


@pytest.mark.parametrize("name, mtime, expected", [
    ("2026-11-24_morning.txt", None, datetime(2026, 11, 24, tzinfo=UTC)),
    ("desk/copy-2026-11-02.txt", NOW - timedelta(days=1), datetime(2026, 11, 2, tzinfo=UTC)),
    ("notes.txt", datetime(2026, 11, 10, 9, tzinfo=UTC), datetime(2026, 11, 10, 9, tzinfo=UTC)),  # the mtime
    ("notes.txt", NOW + timedelta(hours=1), None),  # a future mtime: never later than the read
    ("2027-01-01.txt", datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC)),  # future name
    ("2026-02-30.txt", None, None),  # not a date
    ("120261124.txt", None, None),  # digits, not a date
])
def test_a_wire_story_is_dated_by_its_file_name_else_its_mtime(name, mtime, expected):
    assert rules.wire_date(name, mtime, NOW) == expected


# -- what the readers keep (pure) ----------------------------------------------------------------

def _stories(name):
    result = feed.parse((FEEDS / name).read_bytes(), url=name).result
    assert not result.skipped, result.skipped
    return {s.title: s for s in result.stories}


def test_an_rss_item_keeps_its_date_authors_categories_enclosures_and_link():
    s = _stories("meta.rss")
    shelters = s["Kyiv opens winter shelters"]
    assert shelters.published == datetime(2026, 11, 23, 6, 30, tzinfo=UTC)  # +0200 read as UTC
    assert shelters.meta.authors == (Person("Olena Kovalenko", "olena@radio.example.com"),)
    assert shelters.meta.categories == (Category("World", scheme="https://radio.example/sections"),
                                        Category("Energy"))
    assert shelters.meta.enclosures == (Enclosure("https://radio.example/audio/shelters.mp3", "audio/mpeg",
                                                  2345678),)
    assert shelters.origin.link == "https://radio.example/news/shelters"
    grid = s["Ukraine's grid operator extends outages"]
    assert grid.meta.authors == (Person("Newsroom Staff"),)  # dc:creator
    assert [c.term for c in grid.meta.categories] == ["Energy", "energy"]  # (one per term is the renderers')
    assert [e.url for e in grid.meta.enclosures] == ["https://radio.example/audio/grid.mp3",
                                                     "https://radio.example/img/grid.jpg"]  # made absolute
    rail = s["Ukraine's rail operator adds evacuation trains"]
    assert rail.published is None and rail.origin.link is None  # no date; a javascript: link dropped
    assert rail.meta.categories == (Category("Transport"),)  # a javascript: domain dropped
    assert rail.meta.enclosures == ()  # a javascript: URL is no enclosure
    assert rail.meta.authors == (Person("dispatch@radio.example.com", "dispatch@radio.example.com"),)
    assert s["Kyiv metro stations stay open overnight"].meta.authors == (Person("not an address"),)


def test_an_atom_entry_keeps_its_dates_authors_categories_and_every_enclosure():
    s = _stories("meta.atom")
    schools = s["Kyiv schools move lessons online"]
    assert schools.published == datetime(2026, 11, 22, 6, 15, tzinfo=UTC)
    assert schools.updated == datetime(2026, 11, 24, 9, tzinfo=UTC)
    assert schools.meta.authors == (Person("Iryna Bondar", "iryna@atom-meta.example.com", "https://atom-meta.example/iryna"),
                                    Person("Taras Melnyk"))
    assert schools.meta.categories[0] == Category("education", "Education", "https://atom-meta.example/tags/")
    assert [e.type for e in schools.meta.enclosures] == ["image/jpeg", "audio/ogg"]
    bakeries = s["Kyiv bakeries run on generators"]
    assert bakeries.published == datetime(2026, 11, 24, 10, 30, tzinfo=UTC)  # only <updated>: that date
    assert bakeries.meta.authors == (Person("Atom Desk", "desk@atom-meta.example.com"),)  # the feed's author


def test_a_json_feed_item_keeps_its_dates_authors_tags_and_attachments():
    (trams,) = _stories("meta.json").values()
    assert (trams.published, trams.updated) == (datetime(2026, 11, 21, 18, tzinfo=UTC),
                                                datetime(2026, 11, 23, 18, tzinfo=UTC))
    assert trams.meta.authors == (Person("Petro Shevchuk", "petro@json-meta.example.com"),)
    assert [c.term for c in trams.meta.categories] == ["Transport", "Kyiv"]
    assert trams.meta.enclosures == (Enclosure("https://json-meta.example/img/tram.png", "image/png", 9100),)


# -- end to end ------------------------------------------------------------------------------------

WIRE = {
    "2026-11-20_morning.txt": "Kyiv residents queued for water on Tuesday as Ukraine's capital lost power again "
                              "after Russian drone strikes on energy infrastructure overnight, the mayor said.\n",
    "desk-notes.txt": "Ukraine's parliament in Kyiv extended martial law for another 90 days on Wednesday, the "
                      "speaker of the Verkhovna Rada said after the vote.\n",
    "late.txt": "Kyiv's city council approved a winter budget for heating points across Ukraine's capital on "
                "Thursday, officials said after a long session.\n",
}
MTIMES = {"2026-11-20_morning.txt": datetime(2026, 11, 21, 7, tzinfo=UTC),  # the name wins
          "desk-notes.txt": datetime(2026, 11, 10, 9, 30, tzinfo=UTC),  # no date in the name: the mtime
          "late.txt": NOW + timedelta(days=30)}  # an mtime in the future: the time read


@pytest.fixture
def published(project):
    for name in ("meta.rss", "meta.atom", "meta.json"):
        shutil.copy(FEEDS / name, project.sources / name)
    for name, text in WIRE.items():
        path = project.add_source(name, text)
        os.utime(path, (MTIMES[name].timestamp(), MTIMES[name].timestamp()))
    report = project.publish()
    assert report.ok and not report.problems(), report.problems()
    return project


def _subscribe(project):
    """Each format of the Ukraine feed, read by `reader` as a subscriber: {format: {title: entry}}."""
    r = make_reader(":memory:", feed_root=str(project.feeds))
    urls = {fmt: f"file:ukraine/{fmt}" for fmt in ("atom.xml", "rss.xml", "feed.json")}
    for url in urls.values():
        r.add_feed(url)
    r.update_feeds()
    for url in urls.values():
        assert r.get_feed(url).last_exception is None
    return {fmt: {e.title: e for e in r.get_entries(feed=url)} for fmt, url in urls.items()}


def test_every_output_file_is_valid_with_other_peoples_metadata(published):
    assert_valid(published)


def test_a_subscriber_sees_the_items_own_dates_authors_enclosures_and_link(published):
    seen = _subscribe(published)
    for fmt, by_title in seen.items():
        assert len(by_title) == 10, fmt
        shelters = by_title["Kyiv opens winter shelters"]
        assert shelters.published == datetime(2026, 11, 23, 6, 30, tzinfo=UTC), fmt
        assert shelters.link == "https://radio.example/news/shelters", fmt  # the original article
        if fmt == "rss.xml":  # RSS's "email (name)": reader reads "name (email)" (feedparser splits it right)
            assert [a.name for a in shelters.authors] == ["olena@radio.example.com"]
            rss = feedparser.parse((published.feeds / "ukraine" / fmt).read_bytes()).entries
            (entry,) = [e for e in rss if e.title == shelters.title]
            assert entry.author_detail == {"name": "Olena Kovalenko", "email": "olena@radio.example.com"}
        else:
            assert [a.name for a in shelters.authors] == ["Olena Kovalenko"], fmt
        assert [(e.href, e.type, e.length) for e in shelters.enclosures] == [
            ("https://radio.example/audio/shelters.mp3", "audio/mpeg", 2345678)], fmt
        schools = by_title["Kyiv schools move lessons online"]
        if fmt != "feed.json":  # reader keeps one author of several from XML (feedparser's author_detail)
            atom = feedparser.parse((published.feeds / "ukraine" / fmt).read_bytes()).entries
            (entry,) = [e for e in atom if e.title == schools.title]
            assert [a.name for a in entry.authors] == ["Iryna Bondar", "Taras Melnyk"]
        else:
            assert [a.name for a in schools.authors] == ["Iryna Bondar", "Taras Melnyk"], fmt
        # RSS carries one enclosure an item (the first); Atom and JSON Feed all of them
        assert len(schools.enclosures) == (1 if fmt == "rss.xml" else 2), fmt
        assert schools.published == datetime(2026, 11, 22, 6, 15, tzinfo=UTC), fmt
        if fmt == "rss.xml":  # an address alone is no "address (Real Name)" <author>: a dc:creator
            rss = feedparser.parse((published.feeds / "ukraine" / fmt).read_bytes()).entries
            (rail,) = [e for e in rss if e.title == "Ukraine's rail operator adds evacuation trains"]
            assert rail.author == "dispatch@radio.example.com" and "<author>" not in str(rail)
        # a date in the future, before 1990 or none: the time it was read
        for title in ("Ukraine's grid operator extends outages", "Kyiv metro stations stay open overnight",
                      "Ukraine's rail operator adds evacuation trains"):
            assert abs(by_title[title].published - READ) < timedelta(seconds=1), (fmt, title)
        wire = {e.title.split()[0] + e.title.split()[1]: e for e in by_title.values() if e.link and
                e.link.startswith("http://127.0.0.1:8080/stories/")}
        dates = sorted(e.published for e in wire.values())
        assert dates[:2] == [datetime(2026, 11, 10, 9, 30, tzinfo=UTC), datetime(2026, 11, 20, tzinfo=UTC)], fmt
        assert abs(dates[2] - READ) < timedelta(seconds=1), fmt  # the file dated in the future


def test_every_entry_carries_its_topics_and_its_sources_categories_once(published):
    atom = feedparser.parse((published.feeds / "all" / "atom.xml").read_bytes())
    assert not atom.bozo
    for e in atom.entries:
        ours = [t for t in e.tags if t.scheme == "http://127.0.0.1:8080/ukraine/"]
        assert [(t.term, t.label) for t in ours] == [("ukraine", "Ukraine")], e.title
        assert len({(t.term.casefold(), t.scheme) for t in e.tags}) == len(e.tags), e.title
    by_title = {e.title: e for e in atom.entries}
    assert [(t.term, t.scheme) for t in by_title["Kyiv opens winter shelters"].tags] == [
        ("World", "https://radio.example/sections"), ("Energy", None), ("ukraine", "http://127.0.0.1:8080/ukraine/")]
    assert [t.term for t in by_title["Ukraine's grid operator extends outages"].tags] == ["Energy", "ukraine"]
    rss = {e.title: e for e in feedparser.parse((published.feeds / "all" / "rss.xml").read_bytes()).entries}
    assert [t.term for t in rss["Kyiv schools move lessons online"].tags] == ["Ukraine", "Education"]
    items = {i["title"]: i for i in json.loads((published.feeds / "all" / "feed.json").read_bytes())["items"]}
    assert items["Kyiv trams return after repairs"]["tags"] == ["Transport", "Kyiv", "Ukraine"]
    assert items["Kyiv schools move lessons online"]["tags"] == ["Education", "Ukraine"]  # source "ukraine": once
    assert all("Ukraine" in i["tags"] for i in items.values())
    # the original is the item's url; its page here is the page elsewhere
    assert items["Kyiv trams return after repairs"]["url"] == "https://json-meta.example/trams"
    assert items["Kyiv trams return after repairs"]["external_url"].startswith("http://127.0.0.1:8080/stories/")


def test_a_story_page_shows_the_source_date_authors_enclosures_and_topics(published):
    (page,) = [p for p in (published.feeds / "stories").glob("kyiv-opens-winter-shelters-*.html")]
    text = page.read_text()
    assert 'Published <time datetime="2026-11-23T06:30:00Z">' in text
    assert "By Olena Kovalenko" in text
    assert 'href="https://radio.example/audio/shelters.mp3"' in text
    assert re.search(r'<a href="\.\./ukraine/">Ukraine</a>', text)
    assert "World, Energy" in text


def test_republishing_without_changes_gives_the_same_bytes(published):
    before = published.site_bytes()
    report = published.publish(LATER)
    assert report.ok and report.feed_files_written == [] and report.pages_written == 0
    assert published.site_bytes() == before


def test_a_feeds_revision_updates_the_metadata_and_keeps_the_published_date(published):
    path = published.sources / "meta.rss"
    text = path.read_text().replace("Kyiv opened 40 heated shelters", "Kyiv opened 45 heated shelters")
    text = text.replace("<author>olena@radio.example.com (Olena Kovalenko)</author>",
                        "<author>olena@radio.example.com (Olena Kovalenko)</author>"
                        "<author>mark@radio.example.com (Mark Lysenko)</author>", 1)
    text = text.replace("Mon, 23 Nov 2026 08:30:00 +0200", "Mon, 23 Nov 2026 09:30:00 +0200", 1)
    path.write_text(text)
    assert published.publish(LATER).ok
    (shelters,) = [e for e in feedparser.parse((published.feeds / "ukraine" / "atom.xml").read_bytes()).entries
                   if e.title == "Kyiv opens winter shelters"]
    assert [a.name for a in shelters.authors] == ["Olena Kovalenko", "Mark Lysenko"]
    assert shelters.published == "2026-11-23T06:30:00+00:00"  # stored once: not re-dated
    assert shelters.updated.startswith(LATER.date().isoformat())  # the store's own time moves


def test_a_copy_from_another_source_changes_no_metadata(published):
    before = published.feed_bytes()
    # the same text, from a feed that says nothing of authors, categories or enclosures
    published.add_source("copy.rss", '<?xml version="1.0"?><rss version="2.0"><channel><title>Copier</title>'
                         "<link>https://copier.example/</link><description>d</description><item><title>Copy</title>"
                         "<guid>c1</guid><description>Kyiv opened 40 heated shelters on Monday as Ukraine braced for "
                         "more power cuts, the city administration said.</description></item></channel></rss>")
    report = published.publish(LATER)
    assert report.ok and [s.duplicate for s in report.sources if s.name == "copy.rss"] == [1]
    assert published.feed_bytes() == before


# -- a store made before 0010 -----------------------------------------------------------------------

def test_a_store_made_before_0010_is_migrated_and_nothing_is_re_dated(project):
    """tests/data/store/pre-0010.sql: `sqlite3 publisher.db .dump` of a store published on
    2026-11-24 12:00 UTC by the code before 0010 (git archive e55f365), from
    tests/data/store/pre-0010-wire.txt as sources/2026-11-20_desk.txt and
    tests/data/store/pre-0010-radio.rss (meta.rss as it was then) as sources/radio.rss."""
    with sqlite3.connect(project.database) as db:
        db.executescript((DATA / "store" / "pre-0010.sql").read_text())
    project.add_source("2026-11-20_desk.txt", (DATA / "store" / "pre-0010-wire.txt").read_bytes())
    shutil.copy(DATA / "store" / "pre-0010-radio.rss", project.sources / "radio.rss")
    with sqlite3.connect(project.database) as db:
        stored = db.execute("SELECT entry_id, first_seen, updated FROM entries ORDER BY id").fetchall()
    assert len(stored) == 5
    report = project.publish()
    assert report.ok and all(s.outcome == "unchanged" for s in report.sources), report.sources
    store = Store.open(project.database, now=NOW)
    try:
        assert not MIGRATIONS.pending(store.db)
        rows = store.sql.execute("SELECT entry_id, first_seen, updated, source_published, source_updated "
                                 "FROM entries ORDER BY id").fetchall()
    finally:
        store.close()
    assert [r[:3] for r in rows] == stored and all(r[3] is None and r[4] is None for r in rows)
    atom = feedparser.parse((project.feeds / "all" / "atom.xml").read_bytes())
    published = {e.id: e.published for e in atom.entries}
    assert published == {entry_id: first_seen.replace("Z", "+00:00").replace(".000000", "")
                         for entry_id, first_seen, _ in stored}  # shown as before: first seen
    assert_valid(project)
    before = project.site_bytes()
    assert project.publish(LATER).ok
    assert project.site_bytes() == before


def test_hostile_metadata_is_dropped_or_made_valid_and_never_costs_a_feed_or_a_file(project):
    # an attacker-reviewer's findings: a control character or a lone surrogate in an address
    # stopped two feeds from being written; a superscript-digit length lost the whole file; two
    # addressed authors made two RSS <author>s; a source filed its item under our own topic
    for name in ("meta-hostile.rss", "meta-hostile.json"):
        shutil.copy(FEEDS / name, project.sources / name)
    report = project.publish()
    assert report.ok and [s.outcome for s in report.sources] == ["new", "new"], report.problems()
    for slug in ("all", "ukraine"):
        for fmt in ("atom.xml", "rss.xml", "feed.json"):
            assert (project.feeds / slug / fmt).exists(), (slug, fmt)
    assert_valid(project)
    rss = (project.feeds / "ukraine" / "rss.xml").read_text()
    assert "<author>" not in rss and ">John Doe</dc:creator>" in rss and ">Jane Roe</dc:creator>" in rss
    assert ">€@x.com</dc:creator>" in rss and "\x01" not in rss  # not an address: a name, as it came
    atom = feedparser.parse((project.feeds / "all" / "atom.xml").read_bytes())
    trams = next(e for e in atom.entries if e.title == "Kyiv trams return after repairs")
    assert [t.term for t in trams.tags if "taiwan" in t.term.lower()] == []  # not forged into our topic
    assert [l.get("length") for l in trams.links if l.rel == "enclosure"] in ([None], ["0"], [])
