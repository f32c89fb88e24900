"""Checks on what a run left behind (tests/test_reliability.py; bench/crash.py, hostile.py, writefail.py)."""

from __future__ import annotations

import json
from pathlib import Path

import feedparser
from lxml import etree


def assert_feeds_whole(project) -> set[str]:
    """Every feed file there (under `project.feeds`, or the feeds directory given as a Path) is a
    complete document; returns the entry ids they hold."""
    feeds = project if isinstance(project, Path) else project.feeds
    ids: set[str] = set()
    for path in feeds.rglob("*"):
        if not path.is_file() or path.name.startswith("."):
            continue
        data = path.read_bytes()
        if path.suffix == ".json":
            ids |= {item["id"] for item in json.loads(data)["items"]}
        elif path.suffix in (".xml", ".opml"):
            etree.fromstring(data)  # well-formed, to the last tag
            if path.suffix == ".xml":
                parsed = feedparser.parse(data)
                assert parsed.bozo == 0, (path, parsed.bozo_exception)
                ids |= {e.id for e in parsed.entries}
        elif path.suffix == ".html":
            assert data.rstrip().endswith(b"</html>"), path
    return ids
