"""Retract at once, unretract, and finding a story (`list`; an ID as id, name, page URL or hash
prefix), as a user runs them: the console script in a subprocess, with and without a
`publisher run` serving the feeds."""

from __future__ import annotations

import sqlite3
import subprocess
import time

import feedparser
import pytest

from conftest import SEED
from publisher.stories import hash_prefix, page_name
from service_harness import BIN
from test_cli import run

STORY_ID = "tag:publisher.example.org,2026:story/"


def _ids(path) -> list[str]:
    return [e.id for e in feedparser.parse(path.read_bytes()).entries]


def _published(project, seed):
    project.add_source(SEED.name, seed)
    assert run(project, "publish").returncode == 0
    (story,) = feedparser.parse((project.feeds / "ukraine" / "atom.xml").read_bytes()).entries
    return story


def _name(project, entry_id: str) -> str:
    conn = sqlite3.connect(project.database)
    try:
        return conn.execute("SELECT name FROM entries WHERE entry_id = ?", [entry_id]).fetchone()[0]
    finally:
        conn.close()


# -- retract and unretract without a service: the files change at once -----------------------

def test_retract_takes_the_story_out_of_the_files_at_once_and_unretract_brings_it_back(project, seed):
    story = _published(project, seed)
    before = {slug: (project.feeds / slug / "atom.xml").read_bytes() for slug in ("ukraine", "all")}
    proc = run(project, "retract", story.id, "--reason", "wrong file")
    assert proc.returncode == 0 and proc.stderr == ""
    assert proc.stdout.startswith(f"retracted {story.id} (") and "it is out of every feed" in proc.stdout
    for slug in ("ukraine", "all"):  # no publish in between
        assert story.id not in _ids(project.feeds / slug / "atom.xml")
        assert story.id not in (project.feeds / slug / "rss.xml").read_text()
        assert story.id not in (project.feeds / slug / "feed.json").read_text()
    page = project.feeds / "stories" / f"{_name(project, story.id)}.html"
    gone = project.feeds / "stories" / "retracted" / page.name  # (served at the permalink, 410 Gone)
    assert not page.exists() and "This story was retracted on" in gone.read_text() and "wrong file" in gone.read_text()

    proc = run(project, "unretract", story.id)
    assert proc.returncode == 0 and proc.stderr == ""
    assert proc.stdout.startswith(f"unretracted {story.id} (") and "back in its feeds" in proc.stdout
    for slug in ("ukraine", "all"):
        assert story.id in _ids(project.feeds / slug / "atom.xml")
        # the same entry as before; only the feed's <updated> moved on (it changed twice)
        after = feedparser.parse((project.feeds / slug / "atom.xml").read_bytes())
        assert after.feed.updated > feedparser.parse(before[slug]).feed.updated
        assert [e.id for e in after.entries] == [e.id for e in feedparser.parse(before[slug]).entries]
    assert "This story was retracted" not in page.read_text() and not gone.exists()
    explain = run(project, "explain", story.id).stdout
    assert "RETRACTED" not in explain
    # a publish after it changes nothing, and the story stays
    assert "0 of 10 feed files" in run(project, "publish").stdout
    assert story.id in _ids(project.feeds / "all" / "atom.xml")


def test_unretract_of_a_story_not_retracted_is_harmless(project, seed):
    story = _published(project, seed)
    proc = run(project, "unretract", story.id)
    assert proc.returncode == 0 and "is not retracted" in proc.stdout
    assert story.id in _ids(project.feeds / "all" / "atom.xml")


def test_unretract_before_any_publish_and_of_an_unknown_story_is_one_line_and_exit_2(project, seed):
    proc = run(project, "unretract", "tag:x")
    assert proc.returncode == 2 and "no database yet" in proc.stderr and proc.stderr.count("\n") == 1
    assert not project.database.exists()
    _published(project, seed)
    proc = run(project, "unretract", "tag:x")
    assert proc.returncode == 2 and "no story with id or name 'tag:x'" in proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


# -- with `publisher run` serving: the served feed changes within seconds -----------------------

def _served_ids(service, slug: str) -> list[str]:
    return [e.id for e in service.entries(slug)]


def _wait_served(service, slug: str, entry_id: str, present: bool, timeout: float = 5.0) -> float:
    start = time.monotonic()
    while (entry_id in _served_ids(service, slug)) != present:
        assert time.monotonic() - start < timeout, \
            f"{entry_id} {'not ' if present else ''}served after {timeout} s; log:\n{service.log_text()}"
        time.sleep(0.05)
    return time.monotonic() - start


