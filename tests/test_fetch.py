"""sources/fetch.py: fetching feeds from local HTTP servers on 127.0.0.1."""

from __future__ import annotations

import gzip
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from werkzeug.wrappers import Response

from conftest import NOW
from publisher.sources.fetch import FetchRequest, Limits, fetch_all

FEED = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'


def one(request: FetchRequest, limits: Limits = Limits()):
    (result,) = fetch_all([request], limits)
    return result


def test_a_200_gives_the_bytes_and_the_caching_headers(httpserver):
    httpserver.expect_request("/feed").respond_with_data(FEED, headers={
        "ETag": '"v1"', "Last-Modified": "Tue, 24 Nov 2026 09:00:00 GMT", "Cache-Control": "max-age=600",
        "Content-Type": "application/rss+xml"})
    r = one(FetchRequest(httpserver.url_for("/feed")))
    assert (r.status, r.body, r.error) == (200, FEED, None)
    assert r.headers["etag"] == '"v1"' and r.headers["cache-control"] == "max-age=600"
    assert r.headers["last-modified"] == "Tue, 24 Nov 2026 09:00:00 GMT"
    request = httpserver.log[0][0]
    assert request.headers["User-Agent"].startswith("publisher/") and "gzip" in request.headers["Accept-Encoding"]


def test_the_stored_validators_are_sent_and_a_304_has_no_body(httpserver):
    httpserver.expect_request("/feed", headers={"If-None-Match": '"v1"',
                                                "If-Modified-Since": "Tue, 24 Nov 2026 09:00:00 GMT"}
                              ).respond_with_data("", status=304, headers={"ETag": '"v1"'})
    r = one(FetchRequest(httpserver.url_for("/feed"), etag='"v1"', last_modified="Tue, 24 Nov 2026 09:00:00 GMT"))
    assert r.not_modified and r.body is None and r.error is None


@pytest.mark.parametrize("status, line", [(404, "HTTP 404 Not Found"), (500, "HTTP 500 Internal Server Error"),
                                          (410, "HTTP 410 Gone")])
def test_an_error_status_is_a_one_line_reason(httpserver, status, line):
    httpserver.expect_request("/feed").respond_with_data("nope", status=status)
    r = one(FetchRequest(httpserver.url_for("/feed")))
    assert (r.status, r.body, r.error) == (status, None, line)


def test_429_keeps_retry_after_for_the_backoff(httpserver):
    httpserver.expect_request("/feed").respond_with_data("slow down", status=429, headers={"Retry-After": "120"})
    r = one(FetchRequest(httpserver.url_for("/feed")))
    assert r.error == "HTTP 429 Too Many Requests" and r.headers["retry-after"] == "120"


def test_redirects_are_followed_up_to_the_limit(httpserver):
    httpserver.expect_request("/old").respond_with_response(Response(status=301, headers={"Location": "/new"}))
    httpserver.expect_request("/new").respond_with_data(FEED)
    r = one(FetchRequest(httpserver.url_for("/old")))
    assert r.body == FEED and r.final_url == httpserver.url_for("/new")
    httpserver.expect_request("/loop").respond_with_response(Response(status=302, headers={"Location": "/loop"}))
    r = one(FetchRequest(httpserver.url_for("/loop")), Limits(max_redirects=3))
    assert r.error == "more than 3 redirects"


def test_gzip_is_decoded(httpserver):
    httpserver.expect_request("/feed").respond_with_data(gzip.compress(FEED), headers={"Content-Encoding": "gzip"})
    assert one(FetchRequest(httpserver.url_for("/feed"))).body == FEED


def test_an_oversized_feed_is_refused_and_so_is_a_gzip_bomb(httpserver):
    httpserver.expect_request("/big").respond_with_data(b"x" * 5000)
    r = one(FetchRequest(httpserver.url_for("/big")), Limits(max_bytes=1000))
    assert r.body is None and r.error.startswith("too big")
    bomb = gzip.compress(b"\0" * (20 * 1024 * 1024))  # 20 KB on the wire, 20 MB unpacked
    httpserver.expect_request("/bomb").respond_with_data(bomb, headers={"Content-Encoding": "gzip"})
    r = one(FetchRequest(httpserver.url_for("/bomb")), Limits(max_bytes=1024 * 1024))
    assert r.body is None and r.error == "too big (more than 1,048,576 bytes)"


