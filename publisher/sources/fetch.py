"""Fetching feeds over HTTP with httpcore (httpx's transport): the network edge of the aggregator.

Concurrent (a bound in all and a smaller one per host), conditional (the stored ETag and
Last-Modified: a 304 costs no download and no parsing), bounded (connect/read timeouts, a
deadline per fetch, a size limit, a redirect limit), and identified (a User-Agent with the
product and version). Every failure is a FetchResult with a one-line reason, never an
exception. Stoppable: `stop` is asked every STOP_POLL_SECONDS, and says so, the fetches
under way are cancelled (a stop must not wait for a slow server).

No internal fetches (SSRF): the operator chose the configured URL, the remote chose its
redirects. The configured host and port are fetched whatever they resolve to (localhost, an
intranet name); any other host a redirect names is resolved here, every address it gives
must be public (`not_public`), and the connection goes to one of those checked addresses (so
a second, different DNS answer is never asked for). The two kinds of connection live in two
pools, so a connection made for a configured host is never reused for another feed's
redirect to it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import urljoin, urlsplit

import httpcore

from publisher import __version__

USER_AGENT = f"publisher/{__version__} (feed aggregator)"  # (no +URL: the project has no public home yet)
ACCEPT = ("application/atom+xml, application/rss+xml, application/feed+json, application/json;q=0.9, "
          "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5")
MAX_BYTES = 16 * 1024 * 1024  # a feed bigger than this (after decompression) is refused
CONCURRENCY = 32  # fetches at once
PER_HOST = 4  # ... of which on one host
CONNECT_TIMEOUT, READ_TIMEOUT = 10.0, 20.0
DEADLINE = 60.0  # a whole fetch, however the server dribbles
MAX_REDIRECTS = 5
STOP_POLL_SECONDS = 0.1  # how often a fetch run asks whether to stop


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


def fetch_all(requests: Sequence[FetchRequest], limits: Limits = Limits(),
              stop: Callable[[], bool] | None = None) -> list[FetchResult | None]:
    """Fetch every request (in its own event loop: call from a plain thread); results in order.
    When `stop` says True, the fetches still under way are cancelled: their results are None
    (not fetched: no answer to record)."""
    if not requests:
        return []
    return asyncio.run(_fetch_all(list(requests), limits, stop))


async def _fetch_all(requests: list[FetchRequest], limits: Limits,
                     stop: Callable[[], bool] | None) -> list[FetchResult | None]:
    everything = asyncio.Semaphore(limits.concurrency)
    hosts: dict[str, asyncio.Semaphore] = {}
    # httpcore, the transport under httpx, used directly: a poll of many unchanged feeds is
    # mostly per-request overhead, and httpx's (cookies, auth and redirect machinery) was a
    # third of it. Redirects and decompression are done here.
    pools = _Pools(*(httpcore.AsyncConnectionPool(max_connections=limits.concurrency,
                                                  max_keepalive_connections=limits.concurrency,
                                                  network_backend=_Backend(public_only=public_only))
                     for public_only in (False, True)))
    async with pools.configured, pools.elsewhere:
        async def one(request: FetchRequest) -> FetchResult:
            host = urlsplit(request.url).hostname or ""
            per_host = hosts.setdefault(host, asyncio.Semaphore(limits.per_host))
            async with everything, per_host:
                start = time.monotonic()
                try:
                    result = await asyncio.wait_for(_fetch(pools, request, limits), limits.deadline)
                except TimeoutError:
                    result = FetchResult(request.url, None, error=f"no complete answer within {limits.deadline:g} s")
                return _timed(result, time.monotonic() - start)

        tasks = [asyncio.create_task(one(r)) for r in requests]
        pending = set(tasks)
        while pending:
            _, pending = await asyncio.wait(pending, timeout=STOP_POLL_SECONDS if stop else None)
            if pending and stop is not None and stop():
                for task in pending:
                    task.cancel()
                await asyncio.wait(pending)  # each closes its connection on the way out
                break
        return [None if task.cancelled() else task.result() for task in tasks]


def _timed(result: FetchResult, seconds: float) -> FetchResult:
    return FetchResult(result.url, result.status, result.body, result.headers, result.final_url, result.error,
                       round(seconds, 3))


KEPT_HEADERS = ("etag", "last-modified", "cache-control", "expires", "date", "retry-after", "content-type",
                "content-location", "content-language")
REDIRECTS = (301, 302, 303, 307, 308)


@dataclass(frozen=True, slots=True)
class _Pools:
    configured: httpcore.AsyncConnectionPool  # the configured URLs' own host and port: any address
    elsewhere: httpcore.AsyncConnectionPool  # every other host a redirect names: public addresses only


def _origin(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return (parts.hostname or "").lower(), parts.port or (443 if parts.scheme == "https" else 80)


async def _fetch(pools: _Pools, request: FetchRequest, limits: Limits) -> FetchResult:
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
        home = _origin(url)
        for _ in range(limits.max_redirects + 1):
            pool = pools.configured if _origin(url) == home else pools.elsewhere
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
    except NotPublic as exc:
        return FetchResult(request.url, None, error=f"redirect refused: {url[:200]} is not a public address ({exc}); "
                                                    f"a feed may redirect to a non-public address only on its own "
                                                    f"host and port")
    except httpcore.TimeoutException as exc:
        kind = {"ConnectTimeout": "connecting", "ReadTimeout": "waiting for data",
                "WriteTimeout": "sending", "PoolTimeout": "waiting"}.get(type(exc).__name__, "")
        return FetchResult(request.url, None, error=f"timed out{' ' + kind if kind else ''}")
    except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.UnsupportedProtocol, httpcore.ProxyError,
            OSError, ValueError) as exc:  # no connection, a broken answer, a bad URL, a broken gzip stream
        return FetchResult(request.url, None, error=failure_reason(exc))


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
        raise ValueError(f"unsupported Content-Encoding {encoding[:40]} (only gzip and deflate are read)")
    chunks, size = [], 0
    async for chunk in response.aiter_stream():
        if inflate is not None:
            try:
                chunk = inflate.decompress(chunk, max_bytes + 1 - size)
            except zlib.error as exc:  # "Error -3 while decompressing data: incorrect header check"
                raise ValueError(f"broken {encoding} stream ({str(exc).rpartition(': ')[2]})") from None
            if inflate.unconsumed_tail:  # more out than allowed: stop
                return None
        size += len(chunk)
        if size > max_bytes:
            return None
        chunks.append(chunk)
    if inflate is not None:
        tail = inflate.flush()
        if not inflate.eof:  # cut short, or not compressed at all: never half a feed
            raise ValueError(f"broken {encoding} stream (cut short, or not {encoding} at all)")
        size += len(tail)
        if size > max_bytes:
            return None
        chunks.append(tail)
    return b"".join(chunks)


def _one_line(text: str) -> str:
    return " ".join(text.split())[:300]


def _causes(exc: BaseException) -> list[BaseException]:
    """`exc` and what it wraps, outermost first: httpcore keeps the original as its first
    argument, anyio as __cause__ (an ExceptionGroup when several addresses were tried)."""
    out, todo = [], [exc]
    while todo and len(out) < 20:
        e = todo.pop(0)
        if any(e is o for o in out):
            continue
        out.append(e)
        todo += [a for a in e.args if isinstance(a, BaseException)]
        if isinstance(e, BaseExceptionGroup):
            todo += list(e.exceptions)
        if e.__cause__ is not None:
            todo.append(e.__cause__)
    return out


def failure_reason(exc: BaseException) -> str:
    """Why a fetch failed, in words (never an exception's class name): what a person reads
    after the feed's URL."""
    import ssl

    causes = _causes(exc)
    for e in causes:  # the most telling cause first
        if isinstance(e, socket.gaierror):
            return "cannot connect: the host name does not resolve"
        if isinstance(e, ssl.SSLCertVerificationError):
            return f"cannot connect: TLS certificate not accepted ({_one_line(e.verify_message or '') or 'no detail'})"
        if isinstance(e, ssl.SSLError):
            return f"cannot connect: TLS failed ({_one_line(e.reason or '') or 'no detail'})"
        if isinstance(e, ConnectionRefusedError):
            return "cannot connect: connection refused"
        if isinstance(e, ConnectionResetError):
            return "the server reset the connection"
    if isinstance(exc, httpcore.ConnectError):
        errors = [e for e in causes if isinstance(e, OSError) and e.strerror]
        detail = errors[0].strerror.lower() if errors else _one_line(str(exc))
        return f"cannot connect: {detail}" if detail else "cannot connect"
    if isinstance(exc, httpcore.ReadError):
        return "the connection broke while the answer was read"
    if isinstance(exc, httpcore.WriteError):
        return "the connection broke while the request was sent"
    if isinstance(exc, httpcore.RemoteProtocolError):
        text = str(exc).lower()
        if "without sending a response" in text or "disconnected" in text:
            return "the server closed the connection without answering"
        if "peer closed connection" in text or "incomplete" in text:
            return "the server closed the connection before the whole answer had arrived"
        return "the server's answer is not valid HTTP"
    if isinstance(exc, httpcore.UnsupportedProtocol):
        return "not an http:// or https:// URL"
    if isinstance(exc, httpcore.ProxyError):
        return f"the proxy failed ({_one_line(str(exc)) or 'no detail'})"
    if isinstance(exc, httpcore.LocalProtocolError):
        return f"the request cannot be sent ({_one_line(str(exc)) or 'no detail'})"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror[:1].lower() + exc.strerror[1:]
    return _one_line(str(exc)) or "failed, with no detail"


# -- where a connection may go ---------------------------------------------------------------

_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # IPv4 addresses as DNS64 gives them on IPv6-only networks


def not_public(address: str) -> str | None:
    """What kind of non-public address `address` is ("loopback", "private", ...), or None when
    it is public (globally reachable, and not multicast, which Python counts as global). An
    IPv4 address carried in IPv6 (mapped, 6to4, NAT64) is judged as that IPv4 address."""
    ip = ipaddress.ip_address(address)
    if ip.version == 6:
        inner = ip.ipv4_mapped or ip.sixtofour or (ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
                                                     if ip in _NAT64 else None)
        if inner is not None:
            return not_public(str(inner))
    for kind, test in (("unspecified", ip.is_unspecified), ("loopback", ip.is_loopback),
                       ("link-local", ip.is_link_local), ("multicast", ip.is_multicast),
                       ("reserved", ip.is_reserved), ("private", ip.is_private)):
        if test:
            return kind
    return None if ip.is_global else "not globally reachable"


class NotPublic(Exception):
    """A connection refused: `host` is, or resolves to, a non-public address."""

    def __init__(self, host: str, address: str, kind: str):
        super().__init__(f"{address}: {kind}" if host == address else f"{host} resolves to {address}: {kind}")


def getaddrinfo(host: str, port: int) -> list[tuple]:
    """The resolver (a seam: tests answer for names of their own)."""
    return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)


