"""The SQLite store: the system of record. The only module that imports sqlite-utils.

Tables (see MIGRATIONS for the exact schema):
- entries      one per published story: stable tag: id, name, first_seen, updated, current version
- versions     every distinct text seen for an entry (fingerprint unique)
- provenance   where each version came from: source, read, lines; one row per arrival
- sources      every input (kind 'file': a path relative to the sources dir) and its last stat
- reads        every time a source was read: outcome, reason, counts
- entry_topics topic membership of each entry's current version under the current rules
- topic_counts published entries per topic ('*': in any topic), kept as memberships and
               retractions change (a publish reads them instead of counting every membership)
- archive_members  the order each entry joined each feed (its archive page, see site.write_archives)
- meta         created_at (the date of an empty feed)
- sketches     each version's MinHash signature, shingle set, LSH band keys (one blob: the
               source of truth of the index) and lead signature (publisher.lsh)
- lsh_recent, lsh_bands  the LSH index (band key -> version): new keys go to the small
               lsh_recent, merged into lsh_bands in bulk (merge_index)
- brief_words  the content words of each entry whose current text is a brief (dedup.brief_words)
- story_search FTS5 full-text index: one row per published entry (rowid = entries.id), its
               current title and text (publisher.fulltext); retracted entries are not in it

Times are stored as UTC text, `YYYY-MM-DDTHH:MM:SS.ffffffZ`, which sorts as it reads.
Writes happen inside `transaction()` (BEGIN IMMEDIATE): one writer at a time, and a file's
stories land all together or not at all. Every sqlite3 error is a StoreError (one line, naming
the database) at this boundary. The store decides nothing: it reads rows, and applies what the
domain decided (a dedup.Placement, topics, a retraction).
"""

from __future__ import annotations

import json
import sqlite3
import struct
import time
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from itertools import combinations
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from publisher import dedup, entries as entry_rules, frozen, fulltext, lsh
from publisher.errors import QueryTimeout, StoreError
from publisher.model import Decision, Entry, ItemMeta, Origin, Outcome, Story, story_text

TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
MIGRATIONS = Migrations("publisher")


def format_time(dt: datetime) -> str:
    if dt.tzinfo is None:
        raise ValueError("naive datetime: publisher stores UTC times only")
    return dt.astimezone(UTC).strftime(TIME_FORMAT)


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text)  # reads the trailing Z as UTC (Python 3.11+); fast


def _statements(sql: str) -> list[str]:
    return [s.strip() for s in sql.split(";") if s.strip()]


@MIGRATIONS(name="0001_initial")
def _initial(db: Database) -> None:
    for statement in _statements("""
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE sources (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            location TEXT NOT NULL,
            size INTEGER,
            mtime_ns INTEGER,
            sha256 TEXT,
            last_read INTEGER,
            UNIQUE (kind, location)
        );
        CREATE TABLE reads (
            id INTEGER PRIMARY KEY,
            source INTEGER NOT NULL REFERENCES sources(id),
            read_at TEXT NOT NULL,
            size INTEGER,
            mtime_ns INTEGER,
            sha256 TEXT,
            outcome TEXT NOT NULL CHECK (outcome IN ('new', 'duplicate', 'skipped', 'failed')),
            reason TEXT,
            stories INTEGER NOT NULL DEFAULT 0,
            new INTEGER NOT NULL DEFAULT 0,
            duplicate INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX reads_source ON reads (source);
        CREATE TABLE entries (
            id INTEGER PRIMARY KEY,
            entry_id TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL UNIQUE,
            first_seen TEXT NOT NULL,
            updated TEXT NOT NULL,
            current_version INTEGER,
            classified TEXT
        );
        CREATE INDEX entries_newest ON entries (first_seen DESC, id DESC);
        CREATE TABLE versions (
            id INTEGER PRIMARY KEY,
            entry INTEGER NOT NULL REFERENCES entries(id),
            fingerprint TEXT NOT NULL UNIQUE,
            title TEXT NOT NULL,
            kicker TEXT,
            paragraphs TEXT NOT NULL,
            truncated INTEGER NOT NULL,
            seen_at TEXT NOT NULL
        );
        CREATE INDEX versions_entry ON versions (entry);
        CREATE TABLE provenance (
            id INTEGER PRIMARY KEY,
            version INTEGER NOT NULL REFERENCES versions(id),
            source INTEGER NOT NULL REFERENCES sources(id),
            read INTEGER NOT NULL REFERENCES reads(id),
            first_line INTEGER,
            last_line INTEGER,
            UNIQUE (version, source, first_line, last_line)
        );
        CREATE TABLE entry_topics (
            topic TEXT NOT NULL,
            entry INTEGER NOT NULL REFERENCES entries(id),
            score REAL NOT NULL,
            PRIMARY KEY (topic, entry)
        ) WITHOUT ROWID;
        CREATE INDEX entry_topics_entry ON entry_topics (entry)
    """):
        db.execute(statement)


@MIGRATIONS(name="0002_provenance_per_arrival")
def _provenance_per_arrival(db: Database) -> None:
    """Provenance gets a row for every arrival: the same file read again (re-saved, touched and
    changed) is another arrival. 0001 kept one row per (version, source, lines)."""
    for statement in _statements("""
        CREATE TABLE provenance_new (
            id INTEGER PRIMARY KEY,
            version INTEGER NOT NULL REFERENCES versions(id),
            source INTEGER NOT NULL REFERENCES sources(id),
            read INTEGER NOT NULL REFERENCES reads(id),
            first_line INTEGER,
            last_line INTEGER,
            UNIQUE (version, read, first_line, last_line)
        );
        INSERT INTO provenance_new (id, version, source, read, first_line, last_line)
            SELECT id, version, source, read, first_line, last_line FROM provenance;
        DROP TABLE provenance;
        ALTER TABLE provenance_new RENAME TO provenance;
        CREATE INDEX provenance_source ON provenance (source)
    """):
        db.execute(statement)


@MIGRATIONS(name="0003_near_duplicates_and_retraction")
def _near_duplicates(db: Database) -> None:
    """Near-duplicate detection (an LSH index of every version, the decision of every arrival)
    and retraction (a tombstone on the entry). Existing versions are indexed here."""
    for statement in _statements("""
        ALTER TABLE entries ADD COLUMN retracted_at TEXT;
        ALTER TABLE entries ADD COLUMN retract_reason TEXT;
        ALTER TABLE versions ADD COLUMN minhash BLOB;
        ALTER TABLE provenance ADD COLUMN decision TEXT;
        ALTER TABLE provenance ADD COLUMN compared_version INTEGER REFERENCES versions(id);
        ALTER TABLE provenance ADD COLUMN jaccard REAL;
        ALTER TABLE provenance ADD COLUMN containment REAL;
        ALTER TABLE reads ADD COLUMN revised INTEGER NOT NULL DEFAULT 0;
        CREATE TABLE lsh_bands (
            band INTEGER NOT NULL,
            version INTEGER NOT NULL REFERENCES versions(id),
            PRIMARY KEY (band, version)
        ) WITHOUT ROWID;
        UPDATE provenance SET decision = CASE
            WHEN id = (SELECT min(p.id) FROM provenance p WHERE p.version = provenance.version) THEN 'new'
            ELSE 'duplicate' END
    """):
        db.execute(statement)
    rows = db.execute("SELECT id, kicker, paragraphs FROM versions").fetchall()
    for version, kicker, paragraphs in rows:
        keys, sig, _ = frozen.sketch_v1(json.loads(paragraphs), kicker)
        db.execute("UPDATE versions SET minhash = ? WHERE id = ?", [sig, version])
        db.conn.executemany("INSERT OR IGNORE INTO lsh_bands (band, version) VALUES (?, ?)",
                            [(k, version) for k in keys])


@MIGRATIONS(name="0004_stored_shingles")
def _stored_shingles(db: Database) -> None:
    """Each version's shingle set, stored (sorted uint32): comparing a candidate no longer
    re-reads and re-normalises its text. And an index for the feeds' last-retraction date."""
    db.execute("ALTER TABLE versions ADD COLUMN shingles BLOB")
    db.execute("CREATE INDEX entries_retracted ON entries (retracted_at) WHERE retracted_at IS NOT NULL")
    for version, kicker, paragraphs in db.execute("SELECT id, kicker, paragraphs FROM versions").fetchall():
        db.execute("UPDATE versions SET shingles = ? WHERE id = ?", [frozen.sketch_v1(json.loads(paragraphs), kicker)[2],
                                                                      version])


@MIGRATIONS(name="0005_sketches_table")
def _sketches_table(db: Database) -> None:
    """Signatures and shingle sets move to a narrow table of their own: read beside the texts,
    every candidate lookup paid for the versions' wide rows (and their overflow pages)."""
    for statement in _statements("""
        CREATE TABLE sketches (
            version INTEGER PRIMARY KEY REFERENCES versions(id),
            entry INTEGER NOT NULL REFERENCES entries(id),
            minhash BLOB NOT NULL,
            shingles BLOB NOT NULL
        );
        INSERT INTO sketches (version, entry, minhash, shingles)
            SELECT id, entry, minhash, shingles FROM versions WHERE minhash IS NOT NULL AND shingles IS NOT NULL;
        ALTER TABLE versions DROP COLUMN minhash;
        ALTER TABLE versions DROP COLUMN shingles
    """):
        db.execute(statement)


@MIGRATIONS(name="0006_short_lead_bands")
def _short_lead_bands(db: Database) -> None:
    """Band keys of each version's first 12 lead shingles (dedup.SHORT_LEAD): short teasers
    (a dozen words) met a 24-shingle lead band only by chance. Existing keys are unchanged."""
    for version, kicker, paragraphs in db.execute("SELECT id, kicker, paragraphs FROM versions").fetchall():
        keys = frozen.sketch_v1(json.loads(paragraphs), kicker)[0]
        db.conn.executemany("INSERT OR IGNORE INTO lsh_bands (band, version) VALUES (?, ?)",
                            [(k, version) for k in keys])


@MIGRATIONS(name="0007_story_pages")
def _story_pages(db: Database) -> None:
    """Story pages are written again only for entries whose page changed (a new version, an
    arrival, new topics, a retraction): page_stale marks them, a partial index finds them."""
    for statement in _statements("""
        ALTER TABLE entries ADD COLUMN page_stale INTEGER NOT NULL DEFAULT 1;
        CREATE INDEX entries_page_stale ON entries (id) WHERE page_stale = 1
    """):
        db.execute(statement)


