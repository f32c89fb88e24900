"""RSS, Atom and JSON Feed bytes -> Stories. Pure: bytes and headers in, stories out.

XML feeds are parsed by feedparser (which also handles broken XML: a "bozo" feed that still
yields entries is used, with a warning); JSON Feed 1.x is read here. Every entry's HTML is
sanitised with nh3 (no scripts, event handlers, javascript: URLs, iframes, styles), its relative
URLs made absolute, and its text is split into paragraphs the way wire copy is, so dedup and
classification treat a feed entry and a wire story alike.
"""

from __future__ import annotations

import codecs
import hashlib
import html
import json
import re
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import feedparser
import nh3
from lxml import etree

from publisher.model import Category, Enclosure, ItemMeta, Limits, Origin, Person, ReadResult, Story
from publisher.render.text import xml_text
from publisher.sources import caps
from publisher.sources.wire import map_c1

FEED_SUFFIXES = (".xml", ".atom", ".rss", ".json")

ALLOWED_TAGS = {"a", "abbr", "b", "blockquote", "br", "cite", "code", "dd", "del", "dl", "dt", "em", "figcaption",
                "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "ol", "p", "pre",
                "q", "s", "small", "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "time",
                "tr", "u", "ul"}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title", "width", "height"},
                      "abbr": {"title"}, "time": {"datetime"}, "td": {"colspan", "rowspan"},
                      "th": {"colspan", "rowspan"}, "q": {"cite"}, "blockquote": {"cite"}}
URL_ATTRIBUTES = {"href", "src", "cite"}
BLOCKS = {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "tr", "dt", "dd",
          "figcaption", "hr", "ul", "ol", "table", "figure", "section", "article"}
_SPACE = re.compile(r"\s+")
_LEADING_SPACE = re.compile(rb"[ \t\n\r\x0b\x0c]*+")  # what bytes.lstrip() strips
#: Elements nested deeper than this are refused: lxml's own limit (libxml2 without
#: XML_PARSE_HUGE). Feeds nest a handful deep; feedparser, which has no limit, took 105 s and
#: 1 GB over a 14 MB document of 2M nested tags.
MAX_DEPTH = 256
#: An entry's HTML is sanitised from at most this many times limits.bytes_per_story: its text
#: cannot be longer than its markup, and markup is rarely more than a few times its text.
HTML_PER_TEXT = 8
TITLE_MAX = 1000  # characters of an entry's title (a headline is a line, not a document)
_CUT = re.compile(r"(?:\[…\]|\[\.\.\.\]|…|\.\.\.)\s*$")  # an excerpt: "... [...]" or "…"


@dataclass(frozen=True, slots=True)
class FeedRead:
    """What one feed document gave: its identity and its stories (each with its origin)."""

    title: str
    link: str | None
    feed_id: str
    result: ReadResult
    ttl_minutes: int | None = None  # RSS <ttl>: how long the feed says it stays fresh


def looks_like_feed(name: str) -> bool:
    """Files in sources/ read as feeds rather than wire copy."""
    return name.lower().endswith(FEED_SUFFIXES)


#: SVG and MathML: ammonia drops them whole (foreign content is a known mutation-XSS route), and
#: with them a formula's or a drawing's only text ("a + b", an SVG <title>). They are replaced by
#: that text, escaped, before cleaning: the story keeps its words, never the markup.
_FOREIGN_HINT = re.compile(r"<\s*(?:svg|math)\b", re.IGNORECASE)
_FOREIGN = re.compile(r"<\s*(svg|math)\b.*?(?:<\s*/\s*\1\s*>|\Z)", re.IGNORECASE | re.DOTALL)
_ANY_TAG = re.compile(r"<[^>]*>?")
_CODE = re.compile(r"<\s*(script|style)\b.*?(?:<\s*/\s*\1\s*>|\Z)", re.IGNORECASE | re.DOTALL)


def _foreign_text(match: re.Match) -> str:
    words = _ANY_TAG.sub(" ", _CODE.sub(" ", match.group(0)))
    text = _SPACE.sub(" ", html.unescape(words)).strip()
    return f" {html.escape(text, quote=False)} " if text else " "


def sanitize(fragment: str, base: str | None, bad_urls: list[str] | None = None) -> str:
    """Safe HTML: allowed tags and attributes only, http(s)/mailto URLs, relative ones made
    absolute against `base`, links that do not pass on the reader's page as referrer. A URL that
    urllib cannot even split ("//[x": "Invalid IPv6 URL") is dropped and added to `bad_urls`."""

    def absolute(tag: str, attribute: str, value: str) -> str | None:
        if attribute in URL_ATTRIBUTES:
            try:  # (an exception here would not reach us: nh3 prints it, with a traceback)
                value = urljoin(base, value.strip()) if base else value.strip()
                scheme = urlsplit(value).scheme
            except ValueError:
                if bad_urls is not None:
                    bad_urls.append(value)
                return None
            if scheme not in ("http", "https", "mailto"):
                return None
        return value

    if _FOREIGN_HINT.search(fragment):
        fragment = _FOREIGN.sub(_foreign_text, fragment)
    return nh3.clean(fragment, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES,
                     url_schemes={"http", "https", "mailto"}, attribute_filter=absolute,
                     link_rel="noopener noreferrer nofollow", strip_comments=True).strip()