def test_a_server_that_never_answers_fails_within_the_timeout():
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()  # connections are accepted by the kernel; nothing is ever sent
    try:
        start = time.monotonic()
        r = one(FetchRequest(f"http://127.0.0.1:{silent.getsockname()[1]}/feed"),
                Limits(read_timeout=0.5, deadline=5))
        assert time.monotonic() - start < 3
        assert r.status is None and r.error == "timed out waiting for data"
    finally:
        silent.close()


def test_a_server_that_dribbles_is_cut_off_at_the_deadline():
    class Dribble(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            try:
                for _ in range(100):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.2)  # each byte in time for the read timeout, the whole far too slow
            except OSError:
                pass

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Dribble)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        start = time.monotonic()
        r = one(FetchRequest(f"http://127.0.0.1:{server.server_address[1]}/"), Limits(read_timeout=1, deadline=1.5))
        assert time.monotonic() - start < 4 and r.error == "no complete answer within 1.5 s"
    finally:
        server.shutdown()


def test_refused_connections_and_bad_names_are_failures_not_exceptions():
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    refused, unknown = fetch_all([FetchRequest(f"http://127.0.0.1:{port}/"),
                                  FetchRequest("http://no-such-host.invalid/feed")], Limits(connect_timeout=2))
    assert (refused.status, refused.error) == (None, "cannot connect: connection refused")
    assert (unknown.status, unknown.error) == (None, "cannot connect: the host name does not resolve")


class Rude(BaseHTTPRequestHandler):
    """A server that breaks the exchange in one of the ways real ones do, by path."""

    def do_GET(self):
        import struct

        if self.path == "/reset":  # RST instead of an answer
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        elif self.path == "/garbled":
            self.wfile.write(b"NOT HTTP AT ALL\r\n\r\n")
        elif self.path == "/cut":
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n<rss>")
        self.wfile.flush()
        self.close_connection = True
        self.connection.close()

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("path, reason", [
    ("/reset", "the server reset the connection"),
    ("/garbled", "the server's answer is not valid HTTP"),
    ("/cut", "the server closed the connection before the whole answer had arrived"),
    ("/silent", "the server closed the connection without answering"),
])
def test_a_broken_exchange_is_a_reason_in_words_not_an_exception_name(path, reason):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Rude)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        r = one(FetchRequest(f"http://127.0.0.1:{server.server_address[1]}{path}"), Limits(read_timeout=5, deadline=10))
    finally:
        server.shutdown()
    assert (r.status, r.body, r.error) == (None, None, reason)


def test_fetches_run_concurrently_but_at_most_per_host_at_once_on_one_host():
    state = {"now": 0, "most": 0}
    guard = threading.Lock()

    class Slow(BaseHTTPRequestHandler):
        def do_GET(self):
            with guard:
                state["now"] += 1
                state["most"] = max(state["most"], state["now"])
            time.sleep(0.2)
            with guard:
                state["now"] -= 1
            self.send_response(200)
            self.send_header("Content-Length", str(len(FEED)))
            self.end_headers()
            self.wfile.write(FEED)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        start = time.monotonic()
        results = fetch_all([FetchRequest(f"{base}/{i}") for i in range(8)], Limits(per_host=2))
        assert all(r.body == FEED for r in results)
        assert state["most"] == 2 and time.monotonic() - start >= 0.8  # 8 fetches, 2 at a time
    finally:
        server.shutdown()


def test_connections_are_reused_across_304s_and_errors():
    """An unread response closes its connection: a poll of many unchanged feeds on one host
    then reconnects for each (it did, until 304 bodies were read)."""
    connections = []

    class KeepAlive(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self):
            super().setup()
            connections.append(1)

        def do_GET(self):
            status = 404 if self.path.endswith("missing") else 304
            self.send_response(status)
            body = b"not here" if status == 404 else b""
            if body:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), KeepAlive)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        requests = [FetchRequest(f"{base}/{i}", etag='"x"') for i in range(20)] + [FetchRequest(f"{base}/missing")]
        results = fetch_all(requests, Limits(per_host=1))
        assert [r.status for r in results] == [304] * 20 + [404]
        assert len(connections) == 1  # one host, one at a time: one connection for all 21
    finally:
        server.shutdown()


