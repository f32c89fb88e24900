"""Use case: sources -> stories -> store. Read every source (files in sources/, fetched feed
URLs), place each story (dedup decides; the store applies), and bring topics up to date.

A bad source is its result (skipped or failed, with the reason), never the run's end. Each
file and each fetched feed is all or nothing (a savepoint); they are committed in batches.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from publisher import dedup, entries, faults, lsh, poll, subscribe
from publisher.classify import classify_story, rules_digest, topic_scorer
from publisher.config import Config, FeedSource
from publisher.errors import ConfigError, StoreError, UnknownStory
from publisher.model import Decision, Outcome, ReadResult, Story, story_text
from publisher.report import Progress, PublishReport, SourceReport
from publisher.sources import boundaries, feed, fetch, kinds, read_file, wire
from publisher.sources.boundaries import Known
from publisher.sources.fetch import FetchRequest, FetchResult
from publisher.sources.files import NotASource, SourceFile, list_sources, read_source, source_file
from publisher.store import FeedState, NewEntry, SourceState, Store, stored_ns

FILES_PER_COMMIT = 64
Stop = Callable[[], bool]


def read_bytes(source: SourceFile, limit: int) -> bytes:
    """Read a source file, never blocking, never following a link swapped in (files.read_source),
    at most `limit` bytes (limits.bytes_per_file: a byte more tells a file that grew past it).
    (A seam for tests that inject I/O errors: CI runs as root.)"""
    return read_source(source, limit + 1)


# -- reading a file ---------------------------------------------------------------------------

def read_source_data(store: Store, config: Config, name: str, data: bytes) -> ReadResult:
    """What a source file gives, read as ingest reads it: wire copy with the stored stories
    whose ledes recur inside its runs of paragraphs (a story starts there: boundaries.Known);
    the store is asked only when a paragraph inside a story meets some stored lede."""
    scorer = topic_scorer(config.topics)
    result = read_file(name, data, scorer, config.limits)
    known = stored_ledes(store, name, data, result)
    return read_file(name, data, scorer, config.limits, known) if known else result


def stored_ledes(store: Store, name: str, data: bytes, result: ReadResult) -> Known:
    """The stored stories whose ledes recur inside the stories a first read of a wire file
    gave (a paragraph after the first of one meets a stored lede): what its second read is
    given (read_source_data, and `classify`, which reads as ingest would). Empty when there
    is nothing to ask the store."""
    if kinds.sniff(name, data) != kinds.Kind.WIRE or boundaries.THRESHOLD == float("inf"):
        return Known()
    paragraphs = [p for s in result.stories if len(s.paragraphs) > 1 and not s.kicker for p in s.paragraphs[1:]]
    inside = dict(zip(paragraphs, dedup.paragraphs_keys(paragraphs)))
    if not inside:
        return Known()
    wanted = frozenset().union(*inside.values())
    return Known(tuple(dedup.stories_keys(store.texts_with_bands(wanted), lede_in=wanted)))


# -- placing one story -----------------------------------------------------------------------

def sketches(stories: list[Story]) -> list[dedup.Sketch]:
    """The sketches of a read's stories, computed together before any is placed (the one place
    to compute them in a batch: dedup.sketches, one numpy pass)."""
    return dedup.sketches((story.paragraphs, story.kicker) for story in stories)


def place_story(store: Store, config: Config, story: Story, fp: str, *, source: int, read: int, now: datetime,
                same_as: int | None = None, revise: int | None = None,
                apart_from: frozenset[int] = frozenset(), sketch: dedup.Sketch | None = None) -> tuple[Decision, int]:
    """Place one story and store it: (decision, entry). `same_as`: the entry a feed's item
    became when it was seen before (see dedup.place). `revise`: the entry it must be the new
    text of (`publisher reread`: the first part of an old merge keeps its entry); `apart_from`:
    entries it must not join (the entries the other parts of that file already kept).
    `sketch`: the story's, when computed already (`sketches`)."""
    known = store.version_by_fingerprint(fp)
    if known:  # any version of any entry, however old: never a revision back to old text
        placement, sketch = dedup.place(None, (), config.dedup, copy_of=known), None
    elif revise is not None:
        sketch = sketch or dedup.sketch(story.paragraphs, story.kicker)
        placement = dedup.place(sketch, (), config.dedup, same_as=revise, same_as_retracted=store.is_retracted(revise))
    else:
        sketch = sketch or dedup.sketch(story.paragraphs, story.kicker)
        ranked = lsh.rank(store.band_hits(sketch.band_keys, sketch.lead_keys), sketch, config.dedup)
        candidates = [c for c in store.candidates(ranked) if c.entry not in apart_from]
        placement = dedup.place(sketch, candidates, config.dedup, truncated=story.truncated,
                                same_as=same_as,
                                same_as_retracted=same_as is not None and store.is_retracted(same_as))
        if placement.decision == Decision.NEW and same_as is None:
            placement = _place_brief(store, config, story, apart_from) or placement
    if placement.compared is not None and placement.containment is not None and placement.containment >= 0.9:
        # re-read under today's rules, a text may differ from its stored version only by what
        # the rules now leave out (a byline, a credit line): that is a copy, not a revision
        kicker, paragraphs = store.version_text(placement.compared)
        kept = [p for p in paragraphs if not wire.is_furniture(p)]
        if len(kept) < len(paragraphs) and dedup.fingerprint(story_text(kicker, kept)) == fp:
            placement = dedup.as_copy(placement)
    if story.origin is None and placement.current and placement.entry is not None:
        dated = dedup.SourceDate(story.published, story.dated_by_name) if story.published else None
        placement = dedup.older(placement, dated, store.current_dated(placement.entry))
    new = None
    if placement.decision == Decision.NEW:
        new = NewEntry(entries.mint_entry_id(config.site.id_authority, fp), entries.story_name(story.title, fp))
    applied = store.apply(placement, story, fp, sketch, source=source, read=read, now=now, new_entry=new)
    return applied.decision, applied.entry


