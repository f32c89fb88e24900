"""Use case: store -> feeds -> files. Render every output (each feed in every format, the story
pages, each feed's HTML page, the OPML, the front page) and write the files whose bytes changed;
and the site's icons (model.Icon, shipped in publisher/data/icons/), which they all link to.

A file that cannot be rendered or written is one error line; the others are still written.
Every file goes through publisher.atomic (temp file, rename), so nothing is ever half-written.
The feeds are written first and the front page last (write_all), so a publish stopped or
killed part way never leaves a page offering a feed that does not exist yet.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from publisher import atomic, entries, faults
from publisher.config import Config
from publisher.model import FeedFormat, FeedSpec, Icon, Limits
from publisher.render import html
from publisher.render.feeds import render
from publisher.render.jsonfeed import render_json
from publisher.render.opml import render_opml
from publisher.report import PublishReport
from publisher.store import Store

PAGES_PER_BATCH = 500
Stop = Callable[[], bool]


def write_all(store: Store, config: Config, report: PublishReport, stop: Stop | None = None) -> None:
    """Every output, from what the store holds now: the icons and the feeds (Atom, RSS, JSON
    Feed) first, then the story pages, the feeds' pages (which offer the feeds), the OPML and last the
    front page (which links to all of them). When `stop`
    says so (or an earlier step stopped), no later step runs: the next run writes the rest,
    and meanwhile no page links to a feed that was never written (on a first publish, the
    front page does not exist until everything it lists does)."""
    specs = feed_specs(store, config)
    write_icons(config, report)
    failed = write_feeds(config, specs, report, stop=stop)
    write_pages(store, config, specs, report, stop=stop)
    if not _stopped(stop, report):
        write_feed_pages(config, [s for s in specs if s.slug not in failed], specs, report)
    if not _stopped(stop, report):
        write_site(config, specs, report)


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
    specs = []
    for slug, title, subtitle in feeds:
        topic = None if slug == config.merged.slug else slug
        total = counts.get(slug, 0) if topic else store.count_in_any_topic()
        items = tuple(store.feed_entries(topic, config.max_entries))
        # The feed changed when its newest entry did, or when one of its entries was retracted.
        changes = [e.updated for e in items] + [store.latest_retraction(topic) or store.created_at]
        specs.append(FeedSpec(slug=slug, title=f"{site.title}: {title}", feed_id=f"tag:{site.id_authority}:feed/{slug}",
                              base_url=site.base_url, author=site.author, language=site.language,
                              subtitle=subtitle, updated=max(changes), entries=items, hub=config.service.hub,
                              total=total, label=title, topics=tuple((t.slug, t.title) for t in config.topics)))
    return specs


def site_info(config: Config) -> html.SiteInfo:
    s = config.site
    return html.SiteInfo(title=s.title, description=s.description, base_url=s.base_url, language=s.language)


@functools.cache
def icon_files() -> list[tuple[str, bytes]]:
    """(file name, bytes) of each icon, as shipped."""
    shipped = resources.files("publisher") / "data" / "icons"
    return [(icon.filename, (shipped / icon.filename).read_bytes()) for icon in Icon]


def write_icons(config: Config, report: PublishReport) -> None:
    """feeds/icon.svg, favicon.ico and the PNGs: what the feeds and pages name as their icons
    and logo. (Neither feed files nor pages: not counted in the report; the same bytes every
    run, so written once.)"""
    directory = config.paths.feeds
    written = False
    for filename, data in icon_files():
        try:
            written |= atomic.write_if_changed(directory / filename, data)
        except OSError as exc:
            report.errors.append(f"{directory / filename}: cannot write: {exc.strerror or exc}")
    if written:
        _sync(atomic.fsync_dir, directory, "cannot sync directory", report)


def write_feeds(config: Config, specs: list[FeedSpec], report: PublishReport, stop: Stop | None = None) -> set[str]:
    """Each feed in every format, in feeds/<slug>/. Returns the slugs of the feeds that could
    not be rendered (their pages are not written either: they would offer those feeds)."""
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
        _write_files(config.paths.feeds / spec.slug, files, report)
    return failed


def write_feed_pages(config: Config, pages: list[FeedSpec], specs: list[FeedSpec], report: PublishReport) -> None:
    """feeds/<slug>/index.html: the HTML page of each feed in `pages` (`specs`: every feed,
    for the navigation)."""
    site = site_info(config)
    for spec in pages:
        try:
            files = [("index.html", html.feed_page(site, spec, specs))]
        except Exception as exc:  # a bug; the page stays as it was, the others are written
            report.errors.append(f"{config.paths.feeds / spec.slug / 'index.html'}: cannot render: "
                                 f"{type(exc).__name__}: {exc}")
            continue
        _write_files(config.paths.feeds / spec.slug, files, report)


def write_site(config: Config, specs: list[FeedSpec], report: PublishReport) -> None:
    """The OPML list of every feed, then the front page (which links to it)."""
    site = site_info(config)
    files = [("feeds.opml", render_opml(config.site.title, config.site.author, specs)),
             ("index.html", html.index_page(site, specs))]
    _write_files(config.paths.feeds, files, report)


def _write_files(directory: Path, files: list[tuple[str, bytes]], report: PublishReport) -> None:
    written = False
    for filename, data in files:
        path = directory / filename
        page = filename.endswith(".html")
        if page:
            report.pages += 1
        else:
            report.feed_files += 1
        try:
            if atomic.write_if_changed(path, data):
                if page:
                    report.pages_written += 1
                else:
                    report.feed_files_written.append(path)
                written = True
        except OSError as exc:
            report.errors.append(f"{path}: cannot write: {exc.strerror or exc}")
    if written:
        _sync(atomic.fsync_dir, directory, "cannot sync directory", report)


def _sync(sync: Callable[[Path], None], directory: Path, failure: str, report: PublishReport) -> bool:
    """Make what was written under `directory` durable; False (and an error line) if it failed."""
    try:
        sync(directory)
    except OSError as exc:
        report.errors.append(f"{directory}: {failure}: {exc.strerror or exc}")
        return False
    return True


def write_pages(store: Store, config: Config, specs: list[FeedSpec], report: PublishReport,
                stop: Stop | None = None) -> None:
    """feeds/stories/<name>.html for every story in a topic whose page changed since it was
    last written (store.stale_pages); a story in no topic has no page. Pages are synced per
    batch (one syncfs, not an fsync per page) and only then marked written, so a crash makes
    the next run write them again."""
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
    failed: set[int] = set()
    while True:
        if _stopped(stop, report):
            return
        batch = [e for e in store.stale_pages(PAGES_PER_BATCH + len(failed)) if e not in failed]
        if not batch:
            return
        done = []
        wrote = False
        for entry in batch:
            page = entries.story_page(store.page_history(entry, entries.SHOWN, config.limits.versions_per_story),
                                      store.topics_of(entry))
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
                    if atomic.write_if_changed(path, data, sync=False):
                        report.pages_written += 1
                        wrote = True
                else:  # in no topic (never was, or not any more): not published
                    path.unlink(missing_ok=True)
                done.append(entry)
            except OSError as exc:
                failed.add(entry)
                report.errors.append(f"{path}: cannot write: {exc.strerror or exc}")
        if wrote and not _sync(atomic.sync_filesystem, directory, "cannot sync", report):
            return
        faults.point("pages.written")
        if done:
            with store.transaction():
                store.pages_written(done)
