"""Plain data passed between the stages. No I/O here.

sources -> Story -> store -> Entry -> render -> bytes
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


# -- the vocabulary: every decision and outcome word is one of these (stored and shown as is) --

class Decision(StrEnum):
    """What one arriving story was, placed against the store (provenance.decision)."""

    NEW = "new"  # a story of its own: a new entry
    DUPLICATE = "duplicate"  # a text already stored (any version of any entry)
    REVISION = "revision"  # a new text of an entry: its current version now
    FULLER = "fuller"  # a longer text containing the stored one: the current version now
    TEASER = "teaser"  # a shorter text inside a stored one: history only, never shown
    NEAR_DUPLICATE = "near-duplicate"  # a revision ignored (on_near_duplicate = "skip")
    OLDER = "older"  # a version of a story from a file dated before the shown text's: history only
    UNCHANGED = "unchanged"  # a feed's item with the same text as last time: nothing stored

    @property
    def replaces(self) -> bool:
        """Whether the story became its entry's current text."""
        return self in (Decision.NEW, Decision.REVISION, Decision.FULLER)

    @property
    def revises(self) -> bool:
        return self in (Decision.REVISION, Decision.FULLER)


class OnNearDuplicate(StrEnum):
    """[dedup] on_near_duplicate: what a revision of a stored story does."""

    REVISE = "revise"  # the newer text replaces the current one
    SKIP = "skip"  # the first text of every story stays


class Outcome(StrEnum):
    """What happened to one source (a file, a polled feed) in one run (reads.outcome)."""

    NEW = "new"  # at least one new story or revision
    DUPLICATE = "duplicate"  # every story was known
    SKIPPED = "skipped"  # nothing usable in it (the reason says why)
    FAILED = "failed"  # it could not be read or stored: tried again next run
    UNCHANGED = "unchanged"  # not read again (same stat, same bytes, a 304)
    PENDING = "pending"  # modified a moment ago: left for a later run

    @property
    def read(self) -> bool:
        """Read in this run (counted in "files read")."""
        return self in (Outcome.NEW, Outcome.DUPLICATE, Outcome.SKIPPED)


class FeedFormat(StrEnum):
    """The formats every output feed is written in, by file name."""

    ATOM = "atom.xml"
    RSS = "rss.xml"
    JSON = "feed.json"

    @property
    def filename(self) -> str:
        return self.value

    @property
    def label(self) -> str:
        return {"atom.xml": "Atom", "rss.xml": "RSS", "feed.json": "JSON Feed"}[self.value]

    @property
    def media_type(self) -> str:
        return {"atom.xml": "application/atom+xml", "rss.xml": "application/rss+xml",
                "feed.json": "application/feed+json"}[self.value]


