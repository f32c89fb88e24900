"""serve.py: the published files over real HTTP (publisher.http on 127.0.0.1), as readers fetch them."""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import time
from email.utils import format_datetime, parsedate_to_datetime
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from conftest import raw_request, serving
from publisher.serve import FeedServer, content_type, snapshot

ATOM = b"<?xml version='1.0' encoding='UTF-8'?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">" + \
       b"<title>t</title>" * 200 + b"</feed>\n"


@pytest.fixture
def site(tmp_path: Path) -> Path:
    feeds = tmp_path / "feeds"
    for rel, data in {
        "all/atom.xml": ATOM,
        "all/rss.xml": b"<?xml version='1.0'?><rss version=\"2.0\"><channel/></rss>\n",
        "all/feed.json": b'{"version": "https://jsonfeed.org/version/1.1"}\n',
        "feeds.opml": b"<?xml version='1.0'?><opml version=\"2.0\"/>\n",
        "index.html": b"<!doctype html><title>front</title>\n",
        "stories/a-story.html": b"<!doctype html><title>a story</title>\n",
        "notes.md": b"# not a served type\n",
    }.items():
        path = feeds / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (tmp_path / "secret.txt").write_bytes(b"outside the feeds directory\n")
    return feeds


@pytest.fixture
def server(site: Path):
    app = FeedServer(site, cache_max_age=60)
    app.reload()
    with serving(app) as base:
        yield app, base


# -- types and headers -------------------------------------------------------------------------

@pytest.mark.parametrize("path, ctype", [
    ("/all/atom.xml", "application/atom+xml; charset=utf-8"),
    ("/all/rss.xml", "application/rss+xml; charset=utf-8"),
    ("/all/feed.json", "application/feed+json; charset=utf-8"),
    ("/feeds.opml", "text/x-opml; charset=utf-8"),
    ("/index.html", "text/html; charset=utf-8"),
    ("/", "text/html; charset=utf-8"),
    ("/stories/a-story.html", "text/html; charset=utf-8"),
])
def test_files_are_served_with_their_content_type_and_charset(server, site, path, ctype):
    _, base = server
    r = httpx.get(base + path)
    assert r.status_code == 200
    assert r.headers["content-type"] == ctype
    assert r.content == (site / (path.lstrip("/") or "index.html")).read_bytes()


def test_a_feed_has_a_strong_etag_from_its_bytes_last_modified_and_cache_control(server, site):
    _, base = server
    r = httpx.get(base + "/all/atom.xml", headers={"Accept-Encoding": "identity"})
    etag = r.headers["etag"]
    assert etag == '"%s"' % hashlib.sha256(ATOM).hexdigest()[:32] and not etag.startswith("W/")
    mtime = int((site / "all/atom.xml").stat().st_mtime)
    assert parsedate_to_datetime(r.headers["last-modified"]).timestamp() == mtime
    assert r.headers["cache-control"] == "public, max-age=60"
    assert r.headers["content-length"] == str(len(ATOM))
    assert r.headers["vary"] == "Accept-Encoding"


def test_if_none_match_with_the_etag_gets_304_without_a_body(server):
    _, base = server
    etag = httpx.get(base + "/all/atom.xml").headers["etag"]
    r = httpx.get(base + "/all/atom.xml", headers={"If-None-Match": etag})
    assert r.status_code == 304 and r.content == b""
    assert r.headers["etag"] == etag and r.headers["cache-control"] == "public, max-age=60"


@pytest.mark.parametrize("header", ['"other", {etag}', "W/{etag}", "*"])
def test_if_none_match_lists_weak_forms_and_star_match(server, header):
    _, base = server
    etag = httpx.get(base + "/all/atom.xml", headers={"Accept-Encoding": "identity"}).headers["etag"]
    r = httpx.get(base + "/all/atom.xml", headers={"If-None-Match": header.format(etag=etag),
                                                   "Accept-Encoding": "identity"})
    assert r.status_code == 304


def test_a_stale_etag_gets_the_full_feed(server):
    _, base = server
    r = httpx.get(base + "/all/atom.xml", headers={"If-None-Match": '"0123"'})
    assert r.status_code == 200 and r.content.startswith(b"<?xml")


