"""http.py: the server against hostile clients, over raw sockets on 127.0.0.1.

Each client here is what an attacker (or a broken client) sends: headers without end, too many
or too long, silence, slow bytes, idle keep-alive connections, too many connections, upgrades,
garbage, bodies. The limits are nginx's (32 KiB of headers, 8 KiB a line, 100 headers); the
timeouts and the cap are set short or small here, as [server] keys allow.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from conftest import http_server, serving
from publisher.http import ClientErrors, Limits, request_path
from publisher.serve import FeedServer

GUARD = 10.0  # seconds a socket waits before a hang fails the test
ATOM = b"<?xml version='1.0'?><feed xmlns=\"http://www.w3.org/2005/Atom\">" + b"<title>t</title>" * 300 + b"</feed>\n"


@pytest.fixture
def app(tmp_path: Path) -> FeedServer:
    feeds = tmp_path / "feeds"
    (feeds / "all").mkdir(parents=True)
    (feeds / "all" / "atom.xml").write_bytes(ATOM)
    (feeds / "all" / "rss.xml").write_bytes(b"<?xml version='1.0'?><rss version=\"2.0\"><channel/></rss>\n")
    (feeds / "index.html").write_bytes(b"<!doctype html><title>front</title>\n")
    server = FeedServer(feeds)
    server.reload()
    return server


@pytest.fixture
def base(app):
    with serving(app) as url:
        yield url


def connect(base: str) -> socket.socket:
    parts = urlsplit(base)
    return socket.create_connection((parts.hostname, parts.port), timeout=GUARD)


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (a reset after its answer counts as closed);
    a server that neither answers nor closes fails the test after GUARD seconds."""
    data = bytearray()
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return bytes(data)
        if not chunk:
            return bytes(data)
        data += chunk


def status(data: bytes) -> int:
    m = re.match(rb"HTTP/1\.1 (\d{3}) ", data)
    assert m, data[:200]
    return int(m.group(1))


def answers(data: bytes) -> list[tuple[int, dict[str, str], bytes]]:
    """The responses in `data`, in order (each with a Content-Length, as ours all have)."""
    out, at = [], 0
    while at < len(data):
        end = data.index(b"\r\n\r\n", at)
        lines = data[at:end].decode("latin-1").split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        n = int(headers.get("content-length", 0))
        out.append((int(lines[0].split()[1]), headers, data[end + 4:end + 4 + n]))
        at = end + 4 + n
    return out


def refused_while_sending(base: str, first: bytes, more: bytes, total: int) -> tuple[bytes, int]:
    """Send `first`, then `more` over and over up to `total` bytes while reading what comes
    back; returns (what the server sent before closing, bytes we managed to send)."""
    sock = connect(base)
    sent = [0]

    def send() -> None:
        try:
            sock.sendall(first)
            while sent[0] < total:
                sock.sendall(more)
                sent[0] += len(more)
        except OSError:  # the server closed: what a refused sender sees
            pass

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    try:
        data = read_until_closed(sock)
    finally:
        sock.close()
        sender.join(GUARD)
    return data, sent[0]


# -- header limits ------------------------------------------------------------------------------

def test_an_endless_stream_of_header_lines_is_cut_off_with_431_and_closed(base):
    data, sent = refused_while_sending(base, b"GET /all/atom.xml HTTP/1.1\r\nHost: x\r\n",
                                       b"X-Padding: " + b"a" * 50 + b"\r\n" * 1 + b"X-More: b\r\n" * 50,
                                       200 * 1024 * 1024)
    assert status(data) == 431
    assert b"connection: close" in data.lower()
    assert sent < 200 * 1024 * 1024  # cut off long before the 200 MB were taken in


def test_an_endless_header_value_is_cut_off_with_431(base):
    data, sent = refused_while_sending(base, b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: ", b"a" * 65536,
                                       200 * 1024 * 1024)
    assert status(data) == 431
    assert sent < 200 * 1024 * 1024


def test_100000_headers_get_431(base):
    data, _ = refused_while_sending(base, b"GET / HTTP/1.1\r\nHost: x\r\n",
                                    b"".join(b"X-%d: v\r\n" % i for i in range(1000)), 100 * 1000 * 9)
    assert status(data) == 431