@MIGRATIONS(name="0008_feeds")
def _feeds(db: Database) -> None:
    """Other people's feeds as sources: a version keeps its sanitised HTML and its origin; each
    feed item is mapped to its entry (an item whose text changes is a revision of that entry);
    each fetched feed has a polling state (validators, errors, when to fetch next)."""
    for statement in _statements("""
        ALTER TABLE versions ADD COLUMN content_html TEXT;
        ALTER TABLE versions ADD COLUMN origin TEXT;
        CREATE TABLE feed_items (
            source INTEGER NOT NULL REFERENCES sources(id),
            item_id TEXT NOT NULL,
            entry INTEGER NOT NULL REFERENCES entries(id),
            fingerprint TEXT NOT NULL,
            PRIMARY KEY (source, item_id)
        ) WITHOUT ROWID;
        CREATE TABLE feed_state (
            source INTEGER PRIMARY KEY REFERENCES sources(id),
            etag TEXT,
            last_modified TEXT,
            fetched_at TEXT,
            last_success TEXT,
            next_fetch TEXT,
            errors INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            last_status INTEGER,
            title TEXT
        )
    """):
        db.execute(statement)


@MIGRATIONS(name="0009_reads_past_caps")
def _reads_past_caps(db: Database) -> None:
    """How many stories a read left unread or cut short by a [limits] cap (status shows them;
    the file is read again when touched, so a raised cap reads them)."""
    db.execute("ALTER TABLE reads ADD COLUMN past_caps INTEGER NOT NULL DEFAULT 0")


@MIGRATIONS(name="0010_source_dates_and_item_meta")
def _source_dates_and_item_meta(db: Database) -> None:
    """The dates a source gave a story (a feed item's published and updated dates, a wire
    file's date), stored once on the entry and shown as its published date; and a feed item's
    authors, categories and enclosures (JSON), with the version that carried them. Entries
    stored before keep the dates they have: every new column is NULL for them."""
    for statement in _statements("""
        ALTER TABLE entries ADD COLUMN source_published TEXT;
        ALTER TABLE entries ADD COLUMN source_updated TEXT;
        ALTER TABLE versions ADD COLUMN meta TEXT
    """):
        db.execute(statement)


@MIGRATIONS(name="0011_search")
def _search(db: Database) -> None:
    """Full-text search of every published story: an FTS5 table holding each entry's current
    title and text (its own copy: the text of a version is JSON paragraphs, and highlighting
    needs the text as indexed), kept current by apply, retract and unretract. Existing
    published entries are indexed here; retracted ones are not."""
    db.execute(f"CREATE VIRTUAL TABLE story_search USING fts5(title, body, tokenize='{fulltext.TOKENIZE}')")
    last = 0
    while True:
        rows = db.execute("""SELECT e.id, v.title, v.kicker, v.paragraphs FROM entries e
                             JOIN versions v ON v.id = e.current_version
                             WHERE e.id > ? AND e.retracted_at IS NULL ORDER BY e.id LIMIT 1000""", [last]).fetchall()
        if not rows:
            return
        db.conn.executemany("INSERT INTO story_search (rowid, title, body) VALUES (?, ?, ?)",
                            [(entry, *frozen.search_document_v1(title, kicker, json.loads(paragraphs)))
                             for entry, title, kicker, paragraphs in rows])
        last = rows[-1][0]


@MIGRATIONS(name="0012_archives")
def _archives(db: Database) -> None:
    """Archive pages (RFC 5005 archived feeds, and their HTML pages): each entry gets a place
    in each feed it joins, once, the first time it joins (`seq`: 1, 2, ... per feed; the
    merged feed is '*'), so that a page (seq 1-50, 51-100, ...) holds the same stories for
    ever. `stale` marks the members whose page must be written again (a new member, a
    revision, a change of topic, a retraction); `changed` is when a member was last retracted
    or brought back (the page's date moves then). archive_feeds counts each feed's members and
    the pages closed when the archive was last written. Entries already in topics join in the
    order they were first seen."""
    for statement in _statements("""
        CREATE TABLE archive_members (
            feed TEXT NOT NULL,
            seq INTEGER NOT NULL,
            entry INTEGER NOT NULL REFERENCES entries(id),
            stale INTEGER NOT NULL DEFAULT 1,
            changed TEXT,
            PRIMARY KEY (feed, seq)
        ) WITHOUT ROWID;
        CREATE UNIQUE INDEX archive_members_entry ON archive_members (entry, feed);
        CREATE INDEX archive_members_stale ON archive_members (feed, seq) WHERE stale = 1;
        CREATE TABLE archive_feeds (
            feed TEXT PRIMARY KEY,
            members INTEGER NOT NULL,
            closed INTEGER NOT NULL DEFAULT 0
        );
        INSERT INTO archive_members (feed, seq, entry)
            SELECT t.topic, row_number() OVER (PARTITION BY t.topic ORDER BY e.first_seen, e.id), e.id
            FROM entry_topics t JOIN entries e ON e.id = t.entry;
        INSERT INTO archive_members (feed, seq, entry)
            SELECT '*', row_number() OVER (ORDER BY e.first_seen, e.id), e.id
            FROM entries e WHERE EXISTS (SELECT 1 FROM entry_topics t WHERE t.entry = e.id);
        INSERT INTO archive_feeds (feed, members) SELECT feed, max(seq) FROM archive_members GROUP BY feed
    """):
        db.execute(statement)


@MIGRATIONS(name="0013_brief_words")
def _brief_words(db: Database) -> None:
    """The content words (dedup.brief_words: 64-bit keys) of every entry whose current text is
    a brief, so that an article arriving after its brief finds it without searching every
    stored text. Kept by apply; entries stored before it are not in it (a brief's article
    comes within days)."""
    for statement in _statements("""
        CREATE TABLE brief_words (
            word INTEGER NOT NULL,
            entry INTEGER NOT NULL REFERENCES entries(id),
            PRIMARY KEY (word, entry)
        ) WITHOUT ROWID;
        CREATE INDEX brief_words_entry ON brief_words (entry)
    """):
        db.execute(statement)


@MIGRATIONS(name="0014_compact_bands")
def _compact_bands(db: Database) -> None:
    """Each version's band keys as one blob (sketches.bands: signed 64-bit little-endian, in key
    order here), the source of truth from which the index can be rebuilt; its lead signature
    (sketches.lead, see publisher.lsh), NULL for the versions stored before (their lead hits
    are compared as before); and `lsh_recent`, the small table that takes new keys until they
    are merged into lsh_bands in bulk. In bulk: one pass over lsh_bands in key order, grouped
    by version in a temporary table, then one UPDATE. (Frozen: nothing here calls code that
    may change; the packing is this function's own.)"""

    class Pack:
        def __init__(self) -> None:
            self.keys: list[int] = []

        def step(self, key: int) -> None:
            self.keys.append(key)

        def finalize(self) -> bytes:
            return struct.pack(f"<{len(self.keys)}q", *sorted(self.keys))

    db.conn.create_aggregate("publisher_pack_bands_0014", 1, Pack)
    for statement in _statements("""
        ALTER TABLE sketches ADD COLUMN bands BLOB;
        ALTER TABLE sketches ADD COLUMN lead BLOB;
        CREATE TABLE lsh_recent (
            band INTEGER NOT NULL,
            version INTEGER NOT NULL REFERENCES versions(id),
            PRIMARY KEY (band, version)
        ) WITHOUT ROWID;
        CREATE TEMP TABLE bands_0014 (version INTEGER PRIMARY KEY, bands BLOB NOT NULL);
        INSERT INTO bands_0014 (version, bands)
            SELECT version, publisher_pack_bands_0014(band) FROM lsh_bands GROUP BY version;
        UPDATE sketches SET bands = b.bands FROM bands_0014 b WHERE b.version = sketches.version;
        UPDATE sketches SET bands = X'' WHERE bands IS NULL;
        DROP TABLE bands_0014
    """):
        db.execute(statement)


@MIGRATIONS(name="0015_topic_counts")
def _topic_counts(db: Database) -> None:
    """How many published entries each feed holds, kept by set_topics, retract and unretract
    (a feed's count was a scan of every membership on every publish): `topic` a topic's slug,
    '*' the merged feed (entries in any topic). Filled here from the memberships as they are.
    And story pages: an entry never in a topic has no page, so its page is not stale (apply
    and set_topics mark only entries with a page from now on)."""
    for statement in _statements("""
        CREATE TABLE topic_counts (
            topic TEXT PRIMARY KEY,
            entries INTEGER NOT NULL
        );
        INSERT INTO topic_counts (topic, entries)
            SELECT t.topic, count(*) FROM entry_topics t JOIN entries e ON e.id = t.entry
            WHERE e.retracted_at IS NULL GROUP BY t.topic;
        INSERT INTO topic_counts (topic, entries)
            SELECT '*', count(*) FROM entries e
            WHERE e.retracted_at IS NULL AND EXISTS (SELECT 1 FROM entry_topics t WHERE t.entry = e.id);
        UPDATE entries SET page_stale = 0 WHERE page_stale = 1
            AND NOT EXISTS (SELECT 1 FROM archive_members m WHERE m.entry = entries.id AND m.feed = '*')
    """):
        db.execute(statement)


@MIGRATIONS(name="0016_sketches_v2")
def _sketches_v2(db: Database) -> None:
    """Shingles hashed as integer arithmetic over word hashes (dedup, frozen.sketch_v2): the
    same sets (one shingle, one hash) under other hash values, so every stored version's
    shingle set, signature and band keys (its blob, sketches.bands, and the index) are computed
    again, in batches of 2,000 versions. The lead signature (sketches.lead) is cleared: versions
    stored before this migration have none, and their lead hits are compared as before 0014."""
    db.execute("DELETE FROM lsh_bands")
    db.execute("DELETE FROM lsh_recent")
    last = 0
    while rows := db.execute("""SELECT k.version, v.kicker, v.paragraphs FROM sketches k
                                JOIN versions v ON v.id = k.version
                                WHERE k.version > ? ORDER BY k.version LIMIT 2000""", [last]).fetchall():
        sketches, bands = [], []
        for version, kicker, paragraphs in rows:
            keys, signature, packed = frozen.sketch_v2(json.loads(paragraphs), kicker)
            sketches.append((signature, packed, struct.pack(f"<{len(keys)}q", *keys), version))
            bands += [(k, version) for k in keys]
        db.conn.executemany("UPDATE sketches SET minhash = ?, shingles = ?, bands = ?, lead = NULL WHERE version = ?", sketches)
        db.conn.executemany("INSERT OR IGNORE INTO lsh_bands (band, version) VALUES (?, ?)", sorted(bands))
        last = rows[-1][0]

