"""The site as people use it: a running `publisher run`, a browser, feed readers, newsboat."""

from __future__ import annotations

import html
import json
import os
import random
import re
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path
from urllib.parse import urljoin

import feedparser
import httpx
import lxml.etree
import lxml.html
import pytest

from conftest import NOW, SEED
from publisher.model import Icon
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
            assert page.xpath("//h1")[0].text_content().startswith(entry.title.removesuffix("…"))  # (whole)
            assert page.xpath("//article//code")[-1].text_content() == entry.id
            seen.add(entry.id)
    assert len(seen) == 5
    json_feed = site.get("/all/feed.json").json()
    assert [i["id"] for i in json_feed["items"]] == [e.id for e in site.entries("all")]


# A story of the ukraine topic with a headline of 300 characters (the feeds cut it at 140), a
# long URL and a long word; then a revision of it (two figures changed).
LONG_STORY = (
    "KYIV (Wire) - Ukraine's energy ministry said on Tuesday that Russian missiles and drones had struck power "
    "plants, substations and gas facilities in the Kyiv, Kharkiv, Odesa and Dnipropetrovsk regions overnight, "
    "cutting electricity to about 300,000 homes while repair crews worked through the night in freezing "
    "temperatures.\n"
    "Zelensky said Ukrainian air defences shot down 40 of the 58 drones launched at Ukraine, and called on allies "
    "to send more air defence systems before the winter.\n"
    "The ministry published its list of outages at https://energy.example.gov.ua/outages/2026/11/24/"
    "kyiv-kharkiv-odesa-dnipropetrovsk-regions/full-list-of-affected-districts-and-substations.html for residents.\n"
    "Engineers named the damaged transformer the Kyivoblenerhotransformatorpidstantsiiarekonstruktsiia unit in "
    "their report.\n")
LONG_STORY_REVISED = LONG_STORY.replace("about 300,000", "about 400,000").replace("40 of the 58", "45 of the 58")
VIEWS = ((1280, 900, "light"), (390, 844, "light"), (390, 844, "dark"))  # desktop, phone, phone at night
# every icon the page links to, as the browser decodes it: (href, width, height)
DECODED_ICONS = """async () => Promise.all([...document.querySelectorAll("link[rel~=icon]")].map(async link => {
    const image = new Image(); image.src = link.href; await image.decode();
    return [link.getAttribute("href"), image.naturalWidth, image.naturalHeight]; }))"""


def revised_story(site, tmp_path) -> str:
    """LONG_STORY published, then its revision; the URL of its page."""
    write_atomically(tmp_path / "sources" / "long-1.txt", LONG_STORY.encode())
    site.wait_for({"ukraine": 2, "taiwan-security": 4, "all": 6})
    (entry,) = [e for e in site.entries("ukraine") if e.title.startswith("Ukraine's energy ministry")]
    write_atomically(tmp_path / "sources" / "long-2.txt", LONG_STORY_REVISED.encode())
    deadline = time.monotonic() + 10
    while "<del>40</del>" not in httpx.get(entry.link).text:
        assert time.monotonic() < deadline, f"the revision was not published; log:\n{site.log_text()}"
        time.sleep(0.05)
    return entry.link


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (make test installs Debian's chromium "
                                              "with apt-get when run as root)")
