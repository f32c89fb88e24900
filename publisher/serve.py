"""The HTTP side: the published files from memory, answered by `FeedServer.respond` (served by
publisher.http).

Feed readers mostly send conditional GETs, so every answer is prepared ahead: a snapshot holds
each file's bytes, its gzip bytes, strong ETags of both and the whole 200 and 304 header
blocks, and a request is one dict lookup and one write. What can be served is exactly what the snapshot holds: regular files found under
the feeds directory without following a symlink, with a known type. No request path is ever
joined to a directory, so `..`, encoded or absolute paths and symlinks out cannot reach a file.

With a search (`publisher run` gives it one), /search is answered by it, and every page is
served with the search form where its marker is (render.html.with_search_box): the snapshot
holds the bytes as served, so their ETags, gzip and lengths are of those bytes. Files served
by any other static host keep the marker, an HTML comment, and show no box.

`FeedServer.reload()` builds a new snapshot and swaps it in with one assignment: a request sees
the old files or the new ones, never a mix. The service reloads after each publish, holding
the write lock, so no publish is half-way through when the files are read.

A reload looks again at the few feed files and pages in memory (the feeds' directories) and,
of the story pages and archive pages (one per story: there may be 100,000s), only at those the
publishes since the last reload name in their change journal (publisher.changes): no listing
or stat of every story page. With no journal, or another one than last time (it is replaced
when it grows large), a reload lists everything, as the first one does.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import stat
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from urllib.parse import parse_qsl, quote

from publisher import changes
from publisher.atomic import read_regular
from publisher.http import NOSNIFF, Response, plain, response
from publisher.render.html import with_search_box

# By file name first (feeds are atom.xml / rss.xml in each feed's directory), then by suffix.
TYPES_BY_NAME = {
    "atom.xml": "application/atom+xml; charset=utf-8",
    "rss.xml": "application/rss+xml; charset=utf-8",
    "feed.json": "application/feed+json; charset=utf-8",
}
TYPES_BY_SUFFIX = {
    ".html": "text/html; charset=utf-8",
    ".opml": "text/x-opml; charset=utf-8",
    ".xml": "application/xml; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    # the site's icons (model.Icon)
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/vnd.microsoft.icon",
}
# Already compressed: never gzipped (gzip would save a few bytes and cost a Vary).
COMPRESSED_TYPES = frozenset({"image/png", "image/vnd.microsoft.icon"})
GZIP_MIN_BYTES = 512  # below this, gzip saves less than its own headers cost
MAX_FILES = 1_000_000  # a bound on what one snapshot lists
# Story pages (one per story: there may be 100,000s) and archive pages (a feed's archive/<n>/,
# one per archive_page_size stories of it) are listed, not held: each is read when asked for,
# and the most recently asked are kept, so memory stays bounded however many.
LAZY_PREFIX = "/stories/"
LAZY_PART = "/archive/"
LAZY_CACHE = 2048
# A retracted story's page is stories/retracted/<name>.html (site.write_pages): its permalink
# /stories/<name>.html answers 410 Gone with it. The directory itself is not served.
GONE_PREFIX = "/stories/retracted/"

# Pages may use their inline <style>, https images and media (a feed's story may carry them),
# and nothing else: no script, no frames, no plugins, no form posting elsewhere.
CSP = (b"default-src 'none'; style-src 'unsafe-inline'; img-src 'self' https:; media-src https:; "
       b"frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
PAGE_HEADERS = [(b"content-security-policy", CSP), (b"x-frame-options", b"DENY")]
# An SVG opened as a document could run script or load things: ours holds none, and this
# policy forbids both whatever it holds (sandbox: no script, no forms, an opaque origin). As
# an <img> or a favicon, an SVG never runs script anyway.
SVG_CSP = b"default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; sandbox"
SVG_HEADERS = [(b"content-security-policy", SVG_CSP)]

# An extra route (/healthz, /metrics): () -> (status, content type, body)
Route = Callable[[], tuple[int, str, bytes]]
# The search page: (what was typed, page number, topic slug or None) -> (status, HTML)
Search = Callable[[str, int, "str | None"], tuple[int, bytes]]
SEARCH_PATH = "/search"
SEARCH_FIELDS = 10  # query fields read of a /search request target (q, page, topic; the rest ignored)


def search_params(query: bytes) -> tuple[str, int, str | None]:
    """(q, page, topic) of a /search query string; what is missing or malformed is the default
    ("", 1, None). Percent-escapes are read as UTF-8, a bad one replaced, never an error."""
    fields = parse_qsl(b"&".join(query.split(b"&", SEARCH_FIELDS)[:SEARCH_FIELDS]).decode("ascii", "replace"),
                       keep_blank_values=True, encoding="utf-8", errors="replace")
    found: dict[str, str] = {}
    for name, value in fields:
        found.setdefault(name, value)
    page = found.get("page", "")
    topic = found.get("topic") or None
    return found.get("q", ""), int(page) if page.isascii() and page.isdigit() and len(page) <= 6 else 1, topic


def content_type(name: str) -> str | None:
    """The Content-Type a file is served with, or None when files like it are not served."""
    if name in TYPES_BY_NAME:
        return TYPES_BY_NAME[name]
    return TYPES_BY_SUFFIX.get(os.path.splitext(name)[1].lower())


def http_date(timestamp: float) -> str:
    return format_datetime(datetime.fromtimestamp(int(timestamp), UTC), usegmt=True)


@dataclass(frozen=True, slots=True)
class Variant:
    body: bytes
    etag: bytes
    ok: Response  # 200 to a GET
    head: Response  # 200 to a HEAD: the same headers, no body
    not_modified: Response  # 304


@dataclass(frozen=True, slots=True)
class Listed:
    """A file known to be servable, read on request (a story page, an archive page)."""

    path: str
    key: tuple[int, int, int, int]
    ctype: str
    status: int = 200  # 410: a retracted story's page


@dataclass(frozen=True, slots=True)
class Resource:
    key: tuple[int, int, int, int]  # (device, inode, size, mtime_ns): unchanged files are reused
    mtime: int  # whole seconds, as Last-Modified says
    plain: Variant
    gzipped: Variant | None  # None when gzip would not help
    status: int = 200  # not 200 (410): conditional requests do not apply (RFC 9110 13.2.1)


def _variant(body: bytes, etag: bytes, ctype: str, last_modified: str, cache_control: str,
             encoding: bytes | None, vary: bool, status: int = 200) -> Variant:
    # what a 304 repeats of a 200 (RFC 9110 15.4.5), security headers included: a cache
    # updates the stored response's headers from it
    common = [(b"etag", etag), (b"last-modified", last_modified.encode()),
              (b"cache-control", cache_control.encode()), NOSNIFF]
    if vary:
        common.append((b"vary", b"Accept-Encoding"))
    if ctype.startswith("text/html"):
        common += PAGE_HEADERS
    elif ctype.startswith("image/svg+xml"):
        common += SVG_HEADERS
    headers = [(b"content-type", ctype.encode()), (b"content-length", str(len(body)).encode()), *common]
    if encoding:
        headers.append((b"content-encoding", encoding))
    ok = response(status, headers, body)
    return Variant(body, etag, ok, Response(status, ok.head), response(304, common))


def make_resource(data: bytes, ctype: str, key: tuple[int, int, int, int], mtime: float,
                  cache_control: str, status: int = 200) -> Resource:
    digest = hashlib.sha256(data).hexdigest()[:32]
    last_modified = http_date(mtime)
    compressed = gzip.compress(data, compresslevel=6, mtime=0) \
        if len(data) >= GZIP_MIN_BYTES and ctype not in COMPRESSED_TYPES else None
    if compressed is not None and len(compressed) >= len(data):
        compressed = None
    vary = compressed is not None
    plain = _variant(data, f'"{digest}"'.encode(), ctype, last_modified, cache_control, None, vary, status)
    gzipped = _variant(compressed, f'"{digest}-gz"'.encode(), ctype, last_modified, cache_control, b"gzip",
                       True, status) if compressed is not None else None
    return Resource(key, int(mtime), plain, gzipped, status)


def served_bytes(data: bytes, ctype: str, search: bool) -> bytes:
    """A file's bytes as served: a page with the search form in place of its marker when
    there is a search to send it to."""
    return with_search_box(data) if search and ctype.startswith("text/html") else data


def lazy(url: str) -> bool:
    """A story page or an archive page (or a directory of them): listed, read when asked for."""
    return url.startswith(LAZY_PREFIX) or LAZY_PART in url


def snapshot(root: Path, cache_control: str, previous: dict[str, Resource | Listed] | None = None,
             errors: list[str] | None = None, *, search: bool = False,
             listed: bool = True) -> dict[str, Resource | Listed]:
    """Every servable file under `root`, by URL path ("/all/atom.xml"; "/" and "/x/" for
    index.html). Hidden files (temp files of a write in progress) are left out, symlinks are
    neither followed nor served. Files unchanged since `previous` are reused, not read again.
    search: pages get the search form (served_bytes). listed=False: the files held in memory
    only, not the story and archive pages (their directories are not entered)."""
    previous = previous or {}
    files: dict[str, Resource | Listed] = {}
    gone: list[tuple[str, Listed]] = []
    stack = [(root, "/")]
    while stack:
        directory, prefix = stack.pop()
        try:
            entries = list(os.scandir(directory))
        except OSError as exc:
            if errors is not None:
                errors.append(f"{directory}: cannot list: {exc.strerror or exc}")
            continue
        for entry in entries:
            name = entry.name
            if name.startswith("."):
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISDIR(st.st_mode):
                if listed or not lazy(f"{prefix}{name}/"):
                    stack.append((Path(entry.path), f"{prefix}{name}/"))
                continue
            ctype = content_type(name)
            if not stat.S_ISREG(st.st_mode) or ctype is None or len(files) >= MAX_FILES:
                continue
            url = f"{prefix}{name}"
            key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
            if url.startswith(GONE_PREFIX):
                if prefix == GONE_PREFIX:
                    gone.append(("/stories/" + name, Listed(entry.path, key, ctype, 410)))
                continue
            if url.startswith(LAZY_PREFIX) or LAZY_PART in url:
                files[url] = Listed(entry.path, key, ctype)
                continue
            old = previous.get(url)
            if old is not None and old.key == key:
                files[url] = old
                continue
            try:
                data = read_regular(entry.path)
            except OSError as exc:
                if errors is not None:
                    errors.append(f"{entry.path}: cannot read: {exc.strerror or exc}")
                continue
            files[url] = make_resource(served_bytes(data, ctype, search), ctype, key, st.st_mtime, cache_control)
    for url, listed in gone:  # (a story's live page wins: one is written before the other is removed)
        files.setdefault(url, listed)
    for url in [u for u in files if u.endswith("/index.html")]:
        files[url[: -len("index.html")]] = files[url]
    return files


ARCHIVE_FILES = ("atom.xml", "rss.xml", "feed.json", "index.html")  # what site.write_archives writes in each


def refresh(root: Path, cache_control: str, previous: dict[str, Resource | Listed], held: set[str],
            lines: list[str], errors: list[str] | None = None, *,
            search: bool = False) -> tuple[dict[str, Resource | Listed], set[str]]:
    """`previous` brought up to date, given the change journal's `lines` since it was made
    (publisher.changes): the files held in memory (`held`: their URLs in `previous`) are listed
    again, as snapshot() lists them; of the story and archive pages, those the lines name are
    looked at again, and every other one is kept as it was. Returns (the files, their URLs
    held in memory)."""
    fresh = snapshot(root, cache_control, previous, errors, search=search, listed=False)
    files = dict(previous)
    for url in held - fresh.keys():
        del files[url]
    files.update(fresh)
    dirs: dict[str, bool] = {}  # directory under root -> a real directory (no symlink on the way)
    for line in dict.fromkeys(lines):
        parts = line.strip("/").split("/")
        if not line.startswith("/") or any(p in ("", ".", "..") or p.startswith(".") for p in parts):
            continue  # (not a line site.py writes)
        if line.startswith(LAZY_PREFIX) and len(parts) == 2:
            _refresh_story(root, parts[1], files, dirs)
        elif line.endswith("/") and LAZY_PART in line:
            _refresh_directory(root, line, parts, files, dirs, errors)
    return files, set(fresh)


def _directory(root: Path, parts: list[str], dirs: dict[str, bool]) -> Path | None:
    """root/parts... when each step is a directory, not a symlink (as snapshot walks); else None."""
    path = root
    for n, part in enumerate(parts):
        path = path / part
        key = "/".join(parts[: n + 1])
        if key not in dirs:
            try:
                dirs[key] = stat.S_ISDIR(os.lstat(path).st_mode)
            except (OSError, ValueError):  # (ValueError: a NUL in the name: no such file)
                dirs[key] = False
        if not dirs[key]:
            return None
    return path


def _listed(path: Path, ctype: str, status: int = 200) -> Listed | None:
    try:
        st = os.lstat(path)
    except (OSError, ValueError):  # (ValueError: a NUL in the name: no such file)
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    return Listed(str(path), (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns), ctype, status)


def _refresh_story(root: Path, name: str, files: dict[str, Resource | Listed], dirs: dict[str, bool]) -> None:
    """A story's permalink: its live page, else its retracted page (410), else nothing."""
    url = f"{LAZY_PREFIX}{name}"
    ctype = content_type(name)
    found = None
    if ctype is not None:
        stories = _directory(root, ["stories"], dirs)
        if stories is not None:
            found = _listed(stories / name, ctype)
            if found is None and (gone := _directory(root, ["stories", "retracted"], dirs)) is not None:
                found = _listed(gone / name, ctype, 410)
    if found is None:
        files.pop(url, None)
    elif url in files or len(files) < MAX_FILES:
        files[url] = found


