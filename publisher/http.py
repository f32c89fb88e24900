"""A small HTTP/1.1 server for prepared answers: llhttp (httptools) on uvloop.

Why our own: the answers are ready before the requests (serve.FeedServer keeps every file's
bytes and header block in memory), so a server only has to parse, look up and write, and has
to refuse what a hostile client sends. uvicorn set no limit on request headers with httptools,
no header timeout and no connection cap, and its ASGI layer cost more than our lookup.

What a connection may do, like nginx (`Limits`; the timeouts and the cap are [server] keys):
- request line and headers together at most 32 KiB, one header line at most 8 KiB, at most
  100 headers: otherwise 431 (a request target over 8 KiB: 414), and the connection is closed;
- headers finished within `header_timeout` of the connection (or of the request's first byte
  on a kept-alive one), or 408 and closed; an idle kept-alive connection closed after
  `keepalive_timeout`; a client that reads nothing of what it asked for closed after
  `send_timeout`;
- at most `max_connections` at once: a new one over the cap is answered 503 and closed;
- no request bodies: a body over 16 KiB is 413 and closed (other methods than GET and HEAD
  are the app's 405); Upgrade (WebSocket, h2c), CONNECT and the HTTP/2 preface get 400;
  anything llhttp cannot parse gets 400 and the connection is closed.
Pipelined requests are answered in order; HTTP/1.0 and `Connection: close` are honoured.
A refused request is counted, and the counts are logged as one line per 10 s at most
(`ClientErrors`), never a traceback. After a refusal the connection is half-closed and what
the client still sends is read and dropped for a moment ("lingering close", as nginx does),
so that it sees the answer instead of a reset.

The app is one synchronous function, respond(method, path, headers, query) -> Response: method
as bytes (b"GET"), path decoded, headers as (lower-case name, value) bytes pairs, query the
request target's query string as sent (bytes, undecoded; b"" when there is none).
"""

from __future__ import annotations

import asyncio
import logging
import math
import resource
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate
from urllib.parse import unquote

import httptools
import uvloop

log = logging.getLogger("publisher")

REASONS = {
    200: "OK", 301: "Moved Permanently", 304: "Not Modified", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
    410: "Gone",
    408: "Request Timeout", 413: "Content Too Large", 414: "URI Too Long",
    431: "Request Header Fields Too Large", 500: "Internal Server Error", 503: "Service Unavailable",
}
NOSNIFF = (b"x-content-type-options", b"nosniff")
PLAIN = (b"content-type", b"text/plain; charset=utf-8")


@dataclass(frozen=True, slots=True)
class Limits:
    header_bytes: int = 32 * 1024  # request line + headers (nginx: large_client_header_buffers 4 8k)
    header_line_bytes: int = 8 * 1024  # one header line; the request target too (then 414)
    headers: int = 100
    body_bytes: int = 16 * 1024  # nothing here wants a body: this only tolerates a stray one
    header_timeout: float = 10.0  # seconds to send a request's headers (nginx: client_header_timeout)
    keepalive_timeout: float = 5.0  # seconds a kept-alive connection may wait for its next request
    send_timeout: float = 60.0  # seconds a client may leave our answers unread
    max_connections: int = 1000
    linger_seconds: float = 1.0  # after a refusal: how long what the client sends is dropped
    linger_bytes: int = 1 << 20  # ... and how much of it
    grace_seconds: float = 2.0  # a stop waits this long for answers being sent


@dataclass(frozen=True, slots=True)
class Response:
    """An answer ready to write: `head` is the status line and header lines (each ending in
    CRLF); the server adds Date, Connection when needed, and the blank line."""

    status: int
    head: bytes
    body: bytes = b""


def response(status: int, headers: list[tuple[bytes, bytes]], body: bytes = b"") -> Response:
    lines = [b"HTTP/1.1 %d %s\r\n" % (status, REASONS[status].encode())]
    lines += [name + b": " + value + b"\r\n" for name, value in headers]
    return Response(status, b"".join(lines), body)


def plain(status: int, text: bytes, headers: list[tuple[bytes, bytes]] = (), *, head: bool = False) -> Response:
    """A short text/plain answer (errors, computed routes): with nosniff, like every answer."""
    if not any(name == b"content-type" for name, _ in headers):
        headers = [PLAIN, *headers]
    headers = [*headers, NOSNIFF, (b"content-length", str(len(text)).encode())]
    return response(status, headers, b"" if head else text)


