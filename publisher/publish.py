"""The pipeline: sources -> stories -> store -> feeds -> files.

    publish(config, now) = lock, ingest every source, classify, render, write what changed.

A bad source is a result (skipped or failed, with a reason), never a crash; a feed file that
cannot be written is reported and the others are still written. Files are replaced atomically
and only when their bytes change, so a second run with nothing new touches nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from publisher import faults, lock
from publisher.classify import classify, rules_digest
from publisher import poll
from publisher.config import Config, FeedSource
from publisher.errors import StoreError
from publisher import dedup
from publisher.dedup import fingerprint
from publisher.model import FeedSpec, ReadResult, Story
from publisher.render import html
from publisher.render.feeds import render
from publisher.render.jsonfeed import render_json
from publisher.render.opml import render_opml
from publisher.sources import feed, fetch, wire
from publisher.sources.fetch import FetchRequest, FetchResult
from publisher.sources.files import SourceFile, list_sources, source_file
from publisher.store import FeedState, SourceState, Store, format_time

Progress = Callable[[int, int, str], None]  # (files done, files in all, current file)
FILES_PER_COMMIT = 64


@dataclass(slots=True)
class SourceReport:
    """What happened to one source in one run."""

    name: str
    outcome: str  # "new" | "duplicate" | "skipped" | "failed" | "unchanged" (not read again)
    #              | "pending" (modified a moment ago: left for a later run)
    reason: str | None = None
    stories: int = 0
    new: int = 0  # new entries
    duplicate: int = 0  # known texts, teasers of known stories, near-duplicates skipped
    warnings: tuple[str, ...] = ()
    revised: int = 0  # revisions of stored entries
    path: Path | None = None  # a "pending" file: where it is, for whoever reads it once settled


@dataclass(slots=True)
class PublishReport:
    sources: list[SourceReport] = field(default_factory=list)  # files
    feeds: list[SourceReport] = field(default_factory=list)  # feed URLs polled
    errors: list[str] = field(default_factory=list)  # one line each: file + reason
    feeds_written: list[Path] = field(default_factory=list)
    feed_files: int = 0
    interrupted: bool = False  # stopped early (a signal): the rest is read on the next run
    pages: int = 0  # HTML pages rendered: the front page, feed pages, changed stories' pages
    pages_written: int = 0  # ... of which the bytes changed

    def count(self, *outcomes: str, feeds: bool = False) -> int:
        return sum(1 for s in (self.feeds if feeds else self.sources) if s.outcome in outcomes)

    @property
    def ok(self) -> bool:
        """False when a source failed or a file could not be written (exit status 1)."""
        return not self.errors and not self.count("failed") and not self.count("failed", feeds=True)

    def summary(self) -> str:
        read = self.count("new", "duplicate", "skipped")
        every = self.sources + self.feeds
        new = sum(s.new for s in every)
        revised = sum(s.revised for s in every)
        dup = sum(s.duplicate for s in every)
        polled = ""
        if self.feeds:
            polled = (f"; {len(self.feeds)} feeds polled ({self.count('new', 'duplicate', 'skipped', feeds=True)} "
                      f"read, {self.count('unchanged', feeds=True)} unchanged, {self.count('failed', feeds=True)} "
                      f"failed)")
        return (f"publish: {read} files read ({self.count('skipped')} skipped, {self.count('failed')} failed, "
                f"{self.count('unchanged')} unchanged){polled}; {new + revised + dup} stories ({new} new, "
                f"{revised} revised, {dup} duplicate); {len(self.feeds_written)} of {self.feed_files} feed files and "
                f"{self.pages_written} of {self.pages} pages written")

    def problems(self) -> list[str]:
        """One line per problem or warning, naming the file (or feed URL)."""
        lines = []
        for s in self.sources + self.feeds:
            lines += [f"{s.name}: warning: {w}" for w in s.warnings]
            if s.outcome in ("skipped", "failed"):
                lines.append(f"{s.name}: {s.outcome}: {s.reason}")
        return lines + self.errors


def read_bytes(path: Path) -> bytes:
    """Read a source file. (A seam for tests that inject I/O errors: CI runs as root.)"""
    return path.read_bytes()


def publish(config: Config, now: datetime, *, progress: Progress | None = None, wait: float = 0.0,
            only: list[Path] | None = None, settle: float = 0.0,
            stop: Callable[[], bool] | None = None, record: dict[str, str] | None = None) -> PublishReport:
    """Run the whole pipeline once. Raises LockHeld if another process (or thread) is writing
    for longer than `wait` seconds.

    only:   read just these source files (e.g. those a file watcher saw), not every source;
    settle: leave files modified less than this many seconds before `now` for a later run
            (they may still be being written);
    stop:   polled between files and between feeds: when it says True, what is read so far
            is committed and published, and the run ends early (report.interrupted);
    record: more meta values to store with the run (the service's next run).
    """
    report = PublishReport()
    # Feeds are fetched before taking the write lock: the network may be slow, and a file
    # pickup (or another writer) must never wait for it.
    fetched = poll_feeds(config, now, stop) if only is None and config.feeds else []
    with lock.held(config.paths.lock, wait=wait, cancel=stop):
        store = Store.open(config.paths.database, now=now)
        try:
            if store.meta("publish_running") == "1":  # the last publish was killed mid-way
                remove_temp_files(config.paths.feeds, report)
            with store.transaction():
                store.set_meta("publish_running", "1")
            ingest(store, config, now, report, progress, only=only, settle=settle, stop=stop)
            ingest_fetched(store, config, now, fetched, report)
            classify_entries(store, config)
            specs = feed_specs(store, config)
            # story pages first: the feeds written next link to them
            write_pages(store, config, specs, report, stop=stop)
            write_feeds(config, specs, report, stop=stop)
            write_site(config, specs, report)
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


def ingest(store: Store, config: Config, now: datetime, report: PublishReport,
           progress: Progress | None = None, *, only: list[Path] | None = None, settle: float = 0.0,
           stop: Callable[[], bool] | None = None) -> None:
    root = config.paths.sources
    if only is not None:
        files = sorted({f for f in (source_file(root, p) for p in only) if f}, key=lambda f: f.name)
    else:
        try:
            files = list_sources(root, report.errors)
        except FileNotFoundError:
            report.errors.append(f"{root}: sources directory not found")
            return
        except NotADirectoryError:
            report.errors.append(f"{root}: sources path is not a directory")
            return
        except OSError as exc:
            report.errors.append(f"{root}: cannot list sources directory: {exc.strerror or exc}")
            return
    # What is known of every source, in one query: most files are unchanged most of the time,
    # and a query per file made a run over a large sources/ directory slow.
    known = store.source_states()
    young = now.timestamp() - settle
    # Files are committed in batches (each file is still all-or-nothing: a savepoint), which
    # writes far fewer pages than a commit per file; a crash loses at most one batch of reads.
    for first in range(0, len(files), FILES_PER_COMMIT):
        with store.transaction():
            for done, source in enumerate(files[first : first + FILES_PER_COMMIT], start=first):
                if stop and stop():
                    report.interrupted = True
                    break
                if progress:
                    progress(done, len(files), source.name)
                report.sources.append(ingest_file(store, source, config, now, known.get(source.name),
                                                  young_after=young if settle else None))
                faults.point("ingest.file")
        faults.point("ingest.commit")
        if report.interrupted:
            return
    if progress:
        progress(len(files), len(files), "")


def ingest_file(store: Store, source: SourceFile, config: Config, now: datetime,
                state: SourceState | None | bool = True, young_after: float | None = None) -> SourceReport:
    """Read one file into the store, in one transaction: all its stories or none. Whatever goes
    wrong with one file is that file's result (failed, with the reason), never the run's end.
    `state`: what the store knows of the file (None: nothing), or True to look it up.
    `young_after`: a file modified after this time (epoch seconds) is left for a later run."""
    try:
        return _ingest_file(store, source, config, now, state, young_after)
    except Exception as exc:
        return _failed(store, source.name, now, f"{type(exc).__name__}: {exc}")


def _ingest_file(store: Store, source: SourceFile, config: Config, now: datetime,
                 state: SourceState | None | bool, young_after: float | None) -> SourceReport:
    name = source.name
    try:
        st = source.path.stat()
    except OSError as exc:
        return _failed(store, name, now, f"cannot stat: {exc.strerror or exc}")
    if state is True:
        state = store.source_state(name)
    if state and (state.size, state.mtime_ns) == (st.st_size, st.st_mtime_ns):
        return SourceReport(name, "unchanged")
    if young_after is not None and young_after < st.st_mtime <= young_after + 86400:
        # Modified a moment ago: perhaps still being written. Remember nothing; the watcher
        # (or the next run) reads it once it has settled. (A clock far off is not waited for.)
        return SourceReport(name, "pending", "modified a moment ago (still being written?); "
                                             "it will be read once it has settled", path=source.path)
    if st.st_size > wire.MAX_BYTES:
        data = None
    else:
        try:
            data = read_bytes(source.path)
            after = source.path.stat()
        except OSError as exc:
            return _failed(store, name, now, f"cannot read: {exc.strerror or exc}")
        if len(data) != st.st_size or (after.st_size, after.st_mtime_ns) != (st.st_size, st.st_mtime_ns):
            # Half-written: store nothing and remember nothing, so the next run reads it whole.
            return SourceReport(name, "skipped", "changed while being read (still being written?); "
                                                 "it will be read again on the next run")
    sha = hashlib.sha256(data).hexdigest() if data is not None else None
    if state and sha is not None and state.sha256 == sha:
        with store.transaction():
            store.remember_stat(state.id, st.st_size, st.st_mtime_ns)
        return SourceReport(name, "unchanged")
    if data is None:
        result = ReadResult(skipped=f"too large ({st.st_size:,} bytes; the limit is {wire.MAX_BYTES:,})")
    elif feed.looks_like_feed(name):  # an RSS, Atom or JSON Feed file dropped into sources/
        result = feed.parse(data, url=name).result
    else:
        result = wire.read(data)
    try:
        with store.transaction():
            source_id = store.ensure_source(name)
            read = store.start_read(source_id, now, st.st_size, st.st_mtime_ns, sha)
            rep = store_stories(store, config, now, name, source_id, read, result)
    except Exception as exc:  # one file's failure is its result, not the run's end
        return _failed(store, name, now, f"cannot store: {type(exc).__name__}: {exc}")
    return rep


def store_stories(store: Store, config: Config, now: datetime, name: str, source: int, read: int,
                  result: ReadResult) -> SourceReport:
    """Store what one read of a source gave; finish the read. Inside the caller's transaction."""
    rep = SourceReport(name, "skipped", result.skipped, warnings=result.warnings)
    for story in result.stories:
        if story.origin is not None:
            outcome = ingest_feed_story(store, story, source=source, read=read, now=now, config=config)
            if outcome == "unchanged":  # the same item with the same text as last time
                continue
        else:
            outcome = ingest_story(store, story, source=source, read=read, now=now, config=config)
        rep.stories += 1
        if outcome == "new":
            rep.new += 1
        elif outcome in ("revision", "fuller"):
            rep.revised += 1
        else:
            rep.duplicate += 1
    if result.stories:
        rep.outcome = "new" if rep.new or rep.revised else "duplicate"
        rep.reason = "; ".join(result.warnings) or None
    store.finish_read(read, rep.outcome, rep.reason, rep.stories, rep.new, rep.duplicate, rep.revised)
    return rep


def ingest_story(store: Store, story: Story, *, source: int, read: int, now: datetime, config: Config) -> str:
    """Store one story; returns what it was: "new" (a new entry), "duplicate" (a text already
    stored), "revision"/"fuller" (a new current version of an entry), "teaser" (a shorter text
    of an entry: provenance only), "near-duplicate" (a revision ignored: on_near_duplicate = skip)."""
    return _ingest(store, story, fingerprint(story.text), source=source, read=read, now=now, config=config)[0]


def ingest_feed_story(store: Store, story: Story, *, source: int, read: int, now: datetime, config: Config) -> str:
    """Store one entry of a feed. The same item (by its id in that feed) with the same text as
    last time is "unchanged" and costs nothing; with another text it is a revision of the entry
    it became, however much it changed (the feed says it is the same story); a new item goes
    through dedup like wire copy, so a story the wire already gave is provenance, not an entry."""
    fp = fingerprint(story.text)
    item = story.origin.item_id
    known = store.feed_item(source, item)
    if known and known[1] == fp:
        return "unchanged"
    decision, entry = _ingest(store, story, fp, source=source, read=read, now=now, config=config,
                              same_as=known[0] if known else None)
    store.set_feed_item(source, item, entry, fp)
    return decision


def _ingest(store: Store, story: Story, fp: str, *, source: int, read: int, now: datetime, config: Config,
            same_as: int | None = None) -> tuple[str, int]:
    """(decision, entry). `same_as`: the entry this story must be a version of (a feed item
    seen before), unless it matches another entry exactly or nearly."""
    known = store.version_by_fingerprint(fp)
    if known:  # any version of any entry, however old: never a revision back to old text
        store.add_arrival(known[0], source=source, read=read, story=story, decision="duplicate")
        return "duplicate", known[1]
    settings = config.dedup
    sh = dedup.shingles(story.paragraphs, story.kicker)
    keys, sig = dedup.band_keys(sh)
    lead_keys = len(keys) - dedup.FULL_BANDS
    # 64-permutation estimates have a standard deviation of ~0.06 around J = 0.4: a margin of
    # 0.15 keeps nearly every true revision and drops the crowd of weak candidates.
    candidates = store.near_candidates(keys, sig, max(0.0, settings.resemblance - 0.15), lead_keys)
    match = dedup.decide(sh, candidates, settings, story.truncated)
    if same_as is not None and (match is None or match.entry != same_as):
        # the feed's own item changed: a revision of its entry (a retracted one stays out)
        retracted = store.is_retracted(same_as)
        replace = settings.on_near_duplicate == "revise" and not retracted
        added = store.add_version(story, fp, shingles=sh, signature=sig, band_keys=keys, now=now,
                                  authority=config.site.id_authority, entry=same_as, current=replace)
        decision = "revision" if replace else "near-duplicate"
        store.add_arrival(added.version, source=source, read=read, story=story, decision=decision)
        return decision, same_as
    if match is None:
        added = store.add_version(story, fp, shingles=sh, signature=sig, band_keys=keys, now=now,
                                  authority=config.site.id_authority)
        store.add_arrival(added.version, source=source, read=read, story=story, decision="new")
        return "new", added.entry
    replace = match.replaces and settings.on_near_duplicate == "revise"
    decision = match.kind if replace or match.kind == "teaser" else "near-duplicate"
    added = store.add_version(story, fp, shingles=sh, signature=sig, band_keys=keys, now=now,
                              authority=config.site.id_authority, entry=match.entry, current=replace)
    store.add_arrival(added.version, source=source, read=read, story=story, decision=decision,
                      compared=match.version, jaccard=match.jaccard, containment=match.containment)
    return decision, match.entry


def _failed(store: Store, name: str, now: datetime, reason: str, kind: str = "file") -> SourceReport:
    with store.transaction():
        source_id = store.ensure_source(name, kind)
        store.finish_read(store.start_read(source_id, now, None, None, None), "failed", reason)
    return SourceReport(name, "failed", reason)


# -- other people's feeds ----------------------------------------------------------------------

def feed_states(config: Config, now: datetime) -> dict[str, FeedState]:
    """What the store knows of polling each feed (nothing yet: an empty dict)."""
    if not config.paths.database.exists():
        return {}
    try:
        store = Store.open(config.paths.database, now=now, migrate=False)
    except StoreError:  # pending migrations: the publish that follows applies them
        return {}
    try:
        return store.feed_states()
    finally:
        store.close()


def poll_feeds(config: Config, now: datetime, stop: Callable[[], bool] | None = None
               ) -> list[tuple[FeedSource, FetchResult]]:
    """Fetch every configured feed that is due (concurrently; no lock held)."""
    states = feed_states(config, now)
    due = [f for f in config.feeds if poll.is_due(states[f.url].next_fetch if f.url in states else None, now)]
    if not due or (stop and stop()):
        return []
    requests = [FetchRequest(f.url, states[f.url].etag if f.url in states else None,
                             states[f.url].last_modified if f.url in states else None) for f in due]
    return list(zip(due, fetch.fetch_all(requests)))


def ingest_fetched(store: Store, config: Config, now: datetime, fetched: list[tuple[FeedSource, FetchResult]],
                   report: PublishReport) -> None:
    """Store what the fetches gave, and when to fetch each feed next. One feed's failure is
    its own result: the others, and the feeds already published, are unaffected."""
    states = store.feed_states()
    # Committed in batches, like files (each feed still all-or-nothing: a savepoint).
    for first in range(0, len(fetched), FILES_PER_COMMIT):
        with store.transaction():
            for source, result in fetched[first : first + FILES_PER_COMMIT]:
                report.feeds.append(_ingest_one_fetch(store, config, now, source, result, states))


def _ingest_one_fetch(store: Store, config: Config, now: datetime, source: FeedSource, result: FetchResult,
                      states: dict[str, FeedState]) -> SourceReport:
    interval = source.interval_seconds or config.service.interval_seconds
    source_id = store.ensure_source(source.url, "feed")
    state = states.get(source.url) or FeedState(source=source_id, url=source.url)
    try:
        with store.transaction():
            rep, state = _ingest_fetch(store, config, now, source_id, source, result, state, interval)
    except Exception as exc:  # a bug in one feed's handling must not stop the others
        rep = SourceReport(source.url, "failed", f"cannot store: {type(exc).__name__}: {exc}")
        state = replace(state, fetched_at=now, errors=state.errors + 1, last_error=rep.reason,
                        next_fetch=poll.after_failure(now, interval, state.errors + 1))
    store.save_feed_state(state)
    return rep


def _ingest_fetch(store: Store, config: Config, now: datetime, source_id: int, source: FeedSource,
                  result: FetchResult, state: FeedState, interval: float) -> tuple[SourceReport, FeedState]:
    url = source.url
    if result.error is not None:
        errors = state.errors + 1
        rep = _failed(store, url, now, result.error, kind="feed")
        return rep, replace(state, fetched_at=now, errors=errors, last_error=result.error,
                            last_status=result.status,
                            next_fetch=poll.after_failure(now, interval, errors, result.headers))
    validators = {"etag": result.headers.get("etag", state.etag),
                  "last_modified": result.headers.get("last-modified", state.last_modified)}
    if result.not_modified:
        return SourceReport(url, "unchanged"), replace(
            state, fetched_at=now, last_success=now, errors=0, last_error=None, last_status=304, **validators,
            next_fetch=poll.after_success(now, interval, result.headers))
    body = result.body or b""
    sha = hashlib.sha256(body).hexdigest()
    known = store.source_state(url, "feed")
    parsed = feed.parse(body, url=result.final_url or url, headers=result.headers)
    ok = replace(state, fetched_at=now, last_success=now, errors=0, last_error=None, last_status=result.status,
                 title=source.title or parsed.title, **validators,
                 next_fetch=poll.after_success(now, interval, result.headers, parsed.ttl_minutes))
    if known and known.sha256 == sha:  # the server sent the same bytes again (no 304 support)
        return SourceReport(url, "unchanged"), ok
    read = store.start_read(source_id, now, len(body), None, sha)
    rep = store_stories(store, config, now, url, source_id, read, parsed.result)
    if rep.outcome == "skipped":  # a document that gives nothing is a failing feed
        errors = state.errors + 1
        rep.outcome = "failed"
        return rep, replace(state, fetched_at=now, errors=errors, last_error=rep.reason, last_status=result.status,
                            next_fetch=poll.after_failure(now, interval, errors))
    return rep, ok


def classify_entries(store: Store, config: Config) -> int:
    """Bring topic membership up to date with the current rules; returns entries classified."""
    digest = rules_digest(config.topics)
    n = 0
    with store.transaction():
        for entry, text in store.unclassified_texts(digest):
            matches = classify(config.topics, text)
            store.set_topics(entry, digest, [(m.slug, m.score) for m in matches if m.accepted])
            n += 1
    faults.point("classify.commit")
    return n


def feed_specs(store: Store, config: Config) -> list[FeedSpec]:
    """Every feed to publish: one per topic, in config order, then the merged feed."""
    site = config.site
    feeds = [(t.slug, t.title, f"{t.title}: stories from {site.title}") for t in config.topics]
    feeds.append((config.merged.slug, config.merged.title, f"{site.description}: every story of every topic"))
    counts = store.topic_counts()
    specs = []
    for slug, title, subtitle in feeds:
        topic = None if slug == config.merged.slug else slug
        total = counts.get(slug, 0) if topic else store.count_in_any_topic()
        entries = tuple(store.feed_entries(topic, config.max_entries))
        # The feed changed when its newest entry did, or when one of its entries was retracted.
        changes = [e.updated for e in entries] + [store.latest_retraction(topic) or store.created_at]
        updated = max(changes)
        specs.append(FeedSpec(slug=slug, title=f"{site.title}: {title}", feed_id=f"tag:{site.id_authority}:feed/{slug}",
                              base_url=site.base_url, author=site.author, language=site.language,
                              subtitle=subtitle, updated=updated, entries=entries, hub=config.service.hub,
                              total=total, label=title))
    return specs


FEED_FILES = ("atom.xml", "rss.xml", "feed.json")


def write_feeds(config: Config, specs: list[FeedSpec], report: PublishReport,
                stop: Callable[[], bool] | None = None) -> None:
    """Each feed in every format, and its HTML page, in feeds/<slug>/."""
    cache: dict = {}
    site = site_info(config)
    for spec in specs:
        if stop and stop():
            report.interrupted = True
            return
        try:
            atom, rss = render(spec, cache)
            files = [("atom.xml", atom), ("rss.xml", rss), ("feed.json", render_json(spec, cache)),
                     ("index.html", html.feed_page(site, spec, specs))]
        except Exception as exc:  # a bug; the feed stays as it was, the others are written
            report.errors.append(f"{config.paths.feeds / spec.slug}: cannot render: {type(exc).__name__}: {exc}")
            continue
        _write_all(config.paths.feeds / spec.slug, files, report)


def write_site(config: Config, specs: list[FeedSpec], report: PublishReport) -> None:
    """The front page and the OPML list of every feed."""
    site = site_info(config)
    files = [("index.html", html.index_page(site, specs)),
             ("feeds.opml", render_opml(config.site.title, config.site.author, specs))]
    _write_all(config.paths.feeds, files, report)


def _write_all(directory: Path, files: list[tuple[str, bytes]], report: PublishReport) -> None:
    written = False
    for filename, data in files:
        path = directory / filename
        page = filename.endswith(".html")
        if page:
            report.pages += 1
        else:
            report.feed_files += 1
        try:
            if write_if_changed(path, data):
                if page:
                    report.pages_written += 1
                else:
                    report.feeds_written.append(path)
                written = True
        except OSError as exc:
            report.errors.append(f"{path}: cannot write: {exc.strerror or exc}")
    if written:
        try:
            fsync_dir(directory)
        except OSError as exc:
            report.errors.append(f"{directory}: cannot sync directory: {exc.strerror or exc}")


def site_info(config: Config) -> html.SiteInfo:
    s = config.site
    return html.SiteInfo(title=s.title, description=s.description, base_url=s.base_url, language=s.language)


PAGES_PER_BATCH = 500


def write_pages(store: Store, config: Config, specs: list[FeedSpec], report: PublishReport,
                stop: Callable[[], bool] | None = None) -> None:
    """feeds/stories/<name>.html for every story in a topic whose page changed since it was
    last written (store.stale_pages); a story in no topic has no page. Pages are synced per
    batch (one syncfs, not an fsync per page) and only then marked written, so a crash makes
    the next run write them again."""
    site = site_info(config)
    inputs = f"{html.templates_digest()}|{site}|{[(s.slug, s.label) for s in specs]}"
    digest = hashlib.sha256(inputs.encode()).hexdigest()
    if store.meta("pages_digest") != digest:  # new templates, another site title or topics
        with store.transaction():
            store.all_pages_stale()
            store.set_meta("pages_digest", digest)
    directory = config.paths.feeds / "stories"
    failed: set[int] = set()
    while True:
        if stop and stop():
            report.interrupted = True
            return
        batch = [e for e in store.stale_pages(PAGES_PER_BATCH + len(failed)) if e not in failed]
        if not batch:
            return
        done = []
        wrote = False
        for entry in batch:
            page = store.story_page(entry)
            path = directory / f"{page.name}.html"
            try:
                if page.topics:
                    report.pages += 1
                    try:
                        data = html.story_page(site, page, specs)
                    except Exception as exc:  # a bug: this page stays as it was, marked for the next run
                        failed.add(entry)
                        report.errors.append(f"{path}: cannot render: {type(exc).__name__}: {exc}")
                        continue
                    if write_if_changed(path, data, sync=False):
                        report.pages_written += 1
                        wrote = True
                else:  # in no topic (never was, or not any more): not published
                    path.unlink(missing_ok=True)
                done.append(entry)
            except OSError as exc:
                failed.add(entry)
                report.errors.append(f"{path}: cannot write: {exc.strerror or exc}")
        if wrote:
            try:
                sync_filesystem(directory)
            except OSError as exc:
                report.errors.append(f"{directory}: cannot sync: {exc.strerror or exc}")
                return
        faults.point("pages.written")
        if done:
            with store.transaction():
                store.pages_written(done)


_TEMP = re.compile(r"^\..+\.\d+\.tmp$")  # what write_if_changed writes before its rename


def remove_temp_files(feeds: Path, report: PublishReport) -> None:
    """Temp files a killed publish left behind (never served: hidden; removed here, under the
    write lock, so no writer of ours is using them)."""
    stack = [feeds]
    while stack:
        directory = stack.pop()
        try:
            entries = list(os.scandir(directory))
        except OSError:
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                stack.append(Path(entry.path))
            elif _TEMP.match(entry.name):
                try:
                    os.unlink(entry.path)
                except OSError as exc:
                    report.errors.append(f"{entry.path}: cannot remove a temp file: {exc.strerror or exc}")


def write_if_changed(path: Path, data: bytes, *, sync: bool = True) -> bool:
    """Replace `path` with `data` atomically (temp file, fsync, rename) unless it already holds
    exactly those bytes. Returns True when the file was written. The caller syncs the
    directory (fsync_dir) once it has renamed everything it writes there; with sync=False the
    caller syncs the file system (sync_filesystem) after a batch instead of a file at a time."""
    try:
        if path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            if sync:
                os.fsync(f.fileno())
        faults.point("write.temp")
        os.replace(tmp, path)
        faults.point("write.renamed")
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return True


_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True) if ctypes.util.find_library("c") else None


def sync_filesystem(path: Path) -> None:
    """syncfs(2) on the file system holding `path`: everything written there is durable,
    directory entries included (os.sync() where syncfs is missing)."""
    syncfs = getattr(_libc, "syncfs", None)
    if syncfs is None:
        os.sync()
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        if syncfs(fd) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err), str(path))
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """Make the renames in a directory durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def status(config: Config, now: datetime) -> dict[str, Any]:
    """The `status --json` document: the service, entries per feed, unclassified, every
    source's last read, retracted stories."""
    service = {"running": lock.holder(config.paths.run_lock), "last_run": None, "last_run_ok": None,
               "last_run_summary": None, "next_run": None}
    feeds = [{"url": f.url, "title": f.title, "last_success": None, "errors": 0, "last_error": None,
              "last_status": None, "next_fetch": None, "fetched_at": None} for f in config.feeds]
    empty = {"service": service, "topics": {t.slug: 0 for t in config.topics}, "merged": {config.merged.slug: 0},
             "entries": 0, "unclassified": 0, "sources": [], "feeds": feeds, "retracted": []}
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
            "sources": store.sources(),
            "feeds": feeds,
            "retracted": store.retracted(),
        }
    finally:
        store.close()
