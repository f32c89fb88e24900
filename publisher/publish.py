"""Use case: the whole pipeline once, as `publisher publish` and every run of the service do it.

    publish(config, now) = fetch due feeds, take the write lock, ingest every source,
                           classify, write every output that changed, record the run.

Each step is its own use case (ingest.py, site.py); this module only puts them in order.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from publisher import atomic, entries, ingest, lock, site
from publisher.config import Config
from publisher.errors import ConfigError, StoreError
from publisher.report import Progress, PublishReport
from publisher.store import Store


def _refuse_changed_identity(config: Config, stored: str | None) -> None:
    """ConfigError when config.toml's [site] id_authority is not `stored`, the one the ids were made with."""
    if not entries.authority_changed(stored, config.site.id_authority):
        return
    database, feeds = config.paths.database.name, config.paths.feeds.name
    raise ConfigError(
        f'{config.path}: [site] id_authority is "{config.site.id_authority}", but the ids already published '
        f'from {database} were made with "{stored}" and never change: put it back, or start afresh '
        f"(remove {database} and {feeds}/; `make clean` does)")


def check_identity(store: Store, config: Config) -> None:
    """Raises ConfigError when config.toml's [site] id_authority is not the one the store's ids
    were minted with (ids never change); records it when the store has none yet. Every writer
    of feeds (publish, rewrite) calls it before writing."""
    _refuse_changed_identity(config, store.id_authority())
    if store.meta("id_authority") is None:
        with store.transaction():
            store.set_meta("id_authority", config.site.id_authority)


def check_config(config: Config) -> None:
    """check_identity on the store as it is, without writing (a config the service reloads);
    no store yet: nothing to check."""
    if not config.paths.database.exists():
        return
    try:
        store = Store.open(config.paths.database, now=datetime.now(UTC), migrate=False)
    except StoreError:  # (not readable now, or to be upgraded: the next publish says so)
        return
    try:
        stored = store.id_authority()
    finally:
        store.close()
    _refuse_changed_identity(config, stored)


def publish(config: Config, now: datetime, *, progress: Progress | None = None, wait: float = 0.0,
            only: list[Path] | None = None, settle: float = 0.0,
            stop: ingest.Stop | None = None, record: dict[str, str] | None = None,
            files: bool = True, feeds: bool = True) -> PublishReport:
    """Run the whole pipeline once. Raises LockHeld if another process (or thread) is writing
    for longer than `wait` seconds.

    only:   read just these source files (e.g. those a file watcher saw), not every source;
    settle: leave files modified less than this many seconds before `now` for a later run
            (they may still be being written);
    stop:   polled between files and between feeds: when it says True, what is read so far
            is committed and published, and the run ends early (report.interrupted);
    record: more meta values to store with the run (the service's next run);
    files, feeds: read the source files, fetch the due feeds (the service does each in a run of
            its own, so that files never wait for the network). A feeds-only run that fetched
            nothing (none due, or stopped) does nothing more.
    """
    report = PublishReport()
    # Feeds are fetched before taking the write lock: the network may be slow, and a file
    # pickup (or another writer) must never wait for it.
    fetched = ingest.poll_feeds(config, now, stop) if feeds and only is None and config.feed_sources else []
    if not files and not fetched:
        return report
    with lock.held(config.paths.lock, wait=wait, cancel=stop):
        store = Store.open(config.paths.database, now=now)
        try:
            check_identity(store, config)
            if store.meta("publish_running") == "1":  # the last publish was killed mid-way
                atomic.remove_temp_files(config.paths.feeds, report.errors.append)
            with store.transaction():
                store.set_meta("publish_running", "1")
            if files:
                ingest.ingest_files(store, config, now, report, progress, only=only, settle=settle, stop=stop)
            ingest.ingest_fetched(store, config, now, fetched, report)
            ingest.classify_entries(store, config)
            site.write_all(store, config, report, stop=stop)
            store.merge_index()  # after the pages: what was read is served first (lsh_recent into lsh_bands)
            with store.transaction():
                store.set_meta("last_run", now.isoformat())
                store.set_meta("last_run_summary", report.summary())
                store.set_meta("last_run_ok", "1" if report.ok else "0")
                store.set_meta("publish_running", "0")
                for key, value in (record or {}).items():
                    store.set_meta(key, value)
        finally:
            store.close()
    return report


def rewrite(store: Store, config: Config) -> PublishReport:
    """Write every output that changed from what the store holds now, reading no source (after
    a retract or unretract: the feeds and pages change at once, not on the next publish). The
    caller holds the write lock. The last run's record (status, /healthz) is left as it was."""
    report = PublishReport()
    check_identity(store, config)
    if store.meta("publish_running") == "1":  # the last publish was killed mid-way
        atomic.remove_temp_files(config.paths.feeds, report.errors.append)
    with store.transaction():
        store.set_meta("publish_running", "1")
    ingest.classify_entries(store, config)
    site.write_all(store, config, report)
    with store.transaction():
        store.set_meta("publish_running", "0")
    return report
