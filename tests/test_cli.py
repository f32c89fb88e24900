"""The `publisher` command as a user runs it: the installed console script, in a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import feedparser
import pytest

import disk_full
from conftest import DATA, SEED
from publisher import lock
from service_harness import NEW_STORY

BIN = Path(sys.executable).parent / "publisher"


def run(project, *args, cwd=None, env=None):
    exe = str(BIN) if BIN.exists() else shutil.which("publisher")
    assert exe, "the publisher console script is not installed (pip install -e .)"
    return subprocess.run([exe, "--config", str(project.config_path), *args], capture_output=True, text=True,
                          cwd=cwd or project.root, timeout=120, env={**os.environ, **(env or {})})


def test_publish_prints_one_summary_line_and_problems_on_stderr(project, seed):
    project.add_source(SEED.name, seed)
    project.add_source("empty.txt", b"")
    proc = run(project, "publish")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ("publish: 2 files read (1 skipped, 0 failed, 0 unchanged); 5 stories (5 new, 0 revised, 0 duplicate); "
                           "10 of 10 feed files and 9 of 9 pages written\n")  # no progress bar when not on a terminal
    assert proc.stderr == "empty.txt: skipped: empty file\n"


def test_publish_exits_1_when_a_source_fails_and_still_publishes(project, seed):
    project.add_source(SEED.name, seed)
    assert run(project, "publish").returncode == 0
    shutil.rmtree(project.sources)
    project.sources.write_text("not a directory")
    proc = run(project, "publish")
    assert proc.returncode == 1
    assert proc.stderr == f"{project.sources}: sources path is not a directory\n"
    assert (project.feeds / "all" / "atom.xml").read_text().count("<entry>") == 5


def test_a_config_error_is_one_line_and_exit_2(project):
    project.config_path.write_text(project.config_path.read_text().replace("max_entries = 50", 'max_entries = "50"'))
    proc = run(project, "publish")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1
    assert str(project.config_path) in proc.stderr and "max_entries" in proc.stderr


def test_a_missing_config_is_exit_2(project, tmp_path):
    proc = subprocess.run([str(BIN), "--config", str(tmp_path / "nope.toml"), "status"], capture_output=True, text=True)
    assert proc.returncode == 2 and "config file not found" in proc.stderr


def test_usage_errors_exit_2(project):
    assert run(project).returncode == 2
    assert run(project, "frobnicate").returncode == 2


def test_publish_exits_2_while_another_process_holds_the_lock(project):
    with lock.held(project.config.paths.lock):
        proc = run(project, "publish", "--wait", "0.2")
    assert proc.returncode == 2 and "holds the lock" in proc.stderr and "waited 0.2 s" in proc.stderr


def test_publish_waits_for_a_writer_that_finishes(project):
    project.add_source("a.txt", "UKRAINE: Kyiv opened more shelters as strikes on the grid went on in Ukraine.\n")
    holder = subprocess.Popen([sys.executable, "-c",
                               "import sys, time; from pathlib import Path; from publisher import lock\n"
                               f"with lock.held(Path({str(project.config.paths.lock)!r})):\n"
                               "    print('held', flush=True); time.sleep(1.0)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        proc = run(project, "publish", "--wait", "20")
    finally:
        holder.wait(10)
    assert proc.returncode == 0, proc.stderr
    assert "1 new" in proc.stdout


def test_status_json_has_the_documented_shape(project, seed):
    project.add_source(SEED.name, seed)
    project.add_source("empty.txt", b"")
    run(project, "publish")
    proc = run(project, "status", "--json")
    assert proc.returncode == 0
    data = json.loads(proc.stdout)
    assert data["topics"] == {"ukraine": 1, "taiwan-security": 4}
    assert data["unclassified"] == 0
    sources = {s["path"]: s for s in data["sources"]}
    assert set(sources) == {SEED.name, "empty.txt"}
    seed_row = sources[SEED.name]
    assert {k: seed_row[k] for k in ("outcome", "reason", "stories", "new", "duplicate")} == \
        {"outcome": "new", "reason": None, "stories": 5, "new": 5, "duplicate": 0}
    assert seed_row["read_at"].endswith("Z")
    assert sources["empty.txt"]["outcome"] == "skipped" and sources["empty.txt"]["reason"] == "empty file"


def test_status_before_any_publish_creates_nothing(project):
    proc = run(project, "status", "--json")
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["topics"] == {"ukraine": 0, "taiwan-security": 0}
    assert not project.database.exists()


def test_status_text_lists_topics_and_sources(project, seed):
    project.add_source(SEED.name, seed)
    run(project, "publish")
    out = run(project, "status").stdout
    assert "ukraine 1, taiwan-security 4" in out and "in no topic 0" in out
    assert f"new       {SEED.name}  5 stories (5 new, 0 revised, 0 duplicate)" in out


def test_status_explain_and_classify_name_the_same_things_alike(project):
    import re

    project.add_source("2026-11-26_morning.txt",
                       "ODESA, Nov 26 - Ukraine's navy cleared two drifting sea mines near Odesa on Wednesday, as "
                       "grain ships kept sailing through the Black Sea corridor from Ukraine.\n"
                       "Divers worked through the night near Odesa, and no vessel was damaged, the navy said.\n\n"
                       "LISBON, Nov 26 - Portugal's national orchestra announced twelve concerts in Lisbon and Porto "
                       "for the winter, with two premieres by young composers.\n"
                       "Tickets go on sale on Monday, and students pay half price, the orchestra said.\n")
    project.add_source("2026-11-27_morning.txt",
                       "TAIPEI, Nov 27 - Taiwan's defence ministry said it tracked eleven Chinese military aircraft "
                       "and five warships near Taiwan on Thursday, two of them across the median line of the Taiwan "
                       "Strait.\nTaiwan sent combat air patrols and urged Beijing to stop its drills, the ministry "
                       "said.\n")
    assert run(project, "publish").returncode == 0
    status = run(project, "status").stdout
    classify = run(project, "classify", str(project.sources / "2026-11-26_morning.txt")).stdout
    (orchestra,) = [line.split()[0] for line in run(project, "list").stdout.splitlines() if "orchestra" in line]
    explain = run(project, "explain", orchestra).stdout
    # a story in no topic: one name in all three
    assert "entries: 3 (ukraine 1, taiwan-security 1; all 2; in no topic 1)" in status
    assert "   lines 4-5; in no topic\n" in classify and "   lines 1-2; topics: ukraine\n" in classify
    assert "topics (current rules, current version): in no topic\n" in explain
    assert "unclassified" not in status + classify + explain and "(none)" not in classify
    # every time in the text of status (last run included) is written as explain writes it: UTC, "Z"
    times = re.findall(r"\d{4}-\d\d-\d\dT[0-9:.]+(?:Z|[+-]\d\d:\d\d)", status + explain)
    assert times and all(t.endswith("Z") for t in times), times
    assert re.search(r"^last run: \d{4}-\d\d-\d\dT[0-9:.]+Z \(ok\): publish: 2 files read", status, re.M), status


def test_classify_is_a_dry_run_showing_titles_topics_scores_and_terms(project, seed, tmp_path):
    path = tmp_path / "seed.txt"
    path.write_bytes(seed)
    proc = run(project, "classify", str(path))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.count("topics: taiwan-security") == 4 and out.count("topics: ukraine") == 1
    assert "1. The US will soon provide Ukraine" in out and "lines 1-14" in out
    assert "in  ukraine: score" in out and "ukrain*×" in out
    assert not project.database.exists() and not project.feeds.exists()


def test_classify_reports_a_file_it_cannot_use(project, tmp_path):
    path = tmp_path / "blank.txt"
    path.write_bytes(b"\n\n")
    proc = run(project, "classify", str(path))
    assert proc.returncode == 0 and proc.stdout == f"{path}: skipped: empty file\n"
    proc = run(project, "classify", str(tmp_path / "missing.txt"))
    assert proc.returncode == 1 and "cannot read" in proc.stderr


@pytest.mark.skipif(shutil.which("script") is None, reason="needs script(1) to give publisher a terminal")
def test_on_a_terminal_publish_still_ends_with_the_summary(project, seed):
    project.add_source(SEED.name, seed)
    cmd = f"{BIN} --config {project.config_path} publish"
    proc = subprocess.run(["script", "-qec", cmd, "/dev/null"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "5 stories (5 new, 0 revised, 0 duplicate)" in proc.stdout


def test_a_database_path_that_cannot_be_created_is_one_line_and_exit_2(project):
    text = project.config_path.read_text().replace('database = "publisher.db"', 'database = "config.toml/x.db"')
    project.config_path.write_text(text)
    proc = run(project, "publish")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "x.db.lock: cannot create the lock file" in proc.stderr and "Traceback" not in proc.stderr


def test_retract_takes_a_story_out_of_every_feed_for_good(project, seed):
    project.add_source(SEED.name, seed)
    run(project, "publish")
    atom = feedparser.parse((project.feeds / "ukraine" / "atom.xml").read_bytes())
    (story,) = atom.entries
    proc = run(project, "retract", story.id, "--reason", "mis-split file")
    assert proc.returncode == 0 and f"retracted {story.id}" in proc.stdout
    assert run(project, "publish").returncode == 0
    for slug in ("ukraine", "all"):
        ids = [e.id for e in feedparser.parse((project.feeds / slug / "atom.xml").read_bytes()).entries]
        assert story.id not in ids
    after = feedparser.parse((project.feeds / "ukraine" / "atom.xml").read_bytes())
    assert after.feed.updated > atom.feed.updated  # removing an entry changed the feed
    # the tombstone holds when the same story arrives again, and when a revision of it does
    project.add_source("again.txt", seed.split(b"\n")[0] + b"\n" + b"\n".join(seed.split(b"\n")[1:14]) + b"\n")
    lines = seed.decode().split("\n")[:14]
    lines[0] = lines[0].replace("late on Tuesday", "late on Tuesday, in a statement")
    project.add_source("revised.txt", "\n".join(lines) + "\n")
    assert run(project, "publish").returncode == 0
    assert story.id not in (project.feeds / "all" / "atom.xml").read_text()
    status = json.loads(run(project, "status", "--json").stdout)
    assert status["topics"]["ukraine"] == 0
    assert [(r["id"], r["reason"]) for r in status["retracted"]] == [(story.id, "mis-split file")]
    explain = run(project, "explain", story.id).stdout
    assert "RETRACTED" in explain and "mis-split file" in explain
    assert "a revision of the story" in explain and "revised.txt" in explain


def test_retract_an_unknown_id_is_an_error_and_retracting_twice_is_harmless(project, seed):
    project.add_source(SEED.name, seed)
    run(project, "publish")
    proc = run(project, "retract", "tag:nope")
    assert proc.returncode == 2 and "no story with id or name 'tag:nope'" in proc.stderr
    name = json.loads(run(project, "status", "--json").stdout)["sources"][0]["path"]
    assert name == SEED.name
    first = feedparser.parse((project.feeds / "all" / "atom.xml").read_bytes()).entries[0]
    assert run(project, "retract", first.id).returncode == 0
    again = run(project, "retract", first.id)
    assert again.returncode == 0 and "already retracted" in again.stdout


def test_explain_shows_versions_sources_matches_and_topics(project, seed):
    project.add_source(SEED.name, seed)
    run(project, "publish")
    story = feedparser.parse((project.feeds / "ukraine" / "atom.xml").read_bytes()).entries[0]
    project.add_source("copy.txt", seed.replace(b"\n", b"\r\n"))
    run(project, "publish")
    out = run(project, "explain", story.id).stdout
    assert out.startswith(story.id)
    assert f"from {SEED.name} lines 1-14" in out and ": a new story" in out
    assert "from copy.txt lines 1-14" in out and "a copy of a text already stored" in out
    assert "in  ukraine: score" in out and "out taiwan-security" in out
    assert run(project, "explain", "nothing-like-this").returncode == 2


def test_retract_and_explain_before_any_publish_create_nothing(project):
    for args in (("retract", "tag:x"), ("explain", "tag:x")):
        proc = run(project, *args)
        assert proc.returncode == 2 and "no database yet" in proc.stderr
    assert not project.database.exists()


# -- add ---------------------------------------------------------------------------------------

FEED = (DATA / "kinds" / "feed-saved-as.txt").read_bytes()
PAGE = (DATA / "kinds" / "saved-page.html").read_text()


def test_add_url_fetches_it_once_and_appends_a_feed_keeping_comments_and_layout(project, httpserver):
    httpserver.expect_oneshot_request("/feed.xml").respond_with_data(FEED, content_type="application/rss+xml")
    url = httpserver.url_for("/feed.xml")
    before = project.config_path.read_text()
    proc = run(project, "add", url, "--title", "Example News", "--interval", "900")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"added {url} (“Other Wire”, 1 entry with text now) to ")
    after = project.config_path.read_text()
    assert after.startswith(before)  # nothing above is touched: comments, order, spacing
    assert after[len(before):].strip() == (f'[[sources.feeds]]\nurl = "{url}"\n'
                                           'title = "Example News"\ninterval_seconds = 900')
    assert project.config.feed_sources[0].url == url
    httpserver.check_assertions()  # fetched once


@pytest.mark.parametrize("url, why", [
    ("ftp://news.example/feed", "only http:// and https:// URLs can be added, not ftp://"),
    ("FILE:///tmp/feed.xml", "only http:// and https:// URLs can be added, not file://"),
    ("https://news.example/a b", "a URL has no spaces or control characters"),
    ("http://", "no host name after http://"),
    ("https://news.example/feed.xml#top", "a feed URL has no #fragment"),
])
def test_add_refuses_what_is_not_a_feed_url_in_plain_words_and_leaves_the_config_alone(project, url, why):
    before = project.config_path.read_text()
    proc = run(project, "add", url)
    # about the URL given, not a config error: no "[[sources.feeds]] #1", no config file named
    assert (proc.returncode, proc.stdout, proc.stderr) == (2, "", f"publisher: {url}: not added: {why}\n")
    assert project.config_path.read_text() == before


def test_add_the_same_url_twice_is_refused(project, httpserver):
    httpserver.expect_request("/feed.xml").respond_with_data(FEED, content_type="application/rss+xml")
    assert run(project, "add", httpserver.url_for("/feed.xml")).returncode == 0
    proc = run(project, "add", httpserver.url_for("/feed.xml"))
    assert (proc.returncode, proc.stderr) == (
        2, f"publisher: {httpserver.url_for('/feed.xml')}: not added: it is already a source in {project.config_path}\n")


def test_add_refuses_a_404_an_unreachable_url_and_what_is_not_a_feed_with_the_reason(project, httpserver):
    import socket

    httpserver.expect_request("/missing.xml").respond_with_data("Not Found", status=404)
    httpserver.expect_request("/text").respond_with_data("Kyiv opened shelters on Monday.\n", content_type="text/plain")
    httpserver.expect_request("/sitemap.xml").respond_with_data((DATA / "kinds" / "sitemap.xml").read_bytes(),
                                                                content_type="application/xml")
    httpserver.expect_request("/broken.xml").respond_with_data('<?xml version="1.0"?><rss version="2.0"><chan',
                                                               content_type="application/rss+xml")
    httpserver.expect_request("/bare.html").respond_with_data("<!doctype html><title>x</title><p>No feeds</p>",
                                                              content_type="text/html")
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}/feed.xml"
    before = project.config_path.read_text()
    for url, why in [(httpserver.url_for("/missing.xml"), "HTTP 404 Not Found"),
                     (closed, "cannot connect: connection refused\n"),
                     (httpserver.url_for("/broken.xml"), "not a feed: malformed XML: unclosed token\n"),
                     (httpserver.url_for("/text"), "plain text or data, not a feed (Content-Type: text/plain"),
                     (httpserver.url_for("/sitemap.xml"), "XML or other markup that is not a feed (root element "
                                                          "<urlset>)"),
                     (httpserver.url_for("/bare.html"),
                      'an HTML page that links to no feed (no <link rel="alternate">')]:
        proc = run(project, "add", url)
        assert proc.returncode == 1, (url, proc.stderr)
        assert proc.stderr.startswith(f"publisher: {url}: not added: {why}"), proc.stderr
        assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert project.config_path.read_text() == before


def test_add_an_html_page_lists_its_feeds_and_adds_the_first_only_with_yes(project, httpserver):
    elsewhere = f"http://localhost:{httpserver.port + 1}/private.atom"  # another host and port: checked
    page = PAGE.replace('<link rel="alternate" type="application/rss+xml" title="Example News RSS" href="/rss.xml">',
                        f'<link rel="alternate" type="application/atom+xml" href="{elsewhere}">\n'
                        '<link rel="alternate" type="application/rss+xml" title="Example News RSS" href="/rss.xml">\n'
                        '<link rel="alternate" type="application/feed+json" href="feed.json">\n'
                        '<link rel="alternate" type="text/html" hreflang="fr" href="/fr/">\n'
                        '<link rel="alternate" type="application/rss+xml" href="javascript:alert(1)">')
    httpserver.expect_request("/news/").respond_with_data(page, content_type="text/html; charset=utf-8")
    url = httpserver.url_for("/news/")
    before = project.config_path.read_text()
    proc = run(project, "add", url)
    assert proc.returncode == 3, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == f"{url} is an HTML page linking to 3 feeds:"
    assert lines[1].startswith(f"  {elsewhere}  (application/atom+xml)  not offered: not a public address "
                               f"(localhost resolves to ") and lines[1].endswith(": loopback)")
    assert lines[2:] == [f"  {httpserver.url_for('/rss.xml')}  (application/rss+xml, “Example News RSS”)",
                         f"  {httpserver.url_for('/news/feed.json')}  (application/feed+json)"]
    assert "loopback" in proc.stdout
    assert "nothing added" in proc.stderr and "--yes" in proc.stderr
    assert project.config_path.read_text() == before
    proc = run(project, "add", url, "--yes")
    assert proc.returncode == 0, proc.stderr
    assert [f.url for f in project.config.feed_sources] == [httpserver.url_for("/rss.xml")]


def test_remove_undoes_add_for_a_url_and_for_a_file(project, httpserver, tmp_path):
    httpserver.expect_request("/a.xml").respond_with_data(FEED, content_type="application/rss+xml")
    httpserver.expect_request("/b.xml").respond_with_data(FEED, content_type="application/rss+xml")
    before = project.config_path.read_text()
    assert run(project, "add", httpserver.url_for("/a.xml")).returncode == 0
    assert run(project, "add", httpserver.url_for("/b.xml")).returncode == 0
    proc = run(project, "remove", httpserver.url_for("/a.xml"))
    assert proc.returncode == 0, proc.stderr
    assert [f.url for f in project.config.feed_sources] == [httpserver.url_for("/b.xml")]
    assert run(project, "remove", httpserver.url_for("/b.xml")).returncode == 0
    assert project.config_path.read_text() == before  # comments and layout intact
    proc = run(project, "remove", httpserver.url_for("/b.xml"))
    assert proc.returncode == 2 and "is not a [[sources.feeds]] url" in proc.stderr

    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "day.txt").write_text("KYIV: Ukraine's capital opened shelters in Kyiv on Monday.\n")
    assert run(project, "add", str(outside / "day.txt")).returncode == 0
    assert run(project, "publish").returncode == 0
    published = (project.feeds / "all" / "atom.xml").read_bytes()
    proc = run(project, "remove", str(outside / "day.txt"))  # the file add copied from
    assert proc.returncode == 0, proc.stderr
    assert not (project.sources / "day.txt").exists() and (outside / "day.txt").exists()
    assert run(project, "publish").returncode == 0
    assert (project.feeds / "all" / "atom.xml").read_bytes() == published  # what was published stays
    assert "day.txt" not in run(project, "status").stdout
    project.add_source("other.txt", "Another text.\n")
    assert run(project, "remove", "other.txt").returncode == 0 and not (project.sources / "other.txt").exists()
    proc = run(project, "remove", "nothing.txt")
    assert proc.returncode == 2 and "neither a file in" in proc.stderr


def test_add_file_copies_it_into_sources(project, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "day.txt").write_text("KYIV: Ukraine's capital opened shelters in Kyiv on Monday.\n")
    proc = run(project, "add", str(outside / "day.txt"))
    assert proc.returncode == 0 and "(wire copy)" in proc.stdout
    assert (project.sources / "day.txt").read_text() == (outside / "day.txt").read_text()
    assert run(project, "add", str(outside / "day.txt")).stdout.startswith("day.txt is already in")
    (outside / "day.txt").write_text("Another text.\n")
    proc = run(project, "add", str(outside / "day.txt"))
    assert proc.returncode == 2 and "a different file of that name is already there" in proc.stderr
    assert not list(project.sources.glob("*.part"))


@pytest.mark.parametrize("given", ["notaurl", "example.com/feed.xml", "https:/example.com/feed.xml"])
def test_add_of_neither_a_url_nor_a_file_says_a_url_was_meant(project, tmp_path, given):
    before = project.config_path.read_text()
    proc = run(project, "add", given, cwd=tmp_path)
    assert (proc.returncode, proc.stdout, proc.stderr) == (
        2, "", f"publisher: {given}: not a URL, and no such file; add takes a feed or page URL such as "
               f"https://example.com/feed.xml, or a file to copy into sources/\n")
    assert project.config_path.read_text() == before and not any(project.sources.iterdir())
    # a file of that name is still what add copies, URL-like name or not
    (tmp_path / "notaurl").write_text("KYIV: Ukraine's capital opened shelters in Kyiv on Monday.\n")
    proc = run(project, "add", "notaurl", cwd=tmp_path)
    assert proc.returncode == 0 and (project.sources / "notaurl").exists(), proc.stderr


def test_a_damaged_database_is_one_line_not_a_traceback(project, seed):
    import sqlite3

    project.add_source("seed.txt", seed)
    assert run(project, "publish").returncode == 0
    conn = sqlite3.connect(project.database)
    conn.execute("DROP TABLE entry_topics")
    conn.commit()
    conn.close()
    proc = run(project, "status")
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "publisher.db: database error: no such table: entry_topics" in proc.stderr


def test_classify_reads_a_feed_file_as_a_feed(project):
    feed = Path(__file__).parent / "data" / "feeds" / "kinds.atom"
    proc = run(project, "classify", str(feed))
    assert proc.returncode == 0, proc.stderr
    assert "1. Kyiv shelters open" in proc.stdout and "<feed" not in proc.stdout and "<entry" not in proc.stdout


def test_a_full_disk_is_one_line_and_exit_1_and_what_was_published_stays(project, seed, tmp_path):
    """On a full disk the lock's pid cannot be written and the database cannot grow: that was
    a 20-line traceback from lock.py."""
    project.add_source(SEED.name, seed)
    assert run(project, "publish").returncode == 0
    published = project.site_bytes()
    project.add_source("more.txt", NEW_STORY + "\n" + many_stories(100))  # more than free pages hold
    flag = tmp_path / "disk-is-full"
    flag.touch()
    proc = run(project, "publish", env=disk_full.env(tmp_path, flag))
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == f"publisher: {project.database}: database error: database or disk is full\n"
    assert project.site_bytes() == published
    status = run(project, "status", env=disk_full.env(tmp_path, flag))  # reading needs no room
    assert status.returncode == 0 and "entries: 5" in status.stdout
    flag.unlink()  # room again: the next publish reads the file
    assert run(project, "publish").returncode == 0
    assert (project.feeds / "all" / "atom.xml").read_text().count("<entry>") == 6


def many_stories(n: int) -> str:
    """n one-paragraph stories of made-up words (no topic, no near-duplicates): a blank line apart."""
    import random
    rng = random.Random(3)
    words = [a + b + c for a in "bdfgklmnprstvz" for b in "aeiou" for c in ("n", "r", "s", "")]
    return "\n\n".join(" ".join(rng.choice(words) for _ in range(60)).capitalize() + "." for _ in range(n)) + "\n"


@pytest.mark.parametrize("command", ["classify", "add"])
def test_a_fifo_named_on_the_command_line_is_one_line_not_a_hang(project, command):
    fifo = project.root / "pipe.txt"
    os.mkfifo(fifo)
    proc = subprocess.run([str(BIN), "--config", str(project.config_path), command, str(fifo)],
                          capture_output=True, text=True, timeout=30)  # a guard: it used to block for good
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines()[-1].endswith(f"{fifo}: cannot read: not a regular file"), proc.stderr
    assert "Traceback" not in proc.stderr


def test_explain_gives_each_versions_file_date_and_why_an_older_one_is_not_shown(project):
    case = DATA / "dedup" / "re-edited-copy"
    project.add_source("2026-11-24_evening.txt", (case / "b.txt").read_bytes())
    assert project.publish().ok
    project.add_source("2026-11-23_evening.txt", (case / "a.txt").read_bytes())  # its older wording, a day before
    assert project.publish().ok
    (line,) = run(project, "list").stdout.splitlines()
    out = run(project, "explain", line.split()[0]).stdout
    assert "version 1 (current), first seen" in out and "its file dated 2026-11-24" in out
    assert "its file dated 2026-11-23" in out
    assert ("from 2026-11-23_evening.txt lines 1-6, read" in out
            and "an older version (its file is dated before the shown text's): recorded, not published"
            in out)