def test_deflate_is_decoded_and_an_unknown_encoding_is_a_reason(httpserver):
    import zlib

    httpserver.expect_request("/deflate").respond_with_data(zlib.compress(FEED), headers={"Content-Encoding": "deflate"})
    httpserver.expect_request("/br").respond_with_data(b"\x0b\x02\x80", headers={"Content-Encoding": "br"})
    deflated, brotli = fetch_all([FetchRequest(httpserver.url_for("/deflate")), FetchRequest(httpserver.url_for("/br"))])
    assert deflated.body == FEED
    assert brotli.body is None and brotli.error == "unsupported Content-Encoding br (only gzip and deflate are read)"
    assert httpserver.log[0][0].headers["Accept-Encoding"] == "gzip, deflate"  # only what is decoded


def test_a_redirect_out_of_http_is_refused(httpserver):
    httpserver.expect_request("/away").respond_with_response(Response(status=302, headers={"Location": "file:///etc/passwd"}))
    r = one(FetchRequest(httpserver.url_for("/away")))
    assert r.body is None and r.error == "redirected to a non-HTTP URL: file:///etc/passwd"


def test_a_broken_gzip_stream_is_a_reason(httpserver):
    httpserver.expect_request("/bad").respond_with_data(b"\x1f\x8b\x08\x00garbage", headers={"Content-Encoding": "gzip"})
    httpserver.expect_request("/plain").respond_with_data(FEED, headers={"Content-Encoding": "gzip"})
    r, plain = fetch_all([FetchRequest(httpserver.url_for("/bad")), FetchRequest(httpserver.url_for("/plain"))])
    assert r.body is None and r.error == "broken gzip stream (cut short, or not gzip at all)"
    assert plain.body is None and plain.error == "broken gzip stream (incorrect header check)"  # not "error: Error -3 ..."


# -- SSRF: a feed's redirects may not reach non-public addresses --------------------------------

class Internal:
    """A second local server, on another port: the internal service a hostile feed points at.
    It counts the requests it gets (none must arrive) and serves a feed of its own."""

    def __init__(self):
        self.hits = []
        internal = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                internal.hits.append(self.path)
                body = INTERNAL_FEED
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


INTERNAL_FEED = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>Internal</title><link>http://intra/</link>'
                 b"<description>d</description><item><title>Payroll</title><guid>p1</guid><description>Kyiv's metro "
                 b"in Ukraine: the internal payroll report for the third quarter, not for publication."
                 b"</description></item></channel></rss>")


@pytest.fixture
def internal():
    server = Internal()
    yield server
    server.close()


def redirect(httpserver, path: str, location: str) -> str:
    httpserver.expect_request(path).respond_with_response(Response(status=302, headers={"Location": location}))
    return httpserver.url_for(path)


def test_a_redirect_to_another_local_port_is_refused_and_one_on_the_same_host_and_port_followed(httpserver,
                                                                                                 internal):
    """The configured URL is on loopback (the operator's choice); the remote's redirect to
    another port of 127.0.0.1 is not, and never reaches it."""
    away = redirect(httpserver, "/away", f"http://127.0.0.1:{internal.port}/admin/feed")
    r = one(FetchRequest(away))
    assert r.body is None and r.status is None
    assert r.error == (f"redirect refused: http://127.0.0.1:{internal.port}/admin/feed is not a public address "
                       f"(127.0.0.1: loopback); a feed may redirect to a non-public address only on its own "
                       f"host and port")
    assert internal.hits == []
    # the same host and port, as an absolute URL: the operator chose that one
    httpserver.expect_request("/new").respond_with_data(FEED)
    home = redirect(httpserver, "/moved", httpserver.url_for("/new"))
    assert one(FetchRequest(home)).body == FEED


def test_a_redirect_to_a_name_that_resolves_to_loopback_is_refused_after_resolving(httpserver, internal,
                                                                                   monkeypatch):
    from publisher.sources import fetch

    real = fetch.getaddrinfo
    monkeypatch.setattr(fetch, "getaddrinfo", lambda host, port: real("127.0.0.1" if host == "feeds.example.net"
                                                                      else host, port))
    away = redirect(httpserver, "/away", f"http://feeds.example.net:{internal.port}/feed")
    r = one(FetchRequest(away))
    assert r.error.startswith(f"redirect refused: http://feeds.example.net:{internal.port}/feed is not a public "
                              f"address (feeds.example.net resolves to 127.0.0.1: loopback)")
    # the same port as the configured URL, but another host name: not the operator's choice
    same_port = redirect(httpserver, "/other-name", f"http://127.0.0.1:{httpserver.port}/feed")
    assert one(FetchRequest(same_port)).error.startswith("redirect refused:")
    assert internal.hits == []


