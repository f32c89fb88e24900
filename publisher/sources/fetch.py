"""Fetching feeds over HTTP with httpcore (httpx's transport): the network edge of the aggregator.

Concurrent (a bound in all and a smaller one per host), conditional (the stored ETag and
Last-Modified: a 304 costs no download and no parsing), bounded (connect/read timeouts, a
deadline per fetch, a size limit, a redirect limit), and identified (a User-Agent with the
product and version). Every failure is a FetchResult with a one-line reason, never an
exception.
"""

from __future__ import annotations

import asyncio
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import urljoin, urlsplit

import httpcore

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
    # httpcore, the transport under httpx, used directly: a poll of many unchanged feeds is
    # mostly per-request overhead, and httpx's (cookies, auth and redirect machinery) was a
    # third of it. Redirects and decompression are done here.
    async with httpcore.AsyncConnectionPool(max_connections=limits.concurrency,
                                            max_keepalive_connections=limits.concurrency) as pool:
        async def one(request: FetchRequest) -> FetchResult:
            host = urlsplit(request.url).hostname or ""
            per_host = hosts.setdefault(host, asyncio.Semaphore(limits.per_host))
            async with everything, per_host:
                start = time.monotonic()
                try:
                    result = await asyncio.wait_for(_fetch(pool, request, limits), limits.deadline)
                except TimeoutError:
                    result = FetchResult(request.url, None, error=f"no complete answer within {limits.deadline:g} s")
                return _timed(result, time.monotonic() - start)

        return list(await asyncio.gather(*(one(r) for r in requests)))


def _timed(result: FetchResult, seconds: float) -> FetchResult:
    return FetchResult(result.url, result.status, result.body, result.headers, result.final_url, result.error,
                       round(seconds, 3))


KEPT_HEADERS = ("etag", "last-modified", "cache-control", "expires", "date", "retry-after", "content-type",
                "content-location", "content-language")
REDIRECTS = (301, 302, 303, 307, 308)


async def _fetch(pool: httpcore.AsyncConnectionPool, request: FetchRequest, limits: Limits) -> FetchResult:
    headers = [(b"User-Agent", USER_AGENT.encode()), (b"Accept", ACCEPT.encode()),
               (b"Accept-Encoding", b"gzip, deflate")]
    if request.etag:
        headers.append((b"If-None-Match", request.etag.encode("latin-1", "replace")))
    if request.last_modified:
        headers.append((b"If-Modified-Since", request.last_modified.encode("latin-1", "replace")))
    timeouts = {"connect": limits.connect_timeout, "read": limits.read_timeout, "write": limits.read_timeout,
                "pool": None}
    url = request.url
    try:
        for _ in range(limits.max_redirects + 1):
            async with pool.stream("GET", url, headers=headers, extensions={"timeout": timeouts}) as response:
                got = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in response.headers}
                kept = {k: v for k, v in got.items() if k in KEPT_HEADERS}
                status = response.status
                if status in REDIRECTS and "location" in got:
                    await _drain(response)
                    url = urljoin(url, got["location"].strip())
                    if urlsplit(url).scheme not in ("http", "https"):
                        return FetchResult(request.url, status, error=f"redirected to a non-HTTP URL: {url[:200]}")
                    continue
                if status != 200:
                    await _drain(response)  # so that the connection can be reused
                    if status == 304:
                        return FetchResult(request.url, 304, headers=kept, final_url=url)
                    try:  # the standard phrase: servers write theirs in all sorts of ways
                        reason = HTTPStatus(status).phrase
                    except ValueError:
                        reason = ""
                    return FetchResult(request.url, status, headers=kept, final_url=url,
                                       error=f"HTTP {status}{' ' + reason if reason else ''}")
                encoding = got.get("content-encoding", "").strip().lower()
                declared = got.get("content-length", "")
                if declared.isdigit() and int(declared) > limits.max_bytes and not encoding:
                    return FetchResult(request.url, 200, headers=kept, final_url=url,
                                       error=f"too big ({int(declared):,} bytes; the limit is {limits.max_bytes:,})")
                body = await _read(response, encoding, limits.max_bytes)
                if body is None:
                    return FetchResult(request.url, 200, headers=kept, final_url=url,
                                       error=f"too big (more than {limits.max_bytes:,} bytes)")
                return FetchResult(request.url, 200, body=body, headers=kept, final_url=url)
        return FetchResult(request.url, None, error=f"more than {limits.max_redirects} redirects")
    except httpcore.TimeoutException as exc:
        kind = {"ConnectTimeout": "connecting", "ReadTimeout": "waiting for data",
                "WriteTimeout": "sending", "PoolTimeout": "waiting"}.get(type(exc).__name__, "")
        return FetchResult(request.url, None, error=f"timed out{' ' + kind if kind else ''}")
    except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.UnsupportedProtocol, httpcore.ProxyError) as exc:
        return FetchResult(request.url, None, error=f"{type(exc).__name__}: {_one_line(str(exc)) or 'no detail'}")
    except (OSError, ValueError, zlib.error) as exc:  # a bad URL, socket trouble, a broken gzip stream
        return FetchResult(request.url, None, error=f"{type(exc).__name__}: {_one_line(str(exc)) or 'no detail'}")


async def _drain(response, limit: int = 65536) -> None:
    size = 0
    async for chunk in response.aiter_stream():
        size += len(chunk)
        if size > limit:
            break


async def _read(response, encoding: str, max_bytes: int) -> bytes | None:
    """The body, decompressed (gzip, deflate), or None past `max_bytes` (decompressed: a gzip
    bomb stops there too)."""
    if encoding in ("gzip", "x-gzip", "deflate"):
        inflate = zlib.decompressobj(wbits=47 if encoding != "deflate" else zlib.MAX_WBITS)
    elif encoding in ("", "identity"):
        inflate = None
    else:
        raise ValueError(f"unsupported Content-Encoding {encoding!r}")
    chunks, size = [], 0
    async for chunk in response.aiter_stream():
        if inflate is not None:
            chunk = inflate.decompress(chunk, max_bytes + 1 - size)
            if inflate.unconsumed_tail:  # more out than allowed: stop
                return None
        size += len(chunk)
        if size > max_bytes:
            return None
        chunks.append(chunk)
    if inflate is not None:
        tail = inflate.flush()
        if not inflate.eof:  # cut short, or not compressed at all: never half a feed
            raise ValueError(f"broken {encoding} stream")
        size += len(tail)
        if size > max_bytes:
            return None
        chunks.append(tail)
    return b"".join(chunks)


def _one_line(text: str) -> str:
    return " ".join(text.split())[:300]
