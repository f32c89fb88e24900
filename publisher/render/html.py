"""HTML pages: the front page, a page per feed, a page per story. Data in, bytes out; no clock,
no disk. Jinja2 with autoescaping: story text is always escaped by the template engine.

Navigation links are relative (the site works wherever feeds/ is served); subscribe and
autodiscovery links are absolute from base_url, like the feeds' own self links, so a reader
subscribes to the one public URL of each feed.

Every href and src goes through one of two filters, both render.text.safe_link: `href` for
the links we build (our relative paths, URLs under base_url) and `web` for values from
outside (another feed's site, an article's URL, a file's name): only absolute http(s) URLs.
A value that is neither is not linked; the templates show its text. (tests/test_render_html.py
checks that no template writes an href or src any other way.)
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, StrictUndefined

from publisher.model import Decision, FeedFormat, FeedSpec, Icon, StoryPage
from publisher.render.text import SUMMARY_MAX, human_time, safe_link, shows_update, teaser, updated_note, xml_text

HEADLINES = 5  # per feed on the front page

DECISIONS = {
    Decision.NEW: "first seen here",
    Decision.DUPLICATE: "the same text again",
    Decision.REVISION: "a revised version",
    Decision.FULLER: "a fuller version",
    Decision.TEASER: "a shorter text of it (not published)",
    Decision.NEAR_DUPLICATE: "a near-duplicate (not published)",
    Decision.OLDER: "an older version, from a file dated earlier (not published)",
}

FORMATS = tuple((f.filename, f.label, f.media_type) for f in FeedFormat)


@dataclass(frozen=True, slots=True)
class SiteInfo:
    title: str
    description: str
    base_url: str
    language: str


def _env() -> Environment:
    env = Environment(loader=PackageLoader("publisher.render", "templates"), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
                      auto_reload=False)  # (installed code: no stat of the template file per page)
    env.filters["clean"] = xml_text  # control characters out; escaping is autoescape's
    env.filters["human"] = human_time
    # "" rather than None for a refused link: a template tests it with `if`, and never prints "None"
    env.filters["href"] = lambda url: safe_link(url, relative=True) or ""
    env.filters["web"] = lambda url: safe_link(url) or ""
    env.filters["iso"] = lambda dt: dt.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    # a feed page's line under each headline: as long as the feeds' summaries, but not
    # repeating the headline (a wire story's lede opens with it): a longer teaser
    env.globals.update(formats=FORMATS, decisions=DECISIONS, icons=Icon,
                       summary=lambda entry: teaser(entry, SUMMARY_MAX), updated_note=updated_note, teaser=teaser,
                       shows_update=shows_update)
    return env


_ENV = _env()


@functools.cache
def templates_digest() -> str:
    """Changes when a template does: every page is then written again. (Read once a process:
    the templates are part of the installed code.)"""
    digest = hashlib.sha256()
    for name in sorted(_ENV.list_templates()):
        digest.update(name.encode() + b"\0" + _ENV.loader.get_source(_ENV, name)[0].encode() + b"\0")
    return digest.hexdigest()


def load_templates() -> None:
    """Compile every template now rather than at its first page: about 90 ms a process,
    paid once (the service pays it at start, not in its first publish)."""
    for name in _ENV.list_templates():
        _ENV.get_template(name)


def _render(template: str, **context) -> bytes:
    return _ENV.get_template(template).render(**context).encode("utf-8")


def index_page(site: SiteInfo, feeds: Sequence[FeedSpec]) -> bytes:
    """feeds/index.html: every feed with its newest headlines and subscribe links."""
    return _render("index.html", site=site, feeds=feeds, root="", headlines=HEADLINES, alternates=feeds)


def feed_page(site: SiteInfo, spec: FeedSpec, feeds: Sequence[FeedSpec]) -> bytes:
    """feeds/<slug>/index.html: every entry of one feed (its newest max_entries)."""
    return _render("feed.html", site=site, feed=spec, feeds=feeds, root="../", alternates=[spec])


def archive_page(site: SiteInfo, spec: FeedSpec, feeds: Sequence[FeedSpec]) -> bytes:
    """feeds/<slug>/archive/<n>/index.html: the stories of one archive page (spec.archive),
    linked to the pages before and after it; it offers the feed itself to subscribe to."""
    return _render("feed.html", site=site, feed=spec, feeds=feeds, root="../../../",
                   alternates=[replace(spec, archive=None)])


def story_page(site: SiteInfo, page: StoryPage, feeds: Sequence[FeedSpec]) -> bytes:
    """feeds/stories/<name>.html: the story, its topics, its history with what changed, and
    where it came from. A retracted story's page says so and keeps none of its text."""
    labels = {f.slug: f.label or f.title for f in feeds}
    topics = [(slug, labels[slug]) for slug in labels if slug in page.topics]
    pairs = list(zip(page.history, page.history[1:]))
    budget = min(PAIR_BUDGET, PAGE_BUDGET // max(1, len(pairs)))
    changes = [(version, word_diff(previous.text, version.text, budget)) for previous, version in pairs]
    return _render("story.html", site=site, page=page, topics=topics, changes=changes, feeds=feeds,
                   root="../", alternates=[])


# -- search -----------------------------------------------------------------------------------

# The search box goes where the pages carry a marker: a comment, so a page served as it is
# (any static host) shows no box, there being no /search to send it to. A server that answers
# /search puts the form in its place (serve.FeedServer for `publisher run`; deploy/nginx.conf's
# sub_filter lines, which must say the same bytes: tests/test_deploy.py checks). One marker per
# page depth: the form's action is relative, as every link between our pages is.
def _markers() -> dict[bytes, bytes]:
    macros = _ENV.get_template("_macros.html").module
    return {f"<!--search{':' + root if root else ''}-->".encode(): str(macros.search_box(root, "")).encode()
            for root in ("", "../", "../../../")}  # the front and search pages; feed and story pages; archive pages


SEARCH_BOXES = _markers()


def with_search_box(page: bytes) -> bytes:
    """A page with the search form where its marker is (a page without one is returned as it is)."""
    for marker, box in SEARCH_BOXES.items():
        if marker in page:
            return page.replace(marker, box, 1)
    return page


def search_url(query: str, page: int, topic: str | None = None) -> str:
    """The relative link to a page of results."""
    params = [("q", query)] + ([("topic", topic)] if topic else []) + ([("page", str(page))] if page > 1 else [])
    return "search?" + urlencode(params)


def search_page(site: SiteInfo, query: str, results, labels: dict[str, str], problem: str | None = None,
                topic: str | None = None) -> bytes:
    """/search (served by `publisher run` only): the form with what was typed, then the
    results (search.Results; None with `problem`, what to say instead), each a link to its
    story page with its matches marked, and links to the pages before and after. `labels`:
    the topics' names by slug; `topic`: the slug searched in (None: every story)."""
    query = xml_text(query)[:SEARCH_ECHO]
    newer = search_url(query, results.page - 1, topic) if results is not None and results.page > 1 else None
    older = search_url(query, results.page + 1, topic) if results is not None and results.more else None
    return _render("search.html", site=site, query=query, results=results, labels=labels, problem=problem,
                   newer=newer, older=older, topic=labels.get(topic) if topic else None, root="", alternates=[])


SEARCH_ECHO = 200  # characters of what was typed shown back (the rest was not searched either)


# -- what changed between two versions ---------------------------------------------------------

Segment = tuple[str, str]  # ("equal" | "delete" | "insert", text)
_TOKEN = re.compile(r"\n|[^\s]+")
# Comparing two texts word by word costs up to (words of one) x (words of the other): 0.6 s at
# 2,000 x 2,000 words of repetitive text, 10 minutes at 40,000 x 40,000. Two versions are compared
# word by word within PAIR_BUDGET (every real story, up to some 2,000 words); longer ones
# paragraph by paragraph first, then word by word inside the changed paragraphs while the
# budget lasts. A page's pairs share PAGE_BUDGET, so a page of many long versions costs about
# as much as one pair.
PAIR_BUDGET = 4_000_000
PAGE_BUDGET = 8_000_000


def word_diff(old: str, new: str, budget: int = PAIR_BUDGET) -> list[list[Segment]]:
    """The words of `new` with what changed from `old` marked, as paragraphs of segments:
    deleted words as ("delete", ...), added ones as ("insert", ...); within `budget` (words
    of one times words of the other, see PAIR_BUDGET). Pure."""
    a, b = _TOKEN.findall(xml_text(old)), _TOKEN.findall(xml_text(new))
    if len(a) * len(b) <= budget:
        return _words_diff(a, b)
    # paragraph by paragraph: equal ones as they are, changed ones word by word while the
    # budget lasts, else deleted and inserted whole
    old_p, new_p = _paragraphs(a), _paragraphs(b)
    out: list[list[Segment]] = []
    left = budget
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old_p, new_p, autojunk=False).get_opcodes():
        if tag == "equal":
            out += [[("equal", " ".join(p))] for p in new_p[j1:j2]]
            continue
        x = [t for p in old_p[i1:i2] for t in (*p, "\n")][:-1]
        y = [t for p in new_p[j1:j2] for t in (*p, "\n")][:-1]
        if x and y and len(x) * len(y) <= left:
            left -= len(x) * len(y)
            out += _words_diff(x, y)
        else:
            out += [[("delete", " ".join(p))] for p in old_p[i1:i2] if p]
            out += [[("insert", " ".join(p))] for p in new_p[j1:j2] if p]
    return out


def _paragraphs(tokens: list[str]) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    start = 0
    for i, token in enumerate(tokens + ["\n"]):
        if token == "\n":
            out.append(tuple(tokens[start:i]))
            start = i + 1
    return out


def _words_diff(a: list[str], b: list[str]) -> list[list[Segment]]:
    paragraphs: list[list[Segment]] = [[]]

    def add(op: str, tokens: list[str]) -> None:
        words: list[str] = []
        for token in tokens:
            if token == "\n":
                if op != "delete":  # a paragraph break of the new text
                    if words:
                        paragraphs[-1].append((op, " ".join(words)))
                        words = []
                    paragraphs.append([])
                continue
            words.append(token)
        if words:
            paragraphs[-1].append((op, " ".join(words)))

    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            add("equal", b[j1:j2])
        else:
            add("delete", a[i1:i2])
            add("insert", b[j1:j2])
    return [p for p in paragraphs if p]
