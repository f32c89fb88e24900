"""Use case: search every published story, newest first, with the matches marked:
`publisher search WORDS` (search_stories) and the service's /search page (Searcher).

The words become an FTS5 query in publisher.fulltext (never FTS5 syntax of the user's); the
store runs it over its index of each published entry's current title and text. Retracted
stories are not in the index. What is read is bounded: MAX_LIMIT results a page, MAX_PAGE
pages, and in the service TIME_LIMIT seconds a search (its HTTP server answers every request
from one thread).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from publisher import fulltext
from publisher.config import Config
from publisher.errors import QueryTimeout, StoreError, UnknownStory
from publisher.fulltext import Query, Segment
from publisher.render import html
from publisher.site import site_info
from publisher.store import Store, format_time, parse_time

SEARCH_LIMIT = 20  # results a page (and `publisher search`'s default)
MAX_LIMIT = 100
MAX_PAGE = 20  # OFFSET reads the pages before it: a bound on what one request reads
TIME_LIMIT = 0.5  # seconds a search of the service may take (then 503, "try more words")


@dataclass(frozen=True, slots=True)
class Found:
    entry_id: str
    name: str  # its page: stories/<name>.html
    first_seen: datetime
    updated: datetime
    topics: tuple[str, ...]
    title: tuple[Segment, ...]  # (a match?, text): fulltext.marked
    snippet: tuple[Segment, ...]


@dataclass(frozen=True, slots=True)
class Results:
    query: Query
    found: tuple[Found, ...]
    page: int  # 1, 2, ...
    more: bool  # there is a next page
    topic: str | None = None


def search(store: Store, text: str, *, topic: str | None = None, limit: int = SEARCH_LIMIT, page: int = 1) -> Results:
    """The stories matching what a user typed, newest first (by first seen, as `list`): the
    `page`th `limit` of them. topic: a topic's slug, "*" (any topic) or None (every story)."""
    query = fulltext.parse_query(text)
    limit = max(1, min(limit, MAX_LIMIT))
    page = max(1, min(page, MAX_PAGE))
    if query.expression is None:
        return Results(query, (), page, False, topic)
    rows = store.search(query.expression, topic, limit + 1, (page - 1) * limit)
    found = tuple(Found(entry_id=r["id"], name=r["name"], first_seen=parse_time(r["first_seen"]),
                        updated=parse_time(r["updated"]), topics=tuple(r["topics"]),
                        title=fulltext.marked(r["title"]), snippet=fulltext.marked(r["snippet"]))
                  for r in rows[:limit])
    return Results(query, found, page, len(rows) > limit, topic)


def iso(dt: datetime) -> str:
    """A time as `list` shows it: to the second, in UTC ("2026-11-25T12:00:00Z")."""
    return format_time(dt)[:19] + "Z"


def _topic(config: Config, topic: str | None) -> str | None:
    """A topic's slug as the store takes it ("*" for the merged feed's); UnknownStory if none."""
    slugs = [t.slug for t in config.topics]
    if topic is None or topic in slugs:
        return topic
    if topic == config.merged.slug:
        return "*"
    raise UnknownStory(f"no topic {topic!r} (topics: {', '.join([*slugs, config.merged.slug])})")


def search_stories(config: Config, words: list[str], topic: str | None, limit: int, now: datetime) -> Results:
    """`publisher search WORDS`: the newest `limit` stories matching every word."""
    slug = _topic(config, topic)
    if not config.paths.database.exists():
        raise UnknownStory(f"no database yet ({config.paths.database}): run `publisher publish` first")
    store = Store.open(config.paths.database, now=now, migrate=False)
    try:
        return search(store, " ".join(words), topic=slug, limit=limit)
    finally:
        store.close()


class Searcher:
    """The service's searches: one read-only connection, opened on first use (and again when
    the database file is replaced or a query failed), each search stopped after `time_limit`
    seconds. Thread-safe; searches run one at a time."""

    def __init__(self, database: Path, *, time_limit: float = TIME_LIMIT):
        self.database = database
        self.time_limit = time_limit
        self._store: Store | None = None
        self._key: tuple[int, int] | None = None
        self._lock = threading.Lock()

    def search(self, config: Config, text: str, *, page: int = 1, topic: str | None = None) -> Results:
        """Raises UnknownStory (no such topic), QueryTimeout, StoreError (no database, or
        one not yet upgraded: the service's first publish does that). With no topic: the
        stories of any topic (those the site has a page for; one in no topic has none)."""
        slug = _topic(config, topic) or "*"
        query = fulltext.parse_query(text)
        if query.expression is None:  # nothing to look up: no database read
            return Results(query, (), max(1, min(page, MAX_PAGE)), False, slug)
        with self._lock:
            store = self._open()
            try:
                with store.time_limit(self.time_limit):
                    return search(store, text, topic=slug, page=page)
            except QueryTimeout:
                raise
            except StoreError:
                self.close()  # opened again by the next search
                raise

    def _open(self) -> Store:
        try:
            st = os.stat(self.database)
        except OSError as exc:
            raise StoreError(f"{self.database}: no database yet: {exc.strerror or exc}") from None
        key = (st.st_dev, st.st_ino)
        if self._store is None or key != self._key:
            self.close()
            self._store, self._key = Store.open_read_only(self.database), key
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


# What the service's page says when there are no results to show (its status: 503, 404).
TOO_SLOW = "The search took too long. Try more words, or less common ones."
UNAVAILABLE = "Search is not available right now. Try again in a minute."


def answer(searcher: Searcher, config: Config, text: str, page: int = 1, topic: str | None = None) -> tuple[int, bytes]:
    """The service's /search?q=TEXT&page=N&topic=SLUG: (status, the HTML page). A search that
    cannot be made is a page that says why (503: too slow, or no database yet; 404: no such
    topic), never an error of the server's."""
    status, problem, results = 200, None, None
    try:
        results = searcher.search(config, text, page=page, topic=topic)
    except QueryTimeout:
        status, problem = 503, TOO_SLOW
    except UnknownStory as exc:
        status, problem = 404, str(exc)
    except StoreError:
        status, problem = 503, UNAVAILABLE
    labels = {t.slug: t.title for t in config.topics}
    if topic == config.merged.slug:
        labels[topic] = config.merged.title
    return status, html.search_page(site_info(config), text, results, labels, problem, topic)
