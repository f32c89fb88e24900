"""Use cases: `publisher add URL_OR_FILE` and `publisher remove URL_OR_FILE`.

A URL is fetched once (sources/fetch.py: bounded time and size, its redirects checked): a feed
goes into config.toml (a running service reloads it); an HTML page offers the feeds it links
to (`<link rel="alternate">`; the first is added with `yes`), each passing the address checks
of subscribe.py; anything else is refused with the reason. A file is copied into sources/ under
its own name, atomically, so the watcher reads it whole. `remove` undoes either: the config
entry goes (the rest of config.toml, comments included, stays), or the file added to sources/;
what was published stays (`publisher retract` takes a story out)."""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from publisher import atomic, subscribe
from publisher.config import Config, add_feed, http_url_problem, remove_feed
from publisher.errors import ConfigError, PublisherError
from publisher.sources import feed, fetch, kind_of, kinds

EXIT_REFUSED, EXIT_USAGE, EXIT_OFFERED = 1, 2, 3
ADD_DEADLINE = 30.0  # seconds for the one fetch of `add URL`


class AddError(PublisherError):
    """The source cannot be added (or removed); `code` is the exit status: 2 a usage error,
    1 refused or a failed write, 3 an HTML page that offers feeds and none was added."""

    def __init__(self, message: str, usage: bool = True, code: int | None = None, lines: tuple[str, ...] = ()):
        super().__init__(message)
        self.usage = usage
        self.code = code if code is not None else (EXIT_USAGE if usage else EXIT_REFUSED)
        self.lines = lines  # shown on stdout before the message (the feeds offered)


@dataclass(frozen=True, slots=True)
class Added:
    message: str


def is_url(source: str) -> bool:
    return re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", source) is not None


def add(config: Config, source: str, *, title: str | None = None, interval: float | None = None,
        yes: bool = False) -> Added:
    if is_url(source):
        return _add_url(config, source, title, interval, yes)
    path = Path(source)
    if not os.path.lexists(path):  # most likely a URL without its scheme, or a typo
        raise AddError(f"{source}: not a URL, and no such file; add takes a feed or page URL such as "
                       f"https://example.com/feed.xml, or a file to copy into sources/")
    if title or interval:
        raise AddError("--title and --interval are for feed URLs")
    try:
        data = atomic.read_regular(path, config.limits.bytes_per_file + 1, follow=True)
    except OSError as exc:
        raise AddError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(data) > config.limits.bytes_per_file:
        raise AddError(f"{path}: too large (more than {config.limits.bytes_per_file:,} bytes: limits.bytes_per_file)")
    sources = config.paths.sources
    target = sources / path.name
    if target.exists():
        if target.is_file() and target.read_bytes() == data:
            return Added(f"{path.name} is already in {sources}")
        raise AddError(f"{target}: a different file of that name is already there; rename yours")
    try:
        atomic.write(target, data)
    except OSError as exc:
        raise AddError(f"{target}: cannot write: {exc.strerror or exc}", usage=False) from None
    return Added(f"copied {path.name} into {sources} ({kind_of(path.name, data)}); a running `publisher run` reads "
                 f"it at once, or run `publisher publish`")


def _refused(url: str, why: str, lines: tuple[str, ...] = ()) -> AddError:
    return AddError(f"{url}: not added: {why}", usage=False, lines=lines)


def _added(config: Config, url: str, what: str, title: str | None, interval: float | None) -> Added:
    new = add_feed(config.path, url, title=title, interval_seconds=interval)
    return Added(f"added {url} ({what}) to {config.path} ({len(new.feed_sources)} feeds); a running "
                 f"`publisher run` polls it within seconds, or run `publisher publish`")