class _Paragraphs(HTMLParser):
    """The text of an HTML fragment as paragraphs: a block element ends one."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.current: list[str] = []

    def _end(self) -> None:
        text = _SPACE.sub(" ", "".join(self.current)).strip()
        if text:
            self.out.append(text)
        self.current = []

    def handle_starttag(self, tag, attrs):
        if tag in BLOCKS:
            self._end()

    def handle_endtag(self, tag):
        if tag in BLOCKS:
            self._end()

    def handle_data(self, data):
        self.current.append(data)


def paragraphs_of(fragment: str) -> tuple[str, ...]:
    parser = _Paragraphs()
    parser.feed(fragment)
    parser.close()
    parser._end()
    return tuple(xml_text(p) for p in parser.out)


def web_url(base: str, value: object) -> str | None:
    """`value` as an absolute http(s) URL (against `base`), or None (javascript:, data: ...)."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        url = urljoin(base, value.strip())
        scheme = urlsplit(url).scheme
    except ValueError:  # e.g. "http://[" : not a URL
        return None
    ok = scheme in ("http", "https") and all(c.isprintable() and not c.isspace() for c in url)
    return url if ok and len(url) <= 2048 else None


# an element whose text is no text a reader sees (a script's code, a style sheet), dropped whole
_HIDDEN = re.compile(r"<(script|style|template|noscript)\b[^>]*>.*?(</\1\s*>|$)", re.IGNORECASE | re.DOTALL)


def plain(text: str) -> str:
    """A title as plain text (feeds put markup and entities in titles); what a script or a
    style element holds is not kept as words of the title."""
    return _SPACE.sub(" ", xml_text(map_c1(html.unescape(re.sub(r"<[^>]*>", "", _HIDDEN.sub(" ", text or "")))))).strip()


def item_id(raw_id: str | None, link: str | None, title: str, date: str | None) -> str:
    """The entry's own id; failing that, a stable one from its link, or its title and date."""
    if raw_id and raw_id.strip():
        return raw_id.strip()
    if link:
        return link
    return "urn:sha256:" + hashlib.sha256(f"{title}\n{date or ''}".encode()).hexdigest()[:32]


def _story(title: str, body_html: str, summary_html: str, base: str | None, origin: Origin,
           index: int, limits: Limits, cut: list[tuple[str, int, int]], c1: bool = True,
           bad_urls: list[str] | None = None) -> Story | None:
    """One entry as a story, within the caps of a story (each cut is added to `cut`: the key,
    the entry's position and its size; each link dropped as no URL, to `bad_urls`). `c1`: the text
    may hold C1 characters (to map)."""
    fragment = body_html or summary_html or ""
    if c1:
        fragment = map_c1(fragment)
    most = HTML_PER_TEXT * limits.bytes_per_story
    size = len(fragment)
    if size > most:  # (characters, not bytes: never fewer than the bytes it holds)
        fragment = fragment[:most]
    clean = sanitize(fragment, base, bad_urls)
    paragraphs = paragraphs_of(clean)
    kept, key = caps.cap_paragraphs(paragraphs, limits)
    if key or size > most:
        # the sanitised HTML goes with the paragraphs kept: rebuilt from them (the markup of
        # an entry this large is not kept)
        cut.append((key or "bytes_per_story", index, len(paragraphs) if key == "paragraphs_per_story" else
                    max(size, len("\n".join(paragraphs).encode()))))
        paragraphs = kept
        clean = "".join(f"<p>{html.escape(p, quote=False)}</p>" for p in paragraphs)
    title = plain(title[: 4 * TITLE_MAX])[:TITLE_MAX] or (paragraphs[0][:140] if paragraphs else "")
    if not paragraphs:
        if not title:
            return None
        paragraphs = (title,)  # a headline-only entry
        clean = f"<p>{html.escape(title, quote=False)}</p>"
    truncated = bool(_CUT.search(paragraphs[-1]))
    return Story(title=title, paragraphs=paragraphs, first_line=index, last_line=index, truncated=truncated,
                 html=clean, origin=origin)


# -- an item's metadata: dates, authors, categories, enclosures ------------------------------------

META_TEXT_MAX = 200  # characters of a name, a term, a label
AUTHORS_MAX, CATEGORIES_MAX, ENCLOSURES_MAX = 20, 50, 20  # per item
_EMAIL = re.compile(r"[A-Za-z0-9!#$%&'*+/=^_`{|}~.-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+")
_RSS_AUTHOR = re.compile(r"\s*(\S+@\S+?)\s*(?:\((.*)\))?\s*")  # "jdoe@example.com (John Doe)"
_MIME = re.compile(r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}")


def item_date(value: object) -> datetime | None:
    """A date as a feed writes it (RFC 822, RFC 3339 and the variants feedparser knows, or
    feedparser's own struct_time), in UTC; None when it is none. (Whether it is sane is the
    store's question: entries.source_date.)"""
    if isinstance(value, str) and value.strip():
        try:
            value = feedparser.datetimes._parse_date(value.strip()[:100])
        except Exception:  # feedparser's date handlers are meant not to raise
            return None
    if not isinstance(value, time.struct_time):
        return None
    try:
        return datetime(*value[:6], tzinfo=UTC)
    except (ValueError, OverflowError):
        return None


def _meta_text(value: object) -> str | None:
    return plain(value[: 4 * META_TEXT_MAX])[:META_TEXT_MAX] or None if isinstance(value, str) else None


