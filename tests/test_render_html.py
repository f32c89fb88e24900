"""render/html.py: the front page, feed pages and story pages, from plain data."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import lxml.html
import pytest

from conftest import DATA
from publisher.model import (Arrival, Category, Enclosure, Entry, FeedSpec, ItemMeta, Origin, Person,
                             PublishedVersion, StoryPage)
from publisher.render import html as html_module
from publisher.render.html import SiteInfo, feed_page, index_page, story_page, word_diff

T0 = datetime(2026, 11, 24, 9, 12, tzinfo=UTC)
T1 = T0 + timedelta(hours=30, minutes=14)
SITE = SiteInfo(title="Test Wire", description="Wire copy by topic", base_url="https://news.example/feeds/",
                language="en")
HOSTILE = "Police said <script>alert('x')</script> & ]]> appeared\x07 on the site\x00 on Monday."


def entry(n: int, title: str = "", paragraphs=("Text.",), published=T0, updated=None, **kw) -> Entry:
    return Entry(entry_id=f"tag:news.example,2026:story/{n:024x}", name=f"story-{n}", title=title or f"Story {n}",
                 paragraphs=tuple(paragraphs), published=published, updated=updated or published, **kw)


def spec(slug: str, label: str, entries=(), total=None) -> FeedSpec:
    return FeedSpec(slug=slug, title=f"Test Wire: {label}", feed_id=f"tag:news.example,2026:feed/{slug}",
                    base_url=SITE.base_url, author="Desk", language="en", subtitle=f"{label} stories",
                    updated=T1, entries=tuple(entries), total=len(entries) if total is None else total, label=label)


def doc(data: bytes):
    return lxml.html.fromstring(data.decode("utf-8"))


# -- word_diff ---------------------------------------------------------------------------------

CASES = sorted((DATA / "diff").glob("*.json"))


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_word_diff_marks_the_changed_words(path: Path):
    case = json.loads(path.read_text())
    assert word_diff(case["old"], case["new"]) == [[tuple(s) for s in p] for p in case["expected"]]


def test_word_diff_of_the_same_text_marks_nothing():
    assert word_diff("a b c\nd e", "a b c\nd e") == [[("equal", "a b c")], [("equal", "d e")]]


def test_word_diff_of_long_versions_goes_paragraph_by_paragraph_within_its_budget():
    old = [f"Line {i} of the grid was repaired." for i in range(60)]
    new = old[:10] + ["Line 10 of the grid was not repaired."] + old[11:50] + ["A new line."] + old[50:]
    budget = 100  # 420 x 428 words: far over, so paragraph by paragraph; 7 x 7 for the changed one
    got = word_diff("\n".join(old), "\n".join(new), budget)
    assert got[:10] == [[("equal", p)] for p in old[:10]]
    assert got[10] == [("equal", "Line 10 of the grid was"), ("insert", "not"), ("equal", "repaired.")]
    assert got[50] == [("insert", "A new line.")] and len(got) == 61
    # out of budget, a changed paragraph is deleted and inserted whole
    assert word_diff("\n".join(old), "\n".join(new), 10)[10:12] == [
        [("delete", "Line 10 of the grid was repaired.")], [("insert", "Line 10 of the grid was not repaired.")]]
    # within the budget, word by word as ever
    assert word_diff("a b c\nd e", "a b x\nd e", 100) == word_diff("a b c\nd e", "a b x\nd e")


# -- story pages -------------------------------------------------------------------------------

def revised_page() -> StoryPage:
    first = PublishedVersion(seen_at=T0, title="Kharkiv strike", paragraphs=("A strike killed 2 people.", "More later."))
    second = PublishedVersion(seen_at=T1, title="Kharkiv strike", paragraphs=("A strike killed 3 people.", "More later."))
    current = entry(7, "Kharkiv strike", second.paragraphs, published=T0, updated=T1)
    return StoryPage(entry_id=current.entry_id, name=current.name, published=T0, updated=T1, topics=("ukraine",),
                     entry=current, history=(first, second),
                     arrivals=(Arrival("2026-11-24.txt", 3, 4, T0, "new"), Arrival("2026-11-25.txt", 1, 2, T1, "revision")))


FEEDS = [spec("ukraine", "Ukraine"), spec("taiwan-security", "Taiwan security"), spec("all", "All stories")]


def test_a_revised_story_page_shows_its_history_with_the_changed_figure_marked():
    page = doc(story_page(SITE, revised_page(), FEEDS))
    assert page.xpath("//h1")[0].text_content() == "Kharkiv strike"
    history = page.xpath("//section[@id='history']")[0]
    assert [h.text_content() for h in history.xpath(".//h3")] == [
        "Version 1 · 24 Nov 2026, 09:12 UTC", "Version 2 · 25 Nov 2026, 15:26 UTC (current)"]
    assert [d.text_content() for d in history.xpath(".//div[@class='version']//del")] == ["2"]
    assert [i.text_content() for i in history.xpath(".//div[@class='version']//ins")] == ["3"]
    note = page.xpath("//p[@class='note']")[0].text_content()
    assert note == "Updated: 25 Nov 2026, 15:26 UTC (first published 24 Nov 2026, 09:12 UTC)."


def test_a_story_page_shows_its_whole_headline_where_the_feeds_cut_it():
    whole = "Kharkiv strike: the regional governor said " + "that the repairs would take weeks, " * 6 + "not days"
    page = doc(story_page(SITE, replace(revised_page(), headline=whole), FEEDS))
    assert page.xpath("//h1")[0].text_content() == whole and len(whole) > 200
    assert page.xpath("//title")[0].text_content() == f"{whole} · Test Wire"
    # without one (a page built before it had one), the entry's title
    assert doc(story_page(SITE, revised_page(), FEEDS)).xpath("//h1")[0].text_content() == "Kharkiv strike"


@pytest.mark.parametrize("source_date, shown", [
    (None, "First seen 24 Nov 2026, 09:12 UTC · updated"),
    (T0, "Published 24 Nov 2026, 09:12 UTC · updated"),  # the same minute: said once
    (T0 - timedelta(hours=2), "Published 24 Nov 2026, 07:12 UTC · first seen 24 Nov 2026, 09:12 UTC · updated"),
])
def test_a_story_page_gives_its_sources_date_and_when_it_was_first_seen_if_another_minute(source_date, shown):
    page = revised_page()
    page = replace(page, entry=replace(page.entry, source_published=source_date))
    assert doc(story_page(SITE, page, FEEDS)).xpath("//article/p[@class='meta']")[0].text_content().startswith(shown)


def test_a_revised_story_page_has_one_published_date_and_the_revision_as_updated():
    page = revised_page()  # first seen T0, revised T1; its source dates it two days before T0
    page = replace(page, entry=replace(page.entry, source_published=T0 - timedelta(days=2)))
    article = doc(story_page(SITE, page, FEEDS)).xpath("//article")[0]
    text = " ".join(article.text_content().split())
    assert article.xpath("p[@class='meta']")[0].text_content().startswith(
        "Published 22 Nov 2026, 09:12 UTC · first seen 24 Nov 2026, 09:12 UTC · updated 25 Nov 2026, 15:26 UTC")
    assert article.xpath("p[@class='note']")[0].text_content() == \
        "Updated: 25 Nov 2026, 15:26 UTC (first published 22 Nov 2026, 09:12 UTC)."
    # every date called published is the one published date; the first version is when it was seen
    assert set(re.findall(r"[Pp]ublished (\d+ \w+ \d{4}, \d\d:\d\d UTC)", text)) == {"22 Nov 2026, 09:12 UTC"}
    assert "Version 1 · 24 Nov 2026, 09:12 UTC First seen." in text and "First published" not in text


def test_a_story_page_says_when_it_was_seen_where_it_came_from_and_its_topics():
    page = doc(story_page(SITE, revised_page(), FEEDS))
    sources = [li.text_content() for li in page.xpath("//section[@id='sources']//li")]
    assert sources == ["2026-11-24.txt, lines 3–4, read 24 Nov 2026, 09:12 UTC: first seen here",
                       "2026-11-25.txt, lines 1–2, read 25 Nov 2026, 15:26 UTC: a revised version"]
    assert page.xpath("//time/@datetime")[:2] == ["2026-11-24T09:12:00Z", "2026-11-25T15:26:00Z"]
    assert [(a.text, a.get("href")) for a in page.xpath("//nav//a")] == [("Test Wire", "../"), ("Ukraine", "../ukraine/")]


def test_a_story_never_revised_has_no_history_and_no_note():
    e = entry(1, "Once", ("Only text.",))
    page = doc(story_page(SITE, StoryPage(e.entry_id, e.name, T0, T0, ("ukraine",), e,
                                          history=(PublishedVersion(T0, "Once", ("Only text.",)),)), FEEDS))
    assert not page.xpath("//section[@id='history']") and not page.xpath("//p[@class='note']")


def test_a_retracted_story_page_says_so_with_the_reason_and_keeps_no_text():
    page = StoryPage(entry_id="tag:news.example,2026:story/abc", name="secret-abc", published=T0, updated=T0,
                     topics=("ukraine",), entry=None, retracted_at=T1, retract_reason="wrong <file>")
    data = story_page(SITE, page, FEEDS)
    text = doc(data).xpath("//p[@class='note']")[0].text_content()
    assert text.startswith("This story was retracted on 25 Nov 2026, 15:26 UTC: wrong <file>.")
    assert b"wrong &lt;file&gt;" in data


def test_hostile_story_text_is_shown_as_text_never_as_markup():
    e = entry(9, "ALERT <script>alert(1)</script> & ]]>\x07", (HOSTILE,))
    data = story_page(SITE, StoryPage(e.entry_id, e.name, T0, T0, ("ukraine",), e), FEEDS)
    page = doc(data)
    assert page.xpath("//script") == []
    assert page.xpath("//h1")[0].text_content() == "ALERT <script>alert(1)</script> & ]]>"
    body = page.xpath("//article/p")[1].text_content()
    assert body == "Police said <script>alert('x')</script> & ]]> appeared on the site on Monday."
    assert b"\x07" not in data and b"\x00" not in data


def test_pages_are_the_same_bytes_every_time():
    assert story_page(SITE, revised_page(), FEEDS) == story_page(SITE, revised_page(), FEEDS)
    feeds = [spec("ukraine", "Ukraine", [entry(1)])]
    assert index_page(SITE, feeds) == index_page(SITE, feeds)


# -- the front page and feed pages -------------------------------------------------------------

def test_the_front_page_has_every_feed_with_headlines_counts_and_subscribe_links():
    ukraine = [entry(i, f"Ukraine story {i}") for i in range(7, 0, -1)]
    feeds = [spec("ukraine", "Ukraine", ukraine, total=12), spec("taiwan-security", "Taiwan security"),
             spec("all", "All stories", ukraine, total=12)]
    page = doc(index_page(SITE, feeds))
    sections = page.xpath("//section[@class='feed']")
    assert [s.get("id") for s in sections] == ["ukraine", "taiwan-security", "all"]
    first = sections[0]
    assert [a.text_content() for a in first.xpath(".//ul/li/a")] == [f"Ukraine story {i}" for i in range(7, 2, -1)]
    assert first.xpath(".//ul/li/a/@href")[0] == "stories/story-7.html"
    assert "12 stories" in first.xpath(".//p[@class='meta']")[0].text_content()
    assert first.xpath(".//span[@class='subscribe']/a/@href") == [
        "https://news.example/feeds/ukraine/atom.xml", "https://news.example/feeds/ukraine/rss.xml",
        "https://news.example/feeds/ukraine/feed.json"]
    assert sections[1].xpath(".//p[@class='meta']")[-1].text_content() == "No stories yet."
    assert page.xpath("//a[text()='OPML']/@href") == ["feeds.opml", "feeds.opml"]


def test_the_front_page_head_has_autodiscovery_links_for_every_feed_and_format():
    page = doc(index_page(SITE, FEEDS))
    links = [(l.get("type"), l.get("href")) for l in page.xpath("//head/link[@rel='alternate']")]
    assert links == [(t, f"https://news.example/feeds/{slug}/{f}") for slug in ("ukraine", "taiwan-security", "all")
                     for f, t in (("atom.xml", "application/atom+xml"), ("rss.xml", "application/rss+xml"),
                                  ("feed.json", "application/feed+json"))]
    assert page.xpath("//meta[@name='viewport']") and page.xpath("//meta[@name='color-scheme']/@content") == [
        "light dark"]
    assert b"prefers-color-scheme: dark" in index_page(SITE, FEEDS)


def test_a_feed_page_lists_every_entry_with_its_summary_and_only_its_own_autodiscovery():
    entries = [entry(2, "Second", ("Two.",), updated=T1), entry(1, "First", ("One.",))]
    page = doc(feed_page(SITE, spec("ukraine", "Ukraine", entries), FEEDS))
    assert [a.text_content() for a in page.xpath("//ul[@class='stories']/li/a")] == ["Second", "First"]
    assert page.xpath("//ul[@class='stories']/li/a/@href") == ["../stories/story-2.html", "../stories/story-1.html"]
    assert [b.text_content() for b in page.xpath("//span[@class='badge']")] == ["updated"]
    assert len(page.xpath("//head/link[@rel='alternate']")) == 3


def test_a_feed_page_line_under_each_headline_is_the_rest_of_its_lede_not_the_headline_again():
    headline = "The US will soon provide Ukraine with antipersonnel land mines"
    lede = f"{headline}, a US official said late on Tuesday, to shore up its defences against Russian forces."
    entries = [entry(1, headline, (lede, "More.")), entry(2, "Grid holds", ("The grid held.",))]
    page = doc(feed_page(SITE, spec("ukraine", "Ukraine", entries), FEEDS))
    items = page.xpath("//ul[@class='stories']/li")
    assert items[0].xpath("p")[0].text_content() == ("…a US official said late on Tuesday, to shore up its "
                                                     "defences against Russian forces.")
    assert [p.text_content() for p in items[1].xpath("p")] in ([], [""])  # nothing more than its headline


# -- links: every href and src through safe_link ----------------------------------------------

TEMPLATES = Path(html_module.__file__).parent / "templates"


def test_every_href_and_src_in_the_templates_goes_through_the_link_filters():
    # one rule for every link (render.text.safe_link): an attribute is a plain path of ours, or
    # exactly one expression ending in |href (links we build) or |web (values from outside)
    seen = 0
    for template in sorted(TEMPLATES.iterdir()):
        for m in re.finditer(r"""\b(?:href|src)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", template.read_text()):
            value = next(v for v in m.groups() if v is not None)
            literal = "{" not in value and ":" not in value
            assert literal or re.fullmatch(r"\{\{[^{}]*\|(?:href|web) \}\}", value), f"{template.name}: {value}"
            seen += 1
    assert seen >= 15  # the pattern does find the templates' links