def test_retract_and_unretract_reach_a_running_service_within_5_seconds(running, seed, tmp_path):
    service = running()  # every 300 s: only retract itself can make the change this quick
    (tmp_path / "sources" / SEED.name).write_bytes(seed)
    service.wait_for({"ukraine": 1, "taiwan-security": 4, "all": 5}, timeout=5)
    (story,) = service.entries("ukraine")
    cli = [str(BIN), "--config", str(service.config)]

    proc = subprocess.run([*cli, "retract", story.id, "--reason", "wrong file"], capture_output=True, text=True,
                          cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    for slug in ("ukraine", "all"):
        assert _wait_served(service, slug, story.id, present=False) < 5
    conn = sqlite3.connect(tmp_path / "publisher.db")
    (name,) = conn.execute("SELECT name FROM entries WHERE entry_id = ?", [story.id]).fetchone()
    conn.close()
    page = service.get(f"/stories/{name}.html")  # the story's permalink keeps answering, saying so: 410 Gone
    assert page.status_code == 410 and "This story was retracted" in page.text
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert service.get(f"/stories/retracted/{name}.html").status_code == 404  # (only at the permalink)

    proc = subprocess.run([*cli, "unretract", story.link], capture_output=True, text=True,  # by its page's URL
                          cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    for slug in ("ukraine", "all"):
        assert _wait_served(service, slug, story.id, present=True) < 5
    page = service.get(f"/stories/{name}.html")
    assert page.status_code == 200 and "This story was retracted" not in page.text


# -- an ID in any form -------------------------------------------------------------------------

def test_page_name_reads_a_story_pages_url_or_path():
    assert page_name("http://127.0.0.1:8080/stories/some-story-0ac118b6.html") == "some-story-0ac118b6"
    assert page_name("https://news.example/site/stories/some-story-0ac118b6.html?x=1#top") == "some-story-0ac118b6"
    assert page_name("/stories/some-story-0ac118b6.html") == "some-story-0ac118b6"
    assert page_name("stories/caf%C3%A9-0ac118b6.html") == "café-0ac118b6"
    for not_a_page in ("some-story-0ac118b6", "/ukraine/atom.xml", "/stories/.html", "/stories/x.txt",
                       f"{STORY_ID}0ac118b6"):
        assert page_name(not_a_page) is None


def test_hash_prefix_is_six_hex_digits_or_more():
    assert hash_prefix("0ac118") == "0ac118" and hash_prefix("0AC118B6") == "0ac118b6"
    for not_a_prefix in ("0ac11", "0ac11g", "some-story", ""):
        assert hash_prefix(not_a_prefix) is None


def test_explain_and_retract_accept_the_id_the_name_the_page_url_or_path_and_a_hash_prefix(project, seed):
    story = _published(project, seed)
    name = _name(project, story.id)
    digest = story.id.removeprefix(STORY_ID)
    forms = [story.id, name, f"http://127.0.0.1:8080/stories/{name}.html", f"/stories/{name}.html",
             story.link, digest[:6], digest[:12].upper(), digest]
    for ref in forms:
        proc = run(project, "explain", ref)
        assert proc.returncode == 0 and proc.stdout.startswith(f"{story.id}  ({name})"), (ref, proc.stderr)
    proc = run(project, "retract", f"/stories/{name}.html")
    assert proc.returncode == 0 and f"retracted {story.id}" in proc.stdout
    proc = run(project, "unretract", digest[:8])
    assert proc.returncode == 0 and f"unretracted {story.id}" in proc.stdout


def test_an_id_that_names_nothing_is_one_line_and_exit_2(project, seed):
    _published(project, seed)
    for ref in ("abcdef0", "/stories/no-such-story.html", "no-such-story", "0ac11"):
        for command in ("explain", "retract", "unretract"):
            proc = run(project, command, ref)
            assert proc.returncode == 2 and proc.stdout == "", (command, ref)
            assert proc.stderr == (f"publisher: no story with id or name {ref!r} (nor a story page URL or a prefix "
                                   "of an id's hash; see `publisher list`)\n")


def test_an_ambiguous_hash_prefix_lists_the_candidates_and_retracts_nothing(project, seed):
    _published(project, seed)
    conn = sqlite3.connect(project.database)
    with conn:  # two ids that share their first 8 hex digits (as two of millions might)
        rows = conn.execute("SELECT id, entry_id, name FROM entries ORDER BY id LIMIT 2").fetchall()
        for row_id, entry_id, _ in rows:
            digest = entry_id.removeprefix(STORY_ID)
            conn.execute("UPDATE entries SET entry_id = ? WHERE id = ?", [f"{STORY_ID}abcdef12{digest[8:]}", row_id])
        ids = [r[0] for r in conn.execute("SELECT entry_id, name FROM entries ORDER BY id LIMIT 2")]
        names = [r[2] for r in rows]
    conn.close()
    proc = run(project, "retract", "abcdef")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert proc.stderr.startswith("publisher: 'abcdef' is the start of more than one story's id: ")
    assert f"{ids[0]} ({names[0]}), {ids[1]} ({names[1]}); give more of it" in proc.stderr
    assert "RETRACTED" not in run(project, "list").stdout
    # more of it names one
    digest = ids[1].removeprefix(STORY_ID)
    assert run(project, "explain", digest[:12]).stdout.startswith(ids[1])


# -- list ----------------------------------------------------------------------------------------

def _list(project, *args) -> list[list[str]]:
    proc = run(project, "list", *args)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    return [line.split("  ") for line in proc.stdout.splitlines()]


def test_list_shows_the_newest_first_with_topics_dates_and_names(project, seed):
    project.add_source(SEED.name, seed)
    assert run(project, "publish").returncode == 0
    project.add_source("later.txt", "UKRAINE: Kyiv's metro will run all night during air raid alerts this winter, "
                       "the city's transport department said. The Ukrainian capital's metro stations have served as "
                       "shelters since the start of the war.\n")
    assert run(project, "publish").returncode == 0
    conn = sqlite3.connect(project.database)
    expected = conn.execute("SELECT entry_id, name FROM entries ORDER BY first_seen DESC, id DESC").fetchall()
    conn.close()
    lines = _list(project)
    assert len(lines) == 6
    assert [(STORY_ID in e and e.removeprefix(STORY_ID)[:12], n) for e, n in expected] == \
        [(line[0], line[4]) for line in lines]
    newest = lines[0]
    assert newest[3] == "ukraine" and "metro" in newest[4]
    assert newest[1].endswith("Z") and newest[1] >= lines[-1][1] and len(newest[1]) == len("2026-11-25T15:26:02Z")
    assert [line[0] for line in _list(project, "--limit", "2")] == [line[0] for line in lines[:2]]
    # each line's hash names its story
    assert run(project, "explain", lines[-1][0]).stdout.startswith(expected[-1][0])


def test_list_filters_by_topic_and_marks_retracted_stories(project, seed):
    _published(project, seed)
    ukraine = _list(project, "--topic", "ukraine")
    taiwan = _list(project, "--topic", "taiwan-security")
    assert len(ukraine) == 1 and {line[3] for line in ukraine} == {"ukraine"}
    assert len(taiwan) == 4 and {line[3] for line in taiwan} == {"taiwan-security"}
    assert sorted(line[0] for line in _list(project, "--topic", "all")) == \
        sorted(line[0] for line in ukraine + taiwan)
    assert run(project, "retract", ukraine[0][0]).returncode == 0
    (line,) = _list(project, "--topic", "ukraine")
    assert line[0] == ukraine[0][0] and line[-1] == "RETRACTED"
    proc = run(project, "list", "--topic", "nope")
    assert proc.returncode == 2
    assert proc.stderr == "publisher: no topic 'nope' (topics: ukraine, taiwan-security, all)\n"


def test_list_before_any_publish_is_one_line_and_exit_2(project):
    proc = run(project, "list")
    assert proc.returncode == 2 and "no database yet" in proc.stderr and not project.database.exists()


@pytest.mark.parametrize("command", ["list", "unretract"])
def test_help_says_what_the_new_commands_do(project, command):
    proc = run(project, command, "--help")
    assert proc.returncode == 0
    assert ("RETRACTED" if command == "list" else "hash") in proc.stdout.replace("\n", " ")


@pytest.mark.parametrize("command", [["list"], ["search", "Taiwan"]])
@pytest.mark.parametrize("limit", ["0", "-3", "ten", "1_0", "\u0663", str(2**63), "9" * 5000])
def test_a_limit_out_of_range_is_one_usage_line_not_an_empty_list_or_a_traceback(project, command, limit):
    proc = run(project, *command, "--limit", limit)
    assert proc.returncode == 2 and proc.stdout == ""
    (line,) = [x for x in proc.stderr.splitlines() if "argument --limit:" in x]
    assert ("from 1 to 1,000,000" in line or "whole number" in line) and len(line) < 200