def _add_url(config: Config, url: str, title: str | None, interval: float | None, yes: bool) -> Added:
    # about the URL given (a usage error, exit 2), before anything is fetched or written
    why = http_url_problem(url)
    if why is None and any(f.url == url for f in config.feed_sources):
        why = f"it is already a source in {config.path}"
    if why is not None:
        raise AddError(f"{url}: not added: {why}")
    if subscribe.ours(config, url):
        raise _refused(url, f"it is under our own base_url {config.site.base_url} (we would read our own feeds)")
    limits = fetch.Limits(concurrency=1, per_host=1, deadline=ADD_DEADLINE,
                          max_bytes=min(fetch.MAX_BYTES, config.limits.bytes_per_file))
    (got,) = fetch.fetch_all([fetch.FetchRequest(url)], limits)
    if got.error is not None:
        raise _refused(url, got.error)
    body, where = got.body or b"", got.final_url or url
    kind = kinds.sniff(urlsplit(where).path, body)
    if kind == kinds.Kind.FEED:
        parsed = feed.parse(body, url=where, headers=got.headers, limits=config.limits)
        result = parsed.result
        if result.skipped and result.skipped != "no entries with text":
            why = result.skipped  # "not a feed: ...", "not valid JSON (...)": said once
            raise _refused(url, why if why.startswith(("not ", "JSON")) else f"not a feed we can read: {why}")
        n = len(result.stories)
        return _added(config, url, f"“{parsed.title}”, {n} {'entry' if n == 1 else 'entries'} with text now",
                      title, interval)
    if kind == kinds.Kind.HTML:
        return _discovered(config, url, where, body, title, interval, yes)
    if kind == kinds.Kind.OPML:
        raise _refused(url, "an OPML subscription list, not a feed (save it into sources/ to subscribe to its "
                            "feeds)")
    what = kinds.skip_reason(kind, body) if kind == kinds.Kind.MARKUP else "plain text or data, not a feed"
    ctype = got.headers.get("content-type")
    raise _refused(url, what + (f" (Content-Type: {ctype[:100]})" if ctype else ""))


def _discovered(config: Config, url: str, where: str, page: bytes, title: str | None, interval: float | None,
                yes: bool) -> Added:
    found = kinds.alternates(page, where)
    if not found:
        raise _refused(url, 'an HTML page that links to no feed (no <link rel="alternate"> of type '
                            f'{", ".join(kinds.FEED_TYPES)})')
    known = {f.url for f in config.feed_sources}
    trusted = subscribe.trusted_origins(config) | {fetch.origin(url)}
    checks = subscribe.problems([u for u, _, _ in found], trusted)
    offered, lines = [], []
    for (alt, kind, alt_title), problem in zip(found, checks):
        label = f"{kind}{f', “{alt_title}”' if alt_title else ''}"
        why = ("already a source" if alt in known else
               f"under our own base_url {config.site.base_url}" if subscribe.ours(config, alt) else problem)
        lines.append(f"  {alt}  ({label}){f'  not offered: {why}' if why else ''}")
        if not why:
            offered.append(alt)
    head = f"{url} is an HTML page linking to {len(found)} {'feed' if len(found) == 1 else 'feeds'}:"
    if not offered:
        raise _refused(url, "an HTML page whose feeds cannot be added (see above)", lines=(head, *lines))
    if yes:
        return _added(config, offered[0], f"the first feed {url} links to", title, interval)
    raise AddError(f"{url}: nothing added: an HTML page; add one of its feeds with `publisher add FEED_URL`, "
                   f"or the first with --yes", usage=False, code=EXIT_OFFERED, lines=(head, *lines))


# -- remove ------------------------------------------------------------------------------------

def remove(config: Config, source: str) -> Added:
    if is_url(source):
        try:
            new = remove_feed(config.path, source)
        except ConfigError as exc:
            raise AddError(str(exc)) from None
        return Added(f"removed {source} from {config.path} ({len(new.feed_sources)} feeds left); what it gave "
                     f"stays published (`publisher retract ID` takes a story out)")
    target = _added_file(config, Path(source))
    try:
        os.unlink(target)
    except OSError as exc:
        raise AddError(f"{target}: cannot remove: {exc.strerror or exc}", usage=False) from None
    return Added(f"removed {target.name} from {config.paths.sources}; its stories stay published "
                 f"(`publisher retract ID` takes a story out)")


def _added_file(config: Config, path: Path) -> Path:
    """The file in sources/ that `path` names: a path in sources/, a name there, or the file
    `add` copied from (the same name and the same bytes)."""
    root = config.paths.sources
    inside = [p for p in (path, root / path) if _under(p, root) and os.path.lexists(p)]
    if inside:
        target = inside[0]
        try:
            mode = os.lstat(target).st_mode
        except OSError as exc:
            raise AddError(f"{target}: cannot remove: {exc.strerror or exc}", usage=False) from None
        if stat.S_ISDIR(mode):
            raise AddError(f"{target}: a directory; remove names one file")
        return target
    copy = root / path.name
    if path.is_file() and copy.is_file() and not copy.is_symlink():
        try:
            same = copy.read_bytes() == path.read_bytes()
        except OSError as exc:
            raise AddError(f"{path}: cannot read: {exc.strerror or exc}") from None
        if same:
            return copy
        raise AddError(f"{copy} is not the file {path} (their bytes differ): nothing removed")
    raise AddError(f"{path}: neither a file in {root} nor a feed URL of {config.path}: nothing removed")


def _under(path: Path, root: Path) -> bool:
    here = Path(os.path.abspath(path))
    for r in {Path(os.path.abspath(root)), root.resolve()}:
        if here != r and r in here.parents:
            return True
    return False
