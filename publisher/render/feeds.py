"""Atom 1.0 and RSS 2.0: FeedSpec in, bytes out. No clock, no disk. The only feedgen importer.

Everything that varies comes from the spec: ids, dates and order are the store's, so the same
spec always gives the same bytes. (feedgen stamps `now` on anything left unset: we set it all.)

Links built here (self, alternate, each entry's story page) are under the checked base_url;
values taken from another feed (its id, its site, its URL, the original article) are written
only as render.sourcevalues makes them: canonical http(s) URLs and valid ids, or not at all.
"""

from __future__ import annotations

import html
from html.entities import name2codepoint
import re
from datetime import datetime

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from lxml import etree

from publisher import __version__
from publisher.model import FeedFormat, FeedSpec, Icon
from publisher.render.sourcevalues import canonical_url, source_id
from publisher.render.text import Texts, cached_texts, entry_categories, xml_text

# RSS elements that hold plain text: the feed's title and description, each item's title.
_RSS_PLAIN = re.compile(rb"<(title|description)>([^<]*)</\1>")


def _generator(spec: FeedSpec, cache: dict[tuple[str, datetime], Texts] | None = None) -> FeedGenerator:
    """One generator for both formats: what differs (the self link, the summary's escaping)
    is set so that each format reads its own field."""
    fg = FeedGenerator()
    fg.id(spec.feed_id)
    fg.title(xml_text(spec.title))
    fg.subtitle(xml_text(spec.subtitle))  # also the RSS <description>
    fg.author({"name": xml_text(spec.author)})
    fg.language(spec.language)
    fg.updated(spec.updated)  # Atom <updated> and RSS <lastBuildDate>
    fg.generator("publisher", version=__version__)  # (no uri: the project has no public home yet)
    fg.icon(spec.icon_url(Icon.SMALL))  # Atom <icon>: square, small
    for entry in spec.entries:
        title, summary, summary_html, content = cached_texts(entry, cache)
        fe = fg.add_entry(order="append")  # feedgen prepends by default: our order is explicit
        fe.id(entry.entry_id)  # RSS: <guid isPermaLink="false">
        fe.title(title)
        # the original article when it has one (RSS <link> too), else its story page
        original = canonical_url(entry.origin.link) if entry.origin is not None else None
        fe.link(href=original or spec.entry_url(entry), rel="alternate")
        fe.register_extension("meta", _ItemMeta, atom=True, rss=True)
        fe.meta.set(entry, spec, original)
        if entry.origin is not None:  # taken from someone else's feed: say whose
            origin = entry.origin
            rss_source = canonical_url(origin.feed_url) or canonical_url(origin.feed_link)
            if rss_source:  # RSS <source url="the feed's URL">
                fe.source(url=rss_source, title=xml_text(origin.feed_title))
            fe.register_extension("origin", _AtomSource, atom=True, rss=False)
            fe.origin.origin = origin
            fe.origin.updated = entry.updated  # when this text was taken from the source
        # RSS <description> is HTML, Atom <summary> plain text. description() also sets Atom
        # content and summary() leaves a description it did not set alone, so: this order.
        fe.description(summary_html)
        fe.content(content, type="html")  # Atom <content>; RSS <content:encoded>
        if looks_like_markup(summary):  # say it is HTML, escaped (see _html_title)
            fe.summary(summary_html, type="html")
        else:
            fe.summary(summary)
        fe.published(entry.date_published)  # RSS <pubDate>: the source's date, else first seen
        fe.updated(entry.updated)
    return fg


class _AtomSource(BaseEntryExtension):
    """Atom's <source> of an entry copied from another feed, in full (feedgen writes only a
    title and a link): the original feed's id (its own when valid, else one minted from it:
    the validator wants one), title, its site and its own URL. (The original article is the
    entry's alternate link.)"""

    origin = None
    updated = None

    def extend_atom(self, entry):
        if self.origin is None:
            return entry
        for old in entry.findall("source"):  # feedgen's elements are in the default namespace
            entry.remove(old)
        site, url = (canonical_url(u) for u in (self.origin.feed_link, self.origin.feed_url))
        source = etree.SubElement(entry, "source")
        etree.SubElement(source, "id").text = source_id(self.origin.feed_id, self.origin.feed_url)
        etree.SubElement(source, "title").text = xml_text(self.origin.feed_title)
        if site:
            etree.SubElement(source, "link", rel="alternate", href=site)
        if url:
            etree.SubElement(source, "link", rel="self", href=url)
        etree.SubElement(source, "updated").text = self.updated.isoformat()
        return entry


