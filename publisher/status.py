"""Use case: the `status --json` document: the service, entries per feed, unclassified, the
last read of every source (of the files, those still in sources/), every polled feed,
retracted stories."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from publisher import entries, lock
from publisher.config import Config
from publisher.sources.files import list_sources
from publisher.store import Store, format_time


def _present(config: Config) -> set[str] | None:
    """The names of what is in sources/ now (a file removed is forgotten by status; its stories
    stay published); None, all that was ever read, when the directory cannot be listed."""
    try:
        return {f.name for f in list_sources(config.paths.sources)}
    except OSError:
        return None


def status(config: Config, now: datetime) -> dict[str, Any]:
    service = {"running": lock.holder(config.paths.run_lock), "last_run": None, "last_run_ok": None,
               "last_run_summary": None, "next_run": None}
    feeds = [{"url": f.url, "title": f.title, "last_success": None, "errors": 0, "last_error": None,
              "last_status": None, "next_fetch": None, "fetched_at": None} for f in config.feed_sources]
    empty = {"service": service, "topics": {t.slug: 0 for t in config.topics}, "merged": {config.merged.slug: 0},
             "entries": 0, "unclassified": 0, "sources": [], "past_caps": 0, "versions_not_shown": 0, "feeds": feeds,
             "retracted": []}
    if not config.paths.database.exists():
        return empty
    store = Store.open(config.paths.database, now=now, migrate=False)
    try:
        for key in ("last_run", "last_run_summary", "next_run"):
            service[key] = store.meta(key)
        ok = store.meta("last_run_ok")
        service["last_run_ok"] = None if ok is None else ok == "1"
        if service["running"] is None:
            service["next_run"] = None  # nothing is scheduled while no service runs
        counts = store.topic_counts()
        states = store.feed_states()
        sources = store.sources(files=_present(config))
        for f in feeds:
            s = states.get(f["url"])
            if s is not None:
                f.update(title=f["title"] or s.title, errors=s.errors, last_error=s.last_error,
                         last_status=s.last_status, **{k: format_time(v) if v else None for k, v in (
                             ("last_success", s.last_success), ("next_fetch", s.next_fetch),
                             ("fetched_at", s.fetched_at))})
        return {
            "service": service,
            "topics": {t.slug: counts.get(t.slug, 0) for t in config.topics},
            "merged": {config.merged.slug: store.count_in_any_topic()},
            "entries": store.count_entries(),
            "unclassified": store.count_unclassified(),
            "sources": sources,
            # stories the last read of each source left unread or cut short by a [limits] cap
            "past_caps": sum(s["past_caps"] for s in sources),
            # stories whose page shows only their newest limits.versions_per_story versions
            "versions_not_shown": store.count_entries_over(config.limits.versions_per_story, entries.SHOWN),
            "feeds": feeds,
            "retracted": store.retracted(),
        }
    finally:
        store.close()
