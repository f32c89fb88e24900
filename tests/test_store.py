"""The SQLite store: schema and migrations, minted ids, provenance, transactions."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

import pytest
from sqlite_utils import Database

from conftest import NOW
from publisher.dedup import DedupSettings, Placement, fingerprint, place, sketch
from publisher.entries import mint_entry_id, story_name
from publisher.errors import StoreError
from publisher.model import Decision, Story
from publisher.store import MIGRATIONS, Applied, NewEntry, Store, format_time, parse_time

AUTH = "news.example.org,2026"


def story(text: str, lines=(1, 1)) -> Story:
    return Story(title=text[:40], paragraphs=(text,), first_line=lines[0], last_line=lines[1])


@pytest.fixture
def store(tmp_path):
    s = Store.open(tmp_path / "p.db", now=NOW)
    yield s
    s.close()


def add(store, s: Story, location="a.txt", now=NOW):
    with store.transaction():
        source = store.ensure_source(location)
        read = store.start_read(source, now, 1, 1, "x")
        added = store_story(store, s, source, read, now)
        store.finish_read(read, added.decision, None, 1, added.decision == "new", added.decision == "duplicate")
    return added


def store_story(store, s: Story, source: int, read: int, now=NOW) -> Applied:
    """Exact dedup as the pipeline does it: a known text is another arrival, else a new entry."""
    fp = fingerprint(s.text)
    known = store.version_by_fingerprint(fp)
    if known:
        return store.apply(place(None, (), DedupSettings(), copy_of=known), s, fp, None, source=source, read=read,
                           now=now)
    return store.apply(Placement(Decision.NEW), s, fp, sketch(s.paragraphs, s.kicker), source=source, read=read,
                       now=now, new_entry=NewEntry(mint_entry_id(AUTH, fp), story_name(s.title, fp)))


def test_migrations_are_recorded_and_applied_once(tmp_path):
    path = tmp_path / "p.db"
    Store.open(path, now=NOW).close()
    store = Store.open(path, now=NOW + timedelta(days=1))
    assert [m.name for m in MIGRATIONS.applied(store.db)] == [
        "0001_initial", "0002_provenance_per_arrival", "0003_near_duplicates_and_retraction",
        "0004_stored_shingles", "0005_sketches_table", "0006_short_lead_bands", "0007_story_pages", "0008_feeds",
        "0009_reads_past_caps", "0010_source_dates_and_item_meta", "0011_search", "0012_archives",
        "0013_brief_words", "0014_compact_bands", "0015_topic_counts", "0016_sketches_v2",
            "0017_cheap_lookups", "0018_version_dates"]
    assert store.created_at == NOW  # set once, by the first open
    store.close()


def test_a_reader_refuses_a_database_with_pending_migrations(tmp_path):
    path = tmp_path / "p.db"
    sqlite3.connect(path).close()  # an empty database: every migration pending
    with pytest.raises(StoreError, match="out of date"):
        Store.open(path, now=NOW, migrate=False)


def test_a_file_that_is_not_a_database_is_a_store_error(tmp_path):
    path = tmp_path / "p.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="cannot open database"):
        Store.open(path, now=NOW)


def test_a_new_story_mints_a_tag_id_from_the_authority_and_fingerprint(store):
    s = story("The harbour reopened on Monday.")
    added = add(store, s)
    (entry,) = store.db.execute("SELECT entry_id, name, first_seen, updated FROM entries").fetchall()
    assert added.decision == "new"
    assert entry[0] == f"tag:{AUTH}:story/{fingerprint(s.text)[:24]}"
    assert entry[1] == story_name(s.title, fingerprint(s.text))
    assert entry[2] == entry[3] == format_time(NOW)


def test_the_same_story_again_adds_provenance_not_an_entry(store):
    s = story("The harbour reopened on Monday.")
    first = add(store, s, "a.txt")
    again = add(store, story("THE HARBOUR REOPENED  ON MONDAY.", (4, 4)), "b.txt", NOW + timedelta(hours=1))
    assert (again.decision, again.entry, again.version) == ("duplicate", first.entry, first.version)
    assert store.count_entries() == 1
    rows = store.db.execute("""SELECT s.location, p.first_line FROM provenance p JOIN sources s ON s.id = p.source
                               ORDER BY p.id""").fetchall()
    assert rows == [("a.txt", 1), ("b.txt", 4)]


def test_every_arrival_is_recorded_even_from_the_same_file_and_lines(store):
    s = story("The harbour reopened on Monday.")
    add(store, s)
    add(store, s)  # the file read again: another arrival
    assert store.db.execute("SELECT count(DISTINCT read), count(*) FROM provenance").fetchone() == (2, 2)


def test_migration_0002_keeps_the_provenance_of_a_0001_database(tmp_path):
    path = tmp_path / "p.db"
    db = Database(sqlite3.connect(path))
    MIGRATIONS.apply(db, stop_before="0002_provenance_per_arrival")
    db.execute("INSERT INTO sources (id, kind, location) VALUES (1, 'file', 'a.txt')")
    db.execute("INSERT INTO reads (id, source, read_at, outcome) VALUES (1, 1, '2026-01-01T00:00:00.000000Z', 'new')")
    db.execute("INSERT INTO entries (id, entry_id, name, first_seen, updated) VALUES (1, 'tag:x', 'x', '', '')")
    db.execute("INSERT INTO versions (id, entry, fingerprint, title, paragraphs, truncated, seen_at) "
               "VALUES (7, 1, 'f', 'T', '[]', 0, '')")
    db.execute("INSERT INTO provenance (version, source, read, first_line, last_line) VALUES (7, 1, 1, 3, 4)")
    db.close()
    store = Store.open(path, now=NOW)
    assert "0002_provenance_per_arrival" in [m.name for m in MIGRATIONS.applied(store.db)]
    assert store.db.execute("SELECT version, source, read, first_line, last_line FROM provenance").fetchall() == \
        [(7, 1, 1, 3, 4)]
    store.close()


def test_every_new_entry_gets_a_distinct_later_instant(store):
    for i in range(3):
        add(store, story(f"Story number {i} ended."))
    add(store, story("Another story, an hour earlier by the clock."), now=NOW - timedelta(hours=1))
    times = [r[0] for r in store.db.execute("SELECT first_seen FROM entries ORDER BY id")]
    assert times == sorted(times) and len(set(times)) == 4
    assert parse_time(times[0]) == NOW and parse_time(times[1]) == NOW + timedelta(microseconds=1)


def test_a_failed_transaction_stores_nothing(store):
    with pytest.raises(RuntimeError):
        with store.transaction():
            source = store.ensure_source("a.txt")
            read = store.start_read(source, NOW, 1, 1, "x")
            store_story(store, story("Gone."), source, read)
            raise RuntimeError("boom")
    assert store.count_entries() == 0 and store.source_state("a.txt") is None


def test_a_write_transaction_takes_the_lock_up_front(store, tmp_path):
    other = sqlite3.connect(tmp_path / "p.db", timeout=0)
    with store.transaction():
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
    other.execute("BEGIN IMMEDIATE")
    other.rollback()
    other.close()


def test_a_failed_read_forgets_the_stat_so_the_file_is_retried(store):
    with store.transaction():
        source = store.ensure_source("a.txt")
        store.finish_read(store.start_read(source, NOW, 10, 20, "abc"), "skipped", "empty file")
    state = store.source_state("a.txt")
    assert (state.size, state.mtime_ns, state.sha256) == (10, 20, "abc")
    with store.transaction():
        store.finish_read(store.start_read(source, NOW, 10, 30, "abc"), "failed", "cannot read")
    state = store.source_state("a.txt")
    assert (state.size, state.mtime_ns, state.sha256) == (None, None, None)
    assert store.sources()[0]["outcome"] == "failed"


def test_story_names_are_readable_ascii_and_unique_per_fingerprint():
    assert story_name("Taiwan’s coast guard: “drills” end", "ab12cd34ef") == "taiwans-coast-guard-drills-end-ab12cd34"
    assert story_name("賴清德", "ab12cd34ef56") == "ab12cd34ef56"
    assert len(story_name("word " * 40, "f" * 64)) <= 69


# -- frozen migrations -------------------------------------------------------------------------

@pytest.mark.parametrize("paragraphs, kicker, keys, digest", [
    (["Kyiv said on Monday that “drone” strikes — 12 of them — hit 3,400 homes overnight in the east of the country.",
      "The grid operator said repairs would take days."], None, 37,
     "79fa09065ab0778acea1bf8c56c76e49d2f2603e8c791ea6f4a2c86b5bc4d239"),
    (["SUMMARY LINE", "Short."], "KICKER", 21, "55c96f6f1a1dc9d39f7d69d15767be3a8e53b5e9cc59f22ac34a383f82d0dec6"),
])
def test_old_migrations_compute_what_they_computed_when_written(paragraphs, kicker, keys, digest):
    """Migrations 0003/0004/0006 use publisher.frozen, pinned here: a change to dedup cannot
    change what an old migration writes."""
    import hashlib

    from publisher import frozen

    band_keys, signature, packed = frozen.sketch_v1(paragraphs, kicker)
    assert len(band_keys) == keys
    assert hashlib.sha256(repr(band_keys).encode() + signature + packed).hexdigest() == digest


# -- sqlite3 errors are StoreErrors at the boundary --------------------------------------------

def test_a_database_error_after_open_is_a_store_error_naming_the_database(tmp_path):
    path = tmp_path / "p.db"
    Store.open(path, now=NOW).close()
    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE entry_topics")  # a damaged database: the schema says it is current
    conn.commit()
    conn.close()
    store = Store.open(path, now=NOW, migrate=False)
    try:
        with pytest.raises(StoreError, match=r"p\.db: database error: no such table: entry_topics") as caught:
            store.topics_of(1)
        assert "\n" not in str(caught.value)
    finally:
        store.close()


def test_a_write_the_database_refuses_is_a_store_error_and_rolls_back(store, tmp_path):
    read_only = sqlite3.connect(f"file:{tmp_path / 'p.db'}?mode=ro", uri=True)  # injected: CI runs as root
    store.sql.conn = read_only
    with pytest.raises(StoreError, match="readonly database"):
        with store.transaction():
            store.ensure_source("a.txt")
    assert not read_only.in_transaction
    read_only.close()
