"""config.toml: load and validate into typed objects.

Every problem is one ConfigError line naming the file, the key and what is wrong, e.g.
    config.toml: [feeds] max_entries: expected an integer, got '50' (a string)
Unknown keys are errors too: a misspelt key silently ignored is a rule that never works.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from publisher import atomic
from publisher.classify import MAX_HITS_PER_TERM, TERM_RE
from publisher.dedup import DedupSettings
from publisher.errors import ConfigError
from publisher.model import SLUG_RE, Limits, OnNearDuplicate, Rule, Topic

# The paths of the site and the service that are not feeds' (each feed is /<slug>/): story
# pages, the service's routes (serve.SEARCH_PATH, service.Service's /healthz and /metrics),
# the archive pages. (feeds.opml and index.html are no slugs: a slug has no dot.)
RESERVED_SLUGS = frozenset({"stories", "healthz", "metrics", "search", "archive"})
DEFAULT_BASE_URL = "http://127.0.0.1:8080/"
# RFC 4151 taggingEntity: a domain name or email address, a comma, a date.
_AUTHORITY_RE = re.compile(
    r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
    r"|[^@\s,]+@[A-Za-z0-9.-]+),\d{4}(?:-\d{2}(?:-\d{2})?)?$"
)
_LANG_RE = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$")


@dataclass(frozen=True, slots=True)
class Site:
    title: str
    id_authority: str
    base_url: str = DEFAULT_BASE_URL
    author: str = ""
    language: str = "en"
    description: str = ""


@dataclass(frozen=True, slots=True)
class Paths:
    sources: Path
    feeds: Path
    database: Path

    @property
    def lock(self) -> Path:
        """Held while writing (a publish, a retraction): one writer at a time."""
        return self.database.with_name(self.database.name + ".lock")

    @property
    def run_lock(self) -> Path:
        """Held for the whole life of `publisher run`: one service per database."""
        return self.database.with_name(self.database.name + ".run.lock")


@dataclass(frozen=True, slots=True)
class Merged:
    slug: str = "all"
    title: str = "All stories"


@dataclass(frozen=True, slots=True)
class ServiceSettings:
    """How `publisher run` behaves: [schedule], [watch], [server] and [websub]."""

    interval_seconds: float = 300.0  # [schedule] a full ingest + publish this often
    misfire_grace_seconds: float = 60.0  # [schedule] a run this late is still made; later, skipped
    settle_seconds: float = 1.0  # [watch] a new file is read once unchanged for this long
    host: str = "127.0.0.1"  # [server]
    port: int = 8080  # [server]
    cache_max_age: int = 60  # [server] Cache-Control max-age of feeds, in seconds
    header_timeout_seconds: float = 10.0  # [server] a client sends its request headers within this, or 408
    keepalive_timeout_seconds: float = 5.0  # [server] an idle kept-alive connection is closed after this
    max_connections: int = 1000  # [server] connections open at once; more are answered 503
    access_log: bool = False  # [server] one log line per request (or `run --access-log`)
    hub: str | None = None  # [websub] a WebSub hub URL, pinged after a feed changes


@dataclass(frozen=True, slots=True)
class FeedSource:
    """Someone else's feed to read: [[sources.feeds]]."""

    url: str
    title: str | None = None  # shown instead of the feed's own title (in status)
    interval_seconds: float | None = None  # poll at most this often (default: [schedule])


@dataclass(frozen=True, slots=True)
class Config:
    path: Path
    site: Site
    paths: Paths
    topics: tuple[Topic, ...]
    merged: Merged
    max_entries: int = 50
    archive_page_size: int = 50  # [feeds]: stories per archive page (default: max_entries)
    dedup: DedupSettings = DedupSettings()
    service: ServiceSettings = ServiceSettings()
    feed_sources: tuple[FeedSource, ...] = ()  # [[sources.feeds]]: inputs
    limits: Limits = Limits()  # [limits]: how much of one input is read


