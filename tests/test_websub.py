"""websub.py: publish pings to a hub (a local one: pytest-httpserver)."""

from __future__ import annotations

import socket
import time

from publisher import websub


def test_notify_posts_one_publish_ping_per_url(httpserver):
    httpserver.expect_request("/hub", method="POST").respond_with_data("", status=204)
    urls = ["http://x.example/all/atom.xml", "http://x.example/all/rss.xml"]
    assert websub.notify(httpserver.url_for("/hub"), urls) == []
    forms = [dict(request.form) for request, _ in httpserver.log]
    assert forms == [{"hub.mode": "publish", "hub.url": u} for u in urls]
    assert httpserver.log[0][0].headers["User-Agent"].startswith("publisher/")


def test_notify_reports_a_refusal_and_an_unreachable_hub_one_line_each(httpserver):
    httpserver.expect_request("/hub").respond_with_data("no", status=500)
    assert websub.notify(httpserver.url_for("/hub"), ["http://x.example/a.xml"]) == [
        f"{httpserver.url_for('/hub')}: WebSub ping for http://x.example/a.xml refused: HTTP 500"]
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    errors = websub.notify(f"http://127.0.0.1:{port}/hub", ["http://x.example/a.xml"])
    assert len(errors) == 1 and "ConnectError" in errors[0]


def test_notify_gives_up_on_a_hub_that_never_answers_within_the_timeout():
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()  # accepts connections, never answers
    try:
        start = time.monotonic()
        errors = websub.notify(f"http://127.0.0.1:{silent.getsockname()[1]}/", ["http://x.example/a.xml"],
                               timeout=0.5)
        assert time.monotonic() - start < 3
        assert len(errors) == 1 and "Timeout" in errors[0]
    finally:
        silent.close()


def test_changed_urls_are_the_public_urls_of_written_feed_files(tmp_path):
    feeds = tmp_path / "feeds"
    written = [feeds / "all" / "atom.xml", feeds / "ukraine" / "rss.xml", tmp_path / "elsewhere" / "atom.xml"]
    assert websub.changed_urls("https://news.example/feeds/", feeds, written) == [
        "https://news.example/feeds/all/atom.xml", "https://news.example/feeds/ukraine/rss.xml"]
