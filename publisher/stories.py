"""Use cases about single stories: find one, list them, retract one (and bring it back),
explain one, and the dry run of `classify FILE`.

Each returns data; the CLI prints it. Nothing here prints, and nothing but the store runs SQL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from publisher import atomic, lock
from publisher.ingest import reread_file, stored_ledes
from publisher.publish import check_identity, publish, rewrite
from publisher.report import PublishReport, SourceReport
from publisher.sources.files import source_file
from publisher.classify import classify_story, topic_scorer
from publisher.config import Config
from publisher.errors import StoreError, UnknownStory
from publisher.model import Outcome, ReadResult, Story, TopicMatch
from publisher.sources import read_file_explained
from publisher.sources import boundaries
from publisher.sources.wire import Boundary
from publisher.store import Store


@dataclass(frozen=True, slots=True)
class Retraction:
    entry_id: str
    title: str
    done: bool  # False: it was already retracted (at retracted_at)
    retracted_at: str | None
    report: PublishReport | None = None  # the feeds and pages written again


@dataclass(frozen=True, slots=True)
class Explanation:
    history: dict[str, Any]  # Store.history: the entry, its versions and every arrival
    matches: list[TopicMatch]  # its current text under the current rules


def _current(history: dict[str, Any]) -> dict[str, Any]:
    return next(v for v in history["versions"] if v["current"])


HASH_PREFIX_MIN = 6  # hex digits of an id's hash that `explain`, `retract` and `unretract` accept
_HEX = re.compile(r"[0-9a-f]+")
CANDIDATES_SHOWN = 5
NOT_FOUND_HINT = " (nor a story page URL or a prefix of an id's hash; see `publisher list`)"


def page_name(ref: str) -> str | None:
    """The story name a story page's URL or path gives (".../stories/<name>.html"), or None."""
    path = unquote(urlsplit(ref).path)
    parts = path.split("/")
    if len(parts) >= 2 and parts[-2] == "stories" and parts[-1].endswith(".html") and len(parts[-1]) > 5:
        return parts[-1][: -len(".html")]
    return None


def hash_prefix(ref: str) -> str | None:
    """`ref` as a prefix of an id's hash (at least HASH_PREFIX_MIN hex digits), or None."""
    text = ref.lower()
    return text if len(text) >= HASH_PREFIX_MIN and _HEX.fullmatch(text) else None


def find_story(store: Store, ref: str) -> int:
    """The entry `ref` names: its full tag: id, its name (its page's), its page's URL or path,
    or a prefix of its id's hash (HASH_PREFIX_MIN hex digits or more). Raises UnknownStory,
    listing the candidates when a prefix names more than one."""
    ref = ref.strip()
    entry = store.find_entry(ref)
    if entry is None and (name := page_name(ref)) is not None:
        entry = store.find_entry(name)
    if entry is not None:
        return entry
    if (prefix := hash_prefix(ref)) is not None:
        found = store.entries_by_hash_prefix(prefix, CANDIDATES_SHOWN + 1)
        if len(found) == 1:
            return found[0][0]
        if found:
            listed = ", ".join(f"{entry_id} ({name})" for _, entry_id, name in found[:CANDIDATES_SHOWN])
            more = ", ..." if len(found) > CANDIDATES_SHOWN else ""
            raise UnknownStory(f"{ref!r} is the start of more than one story's id: {listed}{more}; "
                               f"give more of it")
    raise UnknownStory(f"no story with id or name {ref!r}{NOT_FOUND_HINT}")


def _no_database(config: Config) -> None:
    if not config.paths.database.exists():
        raise UnknownStory(f"no database yet ({config.paths.database}): nothing has been published")


def retract(config: Config, ref: str, reason: str | None, now: datetime, wait: float = 30) -> Retraction:
    """Tombstone a story: it leaves every feed at once (the feeds and pages are written again
    here, under the write lock; a running service serves them within a second or so), and
    copies and revisions of it stay out. Its page stays, saying it was retracted."""
    return _change_retraction(config, ref, now, wait, lambda store, entry: store.retract(entry, reason, now))


def unretract(config: Config, ref: str, now: datetime, wait: float = 30) -> Retraction:
    """Undo retract: the story is back in its feeds (written again here, as retract does).
    done=False: it was not retracted."""
    return _change_retraction(config, ref, now, wait, lambda store, entry: store.unretract(entry, now))


def _change_retraction(config: Config, ref: str, now: datetime, wait: float, change) -> Retraction:
    """`change(store, entry) -> done` in a transaction under the write lock, then the site written again."""
    _no_database(config)
    with lock.held(config.paths.lock, wait=wait):
        store = Store.open(config.paths.database, now=now)
        try:
            entry = find_story(store, ref)
            check_identity(store, config)  # (before the change: the feeds are written at once)
            with store.transaction():
                done = change(store, entry)
            report = rewrite(store, config)
            history = store.history(entry)
        finally:
            store.close()
    return Retraction(history["entry_id"], _current(history)["title"], done, history["retracted_at"], report)


