"""What a file or a fetched document is, told by its content (its name only breaks a tie), and
what an OPML file or an HTML page points to. Pure: bytes in, answers out.

- FEED: RSS (0.9x, 1.0 RDF, 2.0), Atom or JSON Feed, by its root element; also a file with a
  feed suffix whose root cannot be read here (UCS-4, EBCDIC: feed.parse decides);
- OPML: a subscription list (its outlines' feed URLs: `outlines`);
- HTML: a web page (its `<link rel="alternate">` feeds: `alternates`);
- MARKUP: other XML (a sitemap, an SVG), whatever its suffix: not wire copy;
- WIRE: plain text.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from enum import StrEnum
from html.parser import HTMLParser

from lxml import etree

from publisher.sources.feed import looks_like_feed, web_url

HEAD = 65536  # bytes looked at to tell a kind


class Kind(StrEnum):
    FEED = "a feed"
    OPML = "an OPML subscription list"
    HTML = "an HTML page"
    MARKUP = "markup"
    WIRE = "wire copy"


_BOMS = ((codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"), (codecs.BOM_UTF8, "utf-8"),
         (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
# what comes before the root element: the XML declaration, processing instructions, comments,
# a DOCTYPE (with an internal subset), white space
_PROLOG = re.compile(r"\A(?:\s+|<\?.*?\?>|<!--.*?-->|<!DOCTYPE(?:[^\[>]|\[.*?\])*>)*", re.DOTALL | re.IGNORECASE)
_ROOT = re.compile(r"<([A-Za-z_][\w.:-]*)")
_DOCTYPE_HTML = re.compile(r"<!DOCTYPE\s+html", re.IGNORECASE)
# rdf:RDF (RSS 1.0/0.90); <channel>: Userland's RSS 0.9x; <entry>: an Atom entry document
_FEED_ROOTS = {"rss", "feed", "rdf", "channel", "entry"}
_HTML_ROOTS = {"html", "head", "body"}
_HTML_TAG = re.compile(r"<(?:p|div|br|span|a\s|script|style|meta|table|li|img)\b", re.IGNORECASE)


def _head_text(data: bytes) -> str:
    """The first bytes as text, enough to read tags by: a BOM's encoding, UTF-16 told by its
    zero bytes, else Latin-1 (every ASCII-compatible encoding reads its tags alike)."""
    head = data[:HEAD]
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return head[len(bom):].decode(encoding, "replace")
    if head[:2] in (b"<\x00", b"\x00<"):
        return head.decode("utf-16-le" if head[0] else "utf-16-be", "replace")
    return head.decode("latin-1")


def sniff(name: str, data: bytes) -> Kind:
    """The kind of a document named `name` (a file's name, a URL's path) holding `data`."""
    text = _head_text(data)
    start = text.lstrip()
    if start[:1] in ("{", "["):
        return Kind.FEED if looks_like_feed(name) or "jsonfeed.org/version" in start[:4096] else Kind.WIRE
    if not start.startswith("<"):
        if looks_like_feed(name):
            return Kind.FEED
        # a page saved without its head: tags everywhere is no wire copy
        return Kind.HTML if len(_HTML_TAG.findall(text[:8192])) >= 8 else Kind.WIRE
    prolog = _PROLOG.match(start)
    if _DOCTYPE_HTML.search(start[: prolog.end()]):
        return Kind.HTML
    root = _ROOT.match(start, prolog.end())
    local = root.group(1).rsplit(":", 1)[-1].lower() if root else ""
    if local == "opml":
        return Kind.OPML
    if local in _HTML_ROOTS:
        return Kind.HTML
    if local in _FEED_ROOTS or (not root and looks_like_feed(name)):  # (no root read: an encoding
        return Kind.FEED                                                # such as UCS-4: feedparser's call)
    return Kind.MARKUP if root or prolog.end() else Kind.WIRE


def root_name(data: bytes) -> str | None:
    """The root element's name as written (for a message), or None."""
    start = _head_text(data).lstrip()
    prolog = _PROLOG.match(start)
    root = _ROOT.match(start, prolog.end())
    return root.group(1) if root else None


def skip_reason(kind: Kind, data: bytes) -> str:
    """Why a document of this kind gives no stories (HTML, MARKUP)."""
    if kind == Kind.HTML:
        return "an HTML page, not wire copy or a feed (`publisher add URL` finds the feeds a web page links to)"
    root = root_name(data)
    return f"XML or other markup that is not a feed{f' (root element <{root}>)' if root else ''}, not wire copy"


# -- OPML --------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Outline:
    url: str
    title: str | None


def outlines(data: bytes, base: str = "") -> tuple[list[Outline], str | None]:
    """The feed URLs (xmlUrl) of an OPML document, in document order, once each, as absolute
    http(s) URLs; and None, or why the document cannot be read. Outlines whose xmlUrl is no web
    URL (javascript:, file:) are left out."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, recover=True,
                             remove_comments=True)
    try:
        root = etree.fromstring(data, parser)
    except (etree.XMLSyntaxError, ValueError) as exc:
        return [], f"cannot parse the OPML: {' '.join(str(exc).split())[:200]}"
    if root is None:
        return [], "cannot parse the OPML"
    found: dict[str, Outline] = {}
    for el in root.iter("outline", "{*}outline"):
        raw = el.get("xmlUrl") or el.get("xmlurl")
        url = web_url(base, raw) if raw else None
        if url and url not in found:
            title = (el.get("title") or el.get("text") or "").strip() or None
            found[url] = Outline(url, title[:200] if title else None)
    return list(found.values()), None


# -- HTML feed discovery -----------------------------------------------------------------------

FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/feed+json")


class _Alternates(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.base: str | None = None
        self.links: list[tuple[str, str, str | None]] = []  # (href, type, title)

    def handle_starttag(self, tag, attrs):
        a = {k.lower(): (v or "") for k, v in attrs}
        if tag == "base" and self.base is None and a.get("href"):
            self.base = a["href"].strip()
        elif tag == "link":
            rels = a.get("rel", "").lower().split()
            kind = a.get("type", "").split(";")[0].strip().lower()
            if "alternate" in rels and kind in FEED_TYPES and a.get("href", "").strip():
                self.links.append((a["href"].strip(), kind, a.get("title", "").strip() or None))

    handle_startendtag = handle_starttag


def alternates(page: bytes, url: str) -> list[tuple[str, str, str | None]]:
    """The feeds an HTML page links to (`<link rel="alternate" type="application/rss+xml"
    href=...>`, Atom and JSON Feed too): (absolute http(s) URL, type, title), in page order,
    once each."""
    parser = _Alternates()
    text = page[: 4 * HEAD].decode("utf-8", "replace")  # (links are in the head)
    try:
        parser.feed(text)
        parser.close()
    except Exception:  # HTMLParser is lenient; whatever it chokes on, what it found stands
        pass
    base = web_url(url, parser.base) if parser.base else url
    out: dict[str, tuple[str, str, str | None]] = {}
    for href, kind, title in parser.links:
        absolute = web_url(base or url, href)
        if absolute and absolute not in out:
            out[absolute] = (absolute, kind, title)
    return list(out.values())