def _place_brief(store: Store, config: Config, story: Story, apart_from: frozenset[int]) -> dedup.Placement | None:
    """A story shingles found no match for, judged as a brief (a one-paragraph lead or summary)
    against stored articles, or as an article against stored briefs (dedup.place_brief): a
    brief on the few stored texts holding its rarest words (the full-text index), an article
    on the few stored briefs sharing its lede's content words."""
    query = dedup.brief_query(story.paragraphs, story.kicker)
    if query is None:
        return None
    if query.words:
        stored = store.texts_sharing_words(query.words, at_least=dedup.BRIEF_QUERY_MATCH, window=dedup.BRIEF_WINDOW,
                                           limit=dedup.BRIEF_CANDIDATES)
    else:
        stored = store.briefs_sharing_words(query.brief_words, at_least=dedup.BRIEF_LEDE_MATCH,
                                            window=dedup.BRIEF_WINDOW, limit=dedup.BRIEF_CANDIDATES)
    return dedup.place_brief(story.paragraphs, story.kicker, [s for s in stored if s.entry not in apart_from],
                             config.dedup)


def place_feed_story(store: Store, config: Config, story: Story, fp: str, known: tuple[int, str] | None, *,
                     source: int, read: int, now: datetime,
                     sketch: dedup.Sketch | None = None) -> tuple[Decision, int | None]:
    """One entry of a feed, whose text has fingerprint `fp`; `known`: (entry, fingerprint) of
    its item (by its id in that feed) when seen before (Store.feed_item). The same item with
    the same text as last time is UNCHANGED and costs nothing; with another text it is a
    revision of the entry it became, however much it changed; a new item goes through dedup
    like wire copy, so a story the wire already gave is provenance, not an entry. `sketch`:
    the story's, when computed already (`sketches`)."""
    item = story.origin.item_id
    if known and known[1] == fp:
        return Decision.UNCHANGED, None
    decision, entry = place_story(store, config, story, fp, source=source, read=read, now=now,
                                  same_as=known[0] if known else None, sketch=sketch)
    store.set_feed_item(source, item, entry, fp)
    return decision, entry


def source_dated(story: Story, name: str, mtime: datetime | None, now: datetime) -> Story:
    """The story with the dates it is stored with: a feed item's own (when sane), a wire
    story's from its file (the date in the name, else the modification time; see entries)."""
    if story.origin is not None:
        return replace(story, published=entries.source_date(story.published, now),
                       updated=entries.source_date(story.updated, now))
    published, by_name = entries.wire_dated(name, mtime, now)
    return replace(story, published=published, updated=None, dated_by_name=by_name)


def _mtime(seconds: float) -> datetime | None:
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):  # a file dated beyond what a datetime holds
        return None