# The server's own refusals, prepared once.
_REFUSALS = {status: plain(status, f"{REASONS[status]}\n".encode()) for status in (400, 408, 413, 414, 431, 500, 503)}


def request_path(target: bytes) -> str | None:
    """The decoded path of a request target ("/a%20b?x" -> "/a b"); absolute-form targets
    ("http://host/path") give their path; None when there is none to give."""
    if target[:1] != b"/":
        if target == b"*":
            return "*"
        try:
            target = httptools.parse_url(target).path or b"/"
        except httptools.HttpParserInvalidURLError:
            return None
    path = target.split(b"?", 1)[0].decode("latin-1")  # llhttp lets only ASCII through
    return unquote(path) if "%" in path else path


def request_query(target: bytes) -> bytes:
    """The query string of a request target, undecoded ("/search?q=a%20b#x" -> b"q=a%20b")."""
    if b"?" not in target:
        return b""
    return target.split(b"?", 1)[1].split(b"#", 1)[0]


# -- client errors, counted and rate-limited: pure ---------------------------------------------

class ClientErrors:
    """What clients were refused, for the log: the first refusal after a quiet spell is one line
    at once; later ones are counted and told as one line per `every` seconds at most."""

    MAX_CLIENTS = 1000  # clients told apart in one window; the rest are counted together

    def __init__(self, every: float = 10.0):
        self.every = every
        self.last_line: float | None = None
        self.counts: dict[str, dict[str, int]] = {}
        self.total = 0

    def note(self, now: float, client: str, reason: str) -> str | None:
        self.total += 1
        if self.last_line is None or now - self.last_line >= self.every and not self.counts:
            self.last_line = now
            return f"{client}: bad request ({reason})"
        if client not in self.counts and len(self.counts) >= self.MAX_CLIENTS:
            client = "other clients"
        reasons = self.counts.setdefault(client, {})
        reasons[reason] = reasons.get(reason, 0) + 1
        return None

    def due(self, now: float, force: bool = False) -> str | None:
        """The line for what was counted, once `every` seconds have passed since the last
        (force: now, as the server stops)."""
        if not self.counts or now - self.last_line < self.every and not force:
            return None
        span = now - self.last_line
        ranked = sorted(self.counts.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))
        self.counts = {}
        self.last_line = now
        client, reasons = ranked[0]
        n = sum(reasons.values())
        why = ", ".join(f"{k} {r}" for r, k in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])))
        line = f"{client}: {n} bad request{'s' if n != 1 else ''} in the last {math.ceil(span)} s ({why})"
        if len(ranked) > 1:
            more = sum(sum(r.values()) for _, r in ranked[1:])
            line += f"; {more} more from {len(ranked) - 1} other client{'s' if len(ranked) > 2 else ''}"
        return line


# -- one connection ----------------------------------------------------------------------------

class _Refuse(Exception):
    """Raised in a parser callback to stop parsing: the connection is refused with `status`."""

    def __init__(self, status: int, reason: str):
        self.status, self.reason = status, reason


class _Stop(Exception):
    """Raised in a parser callback once the connection is closing: the rest is not parsed."""


_WAITING, _REQUEST, _IDLE, _CLOSING, _LINGER = range(5)


TURN_REQUESTS = 16  # a connection's share of the loop at a time: so many requests ...
TURN_SECONDS = 0.002  # ... or so long, whichever comes first (then every other one's turn)
TURN_BYTES = 256  # parsed at a time (a piece holds a few requests at most)