HOSTILE_ORIGINS = [
    Origin(feed_title="Evil", feed_link=None, feed_id="javascript:alert(document.domain).xml",
           feed_url="javascript:alert(document.domain).xml", item_id="x1"),
    Origin(feed_title="Evil", feed_link="JaVaScRiPt:alert(1)", feed_id="e", feed_url=" javascript:alert(1)",
           item_id="x1", link="java\tscript:alert(1)"),
    Origin(feed_title="Evil", feed_link="vbscript:msgbox(1)", feed_id="e", feed_url="data:text/html,<b>x",
           item_id="x1", link="data:text/html;base64,PHNjcmlwdD4="),
    Origin(feed_title="wire-feed.xml", feed_link=None, feed_id="wire-feed.xml", feed_url="wire-feed.xml", item_id="x1"),
]


@pytest.mark.parametrize("origin", HOSTILE_ORIGINS)
def test_a_source_without_a_web_link_is_named_as_text_not_linked(origin):
    e = entry(3, "Kyiv strike", origin=origin)
    data = story_page(SITE, StoryPage(e.entry_id, e.name, T0, T0, ("ukraine",), e), FEEDS)
    page = doc(data)
    meta = [p for p in page.xpath("//p[@class='meta']") if p.text_content().startswith("From ")]
    assert [p.text_content() for p in meta] == [f"From {origin.feed_title}"]
    assert meta[0].xpath(".//a") == []
    links = page.xpath("//@href | //@src")
    assert all(not re.match(r"(?i)[a-z][a-z0-9+.-]*:", u) or u.startswith("https://") for u in links), links