def _email(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    value = value.strip().removeprefix("mailto:")
    return value if len(value) <= 254 and _EMAIL.fullmatch(value) else None


def item_meta(authors: list[dict], categories: list[dict], enclosures: list[dict], base: str | None) -> ItemMeta:
    """An item's authors, categories and enclosures as raw values ({name, email, uri}, {term,
    label, scheme}, {url, type, length}), each value checked: plain text for names, terms and
    labels; an address for an email; absolute http(s) URLs (against `base`) for a uri, a
    scheme or an enclosure; a MIME type; a length in bytes. What fails is dropped (an author
    without a name or an email, a category without a term, an enclosure without a URL)."""
    people: dict[tuple, Person] = {}
    for a in authors:
        email = _email(a.get("email"))
        name = _meta_text(a.get("name")) or email
        if name and len(people) < AUTHORS_MAX:
            person = Person(name=name, email=email, uri=web_url(base or "", a.get("uri")))
            people.setdefault((person.name, person.email, person.uri), person)
    terms: dict[tuple, Category] = {}
    for c in categories:
        term = _meta_text(c.get("term"))
        if term and len(terms) < CATEGORIES_MAX:
            scheme = web_url("", c.get("scheme"))
            label = _meta_text(c.get("label"))
            terms.setdefault((term, scheme), Category(term=term, label=label if label != term else None,
                                                      scheme=scheme))
    files: dict[str, Enclosure] = {}
    for e in enclosures:
        url = web_url(base or "", e.get("url"))
        if url and len(files) < ENCLOSURES_MAX:
            kind = str(e.get("type") or "").split(";")[0].strip()
            length = str(e.get("length") if e.get("length") is not None else "").strip()
            files.setdefault(url, Enclosure(url=url, type=kind.lower() if _MIME.fullmatch(kind) else None,
                                            length=int(length) if length.isascii() and length.isdigit()
                                            and len(length) < 16 else None))
    return ItemMeta(tuple(people.values()), tuple(terms.values()), tuple(files.values()))


def _dated(story: Story, entry: dict, meta: ItemMeta) -> Story:
    """The story with its item's own dates and metadata."""
    updated = item_date(entry.get("updated"))
    published = item_date(entry.get("published")) or updated
    return replace(story, published=published, updated=updated if updated != published else None, meta=meta)


def parse(data: bytes, *, url: str, headers: dict[str, str] | None = None, limits: Limits = Limits()) -> FeedRead:
    """Parse a feed document fetched from (or named) `url`, within `limits` (entries_per_feed,
    and the caps of a story). Never raises on bad input: a document that gives nothing is a
    ReadResult with `skipped` and the reason."""
    first = _LEADING_SPACE.match(data).end()  # (not data.lstrip(): a copy of the whole document)
    if data[first : first + 1] in (b"{", b"["):
        return _parse_json(data, url, limits)
    return _parse_xml(data, url, headers or {}, limits)


ATOM = "{http://www.w3.org/2005/Atom}"
DC = "{http://purl.org/dc/elements/1.1/}"
CONTENT_ENCODED = "{http://purl.org/rss/1.0/modules/content/}encoded"
XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"


_ENTITY_DECL = re.compile(rb"<!ENTITY", re.IGNORECASE)


def _parse_xml(data: bytes, url: str, headers: dict[str, str], limits: Limits) -> FeedRead:
    head = data[:65536]
    if b"<!DOCTYPE" in head.upper() and _ENTITY_DECL.search(head):
        # Feeds do not declare entities; documents that do are entity-expansion attacks (a
        # "billion laughs" costs expat most of a second and hundreds of MB before its limit).
        return FeedRead(url, None, url, ReadResult(skipped="declares XML entities (refused: entity expansion)"))
    data, headers, recoded = _recode(data, headers, trust_utf8=True)
    fast = _fast(data, limits.entries_per_feed)
    if fast is None and recoded is None:  # (lxml refuses bad UTF-8: only then is it checked)
        data, headers, recoded = _recode(data, headers, trust_utf8=False)
        if recoded:
            fast = _fast(data, limits.entries_per_feed)
    doc: Doc | str | FeedRead | None = fast
    lacking = fast[0].get("lacking") if isinstance(fast, tuple) else None
    if lacking == NO_ENTRIES and not _ENTRY_TAG.search(data):
        lacking = None  # (an empty feed: feedparser finds nothing either)
    if fast is None or lacking:
        tags = data.count(b"<")
        too_large = len(data) > LENIENT_MAX_BYTES or tags > LENIENT_MAX_TAGS
        if fast is None and too_large:  # (before the probe: its tree is this size)
            return FeedRead(url, None, url, ReadResult(skipped=(
                f"not what the fast parser reads (well-formed RSS 2.0 or Atom, no DOCTYPE), and too large for the "
                f"lenient one ({len(data):,} bytes, {tags:,} tags; it reads at most {LENIENT_MAX_BYTES:,} bytes and "
                f"{LENIENT_MAX_TAGS:,} tags)")))
        if fast is None:
            doc = TOO_DEEP if _too_deep(data) else _feedparser(data, url, headers)
        elif not too_large:  # the fast parser found less than feedparser may: the one that finds more
            lenient = _feedparser(data, url, headers)
            if not isinstance(lenient, FeedRead):
                return _more(_read(fast, url, limits, recoded, _may_hold_c1(data)),
                             _read(lenient, url, limits, recoded))
        else:
            fast[2].append(f"the fast parser may have missed text ({lacking}), and the document is too "
                           f"large for the lenient one ({len(data):,} bytes, {tags:,} tags)")
    if doc is TOO_DEEP:
        return FeedRead(url, None, url, ReadResult(
            skipped=f"elements nested more than {MAX_DEPTH} deep (refused: no feed nests so deep)"))
    if isinstance(doc, FeedRead):
        return doc
    return _read(doc, url, limits, recoded, doc is not fast or _may_hold_c1(data))


_C1_UTF8 = re.compile(rb"\xc2[\x80-\x9f]")
_C1_REF = re.compile(rb"#(?:[xX]0*[89][0-9a-fA-F]|0*1(?:2[89]|[3-5][0-9]));")  # &#150; (or &amp;#150;)


def _may_hold_c1(data: bytes) -> bool:
    """Whether lxml's text of this document may hold C1 characters: not when it is UTF-8 with
    no C1 character encoded or referred to (two scans of the bytes, ~8x cheaper than looking
    for them in each entry's text)."""
    declared = _XML_DECL.search(data, 0, 1024)
    try:
        if declared and codecs.lookup(declared.group(1).decode()).name != "utf-8":
            return True
    except LookupError:
        return True
    return data.startswith(_BOMS[1:]) or bool(_C1_UTF8.search(data) or _C1_REF.search(data))


def _more(fast: FeedRead, lenient: FeedRead) -> FeedRead:
    """Of two readings of one document, the one with more stories, then more text (the fast
    one when they tie: it is the one every other feed of its kind gets)."""
    def size(read: FeedRead) -> tuple[int, int]:
        stories = read.result.stories
        return len(stories), sum(len(s.title) + sum(len(p) for p in s.paragraphs) for s in stories)
    return lenient if size(lenient) > size(fast) else fast


def _read(doc: Doc, url: str, limits: Limits, recoded: str | None, c1: bool = True) -> FeedRead:
    """A parsed document's stories (feed fields and entries, from either parser); `c1`: its
    text may hold C1 characters."""
    feed, entries, warnings = doc
    warnings = ([recoded] if recoded else []) + warnings
    title = plain(feed.get("title", "")) or url
    # Relative URLs resolve against where the feed was fetched; a feed file dropped into
    # sources/ has no such place, so its own site link serves.
    if urlsplit(url).scheme not in ("http", "https"):
        url_base = web_url("", feed.get("link")) or url
    else:
        url_base = url
    link = web_url(url_base, feed.get("link"))
    feed_id = feed.get("id") or (url if url_base == url else link or url)
    stories = []
    origin_feed = {"feed_title": title, "feed_link": link, "feed_id": feed_id, "feed_url": url}
    cut: list[tuple[str, int, int]] = []
    bad_urls: list[str] = []
    for index, entry in enumerate(entries[: limits.entries_per_feed], start=1):
        body, summary = entry.get("content") or "", entry.get("summary") or ""
        if len(summary) > len(body):
            body = summary
        link_ = web_url(url_base, entry.get("link"))
        ident = item_id(entry.get("id"), link_, entry.get("title", ""), entry.get("date"))
        origin = Origin(item_id=ident, link=link_, **origin_feed)
        base = web_url(url_base, entry.get("base")) or link_ or url_base
        story = _story(entry.get("title", ""), body, summary, base, origin, index, limits, cut, c1, bad_urls)
        if story:
            meta = item_meta(entry.get("authors") or feed.get("authors") or [], entry.get("categories") or [],
                             entry.get("enclosures") or [], base)
            stories.append(_dated(story, entry, meta))
    warnings += bad_urls_warning(bad_urls)
    past = _past_caps(feed.get("count", len(entries)), limits, cut, warnings)
    ttl = str(feed.get("ttl", "")).strip()
    ttl_minutes = int(ttl) if ttl.isdigit() else None
    if not stories:
        return FeedRead(title, link, feed_id, ReadResult(skipped="no entries with text", warnings=tuple(warnings),
                                                         past_caps=past), ttl_minutes)
    return FeedRead(title, link, feed_id, ReadResult(stories=tuple(stories), warnings=tuple(warnings),
                                                     past_caps=past), ttl_minutes)


_XML_DECL = re.compile(rb"""\A<\?xml[^>]*?\bencoding\s*=\s*["']([A-Za-z0-9._:-]{1,40})["']""")
_CHARSET = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9._:-]{1,40})""", re.IGNORECASE)
_BOMS = (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)  # (UTF-32's begin as UTF-16's)
#: What a document is tried as when its declared encoding does not decode it, in this order:
#: Japanese ones only when they give Japanese text (cp1252 reads almost any bytes as something).
JAPANESE = ("euc_jp", "cp932")
_JAPANESE_TEXT = re.compile("[\u3000-\u30ff\u4e00-\u9fff\uff01-\uff60]")
_KANA = re.compile("[\u3041-\u30ff]")
#: What browsers read a declared encoding as (the WHATWG Encoding Standard's labels), by codec
SUPERSETS = {"latin_1": "cp1252", "ascii": "cp1252", "iso8859_9": "cp1254", "iso8859_11": "cp874",
             "tis_620": "cp874", "shift_jis": "cp932", "gb2312": "gb18030", "gbk": "gb18030", "euc_kr": "cp949",
             "big5": "big5hkscs"}
NAMES = {"utf-8": "UTF-8", "euc_jp": "EUC-JP", "cp932": "Shift_JIS", "cp1252": "cp1252"}  # in warnings


def _recode(data: bytes, headers: dict[str, str], *, trust_utf8: bool) -> tuple[bytes, dict[str, str], str | None]:
    """(data, headers, None) when the document's declared encoding (its XML declaration, else
    the HTTP charset, else UTF-8) reads it; else the document as UTF-8, declared so, and the
    warning saying what was declared and what it was read as. A declaration is wrong when strict
    decoding fails, or when the bytes are UTF-8 (valid multi-byte sequences: no Latin-1 or
    Shift_JIS text reads so) but say otherwise. An encoding read as the superset browsers read it
    as (Latin-1 and US-ASCII as cp1252, Shift_JIS as cp932 ...) is not a wrong declaration: it is
    re-declared without a warning (map_c1 maps Latin-1's C1 characters as cp1252). `trust_utf8`:
    do not check a document declared UTF-8 (lxml refuses bad UTF-8: it is checked once lxml has)."""
    if data.startswith(_BOMS) or data[:2].count(0) or data.isascii():
        return data, headers, None
    declared_by = _XML_DECL.search(data, 0, 1024)
    header = _CHARSET.search(next((v for k, v in headers.items() if k.lower() == "content-type"), ""))
    declared = declared_by.group(1).decode() if declared_by else header.group(1) if header else "UTF-8"
    try:
        info = codecs.lookup(declared)
    except LookupError:
        return data, headers, None  # (an encoding Python does not know: the parsers say what they say)
    codec = info.name
    if not info._is_text_encoding or codec.startswith(("utf-16", "utf-32")):  # (rot13, base64: not text)
        return data, headers, None
    wide = SUPERSETS.get(codec, codec)
    if codec == "utf-8":
        if trust_utf8 or _decodes(data, "utf-8"):
            return data, headers, None
        used = _guess(data)
    elif _decodes(data, "utf-8"):
        used = "utf-8"
    elif codec == "latin_1" or (_decodes(data, codec) and _plausible(data, codec, declared=True)):
        return data, headers, None  # (Latin-1: lxml reads it, and map_c1 maps its C1 characters)
    elif wide == "cp1252" or (_decodes(data, wide) and _plausible(data, wide, declared=True)):
        used = wide
    else:
        used = _guess(data)
    try:
        text = map_c1(data.decode("latin-1")) if used == "cp1252" else data.decode(used)
    except (UnicodeError, LookupError):  # (checked above: not expected)
        return data, headers, None
    if declared_by:
        start, end = declared_by.span(1)
        text = text[:start] + "utf-8" + text[end:]  # (the declaration is ASCII, at the start: same offsets)
    kept = {k: v for k, v in headers.items() if k.lower() != "content-type"}
    kept["Content-Type"] = "application/xml; charset=utf-8"
    if used in (codec, wide):
        return text.encode("utf-8"), kept, None
    said = f"declared {declared}" if declared_by or header else "no encoding declared (so UTF-8)"
    return text.encode("utf-8"), kept, f"{said}, but it is not: read as {NAMES.get(used, used)}"


def _decodes(data: bytes, codec: str) -> bool:
    try:
        data.decode(codec)
    except (UnicodeError, LookupError):  # (idna and the like raise UnicodeError)
        return False
    return True


_SAMPLE = 1 << 16  # bytes of a document (from its first non-ASCII one) that tell whether it reads as Japanese
_NON_ASCII = re.compile(rb"[\x80-\xff]")


def _plausible(data: bytes, codec: str, *, declared: bool = False) -> bool:
    """Text in a Japanese encoding that reads as Japanese: 90% of its non-ASCII characters
    Japanese ones, with kana among them unless it was declared so (a few kanji can be other
    bytes by chance: cp1252's accented letters read as Shift_JIS). Other encodings: yes."""
    if codec not in JAPANESE and codec not in ("shift_jis", "shift_jis_2004", "shift_jisx0213", "euc_jis_2004",
                                               "euc_jisx0213", "iso2022_jp"):
        return True
    first = _NON_ASCII.search(data)
    if first is None:
        return True
    text = data[first.start() : first.start() + _SAMPLE].decode(codec, errors="ignore")
    wide = [c for c in text if ord(c) > 127]
    japanese = sum(1 for c in wide if _JAPANESE_TEXT.match(c)) >= 0.9 * len(wide)
    return japanese and (declared or bool(_KANA.search(text)))


def _guess(data: bytes) -> str:
    """What a document its declaration does not decode is: UTF-8, EUC-JP or Shift_JIS when it
    decodes so (and, for those two, reads as Japanese), else cp1252 (as the wire reader does)."""
    if _decodes(data, "utf-8"):
        return "utf-8"
    for codec in JAPANESE:
        if _decodes(data, codec) and _plausible(data, codec):
            return codec
    return "cp1252"


def _past_caps(entries: int, limits: Limits, cut: list[tuple[str, int, int]], warnings: list[str]) -> int:
    """Warnings for the caps a document reached (added to `warnings`); the entries past them."""
    past = max(0, entries - limits.entries_per_feed)
    if past:
        warnings.append(f"{entries:,} entries; the first {limits.entries_per_feed:,} read (limits.entries_per_feed)")
    warnings += caps.cap_warnings(cut, limits, unit="entry")
    return past + len(cut)


def _too_deep(data: bytes) -> bool:
    """Elements nested deeper than MAX_DEPTH, told by lxml in recovery mode (it stops there,
    in C, without building the rest; malformed XML elsewhere does not hide it)."""
    parser = _parser(recover=True, load_dtd=False)
    try:
        etree.fromstring(data, parser)
    except (etree.XMLSyntaxError, ValueError):
        pass
    return any(e.type_name == "ERR_RESOURCE_LIMIT" and "depth" in e.message.lower() for e in parser.error_log)


Doc = tuple[dict, list[dict], list[str]]  # the feed's fields, its entries' fields, warnings


def _feedparser(data: bytes, url: str, headers: dict[str, str]) -> Doc | FeedRead:
    """Any feed, however broken: feedparser."""
    # the headers that matter for parsing: the declared charset, and the base of relative URLs
    kept = {k.lower(): v for k, v in headers.items() if k.lower() in ("content-type", "content-language")}
    kept["content-location"] = url
    kept.setdefault("content-type", "application/xml")  # a file, or a server that did not say
    try:
        parsed = feedparser.parse(data, response_headers=kept, sanitize_html=False, resolve_relative_uris=True)
    except Exception as exc:  # feedparser is meant not to raise; if it does, it is this source's problem
        return FeedRead(url, None, url, ReadResult(skipped=_one_line(f"cannot parse: {exc or 'no detail'}")))
    feed = parsed.get("feed", {})
    title = plain(feed.get("title", "")) or url
    warnings: list[str] = []
    if parsed.get("bozo"):
        problem = parsed.get("bozo_exception")
        if not parsed.entries:
            reason = f"not a feed: {_problem(problem)}" if problem else "not a feed"
            return FeedRead(title, None, url, ReadResult(skipped=_one_line(reason)))
        warnings.append(_one_line(f"broken feed, entries read anyway: {_problem(problem)}"))
    if not parsed.get("version") and not parsed.entries:
        return FeedRead(title, None, url, ReadResult(skipped="not an RSS, Atom or JSON feed"))
    def as_html(detail, value: str) -> str:  # feedparser gives text/plain unescaped
        return html.escape(value, quote=False) if (detail or {}).get("type") == "text/plain" else value

    entries = []
    for entry in parsed.entries:
        content = ""
        if entry.get("content"):
            best = max(entry.content, key=lambda c: len(c.get("value", "")))
            content = as_html(best, best.get("value", ""))
        entries.append({
            "id": entry.get("id"), "title": as_html(entry.get("title_detail"), entry.get("title", "")),
            "link": entry.get("link"), "content": content,
            "summary": as_html(entry.get("summary_detail"), entry.get("summary", "")),
            "date": dict.get(entry, "updated") or dict.get(entry, "published"),  # (not feedparser's fallback)
            "base": (entry.get("content") or [{}])[0].get("base"),
            **_feedparser_meta(entry),
        })
    return {"title": as_html(feed.get("title_detail"), feed.get("title", "")), "link": feed.get("link"),
            "id": feed.get("id"), "ttl": feed.get("ttl", ""),
            "authors": _feedparser_meta(feed)["authors"]}, entries, warnings


def _feedparser_meta(entry) -> dict:
    """An entry's (or a feed's) dates, authors, categories and enclosures as feedparser gives them."""
    def one(d) -> bool:
        return isinstance(d, dict)
    authors = [{"name": a.get("name"), "email": a.get("email"), "uri": a.get("href")}
               for a in (dict.get(entry, "authors") or []) if one(a)]
    if not authors and dict.get(entry, "author"):  # an RSS <author> feedparser did not split
        authors = [_rss_author(dict.get(entry, "author"))]
    return {"published": dict.get(entry, "published_parsed"), "updated": dict.get(entry, "updated_parsed"),
            "authors": authors,
            "categories": [{"term": t.get("term"), "label": t.get("label"), "scheme": t.get("scheme")}
                           for t in (dict.get(entry, "tags") or []) if one(t)],
            "enclosures": [{"url": e.get("href"), "type": e.get("type"), "length": e.get("length")}
                           for e in (dict.get(entry, "enclosures") or []) if one(e)]}


def _parser(huge_tree: bool = False, **options) -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=huge_tree, remove_comments=True,
                           **options)


#: feedparser (the lenient parser, for what lxml rejects) costs ~22 us a tag and ~0.5 us a byte
#: of escaped HTML: documents beyond these take it seconds (2M tags: 105 s, 1 GB) and are refused.
LENIENT_MAX_BYTES = 4 * 1024 * 1024
LENIENT_MAX_TAGS = 50_000


TOO_DEEP = "too deep"  # what _fast says of a document nested deeper than MAX_DEPTH
_CHUNK = 1 << 16


def _fast(data: bytes, limit: int) -> Doc | str | None:
    """Well-formed Atom 1.0 or RSS 2.0 without a DTD or xml:base, read with lxml: ~10x
    feedparser's speed, for the feeds most sites serve; the first `limit` entries (and how
    many there are, as the feed's "count"). TOO_DEEP: refused. None: leave it to feedparser."""
    if b"<!DOCTYPE" in data[:4096].upper() or b"xml:base" in data:
        return None
    try:
        root, count = _bounded_tree(_pull_parser(), data, limit)
    except etree.XMLSyntaxError as exc:
        fatal = str(exc).lower()  # the error that stopped libxml2 (the error logs also hold earlier parses')
        if "excessive depth" in fatal:
            return TOO_DEEP
        if "text node too long" not in fatal or _too_deep(data):
            return None
        try:  # a text node over libxml2's 10 MB: an entry far over any story cap (which then cuts
            # it), not a reason to hand 10 MB of text to feedparser
            root, count = _bounded_tree(_pull_parser(huge_tree=True), data, limit)
        except (etree.XMLSyntaxError, ValueError):
            return None
    except ValueError:
        return None
    if root.tag == f"{ATOM}feed":
        return _atom(root, count)
    if root.tag == "rss" and root.get("version", "").startswith("2"):
        channel = root.find("channel")
        return _rss(channel, count) if channel is not None else None
    return None


def _pull_parser(huge_tree: bool = False) -> etree.XMLPullParser:
    return etree.XMLPullParser(events=("end",), tag=(f"{ATOM}entry", "item"), resolve_entities=False,
                               no_network=True, huge_tree=huge_tree, remove_comments=True)


def _bounded_tree(parser: etree.XMLPullParser, data: bytes, limit: int):
    """(the document's root, its number of entries), keeping only the first `limit` entries
    (Atom entries of the feed, RSS items of the channel) in the tree: 420,000 tiny items in
    32 MB made a 450 MB tree. Raises XMLSyntaxError."""
    count = 0
    for start in range(0, len(data), _CHUNK):
        parser.feed(data[start : start + _CHUNK])
        for _, element in parser.read_events():
            parent = element.getparent()
            if parent is None or parent.tag not in ("channel", f"{ATOM}feed"):
                continue
            count += 1
            if count > limit:
                parent.remove(element)
    root = parser.close()
    return root, count


def _atom_text(el) -> str:
    """An Atom text construct as HTML (text is escaped, xhtml serialised)."""
    if el is None:
        return ""
    kind = el.get("type", "text")
    if kind == "xhtml":
        div = el.find("{http://www.w3.org/1999/xhtml}div")
        inner = div if div is not None else el
        parts = [html.escape(inner.text or "", quote=False)]
        for child in inner:
            etree.cleanup_namespaces(child)
            parts.append(etree.tostring(child, encoding="unicode", with_tail=True))
        return re.sub(r' xmlns(:\w+)?="[^"]*"', "", "".join(parts))
    if kind in ("html", "text/html"):
        return el.text or ""
    return html.escape(el.text or "", quote=False)


def _atom_link(el) -> str | None:
    for link in el.findall(f"{ATOM}link"):
        if link.get("rel", "alternate") == "alternate" and link.get("href"):
            return link.get("href")
    return None


#: Elements feedparser takes an entry's text from (by local name, in any namespace it knows):
#: dc:title, dc:description, itunes:summary, media:description, <body>, xhtml:body, <fullitem>,
#: <abstract>, content:encoded ...
TEXT_ELEMENTS = {"title", "description", "summary", "content", "encoded", "body", "fullitem", "abstract"}
MEDIA_GROUP = "{http://search.yahoo.com/mrss/}group"


def _lacking(entry, read: set[str], title: str, markup_ok: set[str]) -> str | None:
    """Why the fast parser may read less of this entry than feedparser (None: it reads it all).
    `read`: the elements it reads, by tag (`title`: the title's); `markup_ok`: those whose child
    elements it keeps (Atom xhtml). Cheap: an entry's children, and those of a media:group. An
    element it does not read counts when it may add text: a title-like one (dc:title) when the
    entry has no title, another (itunes:summary, dc:description, xhtml:body ...) when it holds
    more characters than the longest text read (a podcast's itunes:summary repeating its
    description does not send every podcast feed to feedparser)."""
    children = list(entry)
    for group in [c for c in children if c.tag == MEDIA_GROUP]:
        children += list(group)
    longest, titled, unread = 0, False, []
    for child in children:
        tag = child.tag
        if not isinstance(tag, str):  # a processing instruction
            continue
        if tag in read:
            if len(child):
                if not (tag in markup_ok and child.get("type") == "xhtml"):
                    return f"markup inside <{tag}>"
                size = sum(len(t) for t in child.itertext())
            else:
                size = len(child.text or "")
            if tag == title:
                titled = titled or size > 0
            else:
                longest = max(longest, size)
        elif tag.rpartition("}")[2] in TEXT_ELEMENTS:
            unread.append(child)
    for child in unread:
        size = sum(len(t) for t in child.itertext())
        title_like = child.tag.rpartition("}")[2] == "title"
        if (size > 0 and not titled) if title_like else size > longest:
            return f"text in <{child.tag}>"
    return None


NO_ENTRIES = "no entries"
_ENTRY_TAG = re.compile(rb"<(?:\w+:)?(?:item|entry)\b", re.IGNORECASE)  # an entry somewhere else


def _no_text(entries: list[dict]) -> str | None:
    if not entries:
        return NO_ENTRIES
    if any(not any(e[key].strip() for key in ("title", "content", "summary")) for e in entries):
        return "an entry without text"
    return None


def _atom_authors(el) -> list[dict]:
    if el is None:
        return []
    return [{"name": a.findtext(f"{ATOM}name"), "email": a.findtext(f"{ATOM}email"), "uri": a.findtext(f"{ATOM}uri")}
            for a in el.findall(f"{ATOM}author")]


def _atom(root, count: int) -> Doc:
    entries = []
    lacking = None
    atom_read = {f"{ATOM}title", f"{ATOM}content", f"{ATOM}summary"}
    for e in root.iterfind(f"{ATOM}entry"):
        lacking = lacking or _lacking(e, atom_read, f"{ATOM}title", atom_read)
        title = e.find(f"{ATOM}title")
        entries.append({
            "id": e.findtext(f"{ATOM}id"), "title": _atom_text(title) if title is not None else "",
            "link": _atom_link(e), "content": _atom_text(e.find(f"{ATOM}content")),
            "summary": _atom_text(e.find(f"{ATOM}summary")),
            "date": e.findtext(f"{ATOM}updated") or e.findtext(f"{ATOM}published"),
            "published": e.findtext(f"{ATOM}published"), "updated": e.findtext(f"{ATOM}updated"),
            "authors": _atom_authors(e) or _atom_authors(e.find(f"{ATOM}source")),
            "categories": [{"term": c.get("term"), "label": c.get("label"), "scheme": c.get("scheme")}
                           for c in e.findall(f"{ATOM}category")],
            "enclosures": [{"url": link.get("href"), "type": link.get("type"), "length": link.get("length")}
                           for link in e.findall(f"{ATOM}link") if link.get("rel") == "enclosure"],
        })
    title = root.find(f"{ATOM}title")
    return {"title": _atom_text(title) if title is not None else "", "link": _atom_link(root),
            "id": root.findtext(f"{ATOM}id"), "count": count, "lacking": lacking or _no_text(entries),
            "authors": _atom_authors(root)}, entries, []


RSS_READ = {"title", "description", CONTENT_ENCODED}


def _rss(channel, count: int) -> Doc:
    entries = []
    lacking = None
    for item in channel.iterfind("item"):
        lacking = lacking or _lacking(item, RSS_READ, "title", set())
        guid = item.find("guid")
        entries.append({
            "id": guid.text if guid is not None else None, "title": item.findtext("title") or "",
            "link": item.findtext("link"), "content": item.findtext(CONTENT_ENCODED) or "",
            "summary": item.findtext("description") or "", "date": item.findtext("pubDate"),
            "published": item.findtext("pubDate") or item.findtext(f"{DC}date"),
            "authors": [_rss_author(a.text) for a in item.findall("author") if a.text]
            + [{"name": a.text} for a in item.findall(f"{DC}creator") if a.text],
            "categories": [{"term": c.text, "scheme": c.get("domain")} for c in item.findall("category")],
            "enclosures": [{"url": e.get("url"), "type": e.get("type"), "length": e.get("length")}
                           for e in item.findall("enclosure")],
        })
    return {"title": channel.findtext("title") or "", "link": channel.findtext("link"),
            "ttl": channel.findtext("ttl") or "", "count": count, "lacking": lacking or _no_text(entries)}, entries, []


def _rss_author(text: str) -> dict:
    """An RSS <author>: "jdoe@example.com (John Doe)", an address, or (as feeds write it) a name."""
    match = _RSS_AUTHOR.fullmatch(text)
    if match and _email(match[1]):
        return {"name": match[2], "email": match[1]}
    return {"name": text}


def _json_meta(item: dict, feed_authors: list) -> dict:
    def people(doc) -> list[dict]:
        found = doc.get("authors") if isinstance(doc.get("authors"), list) else [doc.get("author")]
        out = []
        for a in found:
            if isinstance(a, dict):
                link = a.get("url") if isinstance(a.get("url"), str) else ""
                email = link[7:] if link.lower().startswith("mailto:") else None
                out.append({"name": a.get("name"), "email": email, "uri": None if email else link})
        return out

    files = item.get("attachments") if isinstance(item.get("attachments"), list) else []
    tags = item.get("tags") if isinstance(item.get("tags"), list) else []
    return {"published": item.get("date_published"), "updated": item.get("date_modified"),
            "authors": people(item) or feed_authors,
            "categories": [{"term": t} for t in tags if isinstance(t, str)],
            "enclosures": [{"url": f.get("url"), "type": f.get("mime_type"), "length": f.get("size_in_bytes")}
                           for f in files if isinstance(f, dict)]}


def _parse_json(data: bytes, url: str, limits: Limits) -> FeedRead:
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        if isinstance(exc, json.JSONDecodeError):
            why = f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg[:1].lower()}{exc.msg[1:]})"
        elif isinstance(exc, UnicodeDecodeError):
            why = f"not valid JSON (not UTF-8: byte 0x{exc.object[exc.start]:02x} at offset {exc.start})"
        else:
            why = "not valid JSON (nested too deep)" if isinstance(exc, RecursionError) else f"not valid JSON ({exc})"
        return FeedRead(url, None, url, ReadResult(skipped=_one_line(why)))
    if not isinstance(doc, dict) or not str(doc.get("version", "")).startswith("https://jsonfeed.org/version/"):
        return FeedRead(url, None, url, ReadResult(skipped="JSON, but not a JSON Feed (no jsonfeed.org version)"))
    items = doc.get("items")
    if not isinstance(items, list):
        return FeedRead(url, None, url, ReadResult(skipped="JSON Feed without an items list"))
    title = plain(str(doc.get("title") or "")) or url
    home = web_url(url, doc.get("home_page_url"))
    feed_url = doc.get("feed_url") if isinstance(doc.get("feed_url"), str) else url
    origin_feed = {"feed_title": title, "feed_link": home, "feed_id": feed_url, "feed_url": url}
    stories = []
    cut: list[tuple[str, int, int]] = []
    bad_urls: list[str] = []
    for index, item in enumerate(items[: limits.entries_per_feed], start=1):
        if not isinstance(item, dict):
            continue
        link_ = web_url(home or url, item.get("url"))
        body = item.get("content_html") if isinstance(item.get("content_html"), str) else ""
        if not body and isinstance(item.get("content_text"), str):
            body = "".join(f"<p>{html.escape(p)}</p>" for p in item["content_text"].split("\n") if p.strip())
        summary = item.get("summary") if isinstance(item.get("summary"), str) else ""
        raw_id = item.get("id")
        ident = item_id(str(raw_id) if raw_id is not None else None, link_, str(item.get("title") or ""),
                        str(item.get("date_modified") or item.get("date_published") or ""))
        story = _story(str(item.get("title") or ""), body, html.escape(summary), link_ or home or url,
                       Origin(item_id=ident, link=link_, **origin_feed), index, limits, cut, bad_urls=bad_urls)
        if story:
            fields = _json_meta(item, _json_meta(doc, [])["authors"])
            stories.append(_dated(story, fields, item_meta(fields["authors"], fields["categories"],
                                                           fields["enclosures"], link_ or home or url)))
    warnings: list[str] = bad_urls_warning(bad_urls)
    past = _past_caps(len(items), limits, cut, warnings)
    if not stories:
        return FeedRead(title, home, feed_url, ReadResult(skipped="no entries with text", warnings=tuple(warnings),
                                                          past_caps=past))
    return FeedRead(title, home, feed_url, ReadResult(stories=tuple(stories), warnings=tuple(warnings),
                                                      past_caps=past))


def bad_urls_warning(bad_urls: list[str]) -> list[str]:
    """One warning for the links of a document dropped as no URL at all (none: no warning)."""
    if not bad_urls:
        return []
    return [_one_line(f"{len(bad_urls)} link(s) dropped, not URLs (e.g. {bad_urls[0][:60]!r})")]


def _problem(problem: BaseException) -> str:
    """What feedparser found wrong, in words: never the class name (SAXParseException), nor
    its "<unknown>:2:29:" place (feedparser rewrites the XML declaration first, so the line
    and column are not the document's)."""
    from xml.sax import SAXParseException

    if isinstance(problem, SAXParseException):
        return f"malformed XML: {problem.getMessage()}"
    return str(problem) or "malformed"


def _one_line(text: str) -> str:
    return _SPACE.sub(" ", text).strip()[:300]
