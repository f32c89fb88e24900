"""Use case: subscriptions that the operator did not type one by one: the feeds of an OPML file
dropped into sources/, and the feeds an HTML page links to (`publisher add URL`).

Every such URL passes the checks a redirect of a polled feed passes (sources/fetch.py): its
host must resolve to public addresses only, unless its host and port are those of a feed URL
already in config.toml (the operator's choice, e.g. a test server on 127.0.0.1) or of the URL
the operator typed. A URL under our own [site] base_url is never subscribed to (our own
feeds.opml would subscribe us to ourselves).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

from publisher.config import Config, FeedSource, add_feeds, load
from publisher.model import ReadResult
from publisher.sources import fetch, kinds

CHECKS_AT_ONCE = 16  # host names resolved at once


def trusted_origins(config: Config) -> set[tuple[str, int]]:
    """The hosts and ports of the configured feed URLs: chosen by the operator."""
    return {fetch.origin(f.url) for f in config.feed_sources}


def ours(config: Config, url: str) -> bool:
    """True for a URL under our own base_url (our own feeds and pages)."""
    base = config.site.base_url
    try:
        if fetch.origin(url) != fetch.origin(base):
            return False
    except ValueError:
        return False
    return (urlsplit(url).path or "/").startswith(urlsplit(base).path or "/")


def problems(urls: list[str], trusted: set[tuple[str, int]]) -> list[str | None]:
    """fetch.address_problem of each URL (checked concurrently), in order."""
    if not urls:
        return []
    with ThreadPoolExecutor(max_workers=min(CHECKS_AT_ONCE, len(urls))) as pool:
        return list(pool.map(lambda u: fetch.address_problem(u, trusted), urls))


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def opml(config: Config, data: bytes) -> ReadResult:
    """Subscribe to the feeds an OPML file lists (those not yet in config.toml, not ours, and
    at an address allowed): config.toml gets them in one write. The result gives no stories;
    its reason says what was done, in one line. Raises ConfigError when config.toml cannot be
    written (the file is then a failed source: tried again on the next run)."""
    found, error = kinds.outlines(data)
    if error:
        return ReadResult(skipped=f"an OPML subscription list, unreadable: {error}")
    current = load(config.path)  # as it is now: the file may have changed since this run began
    known = {f.url for f in current.feed_sources}
    warnings: tuple[str, ...] = ()
    cap = config.limits.entries_per_feed
    if len(found) > cap:
        warnings = (f"{len(found):,} outlines; the first {cap:,} read (limits.entries_per_feed)",)
        found = found[:cap]
    own = [o for o in found if ours(config, o.url)]
    already = [o for o in found if o.url in known and o not in own]
    rest = [o for o in found if o not in own and o.url not in known]
    checked = problems([o.url for o in rest], trusted_origins(current))
    refused = [(o, why) for o, why in zip(rest, checked) if why]
    new = [o for o, why in zip(rest, checked) if not why]
    if new:
        add_feeds(config.path, [FeedSource(o.url, o.title) for o in new])
    parts = [f"{_count(len(new), 'feed')} subscribed to" + (f" (added to {config.path.name})" if new else "")]
    if already:
        parts.append(f"{len(already):,} already subscribed")
    if own:
        parts.append(f"{len(own):,} under our own base_url {config.site.base_url}")
    if refused:
        o, why = refused[0]
        more = f" and {len(refused) - 1:,} more" if len(refused) > 1 else ""
        parts.append(f"{len(refused):,} refused ({o.url}: {why}{more})")
    return ReadResult(skipped=f"an OPML subscription list of {_count(len(found), 'feed')}: " + ", ".join(parts),
                      warnings=warnings)
