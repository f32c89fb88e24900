"""sources/feed.py: no text lost on the fast path, C1 characters and mis-declared encodings.

Each small feed in tests/data/feeds/text/ is one case. The fast (lxml) path reads less than
feedparser of all but the last three cases below; they must give what feedparser gives. The
encoding cases must read as their text, with one warning naming the declared and the used
encoding. All are then published through the real pipeline, and the output is checked with the
W3C validator and read by `reader` as a subscriber would.
"""

from __future__ import annotations

import html
import re

import pytest

from conftest import DATA
from publisher.sources import feed as feed_mod
from publisher.sources import wire
from publisher.sources.feed import parse
from test_publish import assert_valid

TEXT = DATA / "feeds" / "text"
BAD = re.compile("[\u0080-\u009f\ufffd]|Ã|â€|Â")  # C1, replacement characters, UTF-8 read as cp1252

#: file -> (titles, a phrase of each entry's text) when it is read as feedparser reads it
FALLBACK = {
    "description-markup.rss": (["Kyiv grid repairs", "Kharkiv shelters"],
                               ["restored power to three districts", "opened new shelters"]),
    "atom-html-div.atom": (["Odesa port reopens"], ["reopened to grain ships"]),
    "dc-elements.rss": (["Zaporizhzhia plant loses a line", "Sumy evacuations"],
                        ["lost its last backup power line", "Families left Sumy by train"]),
    "body-elements.rss": (["Lviv rail hub", "Dnipro bridge", "Poltava schools", "Chernihiv roads"],
                          ["moved cargo west", "closed a bridge", "moved lessons underground", "cleared snow"]),
    "items-outside-channel.rss": (["Mykolaiv water"], ["restored running water"]),
}

JAPANESE = "ウクライナ Ukraine の首都 Kyiv で大規模な停電が起き"
FRENCH = "À Kharkiv, l’électricité est revenue — Ukraine « enfin », dit le maire de Kharkiv."
#: file -> (the warning, a phrase of the text)
ENCODINGS = {
    "latin1-cp1252.rss": (None, "Kyiv’s council approved the “winter plan” for Ukraine’s capital… Kyiv will open "
                                "40 heating points – the mayor said."),
    "ascii-cp1252.rss": (None, "the “winter plan” for Ukraine’s"),  # (as browsers read US-ASCII: cp1252)
    "sjis-declared-really-utf8.rss": ("declared Shift_JIS, but it is not: read as UTF-8", JAPANESE),
    "latin1-declared-really-utf8.rss": ("declared ISO-8859-1, but it is not: read as UTF-8", FRENCH),
    "utf8-declared-really-sjis.rss": ("declared UTF-8, but it is not: read as Shift_JIS", JAPANESE),
    "utf8-declared-really-eucjp.rss": ("declared UTF-8, but it is not: read as EUC-JP", JAPANESE),
    "utf8-declared-really-cp1252.rss": ("declared UTF-8, but it is not: read as cp1252", FRENCH),
}


def lenient(data: bytes, name: str, monkeypatch):
    """What the same document gives read by feedparser alone."""
    with monkeypatch.context() as m:
        m.setattr(feed_mod, "_fast", lambda data, limit: None)
        return parse(data, url=name).result


@pytest.mark.parametrize("name", FALLBACK)
def test_what_the_fast_parser_reads_less_of_is_read_as_feedparser_reads_it(name, monkeypatch):
    data = (TEXT / name).read_bytes()
    titles, phrases = FALLBACK[name]
    fast = feed_mod._fast(data, 1000)
    assert isinstance(fast, tuple) and fast[0]["lacking"]  # lxml read it, and says it may have missed text
    result = parse(data, url=name).result
    assert (result.skipped, result.warnings) == (None, ())
    assert [s.title for s in result.stories] == titles
    for story, phrase in zip(result.stories, phrases, strict=True):
        assert phrase in " ".join(story.paragraphs), (story.title, story.paragraphs)
    reference = lenient(data, name, monkeypatch)
    assert [(s.title, s.paragraphs) for s in result.stories] == [(s.title, s.paragraphs) for s in reference.stories]


def test_a_feed_the_fast_parser_reads_whole_is_not_parsed_twice(monkeypatch):
    data = (DATA / "feeds" / "hostile.rss").read_bytes()
    monkeypatch.setattr(feed_mod, "_feedparser", lambda *a: pytest.fail("parsed again by feedparser"))
    assert parse(data, url="https://news.example/feed.rss").result.stories