def store_stories(store: Store, config: Config, now: datetime, name: str, source: int, read: int,
                  result: ReadResult, mtime: datetime | None = None) -> SourceReport:
    """Store what one read of a source gave; finish the read. Inside the caller's transaction.
    `mtime`: a file's modification time (a wire story's date when its name has none)."""
    rep = SourceReport(name, Outcome.SKIPPED, result.skipped, warnings=result.warnings)
    revised: dict[int, Story] = {}  # entry -> the story that revised it
    # sketched together (one numpy pass): every wire story, and a feed's items whose text is
    # not the one stored for them (an unchanged item costs nothing)
    prints = [dedup.fingerprint(story.text) for story in result.stories]
    items = [store.feed_item(source, story.origin.item_id) if story.origin is not None else None
             for story in result.stories]  # each item looked up once
    wanted = [i for i, story in enumerate(result.stories)
              if story.origin is None or items[i] is None or items[i][1] != prints[i]]
    computed = dict(zip(wanted, sketches([result.stories[i] for i in wanted])))
    placed: dict[str, tuple[int, str]] = {}  # item id -> (entry, fingerprint) placed by this read
    for i, story in enumerate(result.stories):
        story = source_dated(story, name, mtime, now)
        if story.origin is not None:
            item = story.origin.item_id  # an id twice in one document: the second is the same item
            known = placed.get(item, items[i])
            decision, entry = place_feed_story(store, config, story, prints[i], known, source=source, read=read,
                                               now=now, sketch=computed.get(i))  # (None: place_story makes it)
            if decision == Decision.UNCHANGED:
                continue
            placed[item] = (entry, prints[i])
        else:
            decision, entry = place_story(store, config, story, prints[i], source=source,
                                          read=read, now=now, sketch=computed[i])
        rep.count(decision)
        if decision.revises:
            revised.setdefault(entry, story)
    rep.warnings += _versions_warning(store, config, revised, "entry" if any(s.origin for s in result.stories)
                                      else "line")
    return _finish(store, read, rep, result)


def _versions_warning(store: Store, config: Config, revised: dict[int, Story], unit: str) -> tuple[str, ...]:
    """One warning when stories this read revised now have more published versions than their
    pages show (limits.versions_per_story); all are kept, the newest are shown."""
    cap = config.limits.versions_per_story
    over = [(story, n) for entry, story in revised.items()
            if (n := store.count_versions(entry, entries.SHOWN)) > cap]
    if not over:
        return ()
    story, n = over[0]
    if len(over) == 1:
        return (f"{unit} {story.first_line:,}: “{story.title}” has {n:,} versions; its page shows the newest "
                f"{cap:,} (limits.versions_per_story)",)
    return (f"{len(over):,} stories have more than {cap:,} versions, the first at {unit} {story.first_line:,}; "
            f"their pages show the newest {cap:,} of each (limits.versions_per_story)",)


def _finish(store: Store, read: int, rep: SourceReport, result: ReadResult) -> SourceReport:
    """The outcome of a read, from the stories it placed; recorded as the source's latest read."""
    if result.stories:
        rep.outcome = Outcome.NEW if rep.new or rep.revised else Outcome.DUPLICATE
        rep.reason = "; ".join(rep.warnings) or None
    store.finish_read(read, rep.outcome, rep.reason, rep.stories, rep.new, rep.duplicate, rep.revised,
                      past_caps=result.past_caps)
    return rep


def _failed(store: Store, name: str, now: datetime, reason: str, kind: str = "file") -> SourceReport:
    with store.transaction():
        source_id = store.ensure_source(name, kind)
        store.finish_read(store.start_read(source_id, now, None, None, None), Outcome.FAILED, reason)
    return SourceReport(name, Outcome.FAILED, reason)


# -- files -----------------------------------------------------------------------------------

