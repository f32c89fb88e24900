"""Story text as every output format shows it: pure functions, no markup library, no clock.

Shared by the feeds (Atom, RSS), JSON Feed and the HTML pages, so one story reads the same
everywhere: the same content, summary and "Updated:" note; and the same rule for every link
written (safe_link).
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from urllib.parse import urlsplit

from publisher.model import Category, Entry
from publisher.render.sourcevalues import canonical_url

SUMMARY_MAX = 300
_SPACE = re.compile(r"\s+")
# Characters XML 1.0 (and HTML) cannot carry: C0 controls but tab/newline/CR, lone surrogates,
# U+FFFE/U+FFFF; and the bidirectional embedding, override and isolate controls (U+202A-U+202E,
# U+2066-U+2069), with which a source can make a title read backwards in a reader or a page.
_XML_ILLEGAL = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]|[\u202a-\u202e\u2066-\u2069]")


def xml_text(text: str) -> str:
    """Text safe to put in XML 1.0 or HTML (control characters, lone surrogates and bidi
    overrides removed)."""
    return _XML_ILLEGAL.sub("", text)


def safe_link(url: str | None, *, relative: bool = False) -> str | None:
    """`url` if it may be written as a link (an href, a src, a feed's link field), else None.

    Allowed: an absolute http(s) URL; with relative=True also a relative reference without a
    scheme (the paths between our own pages, which we build). Everything else is None and the
    caller shows text instead: javascript:, data:, vbscript:, a file's name holding a colon
    ("javascript:alert(1).xml"), and schemes disguised by case, spaces or control characters
    (browsers drop tabs and newlines inside a URL, so "java<tab>script:" is javascript:). Values
    from outside (other people's feeds, file names) are checked with relative=False: a file's
    name is not a page of ours."""
    # Whitespace or a character not printable anywhere: every whitespace character but " " is
    # one str.isprintable refuses, so the whole check is one C call and one search (a page
    # checks a few links per story: a loop over the characters was a tenth of a first publish)
    if url is None or " " in url or not url.isprintable():
        return None
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. "http://[": not a URL
        return None
    if parts.scheme:
        return url if parts.scheme in ("http", "https") and parts.netloc else None
    # no scheme as Python parses it; no colon before the first "/", "?" or "#" either, so no
    # browser can read one; and no "//host": our own paths stay on our site
    first = re.split(r"[/?#]", url, maxsplit=1)[0]
    return url if relative and ":" not in first and not url.startswith("//") else None


def human_time(dt: datetime) -> str:
    """"25 Nov 2026, 15:26 UTC": how pages and the "Updated:" note show a time."""
    return dt.astimezone(UTC).strftime("%-d %b %Y, %H:%M UTC")


def shows_update(entry: Entry) -> bool:
    """A revision a reader is told about: one that came in a later minute than the first text
    (both times are shown to the minute: "updated 15:26, first published 15:26" says nothing)."""
    return entry.revised and human_time(entry.updated) != human_time(entry.published)


def updated_note(entry: Entry) -> str | None:
    """The one-line note ending a revised story's content (None when it was never revised, or
    revised within the minute). Its "first published" is the date every format and the page
    call published (the source's date, else first seen), never a second one."""
    if not shows_update(entry):
        return None
    return f"Updated: {human_time(entry.updated)} (first published {human_time(entry.date_published)})."


def content_html(entry: Entry) -> str:
    """The story as HTML: one <p> per paragraph (a story from a feed: its sanitised HTML); a
    cut-off story ends with an ellipsis; a revised one with its "Updated:" note."""
    if entry.html is not None:  # from a feed: its own markup, sanitised when it was read
        out = xml_text(entry.html)
    else:
        paragraphs = list(entry.paragraphs)
        if entry.truncated and paragraphs:
            paragraphs[-1] = paragraphs[-1].rstrip() + " …"
        out = "".join(f"<p>{html.escape(xml_text(p), quote=False)}</p>" for p in paragraphs)
    note = updated_note(entry)
    if note:
        out += f"<p><em>{html.escape(note, quote=False)}</em></p>"
    return out


def summary_text(entry: Entry) -> str:
    """A plain-text summary: the first paragraph, shortened at a word boundary."""
    first = xml_text(entry.paragraphs[0]) if entry.paragraphs else ""
    if len(first) <= SUMMARY_MAX:
        return first
    cut = first[: SUMMARY_MAX - 1]
    return cut[: cut.rfind(" ")].rstrip(" ,;:") + "…" if " " in cut else cut + "…"


TEASER_MAX = 160


def teaser(entry: Entry, limit: int = TEASER_MAX) -> str:
    """One line under a headline that does not repeat it: the story's first text after its
    headline (a wire story's headline is often its lede's opening), cut at a word boundary to
    at most `limit` characters; "" when the story has no more words than its headline."""
    title = _SPACE.sub(" ", xml_text(entry.title)).strip().rstrip("…").rstrip()
    kicker = _SPACE.sub(" ", xml_text(entry.kicker or "")).strip()
    if kicker and title.startswith(kicker):  # "PUBLIC SAFETY: The premier said ...": its lede
        title = title[len(kicker):].lstrip(" :")
    for paragraph in entry.paragraphs:
        text = _SPACE.sub(" ", xml_text(paragraph)).strip()
        at = _headline_at(text, title)
        if at is not None:  # the rest of the lede, said to be its rest
            text = text[at + len(title):].lstrip(" .,;:—–-")
            text = "…" + text if text else text
        if len(text) >= 20 and text.casefold() != title.casefold():
            break
    else:
        return ""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    return cut[: cut.rfind(" ")].rstrip(" ,;:") + "…" if " " in cut else cut + "…"


DATELINE_MAX = 60  # "NEW TAIPEI CITY, Nov 24 (Agence Wire) - ": what may come before a lede's headline


def _headline_at(text: str, title: str) -> int | None:
    """Where `text` starts with `title`: at 0, or after a dateline (a wire headline leaves it
    out, and capitalises the word after it: "KYIV (Wire) - troops ..." is "Troops ...")."""
    if not title:
        return None
    if text.startswith(title):
        return 0
    for form in (title, title[:1].lower() + title[1:]):
        at = text.find(form, 0, DATELINE_MAX + len(form))
        if at > 0 and text[:at].rstrip().endswith(("-", "–", "—")):
            return at
    return None


Texts = tuple[str, str, str, str]  # title, summary, summary as HTML, content HTML


def entry_texts(entry: Entry) -> Texts:
    summary = summary_text(entry)
    return xml_text(entry.title), summary, html.escape(summary, quote=False), content_html(entry)


def cached_texts(entry: Entry, cache: dict | None) -> Texts:
    """entry_texts, prepared once per publish: an entry is in its topic feeds and the merged
    feed, in three formats. `cache` is a dict kept for one publish (None: no caching)."""
    key = (entry.entry_id, entry.updated)
    texts = cache.get(key) if cache is not None else None
    if texts is None:
        texts = entry_texts(entry)
        if cache is not None:
            cache[key] = texts
    return texts


def entry_categories(entry: Entry, topics: tuple[tuple[str, str], ...], topic_url) -> tuple[Category, ...]:
    """The categories every format gives an entry: its source's (as the item had them), then
    each of our topics it is in (term: the slug, label: the topic's title, scheme: the topic's
    page, `topic_url(slug)`), in config order; one per term and scheme."""
    out: dict[tuple[str, str | None], Category] = {}
    ours = {topic_url(slug) for slug, _ in topics}
    for c in entry.meta.categories:
        if canonical_url(c.scheme) in ours:  # a source does not file a story under our topics
            continue
        out.setdefault((c.term.casefold(), c.scheme), Category(xml_text(c.term), c.label and xml_text(c.label),
                                                               canonical_url(c.scheme)))
    for slug, title in topics:
        if slug in entry.topics:
            out.setdefault((slug, topic_url(slug)), Category(slug, xml_text(title), topic_url(slug)))
    return tuple(out.values())


def entry_tags(categories: tuple[Category, ...]) -> list[str]:
    """Categories as JSON Feed tags (and RSS category texts): each shown once, by its label."""
    seen: dict[str, str] = {}
    for c in categories:
        text = c.label or c.term
        seen.setdefault(text.casefold(), text)
    return list(seen.values())