def test_the_reading_with_more_text_is_kept_when_feedparser_finds_less():
    # an entry with no text sends the document to feedparser, which gives the same: the fast one is kept
    data = (b'<rss version="2.0"><channel><title>T</title><item><title>Kyiv</title><description>&lt;p&gt;Kyiv '
            b"text&lt;/p&gt;</description></item><item><guid>x</guid></item></channel></rss>")
    assert feed_mod._fast(data, 1000)[0]["lacking"] == "an entry without text"
    assert [s.paragraphs for s in parse(data, url="t.xml").result.stories] == [("Kyiv text",)]


@pytest.mark.parametrize("name", ENCODINGS)
def test_c1_characters_and_wrong_declarations_read_as_their_text_with_one_warning(name):
    warning, phrase = ENCODINGS[name]
    result = parse((TEXT / name).read_bytes(), url=name).result
    assert result.warnings == ((warning,) if warning else ())
    (story,) = result.stories
    text = story.title + "\n" + "\n".join(story.paragraphs) + story.html
    assert phrase in text and not BAD.search(text), text


def test_c1_characters_are_mapped_by_the_wire_readers_function():
    assert wire.map_c1("don\x92t \x93quote\x94 \x85 \x96") == "don’t “quote” … –"
    assert wire.map_c1("\u00e2\u0080\u00a6 and caf\u00e9") == "… and café"  # UTF-8 read as Latin-1, once more
    assert wire.clean_line("a \x93b\x94") == "a “b”"
    assert feed_mod.plain("&#147;Kyiv&#148; \x96 \x81") == "“Kyiv” –"


def test_an_undeclared_document_in_another_encoding_says_so():
    data = (TEXT / "utf8-declared-really-sjis.rss").read_bytes().replace(b' encoding="UTF-8"', b"")
    assert parse(data, url="n.rss").result.warnings == ("no encoding declared (so UTF-8), but it is not: read as "
                                                        "Shift_JIS",)


def test_every_case_published_is_valid_and_a_reader_sees_its_text(project, tmp_path):
    from reader import make_reader

    names = [*FALLBACK, *ENCODINGS]
    for name in names:
        project.add_source(name, (TEXT / name).read_bytes())
    report = project.publish()
    assert report.ok, report.problems()
    got = {rep.name: rep for rep in report.sources}
    for name in names:
        # (the same text in another encoding is the same story: a duplicate, which mojibake would not be)
        assert got[name].outcome in ("new", "duplicate"), (name, got[name].outcome, got[name].reason)
        assert got[name].stories == len(FALLBACK.get(name, ([name],))[0]), name
        warning = ENCODINGS.get(name, (None,))[0]
        assert list(got[name].warnings) == ([warning] if warning else []), name
    assert_valid(project)

    reader = make_reader(str(tmp_path / "reader.sqlite"), feed_root=str(project.feeds))
    try:
        url = "ukraine/atom.xml"  # (under feed_root)
        reader.add_feed(url)
        reader.update_feeds(scheduled=False)
        assert reader.get_feed(url).last_exception is None
        texts = []
        for entry in reader.get_entries(feed=url):
            markup = entry.title + " " + " ".join(c.value for c in entry.content)
            text = re.sub(r"\s+", " ", html.unescape(re.sub("<[^>]+>", " ", markup)))
            assert not BAD.search(text), text
            texts.append(text)
    finally:
        reader.close()
    everything = "\n".join(texts)
    expected = [p for _, phrases in FALLBACK.values() for p in phrases] + [p for _, p in ENCODINGS.values()]
    assert [p for p in expected if p not in everything] == []
    # each fallback case's stories, then one Kyiv, one Kharkiv and one Japanese story (the others: duplicates)
    assert len(texts) == len(set(texts)) == sum(len(titles) for titles, _ in FALLBACK.values()) + 3


def test_a_document_too_large_for_feedparser_keeps_the_fast_reading_and_says_what_it_may_miss(monkeypatch):
    monkeypatch.setattr(feed_mod, "LENIENT_MAX_TAGS", 10)
    monkeypatch.setattr(feed_mod, "_feedparser", lambda *a: pytest.fail("handed to feedparser"))
    result = parse((TEXT / "dc-elements.rss").read_bytes(), url="big.rss").result
    assert [s.title for s in result.stories] == ["Sumy evacuations"]
    assert result.warnings == ("the fast parser may have missed text (text in <{http://purl.org/dc/elements/1.1/}"
                               "title>), and the document is too large for the lenient one (741 bytes, 31 tags)",)


def _declared(encoding: str, title: str, text: str, really: str) -> bytes:
    return (f'<?xml version="1.0" encoding="{encoding}"?><rss version="2.0"><channel><title>T</title><item>'
            f"<title>{title}</title><description>{text}</description></item></channel></rss>").encode(really)


