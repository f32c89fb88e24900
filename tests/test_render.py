"""Atom and RSS rendering: spec in, bytes out, the same bytes every time."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import feedparser
import pytest

from conftest import NOW
from publisher.model import Entry, FeedSpec, Origin
from publisher.render.feeds import render, render_atom, render_rss
from publisher.render.text import content_html, safe_link, summary_text


def entry(n: int, **kw) -> Entry:
    base = dict(entry_id=f"tag:news.example.org,2026:story/{n:04d}", name=f"story-{n}", title=f"Story {n}",
                paragraphs=(f"First paragraph of story {n}.", "Second."), published=NOW + timedelta(seconds=n),
                updated=NOW + timedelta(seconds=n))
    return Entry(**{**base, **kw})


def spec(*entries: Entry, **kw) -> FeedSpec:
    base = dict(slug="ukraine", title="Wire: Ukraine", feed_id="tag:news.example.org,2026:feed/ukraine",
                base_url="https://news.example.org/feeds/", author="Desk", language="en", subtitle="Ukraine stories",
                updated=max((e.updated for e in entries), default=NOW), entries=entries)
    return FeedSpec(**{**base, **kw})


def test_same_spec_gives_the_same_bytes():
    s = spec(entry(2), entry(1))
    assert render_atom(s) == render_atom(s) and render_rss(s) == render_rss(s)


def test_entries_keep_the_given_order_and_feed_dates_come_from_the_spec():
    s = spec(entry(2), entry(3), entry(1))
    for data in (render_atom(s), render_rss(s)):
        parsed = feedparser.parse(data)
        assert parsed.bozo == 0
        assert [e.id for e in parsed.entries] == [entry(2).entry_id, entry(3).entry_id, entry(1).entry_id]
    atom = feedparser.parse(render_atom(s))
    assert atom.feed.updated == "2026-11-25T12:00:03+00:00"
    assert atom.entries[0].published == "2026-11-25T12:00:02+00:00"
    assert "<lastBuildDate>Wed, 25 Nov 2026 12:00:03 +0000</lastBuildDate>" in render_rss(s).decode()


def test_self_and_alternate_links_are_absolute_per_format():
    s = spec(entry(1))
    atom, rss = feedparser.parse(render_atom(s)), feedparser.parse(render_rss(s))
    links = {(link.rel, link.href) for link in atom.feed.links}
    assert ("self", "https://news.example.org/feeds/ukraine/atom.xml") in links
    assert ("alternate", "https://news.example.org/feeds/ukraine/") in links
    assert 'href="https://news.example.org/feeds/ukraine/rss.xml" rel="self"' in render_rss(s).decode()
    assert rss.feed.link == "https://news.example.org/feeds/ukraine/"
    assert atom.entries[0].link == rss.entries[0].link == "https://news.example.org/feeds/stories/story-1.html"


def test_rss_guid_is_not_a_permalink():
    assert '<guid isPermaLink="false">tag:news.example.org,2026:story/0001</guid>' in render_rss(spec(entry(1))).decode()


def test_markup_in_text_is_escaped_and_comes_back_as_text():
    e = entry(1, title="AT&T <b>shares</b>", paragraphs=("Prices <rose> & fell.",))
    for data in (render_atom(spec(e)), render_rss(spec(e))):
        parsed = feedparser.parse(data)
        # RSS titles are ambiguous (feedparser reads them as HTML): the text survives either way
        # (in RSS with an invisible word joiner after "<" of "</", so that it is no end tag)
        assert html.unescape(parsed.entries[0].title).replace("\u2060", "") == "AT&T <b>shares</b>"
        assert "<p>Prices &lt;rose&gt; &amp; fell.</p>" in parsed.entries[0].content[0].value
    # Atom: markup-like text makes the title type="html", escaped once more
    assert b'<title type="html">AT&amp;amp;T &amp;lt;b&amp;gt;shares&amp;lt;/b&amp;gt;</title>' in render_atom(spec(e))
    # RSS: the RSS profile's hexadecimal references
    assert b"<title>AT&#x26;T &#x3C;b&gt;shares&#x3C;&#x2060;/b&gt;</title>" in render_rss(spec(e))


def test_xml_illegal_characters_are_removed():
    e = entry(1, title="Bell\x07 rings", paragraphs=("Form\x0cfeed and \ufffe here.",))
    for data in (render_atom(spec(e)), render_rss(spec(e))):
        parsed = feedparser.parse(data)
        assert parsed.bozo == 0 and parsed.entries[0].title == "Bell rings"


def test_content_is_one_paragraph_each_and_a_cut_story_ends_with_an_ellipsis():
    e = entry(1, paragraphs=("One.", "It was cut off in the"), truncated=True)
    assert content_html(e) == "<p>One.</p><p>It was cut off in the …</p>"


def test_summary_is_the_first_paragraph_shortened_at_a_word():
    long = "word " * 100
    e = entry(1, paragraphs=(long.strip(),))
    s = summary_text(e)
    assert len(s) <= 300 and s.endswith("word…")
    assert html.unescape(s) == s


def test_an_empty_feed_renders_with_the_given_date():
    s = spec(updated=NOW)
    parsed = feedparser.parse(render_atom(s))
    assert parsed.bozo == 0 and parsed.entries == [] and parsed.feed.updated == "2026-11-25T12:00:00+00:00"


def test_plain_text_rss_elements_use_numeric_references_and_html_ones_keep_entities():
    s = spec(entry(1, title="A & B", paragraphs=("x < y & z.",)), title="Wire & <Co>", subtitle="News & views")
    rss = render_rss(s).decode()
    assert "<title>Wire &#x26; &#x3C;Co&gt;</title>" in rss and "<description>News &#x26; views</description>" in rss
    assert "<title>A &#x26; B</title>" in rss
    assert "<description>x &amp;lt; y &amp;amp; z.</description>" in rss  # HTML: "x &lt; y &amp; z."
    assert feedparser.parse(rss).entries[0].summary == "x &lt; y &amp; z."


def test_a_shared_cache_gives_the_same_bytes():
    s = spec(entry(2), entry(1))
    cache: dict = {}
    assert render(s, cache) == render(s) == render(s, cache)
    assert len(cache) == 2


# -- links: only http(s), or our own relative paths (render.text.safe_link) -----------------

HOSTILE_URLS = ["javascript:alert(document.domain).xml", "JaVaScRiPt:alert(1)", " javascript:alert(1)",
                "java\tscript:alert(1)", "java\nscript:alert(1)", "\x01javascript:alert(1)", "javascript:alert(1) ",
                "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==", "DATA:text/html,x", "vbscript:msgbox(1)",
                "VBScript:msgbox(1)", "file:///etc/passwd", "mailto:desk@example.org", "http:", "http:/x", "https:///x",
                "http://[", "//evil.example/x", "wire-feed.xml"]


@pytest.mark.parametrize("url", HOSTILE_URLS)
def test_a_link_from_outside_that_is_not_an_absolute_http_url_is_refused(url):
    assert safe_link(url) is None


@pytest.mark.parametrize("url", [u for u in HOSTILE_URLS if u != "wire-feed.xml"])
def test_a_path_of_ours_with_a_scheme_or_a_host_is_refused_too(url):
    assert safe_link(url, relative=True) is None


def test_a_link_with_any_whitespace_or_unprintable_character_in_it_is_refused():
    # every such character of the Basic Multilingual Plane, where browsers drop or mangle it
    refused = [c for c in map(chr, range(0x10000)) if c.isspace() or not c.isprintable()]
    assert len(refused) > 2000 and "\u00a0" in refused and "\u2028" in refused and "\x85" in refused
    for c in refused:
        assert safe_link(f"https://news.example/a{c}b") is None, hex(ord(c))
        assert safe_link(f"stories/a{c}b.html", relative=True) is None, hex(ord(c))
    assert safe_link("https://news.example/a\u00e9b") is not None  # printable, not a space: kept


@pytest.mark.parametrize("url", ["http://news.example/a?b=c#d", "https://news.example/", "HTTPS://news.example/x",
                                 "https://例え.jp/記事"])
def test_an_absolute_http_url_is_kept_as_it_is(url):
    assert safe_link(url) == url == safe_link(url, relative=True)


@pytest.mark.parametrize("url", ["", "../", "../ukraine/", "stories/kyiv-strike-6a250fce.html", "feeds.opml",
                                 "./javascript:alert(1)"])
def test_our_relative_paths_are_kept(url):
    assert safe_link(url, relative=True) == url
    assert safe_link(url) is None  # ...and never taken from outside


def origin(**kw) -> Origin:
    base = dict(feed_title="Evil", feed_link=None, feed_id="javascript:alert(document.domain).xml",
                feed_url="javascript:alert(document.domain).xml", item_id="x1", link=None)
    return Origin(**{**base, **kw})


HOSTILE_ORIGINS = [origin(), origin(feed_link="JaVaScRiPt:alert(1)", link=" javascript:alert(2)"),
                   origin(feed_link="java\tscript:alert(1)", feed_url="vbscript:msgbox(1)", feed_id="vbscript:x",
                          link="data:text/html,<script>alert(1)</script>")]


@pytest.mark.parametrize("hostile", HOSTILE_ORIGINS)
def test_links_of_a_hostile_origin_are_not_written_into_atom_or_rss(hostile):
    atom, rss = render(spec(entry(1, origin=hostile)))
    for data in (atom, rss):
        assert feedparser.parse(data).bozo == 0
        assert not re.search(rb"(?i)(java|vb)\s*script|data:", data), data.decode()
    parsed = feedparser.parse(atom).entries[0]
    assert [link.href for link in parsed.links] == ["https://news.example.org/feeds/stories/story-1.html"]
    assert b"<title>Evil</title>" in atom  # the source is still named, as text
    assert b"<source" not in rss  # RSS <source> needs a URL: none is usable


def test_bidi_override_controls_never_reach_a_feed_or_a_page(project):
    """A source can make a title read backwards with U+202E (and its kin): every published
    file leaves the embedding, override and isolate controls out; the words stay."""
    evil = "Taiwan's coast guard \u202etracked\u202c four Chinese ships near Kinmen on Monday, \u2067officials\u2069 said."
    project.add_source("bidi.txt", evil + "\n")
    assert project.publish().ok
    site = project.site_bytes()
    assert any(b"tracked" in data for data in site.values())
    for path, data in site.items():
        text = data.decode("utf-8", "replace")
        assert not any(c in text for c in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"), path