ATOM_NS = "http://www.w3.org/2005/Atom"
DC_NS = "http://purl.org/dc/elements/1.1/"


class _ItemMeta(BaseEntryExtension):
    """An entry's authors, categories (its source's and our topics), enclosures and, when its
    link is the original article, its story page (rel="related"). Atom carries every enclosure;
    RSS one (the validator warns on more): the first. RSS <author> is an address: when an
    author has none, every author of the item is a dc:creator."""

    entry = spec = original = None

    def set(self, entry, spec, original) -> None:
        self.entry, self.spec, self.original = entry, spec, original

    def _categories(self):
        return entry_categories(self.entry, self.spec.topics, self.spec.topic_url)

    def extend_atom(self, el):
        meta = self.entry.meta
        for person in meta.authors:
            author = etree.SubElement(el, "author")
            etree.SubElement(author, "name").text = xml_text(person.name)
            if person.email:
                etree.SubElement(author, "email").text = person.email
            uri = canonical_url(person.uri)
            if uri:
                etree.SubElement(author, "uri").text = uri
        if self.original:
            etree.SubElement(el, "link", rel="related", type="text/html", href=self.spec.entry_url(self.entry))
        for enclosure in meta.enclosures:
            href = canonical_url(enclosure.url)
            if href:
                link = etree.SubElement(el, "link", rel="enclosure", href=href)
                if enclosure.type:
                    link.set("type", enclosure.type)
                if enclosure.length is not None:
                    link.set("length", str(enclosure.length))
        for c in self._categories():
            category = etree.SubElement(el, "category", term=c.term)
            if c.scheme:
                category.set("scheme", c.scheme)
            if c.label:
                category.set("label", c.label)
        return el

    def extend_rss(self, item):
        meta = self.entry.meta
        # <author> is "address (Real Name)": when an author lacks either, every author is a
        # dc:creator (both kinds in one item, or an address alone: the validator warns)
        addresses = len(meta.authors) == 1 and all(  # (RSS allows one <author>: several are dc:creators)
            person.email and xml_text(person.name) not in ("", person.email) for person in meta.authors)
        for person in meta.authors:
            name = xml_text(person.name) or person.email
            if addresses:
                etree.SubElement(item, "author").text = f"{person.email} ({name})"
            else:
                etree.SubElement(item, f"{{{DC_NS}}}creator", nsmap={"dc": DC_NS}).text = name
        seen = set()  # readers show a category's text only: each text once, our topics' first
        categories = self._categories()
        for c in sorted(categories, key=lambda c: c.scheme is None or not c.scheme.startswith(self.spec.base_url)):
            text = c.label or c.term
            if text.casefold() not in seen:
                seen.add(text.casefold())
                category = etree.SubElement(item, "category")
                category.text = text
                if c.scheme:
                    category.set("domain", c.scheme)
        first = next((e for e in meta.enclosures if canonical_url(e.url)), None)
        if first is not None:  # (RSS requires all three: an unknown length is 0, an unknown type generic)
            etree.SubElement(item, "enclosure", url=canonical_url(first.url), length=str(first.length or 0),
                             type=first.type or "application/octet-stream")
        if self.original:
            etree.SubElement(item, f"{{{ATOM_NS}}}link", nsmap={"atom": ATOM_NS}, rel="related",
                             type="text/html", href=self.spec.entry_url(self.entry))
        return item


FH_NS = "http://purl.org/syndication/history/1.0"


class _Archived(BaseExtension):
    """RFC 5005 section 4: an archive document says so, with <fh:archive/> (in RSS inside the
    channel, as its appendix B shows)."""

    def extend_ns(self):
        return {"fh": FH_NS}

    def extend_atom(self, feed):
        etree.SubElement(feed, f"{{{FH_NS}}}archive")
        return feed

    def extend_rss(self, feed):
        etree.SubElement(feed.find("channel"), f"{{{FH_NS}}}archive")
        return feed


def _history_links(spec: FeedSpec, filename: str) -> list[dict[str, str]]:
    """RFC 5005 links in one format: the subscription document's prev-archive (the newest
    archive page); an archive page's current, prev-archive and next-archive."""
    links = []
    if spec.archive:
        links.append({"href": spec.current_url(filename), "rel": "current"})
    if spec.prev_archive:
        links.append({"href": spec.archive_url(spec.prev_archive, filename), "rel": "prev-archive"})
    if spec.next_archive:
        links.append({"href": spec.archive_url(spec.next_archive, filename), "rel": "next-archive"})
    return links


