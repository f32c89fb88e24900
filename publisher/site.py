"""Use case: store -> feeds -> files. Render every output (each feed in every format, the story
pages, each feed's HTML page, the OPML, the front page) and write the files whose bytes changed;
and the site's icons (model.Icon, shipped in publisher/data/icons/), which they all link to.

A file that cannot be rendered or written is one error line; the others are still written.
Every file goes through publisher.atomic (temp file, rename), so nothing is ever half-written.
The feeds are written first and the front page last (write_all), so a publish stopped or
killed part way never leaves a page offering a feed that does not exist yet.

Durability: one filesystem sync per publish (Output.finish: syncfs once every file is renamed
into place), not an fsync per file. What a publish marks done in the store (story pages and
archive pages written, archive pages closed) is marked only after that sync, so a crash or a
power loss before it makes the next publish handle the same pages again; every other file is
rendered and compared with what is on disk on every publish. So after a power loss, a file of
the interrupted publish may be old, missing or (on a file system that does not order a rename
after its data) empty until the next publish, which writes it again; files of publishes that
finished are durable; a reader never sees a half-written file.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from importlib import resources
from pathlib import Path

from publisher import atomic, changes, entries, faults
from publisher.config import Config
from publisher.model import FeedFormat, FeedSpec, Icon, Limits
from publisher.render import html
from publisher.render.feeds import render
from publisher.render.jsonfeed import render_json
from publisher.render.opml import render_opml
from publisher.report import PublishReport
from publisher.store import Store

PAGES_PER_BATCH = 500
RETRACTED = "retracted"  # feeds/stories/retracted/: the pages of retracted stories (410 Gone)
Stop = Callable[[], bool]


@contextmanager
def _output(config: Config, report: PublishReport, out: Output | None,
            store: Store | None = None) -> Iterator[Output]:
    """`out` (the publish's, which write_all finishes), or, for a step run alone, an Output of
    its own, finished (one sync) when the step ends: marked done in `store` (when given) only
    if the step ended without an exception."""
    if out is not None:
        yield out
        return
    own = Output(config.paths.feeds, report)
    try:
        yield own
    except BaseException:
        own.finish(None)
        raise
    own.finish(store)


def write_all(store: Store, config: Config, report: PublishReport, stop: Stop | None = None) -> None:
    """Every output, from what the store holds now: the icons, the archive pages that changed,
    the feeds (Atom, RSS, JSON Feed) that link to them, then the story pages, the feeds' pages
    (which offer the feeds), the OPML and last the front page (which links to all of them). When `stop`
    says so (or an earlier step stopped), no later step runs: the next run writes the rest,
    and meanwhile no page links to a feed that was never written (on a first publish, the
    front page does not exist until everything it lists does). Then one sync of all of it
    (Output.finish)."""
    out = Output(config.paths.feeds, report)
    out.start()
    try:
        specs = feed_specs(store, config)
        write_icons(config, report, out)
        write_archives(store, config, specs, report, stop=stop, out=out)  # before the feeds that link to them
        failed = write_feeds(config, specs, report, stop=stop, out=out)
        write_pages(store, config, specs, report, stop=stop, out=out)
        if not _stopped(stop, report):
            write_feed_pages(config, [s for s in specs if s.slug not in failed], specs, report, out)
        if not _stopped(stop, report):
            write_site(config, specs, report, out)
    except BaseException:
        out.finish(None)  # what was renamed is synced and told to the servers; nothing marked done
        raise
    out.finish(store)


class Output:
    """What one publish writes under feeds/: each file renamed into place unsynced, then at
    the end (finish) one filesystem sync, the change journal for the servers (publisher.changes),
    and only then what the store is to remember as done (pages and archive pages written)."""

    def __init__(self, feeds: Path, report: PublishReport):
        self.feeds, self.report = feeds, report
        self.wrote = False  # anything renamed (or removed) under feeds/: to sync
        self.changed: list[str] = []  # journal lines (changes.py)
        self.pages: list[int] = []  # entries whose story page was handled
        self.archives: list[tuple[str, int, int]] = []  # (feed, first, last place) of archive pages written
        self.closed: list[tuple[str, int]] = []  # (feed, pages closed) once those are written
        self.syncs = 0

    def start(self) -> None:
        try:
            changes.rotate_if_full(self.feeds)
        except OSError as exc:
            self.report.errors.append(f"{changes.path(self.feeds)}: cannot write: {exc.strerror or exc}")

    def write(self, path: Path, data: bytes) -> bool:
        """atomic.write_if_changed, unsynced (finish syncs once). Raises OSError."""
        if atomic.write_if_changed(path, data, sync=False):
            self.wrote = True
            return True
        return False

    def finish(self, store: Store | None) -> bool:
        """Sync what was written (one syncfs), tell the servers, then mark in the store what
        is done. False (and an error line) when the sync failed: nothing is marked done."""
        synced = True
        if self.wrote:
            self.syncs += 1
            synced = _sync(atomic.sync_filesystem, self.feeds, "cannot sync", self.report)
        self.wrote = False
        if self.changed:  # (renamed files are served whether or not they are durable)
            try:
                changes.append(self.feeds, self.changed)
            except OSError as exc:
                try:
                    changes.discard(self.feeds)  # the servers list everything instead
                except OSError:
                    self.report.errors.append(f"{changes.path(self.feeds)}: cannot write: {exc.strerror or exc}")
            self.changed = []
        if not synced or store is None:
            return synced
        if self.pages:
            faults.point("pages.written")
        if self.pages or self.archives or self.closed:
            with store.transaction():
                for feed, first, last in self.archives:
                    store.archive_written(feed, first, last)
                for feed, closed in self.closed:
                    store.set_archive_closed(feed, closed)
                store.pages_written(self.pages)
        self.pages, self.archives, self.closed = [], [], []
        return True


def _stopped(stop: Stop | None, report: PublishReport) -> bool:
    if stop and stop():
        report.interrupted = True
    return report.interrupted


def feed_specs(store: Store, config: Config) -> list[FeedSpec]:
    """Every feed to publish: one per topic, in config order, then the merged feed."""
    site = config.site
    feeds = [(t.slug, t.title, f"{t.title}: stories from {site.title}") for t in config.topics]
    feeds.append((config.merged.slug, config.merged.title, f"{site.description}: every story of every topic"))
    counts = store.topic_counts()
    archives = store.archive_feeds()
    size = config.archive_page_size
    specs = []
    for slug, title, subtitle in feeds:
        topic = None if slug == config.merged.slug else slug
        total = counts.get(slug, 0) if topic else store.count_in_any_topic()
        items = store.feed_entries(topic, config.max_entries)
        members = archives.get(archive_key(topic), (0, 0))[0]
        closed = members // size
        if members > closed * size:  # the open archive page: all of it in the feed (see write_archives)
            have = {e.entry_id for e in items}
            late = [e for e in store.archive_entries(archive_key(topic), closed * size + 1, members)[0]
                    if e.entry_id not in have]
            if late:  # (a story that joined the topic after newer ones: rare)
                items = sorted(items + late, key=lambda e: e.published, reverse=True)
        # The feed changed when its newest entry did, or when one of its entries was retracted.
        changes = [e.updated for e in items] + [store.latest_retraction(topic) or store.created_at]
        specs.append(FeedSpec(slug=slug, title=f"{site.title}: {title}", feed_id=f"tag:{site.id_authority}:feed/{slug}",
                              base_url=site.base_url, author=site.author, language=site.language,
                              subtitle=subtitle, updated=max(changes), entries=tuple(items), hub=config.service.hub,
                              total=total, label=title, topics=tuple((t.slug, t.title) for t in config.topics),
                              archives=closed))
    return specs


def archive_key(topic: str | None) -> str:
    """A feed's name in the store's archive tables: its topic, or '*' for the merged feed."""
    return topic or "*"


def site_info(config: Config) -> html.SiteInfo:
    s = config.site
    return html.SiteInfo(title=s.title, description=s.description, base_url=s.base_url, language=s.language)


@functools.cache
def icon_files() -> list[tuple[str, bytes]]:
    """(file name, bytes) of each icon, as shipped."""
    shipped = resources.files("publisher") / "data" / "icons"
    return [(icon.filename, (shipped / icon.filename).read_bytes()) for icon in Icon]


def write_icons(config: Config, report: PublishReport, out: Output | None = None) -> None:
    """feeds/icon.svg, favicon.ico and the PNGs: what the feeds and pages name as their icons
    and logo. (Neither feed files nor pages: not counted in the report; the same bytes every
    run, so written once.)"""
    with _output(config, report, out) as out:
        directory = config.paths.feeds
        for filename, data in icon_files():
            try:
                out.write(directory / filename, data)
            except OSError as exc:
                report.errors.append(f"{directory / filename}: cannot write: {exc.strerror or exc}")


def write_feeds(config: Config, specs: list[FeedSpec], report: PublishReport, stop: Stop | None = None,
                out: Output | None = None) -> set[str]:
    """Each feed in every format, in feeds/<slug>/. Returns the slugs of the feeds that could
    not be rendered (their pages are not written either: they would offer those feeds)."""
    with _output(config, report, out) as out:
        cache: dict = {}
        failed: set[str] = set()
        for spec in specs:
            if _stopped(stop, report):
                break
            try:
                atom, rss = render(spec, cache)
                files = [(FeedFormat.ATOM.filename, atom), (FeedFormat.RSS.filename, rss),
                         (FeedFormat.JSON.filename, render_json(spec, cache))]
            except Exception as exc:  # a bug; the feed stays as it was, the others are written
                report.errors.append(f"{config.paths.feeds / spec.slug}: cannot render: {type(exc).__name__}: {exc}")
                failed.add(spec.slug)
                continue
            _write_files(config.paths.feeds / spec.slug, files, report, out)
    return failed


ARCHIVE_FORMAT = "1"  # bump when archive documents are rendered differently: every page is written again


def write_archives(store: Store, config: Config, specs: list[FeedSpec], report: PublishReport,
                   stop: Stop | None = None, out: Output | None = None) -> None:
    """feeds/<slug>/archive/<n>/ (atom.xml, rss.xml, feed.json, index.html): the closed
    archive pages whose stories changed, RFC 5005 archived feeds and their HTML pages.

    How stories are put on pages, so that a page holds the same stories for ever: each story
    gets a place in each feed the first time it joins that feed (Store.set_topics: 1, 2, ... in
    the order they joined), and page n holds places (n-1)*size+1 .. n*size ([feeds]
    archive_page_size). Pages by place, not by period of first-seen time: every page is the
    same size whatever the rate of stories, a page closes by count (no clock in the decision),
    and a story classified into a topic late (a rule change) joins the open page instead of
    reopening an old one. The newest page, not yet full, is open: it is not an archive
    document (RFC 5005 wants an archive's stories fixed), so its stories are all in the feed
    itself (feed_specs), which links (prev-archive) to the newest closed page.

    A closed page is written again only when one of its stories is retracted, brought back,
    revised or changes topic (marked stale in the store), once more when the page after it
    closes (it gains its next-archive link), and when its inputs change (the page size, the
    site, the feeds' titles, the templates: every page). A publish that adds stories writes the
    page it closes, if any, and its predecessor; no other archive file. A page whose stories
    all left keeps its place (empty) so that the pages around it keep their links."""
    with _output(config, report, out, store) as out:
        _write_archives(store, config, specs, report, stop, out)


def _write_archives(store: Store, config: Config, specs: list[FeedSpec], report: PublishReport,
                    stop: Stop | None, out: Output) -> None:
    site = site_info(config)
    size = config.archive_page_size
    inputs = (f"{ARCHIVE_FORMAT}|{size}|{html.templates_digest()}|{site}|"
              f"{[(s.slug, s.title, s.subtitle, s.author, s.feed_id, s.label) for s in specs]}|{specs[0].topics}")
    digest = hashlib.sha256(inputs.encode()).hexdigest()
    resized = store.meta("archives_digest") != digest
    if resized:
        with store.transaction():
            store.all_archives_stale()
            store.set_meta("archives_digest", digest)
    known = store.archive_feeds()
    for spec in specs:
        key = archive_key(None if spec.slug == config.merged.slug else spec.slug)
        members, closed_before = known.get(key, (0, 0))
        closed = members // size
        pages = set(store.stale_archive_pages(key, size, closed))
        for n in range(closed_before + 1, closed + 1):  # newly closed: it, and the one before gains next-archive
            pages.update(p for p in (n, n - 1) if p >= 1)
        complete = True
        for n in sorted(pages, reverse=True):  # newest first: no page links to one not written yet
            if _stopped(stop, report):
                return
            out.changed.append(f"/{spec.slug}/archive/{n}/")
            if _write_archive_page(store, config, site, spec, specs, key, n, report, out):
                out.archives.append((key, (n - 1) * size + 1, n * size))
            else:
                complete = False
        if resized:
            _remove_pages_past(config.paths.feeds / spec.slug / "archive", closed, report, out, spec.slug)
        # (the closed count moves only once every page it closed, and the one before each, is
        # written: Output.finish marks both after the sync)
        if complete and closed != closed_before:
            out.closed.append((key, closed))


def _write_archive_page(store: Store, config: Config, site: html.SiteInfo, spec: FeedSpec, specs: list[FeedSpec],
                        key: str, n: int, report: PublishReport, out: Output) -> bool:
    size = config.archive_page_size
    items, changed = store.archive_entries(key, (n - 1) * size + 1, n * size)
    page = replace(spec, entries=tuple(items), archive=n, hub=None, total=len(items),
                   updated=max([e.updated for e in items] + [changed or store.created_at]))
    directory = config.paths.feeds / spec.slug / "archive" / str(n)
    try:
        atom, rss = render(page)
        files = [(FeedFormat.ATOM.filename, atom), (FeedFormat.RSS.filename, rss),
                 (FeedFormat.JSON.filename, render_json(page)), ("index.html", html.archive_page(site, page, specs))]
    except Exception as exc:  # a bug; the page stays as it was, marked for the next run
        report.errors.append(f"{directory}: cannot render: {type(exc).__name__}: {exc}")
        return False
    ok = True
    for filename, data in files:
        path = directory / filename
        if filename.endswith(".html"):
            report.pages += 1
        else:
            report.feed_files += 1
        try:
            if out.write(path, data):
                if filename.endswith(".html"):
                    report.pages_written += 1
                else:
                    report.feed_files_written.append(path)
        except OSError as exc:
            report.errors.append(f"{path}: cannot write: {exc.strerror or exc}")
            ok = False
    return ok


def _remove_pages_past(directory: Path, closed: int, report: PublishReport, out: Output, slug: str) -> None:
    """After a change of page size: the archive pages numbered past the closed ones are gone."""
    try:
        names = [d.name for d in directory.iterdir() if d.name.isdigit() and int(d.name) > closed]
    except FileNotFoundError:
        return
    except OSError as exc:
        report.errors.append(f"{directory}: cannot list: {exc.strerror or exc}")
        return
    for name in names:
        out.changed.append(f"/{slug}/archive/{name}/")
        out.wrote = True
        try:
            for path in (directory / name).iterdir():
                path.unlink()
            (directory / name).rmdir()
        except OSError as exc:
            report.errors.append(f"{directory / name}: cannot remove: {exc.strerror or exc}")


def write_feed_pages(config: Config, pages: list[FeedSpec], specs: list[FeedSpec], report: PublishReport,
                     out: Output | None = None) -> None:
    """feeds/<slug>/index.html: the HTML page of each feed in `pages` (`specs`: every feed,
    for the navigation)."""
    with _output(config, report, out) as out:
        site = site_info(config)
        for spec in pages:
            try:
                files = [("index.html", html.feed_page(site, spec, specs))]
            except Exception as exc:  # a bug; the page stays as it was, the others are written
                report.errors.append(f"{config.paths.feeds / spec.slug / 'index.html'}: cannot render: "
                                     f"{type(exc).__name__}: {exc}")
                continue
            _write_files(config.paths.feeds / spec.slug, files, report, out)


def write_site(config: Config, specs: list[FeedSpec], report: PublishReport, out: Output | None = None) -> None:
    """The OPML list of every feed, then the front page (which links to it)."""
    with _output(config, report, out) as out:
        site = site_info(config)
        files = [("feeds.opml", render_opml(config.site.title, config.site.author, specs)),
                 ("index.html", html.index_page(site, specs))]
        _write_files(config.paths.feeds, files, report, out)


def _write_files(directory: Path, files: list[tuple[str, bytes]], report: PublishReport, out: Output) -> None:
    for filename, data in files:
        path = directory / filename
        page = filename.endswith(".html")
        if page:
            report.pages += 1
        else:
            report.feed_files += 1
        try:
            if out.write(path, data):
                if page:
                    report.pages_written += 1
                else:
                    report.feed_files_written.append(path)
        except OSError as exc:
            report.errors.append(f"{path}: cannot write: {exc.strerror or exc}")


def _sync(sync: Callable[[Path], None], directory: Path, failure: str, report: PublishReport) -> bool:
    """Make what was written under `directory` durable; False (and an error line) if it failed."""
    try:
        sync(directory)
    except OSError as exc:
        report.errors.append(f"{directory}: {failure}: {exc.strerror or exc}")
        return False
    return True


def write_pages(store: Store, config: Config, specs: list[FeedSpec], report: PublishReport,
                stop: Stop | None = None, out: Output | None = None) -> None:
    """feeds/stories/<name>.html for every story in a topic whose page changed since it was
    last written (store.stale_pages). A story never in a topic has no page, and is never marked
    stale (Store._page_changed), so it costs nothing here; one that left every topic keeps its
    page (saying so: its permalink never breaks). A retracted story's page (which says so,
    without its text) is feeds/stories/retracted/<name>.html instead: the servers answer its
    permalink with it and 410 Gone. Pages are marked written only after the publish's one sync
    (Output.finish), so a crash makes the next run write them again."""
    with _output(config, report, out, store) as out:
        _write_pages(store, config, specs, report, stop, out)


def _write_pages(store: Store, config: Config, specs: list[FeedSpec], report: PublishReport,
                 stop: Stop | None, out: Output) -> None:
    site = site_info(config)
    inputs = f"{html.templates_digest()}|{site}|{[(s.slug, s.label) for s in specs]}"
    if config.limits.versions_per_story != Limits().versions_per_story:  # (the default: the digest as it was)
        inputs += f"|versions {config.limits.versions_per_story}"
    digest = hashlib.sha256(inputs.encode()).hexdigest()
    if store.meta("pages_digest") != digest:  # new templates, another site title or topics
        with store.transaction():
            store.all_pages_stale()
            store.set_meta("pages_digest", digest)
    directory = config.paths.feeds / "stories"
    after = 0
    while not _stopped(stop, report):
        batch = store.stale_pages(PAGES_PER_BATCH, after)
        if not batch:
            return
        after = batch[-1]
        for entry in batch:
            page = entries.story_page(store.page_history(entry, entries.SHOWN, config.limits.versions_per_story),
                                      store.topics_of(entry))
            live, gone = directory / f"{page.name}.html", directory / RETRACTED / f"{page.name}.html"
            path, other = (gone, live) if page.entry is None else (live, gone)
            out.changed.append(f"/stories/{page.name}.html")  # (the server looks at both)
            try:
                if page.topics or store.ever_in_a_topic(entry):
                    report.pages += 1
                    try:
                        data = html.story_page(site, page, specs)
                    except Exception as exc:  # a bug: this page stays as it was, marked for the next run
                        report.errors.append(f"{path}: cannot render: {type(exc).__name__}: {exc}")
                        continue
                    if out.write(path, data):
                        report.pages_written += 1
                    _remove(other, out)  # (after: the permalink always answers)
                else:  # never in a topic: never published (a store from before 0015 may mark one)
                    _remove(path, out)
                    _remove(other, out)
                out.pages.append(entry)
            except OSError as exc:
                report.errors.append(f"{path}: cannot write: {exc.strerror or exc}")


def _remove(path: Path, out: Output) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        return
    out.wrote = True