def ingest_files(store: Store, config: Config, now: datetime, report: PublishReport,
                 progress: Progress | None = None, *, only: list[Path] | None = None, settle: float = 0.0,
                 stop: Stop | None = None) -> None:
    """Read every source file (or `only` these) into the store; one SourceReport each."""
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
    # A file the store knows, of the size and time it had when read, is unchanged: said so
    # here, with one stat, outside any transaction (most files, most runs: a publish over
    # 10,000 sources did a savepoint and a report's worth of work for each).
    files = [source for source in files if not _unchanged(source, known.get(source.name), report)]
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
                rep = ingest_file(store, source, config, now, known.get(source.name),
                                  young_after=young if settle else None)
                if rep is not None:
                    report.sources.append(rep)
                faults.point("ingest.file")
        faults.point("ingest.commit")
        if report.interrupted:
            return
        store.merge_index()  # a long run keeps lsh_recent small (its own transaction; nothing when under the limit)
    if progress:
        progress(len(files), len(files), "")


def _unchanged(source: SourceFile, state: SourceState | None, report: PublishReport) -> bool:
    """True (and the file reported unchanged) when `source` is a file the store read at this
    size and modification time; anything else (unknown, changed, gone, a link or a FIFO, a
    stat that fails) is for ingest_file to look at and report."""
    if state is None or source.skip is not None:
        return False
    try:
        st = os.stat(source.where)
    except OSError:
        return False
    if not stat.S_ISREG(st.st_mode) or not _as_read(state, st):
        return False
    report.sources.append(SourceReport(source.name, Outcome.UNCHANGED))
    return True


def _as_read(state: SourceState | None, st: os.stat_result) -> bool:
    """The file is of the size and modification time it had when the store read it."""
    return state is not None and (state.size, state.mtime_ns) == (st.st_size, stored_ns(st.st_mtime_ns))


def ingest_file(store: Store, source: SourceFile, config: Config, now: datetime,
                state: SourceState | None | bool = True, young_after: float | None = None) -> SourceReport | None:
    """Read one file into the store, in one transaction: all its stories or none. Whatever goes
    wrong with one file is that file's result (failed, with the reason), never the run's end.
    None: the file is gone since it was listed (nothing to read, nothing to report).
    `state`: what the store knows of the file (None: nothing), or True to look it up.
    `young_after`: a file modified after this time (epoch seconds) is left for a later run."""
    try:
        return _ingest_file(store, source, config, now, state, young_after)
    except Exception as exc:
        _raise_if_fatal(exc)
        return _failed(store, source.name, now, f"{type(exc).__name__}: {exc}")


def _ingest_file(store: Store, source: SourceFile, config: Config, now: datetime,
                 state: SourceState | None | bool, young_after: float | None) -> SourceReport | None:
    name = source.name
    try:  # a source listed as skipped: the link or the FIFO itself, never where it leads
        st = os.lstat(source.path) if source.skip else source.path.stat()
    except FileNotFoundError:
        return None
    except OSError as exc:
        return _failed(store, name, now, f"cannot stat: {exc.strerror or exc}")
    if state is True:
        state = store.source_state(name)
    if _as_read(state, st):
        return SourceReport(name, Outcome.UNCHANGED)
    if young_after is not None and young_after < st.st_mtime <= young_after + 86400:
        # Modified a moment ago: perhaps still being written. Remember nothing; the watcher
        # (or the next run) reads it once it has settled. (A clock far off is not waited for.)
        return SourceReport(name, Outcome.PENDING, "modified a moment ago (still being written?); "
                                                   "it will be read once it has settled", path=source.path)
    if source.skip or wire.too_large(st.st_size, config.limits):
        data = None
    else:
        try:
            data = read_bytes(source, config.limits.bytes_per_file)
            after = source.path.stat()
        except FileNotFoundError:
            return None
        except NotASource as exc:  # swapped in after the listing: the next listing records it
            return SourceReport(name, Outcome.SKIPPED, exc.reason)
        except OSError as exc:
            return _failed(store, name, now, f"cannot read: {exc.strerror or exc}")
        if len(data) != st.st_size or (after.st_size, after.st_mtime_ns) != (st.st_size, st.st_mtime_ns):
            # Half-written: store nothing and remember nothing, so the next run reads it whole.
            return SourceReport(name, Outcome.SKIPPED, "changed while being read (still being written?); "
                                                       "it will be read again on the next run")
    sha = hashlib.sha256(data).hexdigest() if data is not None else None
    # The same bytes again (touched, or copied back) are not read again, unless its last read
    # left stories past a cap: touched after the cap was raised, it is read with the new caps.
    if state and sha is not None and state.sha256 == sha and not state.past_caps:
        with store.transaction():
            store.remember_stat(state.id, st.st_size, st.st_mtime_ns)
        return SourceReport(name, Outcome.UNCHANGED)
    if source.skip:  # remembered like any skipped file: one line, not one every run
        result = ReadResult(skipped=source.skip)
    elif data is None:
        result = ReadResult(skipped=wire.too_large(st.st_size, config.limits))
    elif kinds.sniff(name, data) == kinds.Kind.OPML:  # feeds to subscribe to, once per content
        try:
            result = subscribe.opml(config, data)
        except ConfigError as exc:
            return _failed(store, name, now, f"cannot subscribe to its feeds: {exc}")
    else:
        result = read_source_data(store, config, name, data)
    try:
        with store.transaction():
            source_id = store.ensure_source(name)
            read = store.start_read(source_id, now, st.st_size, st.st_mtime_ns, sha)
            rep = store_stories(store, config, now, name, source_id, read, result,
                                mtime=_mtime(st.st_mtime))
    except Exception as exc:  # one file's failure is its result, not the run's end
        _raise_if_fatal(exc)
        return _failed(store, name, now, f"cannot store: {type(exc).__name__}: {exc}")
    return rep


