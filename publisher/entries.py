"""Domain rules of published entries. Pure: no clock, no disk, no SQL.

- an entry's tag: id is minted once, from the site's authority and its first text's fingerprint;
- its name (the story page's file name) is the ascii words of its title and a fingerprint prefix;
- every stored instant is distinct and in ingest order (`next_instant`);
- a story page shows the versions that were published (the first text and each one that
  replaced it): teasers and ignored near-duplicates never were; at most the newest
  [limits] versions_per_story of them, and as many arrivals.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Any

from publisher.model import Arrival, Decision, Entry, ItemMeta, Origin, PublishedVersion, StoryPage
from publisher.sources.wire import whole_title

ID_FINGERPRINT_CHARS = 24


def mint_entry_id(authority: str, fingerprint: str) -> str:
    """The entry's tag: URI (RFC 4151): minted once, when the story is first stored."""
    return f"tag:{authority}:story/{fingerprint[:ID_FINGERPRINT_CHARS]}"


def authority_of(entry_id: str) -> str | None:
    """The authority a minted entry id was made with (mint_entry_id's inverse); None: not one."""
    head, sep, _ = entry_id.rpartition(":story/")
    return head.removeprefix("tag:") if sep and head.startswith("tag:") else None


def authority_changed(stored: str | None, configured: str) -> bool:
    """The configured id authority is not the one the store's ids were minted with: publishing
    would give the feeds new ids and new stories ids of another authority than the old ones."""
    return stored is not None and stored != configured


def story_name(title: str, fingerprint: str) -> str:
    """A URL-safe, unique, readable name: ascii words of the title + a fingerprint prefix."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", ascii_title.lower())
    slug = ""
    for word in words:
        if len(slug) + len(word) + 1 > 60:
            break
        slug = f"{slug}-{word}" if slug else word
    return f"{slug}-{fingerprint[:8]}" if slug else fingerprint[:12]


def next_instant(now: datetime, newest: datetime | None) -> datetime:
    """`now`, or just after the newest stored instant: every entry gets a distinct time, in
    ingest order (feed readers and the W3C validator dislike equal `updated` times)."""
    floor = newest if newest is not None else datetime.min.replace(tzinfo=UTC)
    return max(now.astimezone(UTC), floor + timedelta(microseconds=1))


#: A source's date may be this far ahead of the time it was read (clocks differ; time zones
#: mislabelled): further ahead, or before EARLIEST, it is not a date to show.
DATE_SKEW = timedelta(days=1)
EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
_NAME_DATE = re.compile(r"(?<!\d)((?:19|20)\d\d)-(\d\d)-(\d\d)(?!\d)")


def source_date(value: datetime | None, now: datetime, skew: timedelta = DATE_SKEW) -> datetime | None:
    """A date a source gave, as stored: in UTC, never later than when it was read (`now`); None
    (the time read is shown) when it is missing, before 1990 or more than `skew` ahead."""
    if value is None:
        return None
    value = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if value < EARLIEST or value > now + skew:
        return None
    return min(value, now.astimezone(UTC))


def name_date(name: str) -> datetime | None:
    """The date in a file's name (YYYY-MM-DD anywhere in it: "2026-11-24_morning.txt"), at
    midnight UTC; the last one when several (the file's, not a folder's)."""
    for match in reversed(list(_NAME_DATE.finditer(name))):
        try:
            return datetime(int(match[1]), int(match[2]), int(match[3]), tzinfo=UTC)
        except ValueError:  # 2026-02-30
            continue
    return None


def wire_date(name: str, mtime: datetime | None, now: datetime) -> datetime | None:
    """A wire story's source date: the date in its file's name, else the file's modification
    time; never later than when it was read (an archive imported today keeps its dates)."""
    return wire_dated(name, mtime, now)[0]


def wire_dated(name: str, mtime: datetime | None, now: datetime) -> tuple[datetime | None, bool]:
    """wire_date, and whether it is the day the file's name gives (not an instant)."""
    day = source_date(name_date(name), now, timedelta(0))
    return (day, True) if day else (source_date(mtime, now, timedelta(0)), False)


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _decision(value: str | None) -> Decision | None:
    return Decision(value) if value else None


#: A stored version is part of the story's published history when it is the current text or
#: arrived as one of these (teasers and ignored near-duplicates never were published).
SHOWN = tuple(str(d) for d in Decision if d.replaces)


def story_page(history: dict[str, Any], topics: tuple[str, ...]) -> StoryPage:
    """What the story's page shows, from the store's bounded history of the entry
    (Store.page_history: its newest versions of the published history and newest arrivals, at
    most [limits] versions_per_story of each): its current text and published history, its
    topics, and the arrivals, with how many older ones are not shown. A retracted story: its
    id, dates and the reason, no text."""
    h = history
    published, updated = datetime.fromisoformat(h["first_seen"]), datetime.fromisoformat(h["updated"])
    if h["retracted_at"]:
        return StoryPage(entry_id=h["entry_id"], name=h["name"], published=published, updated=updated,
                         topics=topics, entry=None, retracted_at=datetime.fromisoformat(h["retracted_at"]),
                         retract_reason=h["retract_reason"])
    versions = tuple(PublishedVersion(seen_at=datetime.fromisoformat(v["seen_at"]), title=v["title"],
                                      paragraphs=tuple(v["paragraphs"]), kicker=v["kicker"], truncated=v["truncated"])
                     for v in h["versions"])
    current = next(v for v in h["versions"] if v["current"])
    arrivals = tuple(sorted((Arrival(source=a["path"], first_line=a["first_line"], last_line=a["last_line"],
                                     read_at=datetime.fromisoformat(a["read_at"]), decision=_decision(a["decision"]))
                             for a in h["arrivals"]),
                            key=lambda a: (a.read_at, a.source, a.first_line or 0)))
    headline = current["title"]
    if current["html"] is None and not current["origin"]:  # wire copy: its title may have been cut
        headline = whole_title(headline, current["kicker"], current["paragraphs"])
    return StoryPage(
        entry_id=h["entry_id"], name=h["name"], published=published, updated=updated, topics=topics,
        headline=headline,
        entry=Entry(entry_id=h["entry_id"], name=h["name"], title=current["title"],
                    paragraphs=tuple(current["paragraphs"]), published=published, updated=updated,
                    kicker=current["kicker"], truncated=current["truncated"], html=current["html"],
                    origin=Origin(**current["origin"]) if current["origin"] else None,
                    source_published=_time(h.get("source_published")), source_updated=_time(h.get("source_updated")),
                    meta=ItemMeta.from_json(current.get("meta")), topics=topics),
        history=versions, arrivals=arrivals, earlier_versions=h["versions_total"] - len(versions),
        earlier_arrivals=h["arrivals_total"] - len(arrivals))