def _links(fg: FeedGenerator, spec: FeedSpec, filename: str) -> None:
    # the alternate link last: feedgen makes the last link added the RSS channel <link>
    links = [{"href": spec.url(filename), "rel": "self"}, *_history_links(spec, filename),
             {"href": spec.home_url, "rel": "alternate"}]
    if spec.hub:
        links.insert(1, {"href": spec.hub, "rel": "hub"})
    fg.link(links, replace=True)


def render(spec: FeedSpec, cache: dict | None = None) -> tuple[bytes, bytes]:
    """(Atom bytes, RSS bytes) for one feed. Pass the same `cache` dict when rendering several
    feeds of one publish: entries they share are prepared once."""
    fg = _generator(spec, cache)
    if spec.archive:
        fg.register_extension("archived", _Archived, atom=True, rss=True)
    _links(fg, spec, FeedFormat.ATOM.filename)
    fg.logo(spec.icon_url(Icon.LOGO))  # Atom <logo>: 2:1
    atom = _ATOM_ENTRY_TITLE.sub(_html_title, fg.atom_str(pretty=True, encoding="UTF-8"))
    _links(fg, spec, FeedFormat.RSS.filename)
    # RSS <image> (feedgen's logo() and image() set each other's field: each is set just before
    # its format is written): at most 144 x 400; its title and link are the channel's
    width, height = Icon.MEDIUM.size
    fg.image(spec.icon_url(Icon.MEDIUM), title=xml_text(spec.title), link=spec.home_url, width=str(width),
             height=str(height))
    rss = fg.rss_str(pretty=True, encoding="UTF-8")
    # Plain-text RSS elements: readers differ on whether "&amp;" in them is markup, so the RSS
    # profile (and the W3C validator) want numeric references for & and < there. Item
    # descriptions are HTML and keep their entities.
    head, sep, items = rss.partition(b"<item>")
    head = _RSS_PLAIN.sub(_numeric_refs, head)
    # feedgen writes only the self atom:link into RSS; WebSub wants the hub too, RFC 5005 its links
    extra = ([{"href": spec.hub, "rel": "hub"}] if spec.hub else []) + _history_links(spec, FeedFormat.RSS.filename)
    if extra:
        self_link = b'rel="self"/>'
        links = b"".join(b'\n    <atom:link href="%s" rel="%s"/>' % (html.escape(link["href"]).encode(),
                                                                       link["rel"].encode()) for link in extra)
        head = head.replace(self_link, self_link + links, 1)
    items = _RSS_PLAIN.sub(lambda m: _numeric_refs(m) if m.group(1) == b"title" else m.group(0), items)
    items = items.replace(b' xmlns:atom="http://www.w3.org/2005/Atom"', b"")  # (declared on <rss>)
    return atom, head + sep + items


# An entry title whose text holds "<" or "&" (escaped): "<title>" directly inside <entry>.
_ATOM_ENTRY_TITLE = re.compile(rb"(<entry>\s*(?:<[^>]*>[^<]*</[^>]*>\s*)*?)<title>([^<]*&(?:lt|amp);[^<]*)</title>")
_ENTITY_LIKE = re.compile(r"&(#?\w+)")


def looks_like_markup(text: str) -> bool:
    """Plain text that validators (and some readers) would take for HTML: a "<", or what reads
    as a character reference ("&amp", "&#38", "&eacute"; not "AT&T" nor "R&D")."""
    return "<" in text or any(name in name2codepoint or name == "apos" or not name.isalpha()
                              for name in _ENTITY_LIKE.findall(text))


def _html_title(m: re.Match) -> bytes:
    """Atom titles are plain text unless typed; text such as "a <b> story" or "&amp; co" is
    shown as text by readers either way, but validators (and some readers) take such a
    plain-text title for undeclared HTML. So it is declared type="html" and escaped once more:
    every reader then shows exactly the text."""
    if not looks_like_markup(html.unescape(m.group(2).decode())):
        return m.group(0)
    return m.group(1) + b'<title type="html">' + m.group(2).replace(b"&", b"&amp;") + b"</title>"


def _numeric_refs(m: re.Match) -> bytes:
    # "</" in a plain-text RSS title: readers that take titles for HTML would see an end tag
    # (and validators warn), and RSS has no way to say "text". A word joiner (U+2060, not
    # shown) after the "<" keeps the text as it reads and makes it no tag.
    text = m.group(2).replace(b"&amp;", b"&#x26;").replace(b"&lt;/", b"&#x3C;&#x2060;/").replace(b"&lt;", b"&#x3C;")
    return b"<%s>%s</%s>" % (m.group(1), text, m.group(1))


def render_atom(spec: FeedSpec) -> bytes:
    return render(spec)[0]


def render_rss(spec: FeedSpec) -> bytes:
    return render(spec)[1]