# -- the front page as a reader opens it ----------------------------------------------------------

def test_each_front_page_headline_has_a_line_that_does_not_repeat_it_where_it_came_from_and_a_badge():
    lede = ("The premier said that security would be tightened in transport hubs, while the president "
            "thanked the public for their calm")
    wire = entry(1, "PUBLIC SAFETY: The premier said that security would be tightened in transport hubs",
                 [lede], kicker="PUBLIC SAFETY", updated=T1)
    fed = entry(2, "Kyiv opens winter shelters", ["Kyiv opened 40 heated shelters on Monday, the city said."],
                origin=Origin(item_id="x", link="https://radio.example/a", feed_title="Metadata Radio",
                              feed_link="https://radio.example/", feed_id="https://radio.example/",
                              feed_url="https://radio.example/rss.xml"))
    same_minute = entry(3, "Grid holds", ["The grid held through the night, the operator said."],
                        updated=T0 + timedelta(seconds=20))
    dateline = entry(4, "Repair crews worked through the night in Kharkiv", [  # (its headline leaves out the dateline)
        "KHARKIV (Wire) - repair crews worked through the night in Kharkiv, the governor said on Tuesday."])
    page = doc(index_page(SITE, [spec("all", "All", [wire, fed, same_minute, dateline])]))
    items = page.xpath('//ul[@class="headlines"]/li')
    assert [li.xpath('p[@class="teaser"]')[0].text_content() for li in items] == [
        "…while the president thanked the public for their calm",  # the lede's rest, not the headline again
        "Kyiv opened 40 heated shelters on Monday, the city said.",
        "The grid held through the night, the operator said.",
        "…the governor said on Tuesday."]  # after a dateline too
    assert [li.xpath('span[@class="meta"]')[0].text_content().split(" · ")[1] for li in items] == [
        "wire copy", "Metadata Radio", "wire copy", "wire copy"]
    # a revision in a later minute is badged; one in the same minute shows as no update
    assert [bool(li.xpath('span[@class="badge"]')) for li in items] == [True, False, False, False]