def test_a_1_mb_header_value_gets_431(base):
    data, _ = refused_while_sending(base, b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"v" * 1024 * 1024 + b"\r\n\r\n",
                                    b"", 0)
    assert status(data) == 431


def test_a_header_line_over_8_kib_gets_431_and_one_under_is_served(base):
    def get(value_bytes: int) -> int:
        sock = connect(base)
        sock.sendall(b"GET /all/atom.xml HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Long: "
                     + b"v" * value_bytes + b"\r\n\r\n")
        with sock:
            return status(read_until_closed(sock))

    assert get(8 * 1024 - 100) == 200
    assert get(8 * 1024 + 1) == 431


def test_headers_over_32_kib_in_all_get_431_though_each_line_is_short(base):
    def get(n: int) -> int:
        lines = b"".join(b"X-Pad-%02d: %s\r\n" % (i, b"v" * 1000) for i in range(n))
        sock = connect(base)
        sock.sendall(b"GET /all/atom.xml HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + lines + b"\r\n")
        with sock:
            return status(read_until_closed(sock))

    assert get(30) == 200  # ~30 KiB
    assert get(34) == 431  # ~34 KiB, in 34 lines of 1 KiB


def test_a_request_target_over_8_kib_gets_414(base):
    sock = connect(base)
    sock.sendall(b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    with sock:
        assert status(read_until_closed(sock)) == 414


# -- timeouts -----------------------------------------------------------------------------------

def test_a_silent_connection_gets_408_and_is_closed_after_the_header_timeout(app):
    with serving(app, header_timeout=0.5) as base:
        sock = connect(base)
        start = time.monotonic()
        with sock:
            data = read_until_closed(sock)
        assert status(data) == 408 and b"connection: close" in data.lower()
        assert time.monotonic() - start >= 0.45  # not before the timeout


def test_a_slow_client_gets_408_though_it_keeps_sending_bytes(app):
    """slowloris: a byte every 0.1 s does not buy more time; the headers must be done in time."""
    with serving(app, header_timeout=0.5) as base:
        sock = connect(base)
        sock.sendall(b"GET / HTTP/1.1\r\n")
        got = b""
        sock.settimeout(0.1)
        deadline = time.monotonic() + GUARD
        while not got and time.monotonic() < deadline:
            try:
                sock.sendall(b"X")
            except OSError:
                pass
            try:
                got = sock.recv(65536) or b"closed"
            except TimeoutError:
                continue
            except ConnectionResetError:
                got = b"reset"
        sock.close()
        assert got.startswith(b"HTTP/1.1 408 "), got[:100]


def test_an_idle_keep_alive_connection_is_closed(app):
    with serving(app, keepalive_timeout=0.3) as base:
        sock = connect(base)
        sock.settimeout(3)  # ten times the timeout: a guard, not a measurement
        with sock:
            sock.sendall(b"GET /all/rss.xml HTTP/1.1\r\nHost: x\r\n\r\n")
            data = read_until_closed(sock)  # the answer, then nothing: closed without a word
        [(code, headers, _)] = answers(data)
        assert code == 200 and "connection" not in headers


# -- connections --------------------------------------------------------------------------------

def test_over_the_connection_cap_new_connections_are_refused_and_served_again_below_it(app):
    with http_server(app, max_connections=3) as (server, base):
        held = [connect(base) for _ in range(3)]
        for sock in held:  # each is accepted and answered: the three slots are taken
            sock.sendall(b"GET /all/rss.xml HTTP/1.1\r\nHost: x\r\n\r\n")
            assert status(sock.recv(65536)) == 200
        extra = connect(base)
        with extra:
            data = read_until_closed(extra)
        assert data == b"" or status(data) == 503
        held.pop().close()
        deadline = time.monotonic() + GUARD
        while len(server.connections) > 2:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        again = connect(base)
        with again:
            again.sendall(b"GET /all/rss.xml HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert status(read_until_closed(again)) == 200
        for sock in held:
            sock.close()


def test_a_stop_closes_idle_connections_and_does_not_wait_for_silent_ones(app):
    with http_server(app, grace_seconds=0.5) as (server, base):
        idle = connect(base)
        idle.sendall(b"GET /all/rss.xml HTTP/1.1\r\nHost: x\r\n\r\n")
        assert status(idle.recv(65536)) == 200
        silent = connect(base)
        halfway = connect(base)
        halfway.sendall(b"GET /all/rss.xml HTTP/1.1\r\nHost: x\r\n")  # and no more
        deadline = time.monotonic() + GUARD
        while len(server.connections) < 3:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        server.shutdown()
        for sock in (idle, silent, halfway):
            with sock:
                assert read_until_closed(sock) == b""


# -- requests -----------------------------------------------------------------------------------

@pytest.mark.parametrize("request_bytes", [
    b"GET /all/atom.xml HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n",
    b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    b"CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n",
], ids=["websocket", "h2c", "h2-preface", "connect"])
def test_upgrades_get_400_and_are_closed(base, request_bytes):
    sock = connect(base)
    with sock:
        sock.sendall(request_bytes)
        data = read_until_closed(sock)
    assert status(data) == 400


@pytest.mark.parametrize("request_bytes", [
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64,  # TLS to a plain port
    b"GET / HTTP/1.1\r\nX: a\x00b\r\n\r\n",
    b"GET /\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n",
    b"GET / HTTP/9.9\r\n\r\n",
    b"NOT-A-METHOD / HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /all/atom.xml HTTP/1.1\r\n\r\n",  # HTTP/1.1 without a Host (RFC 9112: 400)
    b"GET /all/atom.xml HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",  # two
], ids=["tls", "nul", "raw-utf8", "two-lengths", "te-and-cl", "version", "method", "no-host", "two-hosts"])
def test_malformed_requests_get_400_and_are_closed(base, request_bytes):
    sock = connect(base)
    with sock:
        sock.sendall(request_bytes)
        data = read_until_closed(sock)
    assert status(data) == 400 and data.count(b"HTTP/1.1 ") == 1


def test_many_bad_requests_make_one_counted_log_line_not_hundreds(app, caplog):
    caplog.set_level(logging.INFO, logger="publisher")
    with serving(app) as base:
        for _ in range(200):
            sock = connect(base)
            with sock:
                sock.sendall(b"\x16\x03\x01garbage\r\n\r\n")
                assert status(read_until_closed(sock)) == 400
    lines = [r.getMessage() for r in caplog.records if r.name == "publisher"]
    assert len(lines) == 2, lines  # the first at once; the other 199 counted, told as the server stops
    assert re.fullmatch(r"127\.0\.0\.1: bad request \(malformed request: .+\)", lines[0]), lines[0]
    assert re.fullmatch(r"127\.0\.0\.1: 199 bad requests in the last \d+ s \(199 malformed request: .+\)",
                        lines[1]), lines[1]
    assert not any("Traceback" in r.getMessage() or r.exc_info for r in caplog.records)


def test_pipelined_requests_are_answered_in_order(base):
    sock = connect(base)
    with sock:
        sock.sendall(b"GET /all/rss.xml HTTP/1.1\r\nHost: x\r\n\r\n"
                     b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
                     b"GET /all/atom.xml HTTP/1.1\r\nHost: x\r\nAccept-Encoding: identity\r\n\r\n"
                     b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                     b"GET /all/rss.xml HTTP/1.1\r\nHost: x\r\n\r\n")  # after `close`: not answered
        got = answers(read_until_closed(sock))
    assert [code for code, _, _ in got] == [200, 404, 200, 200]
    assert got[2][2] == ATOM and got[3][1]["connection"] == "close"


def test_many_pipelined_requests_from_a_client_that_reads_late_are_all_answered_in_order(base):
    """The client sends thousands of requests before reading: answers wait (and reading stops)
    while it does not read, and all come, in order, once it does."""
    n = 3000
    paths = [b"/all/atom.xml" if i % 3 else b"/all/rss.xml" for i in range(n)]
    sock = connect(base)
    with sock:
        sock.sendall(b"".join(b"GET %s HTTP/1.1\r\nHost: x\r\nAccept-Encoding: identity\r\n\r\n" % p for p in paths)
                     + b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        got = answers(read_until_closed(sock))
    assert len(got) == n + 1
    assert all(body == ATOM for (_, _, body), p in zip(got, paths) if p == b"/all/atom.xml")
    assert all(body.startswith(b"<?xml version='1.0'?><rss") for (_, _, body), p in zip(got, paths)
               if p == b"/all/rss.xml")


def test_a_client_pipelining_slow_requests_gets_turns_and_another_client_is_answered_between_them(app):
    """Pipelined requests are answered a few at a time, taking turns with every other
    connection: one client's 300 slow requests (a search, say) sent in one write do not hold
    up another client's request until they are all answered."""
    import threading

    order: list[str] = []
    real = app.respond

    def respond(method, path, headers, query=b""):
        if path == "/all/rss.xml":
            time.sleep(0.001)  # a request that costs the loop something
        order.append(path)
        return real(method, path, headers, query)

    app.respond = respond
    n = 300
    with serving(app) as base:
        a, b = connect(base), connect(base)
        with a, b:
            a.sendall(b"GET /all/rss.xml HTTP/1.1\r\nHost: x\r\n\r\n" * n
                      + b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            read_a = threading.Thread(target=read_until_closed, args=(a,))
            read_a.start()
            while "/all/rss.xml" not in order:  # a's answers have begun
                time.sleep(0.001)
            b.sendall(b"GET /all/atom.xml HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert status(read_until_closed(b)) == 200
            read_a.join(GUARD)
    assert order.count("/all/rss.xml") == n and order[-1] == "/"
    # answered in one go, b came after all of a's (position n); in turns, within a few of them
    assert order.index("/all/atom.xml") < n // 2, order.index("/all/atom.xml")


def test_a_client_that_never_reads_its_answers_is_dropped_after_the_send_timeout(app):
    with http_server(app, send_timeout=0.5) as (server, base):
        sock = connect(base)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(b"GET /all/atom.xml HTTP/1.1\r\nHost: x\r\nAccept-Encoding: identity\r\n\r\n" * 2000)
        deadline = time.monotonic() + GUARD
        while not any(conn.paused for conn in list(server.connections)):  # its answers fill the socket
            assert time.monotonic() < deadline, "the answers never filled the socket"
            time.sleep(0.01)
        while server.connections:
            assert time.monotonic() < deadline, "a client that reads nothing holds its connection"
            time.sleep(0.05)
        sock.close()


def test_http_1_0_is_answered_and_closed(base):
    sock = connect(base)
    with sock:
        sock.sendall(b"GET /all/rss.xml HTTP/1.0\r\n\r\n")
        [(code, headers, body)] = answers(read_until_closed(sock))
    assert code == 200 and headers["connection"] == "close" and body.startswith(b"<?xml")


def test_http_1_0_keep_alive_is_kept_alive(base):
    sock = connect(base)
    with sock:
        sock.sendall(b"GET /all/rss.xml HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        first = sock.recv(65536)
        assert b"connection: keep-alive" in first.lower()
        sock.sendall(b"GET /all/rss.xml HTTP/1.0\r\n\r\n")
        assert [code for code, _, _ in answers(first + read_until_closed(sock))] == [200, 200]


def test_a_body_over_the_limit_gets_413_and_a_small_one_is_read_past(base):
    sock = connect(base)
    with sock:
        sock.sendall(b"POST /all/atom.xml HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
                     b"GET /all/rss.xml HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        got = answers(read_until_closed(sock))
    assert [code for code, _, _ in got] == [405, 200] and got[0][1]["allow"] == "GET, HEAD"
    data, _ = refused_while_sending(base, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 104857600\r\n\r\n",
                                    b"x" * 65536, 100 * 1024 * 1024)
    assert status(data) == 413
    data, _ = refused_while_sending(base, b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
                                    b"10000\r\n" + b"x" * 65536 + b"\r\n", 100 * 1024 * 1024)
    assert status(data) == 413


def test_a_chunked_request_is_refused_before_an_endless_trailer_can_grow(base):
    # trailer fields come after the headers are done, and httptools joins a field's pieces
    # without a limit: 8 such connections took the service from 68 MB to 580 MB
    data, sent = refused_while_sending(
        base, b"GET /all/atom.xml HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: ",
        b"a" * 65536, 100 * 1024 * 1024)
    assert status(data) == 413
    assert sent < 8 * 1024 * 1024  # refused at once, not after the header timeout


@pytest.mark.parametrize("path", ["/nope", "/all/atom.xml", "/"])
def test_every_answer_of_the_server_and_its_refusals_says_nosniff(base, path):
    sock = connect(base)
    with sock:
        sock.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path.encode())
        [(_, headers, _)] = answers(read_until_closed(sock))
    assert headers["x-content-type-options"] == "nosniff" and "date" in headers
    data, _ = refused_while_sending(base, b"GET / HTTP/1.1\r\nX: " + b"v" * 40000 + b"\r\n\r\n", b"", 0)
    assert status(data) == 431 and b"x-content-type-options: nosniff" in data.lower()


# -- pure parts ---------------------------------------------------------------------------------

def test_client_errors_are_told_at_once_then_counted_into_one_line_per_window():
    errors = ClientErrors(every=10)
    assert errors.note(0.0, "10.0.0.1", "malformed request") == "10.0.0.1: bad request (malformed request)"
    for t in range(1, 37):
        assert errors.note(t / 10, "10.0.0.1", "request headers over 32768 bytes") is None
    assert errors.note(4.0, "10.0.0.2", "malformed request") is None
    assert errors.due(9.9) is None
    assert errors.due(10.0) == ("10.0.0.1: 36 bad requests in the last 10 s (36 request headers over 32768 bytes); "
                                "1 more from 1 other client")
    assert errors.due(30.0) is None  # nothing since
    assert errors.note(31.0, "10.0.0.3", "headers not sent in time") == "10.0.0.3: bad request (headers not sent in time)"


@pytest.mark.parametrize("target, path", [
    (b"/all/atom.xml?x=1", "/all/atom.xml"),
    (b"/a%20b", "/a b"),
    (b"/%2e%2e/secret.txt", "/../secret.txt"),
    (b"http://example.org/all/atom.xml?x", "/all/atom.xml"),
    (b"*", "*"),
])
def test_request_paths_are_decoded_without_their_query(target, path):
    assert request_path(target) == path


def test_the_default_limits_are_nginx_like():
    limits = Limits()
    assert (limits.header_bytes, limits.header_line_bytes, limits.headers) == (32768, 8192, 100)
    assert (limits.header_timeout, limits.keepalive_timeout, limits.max_connections) == (10.0, 5.0, 1000)


# -- in the service -----------------------------------------------------------------------------

def test_the_server_keys_of_the_config_set_the_limits_of_publisher_run(running, tmp_path):
    from service_harness import service_config

    config = service_config(tmp_path)
    text = config.read_text()
    assert "\ncache_max_age = 60\n" in text
    config.write_text(text.replace("\ncache_max_age = 60\n", "\ncache_max_age = 60\nheader_timeout_seconds = 0.5\n"
                                   "keepalive_timeout_seconds = 0.3\nmax_connections = 50\n"))
    service = running(config=config)
    service.wait_log("schedule run:")
    for path in ("/healthz", "/metrics", "/nope"):
        assert service.get(path).headers["x-content-type-options"] == "nosniff", path
    silent = connect(service.base)
    kept = connect(service.base)
    kept.settimeout(3)  # ten times the keep-alive timeout: a guard
    with silent, kept:
        kept.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert [code for code, _, _ in answers(read_until_closed(kept))] == [200]  # then closed
        assert status(read_until_closed(silent)) == 408
        held = [connect(service.base) for _ in range(60)]
        try:
            answered = [read_until_closed(sock) for sock in held[50:]]  # over the cap: 503 or closed
            assert all(data == b"" or status(data) == 503 for data in answered)
        finally:
            for sock in held:
                sock.close()
    assert service.stop()[0] == 0
    log = service.log_text()  # the refusals after the first are told in one line, by the stop at the latest
    assert re.search(r"127\.0\.0\.1: bad request \(headers not sent in time\)", log), log
    assert re.search(r"127\.0\.0\.1: \d+ bad requests in the last \d+ s \(.*\d+ over the connection cap", log), log
    assert "Traceback" not in log


def test_publisher_run_stops_within_10_s_on_sigterm_with_hostile_connections_open(running):
    service = running()
    service.wait_log("schedule run:")
    socks = [connect(service.base) for _ in range(20)]
    for i, sock in enumerate(socks):
        sock.sendall(b"GET /all/atom.xml HTTP/1.1\r\nHost: x\r\n" + (b"X-Slow: " if i % 2 else b""))
    code, seconds = service.stop()
    for sock in socks:
        sock.close()
    assert code == 0 and seconds < 10, (code, seconds)
    assert "Traceback" not in service.log_text()
