"""Source readers: bytes in, Stories out, one module per input kind.

- wire.py   raw wire copy (plain text, one paragraph a line)
- feed.py   other people's RSS, Atom and JSON Feed documents
- kinds.py  which of these a document is (by its content), and OPML / HTML links
- fetch.py  fetching feed URLs over HTTP
- files.py  which files under sources/ are sources
"""

from __future__ import annotations

from publisher.model import Limits, ReadResult
from publisher.sources import feed, wire
from publisher.sources.boundaries import Known, TopicScores
from publisher.sources.kinds import Kind, skip_reason, sniff

OPML_SKIPPED = "an OPML subscription list: its feeds are subscribed to, not read as stories"


def read_file(name: str, data: bytes, topic_scores: TopicScores | None = None,
              limits: Limits = Limits(), known: Known = Known()) -> ReadResult:
    """What a file dropped into sources/ gives, by its content (kinds.sniff): a feed document,
    wire copy (`topic_scores`, `known`: cues for story boundaries, see wire.read), within
    `limits`; an OPML file, an HTML page or other markup gives no stories (the reason says what
    it is; ingest subscribes to an OPML file's feeds)."""
    if sniff(name, data) == Kind.WIRE:
        return wire.read(data, topic_scores, limits, known)
    return read_file_explained(name, data, topic_scores, limits, known)[0]


def kind_of(name: str, data: bytes = b"") -> str:
    """What a file of this name and content is read as, for messages."""
    return str(sniff(name, data))


def read_file_explained(name: str, data: bytes, topic_scores: TopicScores | None = None,
                        limits: Limits = Limits(), known: Known = Known()):
    """read_file(), and for wire copy every gap scored inside runs of paragraphs (wire.Boundary):
    where stories were split and the near misses (for `publisher classify`)."""
    kind = sniff(name, data)
    if kind == Kind.FEED:
        return feed.parse(data, url=name, limits=limits).result, []
    if kind == Kind.OPML:
        return ReadResult(skipped=OPML_SKIPPED), []
    if kind != Kind.WIRE:
        return ReadResult(skipped=skip_reason(kind, data)), []
    return wire.read_explained(data, topic_scores, limits, known)
