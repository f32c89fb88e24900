"""render/jsonfeed.py: JSON Feed 1.1 with the same ids, order and content as Atom and RSS."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import feedparser
import pytest

from publisher.model import Entry, FeedSpec, Origin
from publisher.render.feeds import render
from publisher.render.jsonfeed import render_json

T0 = datetime(2026, 11, 24, 9, 12, tzinfo=UTC)


def spec(entries, hub=None) -> FeedSpec:
    return FeedSpec(slug="ukraine", title="Test Wire: Ukraine", feed_id="tag:news.example,2026:feed/ukraine",
                    base_url="https://news.example/", author="Desk", language="en", subtitle="Ukraine stories",
                    updated=T0 + timedelta(hours=5), entries=tuple(entries), hub=hub, total=len(entries), label="Ukraine")


ENTRIES = [
    Entry(entry_id="tag:news.example,2026:story/b", name="b", title="Revised <b>", paragraphs=("Now 3 & more.",),
          published=T0 + timedelta(hours=1), updated=T0 + timedelta(hours=5)),
    Entry(entry_id="tag:news.example,2026:story/a", name="a", title="First\x07", paragraphs=("Cut off at", ),
          published=T0, updated=T0, truncated=True),
]


def test_json_feed_has_the_same_ids_in_the_same_order_as_atom():
    data = json.loads(render_json(spec(ENTRIES)))
    atom = feedparser.parse(render(spec(ENTRIES))[0])
    assert [i["id"] for i in data["items"]] == [e.id for e in atom.entries] == [e.entry_id for e in ENTRIES]


def test_json_feed_top_level_and_items():
    data = json.loads(render_json(spec(ENTRIES)))
    assert data["version"] == "https://jsonfeed.org/version/1.1"
    assert data["feed_url"] == "https://news.example/ukraine/feed.json"
    assert data["home_page_url"] == "https://news.example/ukraine/"
    assert data["authors"] == [{"name": "Desk"}] and data["language"] == "en"
    revised, cut = data["items"]
    assert revised["url"] == "https://news.example/stories/b.html"
    assert revised["title"] == "Revised <b>"  # plain text in JSON: a reader shows it as is
    assert revised["content_html"] == ("<p>Now 3 &amp; more.</p><p><em>Updated: 24 Nov 2026, 14:12 UTC "
                                      "(first published 24 Nov 2026, 10:12 UTC).</em></p>")
    assert revised["date_published"] == "2026-11-24T10:12:00Z" and revised["date_modified"] == "2026-11-24T14:12:00Z"
    assert cut["title"] == "First" and cut["content_html"] == "<p>Cut off at …</p>"
    assert "hubs" not in data


def test_json_feed_names_the_websub_hub():
    data = json.loads(render_json(spec(ENTRIES, hub="https://hub.example/")))
    assert data["hubs"] == [{"type": "WebSub", "url": "https://hub.example/"}]


def test_json_feed_is_the_same_bytes_every_time_and_utf8():
    assert render_json(spec(ENTRIES)) == render_json(spec(ENTRIES))
    assert "…".encode() in render_json(spec(ENTRIES))


@pytest.mark.parametrize("link", ["JaVaScRiPt:alert(1)", " javascript:alert(1)", "java\tscript:alert(1)",
                                  "data:text/html,x", "vbscript:msgbox(1)", "javascript:alert(document.domain).xml"])
def test_an_original_article_link_that_is_not_http_is_left_out(link):
    origin = Origin(feed_title="Evil", feed_link=None, feed_id="e", feed_url="evil.xml", item_id="x1", link=link)
    (item,) = json.loads(render_json(spec([replace(ENTRIES[0], origin=origin)])))["items"]
    assert "external_url" not in item and item["url"] == "https://news.example/stories/b.html"
