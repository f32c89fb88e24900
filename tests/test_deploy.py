"""deploy/: the systemd unit and the nginx config, checked for what they promise."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess

import httpx
import pytest

import nginx_harness
from nginx_harness import free_port
from conftest import ROOT, SEED, raw_request, serving
from publisher.model import Icon
from publisher.serve import COMPRESSED_TYPES, FeedServer

DEPLOY = ROOT / "deploy"
NGINX = nginx_harness.NGINX


# -- systemd -----------------------------------------------------------------------------------

def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read(DEPLOY / "publisher.service")
    return parser


def test_the_unit_runs_publisher_run_as_a_simple_service_restarted_on_failure():
    service = unit()["Service"]
    assert service["Type"] == "simple"
    assert service["Restart"] == "on-failure"
    assert re.search(r"/publisher --config \S+\.toml run$", service["ExecStart"])
    assert "2" in service["RestartPreventExitStatus"].split()  # a config error is not retried forever


def test_the_unit_runs_as_an_unprivileged_user_with_a_stop_timeout_above_ours():
    from publisher.service import STOP_SECONDS

    service = unit()["Service"]
    assert service["User"] not in ("", "root", "0") and service["Group"] not in ("", "root", "0")
    assert service["KillSignal"] == "SIGTERM"
    assert float(service["TimeoutStopSec"]) > STOP_SECONDS
    assert service["NoNewPrivileges"] == "yes"
    assert unit()["Install"]["WantedBy"] == "multi-user.target"


def test_systemctl_reload_sends_sighup_which_reads_the_config_again():
    assert unit()["Service"]["ExecReload"] == "/bin/kill -HUP $MAINPID"


SYSTEMD_ANALYZE = shutil.which("systemd-analyze")


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed (Debian package systemd)")
def test_systemd_analyze_security_rates_the_unit_exposure_3_or_below():
    proc = subprocess.run([SYSTEMD_ANALYZE, "security", "--offline=true", "--no-pager",
                           str(DEPLOY / "publisher.service")], capture_output=True, text=True, timeout=60)
    if "--offline" in proc.stderr and "unrecognized" in proc.stderr:
        pytest.skip(f"this systemd-analyze has no --offline: {proc.stderr.strip()}")
    m = re.search(r"Overall exposure level for publisher\.service: (\d+\.\d+)", proc.stdout)
    assert m, f"no exposure level in the output: {proc.stdout[-500:]} {proc.stderr}"
    assert float(m.group(1)) <= 3.0, proc.stdout


# -- nginx -------------------------------------------------------------------------------------

needs_nginx = pytest.mark.skipif(NGINX is None, reason="nginx is not installed (make test installs it with apt-get "
                                                       "when run as root; elsewhere: apt-get install nginx-light)")



@pytest.fixture
def published(project, seed):
    project.add_source(SEED.name, seed)
    project.publish()
    (project.feeds / "index.html").write_bytes(b"<!doctype html><title>front</title>\n")
    (project.feeds / "README.md").write_bytes(b"# not served\n")
    (project.feeds / "all" / ".atom.xml.99.tmp").write_bytes(b"<feed>half")
    outside = project.root / "secret.txt"
    outside.write_bytes(b"outside the feeds directory\n")
    (project.feeds / "all" / "leak.xml").symlink_to(outside)
    return project


@pytest.fixture
def nginx(published, tmp_path):
    with nginx_harness.running(tmp_path / "nginx", published.feeds, free_port()) as base:
        yield base


@needs_nginx
def test_the_nginx_config_passes_nginx_t(tmp_path, project):
    conf = nginx_harness.conf(tmp_path / "nginx", project.feeds, free_port())
    proc = subprocess.run(nginx_harness.command(tmp_path / "nginx", conf, "-t"), capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert "syntax is ok" in proc.stderr and "test is successful" in proc.stderr
    assert "[warn]" not in proc.stderr and "[emerg]" not in proc.stderr, proc.stderr


@needs_nginx
def test_a_feed_directory_without_its_slash_is_moved_to_it_by_both_servers(published, nginx):
    app = FeedServer(published.feeds, cache_max_age=60)
    app.reload()
    with serving(app) as embedded:
        for base in (embedded, nginx):
            for slug in ("all", "ukraine", "taiwan-security"):
                for method in ("GET", "HEAD"):
                    status, headers, _ = raw_request(base, f"/{slug}", method=method)
                    assert (status, headers.get("location")) == (301, f"/{slug}/"), (base, slug, method)
                    assert headers["cache-control"] == "public, max-age=60", base
                page = httpx.get(base + f"/{slug}", follow_redirects=True)
                assert page.status_code == 200 and page.url.path == f"/{slug}/", (base, slug)
                assert page.headers["content-type"] == "text/html; charset=utf-8"
            # what is no directory with a page stays not found
            for target in ("/nope", "/stories", "/all/atom.xml/", "/README.md", "/all/atom.xml"[:-4]):
                assert raw_request(base, target)[0] == 404, (base, target)


def searching(project) -> FeedServer:
    """The embedded server as `publisher run` makes it: with /search, and the search box on its pages."""
    from publisher import search

    searcher = search.Searcher(project.database)
    config = project.config
    app = FeedServer(project.feeds, cache_max_age=60,
                     search=lambda q, page, topic: search.answer(searcher, config, q, page, topic))
    app.reload()
    return app


@needs_nginx
def test_nginx_serves_the_same_bytes_types_and_caching_headers_as_the_embedded_server(published, nginx):
    app = searching(published)  # nginx.conf puts the search box on the pages too
    story = "/stories/" + sorted(p.name for p in (published.feeds / "stories").iterdir())[0]
    paths = ["/", "/index.html", "/all/", "/all/index.html", story] + [
        f"/{slug}/{name}" for slug in ("ukraine", "taiwan-security", "all") for name in ("atom.xml", "rss.xml")] + [
        f"/{icon.filename}" for icon in Icon]
    with serving(app) as embedded:
        for path in paths:
            ours = httpx.get(embedded + path, headers={"Accept-Encoding": "identity"})
            theirs = httpx.get(nginx + path, headers={"Accept-Encoding": "identity"})
            assert (ours.status_code, theirs.status_code) == (200, 200), path
            assert ours.content == theirs.content, path
            for header in ("content-type", "cache-control", "x-content-type-options", "last-modified"):
                assert ours.headers[header] == theirs.headers[header], (path, header)
            # pages carry the same policy (and feeds none)
            for header in ("content-security-policy", "x-frame-options"):
                assert ours.headers.get(header) == theirs.headers.get(header), (path, header)
            if path.endswith(("/", ".html")):
                assert "default-src 'none'" in theirs.headers["content-security-policy"], path
            if path.endswith(".svg"):  # an SVG opened as a document runs no script either
                assert theirs.headers["content-type"] == "image/svg+xml"
                assert "sandbox" in theirs.headers["content-security-policy"].split("; "), path
            # each makes its own ETag, and each honours it
            again = httpx.get(nginx + path, headers={"If-None-Match": theirs.headers["etag"]})
            assert again.status_code == 304, path
            # both gzip the same files (not those under 512 bytes), to the same bytes once unzipped;
            # but a page's length is dropped by nginx's sub_filter (the search box), so
            # gzip_min_length cannot tell a page under 512 bytes (no real page is: this test's
            # front page is) and gzips it
            zipped = httpx.get(nginx + path, headers={"Accept-Encoding": "gzip"})
            ours_zipped = httpx.get(embedded + path, headers={"Accept-Encoding": "gzip"})
            if len(ours.content) >= 512 or not ours.headers["content-type"].startswith("text/html"):
                assert zipped.headers.get("content-encoding") == ours_zipped.headers.get("content-encoding"), path
            assert zipped.content == ours_zipped.content == ours.content, path
            if ours.headers["content-type"] in COMPRESSED_TYPES:  # PNGs: compressed already
                assert "content-encoding" not in zipped.headers, path
            elif len(ours.content) >= 512:
                assert zipped.headers["content-encoding"] == "gzip"
                assert "Accept-Encoding" in zipped.headers["vary"] and "Accept-Encoding" in ours_zipped.headers["vary"]


@needs_nginx
@pytest.mark.parametrize("target", ["/README.md", "/all/.atom.xml.99.tmp", "/all/leak.xml", "/../secret.txt",
                                    "/%2e%2e/secret.txt", "/all/%2e%2e/%2e%2e/secret.txt", "/nope.xml"])
def test_nginx_serves_nothing_else(nginx, target):
    status, _, body = raw_request(nginx, target)
    assert status in (400, 403, 404), (target, status)
    assert b"outside the feeds directory" not in body and b"# not served" not in body


@needs_nginx
def test_nginx_says_nosniff_on_what_it_does_not_serve_too(nginx):
    for target in ("/nope.xml", "/README.md", "/all/.atom.xml.99.tmp"):
        status, headers, _ = raw_request(nginx, target)
        assert status == 404 and headers["x-content-type-options"] == "nosniff", target


@needs_nginx
@pytest.mark.parametrize("extra", [
    {"X-Long": "v" * 9000},  # one line over 8 KiB
    {f"X-Pad-{i:02}": "v" * 1000 for i in range(34)},  # 34 KiB in all
], ids=["long-line", "too-much"])
def test_nginx_refuses_the_headers_the_embedded_server_refuses(published, nginx, extra):
    app = FeedServer(published.feeds)
    app.reload()
    short = {name: value[:100] for name, value in extra.items()}
    with serving(app) as embedded:
        assert raw_request(embedded, "/all/atom.xml", headers=extra)[0] == 431
        assert raw_request(embedded, "/all/atom.xml", headers=short)[0] == 200
    assert raw_request(nginx, "/all/atom.xml", headers=extra)[0] == 400  # "Request Header Or Cookie Too Large"
    assert raw_request(nginx, "/all/atom.xml", headers=short)[0] == 200


@needs_nginx
def test_both_servers_answer_a_retracted_storys_permalink_410_with_its_page(project, seed, tmp_path):
    from datetime import timedelta

    import feedparser

    from conftest import NOW
    from publisher import stories
    from publisher.render.html import with_search_box

    project.add_source(SEED.name, seed)
    project.publish()
    kept, retracted = feedparser.parse((project.feeds / "all" / "atom.xml").read_bytes()).entries[:2]
    assert stories.retract(project.config, retracted.id, "wrong desk", NOW + timedelta(hours=1)).done
    name = retracted.link.rsplit("/", 1)[1]
    assert (project.feeds / "stories" / "retracted" / name).exists()
    app = FeedServer(project.feeds, cache_max_age=60)
    app.reload()
    with serving(app) as embedded, nginx_harness.running(tmp_path / "nginx", project.feeds, free_port()) as nginx:
        for base in (embedded, nginx):
            gone = httpx.get(f"{base}/stories/{name}", headers={"Accept-Encoding": "identity"})
            assert gone.status_code == 410, base
            page = (project.feeds / "stories" / "retracted" / name).read_bytes()
            # nginx.conf puts the search box in (it proxies /search); this embedded server has no search
            assert gone.content == (with_search_box(page) if base == nginx else page), base
            assert "This story was retracted" in gone.text and "wrong desk" in gone.text
            for header, value in (("content-type", "text/html; charset=utf-8"), ("x-content-type-options", "nosniff"),
                                  ("cache-control", "public, max-age=60"), ("x-frame-options", "DENY")):
                assert gone.headers[header] == value, (base, header)
            assert "default-src 'none'" in gone.headers["content-security-policy"], base
            assert httpx.head(f"{base}/stories/{name}").status_code == 410, base
            # the page is only the permalink's answer, and the live pages stay 200
            assert raw_request(base, f"/stories/retracted/{name}")[0] == 404, base
            assert raw_request(base, "/stories/retracted/")[0] == 404, base
            assert raw_request(base, "/stories/" + kept.link.rsplit("/", 1)[1])[0] == 200, base
            assert raw_request(base, "/stories/no-such-story.html")[0] == 404, base


# -- search behind nginx -------------------------------------------------------------------------

def test_the_search_boxes_of_nginx_conf_are_those_the_embedded_server_puts_in():
    from publisher.render.html import SEARCH_BOXES

    text = (DEPLOY / "nginx.conf").read_text()
    found = dict(re.findall(r"(?m)^\s*sub_filter '([^']*)'\s+'([^']*)';", text))
    assert {m.encode(): b.encode() for m, b in found.items()} == SEARCH_BOXES


@needs_nginx
def test_nginx_proxies_search_to_a_running_service_and_shows_the_box(running, tmp_path):
    from service_harness import service_config, write_atomically

    service = running(config=service_config(tmp_path, port=free_port()))
    write_atomically(tmp_path / "sources" / "desk.txt", (
        "KYIV: The grain convoy reached Kherson on Monday after three days on the road, the regional "
        "administration said, and volunteers began unloading flour at the port.\n").encode())
    service.wait_for({"ukraine": 1})
    port = int(service.base.rsplit(":", 1)[1])
    with nginx_harness.running(tmp_path / "nginx", tmp_path / "feeds", free_port(), upstream=port) as base:
        for path in ("/search?q=kherson+convoy", "/search?q=%22NEAR(%3Cscript%3E", "/search"):
            ours, theirs = service.get(path), httpx.get(base + path)
            assert theirs.status_code == ours.status_code == 200, path
            assert theirs.content == ours.content, path
            for header in ("content-type", "cache-control", "content-security-policy", "x-frame-options"):
                assert theirs.headers.get(header) == ours.headers.get(header), (path, header)
            assert theirs.headers.get_list("x-content-type-options") == ["nosniff"], path
        assert b"<mark>Kherson</mark>" in httpx.get(base + "/search?q=kherson").content
        assert httpx.head(base + "/search?q=kherson").status_code == 200
        assert httpx.post(base + "/search?q=kherson").status_code == 403  # GET and HEAD only
        # the pages as nginx serves them: the box in place of the marker, as the service has it
        story = "/stories/" + next((tmp_path / "feeds" / "stories").iterdir()).name
        for path in ("/", "/ukraine/", story):
            page = httpx.get(base + path)
            assert page.content == service.get(path).content, path
            assert b'<form class="search" role="search"' in page.content and b"<!--search" not in page.content
            assert httpx.get(base + path, headers={"If-None-Match": page.headers["etag"]}).status_code == 304
        service.stop()
        down = httpx.get(base + "/search?q=kherson")
        assert down.status_code == 503 and down.text.startswith("Search is not available")
        assert down.headers["x-content-type-options"] == "nosniff"
