"""JSON Feed 1.1 (https://jsonfeed.org/version/1.1): FeedSpec in, bytes out. No clock, no disk.

The same entries as the Atom and RSS feeds, with the same ids, in the same order, and the same
content (render.text), so a reader switching formats sees the same stories. JSON Feed has no
archived feeds (RFC 5005); its paging is `next_url`, "the next n items": the feed's points to
its newest archive page, each archive page's to the one before, so following next_url reads the
whole feed back, as prev-archive does in Atom and RSS.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from publisher.model import FeedFormat, FeedSpec, Icon
from publisher.render.sourcevalues import canonical_url
from publisher.render.text import cached_texts, entry_categories, entry_tags, xml_text

VERSION = "https://jsonfeed.org/version/1.1"


def rfc3339(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


def render_json(spec: FeedSpec, cache: dict | None = None) -> bytes:
    feed: dict[str, Any] = {
        "version": VERSION,
        "title": xml_text(spec.title),
        "home_page_url": spec.page_url,
        "feed_url": spec.url(FeedFormat.JSON),
        "description": xml_text(spec.subtitle),
        "icon": spec.icon_url(Icon.LARGE),  # 512 x 512
        "favicon": spec.icon_url(Icon.SMALL),  # 64 x 64
        "language": spec.language,
        "authors": [{"name": xml_text(spec.author)}],
    }
    if spec.prev_archive:  # JSON Feed's paging: the next (older) items are the previous archive page's
        feed["next_url"] = spec.archive_url(spec.prev_archive, FeedFormat.JSON.filename)
    if spec.hub:
        feed["hubs"] = [{"type": "WebSub", "url": spec.hub}]
    items = []
    for entry in spec.entries:
        title, summary, _, content = cached_texts(entry, cache)
        items.append({
            "id": entry.entry_id,
            "url": spec.entry_url(entry),
            "title": title,
            "content_html": content,
            "summary": summary,
            "date_published": rfc3339(entry.date_published),  # the source's date, else first seen
            "date_modified": rfc3339(entry.updated),
        })
        original = canonical_url(entry.origin.link) if entry.origin is not None else None
        if original:
            # the original article is the item's url (what readers open, as Atom's alternate
            # link and RSS <link>); its story page here is the page elsewhere
            items[-1]["url"], items[-1]["external_url"] = original, spec.entry_url(entry)
        _add_meta(items[-1], entry, spec)
    feed["items"] = items
    # compact: without indent, json.dumps is its C encoder (indent=2 is the pure-Python one)
    return (json.dumps(feed, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def _add_meta(item: dict[str, Any], entry, spec: FeedSpec) -> None:
    """An item's authors, tags (its source's categories and our topics), attachments."""
    meta = entry.meta
    authors = []
    for person in meta.authors:
        author = {"name": xml_text(person.name)}
        url = canonical_url(person.uri) or (f"mailto:{person.email}" if person.email else None)
        if url:
            author["url"] = url
        authors.append(author)
    if authors:
        item["authors"] = authors
    tags = entry_tags(entry_categories(entry, spec.topics, spec.topic_url))
    if tags:
        item["tags"] = tags
    attachments = []
    for enclosure in meta.enclosures:
        href = canonical_url(enclosure.url)
        if href:
            attachment: dict[str, Any] = {"url": href, "mime_type": enclosure.type or "application/octet-stream"}
            if enclosure.length is not None:
                attachment["size_in_bytes"] = enclosure.length
            attachments.append(attachment)
    if attachments:
        item["attachments"] = attachments