def test_the_front_page_shows_each_feed_url_in_a_field_to_copy_without_script():
    page = doc(index_page(SITE, [spec("ukraine", "Ukraine", [entry(1)])]))
    (field,) = page.xpath('//p[@class="feed-url"]//input')
    assert field.get("readonly") is not None and field.get("value") == "https://news.example/feeds/ukraine/atom.xml"
    assert not page.xpath("//script") and "onclick" not in lxml.html.tostring(page).decode()


def test_a_revision_within_the_minute_gets_no_updated_note_on_its_story_page():
    quick = entry(1, "Grid holds", ["The grid held."], updated=T0 + timedelta(seconds=40))
    later = entry(2, "Grid holds", ["The grid held."], updated=T0 + timedelta(minutes=1))
    for e, shown in ((quick, False), (later, True)):
        page = StoryPage(entry_id=e.entry_id, name=e.name, published=e.published, updated=e.updated, topics=(),
                         entry=e)
        (meta,) = doc(story_page(SITE, page, [])).xpath('//article/p[@class="meta"]')[:1]
        assert ("updated" in meta.text_content()) is shown, e.updated


# -- on a phone: nothing wider than the screen ----------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
LONG_WORD = "Kyivoblenerhotransformatorpidstantsiiarekonstruktsiiavidnovlennia" * 2
LONG_URL = "https://energy.example.gov.ua/outages/2026/11/24/" + "kyiv-kharkiv-odesa-dnipropetrovsk-regions/" * 4


