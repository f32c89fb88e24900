"""The site as people use it: a running `publisher run`, a browser, feed readers, newsboat."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from urllib.parse import urljoin

import feedparser
import httpx
import lxml.html
import pytest

from conftest import SEED
from nginx_harness import free_port
from service_harness import FEEDS, service_config, write_atomically

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
NEWSBOAT = shutil.which("newsboat")



@pytest.fixture
def site(running, seed, tmp_path):
    """A running service whose base_url is where it serves, with the seed published."""
    service = running(config=service_config(tmp_path, port=free_port()))
    write_atomically(tmp_path / "sources" / SEED.name, seed)
    service.wait_for({"ukraine": 1, "taiwan-security": 4, "all": 5})
    return service


def test_the_front_page_autodiscovery_links_resolve_to_the_served_feeds(site):
    r = site.get("/")
    assert r.status_code == 200 and r.headers["content-type"] == "text/html; charset=utf-8"
    page = lxml.html.fromstring(r.text)
    links = page.xpath("//head/link[@rel='alternate']")
    assert len(links) == 3 * len(FEEDS)
    for link in links:
        url = urljoin(site.base + "/", link.get("href"))
        assert url.startswith(site.base + "/")
        feed = httpx.get(url)
        assert feed.status_code == 200, url
        assert feed.headers["content-type"] == f"{link.get('type')}; charset=utf-8", url
        if link.get("type") != "application/feed+json":
            assert feedparser.parse(feed.content).bozo == 0
    opml = httpx.get(urljoin(site.base + "/", page.xpath("//head/link[@rel='outline']/@href")[0]))
    assert opml.status_code == 200 and opml.headers["content-type"] == "text/x-opml; charset=utf-8"


def test_every_entry_link_resolves_to_a_page_showing_that_story(site):
    seen = set()
    for slug in FEEDS:
        for entry in site.entries(slug):
            r = httpx.get(entry.link)
            assert r.status_code == 200 and r.headers["content-type"] == "text/html; charset=utf-8"
            page = lxml.html.fromstring(r.text)
            assert page.xpath("//h1")[0].text_content() == entry.title
            assert page.xpath("//article//code")[-1].text_content() == entry.id
            seen.add(entry.id)
    assert len(seen) == 5
    json_feed = site.get("/all/feed.json").json()
    assert [i["id"] for i in json_feed["items"]] == [e.id for e in site.entries("all")]


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (make test installs Debian's chromium "
                                              "with apt-get when run as root)")
def test_a_browser_shows_the_headlines_on_the_front_page(site, tmp_path):
    from playwright.sync_api import sync_playwright

    expected = {slug: [e.title for e in site.entries(slug)] for slug in FEEDS}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        try:
            for width, height, scheme in ((1280, 900, "light"), (390, 844, "dark")):  # desktop, phone
                page = browser.new_page(viewport={"width": width, "height": height}, color_scheme=scheme)
                page.goto(site.base + "/")
                assert page.title() == "Publisher Wire"
                for slug in FEEDS:
                    section = page.locator(f"section#{slug}")
                    headlines = section.locator("ul.headlines li > a")
                    assert headlines.all_inner_texts() == expected[slug][:5]
                    for i in range(headlines.count()):
                        assert headlines.nth(i).is_visible()
                # nothing wider than the screen on a phone
                assert page.evaluate("document.documentElement.scrollWidth") <= width
                shot = tmp_path / f"front-{width}-{scheme}.png"
                page.screenshot(path=str(shot), full_page=True)
                assert shot.stat().st_size > 10_000
                # a headline leads to its story page
                first = page.locator("section#all ul.headlines li > a").first
                title = first.inner_text()
                first.click()
                page.wait_for_load_state()
                assert page.locator("h1").inner_text() == title
                page.close()
        finally:
            browser.close()


@pytest.mark.skipif(NEWSBOAT is None, reason="newsboat is not installed (make test installs it with apt-get when "
                                              "run as root)")
def test_newsboat_imports_the_opml_and_every_feed_has_its_entries(site, tmp_path):
    home = tmp_path / "newsboat"
    home.mkdir()
    opml = home / "feeds.opml"
    opml.write_bytes(site.get("/feeds.opml").content)
    urls, cache, config = home / "urls", home / "cache.db", home / "config"
    config.write_text("reload-threads 3\ndownload-timeout 10\n")
    env = dict(os.environ, HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_DATA_HOME=str(home / ".data"))
    common = ["-u", str(urls), "-c", str(cache), "-C", str(config)]
    imported = subprocess.run([NEWSBOAT, *common, "-i", str(opml)], capture_output=True, text=True, env=env,
                              timeout=60)
    assert imported.returncode == 0, imported.stderr
    assert sorted(line.split()[0] for line in urls.read_text().splitlines() if line.strip()) == sorted(
        f"{site.base}/{slug}/atom.xml" for slug in FEEDS)
    reloaded = subprocess.run([NEWSBOAT, *common, "-x", "reload"], capture_output=True, text=True, env=env,
                              timeout=120)
    assert reloaded.returncode == 0, reloaded.stderr
    with sqlite3.connect(cache) as db:
        titles = dict(db.execute("SELECT rssurl, title FROM rss_feed").fetchall())
        items = db.execute("SELECT guid, feedurl FROM rss_item").fetchall()
    assert titles == {f"{site.base}/{slug}/atom.xml": f"Publisher Wire: {label}" for slug, label in (
        ("ukraine", "Ukraine"), ("taiwan-security", "Taiwan security"), ("all", "All stories"))}  # all fetched
    # newsboat keeps one copy of an article by its id: each story once, though it is in a topic
    # feed and the merged feed (the same id in both, as a reader should see it)
    assert sorted(guid for guid, _ in items) == sorted(e.id for e in site.entries("all"))
    served = {f"{site.base}/{slug}/atom.xml": {e.id for e in site.entries(slug)} for slug in FEEDS}
    assert all(guid in served[url] for guid, url in items)  # each filed under a feed that has it