def test_an_address_counts_as_public_only_if_globally_reachable():
    from publisher.sources.fetch import not_public

    for address, kind in [("127.0.0.1", "loopback"), ("10.1.2.3", "private"), ("192.168.0.1", "private"),
                          ("172.16.5.4", "private"), ("169.254.169.254", "link-local"), ("0.0.0.0", "unspecified"),
                          ("224.0.0.1", "multicast"), ("239.255.255.250", "multicast"), ("240.0.0.1", "reserved"),
                          ("255.255.255.255", "reserved"), ("100.64.0.1", "not globally reachable"),
                          ("::1", "loopback"), ("::", "unspecified"), ("fe80::1", "link-local"),
                          ("fc00::1", "private"), ("ff02::1", "multicast"), ("2001:db8::1", "private"),
                          ("::ffff:127.0.0.1", "loopback"), ("::ffff:10.0.0.1", "private"),
                          ("2002:7f00:1::", "loopback"), ("64:ff9b::a9fe:a9fe", "link-local")]:
        assert not_public(address) == kind, address
    for address in ("8.8.8.8", "93.184.215.14", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"):
        assert not_public(address) is None, address


def test_a_redirect_to_a_public_address_is_followed_and_connects_to_the_address_checked(httpserver, internal,
                                                                                        monkeypatch):
    """A name is resolved once, every address it gives is checked, and the connection goes to a
    checked address (a second answer of the resolver, DNS rebinding, is never asked for)."""
    from publisher.sources import fetch

    asked = []
    real_check, real_lookup = fetch.not_public, fetch.getaddrinfo
    monkeypatch.setattr(fetch, "not_public", lambda a: None if a == "127.0.0.1" else real_check(a))  # "public"

    def lookup(host, port):
        asked.append(host)
        return real_lookup("127.0.0.1" if host == "news.example.net" else host, port)

    monkeypatch.setattr(fetch, "getaddrinfo", lookup)
    away = redirect(httpserver, "/away", f"http://news.example.net:{internal.port}/feed")
    r = one(FetchRequest(away))
    assert r.error is None and r.body == INTERNAL_FEED and internal.hits == ["/feed"]
    assert asked.count("news.example.net") == 1


def test_a_redirect_to_an_internal_server_publishes_none_of_its_entries(project, httpserver, internal):
    from publisher.publish import publish

    away = redirect(httpserver, "/feed.xml", f"http://127.0.0.1:{internal.port}/feed.xml")
    with open(project.config_path, "a") as f:
        f.write(f'\n[[sources.feeds]]\nurl = "{away}"\n')
    report = publish(project.config, NOW)
    assert internal.hits == [] and not report.ok
    assert report.problems() == [f"{away}: failed: redirect refused: http://127.0.0.1:{internal.port}/feed.xml is "
                                 f"not a public address (127.0.0.1: loopback); a feed may redirect to a non-public "
                                 f"address only on its own host and port"]
    assert b"Payroll" not in b"".join(project.site_bytes().values())


# -- stopping ----------------------------------------------------------------------------------

def test_a_stop_cancels_the_fetches_under_way_and_keeps_those_done(httpserver):
    """`publisher run` stopping must not wait for a server that never answers (the read
    timeout is 20 s, the deadline 60 s): the fetch under way is cancelled, a finished one kept."""
    httpserver.expect_request("/quick").respond_with_data(FEED)
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()  # accepted by the kernel; nothing is ever sent
    started = time.monotonic()
    try:
        results = fetch_all([FetchRequest(httpserver.url_for("/quick")),
                             FetchRequest(f"http://127.0.0.1:{silent.getsockname()[1]}/feed")],
                            stop=lambda: time.monotonic() - started > 0.5)
        assert time.monotonic() - started < 5  # not the 20 s read timeout
    finally:
        silent.close()
    quick, cancelled = results
    assert quick.body == FEED and cancelled is None
