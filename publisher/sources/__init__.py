"""Source readers: bytes in, Stories out, one module per input kind.

- wire.py   raw wire copy (plain text, one paragraph a line)
- feed.py   other people's RSS, Atom and JSON Feed documents
- fetch.py  fetching feed URLs over HTTP
- files.py  which files under sources/ are sources
"""

from __future__ import annotations

from publisher.model import Limits, ReadResult
from publisher.sources import feed, wire
from publisher.sources.boundaries import TopicScores


def read_file(name: str, data: bytes, topic_scores: TopicScores | None = None,
              limits: Limits = Limits()) -> ReadResult:
    """What a file dropped into sources/ gives: a feed document (by its name: *.xml, *.atom,
    *.rss, *.json) or wire copy (`topic_scores`: a cue for story boundaries, see wire.read),
    within `limits`."""
    if feed.looks_like_feed(name):
        return feed.parse(data, url=name, limits=limits).result
    return wire.read(data, topic_scores, limits)


def kind_of(name: str) -> str:
    """What a file of this name is read as, for messages."""
    return "a feed" if feed.looks_like_feed(name) else "wire copy"


def read_file_explained(name: str, data: bytes, topic_scores: TopicScores | None = None,
                        limits: Limits = Limits()):
    """read_file(), and for wire copy every gap scored inside runs of paragraphs (wire.Boundary):
    where stories were split and the near misses (for `publisher classify`)."""
    if feed.looks_like_feed(name):
        return feed.parse(data, url=name, limits=limits).result, []
    return wire.read_explained(data, topic_scores, limits)