def _raise_if_fatal(exc: Exception) -> None:
    """The database or its disk failed (full, read-only ...): that is the run's end, one line,
    not every source's result in turn (nor could a source's failure be recorded)."""
    if isinstance(exc, StoreError) and exc.fatal:
        raise exc


# -- other people's feeds --------------------------------------------------------------------

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


def poll_feeds(config: Config, now: datetime, stop: Stop | None = None) -> list[tuple[FeedSource, FetchResult]]:
    """Fetch every configured feed that is due (concurrently; no lock held). A stop cancels the
    fetches under way: those feeds are left out (nothing to record; fetched next time)."""
    states = feed_states(config, now)
    due = [f for f in config.feed_sources
           if poll.is_due(states[f.url].next_fetch if f.url in states else None, now)]
    if not due or (stop and stop()):
        return []
    requests = [FetchRequest(f.url, states[f.url].etag if f.url in states else None,
                             states[f.url].last_modified if f.url in states else None) for f in due]
    return [(f, r) for f, r in zip(due, fetch.fetch_all(requests, stop=stop)) if r is not None]


def ingest_fetched(store: Store, config: Config, now: datetime, fetched: list[tuple[FeedSource, FetchResult]],
                   report: PublishReport) -> None:
    """Store what the fetches gave, and when to fetch each feed next. One feed's failure is
    its own result: the others, and the feeds already published, are unaffected."""
    states = store.feed_states()
    # Committed in batches, like files (each feed still all-or-nothing: a savepoint).
    for first in range(0, len(fetched), FILES_PER_COMMIT):
        with store.transaction():
            for source, result in fetched[first : first + FILES_PER_COMMIT]:
                report.polled.append(_ingest_one_fetch(store, config, now, source, result, states))
        store.merge_index()  # a first poll of many feeds keeps lsh_recent small, as a long run of files does


def _ingest_one_fetch(store: Store, config: Config, now: datetime, source: FeedSource, result: FetchResult,
                      states: dict[str, FeedState]) -> SourceReport:
    interval = source.interval_seconds or config.service.interval_seconds
    source_id = store.ensure_source(source.url, "feed")
    state = states.get(source.url) or FeedState(source=source_id, url=source.url)
    try:
        with store.transaction():
            rep, state = _ingest_fetch(store, config, now, source_id, source, result, state, interval)
    except Exception as exc:  # a bug in one feed's handling must not stop the others
        _raise_if_fatal(exc)
        rep = SourceReport(source.url, Outcome.FAILED, f"cannot store: {type(exc).__name__}: {exc}")
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
        return SourceReport(url, Outcome.UNCHANGED), replace(
            state, fetched_at=now, last_success=now, errors=0, last_error=None, last_status=304, **validators,
            next_fetch=poll.after_success(now, interval, result.headers))
    body = result.body or b""
    sha = hashlib.sha256(body).hexdigest()
    known = store.source_state(url, "feed")
    parsed = feed.parse(body, url=result.final_url or url, headers=result.headers, limits=config.limits)
    ok = replace(state, fetched_at=now, last_success=now, errors=0, last_error=None, last_status=result.status,
                 title=source.title or parsed.title, **validators,
                 next_fetch=poll.after_success(now, interval, result.headers, parsed.ttl_minutes))
    if known and known.sha256 == sha:  # the server sent the same bytes again (no 304 support)
        return SourceReport(url, Outcome.UNCHANGED), ok
    read = store.start_read(source_id, now, len(body), None, sha)
    rep = store_stories(store, config, now, url, source_id, read, parsed.result)
    if rep.outcome == Outcome.SKIPPED:  # a document that gives nothing is a failing feed
        errors = state.errors + 1
        rep.outcome = Outcome.FAILED  # (recorded so: status says what the run's line says)
        store.finish_read(read, Outcome.FAILED, rep.reason, past_caps=parsed.result.past_caps)
        return rep, replace(state, fetched_at=now, errors=errors, last_error=rep.reason, last_status=result.status,
                            next_fetch=poll.after_failure(now, interval, errors))
    return rep, ok