def test_a_browser_shows_the_headlines_on_the_front_page(site, tmp_path):
    """The front page, a topic page and a story page (a headline of 300 characters, a long URL
    and word, a revision history) in Chromium, 1280 and 390 pixels wide (and 390 in dark mode),
    served by `publisher run`: every headline shown, the whole one on the story page, nothing
    wider than the screen, the favicon loaded. The screenshots are kept in the test's tmp dir:
    <basetemp>/test_a_browser_shows_the_headl0/screenshots/<page>-<width>-<scheme>.png (pytest
    keeps the last three basetemps, /tmp/pytest-of-$USER/pytest-N; choose one with --basetemp)."""
    from playwright.sync_api import sync_playwright

    story_url = revised_story(site, tmp_path)
    expected = {slug: [e.title for e in site.entries(slug)] for slug in FEEDS}
    (story,) = [e for e in site.entries("ukraine") if e.link == story_url]
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        try:
            for width, height, scheme in VIEWS:
                page = browser.new_page(viewport={"width": width, "height": height}, color_scheme=scheme)
                def look(name: str, path: str, root: str) -> None:
                    """The page as shown: no script, no horizontal scrolling, its icons (`root`: the
                    path from it to the front page) decoded; a screenshot."""
                    r = page.goto(path if path.startswith("http") else site.base + path)
                    assert r.status == 200 and page.locator("script").count() == 0, path
                    assert page.evaluate("document.documentElement.scrollWidth") <= width, (name, width)
                    assert sorted(map(tuple, page.evaluate(DECODED_ICONS))) == [  # from our server, decoded
                        (f"{root}{Icon.ICO.filename}", 48, 48), (f"{root}{Icon.SVG.filename}", 64, 64)]
                    shot = shots / f"{name}-{width}-{scheme}.png"
                    page.screenshot(path=str(shot), full_page=True)
                    assert shot.stat().st_size > 10_000

                # the browser asks for the page's favicon (a request of its own, after the page
                # loaded), and is given it
                favicon = f"{site.base}/{Icon.SVG.filename}"
                with page.expect_response(lambda r: r.url == favicon and r.request.resource_type == "other") as icon:
                    look("front", "/", "")
                assert icon.value.status == 200 and icon.value.headers["content-type"] == "image/svg+xml"
                assert page.title() == "Publisher Wire"
                for slug in FEEDS:
                    section = page.locator(f"section#{slug}")
                    headlines = section.locator("ul.headlines li > a")
                    assert headlines.all_inner_texts() == expected[slug][:5]
                    for i in range(headlines.count()):
                        assert headlines.nth(i).is_visible()
                # a headline leads to its story page, which shows the whole headline
                first = page.locator("section#all ul.headlines li > a").first
                title = first.inner_text()
                first.click()
                page.wait_for_load_state()
                assert page.locator("h1").inner_text().startswith(title.removesuffix("…"))

                look("topic", "/ukraine/", "../")
                assert page.locator("ul.stories li > a").all_inner_texts() == expected["ukraine"]
                look("story", story_url, "../")
                headline = page.locator("article h1")
                assert headline.inner_text().startswith(story.title.removesuffix("…")) and len(story.title) <= 140
                assert len(headline.inner_text()) > 280 and headline.is_visible()
                history = page.locator("section#history .version")
                assert history.locator("del").all_inner_texts() == ["300,000", "40"]
                assert history.locator("ins").all_inner_texts() == ["400,000", "45"]
                page.close()
        finally:
            browser.close()
    assert sorted(p.name for p in shots.iterdir()) == sorted(
        f"{name}-{width}-{scheme}.png" for name in ("front", "topic", "story") for width, _, scheme in VIEWS)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (make test installs Debian's chromium "
                                              "with apt-get when run as root)")