def test_if_modified_since_gets_304_when_not_modified_and_200_when_older(server, site):
    _, base = server
    mtime = datetime.fromtimestamp(int((site / "all/atom.xml").stat().st_mtime), UTC)
    same = format_datetime(mtime, usegmt=True)
    older = format_datetime(mtime - timedelta(seconds=1), usegmt=True)
    assert httpx.get(base + "/all/atom.xml", headers={"If-Modified-Since": same}).status_code == 304
    assert httpx.get(base + "/all/atom.xml", headers={"If-Modified-Since": older}).status_code == 200
    assert httpx.get(base + "/all/atom.xml", headers={"If-Modified-Since": "yesterday"}).status_code == 200


def test_if_none_match_wins_over_if_modified_since(server, site):
    _, base = server
    future = format_datetime(datetime.now(UTC) + timedelta(days=1), usegmt=True)
    r = httpx.get(base + "/all/atom.xml", headers={"If-None-Match": '"stale"', "If-Modified-Since": future})
    assert r.status_code == 200


def test_head_sends_the_headers_of_get_and_no_body(server):
    _, base = server
    get = httpx.get(base + "/all/atom.xml", headers={"Accept-Encoding": "identity"})
    status, headers, body = raw_request(base, "/all/atom.xml", "HEAD")
    assert status == 200 and body == b""
    for name in ("content-type", "content-length", "etag", "last-modified", "cache-control"):
        assert headers[name] == get.headers[name]


def test_gzip_when_asked_with_its_own_etag_and_vary(server):
    _, base = server
    status, headers, body = raw_request(base, "/all/atom.xml", headers={"Accept-Encoding": "gzip, br"})
    assert status == 200 and headers["content-encoding"] == "gzip" and headers["vary"] == "Accept-Encoding"
    assert gzip.decompress(body) == ATOM and len(body) < len(ATOM)
    plain = raw_request(base, "/all/atom.xml")[1]
    assert "content-encoding" not in plain
    assert headers["etag"] != plain["etag"]
    # a conditional GET of the gzipped variant is answered with its own ETag
    status, again, _ = raw_request(base, "/all/atom.xml", headers={"Accept-Encoding": "gzip",
                                                                   "If-None-Match": headers["etag"]})
    assert status == 304 and again["etag"] == headers["etag"]


def test_gzip_refused_with_q_zero_gets_the_plain_bytes(server):
    _, base = server
    status, headers, body = raw_request(base, "/all/atom.xml", headers={"Accept-Encoding": "gzip;q=0"})
    assert status == 200 and "content-encoding" not in headers and body == ATOM


def test_gzip_output_is_the_same_bytes_every_time(site):
    a = snapshot(site, "public")["/all/atom.xml"].gzipped.body
    time.sleep(1.1)  # gzip stamps the time unless told not to
    b = snapshot(site, "public")["/all/atom.xml"].gzipped.body
    assert a == b


# -- what is not served ------------------------------------------------------------------------

def test_unknown_paths_get_a_plain_404(server):
    _, base = server
    r = httpx.get(base + "/nope.xml")
    assert r.status_code == 404 and r.text == "Not Found\n"
    assert r.headers["content-type"] == "text/plain; charset=utf-8"


def test_files_of_unknown_types_are_not_served(server):
    _, base = server
    assert httpx.get(base + "/notes.md").status_code == 404


def test_other_methods_get_405_with_allow(server):
    _, base = server
    r = httpx.post(base + "/all/atom.xml", content=b"x")
    assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD"


@pytest.mark.parametrize("target", [
    "/../secret.txt",
    "/all/../../secret.txt",
    "/%2e%2e/secret.txt",
    "/%2E%2E%2Fsecret.txt",
    "/all/%2e%2e/%2e%2e/secret.txt",
    "/..%2fsecret.txt",
    "/..%5csecret.txt",
    "//secret.txt",
    "/./all/atom.xml/../../../secret.txt",
    "http://127.0.0.1/../secret.txt",
    "/%00/secret.txt",
    "/" + "../" * 50 + "etc/passwd",
    "/" + "a/" * 2000 + "atom.xml",
])
def test_traversal_attempts_get_404(server, target):
    _, base = server
    status, _, body = raw_request(base, target)
    assert status in (400, 404), (target, status)
    assert b"outside the feeds directory" not in body and b"root:" not in body


