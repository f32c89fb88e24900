"""The whole pipeline on real files, a real SQLite database and the real seed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from datetime import timedelta

import feedparser
import pytest

from conftest import NOW, SAMPLES, SEED, VALIDATOR
from publisher import atomic, ingest as ingest_mod, lock, site as site_mod
from publisher.status import status as publisher_status
from publisher.classify import classify_story, score
from publisher.errors import ConfigError, LockHeld
from publisher.sources import wire

SEED_NAME = SEED.name
ARTICLE = ("The harbour master said on Monday that the new breakwater would be finished in May.\n"
           "Work had been delayed by storms in the autumn.\n")


def entries(project, slug, fmt="atom.xml"):
    parsed = feedparser.parse((project.feeds / slug / fmt).read_bytes())
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    return parsed.entries


def ids(project, slug, fmt="atom.xml"):
    return [e.id for e in entries(project, slug, fmt)]


# -- the seed end to end ---------------------------------------------------------------------

def test_seed_publishes_ukraine_1_taiwan_security_4_merged_5(project, seed):
    project.add_source(SEED_NAME, seed)
    report = project.publish()
    assert report.ok and report.summary().startswith("publish: 1 files read")
    for fmt in ("atom.xml", "rss.xml"):
        assert len(entries(project, "ukraine", fmt)) == 1
        assert len(entries(project, "taiwan-security", fmt)) == 4
        assert len(entries(project, "all", fmt)) == 5


def test_seed_ids_are_equal_in_topic_feeds_and_merged_feed_and_across_formats(project, seed):
    project.add_source(SEED_NAME, seed)
    project.publish()
    merged = set(ids(project, "all"))
    assert set(ids(project, "ukraine")) | set(ids(project, "taiwan-security")) == merged
    assert set(ids(project, "all", "rss.xml")) == merged
    assert all(i.startswith("tag:publisher.example.org,2026:story/") for i in merged)


def test_seed_entries_have_distinct_dates_in_file_order_newest_first(project, seed):
    project.add_source(SEED_NAME, seed)
    project.publish()
    atom = entries(project, "all")
    published = [e.published for e in atom]
    assert published == sorted(published, reverse=True) and len(set(published)) == 5
    assert atom[-1].title.startswith("The US will soon provide Ukraine")  # line 1: first seen
    feed = feedparser.parse((project.feeds / "all" / "atom.xml").read_bytes()).feed
    assert feed.updated == atom[0].updated  # the newest entry's, not the build time


def run_validator(*paths):
    if not VALIDATOR.exists():
        pytest.skip(f"W3C validator not found at {VALIDATOR}")
    env = dict(os.environ, PYTHON=sys.executable)
    proc = subprocess.run([str(VALIDATOR), "--base", "http://127.0.0.1:8080/", "--root", str(paths[0]),
                           *map(str, paths)],
                          capture_output=True, text=True, env=env, timeout=300)
    return proc


def assert_valid(project):
    """Every feed file: Atom, RSS and JSON Feed of each feed (found in the directory), the OPML."""
    proc = run_validator(project.feeds, project.feeds / "feeds.opml")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    files = out.count("=== ")
    assert files == 10 and out.count("-> valid (0 errors, 0 warnings)") == files, out


def test_every_published_file_passes_the_w3c_validator(project, seed):
    project.add_source(SEED_NAME, seed)
    project.add_source("awkward.txt", "AT&T <SAYS>: Prices for Taiwan’s military drills & PLA “exercises” <rose> in "
                       "Taipei on Monday The national security bureau & the coast guard said\x07 more.\n")
    project.publish()
    assert_valid(project)


def test_empty_feeds_are_valid_and_stable(project):
    first = project.publish()
    assert first.ok and len(first.feed_files_written) == 10  # 3 feeds x (Atom, RSS, JSON Feed) + the OPML
    assert_valid(project)
    before = project.site_bytes()
    project.publish(NOW + timedelta(days=1))
    assert project.site_bytes() == before


# -- stability -------------------------------------------------------------------------------

def test_publishing_twice_changes_no_byte_and_rewrites_no_file(project, seed):
    project.add_source(SEED_NAME, seed)
    project.publish()
    before = project.site_bytes()
    mtimes = {p: p.stat().st_mtime_ns for p in project.feeds.rglob("*") if p.is_file()}
    second = project.publish(NOW + timedelta(hours=1))
    assert project.site_bytes() == before
    assert second.feed_files_written == [] and {p: p.stat().st_mtime_ns for p in mtimes} == mtimes
    assert second.summary() == ("publish: 0 files read (0 skipped, 0 failed, 1 unchanged); "
                                "0 stories (0 new, 0 revised, 0 duplicate); 0 of 10 feed files and 0 of 4 pages written")


def test_a_seed_story_copied_with_crlf_and_bom_into_a_new_file_is_no_new_entry(project, seed):
    project.add_source(SEED_NAME, seed)
    project.publish()
    before = project.feed_bytes()
    line17 = seed.decode("utf-8").split("\n")[16]
    project.add_source("zz_copy.txt", b"\xef\xbb\xbf" + (line17 + "\r\n").encode("utf-8"))
    report = project.publish(NOW + timedelta(hours=1))
    copy = next(s for s in report.sources if s.name == "zz_copy.txt")
    assert (copy.outcome, copy.stories, copy.new, copy.duplicate) == ("duplicate", 1, 0, 1)
    assert project.feed_bytes() == before


def test_the_seed_resaved_with_crlf_and_bom_gives_no_new_entries(project, seed):
    path = project.add_source(SEED_NAME, seed)
    project.publish()
    before = project.feed_bytes()
    path.write_bytes(b"\xef\xbb\xbf" + seed.replace(b"\n", b"\r\n"))
    report = project.publish(NOW + timedelta(hours=1))
    assert report.sources[0].outcome == "duplicate" and report.sources[0].duplicate == 5
    assert project.feed_bytes() == before


def test_an_unchanged_file_is_not_even_read(project, monkeypatch):
    project.add_source("a.txt", ARTICLE)
    project.publish()

    def no_reads(path, limit):
        raise AssertionError(f"{path} was read again")

    monkeypatch.setattr(ingest_mod, "read_bytes", no_reads)
    assert project.publish().sources[0].outcome == "unchanged"


def test_a_touched_file_with_the_same_bytes_is_hashed_but_not_parsed(project, monkeypatch):
    path = project.add_source("a.txt", ARTICLE)
    project.publish()
    os.utime(path, ns=(1, 1))

    def no_parse(data):
        raise AssertionError("parsed again")

    monkeypatch.setattr(wire, "read", no_parse)
    assert project.publish().sources[0].outcome == "unchanged"
    monkeypatch.undo()
    monkeypatch.setattr(ingest_mod, "read_bytes", lambda p, limit: (_ for _ in ()).throw(AssertionError("read")))
    assert project.publish().sources[0].outcome == "unchanged"  # the new stat was remembered


def test_rebuilding_the_database_from_the_same_sources_gives_the_same_ids(project, seed):
    project.add_source(SEED_NAME, seed)
    project.publish()
    first = ids(project, "all")
    project.database.unlink()
    project.publish(NOW + timedelta(days=3))
    assert ids(project, "all") == first


# -- configuration takes effect at publish time ----------------------------------------------

def test_an_edited_rule_re_sorts_the_feeds_on_the_next_publish(project, seed):
    project.add_source(SEED_NAME, seed)
    project.publish()
    taiwan = project.config.topics[1]
    scores = sorted(classify_story((taiwan,), s.kicker, s.paragraphs)[0].score for s in wire.read(seed).stories[1:])
    threshold = scores[2]  # keeps the two strongest Taiwan security stories
    assert scores[1] < threshold
    text = project.config_path.read_text()
    at = text.index('slug = "taiwan-security"')
    text = text[:at] + text[at:].replace(f"threshold = {taiwan.threshold:g}", f"threshold = {threshold}", 1)
    project.config_path.write_text(text)
    project.publish()
    assert len(ids(project, "taiwan-security")) == 2
    assert len(ids(project, "all")) == 3


def test_max_entries_caps_every_feed_keeping_the_newest(project, seed):
    project.add_source(SEED_NAME, seed)
    project.publish()
    newest = ids(project, "all")[:2]
    project.config_path.write_text(project.config_path.read_text().replace("max_entries = 50", "max_entries = 2"))
    project.publish()
    assert ids(project, "all") == newest and len(ids(project, "taiwan-security")) == 2


def test_stories_of_no_topic_are_stored_and_counted_but_not_published(project):
    project.add_source("a.txt", ARTICLE)
    project.publish()
    assert ids(project, "all") == []
    status = publisher_status(project.config, NOW)
    assert status["entries"] == 1 and status["unclassified"] == 1


# -- bad input: one line naming the file, the rest still published ---------------------------

def test_bad_files_are_skipped_or_failed_with_a_reason_and_the_rest_is_published(project, seed, monkeypatch):
    project.add_source(SEED_NAME, seed)
    project.add_source("empty.txt", b"")
    project.add_source("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    project.add_source("latin.txt", "Kyiv said the “talks” in Ukraine – with Ukrainian and Russian envoys – "
                                    "would resume in Geneva, Ukraine’s foreign ministry said.\n".encode("cp1252"))
    locked = project.add_source("locked.txt", ARTICLE)
    real = ingest_mod.read_bytes

    def read(source, limit):  # the read seam: a SourceFile and the bytes_per_file limit
        if source.path == locked:
            raise PermissionError(13, "Permission denied")
        return real(source, limit)

    monkeypatch.setattr(ingest_mod, "read_bytes", read)  # CI runs as root: inject the error
    report = project.publish()
    outcomes = {s.name: (s.outcome, s.reason) for s in report.sources}
    assert outcomes["empty.txt"] == ("skipped", "empty file")
    assert outcomes["image.txt"][0] == "skipped" and "binary" in outcomes["image.txt"][1]
    assert outcomes["locked.txt"] == ("failed", "cannot read: Permission denied")
    assert outcomes["latin.txt"][0] == "new" and "cp1252" in outcomes["latin.txt"][1]
    assert not report.ok  # a failed source: exit status 1
    assert len(ids(project, "all")) == 6 and len(ids(project, "ukraine")) == 2
    assert report.problems() == [
        "empty.txt: skipped: empty file",
        f"image.txt: skipped: {outcomes['image.txt'][1]}",
        f"latin.txt: warning: {outcomes['latin.txt'][1]}",
        "locked.txt: failed: cannot read: Permission denied",
    ]
    # a failed file is tried again next time; the skipped ones are not
    monkeypatch.setattr(ingest_mod, "read_bytes", real)
    again = {s.name: s.outcome for s in project.publish().sources}
    assert again == {SEED_NAME: "unchanged", "empty.txt": "unchanged", "image.txt": "unchanged",
                     "latin.txt": "unchanged", "locked.txt": "new"}


def test_a_file_still_being_written_is_skipped_and_read_whole_next_time(project, monkeypatch):
    path = project.add_source("growing.txt", ARTICLE)
    real = ingest_mod.read_bytes

    def read_while_the_writer_appends(source, limit):
        data = real(source, limit)
        with open(source.path, "a", encoding="utf-8") as f:
            f.write("\nA second story arrived while we were reading.\n")
        return data

    monkeypatch.setattr(ingest_mod, "read_bytes", read_while_the_writer_appends)
    report = project.publish()
    assert report.ok and report.sources[0].outcome == "skipped"
    assert report.problems() == ["growing.txt: skipped: changed while being read (still being written?); "
                                 "it will be read again on the next run"]
    assert publisher_status(project.config, NOW)["entries"] == 0
    monkeypatch.undo()
    again = project.publish().sources[0]
    assert (again.outcome, again.new) == ("new", 2)
    assert path.read_text().count("\n") == 4


def test_a_file_name_that_is_not_utf8_is_read_and_named_with_escapes(project):
    (project.sources / os.fsdecode(b"caf\xe9.txt")).write_text(ARTICLE)
    report = project.publish()
    assert report.ok and [(s.name, s.outcome) for s in report.sources] == [("caf\\xe9.txt", "new")]
    assert publisher_status(project.config, NOW)["sources"][0]["path"] == "caf\\xe9.txt"


def test_a_subdirectory_that_cannot_be_listed_is_reported_and_the_rest_read(project, monkeypatch):
    project.add_source("a.txt", ARTICLE)
    project.add_source("locked/b.txt", "Another story of the day ended.\n")
    real = os.scandir

    def scandir(path="."):
        if os.fspath(path).endswith("locked"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)  # CI runs as root: inject the error
    report = project.publish()
    assert report.errors == [f"{project.sources / 'locked'}: cannot list directory: Permission denied"]
    assert [s.name for s in report.sources] == ["a.txt"] and not report.ok


def test_an_unexpected_error_in_one_file_is_that_files_result(project, monkeypatch):
    project.add_source("a.txt", ARTICLE)
    project.add_source("b.txt", "Another story of the day ended.\n")
    real = wire.read

    def explode_on_a(data, *args):
        if data == ARTICLE.encode():
            raise ValueError("unexpected")
        return real(data, *args)

    monkeypatch.setattr(wire, "read", explode_on_a)
    report = project.publish()
    assert [(s.name, s.outcome, s.reason) for s in report.sources] == [
        ("a.txt", "failed", "ValueError: unexpected"), ("b.txt", "new", None)]


def test_nothing_published_is_lost_when_sources_vanish_or_turn_bad(project, seed):
    path = project.add_source(SEED_NAME, seed)
    project.publish()
    before = project.feed_bytes()
    path.write_bytes(b"\x00\x01garbage")
    assert project.publish().sources[0].outcome == "skipped"
    assert project.feed_bytes() == before
    path.unlink()
    project.sources.rmdir()
    report = project.publish()
    assert report.errors == [f"{project.sources}: sources directory not found"] and not report.ok
    assert project.feed_bytes() == before


def test_a_feed_file_that_cannot_be_written_is_reported_and_the_others_are_written(project, seed, monkeypatch):
    project.add_source(SEED_NAME, seed)
    real_replace = os.replace

    def replace(src, dst):
        if str(dst).endswith(os.path.join("ukraine", "rss.xml")):
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    report = project.publish()
    assert report.errors == [f"{project.feeds / 'ukraine' / 'rss.xml'}: cannot write: No space left on device"]
    assert len(report.feed_files_written) == 9 and not report.ok
    assert not (project.feeds / "ukraine" / "rss.xml").exists()
    assert not list(project.feeds.rglob(".*.tmp"))  # no temp file left behind
    monkeypatch.undo()
    assert project.publish().feed_files_written == [project.feeds / "ukraine" / "rss.xml"]


def test_a_story_that_fails_to_store_rolls_back_its_whole_file(project, monkeypatch):
    project.add_source("a.txt", ARTICLE + "\nThe second story of the file ended.\n")
    from publisher.store import Store

    calls = []
    real = Store.apply

    def flaky(self, placement, story, *a, **kw):
        calls.append(story)
        if len(calls) == 2:
            raise RuntimeError("disk hiccup")
        return real(self, placement, story, *a, **kw)

    monkeypatch.setattr(Store, "apply", flaky)
    report = project.publish()
    assert report.sources[0].outcome == "failed" and "disk hiccup" in report.sources[0].reason
    assert publisher_status(project.config, NOW)["entries"] == 0  # not half a file
    monkeypatch.undo()
    assert project.publish().sources[0].new == 2


def test_a_file_that_fails_to_store_leaves_the_other_files_of_its_batch_stored(project, monkeypatch):
    for name in ("a.txt", "b.txt", "c.txt"):
        project.add_source(name, f"The {name[0]} story of the day ended well.\n")
    from publisher.store import Store

    real = Store.apply

    def fail_b(self, placement, story, *a, **kw):
        if " b story" in story.paragraphs[0]:
            raise RuntimeError("disk hiccup")
        return real(self, placement, story, *a, **kw)

    monkeypatch.setattr(Store, "apply", fail_b)
    report = project.publish()
    assert [(s.name, s.outcome) for s in report.sources] == [("a.txt", "new"), ("b.txt", "failed"), ("c.txt", "new")]
    assert publisher_status(project.config, NOW)["entries"] == 2


# -- one writer at a time --------------------------------------------------------------------

def test_publish_refuses_while_another_process_holds_the_lock(project):
    config = project.config
    with lock.held(config.paths.lock):
        with pytest.raises(LockHeld, match="another publisher process holds the lock"):
            project.publish()
    assert project.publish().ok  # released: works again


def test_a_killed_process_leaves_no_stale_lock(project):
    config = project.config
    code = f"import fcntl, os, time; fd = os.open({str(config.paths.lock)!r}, os.O_RDWR | os.O_CREAT); " \
           "fcntl.flock(fd, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(60)"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        with pytest.raises(LockHeld):
            project.publish()
    finally:
        proc.kill()
        proc.wait()
    assert project.publish().ok


def test_the_shipped_sample_sources_publish_cleanly(project):
    for path in sorted(SAMPLES.glob("*.txt")):
        project.add_source(path.name, path.read_bytes())
    report = project.publish()
    assert report.ok and report.problems() == []
    assert ids(project, "ukraine") and ids(project, "taiwan-security")
    assert_valid(project)


def test_feeds_with_a_websub_hub_carry_it_and_stay_valid(project, seed):
    project.config_path.write_text(project.config_path.read_text() + '\n[websub]\nhub = "https://hub.example.org/?a=1&b=2"\n')
    project.add_source(SEED_NAME, seed)
    project.publish()
    for slug in ("ukraine", "taiwan-security", "all"):
        atom = (project.feeds / slug / "atom.xml").read_text()
        rss = (project.feeds / slug / "rss.xml").read_text()
        assert '<link href="https://hub.example.org/?a=1&amp;b=2" rel="hub"/>' in atom
        assert '<atom:link href="https://hub.example.org/?a=1&amp;b=2" rel="hub"/>' in rss
    assert_valid(project)


# -- pages: front page, feed pages, story pages ------------------------------------------------

def lxml_html(text):
    import lxml.html

    return lxml.html.fromstring(text)


def page_of(project, entry):
    import lxml.html
    from urllib.parse import urlsplit

    path = urlsplit(entry.link).path  # http://127.0.0.1:8080/stories/<name>.html
    assert path.startswith("/stories/") and path.endswith(".html")
    return lxml.html.fromstring((project.feeds / path.lstrip("/")).read_bytes().decode())


def test_every_entry_link_leads_to_a_page_showing_that_story(project, seed):
    project.add_source(SEED_NAME, seed)
    project.publish()
    all_entries = entries(project, "all")
    assert len(all_entries) == 5 and len(list((project.feeds / "stories").glob("*.html"))) == 5
    whole = 0
    for e in all_entries:
        page = page_of(project, e)
        # the whole headline: the feed's title is cut at 140 characters, the page's is not
        headline = page.xpath("//h1")[0].text_content()
        assert headline.startswith(e.title.removesuffix("…")) and len(e.title) <= 140
        whole += len(headline) > 140
        assert page.xpath("//code")[-1].text_content() == e.id
    assert whole == 5  # every headline of the seed runs past 140 characters
    index = (project.feeds / "index.html").read_text()
    assert all(f'href="stories/{e.link.rsplit("/", 1)[1]}"' in index for e in all_entries)


def test_pages_are_written_again_only_for_stories_that_changed(project, seed):
    project.add_source(SEED_NAME, seed)
    first = project.publish()
    assert (first.pages, first.pages_written) == (4 + 5, 4 + 5)  # front + 3 feed pages, 5 stories
    second = project.publish(NOW + timedelta(hours=1))
    assert (second.pages, second.pages_written) == (4, 0)  # nothing rendered for unchanged stories
    line17 = seed.decode().split("\n")[16]
    project.add_source("copy.txt", line17 + "\n")  # one story arrives again: its page lists it
    third = project.publish(NOW + timedelta(hours=2))
    assert (third.pages, third.pages_written) == (5, 1)
    (story,) = [p for p in (project.feeds / "stories").glob("*.html") if "copy.txt" in p.read_text()]
    assert "the same text again" in story.read_text()


def test_a_new_site_title_writes_every_page_again(project, seed):
    project.add_source(SEED_NAME, seed)
    project.publish()
    project.config_path.write_text(project.config_path.read_text().replace('title = "Publisher Wire"',
                                                                           'title = "Other Wire"', 1))
    report = project.publish(NOW + timedelta(hours=1))
    assert (report.pages, report.pages_written) == (9, 9)
    assert all("Other Wire" in p.read_text() for p in (project.feeds / "stories").glob("*.html"))


def test_a_revised_story_has_an_updated_note_in_every_format_and_its_history_on_its_page(project):
    project.add_source("a.txt", "UKRAINE: A drone strike on Kharkiv in Ukraine killed 2 people on Monday, the "
                                "governor said. Rescue teams from Kyiv worked through the night in the ruins.\n")
    project.publish(NOW)
    project.add_source("b.txt", "UKRAINE: A drone strike on Kharkiv in Ukraine killed 3 people on Monday, the "
                                "governor said. Rescue teams from Kyiv worked through the night in the ruins.\n")
    project.publish(NOW + timedelta(hours=3))
    (atom,) = entries(project, "ukraine")
    (rss,) = entries(project, "ukraine", "rss.xml")
    import json as json_mod
    (item,) = json_mod.loads((project.feeds / "ukraine" / "feed.json").read_text())["items"]
    note = "Updated: 25 Nov 2026, 15:00 UTC (first published 25 Nov 2026, 12:00 UTC)."
    for content in (atom.content[0].value, rss.content[0].value, item["content_html"]):
        assert content.endswith(f"<p><em>{note}</em></p>")
    page = page_of(project, atom)
    assert [d.text_content() for d in page.xpath("//div[@class='version']//del")] == ["2"]
    assert [d.text_content() for d in page.xpath("//div[@class='version']//ins")] == ["3"]


def test_a_retracted_storys_page_says_so_and_keeps_no_text(project):
    project.add_source("a.txt", "KYIV: Ukraine's parliament met in Kyiv on a secretive matter on Monday, officials said.\n")
    project.publish()
    (e,) = entries(project, "ukraine")
    from publisher.store import Store
    store = Store.open(project.database, now=NOW)
    with store.transaction():
        store.retract(store.find_entry(e.id), "filed by mistake", NOW + timedelta(minutes=5))
    store.close()
    project.publish(NOW + timedelta(hours=1))
    assert entries(project, "ukraine") == []
    name = e.link.rsplit("/", 1)[1]
    # the page moves to stories/retracted/ (which the servers answer the permalink with, 410 Gone)
    assert not (project.feeds / "stories" / name).exists()
    data = (project.feeds / "stories" / "retracted" / name).read_text()
    page = lxml_html(data)
    assert "secretive" not in data and "parliament" not in data
    assert page.xpath("//h1")[0].text_content() == "Retracted story"
    assert "filed by mistake" in page.xpath("//p[@class='note']")[0].text_content()


def test_a_story_that_leaves_every_topic_keeps_its_page_saying_so(project):
    project.add_source("a.txt", "KYIV: Ukraine's grid operator in Kyiv said repairs would take weeks, officials said.\n")
    project.add_source("b.txt", "The harbour master said on Monday that the new breakwater would be finished.\n")
    project.publish()
    (e,) = entries(project, "ukraine")
    page = project.feeds / "stories" / e.link.rsplit("/", 1)[1]
    assert page.exists() and "no longer in any topic" not in page.read_text()
    project.config_path.write_text(project.config_path.read_text().replace('exclude = ["eurovision"]',
                                                                           'exclude = ["eurovision", "grid"]'))
    project.publish(NOW + timedelta(hours=1))
    assert entries(project, "ukraine") == [] and page.exists()
    text = lxml_html(page.read_text()).text_content()
    assert "no longer in any topic's feed" in text and "repairs would take weeks" in text
    # a story never in a topic (the harbour) never had a page
    assert sorted(p.name for p in (project.feeds / "stories").glob("*.html")) == [page.name]


HOSTILE = ("ALERT: Taipei police said a <script>alert(1)</script> & ]]> string\x07 appeared on a Taiwan national "
           "security bureau site on Monday as PLA drills went on near Taiwan.\n")


def test_hostile_story_text_shows_as_text_in_every_format_and_the_page(project):
    import json as json_mod
    import html as html_mod

    project.add_source("x.txt", HOSTILE)
    project.publish()
    literal = "<script>alert(1)</script> & ]]> string appeared"
    (atom,) = entries(project, "taiwan-security")
    (rss,) = entries(project, "taiwan-security", "rss.xml")
    (item,) = json_mod.loads((project.feeds / "taiwan-security" / "feed.json").read_text())["items"]
    for content in (atom.content[0].value, rss.content[0].value, item["content_html"]):
        assert "<script>" not in content and literal in html_mod.unescape(content)  # escaped HTML: text
    # an Atom title with markup-like text is type="html", escaped: readers show the same text
    assert atom.title_detail.type == "text/html" and "<script>" not in atom.title
    assert html_mod.unescape(atom.title).startswith("ALERT: Taipei police said a <script>")
    # an RSS title cannot say it is text: a word joiner (invisible) keeps "</" from being an end tag
    assert rss.title.startswith("ALERT: Taipei police said a <script>alert(1)<\u2060/script> & ]]> string")
    page = page_of(project, atom)
    assert page.xpath("//script") == [] and literal in page.xpath("//article")[0].text_content()
    for path in project.feeds.rglob("*"):
        if path.is_file() and path.suffix not in (".png", ".ico"):  # (text files: the icons are binary)
            assert b"\x07" not in path.read_bytes()
    assert_valid(project)


def test_a_page_that_cannot_be_written_is_reported_and_written_on_the_next_run(project, seed, monkeypatch):
    project.add_source(SEED_NAME, seed)
    real = atomic.write_if_changed

    def failing(path, data, **kw):
        if path.parent.name == "stories" and path.name.startswith("on-alert"):
            raise OSError(28, "No space left on device")  # CI runs as root: inject it
        return real(path, data, **kw)

    monkeypatch.setattr(atomic, "write_if_changed", failing)
    report = project.publish()
    (line,) = report.errors
    assert line.endswith(".html: cannot write: No space left on device") and "/stories/on-alert" in line
    assert len(list((project.feeds / "stories").glob("*.html"))) == 4
    monkeypatch.undo()
    again = project.publish(NOW + timedelta(hours=1))
    assert again.ok and again.pages_written == 1
    assert len(list((project.feeds / "stories").glob("*.html"))) == 5


def test_a_feed_that_cannot_be_rendered_is_reported_and_the_others_are_written(project, seed, monkeypatch):
    project.add_source(SEED_NAME, seed)
    real = site_mod.render

    def broken(spec, cache=None):
        if spec.slug == "ukraine":
            raise ValueError("a bug")
        return real(spec, cache)

    monkeypatch.setattr(site_mod, "render", broken)
    report = project.publish()
    assert report.errors == [f"{project.feeds / 'ukraine'}: cannot render: ValueError: a bug"]
    assert (project.feeds / "all" / "atom.xml").exists() and not (project.feeds / "ukraine" / "atom.xml").exists()


def test_a_changed_id_authority_is_refused_in_one_line_and_nothing_published_changes(project, seed):
    project.add_source(SEED.name, seed)
    assert project.publish().ok
    before = project.site_bytes()
    good = project.config_path.read_text()
    old = project.config.site.id_authority
    project.config_path.write_text(good.replace(f'id_authority = "{old}"', 'id_authority = "news.mine.test,2026"'))
    bin_ = Path(sys.executable).with_name("publisher")
    for command in (["publish"], ["retract", ids(project, "all")[0].rpartition("/")[2][:12]]):
        proc = subprocess.run([str(bin_), "--config", str(project.config_path), *command],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2, (command, proc.stdout, proc.stderr)
        assert proc.stderr.splitlines() == [
            f'publisher: {project.config_path}: [site] id_authority is "news.mine.test,2026", but the ids already '
            f'published from publisher.db were made with "{old}" and never change: put it back, or start afresh '
            f"(remove publisher.db and feeds/; `make clean` does)"], command
    assert project.site_bytes() == before
    # a store from before the authority was recorded: its oldest entry's id says it
    import sqlite3
    with sqlite3.connect(project.database) as conn:
        conn.execute("DELETE FROM meta WHERE key = 'id_authority'")
    with pytest.raises(ConfigError, match="news.mine.test,2026"):
        project.publish(NOW + timedelta(hours=1))
    project.config_path.write_text(good)  # put back: published as before
    assert project.publish(NOW + timedelta(hours=2)).ok and project.site_bytes() == before
