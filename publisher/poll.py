"""When to fetch a feed again: pure functions of `now`, the response and the history.

Polite by default: a feed is not fetched again before its interval, nor before its own
Cache-Control max-age / Expires / RSS ttl allow; a feed that fails backs off exponentially
(capped at a day) and is never dropped; a 429 or 503 with Retry-After waits at least that long.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

MAX_BACKOFF_SECONDS = 86400.0  # a failing feed is tried at least once a day, forever
MAX_FRESH_SECONDS = 7 * 86400.0  # a feed's own max-age/ttl is honoured up to a week
_MAX_AGE = re.compile(r"(?:^|,)\s*(?:s-maxage|max-age)\s*=\s*\"?(\d+)", re.IGNORECASE)


def _http_date(value: str) -> datetime | None:
    try:
        dt = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return dt if dt.tzinfo else None


def freshness(headers: Mapping[str, str], now: datetime, ttl_minutes: int | None = None) -> float:
    """Seconds the feed says it stays fresh: Cache-Control max-age, else Expires, and the RSS
    ttl; the longest of them (0 when it says nothing, or says no-cache/no-store)."""
    h = {k.lower(): v for k, v in headers.items()}
    seconds = 0.0
    cache_control = h.get("cache-control", "")
    if not re.search(r"no-cache|no-store", cache_control, re.IGNORECASE):
        m = _MAX_AGE.search(cache_control)
        if m:
            seconds = float(m.group(1))
        elif "expires" in h:
            expires = _http_date(h["expires"])
            base = _http_date(h.get("date", "")) or now
            if expires is not None:
                seconds = max(0.0, (expires - base).total_seconds())
    if ttl_minutes and ttl_minutes > 0:
        seconds = max(seconds, ttl_minutes * 60.0)
    return min(seconds, MAX_FRESH_SECONDS)


def retry_after(headers: Mapping[str, str], now: datetime) -> float | None:
    """Retry-After in seconds (delta-seconds or an HTTP date), or None."""
    value = {k.lower(): v for k, v in headers.items()}.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    when = _http_date(value)
    return max(0.0, (when - now).total_seconds()) if when else None


def after_success(now: datetime, interval: float, headers: Mapping[str, str],
                  ttl_minutes: int | None = None) -> datetime:
    """A fetch that worked (200 or 304): next time after the interval or the feed's own
    freshness, whichever is longer."""
    return now + timedelta(seconds=max(interval, freshness(headers, now, ttl_minutes)))


def after_failure(now: datetime, interval: float, errors: int, headers: Mapping[str, str] | None = None) -> datetime:
    """`errors` failures in a row (this one included): interval x 2^(errors-1), capped at a
    day; a Retry-After (429, 503) is waited out at least."""
    delay = min(interval * 2 ** max(0, errors - 1), MAX_BACKOFF_SECONDS)
    wait = retry_after(headers or {}, now)
    if wait is not None:
        delay = max(delay, min(wait, MAX_BACKOFF_SECONDS))
    return now + timedelta(seconds=delay)


def is_due(next_fetch: datetime | None, now: datetime) -> bool:
    return next_fetch is None or next_fetch <= now
