"""What a publish costs, whatever the size of the store: the feeds' counts are kept as entries
change (not counted from every membership), story pages are rendered only for changed entries
that have a page, and everything written is synced once."""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import timedelta

import pytest

from conftest import NOW, SEED
from corpus import themed_wire
from publisher import atomic, stories
from publisher.store import Store


def _store(project) -> Store:
    return Store.open(project.database, now=NOW)


def _counts_on_pages(project) -> dict[str, int]:
    """The count each feed's line on the front page says ("N stories")."""
    page = (project.feeds / "index.html").read_text()
    counts = {}
    for slug, n in re.findall(r'href="[^"]*?([a-z-]+)/">All (\d+) stor', page):
        counts[slug] = int(n)
    for slug in ["ukraine", "taiwan-security", "all"]:
        feed = (project.feeds / slug / "index.html").read_text()
        counts[slug] = int(re.search(r"\. (\d+) stor(?:y|ies)", feed).group(1))
    return counts


def _check(project) -> dict[str, int]:
    """The kept counts equal a count of every membership, and the feeds' pages say them."""
    store = _store(project)
    try:
        topics, merged = store.scanned_topic_counts()
        assert store.topic_counts() == topics and store.count_in_any_topic() == merged
        stored = store.sql.execute("SELECT topic, entries FROM topic_counts").fetchall()
    finally:
        store.close()
    assert all(n >= 0 for _, n in stored)
    expected = {"ukraine": topics.get("ukraine", 0), "taiwan-security": topics.get("taiwan-security", 0),
                "all": merged}
    assert _counts_on_pages(project) == expected
    return expected


def _entry_ids(project, topic: str) -> list[str]:
    store = _store(project)
    try:
        return [e["id"] for e in store.list_entries(topic, 1000) if e["retracted_at"] is None]
    finally:
        store.close()


@pytest.fixture
def busy(project, seed):
    """The seed and 300 generated stories (some in both topics, most in one or none), published."""
    themed_wire(project.sources / "generated", 300, seed=5)
    project.add_source(SEED.name, seed)
    assert project.publish().ok
    return project


def test_kept_counts_equal_counting_every_membership_through_retractions_and_topic_changes(busy):
    project = busy
    first = _check(project)
    assert first["ukraine"] > 10 and first["all"] > first["ukraine"]
    ukraine, taiwan = _entry_ids(project, "ukraine"), _entry_ids(project, "taiwan-security")
    both = next(e for e in ukraine if e in taiwan) if set(ukraine) & set(taiwan) else ukraine[0]
    for ref in (ukraine[0], both, taiwan[0]):
        stories.retract(project.config, ref, "test", NOW + timedelta(minutes=1))
    stories.retract(project.config, ukraine[0], "again", NOW + timedelta(minutes=2))  # a no-op: counted once
    after = _check(project)
    assert after["all"] < first["all"] and after["ukraine"] < first["ukraine"]
    stories.unretract(project.config, both, NOW + timedelta(minutes=3))
    stories.unretract(project.config, both, NOW + timedelta(minutes=4))  # not retracted: a no-op
    _check(project)
    # the rules change: many entries leave a topic, then come back
    text = project.config_path.read_text()
    project.config_path.write_text(text.replace("threshold = 8", "threshold = 40", 1))
    assert project.publish(NOW + timedelta(hours=1)).ok
    narrow = _check(project)
    assert narrow["ukraine"] < after["ukraine"]
    project.config_path.write_text(text)
    assert project.publish(NOW + timedelta(hours=2)).ok
    _check(project)
    # a retracted story's revision and more stories arriving change nothing of what is counted
    themed_wire(project.sources / "more", 50, seed=6)
    assert project.publish(NOW + timedelta(hours=3)).ok
    _check(project)


def test_migration_0015_counts_an_existing_store_and_forgets_pages_no_story_has(busy):
    project = busy
    ref = _entry_ids(project, "ukraine")[0]
    stories.retract(project.config, ref, "test", NOW + timedelta(minutes=1))
    expected = _check(project)
    conn = sqlite3.connect(project.database)
    with conn:  # the store as 0013 left it: no counts, every entry's page marked (as apply did)
        conn.execute("DROP TABLE topic_counts")
        conn.execute("DELETE FROM _sqlite_migrations WHERE name = '0015_topic_counts'")
        conn.execute("UPDATE entries SET page_stale = 1")
    conn.close()
    store = _store(project)
    try:
        topics, merged = store.scanned_topic_counts()
        assert store.topic_counts() == topics and store.count_in_any_topic() == merged == expected["all"]
        stale = set(store.stale_pages(100_000))
        paged = {r[0] for r in store.sql.execute("SELECT entry FROM archive_members WHERE feed = '*'").fetchall()}
        unpaged = store.sql.execute("SELECT count(*) FROM entries").fetchone()[0] - len(paged)
    finally:
        store.close()
    assert stale == paged and unpaged > 0  # an entry never in a topic has no page to write