def test_a_browser_searches_from_the_box_and_sees_the_matches_marked(site, tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        try:
            for width, height, scheme in ((1280, 900, "light"), (390, 844, "dark")):  # desktop, phone
                page = browser.new_page(viewport={"width": width, "height": height}, color_scheme=scheme)
                blocked = []
                page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
                page.goto(site.base + "/")
                box = page.locator("form.search input[name=q]")
                assert box.is_visible()
                box.fill("Taiwan")
                box.press("Enter")  # a plain GET form: no script
                page.wait_for_load_state()
                assert page.url == site.base + "/search?q=Taiwan" and not blocked, blocked
                results = page.locator("ol.results > li")
                assert results.count() == len(site.get("/search?q=Taiwan").text.split("<li>")) - 1 >= 2
                marks = page.locator("ol.results mark")
                assert marks.count() >= 2 and {m.lower() for m in marks.all_inner_texts()} == {"taiwan"}
                assert marks.first.is_visible()
                assert page.locator("form.search input[name=q]").input_value() == "Taiwan"
                assert page.evaluate("document.documentElement.scrollWidth") <= width  # nothing wider than the screen
                shot = tmp_path / f"search-{width}-{scheme}.png"
                page.screenshot(path=str(shot), full_page=True)
                assert shot.stat().st_size > 10_000
                # a result leads to its story page
                first = results.first.locator("a").first
                title = first.inner_text()
                first.click()
                page.wait_for_load_state()
                # (the story page shows the whole headline; a result, as the feeds, the one cut at 140)
                assert page.locator("h1").inner_text().startswith(title.rstrip("…").rstrip())
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


# -- no script in any link we write (issue 14, item 5) ---------------------------------------

_WORDS = ("harbour council budget river bridge school teachers parents village bakery morning evening "
          "museum library garden tram station market farmers weather autumn orchard factory workers "
          "ferry island lighthouse mayor square fountain concert choir painter statue clinic nurses").split()


def kyiv_story(n: int) -> tuple[str, str]:
    """A title and a text in the ukraine topic, unlike every other n's (no two are versions)."""
    words = random.Random(n).choices(_WORDS, k=30)
    return f"Kyiv report {n}", (f"Russian missiles struck Kyiv and Kharkiv overnight, Ukraine said; Zelensky said "
                                f"Ukrainian air defences shot down drones over Kyiv. {' '.join(words)}.")


def rss_file(n: int, title: str | None, link: str | None = None, item_link: str | None = None,
             content: str = "") -> bytes:
    head, text = kyiv_story(n)
    channel = (f"<title>{html.escape(title)}</title>" if title else "") + (
        f"<link>{html.escape(link)}</link>" if link else "")
    item = f"<link>{html.escape(item_link)}</link>" if item_link else ""
    body = html.escape(f"<p>{text}</p>{content}")
    return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>{channel}<item><title>{head}</title>'
            f"{item}<guid>g{n}</guid><description>{body}</description></item></channel></rss>").encode()


def atom_file(n: int, feed_id: str, link: str, entry_link: str) -> bytes:
    head, text = kyiv_story(n)
    return (f'<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Evil Atom</title>'
            f"<id>{html.escape(feed_id)}</id><link href=\"{html.escape(link)}\"/><updated>2026-11-24T09:00:00Z</updated>"
            f"<entry><id>tag:evil.example,2026:{n}</id><title>{head}</title><updated>2026-11-24T09:00:00Z</updated>"
            f"<link href=\"{html.escape(entry_link)}\"/><content type=\"html\">{html.escape(f'<p>{text}</p>')}</content>"
            "</entry></feed>").encode()


def json_file(n: int, home: str, url: str, content: str) -> bytes:
    head, text = kyiv_story(n)
    return json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "Evil JSON", "home_page_url": home,
                       "feed_url": home, "items": [{"id": f"j{n}", "url": url, "title": head,
                                                    "content_html": f"<p>{text}</p>{content}"}]}).encode()


HOSTILE_CONTENT = ('<p><a href="JaVaScRiPt:alert(1)">a</a> <a href=" javascript:alert(2)">b</a> '
                   '<a href="java&#9;script:alert(3)">c</a> <img src="data:image/svg+xml,&lt;svg onload=alert(4)&gt;"> '
                   '<a href="vbscript:msgbox(5)">d</a></p>')

# file name -> document: schemes in file names (a feed file without a link is named by its
# file), in the feeds' links, their entries' links and their content
HOSTILE_FILES = {
    "javascript:alert(document.domain).xml": rss_file(1, "Evil"),
    "JaVaScRiPt:alert(1).rss": rss_file(2, "Evil RSS", link="JaVaScRiPt:alert(2)", item_link=" javascript:alert(3)",
                                        content=HOSTILE_CONTENT),
    " javascript:alert(1).xml": rss_file(3, None, link="java\tscript:alert(1)"),
    "java\tscript:alert(1).xml": rss_file(4, "Evil tab"),
    "vbscript:msgbox(1).xml": rss_file(5, None, item_link="vbscript:msgbox(2)"),
    "data:text;html,x.atom": atom_file(6, "javascript:alert(1)", "data:text/html,x", "JaVaScRiPt:alert(2)"),
    "data:application;json,x.json": json_file(7, "vbscript:msgbox(1)", "data:text/html,x", HOSTILE_CONTENT),
}
_SCRIPTISH = re.compile(r"(?i)^(?:java|vb)script:|^data:")
_HTML_IN_XML = ("content", "summary", "description", "{http://purl.org/rss/1.0/modules/content/}encoded")