def long_pages() -> dict[str, bytes]:
    """Each kind of page, with the longest things a page can hold: a long base URL (in the feed
    URL field), one-word labels, titles, file names, authors and URLs, diffs of long words."""
    site = replace(SITE, base_url="https://feeds.example-newsroom.org/" + "regional-desks/eastern-europe/" * 4)
    text = (f"{LONG_WORD} said on Tuesday that the list is at {LONG_URL} now.", f"{LONG_WORD} {LONG_URL}")
    meta = ItemMeta(authors=(Person(LONG_WORD, uri=LONG_URL),), categories=(Category(LONG_WORD),),
                    enclosures=(Enclosure(LONG_URL + LONG_WORD + ".mp3", "audio/mpeg", 123456789),))
    origin = Origin(item_id="x", link=LONG_URL, feed_title=LONG_WORD, feed_link=LONG_URL, feed_id=LONG_URL,
                    feed_url=LONG_URL)
    story = entry(1, f"{LONG_WORD} {LONG_URL}", text, updated=T1, meta=meta, origin=origin)
    feeds = [replace(spec("ukraine", LONG_WORD, [story]), base_url=site.base_url)]
    old = PublishedVersion(seen_at=T0, title=story.title, paragraphs=(text[0].replace("Tuesday", "Monday"), LONG_URL))
    new = PublishedVersion(seen_at=T1, title=story.title, paragraphs=text)
    page = StoryPage(entry_id=f"tag:{LONG_WORD}.example,2026:story/{'0' * 24}", name=story.name, published=T0,
                     updated=T1, topics=("ukraine",), entry=story, history=(old, new),
                     arrivals=(Arrival(f"{LONG_WORD}/{LONG_WORD}.txt", 1, 2, T0, "new"),), headline=story.title)
    return {"front": index_page(site, feeds), "feed": feed_page(site, feeds[0], feeds),
            "story": story_page(site, page, feeds)}


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (make test installs Debian's chromium "
                                              "with apt-get when run as root)")
def test_no_page_scrolls_sideways_on_a_phone_whatever_it_holds():
    from playwright.sync_api import sync_playwright

    pages = long_pages()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844})
            for name, data in pages.items():
                page.set_content(data.decode())
                assert LONG_WORD in page.content(), name  # (it holds them)
                assert page.evaluate("document.documentElement.scrollWidth") <= 390, name
        finally:
            browser.close()


@pytest.mark.parametrize("archives, linked", [(1, [1]), (12, list(range(12, 0, -1))),
                                              (13, [*range(13, 3, -1), 1]), (6200, [*range(6200, 6190, -1), 1])])
def test_a_feed_page_links_a_few_archive_pages_however_many_there_are(archives, linked):
    page = doc(feed_page(SITE, replace(spec("ukraine", "Ukraine", [entry(1)]), archives=archives), []))
    hrefs = page.xpath('//nav[@class="pages"]//a/@href')
    assert hrefs[0] == f"archive/{archives}/"  # "Older stories": the newest archive page
    assert hrefs[1:] == [f"archive/{n}/" for n in linked]  # the first (oldest) always among them
    assert ("…" in page.xpath('string(//nav[@class="pages"])')) == (archives > 12)