@MIGRATIONS(name="0017_cheap_lookups")
def _cheap_lookups(db: Database) -> None:
    """Two lookups that scanned every entry on every publish: the newest `updated` (each new
    entry's instant follows it) and the entries to classify. An entry to classify has
    `classified` NULL (new, revised, brought back) once the meta `classified_under` names the
    rules every other entry was classified under; until then the first classification after
    this migration looks at every entry, as before."""
    db.execute("CREATE INDEX entries_updated ON entries (updated)")
    db.execute("CREATE INDEX entries_unclassified ON entries (id) WHERE classified IS NULL")


def stored_ns(ns: int | None) -> int | None:
    """A modification time in ns as SQLite can hold it (a 64-bit integer: a file dated after
    the year 2262, or before 1677, failed every publish with an OverflowError)."""
    return None if ns is None else max(-(2**63), min(ns, 2**63 - 1))


def _source_date(value: str | None) -> dedup.SourceDate | None:
    """versions.dated read back (see _dated)."""
    if not value:
        return None
    if len(value) == 10:  # a day, from its file's name
        return dedup.SourceDate(datetime.fromisoformat(value).replace(tzinfo=UTC), by_name=True)
    return dedup.SourceDate(parse_time(value))


def _dated(story: Story) -> str | None:
    """versions.dated of a wire story: the day its file's name gives ("2026-11-24"), else the
    instant of its modification time; None for a feed's item or no date."""
    if story.origin is not None or story.published is None:
        return None
    return story.published.date().isoformat() if story.dated_by_name else format_time(story.published)


@MIGRATIONS(name="0018_version_dates")
def _version_dates(db: Database) -> None:
    """Each wire version's source date (the date in its file's name, else the file's
    modification time): a later-arriving text from a file dated before the shown text's is an
    older version, kept as history (dedup.older). Versions stored before have none (NULL), and
    are never compared so."""
    db.execute("ALTER TABLE versions ADD COLUMN dated TEXT")


@dataclass(frozen=True, slots=True)
class FeedState:
    """What is known of polling one feed URL."""

    source: int
    url: str
    etag: str | None = None
    last_modified: str | None = None
    fetched_at: datetime | None = None
    last_success: datetime | None = None
    next_fetch: datetime | None = None
    errors: int = 0  # failures in a row
    last_error: str | None = None
    last_status: int | None = None
    title: str | None = None


@dataclass(frozen=True, slots=True)
class SourceState:
    id: int
    size: int | None
    mtime_ns: int | None
    sha256: str | None
    past_caps: int = 0  # stories its last read left past a cap


@dataclass(frozen=True, slots=True)
class NewEntry:
    """The identity of an entry about to be stored: minted by the domain (publisher.entries)."""

    entry_id: str  # tag: URI
    name: str


@dataclass(frozen=True, slots=True)
class Applied:
    """What applying one placement stored."""

    decision: Decision
    entry: int  # entries.id
    version: int  # versions.id


def _origin(text: str | None) -> Origin | None:
    return Origin(**json.loads(text)) if text else None


def _meta(text: str | None) -> ItemMeta:
    return ItemMeta.from_json(json.loads(text)) if text else ItemMeta()


def _meta_json(meta: ItemMeta) -> str | None:
    return json.dumps(meta.to_json(), ensure_ascii=False, sort_keys=True) if meta else None


def _time_or_none(dt: datetime | None) -> str | None:
    return format_time(dt) if dt is not None else None


def _parse_or_none(text: str | None) -> datetime | None:
    return parse_time(text) if text else None


class _Cursor:
    __slots__ = ("_cursor", "_fail")

    def __init__(self, cursor: sqlite3.Cursor, fail):
        self._cursor, self._fail = cursor, fail

    def fetchall(self) -> list[tuple]:
        try:
            return self._cursor.fetchall()
        except sqlite3.Error as exc:
            raise self._fail(exc) from exc

    def fetchone(self) -> tuple | None:
        try:
            return self._cursor.fetchone()
        except sqlite3.Error as exc:
            raise self._fail(exc) from exc

    @property
    def lastrowid(self) -> int:
        return self._cursor.lastrowid

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount


# What SQLite says when the database or its disk fails, whatever is being stored (by result
# code; by message for an error raised without one).
_FATAL_CODES = frozenset((sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN,
                          sqlite3.SQLITE_NOMEM, sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_CORRUPT,
                          sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_PERM, sqlite3.SQLITE_NOLFS, sqlite3.SQLITE_PROTOCOL))
_FATAL_MESSAGES = ("database or disk is full", "disk I/O error", "attempt to write a readonly database",
                   "unable to open database file", "database is locked", "database table is locked",
                   "database disk image is malformed", "file is not a database", "out of memory")


