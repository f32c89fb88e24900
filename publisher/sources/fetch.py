"""Fetching feeds over HTTP with httpx: the network edge of the aggregator.

Concurrent (a bound in all and a smaller one per host), conditional (the stored ETag and
Last-Modified: a 304 costs no download and no parsing), bounded (connect/read timeouts, a
deadline per fetch, a size limit, a redirect limit), and identified (a User-Agent with the
product and version). Every failure is a FetchResult with a one-line reason, never an
exception.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import urlsplit

import httpx

from publisher import __version__

USER_AGENT = f"publisher/{__version__} (feed aggregator; +https://github.com/publisher/publisher)"
ACCEPT = ("application/atom+xml, application/rss+xml, application/feed+json, application/json;q=0.9, "
          "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5")
MAX_BYTES = 16 * 1024 * 1024  # a feed bigger than this (after decompression) is refused
CONCURRENCY = 32  # fetches at once
PER_HOST = 4  # ... of which on one host
CONNECT_TIMEOUT, READ_TIMEOUT = 10.0, 20.0
DEADLINE = 60.0  # a whole fetch, however the server dribbles
MAX_REDIRECTS = 5


@dataclass(frozen=True, slots=True)
class FetchRequest:
    url: str
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True, slots=True)
class FetchResult:
    url: str  # as requested
    status: int | None  # None: no HTTP answer (timeout, DNS, refused ...)
    body: bytes | None = None  # a 200's bytes (decompressed)
    headers: dict[str, str] = field(default_factory=dict)
    final_url: str | None = None  # after redirects
    error: str | None = None  # one line, when it failed
    seconds: float = 0.0

    @property
    def not_modified(self) -> bool:
        return self.status == 304 and self.error is None


@dataclass(frozen=True, slots=True)
class Limits:
    concurrency: int = CONCURRENCY
    per_host: int = PER_HOST
    connect_timeout: float = CONNECT_TIMEOUT
    read_timeout: float = READ_TIMEOUT
    deadline: float = DEADLINE
    max_bytes: int = MAX_BYTES
    max_redirects: int = MAX_REDIRECTS


def fetch_all(requests: Sequence[FetchRequest], limits: Limits = Limits()) -> list[FetchResult]:
    """Fetch every request (in its own event loop: call from a plain thread); results in order."""
    if not requests:
        return []
    return asyncio.run(_fetch_all(list(requests), limits))


async def _fetch_all(requests: list[FetchRequest], limits: Limits) -> list[FetchResult]:
    everything = asyncio.Semaphore(limits.concurrency)
    hosts: dict[str, asyncio.Semaphore] = {}
    timeout = httpx.Timeout(connect=limits.connect_timeout, read=limits.read_timeout, write=limits.read_timeout,
                            pool=None)
    async with httpx.AsyncClient(timeout=timeout, follow_redirects=True, max_redirects=limits.max_redirects,
                                 headers={"User-Agent": USER_AGENT, "Accept": ACCEPT},
                                 limits=httpx.Limits(max_connections=limits.concurrency,
                                                     max_keepalive_connections=limits.concurrency)) as client:
        async def one(request: FetchRequest) -> FetchResult:
            host = urlsplit(request.url).hostname or ""
            per_host = hosts.setdefault(host, asyncio.Semaphore(limits.per_host))
            async with everything, per_host:
                start = time.monotonic()
                try:
                    result = await asyncio.wait_for(_fetch(client, request, limits), limits.deadline)
                except TimeoutError:
                    result = FetchResult(request.url, None, error=f"no complete answer within {limits.deadline:g} s")
                return _timed(result, time.monotonic() - start)

        return list(await asyncio.gather(*(one(r) for r in requests)))


def _timed(result: FetchResult, seconds: float) -> FetchResult:
    return FetchResult(result.url, result.status, result.body, result.headers, result.final_url, result.error,
                       round(seconds, 3))


async def _fetch(client: httpx.AsyncClient, request: FetchRequest, limits: Limits) -> FetchResult:
    headers = {}
    if request.etag:
        headers["If-None-Match"] = request.etag
    if request.last_modified:
        headers["If-Modified-Since"] = request.last_modified
    url = request.url
    try:
        async with client.stream("GET", url, headers=headers) as response:
            kept = {k.lower(): v for k, v in response.headers.items()
                    if k.lower() in ("etag", "last-modified", "cache-control", "expires", "date", "retry-after",
                                     "content-type", "content-location", "content-language")}
            final = str(response.url)
            if response.status_code != 200:
                # Read what little body there is (none for a 304), so the connection can be
                # reused: an unread response closes it, and every poll would reconnect.
                size = 0
                async for chunk in response.aiter_raw():
                    size += len(chunk)
                    if size > 65536:
                        break
            if response.status_code == 304:
                return FetchResult(url, 304, headers=kept, final_url=final)
            if response.status_code != 200:
                try:  # the standard phrase: servers write theirs in all sorts of ways
                    reason = HTTPStatus(response.status_code).phrase
                except ValueError:
                    reason = response.reason_phrase or ""
                return FetchResult(url, response.status_code, headers=kept, final_url=final,
                                   error=f"HTTP {response.status_code}{' ' + reason if reason else ''}")
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limits.max_bytes and \
                    not response.headers.get("content-encoding"):
                return FetchResult(url, 200, headers=kept, final_url=final,
                                   error=f"too big ({int(declared):,} bytes; the limit is {limits.max_bytes:,})")
            chunks, size = [], 0
            async for chunk in response.aiter_bytes():  # decompressed: a gzip bomb stops here too
                size += len(chunk)
                if size > limits.max_bytes:
                    return FetchResult(url, 200, headers=kept, final_url=final,
                                       error=f"too big (more than {limits.max_bytes:,} bytes)")
                chunks.append(chunk)
            return FetchResult(url, 200, body=b"".join(chunks), headers=kept, final_url=final)
    except httpx.TooManyRedirects:
        return FetchResult(url, None, error=f"more than {limits.max_redirects} redirects")
    except httpx.TimeoutException as exc:
        kind = {"ConnectTimeout": "connecting", "ReadTimeout": "waiting for data",
                "WriteTimeout": "sending", "PoolTimeout": "waiting"}.get(type(exc).__name__, "")
        return FetchResult(url, None, error=f"timed out{' ' + kind if kind else ''}")
    except httpx.HTTPError as exc:
        return FetchResult(url, None, error=f"{type(exc).__name__}: {_one_line(str(exc)) or 'no detail'}")
    except (OSError, ValueError) as exc:  # bad URL, socket trouble outside httpx's wrapping
        return FetchResult(url, None, error=f"{type(exc).__name__}: {_one_line(str(exc)) or 'no detail'}")


def _one_line(text: str) -> str:
    return " ".join(text.split())[:300]
