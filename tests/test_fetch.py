"""sources/fetch.py: fetching feeds from local HTTP servers on 127.0.0.1."""

from __future__ import annotations

import gzip
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from werkzeug.wrappers import Response

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
    assert refused.status is None and refused.error.startswith("ConnectError")
    assert unknown.status is None and unknown.error.startswith("ConnectError")


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
    assert brotli.body is None and brotli.error == "ValueError: unsupported Content-Encoding 'br'"
    assert httpserver.log[0][0].headers["Accept-Encoding"] == "gzip, deflate"  # only what is decoded


def test_a_redirect_out_of_http_is_refused(httpserver):
    httpserver.expect_request("/away").respond_with_response(Response(status=302, headers={"Location": "file:///etc/passwd"}))
    r = one(FetchRequest(httpserver.url_for("/away")))
    assert r.body is None and r.error == "redirected to a non-HTTP URL: file:///etc/passwd"


def test_a_broken_gzip_stream_is_a_reason(httpserver):
    httpserver.expect_request("/bad").respond_with_data(b"\x1f\x8b\x08\x00garbage", headers={"Content-Encoding": "gzip"})
    r = one(FetchRequest(httpserver.url_for("/bad")))
    assert r.body is None and r.error == "ValueError: broken gzip stream"