# -- topics ----------------------------------------------------------------------------------

def classify_entries(store: Store, config: Config) -> int:
    """Bring topic membership up to date with the current rules; returns entries classified."""
    digest = rules_digest(config.topics)
    n = 0
    with store.transaction():
        for entry, kicker, paragraphs in store.unclassified_texts(digest):
            matches = classify_story(config.topics, kicker, paragraphs)
            store.set_topics(entry, digest, [(m.slug, m.score) for m in matches if m.accepted])
            n += 1
        store.classified_all(digest)
    faults.point("classify.commit")
    return n


# -- reading a file again with today's rules --------------------------------------------------

def reread_file(store: Store, config: Config, source: SourceFile, now: datetime) -> SourceReport:
    """Place a file's stories again with today's rules (`publisher reread`): each story that
    starts inside what was one stored story of this file is the new text of that entry if it is
    the first part of it (the entry keeps its id), and a story of its own otherwise (never
    joined to an entry another part of the file kept). Inside the caller's transaction."""
    name = source.name
    data = read_bytes(source, config.limits.bytes_per_file)
    st = source.path.stat()
    state = store.source_state(name)
    if state is None:
        raise UnknownStory(f"{name}: never read from {config.paths.sources}: nothing to read again "
                           f"(`publisher publish` reads it)")
    old = store.file_arrivals(state.id)  # (entry, first line, last line) of its last read
    result = read_source_data(store, config, name, data)
    rep = SourceReport(name, Outcome.SKIPPED, result.skipped, warnings=result.warnings)
    # a story whose text this file already gave is where it was: no new arrival, nothing counted
    given = [store.given_by(dedup.fingerprint(story.text), state.id) for story in result.stories]
    if result.stories and all(given):
        return SourceReport(name, Outcome.UNCHANGED, "today's rules place its stories as they are")
    read = store.start_read(state.id, now, st.st_size, st.st_mtime_ns, hashlib.sha256(data).hexdigest())
    kept: set[int] = {entry for entry in given if entry is not None}
    splits: list[tuple[int, int]] = []  # (the entry a part split off became, the entry it was part of)
    for story, entry in zip(result.stories, given):
        if entry is not None:
            continue
        story = source_dated(story, name, _mtime(st.st_mtime), now)
        was = next((e for e, first, last in old if first <= story.first_line <= last), None)
        first_part = was is not None and was not in kept
        decision, entry = place_story(store, config, story, dedup.fingerprint(story.text), source=state.id,
                                      read=read, now=now, revise=was if first_part else None,
                                      apart_from=frozenset(kept))
        if first_part:
            kept.add(was)
        elif was is not None and decision == Decision.NEW:
            splits.append((entry, was))
        kept.add(entry)
        rep.count(decision)
    _rehome(store, config, splits, state.id, now)
    return _finish(store, read, rep, result)


def _rehome(store: Store, config: Config, splits: list[tuple[int, int]], source: int, now: datetime) -> None:
    """The other files' versions of a part that a reread split off move with it to its new
    entry (dedup.rehome): an update of that part that came alone, filed under the old merge,
    is shown by the new entry; a retracted merge keeps its versions (they stay out)."""
    for new, old in splits:
        if store.is_retracted(old):
            continue
        kept, _ = store.current_compared(old)
        split_off = store.current_compared(new)
        for move in dedup.rehome(split_off, kept, store.stored_versions(old, not_from=source), config.dedup):
            store.move_version(move.version, new)
            if move.current:  # the part this file gave becomes history: never published, older
                store.record_older(split_off[0].id)
                store.make_current(new, move.version, now)