LIST_LIMIT = 20


def list_stories(config: Config, topic: str | None, limit: int, now: datetime) -> list[dict[str, Any]]:
    """The newest `limit` stories, newest first (by first seen), retracted ones included (their
    retracted_at set): of one topic (the merged feed's slug: of any topic), or of all (None:
    unclassified ones too). Each: id, name, title, topics, first_seen, updated, retracted_at."""
    slugs = [t.slug for t in config.topics]
    if topic is not None and topic not in (*slugs, config.merged.slug):
        raise UnknownStory(f"no topic {topic!r} (topics: {', '.join([*slugs, config.merged.slug])})")
    if not config.paths.database.exists():
        raise UnknownStory(f"no database yet ({config.paths.database}): run `publisher publish` first")
    store = Store.open(config.paths.database, now=now, migrate=False)
    try:
        return store.list_entries("*" if topic == config.merged.slug else topic, limit)
    finally:
        store.close()


def explain(config: Config, ref: str, now: datetime) -> Explanation:
    """A story's history (versions, arrivals, the decision and similarity of each) and its
    topics under the current rules."""
    if not config.paths.database.exists():
        raise UnknownStory(f"no database yet ({config.paths.database}): run `publisher publish` first")
    store = Store.open(config.paths.database, now=now, migrate=False)
    try:
        history = store.history(find_story(store, ref))
    finally:
        store.close()
    current = _current(history)
    return Explanation(history, list(classify_story(config.topics, current["kicker"], current["paragraphs"])))


NEAR_MISSES = 3  # the strongest gaps that were not split, shown by `classify`


@dataclass(frozen=True, slots=True)
class DryRun:
    result: ReadResult
    stories: list[tuple[Story, list[TopicMatch]]]  # each story and why it is (not) in each topic
    boundaries: list[Boundary]  # where a run of paragraphs was split, with the cues and score
    near_misses: list[Boundary]  # the strongest gaps not split
    threshold: float  # the score from which a gap is a boundary


def _stored_ledes(config: Config, name: str, data: bytes, result: ReadResult):
    """ingest.stored_ledes from the store, opened read-only; None when it cannot be read
    (damaged, or locked away): the file is then read as if there were no store."""
    try:
        store = Store.open_read_only(config.paths.database)
    except StoreError:
        return None
    try:
        return stored_ledes(store, name, data, result)
    except StoreError:
        return None
    finally:
        store.close()


def classify_file(config: Config, path: Path) -> DryRun:
    """The dry run: the stories a file gives, read as ingest reads it (a feed file as a feed;
    wire copy given the stored stories whose ledes recur inside it, when there is a store),
    and why each is or is not in each topic. Stores nothing. Raises OSError."""
    data = atomic.read_regular(path, config.limits.bytes_per_file + 1, follow=True)
    scorer = topic_scorer(config.topics)
    result, gaps = read_file_explained(path.name, data, scorer, config.limits)
    known = _stored_ledes(config, path.name, data, result) if config.paths.database.exists() else None
    if known:
        result, gaps = read_file_explained(path.name, data, scorer, config.limits, known)
    placed = [g for g in gaps if g.placed]
    missed = sorted((g for g in gaps if not g.placed), key=lambda g: -g.score)[:NEAR_MISSES]
    return DryRun(result, [(story, list(classify_story(config.topics, story.kicker, story.paragraphs)))
                           for story in result.stories], placed, sorted(missed, key=lambda g: g.line),
                  boundaries.THRESHOLD)


def reread(config: Config, file: str, now: datetime, wait: float = 30) -> SourceReport:
    """`publisher reread FILE`: place a file of sources/ again with today's rules (an old merge
    split: its first part keeps the entry and id, the others become new entries), then publish
    what changed. FILE: its path, or its name under sources/."""
    root = config.paths.sources
    path = Path(file)
    candidates = [path, root / file] if not path.is_absolute() else [path]
    found = next((source_file(root, p.absolute()) or source_file(root.resolve(), p.resolve())
                  for p in candidates if p.is_file()), None)
    if found is None:
        raise UnknownStory(f"{file}: not a file in {root}")
    if found.skip:
        raise UnknownStory(f"{file}: skipped: {found.skip}")
    if not config.paths.database.exists():
        raise UnknownStory(f"no database yet ({config.paths.database}): nothing has been published")
    with lock.held(config.paths.lock, wait=wait):
        store = Store.open(config.paths.database, now=now)
        try:
            check_identity(store, config)  # (a story of its own is minted an id here)
            with store.transaction():
                report = reread_file(store, config, found, now)
        finally:
            store.close()
    if report.outcome != Outcome.UNCHANGED:  # topics, feeds and pages of what changed
        summary = (f"reread {report.name}: {report.stories} stories placed again ({report.new} new, "
                   f"{report.revised} revised, {report.duplicate} duplicate)")
        publish(config, now, only=[], wait=wait, record={"last_run_summary": summary})
    return report