class _Connection(asyncio.Protocol):
    __slots__ = ("server", "limits", "transport", "parser", "client", "state", "deadline", "url", "headers",
                 "in_headers", "header_bytes", "completed", "body_bytes", "upgrade", "refusal", "paused",
                 "send_deadline", "queue", "dropped", "began", "backlog")

    def __init__(self, server: Server):
        self.server = server
        self.limits = server.limits
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.client = "?"
        self.state = _WAITING
        self.deadline = 0.0
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.in_headers = True  # parsing a request line or headers (or waiting for them)
        self.header_bytes = 0  # bytes of the current request's line and headers so far
        self.completed = 0  # requests whose headers are complete
        self.body_bytes = 0
        self.upgrade = False
        self.refusal: _Refuse | None = None
        self.paused = False  # the client is not reading: answers wait in `queue`
        self.send_deadline = 0.0  # ... until then
        self.queue: deque[tuple[Response, bytes]] = deque()  # (answer, its tail)
        self.dropped = 0  # bytes read and dropped while lingering
        self.began = 0.0  # when the request's first byte came (kept only for the access log)
        self.backlog: memoryview | None = None  # bytes received and not yet parsed: this turn's share is used

    # -- asyncio.Protocol --

    def connection_made(self, transport) -> None:
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.client = str(peer[0]) if isinstance(peer, tuple) else "local"
        server = self.server
        if len(server.connections) >= self.limits.max_connections:
            server.note(self.client, "over the connection cap")
            transport.write(_REFUSALS[503].head + server.tail_close + _REFUSALS[503].body)
            transport.close()
            self.state = _CLOSING
            return
        server.connections.add(self)
        self.deadline = server.loop.time() + self.limits.header_timeout

    def connection_lost(self, exc) -> None:
        self.server.connections.discard(self)
        self.state = _CLOSING
        self.queue.clear()

    def eof_received(self) -> bool:
        return False  # the client is done sending: close once our answers are out

    def pause_writing(self) -> None:
        self.paused = True
        self.send_deadline = self.server.loop.time() + self.limits.send_timeout
        if self.state < _CLOSING:
            self.transport.pause_reading()  # no more requests until it reads the answers

    def resume_writing(self) -> None:
        self.paused = False
        while self.queue and not self.paused:
            answer, tail = self.queue.popleft()
            self._write(answer, tail)
        if self.paused:
            return
        if self.state == _CLOSING:
            self.transport.close()
        elif self.state < _CLOSING:
            self.deadline = self.server.loop.time() + (
                self.limits.keepalive_timeout if self.state == _IDLE else self.limits.header_timeout)
            if self.backlog is not None:
                self.server.loop.call_soon(self._drain)  # (it resumes reading once the backlog is parsed)
            else:
                self.transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        if self.state >= _CLOSING:
            if self.state == _LINGER:
                self.dropped += len(data)
                if self.dropped > self.limits.linger_bytes:
                    self.transport.abort()
            return
        self._feed(memoryview(data))

    def _drain(self) -> None:
        """Parse (and answer) more of the backlog: the connection's next turn."""
        if self.backlog is None or self.state >= _CLOSING or self.paused:  # (paused: resume_writing calls again)
            return
        view, self.backlog = self.backlog, None
        self._feed(view)
        if self.backlog is None and not self.paused and self.state < _CLOSING:
            self.transport.resume_reading()

    def _feed(self, view: memoryview) -> None:
        # Fair turns: a client that pipelines requests gets TURN_REQUESTS answers or TURN_SECONDS
        # of the loop, whichever comes first; the rest of what it sent waits (reading paused)
        # until every other connection has had its turn. Answered all at once, 4,000 pipelined
        # requests in one read held every other client for seconds. Pieces of at most
        # TURN_BYTES, so that one piece never holds many requests.
        limit = self.limits.header_bytes
        loop = self.server.loop
        began, answered = loop.time(), self.completed
        try:
            while view:
                # While a request's headers are being read, feed no more than its room, so
                # that llhttp (and httptools, which joins a header's pieces) never holds more.
                size = min(len(view), TURN_BYTES, limit - self.header_bytes if self.in_headers else TURN_BYTES)
                piece, view = view[:size], view[size:]
                counting, before = self.in_headers, self.completed
                self.parser.feed_data(piece)
                if self.in_headers and self.state < _CLOSING:
                    if counting and self.completed == before:  # every byte of the piece was this request's
                        self.header_bytes += len(piece)
                    # else: a request began inside the piece; its first bytes go uncounted (a
                    # piece is at most `limit` bytes, so what llhttp holds stays bounded)
                    if self.header_bytes >= limit:
                        self._refuse(431, f"request headers over {limit} bytes")
                        return
                if view and self.state < _CLOSING and (self.paused or self.completed - answered >= TURN_REQUESTS
                                                       or loop.time() - began >= TURN_SECONDS):
                    self.backlog = view  # (a memoryview of the bytes received: nothing copied)
                    self.transport.pause_reading()
                    if not self.paused:  # (else resume_writing gives it its next turn)
                        loop.call_soon(self._drain)
                    return
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:
            if self.refusal is not None:
                self._refuse(self.refusal.status, self.refusal.reason)
            elif self.state < _CLOSING:
                if isinstance(exc, httptools.HttpParserUpgrade) or "PRI/Upgrade" in str(exc):  # HTTP/2 preface
                    self._refuse(400, "protocol upgrade")
                else:
                    self._refuse(400, f"malformed request: {exc}")

    # -- llhttp callbacks --

    def on_message_begin(self) -> None:
        if self.state >= _CLOSING:
            raise _Stop
        if self.state == _IDLE:  # the first request's time runs from the connection
            self.deadline = self.server.loop.time() + self.limits.header_timeout
        self.state = _REQUEST
        if self.server.access is not None:
            self.began = self.server.loop.time()
        self.url = b""
        self.headers = []
        self.body_bytes = 0
        self.upgrade = False

    def on_url(self, fragment: bytes) -> None:
        self.url += fragment
        if len(self.url) > self.limits.header_line_bytes:
            self.refusal = _Refuse(414, f"request target over {self.limits.header_line_bytes} bytes")
            raise self.refusal

    def on_header(self, name: bytes, value: bytes) -> None:
        headers = self.headers
        if len(headers) >= self.limits.headers:
            self.refusal = _Refuse(431, f"over {self.limits.headers} headers")
            raise self.refusal
        if len(name) + len(value) > self.limits.header_line_bytes:
            self.refusal = _Refuse(431, f"a header line over {self.limits.header_line_bytes} bytes")
            raise self.refusal
        headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        self.in_headers = False
        self.header_bytes = 0
        self.completed += 1
        if self.parser.should_upgrade():
            self.upgrade = True
            return
        hosts = 0
        for name, value in self.headers:  # one pass: this runs for every request
            if name == b"host":
                hosts += 1
            elif name == b"transfer-encoding":
                # Nothing here takes a body, and a chunked one may end in trailer fields, which
                # httptools buffers without a limit after the headers are done: refuse it whole.
                self.refusal = _Refuse(413, "a chunked request body")
                raise self.refusal
            elif name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0  # llhttp has refused a bad one already
                if declared > self.limits.body_bytes:
                    self.refusal = _Refuse(413, f"a request body of {declared} bytes")
                    raise self.refusal
        if hosts != 1 and (hosts or self.parser.get_http_version() == "1.1"):  # RFC 9112 3.2
            self.refusal = _Refuse(400, "two Host headers" if hosts else "no Host header")
            raise self.refusal

    def on_body(self, body: bytes) -> None:
        self.body_bytes += len(body)
        if self.body_bytes > self.limits.body_bytes:
            self.refusal = _Refuse(413, f"a request body over {self.limits.body_bytes} bytes")
            raise self.refusal

    def on_message_complete(self) -> None:
        self.in_headers = True
        if self.upgrade:
            method = self.parser.get_method()
            self.refusal = _Refuse(400, "CONNECT" if method == b"CONNECT" else "protocol upgrade")
            raise self.refusal
        server = self.server
        path = request_path(self.url)
        if path is None:
            self.refusal = _Refuse(400, "malformed request target")
            raise self.refusal
        try:
            answer = server.respond(self.parser.get_method(), path, self.headers, request_query(self.url))
        except Exception as exc:  # a bug: one counted line, a 500, and the service goes on
            server.note(self.client, f"internal error: {type(exc).__name__}: {exc}")
            answer = _REFUSALS[500]
        if server.access is not None:
            server.access(self.client, self.parser.get_method(), path, answer, server.loop.time() - self.began)
        keep = not server.stopping and self.parser.should_keep_alive()
        if not keep:
            tail = server.tail_close
        else:
            tail = server.tail_keep if self.parser.get_http_version() != "1.0" else server.tail_keep_10
        if self.paused or self.queue:
            self.queue.append((answer, tail))
        else:
            self._write(answer, tail)
        if not keep:
            self.state = _CLOSING
            if not self.queue:
                self.transport.close()
            raise _Stop  # whatever follows a last request is not read
        self.state = _IDLE
        self.deadline = server.loop.time() + self.limits.keepalive_timeout

    # -- writing --

    def _write(self, answer: Response, tail: bytes) -> None:
        if answer.body:
            self.transport.writelines((answer.head, tail, answer.body))
        else:
            self.transport.write(answer.head + tail)

    def _refuse(self, status: int, reason: str) -> None:
        """Answer `status`, stop reading requests, and close after lingering."""
        if self.state >= _CLOSING:
            return
        server = self.server
        server.note(self.client, reason)
        answer = _REFUSALS[status]
        while self.queue:  # answers to the requests before this one go first (buffered by uvloop)
            self._write(*self.queue.popleft())
        self.state = _LINGER
        self.transport.write(answer.head + server.tail_close + answer.body)
        if self.transport.can_write_eof():
            self.transport.write_eof()  # the answer, then FIN: the client reads it before any reset
        self.deadline = server.loop.time() + self.limits.linger_seconds
        if self.paused:
            self.transport.resume_reading()  # read and drop, or the client blocks on its writes

    def tick(self, now: float) -> None:
        """Called by the server's clock: enforce this connection's deadline."""
        if self.state == _CLOSING:
            return
        if self.paused and self.state != _LINGER:
            if now >= self.send_deadline:
                self.server.note(self.client, "answers left unread")
                self.transport.abort()
            return
        if now < self.deadline:
            return
        if self.state == _LINGER:
            self.transport.close()
        elif self.state == _IDLE:
            self.transport.close()  # a kept-alive connection idle too long: closed without a word
        else:
            self._refuse(408, "headers not sent in time")

    def close_idle(self) -> None:
        """A stop: close if no request is being read or answered; otherwise after it."""
        if self.state in (_WAITING, _IDLE) and not self.queue:
            self.state = _CLOSING
            self.transport.close()


