"""Files in sources/ that are not wire copy, told by their content: an OPML file subscribes to
its feeds (once per content), an HTML page and other markup are skipped with the reason, a feed
saved under another suffix is read as a feed; `publisher classify` reads them alike."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import DATA, NOW
from publisher import config as config_mod
from publisher.model import Outcome
from publisher.render.opml import render_opml  # noqa: F401  (our own OPML: published by a publish)
from publisher.sources import fetch, kinds

KINDS = DATA / "kinds"
BIN = Path(sys.executable).parent / "publisher"


def public_names(monkeypatch):
    """feeds.example.net resolves to a public address (no DNS in tests); other names do not resolve."""
    def lookup(host, port):
        if host == "feeds.example.net":
            return [(2, 1, 6, "", ("93.184.216.34", port))]
        raise OSError(f"[Errno -2] Name or service not known: {host}")
    monkeypatch.setattr(fetch, "getaddrinfo", lookup)


@pytest.mark.parametrize("name, kind", [
    ("subscriptions.opml", kinds.Kind.OPML), ("saved-page.html", kinds.Kind.HTML),
    ("sitemap.xml", kinds.Kind.MARKUP), ("feed-saved-as.txt", kinds.Kind.FEED),
])
def test_a_file_is_told_by_its_content_not_its_suffix(name, kind, tmp_path):
    data = (KINDS / name).read_bytes()
    assert kinds.sniff(name, data) == kind
    assert kinds.sniff("renamed.txt", data) == kind  # the suffix does not decide
    assert kinds.sniff("wire.txt", "KYIV: Ukraine's capital opened shelters <overnight>.\n".encode()) == "wire copy"


def test_an_opml_file_subscribes_to_its_feeds_once_and_never_to_our_own(project, monkeypatch):
    public_names(monkeypatch)
    before = project.config_path.read_text()
    project.add_source("subscriptions.opml", (KINDS / "subscriptions.opml").read_bytes())
    report = project.publish()
    (rep,) = report.sources
    assert rep.outcome == Outcome.SKIPPED and rep.stories == 0
    assert rep.reason == ("an OPML subscription list of 4 feeds: 2 feeds subscribed to (added to config.toml), "
                          "1 under our own base_url http://127.0.0.1:8080/, 1 refused (http://10.1.2.3/feed.xml: "
                          "not a public address (10.1.2.3: private))")
    config = project.config
    assert [(f.url, f.title) for f in config.feed_sources] == [
        ("https://feeds.example.net/world.xml", "World wire"), ("https://feeds.example.net/asia.atom", "Asia desk")]
    assert project.config_path.read_text().startswith(before)  # comments and layout kept
    assert project.publish().sources[0].outcome == Outcome.UNCHANGED  # once per content
    # the same outlines in another file: already subscribed, nothing added twice
    project.add_source("again.opml", (KINDS / "subscriptions.opml").read_bytes())
    rep = next(s for s in project.publish().sources if s.name == "again.opml")
    assert "0 feeds subscribed to, 2 already subscribed" in rep.reason
    assert len(project.config.feed_sources) == 2


def test_our_own_published_opml_dropped_into_sources_subscribes_to_nothing(project, seed):
    project.add_source("seed.txt", seed)
    project.publish()
    ours = (project.feeds / "feeds.opml").read_bytes()
    before = project.config_path.read_text()
    project.add_source("feeds.opml", ours)
    rep = next(s for s in project.publish().sources if s.name == "feeds.opml")
    assert rep.outcome == Outcome.SKIPPED and "0 feeds subscribed to" in rep.reason
    assert "under our own base_url" in rep.reason
    assert project.config_path.read_text() == before


def test_an_outline_on_a_configured_host_and_port_may_be_loopback(project, httpserver):
    configured = httpserver.url_for("/feed.xml")
    config_mod.add_feed(project.config_path, configured)
    other = httpserver.url_for("/other.xml")
    elsewhere = other.replace(f":{httpserver.port}/", f":{httpserver.port + 1}/")
    project.add_source("list.opml", f'<opml version="2.0"><body><outline xmlUrl="{other}"/>'
                                    f'<outline xmlUrl="{elsewhere}"/></body></opml>')
    (rep,) = project.publish().sources
    assert f"1 refused ({elsewhere}: not a public address (localhost resolves to " in rep.reason
    assert rep.reason.endswith(": loopback))")
    assert [f.url for f in project.config.feed_sources] == [configured, other]


@pytest.mark.parametrize("name, reason", [
    ("saved-page.html", "an HTML page, not wire copy or a feed"),
    ("sitemap.xml", "XML or other markup that is not a feed (root element <urlset>), not wire copy"),
])
def test_html_and_other_markup_are_skipped_with_the_reason(project, name, reason):
    project.add_source(name.replace(".", "-") + ".txt", (KINDS / name).read_bytes())  # whatever its name
    (rep,) = project.publish().sources
    assert rep.outcome == Outcome.SKIPPED and rep.reason.startswith(reason)
    assert b"<p>" not in (project.feeds / "all" / "atom.xml").read_bytes().replace(b"&lt;p&gt;", b"")
    assert "DOCTYPE" not in (project.feeds / "all" / "atom.xml").read_text()


def test_a_feed_saved_as_txt_is_read_as_a_feed(project):
    project.add_source("other.txt", (KINDS / "feed-saved-as.txt").read_bytes())
    (rep,) = project.publish().sources
    assert rep.outcome == Outcome.NEW and rep.stories == 1
    atom = (project.feeds / "all" / "atom.xml").read_text()
    assert "Kyiv metro stays open" in atom and "&lt;rss" not in atom


def run(project, *args):
    return subprocess.run([str(BIN), "--config", str(project.config_path), *args], capture_output=True, text=True,
                          timeout=60)


def test_classify_reads_a_feed_by_its_content_and_says_what_other_files_are(project, tmp_path):
    saved = tmp_path / "saved.txt"
    shutil.copy(KINDS / "feed-saved-as.txt", saved)
    proc = run(project, "classify", str(saved))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("1. Kyiv metro stays open\n") and "<rss" not in proc.stdout
    proc = run(project, "classify", str(KINDS / "saved-page.html"))
    assert proc.returncode == 0 and "skipped: an HTML page" in proc.stdout
    proc = run(project, "classify", str(KINDS / "subscriptions.opml"))
    assert proc.returncode == 0 and "skipped: an OPML subscription list" in proc.stdout
    assert project.config.feed_sources == ()  # a dry run subscribes to nothing
