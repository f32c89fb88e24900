"""OPML 2.0 (http://opml.org/spec2.opml): every feed, for a one-step import into a reader.
FeedSpecs in, bytes out; no clock (dates come from the feeds), no disk."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from email.utils import format_datetime
from xml.sax.saxutils import escape, quoteattr

from publisher.model import FeedFormat, FeedSpec
from publisher.render.text import xml_text


def render_opml(title: str, owner: str, feeds: Sequence[FeedSpec]) -> bytes:
    """One outline per feed: its Atom URL (xmlUrl) and its HTML page (htmlUrl)."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<opml version="2.0">', "  <head>",
             f"    <title>{escape(xml_text(title))}</title>"]
    if feeds:
        newest = max(f.updated for f in feeds)
        lines.append(f"    <dateModified>{format_datetime(newest.astimezone(UTC), usegmt=True)}</dateModified>")
    lines += [f"    <ownerName>{escape(xml_text(owner))}</ownerName>", "  </head>", "  <body>"]
    for feed in feeds:
        attrs = {"type": "rss", "text": xml_text(feed.label or feed.title), "title": xml_text(feed.title),
                 "xmlUrl": feed.url(FeedFormat.ATOM), "htmlUrl": feed.page_url}
        lines.append("    <outline " + " ".join(f"{k}={quoteattr(v)}" for k, v in attrs.items()) + "/>")
    lines += ["  </body>", "</opml>", ""]
    return "\n".join(lines).encode("utf-8")
