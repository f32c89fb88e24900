"""Use cases about single stories: retract one, explain one, and the dry run of `classify FILE`.

Each returns data; the CLI prints it. Nothing here prints, and nothing but the store runs SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from publisher import atomic, lock
from publisher.ingest import reread_file
from publisher.publish import publish
from publisher.report import SourceReport
from publisher.sources.files import source_file
from publisher.classify import classify_story, topic_scorer
from publisher.config import Config
from publisher.errors import UnknownStory
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


@dataclass(frozen=True, slots=True)
class Explanation:
    history: dict[str, Any]  # Store.history: the entry, its versions and every arrival
    matches: list[TopicMatch]  # its current text under the current rules


def _current(history: dict[str, Any]) -> dict[str, Any]:
    return next(v for v in history["versions"] if v["current"])


def _find(store: Store, ref: str, hint: str = "") -> int:
    entry = store.find_entry(ref)
    if entry is None:
        raise UnknownStory(f"no story with id or name {ref!r}{hint}")
    return entry


def retract(config: Config, ref: str, reason: str | None, now: datetime, wait: float = 30) -> Retraction:
    """Tombstone a story: it leaves every feed on the next publish, and copies and revisions
    of it stay out."""
    if not config.paths.database.exists():
        raise UnknownStory(f"no database yet ({config.paths.database}): nothing has been published")
    with lock.held(config.paths.lock, wait=wait):
        store = Store.open(config.paths.database, now=now)
        try:
            entry = _find(store, ref, " (see `publisher status`, the feeds' ids)")
            with store.transaction():
                done = store.retract(entry, reason, now)
            history = store.history(entry)
        finally:
            store.close()
    return Retraction(history["entry_id"], _current(history)["title"], done, history["retracted_at"])


def explain(config: Config, ref: str, now: datetime) -> Explanation:
    """A story's history (versions, arrivals, the decision and similarity of each) and its
    topics under the current rules."""
    if not config.paths.database.exists():
        raise UnknownStory(f"no database yet ({config.paths.database}): run `publisher publish` first")
    store = Store.open(config.paths.database, now=now, migrate=False)
    try:
        history = store.history(_find(store, ref))
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


def classify_file(config: Config, path: Path) -> DryRun:
    """The dry run: the stories a file gives, read as ingest reads it (a feed file as a feed),
    and why each is or is not in each topic. Stores nothing. Raises OSError."""
    result, gaps = read_file_explained(path.name, atomic.read_regular(path, config.limits.bytes_per_file + 1, follow=True), topic_scorer(config.topics), config.limits)
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
            with store.transaction():
                report = reread_file(store, config, found, now)
        finally:
            store.close()
    if report.outcome != Outcome.UNCHANGED:  # topics, feeds and pages of what changed
        summary = (f"reread {report.name}: {report.stories} stories placed again ({report.new} new, "
                   f"{report.revised} revised, {report.duplicate} duplicate)")
        publish(config, now, only=[], wait=wait, record={"last_run_summary": summary})
    return report