class Icon(StrEnum):
    """The site's icons, by file name: shipped in publisher/data/icons/ (tests/icons.py draws
    them), written into feeds/ beside the front page."""

    SVG = "icon.svg"  # the pages' favicon
    ICO = "favicon.ico"  # what browsers ask for unprompted (16, 32 and 48 pixels)
    SMALL = "icon-64.png"  # Atom <icon>, JSON Feed favicon
    MEDIUM = "icon-144.png"  # RSS <image> (at most 144 pixels wide)
    LARGE = "icon-512.png"  # JSON Feed icon
    LOGO = "logo.png"  # Atom <logo> (twice as wide as tall)

    @property
    def filename(self) -> str:
        return self.value

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels (the SVG's: its viewBox)."""
        return {"icon.svg": (64, 64), "favicon.ico": (48, 48), "icon-64.png": (64, 64),
                "icon-144.png": (144, 144), "icon-512.png": (512, 512), "logo.png": (256, 128)}[self.value]

    @property
    def media_type(self) -> str:
        return {".svg": "image/svg+xml", ".ico": "image/vnd.microsoft.icon"}.get(self.value[-4:], "image/png")


def story_text(kicker: str | None, paragraphs: tuple[str, ...] | list[str]) -> str:
    """A story's full text as one string: the kicker, a colon, then the paragraphs."""
    body = "\n".join(paragraphs)
    return f"{kicker}: {body}" if kicker else body


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a story taken from someone else's feed came from (the Atom `source` of its entry)."""

    feed_title: str
    feed_link: str | None  # the feed's web site
    feed_id: str  # the feed's own id (Atom id, JSON Feed feed_url), else its URL
    feed_url: str  # where it was fetched (or the file it was read from)
    item_id: str  # the entry's id in that feed (or one made from its link, or title and date)
    link: str | None = None  # the original article


@dataclass(frozen=True, slots=True)
class Person:
    """An author of an item in someone else's feed (each value checked: see sources/feed.py)."""

    name: str
    email: str | None = None
    uri: str | None = None  # an absolute http(s) URL


@dataclass(frozen=True, slots=True)
class Category:
    """A category of an item in someone else's feed (Atom term/label/scheme, RSS text/domain)."""

    term: str
    label: str | None = None
    scheme: str | None = None  # an absolute http(s) URL


@dataclass(frozen=True, slots=True)
class Enclosure:
    """A file an item carries (a podcast's audio, an image): Atom rel="enclosure", RSS
    <enclosure>, JSON Feed attachments."""

    url: str  # an absolute http(s) URL
    type: str | None = None  # a MIME type
    length: int | None = None  # bytes


@dataclass(frozen=True, slots=True)
class ItemMeta:
    """What an item of someone else's feed says about itself besides its text: kept as its
    subscribers see it (stored with the version, as JSON)."""

    authors: tuple[Person, ...] = ()
    categories: tuple[Category, ...] = ()
    enclosures: tuple[Enclosure, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.authors or self.categories or self.enclosures)

    def to_json(self) -> dict:
        drop = lambda d: {k: v for k, v in d.items() if v is not None}  # noqa: E731
        out = {"authors": [drop({"name": p.name, "email": p.email, "uri": p.uri}) for p in self.authors],
               "categories": [drop({"term": c.term, "label": c.label, "scheme": c.scheme}) for c in self.categories],
               "enclosures": [drop({"url": e.url, "type": e.type, "length": e.length}) for e in self.enclosures]}
        return {k: v for k, v in out.items() if v}

    @classmethod
    def from_json(cls, doc: dict | None) -> ItemMeta:
        doc = doc or {}
        return cls(authors=tuple(Person(**p) for p in doc.get("authors", ())),
                   categories=tuple(Category(**c) for c in doc.get("categories", ())),
                   enclosures=tuple(Enclosure(**e) for e in doc.get("enclosures", ())))


@dataclass(frozen=True, slots=True)
class Story:
    """One story as a source gave it: no id and no stored date (those belong to the store);
    the dates its source gave (a feed item's, a wire file's name or mtime), checked by
    entries.source_date before they are stored."""

    title: str
    paragraphs: tuple[str, ...]
    first_line: int  # 1-based, inclusive, in the source file (a feed: the entry's position)
    last_line: int
    kicker: str | None = None  # the ALL-CAPS label of a one-line story, without the colon
    truncated: bool = False  # the text stops mid-sentence
    html: str | None = None  # sanitised HTML content (feed entries); wire copy has none
    origin: Origin | None = None  # feed entries: where they came from
    published: datetime | None = None  # the source's date of the story (UTC)
    updated: datetime | None = None  # a feed item's own updated date (UTC)
    meta: ItemMeta = ItemMeta()  # a feed item's authors, categories, enclosures
    dated_by_name: bool = False  # `published` is the day its file's name gives, not an instant

    @property
    def text(self) -> str:
        """The full text, kicker included: what dedup compares and classification reads."""
        return story_text(self.kicker, self.paragraphs)


@dataclass(frozen=True, slots=True)
class ReadResult:
    """What a source reader made of one input: stories, or a reason to skip it."""

    stories: tuple[Story, ...] = ()
    skipped: str | None = None  # set when the input yields nothing, with the reason
    warnings: tuple[str, ...] = ()
    past_caps: int = 0  # stories left unread or cut short by a cap (Limits); each cap also warns


@dataclass(frozen=True, slots=True)
class Limits:
    """[limits]: how much of one input is read, so that a file built to be slow or large costs
    seconds and megabytes. Far above what a newsroom's files hold (the largest wire file of the
    test corpora and the seed: 13 stories, 13 paragraphs a story, 2.9 KB a story, 10 KB); each
    cap that is reached is a warning naming the file and the key."""

    bytes_per_file: int = 8 * 1024 * 1024  # a larger source file is skipped (a day of wire copy is ~3 MB)
    lines_per_file: int = 10_000  # a wire file is read this far; the rest is counted, not read
    stories_per_file: int = 1_000  # a wire file's stories past this are counted, not read
    entries_per_feed: int = 1_000  # a feed document's entries past this are not read
    paragraphs_per_story: int = 500  # a story's text ends after this many paragraphs
    bytes_per_story: int = 50_000  # ... and after this many bytes of text (UTF-8; ~8,000 words)
    versions_per_story: int = 50  # a story page shows the newest this many versions and arrivals


@dataclass(frozen=True, slots=True)
class Rule:
    """Each occurrence of any of `terms` adds `weight` to the topic score."""

    weight: float
    terms: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Topic:
    slug: str
    title: str
    threshold: float
    rules: tuple[Rule, ...]
    require: tuple[str, ...] = ()  # at least one must occur (empty: no requirement)
    exclude: tuple[str, ...] = ()  # none may occur
    position: tuple[float, float, float] = (1.0, 1.0, 1.0)  # a hit counts this much in the kicker, lede, body
    min_density: float = 0.0  # the score must also reach this much per 100 words (0: no such test)

    @property
    def plain(self) -> bool:
        """Scored as before positions and density existed (every hit counts its weight)."""
        return self.position == (1.0, 1.0, 1.0) and not self.min_density


@dataclass(frozen=True, slots=True)
class TopicMatch:
    """Why a story is (or is not) in one topic."""

    slug: str
    score: float
    matched: tuple[tuple[str, int], ...]  # (term, occurrences), in rule order
    excluded_by: str | None = None
    missing_required: bool = False
    threshold: float = 0.0
    parts: tuple[tuple[str, float], ...] = ()  # (kicker | lede | body, its share of the score)
    density: float | None = None  # score per 100 words, when the topic sets min_density
    min_density: float = 0.0
    against: tuple[tuple[str, int], ...] = ()  # the matched terms that count against it (negative weights)

    @property
    def accepted(self) -> bool:
        dense = self.density is None or self.density >= self.min_density
        return self.excluded_by is None and not self.missing_required and self.score >= self.threshold and dense


@dataclass(frozen=True, slots=True)
class Entry:
    """A published story: what the renderers need, all of it from the store."""

    entry_id: str  # tag: URI, minted once
    name: str  # URL-safe name of the story, unique
    title: str
    paragraphs: tuple[str, ...]
    published: datetime  # first seen (UTC)
    updated: datetime  # last revision (UTC)
    kicker: str | None = None
    truncated: bool = False
    html: str | None = None  # sanitised HTML of a story from a feed (else built from paragraphs)
    origin: Origin | None = None
    source_published: datetime | None = None  # the source's date (stored once; None: none, or not sane)
    source_updated: datetime | None = None  # a feed item's own updated date
    meta: ItemMeta = ItemMeta()  # the current version's authors, categories, enclosures
    topics: tuple[str, ...] = ()  # slugs of the topics it is in

    @property
    def revised(self) -> bool:
        """A later version replaced the first text (`updated` moves only then)."""
        return self.updated != self.published

    @property
    def date_published(self) -> datetime:
        """The date shown as published: the source's own date, else when it was first seen.
        (Order, `updated` and the "Updated" note stay on the store's own times.)"""
        return self.source_published or self.published


@dataclass(frozen=True, slots=True)
class PublishedVersion:
    """One text a story was published in (the first, then each revision that replaced it)."""

    seen_at: datetime
    title: str
    paragraphs: tuple[str, ...]
    kicker: str | None = None
    truncated: bool = False

    @property
    def text(self) -> str:
        return story_text(self.kicker, self.paragraphs)


@dataclass(frozen=True, slots=True)
class Arrival:
    """One time a story arrived: from which source, which lines, when, and what it was."""

    source: str  # a file path relative to sources/ (or, later, a feed URL)
    first_line: int | None
    last_line: int | None
    read_at: datetime
    decision: Decision | None  # None: stored before decisions were kept


@dataclass(frozen=True, slots=True)
class StoryPage:
    """Everything a story's permalink page shows. A retracted story keeps no text here."""

    entry_id: str
    name: str
    published: datetime
    updated: datetime
    topics: tuple[str, ...]  # slugs, in config order
    entry: Entry | None  # the current version; None when retracted
    history: tuple[PublishedVersion, ...] = ()  # oldest first; more than one when revised
    arrivals: tuple[Arrival, ...] = ()
    retracted_at: datetime | None = None
    retract_reason: str | None = None
    earlier_versions: int = 0  # published versions older than `history`, not shown ([limits])
    earlier_arrivals: int = 0  # arrivals older than `arrivals`, not shown
    headline: str = ""  # the whole headline (a feed's title may be cut short); "" when retracted


@dataclass(frozen=True, slots=True)
class FeedSpec:
    """One feed to render: a topic feed or the merged one."""

    slug: str
    title: str
    feed_id: str  # tag: URI
    base_url: str  # public URL of the feeds/ directory, ending in "/"
    author: str
    language: str
    subtitle: str
    updated: datetime  # newest entry's `updated`, or the store's creation time when empty
    entries: tuple[Entry, ...] = field(default=())
    hub: str | None = None  # a WebSub hub: <link rel="hub"> in both formats
    total: int = 0  # stories in the feed in all (entries holds the newest max_entries)
    label: str = ""  # the topic's own title ("Ukraine"), for pages and OPML
    topics: tuple[tuple[str, str], ...] = ()  # (slug, title) of every topic, in config order: entries' categories
    archives: int = 0  # closed archive pages of the feed (1 .. archives; the newest is `archives`)
    archive: int | None = None  # set: this is archive page `archive` of the feed, not its subscription document

    def topic_url(self, slug: str) -> str:
        """A topic's page: the scheme of the categories our topics are."""
        return f"{self.base_url}{slug}/"

    @property
    def page_url(self) -> str:
        """The feed's HTML page, or the archive page's (its alternate link)."""
        return self.home_url

    @property
    def home_url(self) -> str:
        return self.archive_url(self.archive) if self.archive else f"{self.base_url}{self.slug}/"

    def url(self, filename: str) -> str:
        """This document in a format (the archive page's own, for an archive page)."""
        return self.archive_url(self.archive, filename) if self.archive else self.current_url(filename)

    def current_url(self, filename: str) -> str:
        """The feed's subscription document in a format (RFC 5005 rel="current")."""
        return f"{self.base_url}{self.slug}/{filename}"

    def archive_url(self, page: int, filename: str = "") -> str:
        """Archive page `page` of the feed: its HTML page, or a format's document."""
        return f"{self.base_url}{self.slug}/archive/{page}/{filename}"

    @property
    def prev_archive(self) -> int | None:
        """The archive page before this document (RFC 5005 prev-archive): for the subscription
        document the newest closed page, for an archive page the one before it."""
        if self.archive:
            return self.archive - 1 or None
        return self.archives or None

    @property
    def next_archive(self) -> int | None:
        """The archive page after this one (RFC 5005 next-archive), when it is closed too."""
        return self.archive + 1 if self.archive and self.archive < self.archives else None

    def icon_url(self, icon: Icon) -> str:
        return f"{self.base_url}{icon.filename}"

    def entry_url(self, entry: Entry) -> str:
        """The story's permalink page (feeds/stories/<name>.html)."""
        return f"{self.base_url}stories/{entry.name}.html"