def _links_in_html(fragment: str) -> list[str]:
    if not fragment.strip():
        return []
    tree = lxml.html.fromstring(fragment) if fragment.lstrip().startswith("<!") else lxml.html.fragment_fromstring(
        fragment, create_parent="div")
    return [str(v) for v in tree.xpath("//@href | //@src | //@action | //@formaction | //@poster")]


def written_links(feeds: Path) -> dict[str, list[str]]:
    """Every link value in every output file (pages, Atom, RSS, JSON Feed, OPML), with the links
    inside the HTML content the feeds carry; and the ids of the Atom feeds (readers link some)."""
    out = {}
    for path in sorted(p for p in feeds.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if path.suffix in (".png", ".ico"):  # the icons: pictures, no links
            links = []
        elif path.suffix == ".html":
            links = _links_in_html(data.decode())
        elif path.suffix == ".json":
            links = []

            def walk(value, key=""):
                if isinstance(value, dict):
                    for k, v in value.items():
                        walk(v, k)
                elif isinstance(value, list):
                    for v in value:
                        walk(v, key)
                elif key.endswith("url") or key in ("icon", "favicon", "image", "banner_image"):
                    links.append(value)
                elif key == "content_html":
                    links.extend(_links_in_html(value))
            walk(json.loads(data))
        else:  # Atom, RSS, OPML
            root = lxml.etree.fromstring(data)
            links = [v for el in root.iter() for k, v in el.attrib.items() if k in ("href", "src", "url", "xmlUrl", "htmlUrl")]
            for el in root.iter():
                name = lxml.etree.QName(el).localname if isinstance(el.tag, str) else ""
                if name in ("link", "comments", "docs", "id", "icon", "logo", "url") and el.text:
                    links.append(el.text.strip())
                if el.tag in _HTML_IN_XML or name in _HTML_IN_XML:
                    links.extend(_links_in_html(el.text or ""))
        out[path.relative_to(feeds).as_posix()] = links
    return out


def test_no_output_file_links_a_script_from_a_file_name_or_a_hostile_feed(project):
    for name, data in HOSTILE_FILES.items():
        project.add_source(name, data)
    report = project.publish()
    assert report.problems() == [] and sum(s.new for s in report.sources) == len(HOSTILE_FILES), report.summary()
    assert len(list((project.feeds / "stories").iterdir())) == len(HOSTILE_FILES)  # each has a page
    links = written_links(project.feeds)
    assert len(links) > 10 and sum(map(len, links.values())) > 100  # it did look at every file
    bad = {f: [u for u in us if _SCRIPTISH.match(re.sub(r"[\x00-\x20]", "", u))] for f, us in links.items()}
    assert {f: us for f, us in bad.items() if us} == {}
    for path, urls in links.items():  # what is linked is http(s), or a path between our pages
        hrefs = [u for u in urls if not u.startswith(("http://", "https://", "tag:", "urn:"))]
        ours = r"(\.\./)*([a-z0-9-]+/)*([a-z0-9-]+\.(html|opml|svg|ico))?"
        assert all(re.fullmatch(ours, u) for u in hrefs), (path, hrefs)
    # the feed file of the issue: no link of its own, so its page names it as text
    page = next(p for p in (project.feeds / "stories").iterdir() if p.name.startswith("kyiv-report-1-"))
    (source,) = [p for p in lxml.html.fromstring(page.read_text()).xpath("//p[@class='meta']")
                 if p.text_content().startswith("From ")]
    assert source.text_content() == "From Evil" and source.xpath(".//a") == []



# -- the order of writes: feeds first, the front page last (issue 14, item 10) ---------------

FEED_FILES = ("atom.xml", "rss.xml", "feed.json")
ICON_FILES = tuple(icon.filename for icon in Icon)


def desk_sources(project, *numbers: int) -> None:
    for n in numbers:
        project.add_source(f"desk-{n}.xml", rss_file(n, "Desk", link="https://desk.example/",
                                                     item_link=f"https://desk.example/{n}"))


def record_writes(monkeypatch, feeds: Path) -> list[str]:
    """The files publisher.atomic writes, in order, as paths under feeds/."""
    from publisher import atomic

    written: list[str] = []
    write = atomic.write

    def recording(path, data, **kw):
        write(path, data, **kw)
        written.append(Path(path).relative_to(feeds).as_posix())
    monkeypatch.setattr(atomic, "write", recording)
    return written


def kind(path: str) -> str:
    if path in ICON_FILES:
        return "icon"
    if path.endswith(FEED_FILES):
        return "feed"
    if path.startswith("stories/"):
        return "story page"
    return {"index.html": "front page", "feeds.opml": "opml"}.get(path, "feed page")


def missing_links(project, page_kinds=("story page", "feed page", "opml", "front page"), to=None) -> dict:
    """Links from the written pages (HTML and OPML) to files of ours that do not exist."""
    base = project.config.site.base_url
    out = {}
    for path, urls in written_links(project.feeds).items():
        if kind(path) not in page_kinds:
            continue
        targets = []
        for url in urls:
            if url.startswith(base):
                target = url[len(base):]
            elif url.startswith(("http://", "https://", "tag:", "urn:")):
                continue  # someone else's site
            else:
                target = os.path.normpath(Path(path).parent / url)
                target = "" if target == "." else target + "/" if url.endswith("/") or url == "" else target
            target = target + "index.html" if target == "" or target.endswith("/") else target
            if (to is None or kind(target) in to) and not (project.feeds / target).is_file():
                targets.append(target)
        if targets:
            out[path] = targets
    return out


def test_a_publish_writes_the_feeds_first_then_the_pages_and_the_front_page_last(project, monkeypatch):
    written = record_writes(monkeypatch, project.feeds)
    order = ["icon", "feed", "story page", "feed page", "opml", "front page"]
    for n, numbers in enumerate([(1, 2), (3,)]):  # a first publish, then one with a new story
        desk_sources(project, *numbers)
        written.clear()
        assert project.publish().problems() == []
        kinds = [kind(p) for p in written]
        assert "story page" in kinds and kinds == sorted(kinds, key=order.index), written
        assert written[-1] == "index.html"
    assert missing_links(project) == {}  # once all is written, every link of every page resolves
    assert missing_links(project, page_kinds=("feed",), to=("icon",)) == {}  # and the feeds' icons and logo


def test_a_first_publish_stopped_while_writing_its_feeds_leaves_no_page_linking_to_a_missing_file(project, monkeypatch):
    from publisher.publish import publish

    desk_sources(project, 1, 2)
    written = record_writes(monkeypatch, project.feeds)
    # SIGTERM arrives while the feeds are written: the stop is polled at the next boundary
    report = publish(project.config, NOW, stop=lambda: any(p.endswith(FEED_FILES) for p in written))
    assert report.interrupted and written and all(kind(p) in ("icon", "feed") for p in written), written
    assert missing_links(project) == {}
    assert not (project.feeds / "index.html").exists()
    assert project.publish().problems() == [] and missing_links(project) == {}  # the next run writes the rest


def test_wherever_a_first_publish_stops_no_page_offers_a_feed_that_does_not_exist(project, monkeypatch):
    from publisher.publish import publish

    polls = []
    desk_sources(project, 1, 2)
    publish(project.config, NOW, stop=lambda: polls.append(1) and False)  # how often stop is asked
    assert len(polls) >= 6  # between files, feeds, page batches and steps
    for k in range(1, len(polls) + 1):
        shutil.rmtree(project.feeds, ignore_errors=True)  # a first publish again
        project.database.unlink(missing_ok=True)
        asked = []
        report = publish(project.config, NOW, stop=lambda: asked.append(1) is None and len(asked) >= k)
        assert report.interrupted
        assert missing_links(project, to=("feed",)) == {}, k
        assert not (project.feeds / "index.html").exists(), k  # the front page comes once all it lists exists
