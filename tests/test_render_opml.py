"""render/opml.py: OPML 2.0 listing every feed."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime

from publisher.model import FeedSpec
from publisher.render.opml import render_opml

T0 = datetime(2026, 11, 24, 9, 12, tzinfo=UTC)


def spec(slug, label, updated=T0) -> FeedSpec:
    return FeedSpec(slug=slug, title=f"A & B Wire: {label}", feed_id=f"tag:x,2026:feed/{slug}",
                    base_url="https://news.example/", author="Desk", language="en", subtitle="", updated=updated,
                    label=label)


def test_opml_lists_every_feed_with_its_atom_and_page_urls():
    data = render_opml("A & B Wire", "Desk <desk>", [spec("ukraine", "Ukraine"), spec("all", "All stories")])
    root = ET.fromstring(data)
    assert root.tag == "opml" and root.get("version") == "2.0"
    assert root.findtext("head/title") == "A & B Wire" and root.findtext("head/ownerName") == "Desk <desk>"
    assert root.findtext("head/dateModified") == "Tue, 24 Nov 2026 09:12:00 GMT"
    outlines = [o.attrib for o in root.findall("body/outline")]
    assert outlines == [
        {"type": "rss", "text": "Ukraine", "title": "A & B Wire: Ukraine",
         "xmlUrl": "https://news.example/ukraine/atom.xml", "htmlUrl": "https://news.example/ukraine/"},
        {"type": "rss", "text": "All stories", "title": "A & B Wire: All stories",
         "xmlUrl": "https://news.example/all/atom.xml", "htmlUrl": "https://news.example/all/"}]


def test_opml_is_the_same_bytes_every_time():
    feeds = [spec("ukraine", "Ukraine")]
    assert render_opml("W", "D", feeds) == render_opml("W", "D", feeds)