@pytest.mark.parametrize("data, warnings, text", [
    # Shift_JIS with a cp932 character (the circled 1): read as browsers read Shift_JIS, no warning
    (_declared("Shift_JIS", "キーウ①", "ウクライナの首都で停電", "cp932"), (), "ウクライナの首都で停電"),
    # declared Shift_JIS, really cp1252 ("é" and the like are Shift_JIS lead bytes): no kana, not Japanese
    (_declared("Shift_JIS", "Kyiv étés", "À Kyiv, l’hiver", "cp1252"),
     ("declared Shift_JIS, but it is not: read as cp1252",), "À Kyiv, l’hiver"),
    # an "encoding" that is not one of text: left to the parsers, no crash
    (_declared("rot13", "Kyiv", "Kyiv café", "utf-8"), None, None),
    (_declared("base64", "Kyiv", "Kyiv café", "utf-8"), None, None),
])
def test_declarations_read_as_browsers_read_them_and_what_is_not_text(data, warnings, text):
    result = parse(data, url="d.rss").result
    if warnings is not None:
        assert result.warnings == warnings
        (story,) = result.stories
        assert text in story.paragraphs[0] and not BAD.search(story.title + story.paragraphs[0])


@pytest.mark.parametrize("description", ["Kyiv \u0093winter\u0094 plan\u0085",
                                         "Kyiv &amp;#147;winter&amp;#148; plan&#133;",
                                         "&lt;p&gt;Kyiv &amp;#x93;winter&amp;#x94; plan&amp;#133;&lt;/p&gt;"])
def test_c1_characters_in_a_utf8_feed_read_by_the_fast_parser_are_mapped(description):
    data = _declared("UTF-8", "Kyiv", description, "utf-8")
    assert feed_mod._fast(data, 1000)[0]["lacking"] is None  # (no fallback: the fast path's own text)
    (story,) = parse(data, url="c1.rss").result.stories
    assert story.paragraphs == ("Kyiv “winter” plan…",) and not BAD.search(story.html), story


ITUNES = ('<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"><channel><title>P</title>'
          "<item><title>Kyiv podcast</title><description>{description}</description>"
          "<itunes:summary>{summary}</itunes:summary></item></channel></rss>")


def test_a_summary_repeating_the_description_costs_no_second_parse(monkeypatch):
    data = ITUNES.format(description="Kyiv after the blackout, and what the grid needs.",
                         summary="Kyiv after the blackout.").encode()
    monkeypatch.setattr(feed_mod, "_feedparser", lambda *a: pytest.fail("parsed again by feedparser"))
    (story,) = parse(data, url="p.rss").result.stories
    assert story.paragraphs == ("Kyiv after the blackout, and what the grid needs.",)


def test_a_summary_longer_than_the_description_is_read_as_feedparser_reads_it():
    data = ITUNES.format(description="Kyiv after the blackout.",
                         summary="Kyiv after the blackout, and what the grid needs before the frost.").encode()
    assert feed_mod._fast(data, 1000)[0]["lacking"] == "text in <{http://www.itunes.com/dtds/podcast-1.0.dtd}summary>"
    (story,) = parse(data, url="p.rss").result.stories
    assert story.paragraphs == ("Kyiv after the blackout, and what the grid needs before the frost.",)


def test_a_script_or_style_in_a_feed_title_is_not_kept_as_words_of_the_title():
    atom = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><id>urn:t</id><updated>2026-11-30T10:00:00Z</updated>
<entry><id>urn:t:1</id><updated>2026-11-30T10:00:00Z</updated>
<title type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><script>alert('xt')</script>Kyiv <style>b{}</style>grid repaired</div></title>
<content type="html">&lt;p&gt;Crews in Kyiv restored power overnight after the strikes, the city said.&lt;/p&gt;</content></entry>
<entry><id>urn:t:2</id><updated>2026-11-30T10:00:00Z</updated>
<title type="html">&lt;SCRIPT type="x"&gt;steal()&lt;/SCRIPT&gt;Taipei drills &lt;script&gt;never closed</title>
<content type="html">&lt;p&gt;Taiwan's coast guard held drills off Taipei on Monday, officials said.&lt;/p&gt;</content></entry>
</feed>"""
    first, second = parse(atom, url="https://news.example/x.atom").result.stories
    assert first.title == "Kyiv grid repaired"
    assert second.title == "Taipei drills"
    assert feed_mod.plain("Why <b>bold</b> matters") == "Why bold matters"  # other markup: its text stays