def _fatal(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in _FATAL_CODES  # the primary code of an extended one (SQLITE_IOERR_WRITE ...)
    return str(exc).startswith(_FATAL_MESSAGES)


class _Connection:
    """The connection as the store uses it: every sqlite3 error becomes a StoreError naming
    the database (one line for the user, not a traceback)."""

    __slots__ = ("conn", "path")

    def __init__(self, conn: sqlite3.Connection, path: Path):
        self.conn, self.path = conn, path

    def fail(self, exc: sqlite3.Error) -> StoreError:
        return StoreError(f"{self.path}: database error: {exc}", fatal=_fatal(exc))

    def execute(self, sql: str, params: Any = ()) -> _Cursor:
        try:
            return _Cursor(self.conn.execute(sql, params), self.fail)
        except sqlite3.Error as exc:
            raise self.fail(exc) from exc

    def executemany(self, sql: str, rows: Any) -> None:
        try:
            self.conn.executemany(sql, rows)
        except sqlite3.Error as exc:
            raise self.fail(exc) from exc


class Store:
    """All reads and writes of the database. Open with Store.open(path)."""

    def __init__(self, db: Database, path: Path):
        self.db = db  # sqlite-utils, for migrations; every query goes through self.sql
        self.sql = _Connection(db.conn, path)
        self.path = path
        self._last_instant: datetime | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path, *, now: datetime, migrate: bool = True) -> Store:
        """Open (creating it when missing) and bring the schema up to date.

        `now` is recorded as the creation time of a new database. With migrate=False a
        database with pending migrations is refused (readers must not write).
        """
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(str(path), timeout=30)
            db = Database(conn)
            db.execute("PRAGMA foreign_keys = ON")
            if migrate:
                db.execute("PRAGMA journal_mode = WAL")
                db.execute("PRAGMA cache_size = -65536")  # 64 MiB: index pages of a large store stay hot
                MIGRATIONS.apply(db)
                db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('created_at', ?)",
                           [format_time(now)])
            elif MIGRATIONS.pending(db):
                raise StoreError(f"{path}: database schema is out of date; run `publisher publish` to upgrade it")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{path}: cannot open database: {exc}") from None
        return cls(db, path)

    @classmethod
    def open_read_only(cls, path: Path) -> Store:
        """Open an existing database for reading only (the service's searches): nothing is
        created, migrated or written. In WAL mode a reader never blocks a writer, nor waits
        for one, and each query sees committed transactions only, never a publish half-done."""
        try:
            conn = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True, timeout=1,
                                   check_same_thread=False)
            conn.execute("PRAGMA query_only = ON")
        except sqlite3.Error as exc:
            raise StoreError(f"{path}: cannot open database: {exc}") from None
        return cls(Database(conn), path)

    @contextmanager
    def time_limit(self, seconds: float) -> Iterator[None]:
        """Queries inside are stopped once `seconds` have passed: QueryTimeout."""
        deadline = time.monotonic() + seconds
        self.sql.conn.set_progress_handler(lambda: time.monotonic() > deadline, 100)  # every 100 VM steps
        try:
            yield
        except StoreError as exc:
            if time.monotonic() > deadline:
                raise QueryTimeout(f"{self.path}: a query took more than {seconds:g} s") from exc
            raise
        finally:
            self.sql.conn.set_progress_handler(None, 0)

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """A write transaction, taking the write lock up front (BEGIN IMMEDIATE); all or nothing.

        Nested inside another, it is a savepoint: it rolls back alone, and commits with the
        outer one. (Ingest puts many files in one transaction, each file in a savepoint.)
        """
        if self.sql.conn.in_transaction:
            try:
                with self.db.atomic():  # SAVEPOINT ... RELEASE / ROLLBACK TO
                    try:
                        yield
                    except BaseException:
                        self._last_instant = None
                        raise
            except sqlite3.Error as exc:
                raise self.sql.fail(exc) from exc
            return
        self.sql.execute("BEGIN IMMEDIATE")
        try:
            yield
            self.sql.conn.commit()
        except BaseException as exc:
            self._last_instant = None
            try:
                self.sql.conn.rollback()
            except sqlite3.Error:
                pass  # the commit failed and took the transaction with it
            if isinstance(exc, sqlite3.Error):
                raise self.sql.fail(exc) from exc
            raise

    def _one(self, sql: str, params: Any = ()) -> Any:
        row = self.sql.execute(sql, params).fetchone()
        return row[0] if row else None

    @property
    def created_at(self) -> datetime:
        value = self._one("SELECT value FROM meta WHERE key = 'created_at'")
        return parse_time(value)

    def meta(self, key: str) -> str | None:
        return self._one("SELECT value FROM meta WHERE key = ?", [key])

    def id_authority(self) -> str | None:
        """The authority this store's ids are minted with: recorded at the first publish (meta
        `id_authority`), or, in a store from before it was recorded, its oldest entry's."""
        recorded = self.meta("id_authority")
        if recorded is not None:
            return recorded
        oldest = self._one("SELECT entry_id FROM entries ORDER BY id LIMIT 1")
        return entry_rules.authority_of(oldest) if oldest else None

    def set_meta(self, key: str, value: str) -> None:
        """Set a meta value (last run, next run ...); call inside a transaction."""
        self.sql.execute("INSERT INTO meta (key, value) VALUES (?, ?) "
                        "ON CONFLICT (key) DO UPDATE SET value = excluded.value", [key, value])

    # -- sources and reads -------------------------------------------------------------------

    _STATE = """SELECT s.location, s.id, s.size, s.mtime_ns, s.sha256, coalesce(r.past_caps, 0)
                FROM sources s LEFT JOIN reads r ON r.id = s.last_read WHERE s.kind = ?"""

    def source_state(self, location: str, kind: str = "file") -> SourceState | None:
        row = self.sql.execute(self._STATE + " AND s.location = ?", [kind, location]).fetchone()
        return SourceState(*row[1:]) if row else None

    def source_states(self, kind: str = "file") -> dict[str, SourceState]:
        """What is known of every source of a kind, by location."""
        rows = self.sql.execute(self._STATE, [kind])
        return {r[0]: SourceState(*r[1:]) for r in rows.fetchall()}

    def ensure_source(self, location: str, kind: str = "file") -> int:
        self.sql.execute("INSERT OR IGNORE INTO sources (kind, location) VALUES (?, ?)", [kind, location])
        return self._one("SELECT id FROM sources WHERE kind = ? AND location = ?", [kind, location])

    def remember_stat(self, source: int, size: int, mtime_ns: int) -> None:
        """The file's content is unchanged (same sha256): remember its new stat only."""
        self.sql.execute("UPDATE sources SET size = ?, mtime_ns = ? WHERE id = ?", [size, stored_ns(mtime_ns), source])

    def start_read(self, source: int, read_at: datetime, size: int | None, mtime_ns: int | None,
                   sha256: str | None) -> int:
        cur = self.sql.execute(
            "INSERT INTO reads (source, read_at, size, mtime_ns, sha256, outcome) VALUES (?, ?, ?, ?, ?, 'failed')",
            [source, format_time(read_at), size, stored_ns(mtime_ns), sha256])
        return cur.lastrowid

    def finish_read(self, read: int, outcome: Outcome, reason: str | None, stories: int = 0, new: int = 0,
                    duplicate: int = 0, revised: int = 0, past_caps: int = 0) -> None:
        """Record the outcome of a read and make it the source's latest state.

        The stat and hash are remembered only for reads that succeeded, so a file that failed
        is tried again next time even if it did not change.
        """
        self.sql.execute("UPDATE reads SET outcome = ?, reason = ?, stories = ?, new = ?, duplicate = ?, revised = ?, "
                        "past_caps = ? WHERE id = ?",
                        [str(outcome), reason, stories, new, duplicate, revised, past_caps, read])
        keep = outcome != Outcome.FAILED
        self.sql.execute(
            """UPDATE sources SET last_read = r.id,
                   size = CASE WHEN ? THEN r.size END, mtime_ns = CASE WHEN ? THEN r.mtime_ns END,
                   sha256 = CASE WHEN ? THEN r.sha256 END
               FROM (SELECT id, source, size, mtime_ns, sha256 FROM reads WHERE id = ?) AS r
               WHERE sources.id = r.source""",
            [keep, keep, keep, read])

    # -- stories -----------------------------------------------------------------------------

    def _next_instant(self, now: datetime) -> datetime:
        if self._last_instant is None:
            newest = self._one("SELECT max(updated) FROM entries")
            self._last_instant = parse_time(newest) if newest else None
        self._last_instant = entry_rules.next_instant(now, self._last_instant)
        return self._last_instant

    def version_by_fingerprint(self, fingerprint: str) -> tuple[int, int] | None:
        """(version, entry) of the stored text with this fingerprint, if any."""
        return self.sql.execute("SELECT id, entry FROM versions WHERE fingerprint = ?", [fingerprint]).fetchone()

    def given_by(self, fingerprint: str, source: int) -> int | None:
        """The entry of the stored text with this fingerprint, if this source ever gave it."""
        return self._one("""SELECT v.entry FROM versions v WHERE v.fingerprint = ? AND EXISTS
                            (SELECT 1 FROM provenance p WHERE p.version = v.id AND p.source = ?)""",
                         [fingerprint, source])

    def file_arrivals(self, source: int) -> list[tuple[int, int | None, int | None]]:
        """(entry, first line, last line) of each story the last read of a source gave that
        stored any, in line order."""
        return [tuple(r) for r in self.sql.execute(
            """SELECT v.entry, p.first_line, p.last_line FROM provenance p JOIN versions v ON v.id = p.version
               WHERE p.source = ? AND p.read = (SELECT max(read) FROM provenance WHERE source = ?)
               ORDER BY p.first_line, p.id""", [source, source]).fetchall()]

    def current_dated(self, entry: int) -> dedup.SourceDate | None:
        """The source date of an entry's current text, when it is a wire text stored with one."""
        return _source_date(self._one("SELECT v.dated FROM entries e JOIN versions v ON v.id = e.current_version "
                                      "WHERE e.id = ?", [entry]))

    def version_text(self, version: int) -> tuple[str | None, list[str]]:
        """(kicker, paragraphs) of a stored version."""
        kicker, paragraphs = self.sql.execute("SELECT kicker, paragraphs FROM versions WHERE id = ?",
                                              [version]).fetchone()
        return kicker, json.loads(paragraphs)

    # -- the LSH index (publisher.lsh: lsh_recent takes new keys, merged into lsh_bands in bulk) --

    def _buckets(self, keys: Collection[int]) -> dict[int, list[int]]:
        """{key: the versions in its bucket, newest first, at most lsh.BUCKET_LIMIT + 1} for the
        keys that have any: lsh_recent's, then lsh_bands', each bucket read newest first and no
        deeper, in both tables (every version in lsh_recent is newer than those merged before).
        Never the whole of a bucket: a batch of stories that share a phrase fills one bucket
        in lsh_recent with thousands before a merge, and reading them all made each lookup
        cost as much as the stories before it (a flood of 4,000 took 139 s, not 6)."""
        deep = lsh.BUCKET_LIMIT + 1
        out: dict[int, list[int]] = {}
        keys = list(keys)
        for table in ("lsh_recent", "lsh_bands"):  # (a bucket lsh_recent fills is not read further)
            for at in range(0, len(keys), 400):  # SQLite allows 500 SELECTs in a compound
                chunk = keys[at : at + 400]
                rows = self.sql.execute(" UNION ALL ".join(
                    f"SELECT * FROM (SELECT band, version FROM {table} WHERE band = ? ORDER BY version DESC LIMIT {deep})"
                    for _ in chunk), chunk).fetchall()
                for band, version in rows:
                    out.setdefault(band, []).append(version)
            keys = [key for key in keys if len(out.get(key, ())) < deep]
        return {band: sorted(versions, reverse=True)[:deep] for band, versions in out.items()}

    def band_hits(self, band_keys: Sequence[int], lead_keys: int) -> list[lsh.Hit]:
        """Stored versions sharing an LSH band with a new text (the last `lead_keys` keys are
        lead bands) that lsh.select keeps (a bucket fuller than lsh.BUCKET_LIMIT is a phrase
        many stories share, not a revision, which shares several bands), each with what its
        sketch row says of it (lsh.rank judges them on that)."""
        if not band_keys:
            return []
        found = {f.version: f for f in lsh.select(band_keys, lead_keys, self._buckets(band_keys))}
        if not found:
            return []
        rows = self.sql.execute(
            f"""SELECT version, entry, minhash, length(shingles) / 4, lead FROM sketches
                WHERE version IN ({",".join("?" * len(found))})""", list(found)).fetchall()
        return [lsh.Hit(version=r[0], entry=r[1], whole=found[r[0]].whole, lead=found[r[0]].lead, minhash=r[2],
                        size=r[3], lead_signature=r[4]) for r in rows]

    def texts_with_bands(self, band_keys: Collection[int]) -> list[tuple[str | None, list[str]]]:
        """(kicker, paragraphs) of the stored versions that have any of these LSH band keys
        (each band's bucket newest first, at most lsh.BUCKET_LIMIT deep), oldest first."""
        versions = {v for bucket in self._buckets(sorted(band_keys)).values() for v in bucket[: lsh.BUCKET_LIMIT]}
        if not versions:
            return []
        wanted = sorted(versions)
        rows = []
        for at in range(0, len(wanted), 400):
            chunk = wanted[at : at + 400]
            rows += self.sql.execute(f"SELECT id, kicker, paragraphs FROM versions WHERE id IN ({','.join('?' * len(chunk))})",
                                     chunk).fetchall()
        return [(kicker, json.loads(paragraphs)) for _, kicker, paragraphs in sorted(rows)]

    def recent_keys(self) -> int:
        """How many keys lsh_recent holds (not yet merged into lsh_bands)."""
        return self._one("SELECT count(*) FROM lsh_recent")

    def merge_index(self, at_least: int = lsh.RECENT_LIMIT) -> int:
        """Move lsh_recent's keys into lsh_bands, in key order, in a transaction of its own,
        once it holds `at_least` keys (1: whatever it holds); returns the keys moved. The caller
        holds the write lock (a run's end, between commit batches)."""
        with self.transaction():
            n = self.recent_keys()
            if not n or n < at_least:
                return 0
            self.sql.execute("INSERT OR IGNORE INTO lsh_bands (band, version) "
                             "SELECT band, version FROM lsh_recent ORDER BY band, version")
            self.sql.execute("DELETE FROM lsh_recent")
        return n

    def rebuild_index(self) -> int:
        """The LSH index again from each version's stored keys (sketches.bands, the source of
        truth): every key in lsh_bands, lsh_recent empty. Returns the keys indexed."""
        with self.transaction():
            self.sql.execute("DELETE FROM lsh_recent")
            self.sql.execute("DELETE FROM lsh_bands")
            rows: list[tuple[int, int]] = []
            last = 0
            while True:
                chunk = self.sql.execute("SELECT version, bands FROM sketches WHERE version > ? ORDER BY version "
                                         "LIMIT 10000", [last]).fetchall()
                if not chunk:
                    break
                rows += [(k, v) for v, blob in chunk for k in lsh.unpack_keys(blob)]
                last = chunk[-1][0]
            rows.sort()
            self.sql.executemany("INSERT OR IGNORE INTO lsh_bands (band, version) VALUES (?, ?)", rows)
        return len(rows)

    def candidates(self, ranked: dict[int, list[int]]) -> list[dedup.Candidate]:
        """The ranked entries (dedup.rank_candidates: {entry: matched versions}), in that order,
        each with its current version and the other matched versions, as dedup compares them."""
        if not ranked:
            return []
        marks = ",".join("?" * len(ranked))
        heads = {r[0]: r[1:] for r in self.sql.execute(
            f"SELECT id, first_seen, current_version, retracted_at FROM entries WHERE id IN ({marks})",
            list(ranked)).fetchall()}
        wanted = list({heads[e][1] for e in ranked} | {v for e in ranked for v in ranked[e]})
        versions = {r[0]: dedup.ComparedVersion(r[0], dedup.unpack(r[1]), bool(r[2])) for r in self.sql.execute(
            f"""SELECT k.version, k.shingles, v.truncated FROM sketches k JOIN versions v ON v.id = k.version
                WHERE k.version IN ({','.join('?' * len(wanted))})""", wanted).fetchall()}
        out = []
        for e, matched in ranked.items():
            first_seen, current, retracted_at = heads[e]
            if current not in versions:
                continue
            others = tuple(versions[v] for v in sorted(matched) if v != current and v in versions)
            out.append(dedup.Candidate(entry=e, order=(first_seen, e), current=versions[current], others=others,
                                       retracted=retracted_at is not None))
        return out

    def stored_versions(self, entry: int, not_from: int) -> list[tuple[dedup.ComparedVersion, dedup.SourceDate | None]]:
        """The versions of an entry, but its current one and those source `not_from` gave
        (any read of it), each as dedup compares it and with its source date, oldest first."""
        rows = self.sql.execute(
            """SELECT k.version, k.shingles, v.truncated, v.dated FROM sketches k JOIN versions v ON v.id = k.version
               JOIN entries e ON e.id = v.entry
               WHERE v.entry = ? AND v.id != e.current_version
                 AND NOT EXISTS (SELECT 1 FROM provenance p WHERE p.version = v.id AND p.source = ?)
               ORDER BY v.seen_at, v.id""", [entry, not_from]).fetchall()
        return [(dedup.ComparedVersion(r[0], dedup.unpack(r[1]), bool(r[2])), _source_date(r[3])) for r in rows]

    def current_compared(self, entry: int) -> tuple[dedup.ComparedVersion, dedup.SourceDate | None]:
        """An entry's current version, as dedup compares it, and its source date."""
        r = self.sql.execute(
            """SELECT k.version, k.shingles, v.truncated, v.dated FROM entries e JOIN versions v ON v.id = e.current_version
               JOIN sketches k ON k.version = v.id WHERE e.id = ?""", [entry]).fetchone()
        return dedup.ComparedVersion(r[0], dedup.unpack(r[1]), bool(r[2])), _source_date(r[3])

    def move_version(self, version: int, entry: int) -> None:
        """A stored version becomes a version of another entry (`reread` split the story it was
        filed under); both entries' pages change."""
        was = self._one("SELECT entry FROM versions WHERE id = ?", [version])
        self.sql.execute("UPDATE versions SET entry = ? WHERE id = ?", [entry, version])
        self.sql.execute("UPDATE sketches SET entry = ? WHERE version = ?", [entry, version])
        # a feed's item whose text this was now belongs to that entry: its next text revises it
        self.sql.execute("UPDATE feed_items SET entry = ? WHERE entry = ? AND fingerprint = "
                         "(SELECT fingerprint FROM versions WHERE id = ?)", [entry, was, version])
        self._page_changed(was)
        self._page_changed(entry)

    def record_older(self, version: int) -> None:
        """Each arrival of a version is recorded as an older version's (Decision.OLDER): history
        only (a reread's part whose own later update is shown instead; it was never published)."""
        self.sql.execute("UPDATE provenance SET decision = ? WHERE version = ?", [str(Decision.OLDER), version])

    def make_current(self, entry: int, version: int, now: datetime) -> None:
        """A stored version of an entry becomes its current text, as a revision does (_show)."""
        title, kicker, paragraphs = self.sql.execute("SELECT title, kicker, paragraphs FROM versions WHERE id = ?",
                                                     [version]).fetchone()
        paragraphs = json.loads(paragraphs)
        self._show(entry, version, format_time(self._next_instant(now)), fulltext.document(title, kicker, paragraphs),
                   dedup.sketch(paragraphs, kicker).brief_words)

    def _show(self, entry: int, version: int, instant: str, document: tuple[str, str] | None,
              brief_words: Sequence[int]) -> None:
        """A version becomes its entry's current text: `updated` moves to `instant`, the entry
        is classified again and its page marked, its search row and brief words follow."""
        self.sql.execute("UPDATE entries SET current_version = ?, updated = ?, classified = NULL, page_stale = EXISTS "
                         "(SELECT 1 FROM archive_members WHERE entry = ?3 AND feed = '*') "
                         "WHERE id = ?3", [version, instant, entry])
        self.sql.execute("DELETE FROM brief_words WHERE entry = ?", [entry])
        self._index(entry, document)
        self._brief_words(entry, brief_words)

    def _brief_words(self, entry: int, words: Sequence[int]) -> None:
        if words:
            self.sql.executemany("INSERT OR IGNORE INTO brief_words (word, entry) VALUES (?, ?)",
                                 [(w, entry) for w in words])

    def texts_sharing_words(self, words: Sequence[str], *, at_least: int, window: int,
                            limit: int) -> list[dedup.StoredText]:
        """The current texts of published entries among the newest `window` whose indexed text
        (the full-text index, story_search) has at least `at_least` of `words`, the newest
        first, at most `limit` (newest first, not by rank: the index stops at the first
        `limit` rows it finds, so the cost is bounded and the answer does not depend on time)."""
        terms = ['"' + w.replace('"', '""') + '"' for w in dict.fromkeys(words) if w][:8]
        if len(terms) < max(at_least, 1):
            return []
        expression = " OR ".join("(" + " AND ".join(group) + ")" for group in combinations(terms, max(at_least, 1)))
        newest = self._one("SELECT max(id) FROM entries") or 0
        found = [r[0] for r in self.sql.execute(
            """SELECT rowid FROM story_search WHERE story_search MATCH ? AND rowid > ?
               ORDER BY rowid DESC LIMIT ?""", [expression, newest - window, limit]).fetchall()]
        return self._current_texts(found)

    def briefs_sharing_words(self, words: Sequence[int], *, at_least: int, window: int,
                             limit: int) -> list[dedup.StoredText]:
        """The current texts of the entries among the newest `window` whose current text is a
        brief with at least `at_least` of these content words (brief_words), the most shared
        first (ties: the newest), at most `limit`."""
        keys = list(dict.fromkeys(words))[:500]
        if len(keys) < at_least:
            return []
        newest = self._one("SELECT max(id) FROM entries") or 0
        found = [r[0] for r in self.sql.execute(
            f"""SELECT entry FROM brief_words WHERE word IN ({",".join("?" * len(keys))}) AND entry > ?
                GROUP BY entry HAVING count(*) >= ? ORDER BY count(*) DESC, entry DESC LIMIT ?""",
            [*keys, newest - window, at_least, limit]).fetchall()]
        return self._current_texts(found)

    def _current_texts(self, entries: Sequence[int]) -> list[dedup.StoredText]:
        """dedup.StoredText of each of these entries, in that order (a retracted one marked so:
        a fuller text of a retracted brief stays with it, out of the feeds)."""
        if not entries:
            return []
        rows = {r[0]: r for r in self.sql.execute(
            f"""SELECT e.id, e.first_seen, v.id, v.kicker, v.paragraphs, e.retracted_at FROM entries e
                JOIN versions v ON v.id = e.current_version
                WHERE e.id IN ({",".join("?" * len(entries))})""", list(entries)).fetchall()}
        return [dedup.StoredText(entry=r[0], version=r[2], order=(r[1], r[0]), kicker=r[3],
                                 paragraphs=tuple(json.loads(r[4])), retracted=r[5] is not None)
                for r in (rows.get(e) for e in entries) if r]

    def apply(self, placement: dedup.Placement, story: Story, fingerprint: str, sketch: dedup.Sketch | None, *,
              source: int, read: int, now: datetime, new_entry: NewEntry | None = None) -> Applied:
        """Store what `placement` says of one arriving story, in one call: a copy is another
        arrival of the stored version; any other text is a new version (of a new entry, whose
        identity `new_entry` gives, or of placement.entry: its current one when
        placement.current, `updated` moving to now), with its sketch, its LSH keys (into
        lsh_recent) and its arrival.

        A new entry costs six statements and no UPDATE: the entry row is written with the id
        its version is about to get (the next rowid of versions, max(id) + 1, read in the same
        statement inside the write transaction) and its page unmarked (it has none until it joins a topic); its search row and
        brief words need no DELETE first."""
        document = None
        if not placement.stores_text:
            version, entry = placement.version, placement.entry
            stale = True
        else:
            assert sketch is not None
            instant = format_time(self._next_instant(now))
            entry = placement.entry
            if entry is None:
                assert new_entry is not None and placement.current
                # the source's dates: stored once, when the entry is made (never re-dated after)
                entry, version = self.sql.execute(
                    """INSERT INTO entries (entry_id, name, first_seen, updated, source_published, source_updated,
                                            current_version, page_stale)
                       VALUES (?, ?, ?, ?, ?, ?, (SELECT coalesce(max(id), 0) + 1 FROM versions), 0)
                       RETURNING id, current_version""",
                    [new_entry.entry_id, new_entry.name, instant, instant, _time_or_none(story.published),
                     _time_or_none(story.updated)]).fetchone()
                stale = False  # a new row, made unmarked (page_stale = 0): no page until it joins a topic
            else:
                version = None
                stale = not placement.current
                if placement.current and story.origin is not None and story.updated is not None:
                    # a feed's revision of its item: the item's own updated date (published stays)
                    self.sql.execute("UPDATE entries SET source_updated = ? WHERE id = ?",
                                     [format_time(story.updated), entry])
            stored = self.sql.execute(
                """INSERT INTO versions (id, entry, fingerprint, title, kicker, paragraphs, truncated, seen_at,
                                         content_html, origin, meta, dated)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                [version, entry, fingerprint, story.title, story.kicker,
                 json.dumps(list(story.paragraphs), ensure_ascii=False), int(story.truncated), instant, story.html,
                 json.dumps(asdict(story.origin), ensure_ascii=False) if story.origin else None,
                 _meta_json(story.meta),
                 _dated(story)]).lastrowid
            assert version is None or stored == version
            version = stored
            self.sql.execute("INSERT INTO sketches (version, entry, minhash, shingles, bands, lead) "
                             "VALUES (?, ?, ?, ?, ?, ?)",
                             [version, entry, sketch.signature.tobytes(), dedup.pack(sketch.shingles),
                              lsh.pack_keys(sketch.band_keys), lsh.lead_signature(sketch)])
            self.sql.executemany("INSERT OR IGNORE INTO lsh_recent (band, version) VALUES (?, ?)",
                                 [(k, version) for k in sketch.band_keys])
            if placement.current:
                document = fulltext.document(story.title, story.kicker, story.paragraphs)
                if placement.entry is not None:  # a revision: the entry's row, brief words and search row change
                    self._show(entry, version, instant, document, sketch.brief_words)
                else:
                    if document is not None:
                        self.sql.execute("INSERT INTO story_search (rowid, title, body) VALUES (?, ?, ?)",
                                         [entry, *document])
                    self._brief_words(entry, sketch.brief_words)
        self.sql.execute(
            """INSERT OR IGNORE INTO provenance (version, source, read, first_line, last_line, decision,
                                                 compared_version, jaccard, containment)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [version, source, read, story.first_line, story.last_line, str(placement.decision), placement.compared,
             placement.jaccard, placement.containment])
        if stale:
            self._page_changed(entry)
        return Applied(placement.decision, entry, version)

    # -- search ------------------------------------------------------------------------------

    def _index(self, entry: int, document: tuple[str, str] | None) -> None:
        """The entry's row of the search index: (title, body) of its current version, unless
        it is retracted; None: out of the index."""
        self.sql.execute("DELETE FROM story_search WHERE rowid = ?", [entry])
        if document is not None:
            self.sql.execute("""INSERT INTO story_search (rowid, title, body) SELECT ?, ?, ?
                                WHERE EXISTS (SELECT 1 FROM entries WHERE id = ? AND retracted_at IS NULL)""",
                             [entry, *document, entry])

    def search(self, expression: str, topic: str | None, limit: int, offset: int = 0) -> list[dict[str, Any]]:
        """Published entries matching an FTS5 `expression` (fulltext.parse_query), newest
        first, of one topic, of any topic (topic="*") or of all (None): id, name, first_seen,
        updated, topics, and the title and a snippet of the text with each match between
        fulltext.OPEN and CLOSE. Newest first is row id order: an entry's first_seen is later
        than every time stored before it (entries.next_instant), so row ids go in first-seen
        order, as `list` shows; FTS5 walks its index in that order and stops at `limit`."""
        if topic is None:
            where, params = "", []
        elif topic == "*":
            where, params = "AND EXISTS (SELECT 1 FROM entry_topics t WHERE t.entry = e.id)", []
        else:
            where, params = "AND EXISTS (SELECT 1 FROM entry_topics t WHERE t.topic = ? AND t.entry = e.id)", [topic]
        o, c = fulltext.OPEN, fulltext.CLOSE
        rows = self.sql.execute(
            f"""SELECT e.entry_id, e.name, e.first_seen, e.updated,
                       (SELECT json_group_array(t.topic) FROM entry_topics t WHERE t.entry = e.id),
                       highlight(story_search, 0, ?, ?), snippet(story_search, 1, ?, ?, ?, ?)
                FROM story_search JOIN entries e ON e.id = story_search.rowid
                WHERE story_search MATCH ? AND e.retracted_at IS NULL {where}
                ORDER BY story_search.rowid DESC LIMIT ? OFFSET ?""",
            [o, c, o, c, fulltext.ELLIPSIS, fulltext.SNIPPET_TOKENS, expression, *params, limit, offset]).fetchall()
        keys = ("id", "name", "first_seen", "updated")
        return [dict(zip(keys, r[:4]), topics=sorted(json.loads(r[4])), title=r[5], snippet=r[6]) for r in rows]

    # -- retraction --------------------------------------------------------------------------

    def find_entry(self, ref: str) -> int | None:
        """An entry by its tag: id or its name."""
        return self._one("SELECT id FROM entries WHERE entry_id = ? OR name = ?", [ref, ref])

    def entries_by_hash_prefix(self, prefix: str, limit: int = 10) -> list[tuple[int, str, str]]:
        """(row id, entry id, name) of the entries whose id's hex part (after ":story/") starts
        with `prefix` (lower-case hex), at most `limit`, in id order."""
        rows = self.sql.execute(
            """SELECT id, entry_id, name FROM entries
               WHERE substr(entry_id, instr(entry_id, ':story/') + 7, ?) = ? AND instr(entry_id, ':story/') > 0
               ORDER BY id LIMIT ?""", [len(prefix), prefix, limit]).fetchall()
        return [tuple(r) for r in rows]

    def list_entries(self, topic: str | None, limit: int) -> list[dict[str, Any]]:
        """The newest `limit` entries (retracted ones included), newest first (by first_seen,
        then row id), of one topic, of any topic (topic="*") or of all (None, unclassified ones
        too): id, name, title, topics, first_seen, updated, retracted_at."""
        if topic is None:
            where, params = "", [limit]
        elif topic == "*":
            where, params = "WHERE EXISTS (SELECT 1 FROM entry_topics t WHERE t.entry = e.id)", [limit]
        else:
            where, params = "WHERE EXISTS (SELECT 1 FROM entry_topics t WHERE t.topic = ? AND t.entry = e.id)", \
                [topic, limit]
        rows = self.sql.execute(
            f"""SELECT e.entry_id, e.name, v.title, e.first_seen, e.updated, e.retracted_at,
                       (SELECT json_group_array(t.topic) FROM entry_topics t WHERE t.entry = e.id)
                FROM entries e JOIN versions v ON v.id = e.current_version {where}
                ORDER BY e.first_seen DESC, e.id DESC LIMIT ?""", params).fetchall()
        keys = ("id", "name", "title", "first_seen", "updated", "retracted_at")
        return [dict(zip(keys, r[:6]), topics=sorted(json.loads(r[6]))) for r in rows]

    def retract(self, entry: int, reason: str | None, now: datetime) -> bool:
        """Tombstone an entry: it leaves every feed, and so do later copies and revisions of it.
        Returns False when it was already retracted."""
        cur = self.sql.execute("UPDATE entries SET retracted_at = ?, retract_reason = ?, page_stale = 1 "
                              "WHERE id = ? AND retracted_at IS NULL", [format_time(now), reason, entry])
        if cur.rowcount != 1:
            return False
        self._count(self.topics_of(entry), -1)
        self._index(entry, None)
        self._archive_changed(entry, now)
        return True

    def _archive_changed(self, entry: int, now: datetime) -> None:
        self.sql.execute("UPDATE archive_members SET stale = 1, changed = ? WHERE entry = ?", [format_time(now), entry])

    def unretract(self, entry: int, now: datetime) -> bool:
        """Undo retract: the entry is published again. Its feeds changed now: recorded per topic
        (meta `unretracted:<slug>`, and `unretracted:*` for any), as latest_retraction reads it.
        Returns False when it was not retracted."""
        cur = self.sql.execute("UPDATE entries SET retracted_at = NULL, retract_reason = NULL, page_stale = 1, "
                               "classified = NULL "  # classified again: the rules may have changed meanwhile
                              "WHERE id = ? AND retracted_at IS NOT NULL", [entry])
        if cur.rowcount != 1:
            return False
        self._count(self.topics_of(entry), +1)
        title, kicker, paragraphs = self.sql.execute(
            "SELECT v.title, v.kicker, v.paragraphs FROM entries e JOIN versions v ON v.id = e.current_version "
            "WHERE e.id = ?", [entry]).fetchone()
        self._index(entry, fulltext.document(title, kicker, json.loads(paragraphs)))
        self._archive_changed(entry, now)
        for topic in (*self.topics_of(entry), "*"):
            self.set_meta(f"unretracted:{topic}", format_time(now))
        return True

    def latest_retraction(self, topic: str | None) -> datetime | None:
        """When an entry of this topic (None: of any topic) was last retracted or brought back
        (unretract): the feed changed."""
        value = self._one(
            """SELECT max(e.retracted_at) FROM entries e WHERE e.retracted_at IS NOT NULL AND EXISTS
               (SELECT 1 FROM entry_topics t WHERE t.entry = e.id AND (? IS NULL OR t.topic = ?))""", [topic, topic])
        back = self.meta(f"unretracted:{topic or '*'}")
        times = [parse_time(v) for v in (value, back) if v]
        return max(times) if times else None

    def retracted(self) -> list[dict[str, Any]]:
        rows = self.sql.execute(
            """SELECT e.entry_id, e.name, v.title, e.retracted_at, e.retract_reason FROM entries e
               JOIN versions v ON v.id = e.current_version WHERE e.retracted_at IS NOT NULL
               ORDER BY e.retracted_at, e.id""").fetchall()
        return [dict(zip(("id", "name", "title", "retracted_at", "reason"), r)) for r in rows]

    # -- history (explain) -------------------------------------------------------------------

    def history(self, entry: int) -> dict[str, Any]:
        """Everything stored about one entry: the entry, its versions and every arrival."""
        keys = ("id", "entry_id", "name", "first_seen", "updated", "current_version", "retracted_at", "retract_reason")
        row = self.sql.execute(f"SELECT {', '.join(keys)} FROM entries WHERE id = ?", [entry]).fetchone()
        out = dict(zip(keys, row))
        versions = []
        for v in self.sql.execute("""SELECT id, fingerprint, title, kicker, paragraphs, truncated, seen_at,
                                           content_html, origin, dated
                                    FROM versions WHERE entry = ? ORDER BY seen_at, id""", [entry]).fetchall():
            arrivals = self.sql.execute(
                """SELECT s.location, p.first_line, p.last_line, r.read_at, p.decision, p.compared_version,
                          ce.entry_id, p.jaccard, p.containment
                   FROM provenance p JOIN sources s ON s.id = p.source JOIN reads r ON r.id = p.read
                   LEFT JOIN versions cv ON cv.id = p.compared_version LEFT JOIN entries ce ON ce.id = cv.entry
                   WHERE p.version = ? ORDER BY p.id""", [v[0]]).fetchall()
            versions.append({
                "version": v[0], "fingerprint": v[1], "title": v[2], "kicker": v[3],
                "paragraphs": json.loads(v[4]), "truncated": bool(v[5]), "seen_at": v[6],
                "html": v[7], "origin": json.loads(v[8]) if v[8] else None,
                "current": v[0] == out["current_version"], "dated": v[9],
                "arrivals": [dict(zip(("path", "first_line", "last_line", "read_at", "decision", "compared_version",
                                       "compared_entry", "jaccard", "containment"), a)) for a in arrivals],
            })
        out["versions"] = versions
        return out

    def count_versions(self, entry: int, shown: Sequence[str]) -> int:
        """How many versions of an entry are current or arrived with a decision in `shown`."""
        marks = ",".join("?" * len(shown)) or "NULL"
        return self._one(f"""SELECT count(*) FROM versions v WHERE v.entry = ? AND (v.id = (SELECT current_version
                                 FROM entries WHERE id = ?) OR EXISTS (SELECT 1 FROM provenance p
                                 WHERE p.version = v.id AND p.decision IN ({marks})))""", [entry, entry, *shown])

    def page_history(self, entry: int, shown: Sequence[str], limit: int) -> dict[str, Any]:
        """What a story page shows of an entry, in a bounded read however long its history: the
        entry; its newest `limit` versions that are current or arrived with a decision in
        `shown` (the domain's rule, entries.SHOWN), oldest first; its newest `limit` arrivals;
        and how many of each there are in all."""
        keys = ("id", "entry_id", "name", "first_seen", "updated", "current_version", "retracted_at", "retract_reason",
                "source_published", "source_updated")
        row = self.sql.execute(f"SELECT {', '.join(keys)} FROM entries WHERE id = ?", [entry]).fetchone()
        out = dict(zip(keys, row))
        marks = ",".join("?" * len(shown)) or "NULL"
        where = f"""v.entry = ? AND (v.id = ? OR EXISTS (SELECT 1 FROM provenance p
                    WHERE p.version = v.id AND p.decision IN ({marks})))"""
        params = [entry, out["current_version"], *shown]
        # each list and its total in one query: count(*) OVER () counts every matching row
        # before the LIMIT (a page is written per changed story: 3 queries a page, not 5)
        columns = "v.id, v.title, v.kicker, v.paragraphs, v.truncated, v.seen_at, v.content_html, v.origin, v.meta"
        rows = self.sql.execute(f"SELECT {columns}, count(*) OVER () FROM versions v WHERE {where} "
                                "ORDER BY v.seen_at DESC, v.id DESC LIMIT ?", [*params, limit]).fetchall()
        out["versions_total"] = rows[0][-1] if rows else 0
        if not any(r[0] == out["current_version"] for r in rows):  # (the current text is always shown)
            rows = rows[: limit - 1] + self.sql.execute(f"SELECT {columns}, 0 FROM versions v WHERE v.id = ?",
                                                        [out["current_version"]]).fetchall()
            rows.sort(key=lambda r: (r[5], r[0]), reverse=True)
        out["versions"] = [{"version": r[0], "title": r[1], "kicker": r[2], "paragraphs": json.loads(r[3]),
                            "truncated": bool(r[4]), "seen_at": r[5], "html": r[6],
                            "origin": json.loads(r[7]) if r[7] else None, "current": r[0] == out["current_version"],
                            "meta": json.loads(r[8]) if r[8] else None}
                           for r in reversed(rows)]
        arrivals = self.sql.execute(
            """SELECT s.location, p.first_line, p.last_line, r.read_at, p.decision, count(*) OVER ()
               FROM provenance p JOIN versions v ON v.id = p.version
               JOIN sources s ON s.id = p.source JOIN reads r ON r.id = p.read
               WHERE v.entry = ? ORDER BY p.id DESC LIMIT ?""", [entry, limit]).fetchall()
        out["arrivals_total"] = arrivals[0][-1] if arrivals else 0
        out["arrivals"] = [dict(zip(("path", "first_line", "last_line", "read_at", "decision"), a)) for a in arrivals]
        return out

    # -- classification ----------------------------------------------------------------------

    def unclassified_texts(self, digest: str) -> Iterator[tuple[int, str | None, list[str]]]:
        """(entry, kicker, paragraphs of its current version) for entries whose topics are stale under
        the rules with this digest (new entries, revised entries, or the rules changed).
        Retracted entries keep the topics they had: the feeds they left stay the same feeds."""
        if self.meta("classified_under") == digest:  # only what changed since: classified NULL
            stale = "e.classified IS NULL"
        else:  # rules new to the store: every entry is looked at
            stale = "e.classified IS NOT (?2 || ':' || e.current_version)"
        last = 0
        while True:  # in pages: memory stays flat however many entries need it
            rows = self.sql.execute(
                f"""SELECT e.id, v.kicker, v.paragraphs FROM entries e JOIN versions v ON v.id = e.current_version
                    WHERE e.id > ?1 AND e.retracted_at IS NULL AND {stale}
                    ORDER BY e.id LIMIT 1000""", [last, digest] if "?2" in stale else [last]).fetchall()
            if not rows:
                return
            for entry, kicker, paragraphs in rows:
                yield entry, kicker, json.loads(paragraphs)
            last = rows[-1][0]

    def set_topics(self, entry: int, digest: str, topics: list[tuple[str, float]]) -> None:
        """The entry's topics under the rules with this digest. A feed it joins for the first
        time gives it its place in that feed's archive (the merged feed: '*'); every archive
        page it is on (it changed, or joined, or left) is to be written again."""
        before = set(self.topics_of(entry))
        self.sql.execute("DELETE FROM entry_topics WHERE entry = ?", [entry])
        if topics:
            self.sql.executemany("INSERT INTO entry_topics (topic, entry, score) VALUES (?, ?, ?)",
                                     [(slug, entry, score) for slug, score in topics])
            for feed in (*(slug for slug, _ in topics), "*"):
                self._join_archive(feed, entry)
        after = {slug for slug, _ in topics}
        if not self.is_retracted(entry):
            self._count(before, -1, after)
            self._count(after, +1, before)
        self.sql.execute("UPDATE archive_members SET stale = 1 WHERE entry = ? AND stale = 0", [entry])
        self.sql.execute("UPDATE entries SET classified = ? || ':' || current_version WHERE id = ?", [digest, entry])
        if before != after:  # (its page shows its topics; a new text or arrival marked it in apply)
            self._page_changed(entry)

    def classified_all(self, digest: str) -> None:
        """Every published entry is classified under the rules with this digest: from now on,
        only entries whose `classified` is NULL (new, revised, brought back) are stale. Call in
        the transaction that classified the last of them."""
        if self.meta("classified_under") != digest:
            self.set_meta("classified_under", digest)

    def _count(self, topics: Collection[str], step: int, other: Collection[str] = ()) -> None:
        """topic_counts: `step` for each of `topics` not in `other`, and for the merged feed
        ('*') when one side is empty and the other not."""
        changed = [t for t in topics if t not in other]
        if topics and not other:
            changed.append("*")
        if changed:
            self.sql.executemany("INSERT INTO topic_counts (topic, entries) VALUES (?, ?) ON CONFLICT (topic) "
                                 "DO UPDATE SET entries = entries + excluded.entries", [(t, step) for t in changed])

    def _page_changed(self, entry: int) -> None:
        """The entry's story page is to be written again, if it has one (it is, or was, in a
        topic: an entry never in a topic costs write_pages nothing). A new entry's row is made
        marked (the column's default): this clears it until the entry joins a topic."""
        self.sql.execute("UPDATE entries SET page_stale = EXISTS (SELECT 1 FROM archive_members "
                         "WHERE entry = ?1 AND feed = '*') WHERE id = ?1", [entry])

    def _join_archive(self, feed: str, entry: int) -> None:
        if self._one("SELECT 1 FROM archive_members WHERE entry = ? AND feed = ?", [entry, feed]):
            return  # (a place is given once: an entry back in a topic is back on its page)
        seq = self._one("INSERT INTO archive_feeds (feed, members) VALUES (?, 1) ON CONFLICT (feed) "
                        "DO UPDATE SET members = members + 1 RETURNING members", [feed])
        self.sql.execute("INSERT INTO archive_members (feed, seq, entry) VALUES (?, ?, ?)", [feed, seq, entry])

    # -- feeds -------------------------------------------------------------------------------

    _ENTRY_COLUMNS = """e.entry_id, e.name, e.first_seen, e.updated, v.title, v.kicker, v.paragraphs, v.truncated,
                        v.content_html, v.origin, e.source_published, e.source_updated, v.meta,
                        (SELECT json_group_array(t.topic) FROM entry_topics t WHERE t.entry = e.id)"""

    def feed_entries(self, topic: str | None, limit: int) -> list[Entry]:
        """The newest `limit` entries of a topic (or of any topic, for topic=None), newest
        first: by first_seen, then by entry row id (both fixed once stored)."""
        # Both walk the entries_newest index and stop at `limit` matches (no sort of the topic).
        if topic is None:
            where, params = "EXISTS (SELECT 1 FROM entry_topics t WHERE t.entry = e.id)", [limit]
        else:
            where, params = "EXISTS (SELECT 1 FROM entry_topics t WHERE t.topic = ? AND t.entry = e.id)", [topic, limit]
        rows = self.sql.execute(
            f"""SELECT {self._ENTRY_COLUMNS} FROM entries e JOIN versions v ON v.id = e.current_version
                WHERE e.retracted_at IS NULL AND {where}
                ORDER BY e.first_seen DESC, e.id DESC LIMIT ?""", params).fetchall()
        return self._entries(rows)

    @staticmethod
    def _entries(rows: list[tuple]) -> list[Entry]:
        return [Entry(entry_id=r[0], name=r[1], published=parse_time(r[2]), updated=parse_time(r[3]),
                      title=r[4], kicker=r[5], paragraphs=tuple(json.loads(r[6])), truncated=bool(r[7]),
                      html=r[8], origin=_origin(r[9]), source_published=_parse_or_none(r[10]),
                      source_updated=_parse_or_none(r[11]), meta=_meta(r[12]), topics=tuple(sorted(json.loads(r[13]))))
                for r in rows]

    # -- archives ----------------------------------------------------------------------------

    def archive_feeds(self) -> dict[str, tuple[int, int]]:
        """{feed: (members, pages closed when its archive was last written)}; '*': the merged feed."""
        return {r[0]: (r[1], r[2]) for r in self.sql.execute("SELECT feed, members, closed FROM archive_feeds")
                .fetchall()}

    def archive_entries(self, feed: str, first: int, last: int) -> tuple[list[Entry], datetime | None]:
        """The entries with places first..last in a feed's archive that it publishes now (in
        the topic, not retracted), newest first (by first_seen, then row id); and the latest
        change of any entry ever placed there (its `updated`, a retraction or its undoing)."""
        shown = ("EXISTS (SELECT 1 FROM entry_topics t WHERE t.entry = e.id)" if feed == "*" else
                 "EXISTS (SELECT 1 FROM entry_topics t WHERE t.topic = m.feed AND t.entry = e.id)")
        rows = self.sql.execute(
            f"""SELECT {self._ENTRY_COLUMNS} FROM archive_members m JOIN entries e ON e.id = m.entry
                JOIN versions v ON v.id = e.current_version
                WHERE m.feed = ? AND m.seq BETWEEN ? AND ? AND e.retracted_at IS NULL AND {shown}
                ORDER BY e.first_seen DESC, e.id DESC""", [feed, first, last]).fetchall()
        changed = self._one(
            """SELECT max(max(e.updated, coalesce(m.changed, ''), coalesce(e.retracted_at, '')))
               FROM archive_members m JOIN entries e ON e.id = m.entry
               WHERE m.feed = ? AND m.seq BETWEEN ? AND ?""", [feed, first, last])
        return self._entries(rows), _parse_or_none(changed)

    def stale_archive_pages(self, feed: str, size: int, closed: int) -> list[int]:
        """The closed pages (1..closed, of `size` places) of a feed's archive with a member
        marked stale, oldest first. (The partial index of stale members, named: left to itself
        the planner walks the feed's whole primary-key range, 33 ms at 1M stored, for the few.)"""
        return [r[0] for r in self.sql.execute(
            """SELECT DISTINCT (seq - 1) / ?1 + 1 FROM archive_members INDEXED BY archive_members_stale
               WHERE feed = ?2 AND stale = 1 AND seq <= ?3 ORDER BY 1""", [size, feed, closed * size]).fetchall()]

    def archive_written(self, feed: str, first: int, last: int) -> None:
        self.sql.execute("UPDATE archive_members SET stale = 0 WHERE feed = ? AND seq BETWEEN ? AND ? AND stale = 1",
                         [feed, first, last])

    def set_archive_closed(self, feed: str, closed: int) -> None:
        self.sql.execute("UPDATE archive_feeds SET closed = ? WHERE feed = ?", [closed, feed])

    def all_archives_stale(self) -> None:
        """Every archive page is written again (the page size, the site or the feeds changed)."""
        self.sql.execute("UPDATE archive_members SET stale = 1 WHERE stale = 0")
        self.sql.execute("UPDATE archive_feeds SET closed = 0")

    def ever_in_a_topic(self, entry: int) -> bool:
        """The entry was in a topic once (so its story page was published)."""
        return self._one("SELECT 1 FROM archive_members WHERE entry = ? AND feed = '*'", [entry]) == 1

    # -- feeds as sources ----------------------------------------------------------------------

    def feed_item(self, source: int, item_id: str) -> tuple[int, str] | None:
        """(entry, fingerprint of its text last time) of an item this source gave before."""
        return self.sql.execute("SELECT entry, fingerprint FROM feed_items WHERE source = ? AND item_id = ?",
                               [source, item_id]).fetchone()

    def set_feed_item(self, source: int, item_id: str, entry: int, fingerprint: str) -> None:
        self.sql.execute("INSERT INTO feed_items (source, item_id, entry, fingerprint) VALUES (?, ?, ?, ?) "
                        "ON CONFLICT (source, item_id) DO UPDATE SET entry = excluded.entry, "
                        "fingerprint = excluded.fingerprint", [source, item_id, entry, fingerprint])

    def is_retracted(self, entry: int) -> bool:
        return self._one("SELECT retracted_at IS NOT NULL FROM entries WHERE id = ?", [entry]) == 1

    _FEED_STATE = ("etag", "last_modified", "fetched_at", "last_success", "next_fetch", "errors", "last_error",
                   "last_status", "title")

    def feed_states(self) -> dict[str, FeedState]:
        """Every feed URL ever polled, by URL."""
        rows = self.sql.execute(
            f"""SELECT s.id, s.location, {', '.join('f.' + c for c in self._FEED_STATE)}
                FROM sources s JOIN feed_state f ON f.source = s.id WHERE s.kind = 'feed'""").fetchall()
        out = {}
        for r in rows:
            out[r[1]] = FeedState(source=r[0], url=r[1], etag=r[2], last_modified=r[3],
                                  fetched_at=parse_time(r[4]) if r[4] else None,
                                  last_success=parse_time(r[5]) if r[5] else None,
                                  next_fetch=parse_time(r[6]) if r[6] else None,
                                  errors=r[7], last_error=r[8], last_status=r[9], title=r[10])
        return out

    def save_feed_state(self, state: FeedState) -> None:
        values = [state.etag, state.last_modified,
                  format_time(state.fetched_at) if state.fetched_at else None,
                  format_time(state.last_success) if state.last_success else None,
                  format_time(state.next_fetch) if state.next_fetch else None,
                  state.errors, state.last_error, state.last_status, state.title]
        self.sql.execute(
            f"""INSERT INTO feed_state (source, {', '.join(self._FEED_STATE)}) VALUES (?, {', '.join('?' * 9)})
                ON CONFLICT (source) DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in self._FEED_STATE)}""",
            [state.source, *values])

    # -- story pages -------------------------------------------------------------------------

    def stale_pages(self, limit: int = 500, after: int = 0) -> list[int]:
        """Entries whose page must be written again (or removed), oldest first, from row id
        `after` on (a publish walks them in batches and marks them written once, at its end)."""
        return [r[0] for r in self.sql.execute(
            "SELECT id FROM entries WHERE page_stale = 1 AND id > ? ORDER BY id LIMIT ?", [after, limit]).fetchall()]

    def pages_written(self, entries: list[int]) -> None:
        self.sql.executemany("UPDATE entries SET page_stale = 0 WHERE id = ?", [(e,) for e in entries])

    def all_pages_stale(self) -> None:
        """Every page is written again (the site, the topics or the templates changed)."""
        self.sql.execute("UPDATE entries SET page_stale = 1 WHERE page_stale = 0 AND EXISTS "
                         "(SELECT 1 FROM archive_members m WHERE m.entry = entries.id AND m.feed = '*')")

    def topics_of(self, entry: int) -> tuple[str, ...]:
        """The topics an entry is in, by slug."""
        return tuple(r[0] for r in self.sql.execute(
            "SELECT topic FROM entry_topics WHERE entry = ? ORDER BY topic", [entry]).fetchall())

    # -- status ------------------------------------------------------------------------------

    # Counts are of published entries: retracted ones are counted apart.

    def topic_counts(self) -> dict[str, int]:
        """{topic: published entries in it}, topics with none left out (kept as entries change:
        set_topics, retract, unretract)."""
        return dict(self.sql.execute("SELECT topic, entries FROM topic_counts WHERE topic != '*' AND entries > 0 "
                                     "ORDER BY topic").fetchall())

    def scanned_topic_counts(self) -> tuple[dict[str, int], int]:
        """(topic_counts(), count_in_any_topic()) counted from every membership, as they were
        before topic_counts was kept: what the kept counts must equal (tests; a check)."""
        topics = dict(self.sql.execute(
            """SELECT t.topic, count(*) FROM entry_topics t JOIN entries e ON e.id = t.entry
               WHERE e.retracted_at IS NULL GROUP BY t.topic ORDER BY t.topic""").fetchall())
        return topics, self._one("SELECT count(DISTINCT t.entry) FROM entry_topics t JOIN entries e ON e.id = t.entry "
                                 "WHERE e.retracted_at IS NULL")

    def count_entries(self) -> int:
        return self._one("SELECT count(*) FROM entries WHERE retracted_at IS NULL")

    def count_unclassified(self) -> int:
        return self._one("SELECT count(*) FROM entries e WHERE e.retracted_at IS NULL AND NOT EXISTS "
                         "(SELECT 1 FROM entry_topics t WHERE t.entry = e.id)")

    def count_in_any_topic(self) -> int:
        """Published entries in any topic (the merged feed's count), kept as topic_counts is."""
        return self._one("SELECT entries FROM topic_counts WHERE topic = '*'") or 0

    def count_entries_over(self, versions: int, shown: Sequence[str]) -> int:
        """Published entries with more than `versions` versions current or arrived with a
        decision in `shown` (their pages show the newest only)."""
        marks = ",".join("?" * len(shown)) or "NULL"
        return self._one(
            f"""SELECT count(*) FROM (SELECT v.entry FROM versions v JOIN entries e ON e.id = v.entry
                WHERE e.retracted_at IS NULL AND (v.id = e.current_version OR EXISTS (SELECT 1 FROM provenance p
                      WHERE p.version = v.id AND p.decision IN ({marks})))
                GROUP BY v.entry HAVING count(*) > ?)""", [*shown, versions])

    def sources(self, files: Collection[str] | None = None) -> list[dict[str, Any]]:
        """Each source with the outcome of its latest read, in path order. `files`: the files
        to show (those in sources/ now: one removed is forgotten here, its stories stay); None: all."""
        rows = self.sql.execute(
            """SELECT s.location, r.outcome, r.reason, r.stories, r.new, r.duplicate, r.read_at, r.revised,
                      r.past_caps
               FROM sources s JOIN reads r ON r.id = s.last_read
               WHERE s.kind != 'file' OR ?1 IS NULL OR s.location IN (SELECT value FROM json_each(?1))
               ORDER BY s.kind, s.location""", [None if files is None else json.dumps(sorted(files))]).fetchall()
        keys = ("path", "outcome", "reason", "stories", "new", "duplicate", "read_at", "revised", "past_caps")
        return [dict(zip(keys, row)) for row in rows]