def _type_name(value: Any) -> str:
    return {str: "a string", int: "an integer", float: "a number", bool: "a boolean",
            list: "a list", dict: "a table"}.get(type(value), type(value).__name__)


def _one_line(message: str) -> str:
    """Control characters (a newline in a bad value) shown escaped: an error is one line."""
    return re.sub(r"[\x00-\x1f\x7f]", lambda m: repr(m.group())[1:-1], message)


def _error(message: str) -> ConfigError:
    return ConfigError(_one_line(message))


class _Checker:
    """Reads one table, reporting problems as `file: [table] key: problem`."""

    def __init__(self, file: str, where: str, table: Any):
        self.file, self.where = file, where
        if not isinstance(table, dict):
            self.fail(None, f"expected a table, got {_type_name(table)}")
        self.table = table
        self.seen: set[str] = set()

    def fail(self, key: str | None, problem: str) -> None:
        place = f"{self.where} {key}" if key else self.where
        raise _error(f"{self.file}: {place}: {problem}")

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = ..., *, nonempty: bool = True) -> Any:
        self.seen.add(key)
        if key not in self.table:
            if default is ...:
                self.fail(key, "missing (required)")
            return default
        value = self.table[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
            want = " or ".join(_type_name(k()) if k is not list else "a list" for k in kinds)
            self.fail(key, f"expected {want}, got {value!r} ({_type_name(value)})")
        if nonempty and isinstance(value, str) and not value.strip():
            self.fail(key, "must not be empty")
        return value

    def done(self) -> None:
        unknown = sorted(set(self.table) - self.seen)
        if unknown:
            self.fail(unknown[0], f"unknown key (known: {', '.join(sorted(self.seen))})")


#: where `publisher` looks for its config when neither --config nor $PUBLISHER_CONFIG names one,
#: after ./config.toml
SYSTEM_CONFIG = Path("/etc/publisher/config.toml")
CONFIG_ENV = "PUBLISHER_CONFIG"


def locate(given: str | Path | None, environ: Mapping[str, str] = os.environ, system: Path = SYSTEM_CONFIG) -> Path:
    """The config file to use: `given` (--config), else $PUBLISHER_CONFIG, else ./config.toml,
    else `system` (/etc/publisher/config.toml). A file named by --config or the variable is used
    as named (load() says when it is missing); the other two only when they exist. None found:
    a ConfigError saying where it looked."""
    if given is not None:
        return Path(given)
    if environ.get(CONFIG_ENV):
        return Path(environ[CONFIG_ENV])
    for candidate in (Path("config.toml"), system):
        if candidate.exists():
            return candidate
    raise ConfigError(f"no config file: looked at --config (not given), ${CONFIG_ENV} "
                      f"({'set to nothing' if CONFIG_ENV in environ else 'not set'}), ./config.toml, {system}; "
                      f"run `publisher init` to create one")


def template() -> str:
    """The config `publisher init` writes: the shipped config.toml, commented, as package data."""
    from importlib.resources import files

    return files("publisher").joinpath("data", "config.toml").read_text(encoding="utf-8")


def load(path: str | Path) -> Config:
    """Read and validate a config file. Raises ConfigError (one line) on any problem."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not valid UTF-8 (byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise _error(f"{path}: invalid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{path}: invalid TOML: nested too deeply") from None
    return parse(data, path)


def parse(data: dict[str, Any], path: Path) -> Config:
    file = str(path)
    top = _Checker(file, "(top level)", data)
    site = _site(_Checker(file, "[site]", top.get("site", dict)))
    paths = _paths(_Checker(file, "[paths]", top.get("paths", dict, {})), path.resolve().parent)
    feeds = _Checker(file, "[feeds]", top.get("feeds", dict, {}))
    max_entries = feeds.get("max_entries", int, 50)
    if not 1 <= max_entries <= 1000:
        feeds.fail("max_entries", f"must be between 1 and 1000, got {max_entries}")
    # (at most max_entries: the open page's stories are all in the feed itself, see site.write_archives)
    archive_page_size = feeds.get("archive_page_size", int, max_entries)
    if not 1 <= archive_page_size <= max_entries:
        feeds.fail("archive_page_size", f"must be between 1 and max_entries ({max_entries}), got {archive_page_size}")
    feeds.done()
    merged_t = _Checker(file, "[merged]", top.get("merged", dict, {}))
    merged = Merged(slug=merged_t.get("slug", str, "all"), title=merged_t.get("title", str, "All stories"))
    _check_slug(merged_t, "slug", merged.slug)
    merged_t.done()
    dedup = _dedup(_Checker(file, "[dedup]", top.get("dedup", dict, {})))
    service = _service(file, top)
    feed_sources = _feed_sources(file, top.get("sources", dict, {}))
    limits = _limits(_Checker(file, "[limits]", top.get("limits", dict, {})))
    raw_topics = top.get("topics", list)
    if not raw_topics:
        top.fail("topics", "at least one [[topics]] table is needed")
    topics = tuple(_topic(file, i, t) for i, t in enumerate(raw_topics))
    seen = {merged.slug: "[merged]"}
    for i, topic in enumerate(topics):
        if topic.slug in seen:
            raise _error(f'{file}: [[topics]] #{i + 1} ("{topic.slug}") slug: "{topic.slug}" is already used by '
                         f'{seen[topic.slug]}')
        seen[topic.slug] = f'[[topics]] #{i + 1} ("{topic.slug}")'
    top.done()
    return Config(path=path, site=site, paths=paths, topics=topics, merged=merged, max_entries=max_entries,
                  archive_page_size=archive_page_size, dedup=dedup, service=service, feed_sources=feed_sources,
                  limits=limits)


# [limits] key: (least, most). The most: what is still worth reading in one go (a file above
# bytes_per_file's most is not wire copy or a feed); the least: 1 of anything.
_LIMIT_RANGES = {"bytes_per_file": (1, 1024**3), "lines_per_file": (1, 100_000_000),
                 "stories_per_file": (1, 10_000_000), "entries_per_feed": (1, 1_000_000),
                 "paragraphs_per_story": (1, 10_000_000), "bytes_per_story": (1, 1024**3),
                 "versions_per_story": (1, 1_000_000)}


def _limits(t: _Checker) -> Limits:
    default = Limits()
    values = {}
    for key, (low, high) in _LIMIT_RANGES.items():
        value = t.get(key, int, getattr(default, key))
        if not low <= value <= high:
            t.fail(key, f"must be a whole number between {low:,} and {high:,}, got {value:,}")
        values[key] = value
    t.done()
    return Limits(**values)


def _number(t: _Checker, key: str, default: float, low: float, high: float, unit: str = "seconds") -> float:
    value = t.get(key, (int, float), default)
    if not low <= value <= high:
        t.fail(key, f"must be between {low:g} and {high:g} {unit}, got {value}")
    return float(value)


def http_url_problem(url: str) -> str | None:
    """Why `url` cannot be a feed source's URL, in words; None when it can (an absolute
    http(s) URL with a host, no spaces or control characters, no #fragment)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):  # urlsplit gives it in lower case
        return f"only http:// and https:// URLs can be added, not {parts.scheme}://" if parts.scheme else "no scheme"
    if " " in url or not url.isprintable():  # (as render.text.safe_link: every other space is unprintable)
        return "a URL has no spaces or control characters"
    if not parts.netloc:
        return f"no host name after {parts.scheme}://"
    if parts.fragment:
        return "a feed URL has no #fragment"
    return None


def _http_url(t: _Checker, key: str, value: str, example: str) -> str:
    if http_url_problem(value) is not None:
        t.fail(key, f'expected an absolute http(s) URL such as "{example}", got "{value}"')
    return value


def _feed_sources(file: str, table: dict) -> tuple[FeedSource, ...]:
    sources = _Checker(file, "[sources]", table)
    raw = sources.get("feeds", list, [])
    sources.done()
    out: list[FeedSource] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(raw):
        t = _Checker(file, f"[[sources.feeds]] #{i + 1}", item)
        url = _http_url(t, "url", t.get("url", str), "https://example.org/feed.xml")
        if url in seen:
            t.fail("url", f'"{url}" is already [[sources.feeds]] #{seen[url] + 1}')
        seen[url] = i
        title = t.get("title", str, None)
        interval = t.get("interval_seconds", (int, float), None)
        if interval is not None and not 60 <= interval <= 7 * 86400:
            t.fail("interval_seconds", f"must be between 60 and 604800 seconds, got {interval}")
        t.done()
        out.append(FeedSource(url=url, title=title, interval_seconds=float(interval) if interval else None))
    return tuple(out)


def _service(file: str, top: _Checker) -> ServiceSettings:
    d = ServiceSettings()
    schedule = _Checker(file, "[schedule]", top.get("schedule", dict, {}))
    interval = _number(schedule, "interval_seconds", d.interval_seconds, 1, 7 * 86400)
    grace = _number(schedule, "misfire_grace_seconds", min(d.misfire_grace_seconds, interval), 1, 7 * 86400)
    schedule.done()
    watch = _Checker(file, "[watch]", top.get("watch", dict, {}))
    settle = _number(watch, "settle_seconds", d.settle_seconds, 0, 3600)
    watch.done()
    server = _Checker(file, "[server]", top.get("server", dict, {}))
    host = server.get("host", str, d.host)
    if any(c.isspace() or not c.isprintable() for c in host):
        server.fail("host", f'expected a host name or address such as "127.0.0.1", got "{host}"')
    port = server.get("port", int, d.port)
    if not 0 <= port <= 65535:
        server.fail("port", f"must be between 0 and 65535 (0: any free port), got {port}")
    max_age = int(_number(server, "cache_max_age", d.cache_max_age, 0, 86400))
    header_timeout = _number(server, "header_timeout_seconds", d.header_timeout_seconds, 0.1, 600)
    keepalive_timeout = _number(server, "keepalive_timeout_seconds", d.keepalive_timeout_seconds, 0.1, 3600)
    max_connections = server.get("max_connections", int, d.max_connections)
    if not 1 <= max_connections <= 100_000:
        server.fail("max_connections", f"must be between 1 and 100000, got {max_connections}")
    access_log = server.get("access_log", bool, d.access_log)
    server.done()
    websub = _Checker(file, "[websub]", top.get("websub", dict, {}))
    hub = websub.get("hub", str, None)
    if hub is not None:
        _http_url(websub, "hub", hub, "https://pubsubhubbub.appspot.com/")
    websub.done()
    return ServiceSettings(interval_seconds=interval, misfire_grace_seconds=grace, settle_seconds=settle,
                   host=host, port=port, cache_max_age=max_age, header_timeout_seconds=header_timeout,
                   keepalive_timeout_seconds=keepalive_timeout, max_connections=max_connections, hub=hub,
                   access_log=access_log)


def _dedup(t: _Checker) -> DedupSettings:
    default = DedupSettings()
    mode = t.get("on_near_duplicate", str, default.on_near_duplicate)
    if mode not in tuple(OnNearDuplicate):
        t.fail("on_near_duplicate", f'expected "revise" or "skip", got {mode!r}')
    values = {}
    for key in ("resemblance", "containment"):
        value = t.get(key, (int, float), getattr(default, key))
        if not 0 < value <= 1:
            t.fail(key, f"must be a share between 0 and 1 (e.g. 0.5), got {value}")
        values[key] = float(value)
    t.done()
    return DedupSettings(on_near_duplicate=OnNearDuplicate(mode), **values)


def _site(t: _Checker) -> Site:
    title = t.get("title", str)
    authority = t.get("id_authority", str)
    if not _AUTHORITY_RE.match(authority) or not _valid_date(authority.rsplit(",", 1)[1]):
        t.fail("id_authority", f'expected "domain,YYYY[-MM[-DD]]" (a tag: URI authority, e.g. "news.example.org,2026"), got "{authority}"')
    base_url = t.get("base_url", str, DEFAULT_BASE_URL)
    parts = urlsplit(base_url)
    if any(c.isspace() or not c.isprintable() for c in base_url) or parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        t.fail("base_url", f'expected an absolute http(s) URL such as "{DEFAULT_BASE_URL}", got "{base_url}"')
    if not base_url.endswith("/"):
        base_url += "/"
    language = t.get("language", str, "en")
    if not _LANG_RE.match(language):
        t.fail("language", f'expected a language tag such as "en" or "en-GB", got "{language}"')
    site = Site(title=title, id_authority=authority, base_url=base_url,
                author=t.get("author", str, title), language=language,
                description=t.get("description", str, title))
    t.done()
    return site


def _valid_date(text: str) -> bool:
    fmt = {4: "%Y", 7: "%Y-%m", 10: "%Y-%m-%d"}.get(len(text))
    try:
        return fmt is not None and bool(datetime.strptime(text, fmt))
    except ValueError:
        return False


def _paths(t: _Checker, root: Path) -> Paths:
    written: dict[str, str] = {}

    def path(key: str, default: str) -> Path:
        written[key] = t.get(key, str, default)
        p = Path(written[key]).expanduser()
        return p if p.is_absolute() else root / p

    paths = Paths(sources=path("sources", "sources"), feeds=path("feeds", "feeds"),
                  database=path("database", "publisher.db"))
    t.done()
    _check_apart(t, paths, written, root)
    return paths


# Paths that must not overlap, and what would happen if `inner` were `outer` or inside it.
_APART = (("feeds", "sources", "every run would read its own output back as stories"),
          ("sources", "feeds", "the source files would be served, and every run could read its own output back"),
          ("database", "feeds", "the database would be served to anyone"),
          ("database", "sources", "the database would be read as a source"),
          ("feeds", "database", "the database is a file, not a directory"),
          ("sources", "database", "the database is a file, not a directory"))


def _real(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # a symlink loop: publish will say so; compare it as written
        return Path(os.path.abspath(path))


def _check_apart(t: _Checker, paths: Paths, written: dict[str, str], config_dir: Path) -> None:
    """Refuse paths that feed on themselves: feeds/ in sources/ (each run reads its own pages
    back as stories), the database under feeds/ (served), feeds/ at a filesystem root or
    holding the config file. Compared after resolving symlinks and "..", as the OS will."""
    real = {key: _real(getattr(paths, key)) for key in written}
    feeds = real["feeds"]
    if feeds.parent == feeds:
        t.fail("feeds", f'"{written["feeds"]}" is a filesystem root: everything on it would be served; '
                        f'give the feeds a directory of their own (e.g. "feeds")')
    if feeds == config_dir or feeds in config_dir.parents:
        where = "is the config file's directory" if feeds == config_dir else "holds the config file's directory"
        t.fail("feeds", f'"{written["feeds"]}" {where}: the config file would be served; give the feeds a '
                        f'directory of their own (e.g. "feeds")')
    if paths.feeds.exists() and not paths.feeds.is_dir():  # (sources: publish says so, and goes on)
        t.fail("feeds", f'"{written["feeds"]}" is a file, not a directory')
    for inner, outer, why in _APART:
        if real[inner] == real[outer] or real[outer] in real[inner].parents:
            how = "is the same path as" if real[inner] == real[outer] else "is inside"
            t.fail(inner, f'"{written[inner]}" {how} [paths] {outer} ("{written[outer]}"): {why}')


def _check_slug(t: _Checker, key: str, slug: str) -> None:
    if not SLUG_RE.match(slug):
        t.fail(key, f'"{slug}" is not a slug: use lower-case letters, digits and single hyphens')
    if slug in RESERVED_SLUGS:
        t.fail(key, f'"{slug}" is reserved: /{slug} is a path of the site or the service, not a feed\'s '
                    f'(reserved: {", ".join(sorted(RESERVED_SLUGS))})')


def _terms(t: _Checker, key: str, value: Any, *, empty: str | None) -> tuple[str, ...]:
    """A list of terms; `empty` is why an empty list is an error (None: it is allowed)."""
    if value is None:
        return ()
    if not isinstance(value, list):
        t.fail(key, f"expected a list of terms, got {_type_name(value)}")
    if empty and not value:
        t.fail(key, f"must not be empty ({empty})")
    out = []
    seen: set[str] = set()  # (lower-cased: a set, not a scan of those before; topics list hundreds)
    for term in value:
        if not isinstance(term, str):
            t.fail(key, f"expected terms as strings, got {term!r} ({_type_name(term)})")
        term = term.strip()
        if not TERM_RE.match(term):
            t.fail(key, f'"{term}" is not a usable term: words, optionally ending in * (e.g. "ukrain*")')
        if term.lower() in seen:
            t.fail(key, f'"{term}" is listed twice')
        seen.add(term.lower())
        out.append(term)
    return tuple(out)


def _topic(file: str, index: int, raw: Any) -> Topic:
    where = f"[[topics]] #{index + 1}"
    if isinstance(raw, dict) and isinstance(raw.get("slug"), str):
        where += f' ("{raw["slug"]}")'
    t = _Checker(file, where, raw)
    slug = t.get("slug", str)
    _check_slug(t, "slug", slug)
    title = t.get("title", str)
    threshold = t.get("threshold", (int, float))
    if not 0 < threshold < math.inf:
        t.fail("threshold", f"must be a number greater than 0, got {threshold}")
    require = _terms(t, "require", t.get("require", list, None),
                     empty="no story could ever qualify; leave the key out to require nothing")
    exclude = _terms(t, "exclude", t.get("exclude", list, None), empty=None)
    raw_rules = t.get("rules", list)
    if not raw_rules:
        t.fail("rules", "must not be empty (a topic with no rules matches nothing)")
    rules = []
    owner: dict[str, int] = {}
    for i, raw_rule in enumerate(raw_rules):
        r = _Checker(file, f"{where} rules[{i}]", raw_rule)
        weight = r.get("weight", (int, float))
        if weight == 0 or not -math.inf < weight < math.inf:
            r.fail("weight", f"must be a number other than 0 (below 0: the terms count against the topic), "
                             f"got {weight}")
        terms = _terms(r, "terms", r.get("terms", list), empty="a rule with no terms can never match")
        for term in terms:
            if term.lower() in owner:
                r.fail("terms", f'"{term}" is already in rules[{owner[term.lower()]}]: give each term one weight')
            owner[term.lower()] = i
        r.done()
        rules.append(Rule(weight=float(weight), terms=terms))
    both = sorted({x.lower() for x in require} & {x.lower() for x in exclude})
    if both:
        t.fail("exclude", f'"{both[0]}" is also in require: no story could ever qualify')
    position = _position(t)
    min_density = t.get("min_density", (int, float), 0.0)
    if not 0 <= min_density < math.inf:
        t.fail("min_density", f"must be a number of at least 0 (score per 100 words), got {min_density}")
    best = sum(max(0.0, rule.weight) * MAX_HITS_PER_TERM * len(rule.terms) for rule in rules) * max(position)
    if threshold > best:
        t.fail("threshold", f"{threshold:g} can never be reached: the most these rules can score is {best:g} "
                            f"(each term counts at most {MAX_HITS_PER_TERM} times)")
    t.done()
    return Topic(slug=slug, title=title, threshold=float(threshold), rules=tuple(rules),
                 require=require, exclude=exclude, position=position, min_density=float(min_density))


def _position(t: _Checker) -> tuple[float, float, float]:
    """position = { kicker = 2, lede = 2, body = 1 }: how much a hit counts in each part (1 each
    when left out: where a term occurs does not matter)."""
    raw = t.get("position", dict, None)
    if raw is None:
        return (1.0, 1.0, 1.0)
    p = _Checker(t.file, f"{t.where} position", raw)
    out = []
    for part in ("kicker", "lede", "body"):
        value = p.get(part, (int, float), 1.0)
        if not 0 <= value < math.inf:
            p.fail(part, f"must be a number of at least 0, got {value}")
        out.append(float(value))
    p.done()
    if not any(out):
        t.fail("position", "a hit must count somewhere (every part is 0)")
    return (out[0], out[1], out[2])


def add_feed(path: Path, url: str, *, title: str | None = None, interval_seconds: float | None = None) -> Config:
    """Append a [[sources.feeds]] table to the config file at `path`, keeping its comments and
    layout (tomlkit), and replace the file atomically. The result is validated first: a URL
    already there, or one that is not http(s), is a ConfigError and the file is untouched."""
    current = load(path)
    if any(f.url == url for f in current.feed_sources):
        raise ConfigError(f"{path}: [[sources.feeds]] url: {url} is already a source")
    return add_feeds(path, [FeedSource(url, title, interval_seconds)])


def add_feeds(path: Path, feeds: list[FeedSource]) -> Config:
    """Append a [[sources.feeds]] table for each of `feeds` to the config file at `path` in
    one write, keeping its comments and layout (tomlkit), and replace the file atomically; the
    result is validated first (a ConfigError leaves the file untouched)."""
    import tomlkit

    text = _read(path)
    doc = tomlkit.parse(text)
    if "sources" not in doc:
        doc.append("sources", tomlkit.table(is_super_table=True))
    sources = doc["sources"]
    if "feeds" not in sources:
        sources.append("feeds", tomlkit.aot())
    for feed in feeds:
        entry = tomlkit.table()
        entry.append("url", feed.url)
        if feed.title:
            entry.append("title", feed.title)
        if feed.interval_seconds:
            seconds = feed.interval_seconds
            entry.append("interval_seconds", int(seconds) if float(seconds).is_integer() else seconds)
        sources["feeds"].append(entry)
    return _replace(path, tomlkit.dumps(doc))


def remove_feed(path: Path, url: str) -> Config:
    """Take the [[sources.feeds]] table of `url` out of the config file at `path`, keeping the
    rest of it as it is (comments included); ConfigError when it is not there."""
    import tomlkit

    text = _read(path)
    doc = tomlkit.parse(text)
    feeds = doc.get("sources", {}).get("feeds")
    where = [i for i, t in enumerate(feeds or []) if t.get("url") == url]
    if not where:
        raise ConfigError(f"{path}: {url} is not a [[sources.feeds]] url")
    del feeds[where[0]]
    if not len(feeds):  # no empty [[sources.feeds]] (nor the [sources] add made for it) left behind
        del doc["sources"]["feeds"]
        if not len(doc["sources"]):
            del doc["sources"]
    new_text = tomlkit.dumps(doc)
    if text.endswith("\n") and not text.endswith("\n\n"):  # the blank line add put before the table
        new_text = new_text.rstrip("\n") + "\n"
    return _replace(path, new_text)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror or exc}") from None


def _replace(path: Path, new_text: str) -> Config:
    config = parse(tomllib.loads(new_text), path)  # raises ConfigError, naming the key
    try:
        atomic.write(path, new_text.encode("utf-8"), mode=path.stat().st_mode & 0o7777)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write: {exc.strerror or exc}") from None
    return config