def _refresh_directory(root: Path, url: str, parts: list[str], files: dict[str, Resource | Listed],
                       dirs: dict[str, bool], errors: list[str] | None) -> None:
    """An archive page's directory: its files as they are now (none when it is gone)."""
    names: set[str] = set(ARCHIVE_FILES)
    found: dict[str, Listed] = {}
    directory = _directory(root, parts, dirs)
    if directory is not None:
        try:
            with os.scandir(directory) as it:
                for entry in it:
                    ctype = content_type(entry.name)
                    if entry.name.startswith(".") or ctype is None:
                        continue
                    names.add(entry.name)
                    listed = _listed(Path(entry.path), ctype)
                    if listed is not None:
                        found[entry.name] = listed
        except OSError as exc:
            if errors is not None:
                errors.append(f"{directory}: cannot list: {exc.strerror or exc}")
            return
    for name in names:
        if name in found:
            if url + name in files or len(files) < MAX_FILES:
                files[url + name] = found[name]
        else:
            files.pop(url + name, None)
    if url + "index.html" in files:
        files[url] = files[url + "index.html"]
    else:
        files.pop(url, None)



def _accepts_gzip(value: bytes) -> bool:
    for part in value.split(b","):
        coding, _, params = part.strip().partition(b";")
        if coding.strip().lower() not in (b"gzip", b"x-gzip", b"*"):
            continue
        q = 1.0
        for param in params.split(b";"):
            name, _, v = param.strip().partition(b"=")
            if name.strip().lower() == b"q":
                try:
                    q = float(v)
                except ValueError:
                    q = 0.0
        return q > 0
    return False