# -- the server --------------------------------------------------------------------------------

# The access log: (client address, method, path, the answer, seconds since the request's first byte)
Access = Callable[[str, bytes, str, Response, float], None]


class Server:
    """Serves `respond` on a listening socket in a uvloop loop. `run(sock)` blocks until
    `shutdown()` (callable from a signal handler or another thread)."""

    def __init__(self, respond: Callable[[bytes, str, list[tuple[bytes, bytes]], bytes], Response],
                 limits: Limits = Limits(), errors: ClientErrors | None = None, access: Access | None = None):
        self.respond = respond
        self.access = access  # called after each answer, or None: no access log (nothing is timed)
        self.limits = limits
        self.errors = errors or ClientErrors()
        self.connections: set[_Connection] = set()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.started = threading.Event()
        self.stopping = False
        self._stop_asked = 0  # 1: stop gracefully, 2: at once
        self._wake: asyncio.Event | None = None
        self._date = ""
        self.tail_keep = self.tail_keep_10 = self.tail_close = b""
        self._set_date()

    def run(self, sock) -> None:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(self.serve(sock))

    def shutdown(self, force: bool = False) -> None:
        self._stop_asked = max(self._stop_asked, 2 if force else 1)
        loop, wake = self.loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(wake.set)
            except RuntimeError:  # the loop closed meanwhile
                pass

    def note(self, client: str, reason: str) -> None:
        line = self.errors.note(self.loop.time() if self.loop else 0.0, client, reason)
        if line:
            log.warning("%s", line)

    async def serve(self, sock) -> None:
        loop = self.loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        _raise_fd_limit(self.limits.max_connections + 256)
        listener = await loop.create_server(lambda: _Connection(self), sock=sock, backlog=2048)
        tick = max(0.02, min(1.0, self.limits.header_timeout / 4, self.limits.keepalive_timeout / 4,
                             self.limits.linger_seconds / 2))
        timer = loop.call_later(tick, self._tick, tick)
        self.started.set()
        try:
            while not self._stop_asked:
                await self._wake.wait()
                self._wake.clear()
            self.stopping = True
            listener.close()  # no new connections
            for conn in list(self.connections):
                conn.close_idle()
            deadline = loop.time() + self.limits.grace_seconds
            while self.connections and self._stop_asked < 2 and loop.time() < deadline:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), 0.05)
                except TimeoutError:
                    pass
            for conn in list(self.connections):
                conn.transport.abort()
            await asyncio.sleep(0)  # let the aborted connections be lost
        finally:
            timer.cancel()
            line = self.errors.due(loop.time(), force=True)  # what was counted since the last line
            if line:
                log.warning("%s", line)

    def _tick(self, every: float) -> None:
        loop = self.loop
        now = loop.time()
        self._set_date()
        for conn in list(self.connections):
            conn.tick(now)
        line = self.errors.due(now)
        if line:
            log.warning("%s", line)
        loop.call_later(every, self._tick, every)

    def _set_date(self) -> None:
        date = formatdate(usegmt=True)
        if date != self._date:
            self._date = date
            line = b"date: " + date.encode() + b"\r\n"
            self.tail_keep = line + b"\r\n"
            self.tail_keep_10 = line + b"connection: keep-alive\r\n\r\n"
            self.tail_close = line + b"connection: close\r\n\r\n"


def _raise_fd_limit(needed: int) -> None:
    """Connections are file descriptors: raise the soft limit (often 1024) toward what the cap
    needs, as far as the hard limit allows."""
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        if soft != resource.RLIM_INFINITY and soft < want:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    except (OSError, ValueError):
        pass