def test_a_publish_renders_the_pages_of_changed_entries_with_a_page_only(busy, monkeypatch):
    project = busy
    rendered: list[int] = []
    real = Store.page_history

    def recording(self, entry, *args, **kwargs):
        rendered.append(entry)
        return real(self, entry, *args, **kwargs)

    monkeypatch.setattr(Store, "page_history", recording)
    assert project.publish(NOW + timedelta(hours=1)).ok
    assert rendered == []  # nothing changed: no page looked at
    themed_wire(project.sources / "more", 100, seed=7)
    report = project.publish(NOW + timedelta(hours=2))
    assert report.ok
    store = _store(project)
    try:
        new = {r[0] for r in store.sql.execute("SELECT id FROM entries WHERE first_seen >= ?",
                                               [(NOW + timedelta(hours=2)).strftime("%Y-%m-%dT%H")]).fetchall()}
        in_topic = {r[0] for r in store.sql.execute("SELECT DISTINCT entry FROM entry_topics").fetchall()}
        paged = {r[0] for r in store.sql.execute("SELECT entry FROM archive_members WHERE feed = '*'").fetchall()}
        stale = store.stale_pages(100_000)
    finally:
        store.close()
    assert len(new) > 50 and len(new - in_topic) > 10  # (some of the new stories are in no topic)
    assert set(rendered) & new == new & in_topic  # the new ones in a topic, and only those
    assert set(rendered) <= paged  # old ones (revised or copied by the file): only those with a page
    assert len(rendered) == len(set(rendered)) and stale == []  # each once; all marked written

def test_a_publish_syncs_the_file_system_once_and_never_fsyncs_a_file(project, seed, monkeypatch):
    syncs: list[str] = []
    real_syncfs, real_fsync = atomic.sync_filesystem, atomic.os.fsync
    monkeypatch.setattr(atomic, "sync_filesystem", lambda path: (syncs.append("syncfs"), real_syncfs(path))[1])
    monkeypatch.setattr(atomic.os, "fsync", lambda fd: (syncs.append("fsync"), real_fsync(fd))[1])
    project.add_source(SEED.name, seed)
    report = project.publish()
    assert report.ok and report.pages_written == 9 and len(report.feed_files_written) == 10
    assert syncs == ["syncfs"]
    syncs.clear()
    assert project.publish(NOW + timedelta(hours=1)).ok
    assert syncs == []  # nothing written: nothing to sync
    themed_wire(project.sources / "more", 20, seed=8)
    assert project.publish(NOW + timedelta(hours=2)).ok
    assert syncs == ["syncfs"]


def test_a_publish_classifies_only_new_revised_and_returned_entries_and_a_rule_change_all(busy, monkeypatch):
    from publisher import ingest

    project = busy
    looked_at: list[list[str]] = []
    real = ingest.classify_story

    def recording(topics, kicker, paragraphs):
        looked_at[-1].append(paragraphs[0])
        return real(topics, kicker, paragraphs)

    monkeypatch.setattr(ingest, "classify_story", recording)

    def publish(hours: int) -> list[str]:
        looked_at.append([])
        assert project.publish(NOW + timedelta(hours=hours)).ok
        return looked_at[-1]

    def ledes(where: str = "") -> set[str]:
        store = _store(project)
        try:
            return {json.loads(p)[0] for (p,) in store.sql.execute(
                "SELECT v.paragraphs FROM entries e JOIN versions v ON v.id = e.current_version "
                f"WHERE e.retracted_at IS NULL {where}").fetchall()}
        finally:
            store.close()

    assert publish(1) == []
    themed_wire(project.sources / "more", 40, seed=8)
    before = ledes()
    got = publish(2)
    assert got and not set(got) & before  # the new file's entries only, none of the 300 before
    ref = _entry_ids(project, "ukraine")[0]
    stories.retract(project.config, ref, "test", NOW + timedelta(hours=3))
    text = project.config_path.read_text()
    project.config_path.write_text(text.replace("threshold = 8", "threshold = 40", 1))
    assert sorted(publish(4)) == sorted(ledes())  # the rules changed: every published entry
    narrow = _check(project)
    looked_at.append([])
    stories.unretract(project.config, ref, NOW + timedelta(hours=5))  # (it writes the feeds at once)
    back = looked_at[-1]
    assert len(back) == 1  # the entry brought back, classified under today's rules
    assert _check(project)["ukraine"] <= narrow["ukraine"] + 1
    assert publish(6) == []