def _etag_matches(header: bytes, etag: bytes) -> bool:
    """If-None-Match uses the weak comparison: W/"x" matches "x"."""
    if header.strip() == b"*":
        return True
    for tag in header.split(b","):
        tag = tag.strip()
        if tag.startswith(b"W/"):
            tag = tag[2:]
        if tag == etag:
            return True
    return False


def _not_modified_since(header: bytes, mtime: int) -> bool:
    """If-Modified-Since in any of RFC 9110's three date forms: IMF-fixdate ("Sun, 06 Nov
    1994 08:49:37 GMT"), RFC 850 ("Sunday, 06-Nov-94 08:49:37 GMT") and asctime ("Sun Nov  6
    08:49:37 1994", which names no zone: HTTP dates are all GMT)."""
    try:
        since = parsedate_to_datetime(header.decode("latin-1"))
    except (TypeError, ValueError, IndexError, OverflowError):
        return False
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    return mtime <= since.timestamp()


_NOT_FOUND = b"Not Found\n"
# (GET, HEAD) answers that never change
_NOT_FOUNDS = (plain(404, _NOT_FOUND), plain(404, _NOT_FOUND, head=True))
_NOT_ALLOWED = plain(405, b"Method Not Allowed\n", [(b"allow", b"GET, HEAD")])
_NO_STORE = (b"cache-control", b"no-store")
SEARCH_SHARE = 0.5  # of the server's time that searches may take, over time ...
SEARCH_BURST = 1.0  # ... owing at most this many seconds of it at once
_SEARCH_BUSY = {head: plain(503, b"Searches are busy: try again in a moment.\n", [_NO_STORE, (b"retry-after", b"1")],
                            head=head) for head in (False, True)}