def test_a_symlink_out_of_the_feeds_directory_is_not_served(site, tmp_path):
    (site / "all" / "leak.xml").symlink_to(tmp_path / "secret.txt")
    (site / "linked").symlink_to(tmp_path)  # a directory link
    (site / "all" / "inside.xml").symlink_to(site / "all" / "atom.xml")  # even one that stays inside
    app = FeedServer(site)
    app.reload()
    with serving(app) as base:
        for path in ("/all/leak.xml", "/linked/secret.txt", "/linked/feeds/all/atom.xml", "/all/inside.xml"):
            assert httpx.get(base + path).status_code == 404, path
        assert httpx.get(base + "/all/atom.xml").status_code == 200


def test_hidden_files_such_as_a_write_in_progress_are_not_served(site):
    (site / "all" / ".atom.xml.123.tmp").write_bytes(b"<feed>half")
    app = FeedServer(site)
    app.reload()
    assert "/all/.atom.xml.123.tmp" not in app.files and "/all/atom.xml" in app.files


def test_content_types_cover_what_publisher_writes():
    from publisher.model import Icon

    assert all(content_type(icon.filename) == icon.media_type for icon in Icon)
    assert content_type("atom.xml").startswith("application/atom+xml")
    assert content_type("rss.xml").startswith("application/rss+xml")
    assert content_type("feed.json").startswith("application/feed+json")
    assert content_type("x.py") is None


# -- reloads -----------------------------------------------------------------------------------

def test_after_a_reload_the_new_bytes_and_etag_are_served(server, site):
    app, base = server
    before = httpx.get(base + "/all/atom.xml")
    new = ATOM.replace(b"<title>t</title>", b"<title>u</title>", 1)
    tmp = site / "all" / ".atom.tmp"
    tmp.write_bytes(new)
    os.replace(tmp, site / "all" / "atom.xml")
    assert httpx.get(base + "/all/atom.xml").content == before.content  # until reloaded
    app.reload()
    after = httpx.get(base + "/all/atom.xml", headers={"If-None-Match": before.headers["etag"]})
    assert after.status_code == 200 and after.content == new and after.headers["etag"] != before.headers["etag"]


def test_a_reload_reuses_unchanged_files_and_drops_removed_ones(site):
    app = FeedServer(site)
    app.reload()
    kept = app.files["/all/rss.xml"]
    (site / "all" / "feed.json").unlink()
    app.reload()
    assert app.files["/all/rss.xml"] is kept
    assert "/all/feed.json" not in app.files


def test_a_journal_line_with_a_nul_byte_is_passed_over_and_the_pages_after_it_are_served(site):
    from publisher import changes

    changes.append(site, ["/stories/a-story.html"])  # a journal, read to its end by the first reload
    app = FeedServer(site)
    app.reload()
    (site / "stories" / "later.html").write_bytes(b"<!doctype html><title>later</title>\n")
    with open(changes.path(site), "ab") as journal:  # what no publish writes: a NUL in a path
        journal.write(b"/stories/a\0b.html\n/stories/\0\n/\0/archive/1/\n")
    changes.append(site, ["/stories/later.html"])
    app.reload()  # (it raised ValueError "embedded null byte", and served nothing new again)
    assert app.files["/stories/later.html"] is not None
    with serving(app) as base:
        assert httpx.get(base + "/stories/later.html").content == b"<!doctype html><title>later</title>\n"