async def _resolve(host: str, port: int, timeout: float | None) -> list[str]:
    """The addresses of `host`, resolved in a daemon thread of its own: asyncio's resolver runs
    in the default executor, whose threads asyncio.run waits for, so a hung DNS server would
    hold up a stop."""
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    answer: asyncio.Future = loop.create_future()

    def lookup() -> None:
        try:
            result, error = [info[4][0] for info in getaddrinfo(host, port)], None
        except OSError as exc:
            result, error = None, exc

        def settle() -> None:
            if not answer.done():
                answer.set_exception(error) if error else answer.set_result(result)

        try:
            loop.call_soon_threadsafe(settle)
        except RuntimeError:  # the loop is gone (a stop): nobody waits for this answer
            pass

    threading.Thread(target=lookup, name="resolve", daemon=True).start()
    try:
        addresses = await asyncio.wait_for(answer, timeout)
    except TimeoutError:
        raise httpcore.ConnectTimeout(f"resolving {host} took longer than {timeout:g} s") from None
    except OSError as exc:
        raise httpcore.ConnectError(exc) from None  # the OSError kept, as httpcore does: said in words
    return list(dict.fromkeys(addresses))


class _Backend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, resolving names itself (see _resolve) and, `public_only`,
    refusing a host unless every address it resolves to is public; then connecting to those
    checked addresses, in order. TLS (SNI, certificate) and the Host header keep the name."""

    def __init__(self, *, public_only: bool):
        self.public_only = public_only
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                          socket_options=None) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        addresses = await _resolve(host, port, timeout)
        if self.public_only:
            for address in addresses:
                kind = not_public(address)
                if kind is not None:
                    raise NotPublic(host, address, kind)
        error: Exception = httpcore.ConnectError(f"{host} has no address")
        for i, address in enumerate(addresses):
            # the time left, shared among the addresses left: one that never answers leaves
            # time for the next
            left = None if deadline is None else (deadline - loop.time()) / (len(addresses) - i)
            if left is not None and left <= 0:
                raise httpcore.ConnectTimeout(f"connecting to {host} took longer than {timeout:g} s")
            try:
                return await self._inner.connect_tcp(address, port, timeout=left, local_address=local_address,
                                                     socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        raise error

    async def connect_unix_socket(self, path: str, timeout: float | None = None, socket_options=None):
        raise httpcore.UnsupportedProtocol("feeds are fetched over TCP only")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


# -- addresses a new subscription may have ---------------------------------------------------

RESOLVE_SECONDS = 5.0  # how long one host name may take to resolve when a subscription is checked


def origin(url: str) -> tuple[str, int]:
    """(host, port) of a URL: what "the same host and port" means here."""
    return _origin(url)


def address_problem(url: str, trusted: set[tuple[str, int]] = frozenset(), timeout: float = RESOLVE_SECONDS
                    ) -> str | None:
    """Why a URL that the operator did not type (an OPML outline, a feed a page links to) may
    not be subscribed to, or None: as for a redirect, its host must resolve to public addresses
    only, unless its host and port are `trusted` (those of a URL the operator configured or
    typed). Resolved in a daemon thread, at most `timeout` seconds."""
    try:
        home = _origin(url)
    except ValueError:
        return "not a URL"
    if home in trusted:
        return None
    host, port = home
    answer: list = []

    def lookup() -> None:
        try:
            answer.append([str(info[4][0]) for info in getaddrinfo(host, port)])
        except (OSError, UnicodeError) as exc:
            answer.append(exc)

    try:
        addresses = [str(ipaddress.ip_address(host.strip("[]")))]
    except ValueError:
        worker = threading.Thread(target=lookup, name="resolve", daemon=True)
        worker.start()
        worker.join(timeout)
        if not answer:
            return f"{host} did not resolve within {timeout:g} s"
        if isinstance(answer[0], Exception):
            return f"cannot resolve {host}: {_one_line(str(answer[0])) or 'no detail'}"
        addresses = answer[0]
    for address in dict.fromkeys(addresses):
        kind = not_public(address.split("%")[0])
        if kind is not None:
            where = f"{address}: {kind}" if host.strip("[]") == address else f"{host} resolves to {address}: {kind}"
            return f"not a public address ({where})"
    return None