def _moved(path: str, cache_control: str, head: bool) -> Response:
    """301 to `path` on this host: the path alone in Location (RFC 9110 allows a relative
    reference), so it is right behind a proxy too; nginx.conf says the same (absolute_redirect off)."""
    location = quote(path, safe="/-._~!$&'()*+,;=:@").encode()
    return plain(301, b"Moved Permanently\n", [(b"location", location), (b"cache-control", cache_control.encode())],
                 head=head)


class FeedServer:
    """What is served: `respond` answers one request. `routes` adds computed pages
    (/healthz, /metrics); `search` answers /search, and puts the search form on every page."""

    def __init__(self, root: Path, *, cache_max_age: int = 60, routes: dict[str, Route] | None = None,
                 search: Search | None = None, clock: Callable[[], float] = time.monotonic):
        self.root = root
        self.clock = clock
        self._search_debt, self._search_at = 0.0, clock()  # seconds of searching owed (SEARCH_SHARE)
        self.cache_control = f"public, max-age={cache_max_age}"
        self.routes = dict(routes or {})
        self.search = search
        self.files: dict[str, Resource | Listed] = {}
        self._held: set[str] = set()  # URLs in self.files held in memory (not story or archive pages)
        self._journal: changes.Position | None = None  # how far the change journal was read
        self.requests = 0
        self._read: OrderedDict[str, Resource] = OrderedDict()  # listed files read lately

    def reload(self, errors: list[str] | None = None) -> int:
        """Read the feeds directory again (what changed in it: `refresh`, when the change
        journal says what); returns the number of files served."""
        lines, position = changes.read(self.root, self._journal)  # (before the files: a later line is read next time)
        search = self.search is not None
        if lines is None or not self.files:
            files = snapshot(self.root, self.cache_control, self.files, errors, search=search)
            held = {url for url in files if not lazy(url)}
        else:
            files, held = refresh(self.root, self.cache_control, self.files, self._held, lines, errors, search=search)
        self.files, self._held, self._journal = files, held, position  # (self.files: one assignment)
        return len(self.files)

    def respond(self, method: bytes, path: str, headers: list[tuple[bytes, bytes]], query: bytes = b"") -> Response:
        """The answer to one request: method as sent (b"GET"), path decoded, headers as
        (lower-case name, value) pairs, query the query string as sent."""
        self.requests += 1
        head = method == b"HEAD"
        if not head and method != b"GET":
            return _NOT_ALLOWED
        resource = self.files.get(path)
        if type(resource) is Listed:
            resource = self._load(path, resource)
        if resource is None:
            if path == SEARCH_PATH and self.search is not None:
                return self._search(query, head)
            route = self.routes.get(path)
            if route is None:
                if path + "/" in self.files and path[-1:] != "/":  # a directory with its page: /all -> /all/
                    return _moved(path + "/", self.cache_control, head)
                return _NOT_FOUNDS[head]
            status, ctype, body = route()
            return plain(status, body, [(b"content-type", ctype.encode()), _NO_STORE], head=head)
        inm = ims = accept = None
        for name, value in headers:
            if name == b"if-none-match":
                inm = value
            elif name == b"if-modified-since":
                ims = value
            elif name == b"accept-encoding":
                accept = value
        variant = resource.gzipped if resource.gzipped is not None and accept and _accepts_gzip(accept) \
            else resource.plain
        if resource.status != 200:  # 410 Gone: answered whatever the validators
            return variant.head if head else variant.ok
        if inm is not None:  # If-None-Match wins; If-Modified-Since is then ignored (RFC 9110)
            fresh = _etag_matches(inm, variant.etag)
        else:
            fresh = ims is not None and _not_modified_since(ims, resource.mtime)
        if fresh:
            return variant.not_modified
        return variant.head if head else variant.ok

    def _search(self, query: bytes, head: bool) -> Response:
        """A page of search results: made for this request, kept nowhere (no-store). Searches
        share the server's one loop with the feeds: they may take SEARCH_SHARE of its time, and
        over that (a debt of SEARCH_BURST seconds) a search is answered 503, retry in a second.
        Each search is bounded (search.TIME_LIMIT), but a client sending them one after another
        on many connections held a normal GET of a feed for seconds."""
        now = self.clock()
        self._search_debt = max(0.0, self._search_debt - (now - self._search_at) * SEARCH_SHARE)
        self._search_at = now
        if self._search_debt > SEARCH_BURST:
            return _SEARCH_BUSY[head]
        try:
            status, body = self.search(*search_params(query))
        finally:
            done = self.clock()
            self._search_debt += done - now
            self._search_at = done
        headers = [(b"content-type", b"text/html; charset=utf-8"), (b"content-length", str(len(body)).encode()),
                   _NO_STORE, NOSNIFF, *PAGE_HEADERS]
        return response(status, headers, b"" if head else body)

    def _load(self, url: str, listed: Listed) -> Resource | None:
        cached = self._read.get(url)
        if cached is not None and cached.key == listed.key:
            self._read.move_to_end(url)
            return cached
        try:
            data = read_regular(listed.path)
        except OSError:  # gone since the snapshot (a story left every topic): not found
            return None
        resource = make_resource(served_bytes(data, listed.ctype, self.search is not None), listed.ctype, listed.key,
                                 listed.key[3] / 1e9, self.cache_control, listed.status)
        self._read[url] = resource
        if len(self._read) > LAZY_CACHE:
            self._read.popitem(last=False)
        return resource