def test_more_unread_journal_than_it_may_hold_is_not_read_the_reload_lists_everything(site, monkeypatch):
    from publisher import changes

    changes.append(site, ["/stories/a-story.html"])
    app = FeedServer(site)
    app.reload()
    (site / "stories" / "new.html").write_bytes(b"<!doctype html><title>new</title>\n")
    line = "/stories/" + "x" * 90 + ".html"
    changes.append(site, [line] * (changes.MAX_BYTES // len(line) + 10))  # past MAX_BYTES since the last read
    read = []
    real = changes.os.read
    monkeypatch.setattr(changes.os, "read", lambda fd, n: read.append(n) or real(fd, n))
    lines, position = changes.read(site, app._journal)
    assert lines is None and not read  # not read into memory: "list everything"
    assert position.offset == changes.path(site).stat().st_size
    monkeypatch.undo()
    app.reload()
    assert "/stories/new.html" in app.files  # (found by the listing, though no line named it)


def test_an_unreadable_file_is_reported_and_the_rest_served(site, monkeypatch):
    import publisher.serve as serve_mod

    real = serve_mod.read_regular

    def failing(path):
        if path.endswith("rss.xml"):
            raise PermissionError(13, "Permission denied")  # CI runs as root: inject it
        return real(path)

    monkeypatch.setattr(serve_mod, "read_regular", failing)
    errors: list[str] = []
    app = FeedServer(site)
    app.reload(errors)
    assert errors == [f"{site / 'all' / 'rss.xml'}: cannot read: Permission denied"]
    assert "/all/atom.xml" in app.files and "/all/rss.xml" not in app.files


def test_extra_routes_answer_with_no_store(site):
    app = FeedServer(site, routes={"/healthz": lambda: (503, "application/json", b'{"status": "late"}')})
    app.reload()
    with serving(app) as base:
        r = httpx.get(base + "/healthz")
    assert r.status_code == 503 and r.json() == {"status": "late"} and r.headers["cache-control"] == "no-store"


# -- story pages: listed, read when asked ------------------------------------------------------

def test_story_pages_are_listed_not_held_and_read_when_asked(server, site):
    app, base = server
    from publisher.serve import Listed

    assert isinstance(app.files["/stories/a-story.html"], Listed)
    r = httpx.get(base + "/stories/a-story.html")
    assert r.status_code == 200 and r.content == (site / "stories" / "a-story.html").read_bytes()
    again = httpx.get(base + "/stories/a-story.html", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304


def test_a_story_page_removed_since_the_snapshot_is_not_found(server, site):
    _, base = server
    (site / "stories" / "a-story.html").unlink()
    assert httpx.get(base + "/stories/a-story.html").status_code == 404


def test_the_cache_of_story_pages_read_is_bounded(site, monkeypatch):
    import publisher.serve as serve_mod

    monkeypatch.setattr(serve_mod, "LAZY_CACHE", 3)
    for i in range(10):
        (site / "stories" / f"s{i}.html").write_bytes(b"<!doctype html><title>%d</title>\n" % i)
    app = FeedServer(site)
    app.reload()
    with serving(app) as base:
        for i in range(10):
            assert httpx.get(f"{base}/stories/s{i}.html").text.endswith(f"<title>{i}</title>\n")
    assert list(app._read) == ["/stories/s7.html", "/stories/s8.html", "/stories/s9.html"]


# -- dates and security headers ----------------------------------------------------------------

@pytest.mark.parametrize("form", ["%a, %d %b %Y %H:%M:%S GMT",  # IMF-fixdate
                                  "%A, %d-%b-%y %H:%M:%S GMT",  # RFC 850
                                  "%a %b %e %H:%M:%S %Y"])  # asctime (no zone: GMT)
def test_if_modified_since_in_each_of_the_three_http_date_forms_gets_304(server, site, form):
    _, base = server
    mtime = datetime.fromtimestamp(int((site / "all/atom.xml").stat().st_mtime), UTC)
    assert httpx.get(base + "/all/atom.xml", headers={"If-Modified-Since": mtime.strftime(form)}).status_code == 304
    older = (mtime - timedelta(days=1)).strftime(form)
    assert httpx.get(base + "/all/atom.xml", headers={"If-Modified-Since": older}).status_code == 200


CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src 'self' https:; media-src https:; "
       "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


@pytest.mark.parametrize("path", ["/", "/index.html", "/stories/a-story.html"])
def test_pages_send_a_content_security_policy_without_script_and_deny_framing(server, path):
    _, base = server
    r = httpx.get(base + path)
    assert r.headers["content-security-policy"] == CSP and "script" not in CSP
    assert r.headers["x-frame-options"] == "DENY" and r.headers["x-content-type-options"] == "nosniff"
    again = httpx.get(base + path, headers={"If-None-Match": r.headers["etag"]})  # a cache keeps them
    assert again.status_code == 304 and again.headers["content-security-policy"] == CSP
    assert again.headers["x-content-type-options"] == "nosniff"
    head = httpx.head(base + path)
    assert head.headers["content-security-policy"] == CSP


def test_feeds_send_nosniff_and_no_page_policy(server):
    _, base = server
    r = httpx.get(base + "/all/atom.xml")
    assert r.headers["x-content-type-options"] == "nosniff" and "content-security-policy" not in r.headers


# an SVG that would run script if a browser let it (ours hold none: the policy covers any)
EVIL_SVG = (b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><rect width="10" height="10"/>'
            b'<script>document.documentElement.setAttribute("data-ran", "yes")</script></svg>\n')


def test_icons_are_served_with_their_types_svg_under_a_sandboxing_policy_png_never_gzipped(server, site):
    app, base = server
    icons = {"icon.svg": EVIL_SVG, "icon-64.png": b"\x89PNG" + bytes(2000), "favicon.ico": bytes(900)}
    for name, data in icons.items():
        (site / name).write_bytes(data)
    app.reload()
    svg = httpx.get(base + "/icon.svg")
    assert svg.headers["content-type"] == "image/svg+xml" and svg.headers["x-content-type-options"] == "nosniff"
    csp = svg.headers["content-security-policy"]
    assert "default-src 'none'" in csp.split("; ") and "sandbox" in csp.split("; ") and "script" not in csp
    again = httpx.get(base + "/icon.svg", headers={"If-None-Match": svg.headers["etag"]})
    assert again.status_code == 304 and again.headers["content-security-policy"] == csp
    for path, ctype in (("/icon-64.png", "image/png"), ("/favicon.ico", "image/vnd.microsoft.icon")):
        r = httpx.get(base + path, headers={"Accept-Encoding": "gzip"})
        assert r.headers["content-type"] == ctype and "content-encoding" not in r.headers and "vary" not in r.headers
        assert r.content == (site / path[1:]).read_bytes()


def test_404_405_and_the_computed_routes_send_nosniff(site):
    app = FeedServer(site, routes={"/healthz": lambda: (200, "application/json", b'{"status": "ok"}\n'),
                                   "/metrics": lambda: (200, "text/plain; version=0.0.4; charset=utf-8", b"x 1\n")})
    app.reload()
    with serving(app) as base:
        answers = [httpx.get(base + "/nope.xml"), httpx.post(base + "/all/atom.xml", content=b"x"),
                   httpx.get(base + "/healthz"), httpx.get(base + "/metrics"), httpx.head(base + "/nope")]
    assert [r.status_code for r in answers] == [404, 405, 200, 200, 404]
    for r in answers:
        assert r.headers["x-content-type-options"] == "nosniff", r.url
    assert answers[3].headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (make test installs Debian's chromium "
                                              "with apt-get when run as root)")
def test_the_published_pages_render_under_their_policy_with_no_violation(project, seed):
    """What the templates use (an inline <style>, links) is what the policy allows: a browser
    applies the style and reports no violation."""
    from playwright.sync_api import sync_playwright

    project.add_source("seed.txt", seed)
    project.publish()
    app = FeedServer(project.feeds)
    app.reload()
    story = next(url for url in app.files if url.startswith("/stories/"))
    with serving(app) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        try:
            for path in ("/", "/all/", story):
                page = browser.new_page()
                messages: list[str] = []
                page.on("console", lambda m: messages.append(m.text))
                assert page.goto(base + path).headers["content-security-policy"] == CSP
                # the inline style applies: .page is 46rem wide at most (736 px), the body has no margin
                assert page.evaluate("getComputedStyle(document.querySelector('.page')).maxWidth") == "736px"
                assert page.evaluate("getComputedStyle(document.body).marginTop") == "0px"
                assert not [m for m in messages if "Content Security Policy" in m], messages
                page.close()
        finally:
            browser.close()


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (make test installs Debian's chromium "
                                              "with apt-get when run as root)")
def test_an_svg_opened_as_a_document_runs_no_script(server, site):
    """The policy served with an SVG stops its script: the same bytes without it run."""
    from playwright.sync_api import sync_playwright

    app, base = server
    (site / "icon.svg").write_bytes(EVIL_SVG)
    app.reload()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        try:
            page = browser.new_page()
            page.route(base + "/unguarded.svg", lambda route: route.fulfill(
                status=200, content_type="image/svg+xml", body=EVIL_SVG))
            page.goto(base + "/unguarded.svg")  # (the control: these bytes do run without a policy)
            assert page.evaluate("document.documentElement.getAttribute('data-ran')") == "yes"
            assert page.goto(base + "/icon.svg").headers["content-type"] == "image/svg+xml"
            assert page.evaluate("document.documentElement.localName") == "svg"
            assert page.evaluate("document.documentElement.getAttribute('data-ran')") is None
        finally:
            browser.close()


# -- reloading after a publish: only what changed ------------------------------------------------

def _etag(base: str, path: str) -> str:
    r = httpx.get(base + path, headers={"Accept-Encoding": "identity"})
    assert r.status_code == 200, path
    return r.headers["etag"]


def test_a_reload_after_publishes_looks_only_at_the_story_pages_they_changed(project, seed, monkeypatch):
    """A CLI publish and a retract beside the server: the pages they changed are served anew, the
    others keep their ETags, and the reload neither lists nor stats every story page."""
    import publisher.serve as serve_mod
    from corpus import themed_wire
    from publisher import changes
    from test_cli import run

    project.add_source(conftest_seed_name(), seed)
    assert run(project, "publish").returncode == 0
    stories = project.feeds / "stories"
    before = sorted(p.name for p in stories.glob("*.html"))
    retracted, kept = before[0], before[1:]
    app = FeedServer(project.feeds)
    app.reload()
    listed: list[str] = []
    stat_of = {"n": 0}
    real_scandir, real_lstat = serve_mod.os.scandir, serve_mod.os.lstat

    def scandir(path):
        listed.append(os.fspath(path))
        return real_scandir(path)

    def lstat(path, *args, **kwargs):
        if os.fspath(path).startswith(os.fspath(stories) + os.sep):
            stat_of["n"] += 1
        return real_lstat(path, *args, **kwargs)

    with serving(app) as base:
        etags = {name: _etag(base, f"/stories/{name}") for name in before}
        front = _etag(base, "/")
        assert run(project, "retract", retracted.removesuffix(".html")).returncode == 0
        themed_wire(project.sources / "more", 40, seed=3)
        assert run(project, "publish").returncode == 0
        added = sorted(p.name for p in stories.glob("*.html") if p.name not in before)
        assert added and len(added) < 40
        monkeypatch.setattr(serve_mod.os, "scandir", scandir)
        monkeypatch.setattr(serve_mod.os, "lstat", lstat)
        app.reload()
        monkeypatch.undo()
        assert os.fspath(stories) not in listed and stat_of["n"] <= 2 * (len(added) + 1) + 2
        gone = httpx.get(base + f"/stories/{retracted}", headers={"If-None-Match": etags[retracted]})
        assert gone.status_code == 410 and b"retracted" in gone.content.lower()
        for name in kept:  # unchanged: the same ETag, and 304 to it
            assert _etag(base, f"/stories/{name}") == etags[name]
            again = httpx.get(base + f"/stories/{name}", headers={"If-None-Match": etags[name],
                                                                  "Accept-Encoding": "identity"})
            assert again.status_code == 304
        for name in added:
            r = httpx.get(base + f"/stories/{name}")
            assert r.status_code == 200 and r.content == (stories / name).read_bytes()
        assert _etag(base, "/") != front  # (the front page lists the new stories: held, listed again)
        assert httpx.get(base + "/").content == (project.feeds / "index.html").read_bytes()
        # no journal (or another one): the next reload lists everything, and serves the same
        served = {url: httpx.get(base + url).status_code for url in app.files}
        changes.path(project.feeds).unlink()
        listed.clear()
        monkeypatch.setattr(serve_mod.os, "scandir", scandir)
        app.reload()
        monkeypatch.undo()
        assert os.fspath(stories) in listed
        assert {url: httpx.get(base + url).status_code for url in app.files} == served


def conftest_seed_name() -> str:
    from conftest import SEED

    return SEED.name


def test_a_reload_after_a_retraction_serves_the_archive_page_it_rewrote_and_keeps_the_others(project):
    """An archive page a publish wrote again (a story on it retracted) is served new after a
    reload driven by the change journal; the other archive pages keep their ETags."""
    from publisher import stories
    from test_archives import UKRAINE, add_stories, small_pages

    small_pages(project, page=2, max_entries=4)
    add_stories(project, "ukraine.txt", UKRAINE[:9])
    assert project.publish().ok
    pages = sorted((project.feeds / "ukraine" / "archive").iterdir(), key=lambda p: int(p.name))
    assert len(pages) >= 3
    app = FeedServer(project.feeds)
    app.reload()
    with serving(app) as base:
        urls = [f"/ukraine/archive/{p.name}/atom.xml" for p in pages] + [f"/ukraine/archive/{pages[0].name}/"]
        etags = {url: _etag(base, url) for url in urls}
        first = feedparser_ids((project.feeds / "ukraine" / "archive" / pages[0].name / "atom.xml").read_bytes())
        stories.retract(project.config, first[0], "test", NOW_PLUS_HOUR())
        app.reload()
        changed = f"/ukraine/archive/{pages[0].name}/atom.xml"
        r = httpx.get(base + changed, headers={"If-None-Match": etags[changed], "Accept-Encoding": "identity"})
        assert r.status_code == 200 and first[0] not in feedparser_ids(r.content)
        assert r.content == (project.feeds / changed.lstrip("/")).read_bytes()
        assert _etag(base, f"/ukraine/archive/{pages[0].name}/") != etags[f"/ukraine/archive/{pages[0].name}/"]
        for url in urls[2:-1]:  # (page 2 may be written again: it links to page 1)
            assert _etag(base, url) == etags[url]
            assert httpx.get(base + url).content == (project.feeds / url.lstrip("/")).read_bytes()


def feedparser_ids(data: bytes) -> list[str]:
    import feedparser

    return [e.id for e in feedparser.parse(data).entries]


def NOW_PLUS_HOUR():
    from conftest import NOW

    return NOW + timedelta(hours=1)


def test_searches_may_take_half_the_servers_time_and_over_that_get_503_while_feeds_are_served(site):
    """A client sending searches one after another (each bounded, but each on the one loop
    the feeds are answered from) gets 503 with Retry-After once searches owe more than a
    second of the server's time; the debt is paid at half a second a second."""
    clock = [100.0]

    def search(*args):
        clock[0] += 0.3  # each search takes 0.3 s of the loop
        return 200, b"<!doctype html><title>results</title>\n"

    app = FeedServer(site, search=search, clock=lambda: clock[0])
    app.reload()
    statuses = [app.respond(b"GET", "/search", [], b"q=kyiv").head.split(b" ")[1] for _ in range(6)]
    assert statuses == [b"200", b"200", b"200", b"200", b"503", b"503"]  # 1.2 s owed after four
    busy = app.respond(b"GET", "/search", [], b"q=kyiv")
    assert b"retry-after: 1" in busy.head.lower() and b"no-store" in busy.head
    assert app.respond(b"GET", "/all/atom.xml", []).head.startswith(b"HTTP/1.1 200")  # the feeds: always
    clock[0] += 1.0  # a second later half a second is paid: 0.7 s owed
    assert app.respond(b"GET", "/search", [], b"q=kyiv").head.split(b" ")[1] == b"200"
