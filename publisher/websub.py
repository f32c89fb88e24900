"""WebSub: tell a hub that feeds changed, so subscribers get them at once instead of polling.

One `hub.mode=publish` POST per changed feed URL, with a timeout. A hub that fails is a line in
the log, never a failed publish: the feeds are already written when the hub is told.
"""

from __future__ import annotations

import httpx

from publisher import __version__
from publisher.model import FeedFormat

TIMEOUT_SECONDS = 10.0
USER_AGENT = f"publisher/{__version__} (WebSub publisher)"


def notify(hub: str, urls: list[str], *, timeout: float = TIMEOUT_SECONDS) -> list[str]:
    """Ping `hub` for each URL; returns one line per failure (empty when all were accepted)."""
    errors = []
    if not urls:
        return errors
    with httpx.Client(timeout=timeout, headers={"User-Agent": USER_AGENT}, follow_redirects=False) as client:
        for url in urls:
            try:
                response = client.post(hub, data={"hub.mode": "publish", "hub.url": url})
            except httpx.HTTPError as exc:
                errors.append(f"{hub}: WebSub ping for {url} failed: {type(exc).__name__}: {exc or 'no detail'}")
                continue
            if not 200 <= response.status_code < 300:
                errors.append(f"{hub}: WebSub ping for {url} refused: HTTP {response.status_code}")
    return errors


def changed_urls(base_url: str, feeds_dir, written) -> list[str]:
    """The public URLs of the feed files a publish wrote (paths under `feeds_dir`)."""
    urls = []
    for path in written:
        try:
            relative = path.relative_to(feeds_dir).as_posix()
        except ValueError:
            continue
        if relative.endswith(tuple(FeedFormat)):
            urls.append(base_url + relative)
    return urls
