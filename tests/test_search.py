"""Search: `publisher search WORDS` and the service's /search page, over every stored story.

A corpus of 300 labelled stories (bench/corpus.py's stories, with words planted in known ones)
is published once; each test reads it (or a copy, when it changes it)."""

from __future__ import annotations

import shutil
import sqlite3
import threading
from datetime import timedelta
from urllib.parse import quote

import httpx
import lxml.html
import pytest

from conftest import CONFIG, DATA, NOW, Project, raw_request, serving
from corpus import stories_text
from publisher import fulltext, search, stories
from publisher.errors import QueryTimeout, UnknownStory
from publisher.serve import FeedServer, search_params
from publisher.store import MIGRATIONS, Store
from test_cli import run

N = 300
PER_FILE = 100
# planted words: story i has "lighthouse" when i % 10 == 0, "glacier" when i % 15 == 0
LIGHTHOUSE = [i for i in range(N) if i % 10 == 0]
GLACIER = [i for i in range(N) if i % 15 == 0]


def _text(i: int, base: str) -> str:
    extra = (" A lighthouse keeper watched." if i % 10 == 0 else "") + (" The glacier moved." if i % 15 == 0 else "")
    return base + extra


def _publish_corpus(project: Project) -> None:
    texts = stories_text(N, seed=23)
    for f in range(N // PER_FILE):
        chunk = [_text(i, texts[i]) for i in range(f * PER_FILE, (f + 1) * PER_FILE)]
        project.add_source(f"batch-{f}.txt", "\n\n".join(chunk) + "\n")
        report = project.publish(NOW + timedelta(minutes=f))
        assert report.ok and report.sources[-1].new == PER_FILE, report.summary()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Project:
    root = tmp_path_factory.mktemp("corpus")
    shutil.copy(CONFIG, root / "config.toml")
    (root / "sources").mkdir()
    project = Project(root, root / "config.toml")
    _publish_corpus(project)
    return project


@pytest.fixture
def copy(corpus, tmp_path) -> Project:
    """The corpus, to change."""
    root = tmp_path / "copy"
    shutil.copytree(corpus.root, root)
    return Project(root, root / "config.toml")


def _names(project: Project) -> dict[int, str]:
    """Story number i (its "report i") -> its name."""
    with sqlite3.connect(project.database) as db:
        rows = db.execute("SELECT e.name, v.paragraphs FROM entries e JOIN versions v ON v.id = e.current_version")
        out = {}
        for name, paragraphs in rows:
            number = int(paragraphs.rsplit("report ", 1)[1].split(".")[0])
            out[number] = name
    assert len(out) == N
    return out


def _search(project: Project, text: str, **kw) -> search.Results:
    store = Store.open(project.database, now=NOW, migrate=False)
    try:
        return search.search(store, text, **kw)
    finally:
        store.close()


def _words(segments) -> str:
    return "".join(text for _, text in segments)


# -- the use case ------------------------------------------------------------------------------

def test_the_stories_with_every_word_are_found_newest_first_as_list_orders_them(corpus):
    names = _names(corpus)
    found = _search(corpus, "lighthouse", limit=100)
    assert [f.name for f in found.found] == [names[i] for i in reversed(LIGHTHOUSE)]
    assert not found.more
    # every word must match: lighthouse and glacier both
    both = _search(corpus, "Lighthouse   GLACIER", limit=100)
    assert [f.name for f in both.found] == [names[i] for i in reversed(sorted(set(LIGHTHOUSE) & set(GLACIER)))]
    # the same order as `publisher list` (first seen, newest first)
    listed = [s["name"] for s in stories.list_stories(corpus.config, None, N, NOW)]
    assert [f.name for f in found.found] == [n for n in listed if n in {f.name for f in found.found}]
    # one story by its number; a word no story has
    assert [f.name for f in _search(corpus, "report 137").found] == [names[137]]
    assert _search(corpus, "lighthouse 137").found == ()
    assert _search(corpus, "zzyzx").found == ()


def test_results_come_in_pages_and_the_limit_is_bounded(corpus):
    names = _names(corpus)
    expected = [names[i] for i in reversed(LIGHTHOUSE)]  # 30 of them
    first = _search(corpus, "lighthouse", limit=20)
    second = _search(corpus, "lighthouse", limit=20, page=2)
    assert [f.name for f in first.found] == expected[:20] and first.more
    assert [f.name for f in second.found] == expected[20:] and not second.more
    assert len(_search(corpus, "report", limit=10_000).found) == search.MAX_LIMIT
    far = _search(corpus, "report", limit=1, page=10_000)  # no further than MAX_PAGE pages in
    assert far.page == search.MAX_PAGE and len(far.found) == 1


def test_matches_are_marked_in_the_title_and_the_snippet(corpus):
    (found,) = _search(corpus, "lighthouse 130").found
    assert (True, "lighthouse") in found.snippet and (True, "130") in found.snippet
    assert "keeper watched" in _words(found.snippet)
    # stems and accents fold: "lighthouses" and "LÍGHTHOUSE" find it too
    assert [f.name for f in _search(corpus, "lighthouses 130").found] == [found.name]
    assert [f.name for f in _search(corpus, "líghthouse 130").found] == [found.name]
    # the title of a one-paragraph story is its start: "Kyiv" or "Taiwan" marked there
    (kyiv,) = _search(corpus, "kyiv report 131").found
    assert (True, "Kyiv") in kyiv.title and fulltext.OPEN not in _words(kyiv.title)


def test_a_topic_narrows_the_search_and_an_unknown_one_is_one_line(corpus):
    names = _names(corpus)
    ukraine = search.search_stories(corpus.config, ["glacier"], "ukraine", 100, NOW)  # odd numbers: Kyiv
    taiwan = search.search_stories(corpus.config, ["glacier"], "taiwan-security", 100, NOW)
    every = search.search_stories(corpus.config, ["glacier"], "all", 100, NOW)
    assert [f.name for f in ukraine.found] == [names[i] for i in reversed(GLACIER) if i % 2]
    assert [f.name for f in taiwan.found] == [names[i] for i in reversed(GLACIER) if not i % 2]
    assert all(f.topics == ("ukraine",) for f in ukraine.found)
    assert len(every.found) == len(GLACIER)
    with pytest.raises(UnknownStory, match="no topic 'nope'"):
        search.search_stories(corpus.config, ["lighthouse"], "nope", 10, NOW)


HOSTILE = ['"', '""', '"lighthouse', 'lighthouse"', "*", "lighthouse*", "NEAR(", "NEAR(lighthouse glacier)",
           "lighthouse NOT glacier", "-", "-lighthouse", ":", "title:lighthouse", "body:", "^lighthouse", "(", ")",
           "lighthouse OR", "AND", "{title body}: x", "'; DROP TABLE entries; --", "\x00\x01\x02\x03\x1b[31m",
           "<script>alert(1)</script>", "&amp; &lt;", "\ud800", "\ufffe", "x" * 10_000, "lighthouse " * 1000,
           "🙂", "日本", "%", "\u202e", "   ", ""]


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_no_query_is_search_syntax_nor_an_error(corpus, text):
    results = _search(corpus, text)
    query = fulltext.parse_query(text)
    assert len(query.text) <= fulltext.MAX_QUERY_CHARS and len(query.text.split()) <= fulltext.MAX_TERMS
    assert results.query == query
    if query.expression is None:
        assert results.found == ()
    for f in results.found:  # what is found has every word (an operator is a word like any other)
        assert f.name


def test_operators_are_words_and_punctuation_alone_finds_nothing():
    for text in ('"', "*", "-", ":", "( )", "^", "—", "…", "_"):
        assert fulltext.parse_query(text).expression is None, text
    assert fulltext.parse_query('say "hi').expression == '"say" """hi"'
    assert fulltext.parse_query("NEAR(a b)").expression == '"NEAR(a" "b)"'
    long = fulltext.parse_query(" ".join(f"w{i}" for i in range(50)))
    assert long.cut and long.text.split() == [f"w{i}" for i in range(fulltext.MAX_TERMS)]
    assert fulltext.parse_query("a" * 300).text == "a" * fulltext.MAX_QUERY_CHARS


def test_marked_reads_sentinels_only():
    o, c = fulltext.OPEN, fulltext.CLOSE
    assert fulltext.marked(f"a {o}b{c} c {o}d{c}{o}e{c}") == ((False, "a "), (True, "b"), (False, " c "), (True, "d"),
                                                              (True, "e"))
    assert fulltext.document("t\x02", "K\x03", ["p\x00", "q"]) == ("t", "K: p\nq")


# -- keeping the index current: revisions, retraction ------------------------------------------

REVISED = ("Kyiv's grain convoy reached Kherson on Monday after three days on the road, the regional "
           "administration said, and volunteers began unloading flour at the port.")
REVISION = ("Kyiv's grain convoy reached Mykolaiv on Monday after three days on the road, the regional "
            "administration said, and volunteers began unloading flour at the port warehouses.")


def test_a_revision_is_found_by_its_new_words_and_no_longer_by_the_old(project):
    project.add_source("one.txt", REVISED + "\n")
    assert project.publish().ok
    assert len(_search(project, "Kherson").found) == 1 and _search(project, "Mykolaiv").found == ()
    project.add_source("two.txt", REVISION + "\n")
    report = project.publish(NOW + timedelta(minutes=5))
    assert report.sources[-1].revised == 1, report.summary()
    (found,) = _search(project, "Mykolaiv warehouses").found
    assert _search(project, "Kherson").found == ()
    assert (True, "Mykolaiv") in found.snippet


def _rows(project: Project) -> int:
    with sqlite3.connect(project.database) as db:
        return db.execute("SELECT count(*) FROM story_search").fetchone()[0]


def test_a_retracted_story_is_not_found_and_unretract_brings_it_back(copy):
    names = _names(copy)
    assert _rows(copy) == N
    stories.retract(copy.config, names[130], "wrong", NOW + timedelta(hours=1))
    assert names[130] not in [f.name for f in _search(copy, "lighthouse", limit=100).found]
    assert _search(copy, "report 130").found == () and _rows(copy) == N - 1
    # a copy of it arriving again stays out (it stays out of the feeds too)
    copy.add_source("again.txt", _text(130, stories_text(N, seed=23)[130]) + "\n")
    assert copy.publish(NOW + timedelta(hours=2)).ok
    assert _search(copy, "report 130").found == ()
    stories.unretract(copy.config, names[130], NOW + timedelta(hours=3))
    assert [f.name for f in _search(copy, "report 130").found] == [names[130]] and _rows(copy) == N


def test_a_search_sees_committed_stories_only_and_never_holds_up_a_writer(copy):
    names = _names(copy)
    searcher = search.Searcher(copy.database)
    config = copy.config
    try:
        assert len(searcher.search(config, "lighthouse", page=1).found) == 20
        writer = Store.open(copy.database, now=NOW)
        try:
            with writer.transaction():  # a publish half-done: one story retracted, not committed
                writer.retract(writer.find_entry(names[130]), None, NOW)
                during = searcher.search(config, "report 130")
                assert [f.name for f in during.found] == [names[130]]  # the committed state
                assert writer.sql.execute("SELECT count(*) FROM story_search").fetchone()[0] == N - 1
            after = searcher.search(config, "report 130")  # committed now (the writer was not held)
            assert after.found == ()
        finally:
            writer.close()
    finally:
        searcher.close()


def test_a_search_over_its_time_is_stopped_and_said_so(corpus):
    searcher = search.Searcher(corpus.database, time_limit=0)
    try:
        with pytest.raises(QueryTimeout):
            searcher.search(corpus.config, "report")
        status, body = search.answer(searcher, corpus.config, "report")
        assert status == 503 and search.TOO_SLOW.encode() in body
    finally:
        searcher.close()


def test_without_a_database_the_page_says_search_is_unavailable(project):
    status, body = search.answer(search.Searcher(project.database), project.config, "kyiv")
    assert status == 503 and search.UNAVAILABLE.encode() in body
    assert not project.database.exists()  # and none was made


# -- the migration -----------------------------------------------------------------------------

def test_a_store_made_before_0011_is_indexed_by_the_migration_and_nothing_is_re_dated(project):
    """tests/data/store/pre-0010.sql (see test_feed_metadata), with one story retracted: its
    published stories are searchable after the upgrade, the retracted one is not."""
    with sqlite3.connect(project.database) as db:
        db.executescript((DATA / "store" / "pre-0010.sql").read_text())
        retracted = db.execute("SELECT id FROM entries ORDER BY id LIMIT 1").fetchone()[0]
        db.execute("UPDATE entries SET retracted_at = '2026-11-24T13:00:00.000000Z' WHERE id = ?", [retracted])
        before = db.execute("SELECT id, entry_id, first_seen, updated FROM entries ORDER BY id").fetchall()
        texts = dict(db.execute("SELECT e.id, v.title FROM entries e JOIN versions v ON v.id = e.current_version"))
    store = Store.open(project.database, now=NOW)
    try:
        assert not MIGRATIONS.pending(store.db)
        after = store.sql.execute("SELECT id, entry_id, first_seen, updated FROM entries ORDER BY id").fetchall()
        indexed = dict(store.sql.execute("SELECT rowid, title FROM story_search").fetchall())
        assert after == before
        assert indexed == {e: t for e, t in texts.items() if e != retracted}
        for entry, title in indexed.items():  # each found by its own title's words
            found = search.search(store, title, limit=5)
            assert entry in [store.find_entry(f.name) for f in found.found], title
    finally:
        store.close()


# -- the CLI -----------------------------------------------------------------------------------

def test_publisher_search_prints_each_story_with_its_matches_and_page(corpus):
    names = _names(corpus)
    proc = run(corpus, "search", "lighthouse", "glacier", "--limit", "3")
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    lines = proc.stdout.splitlines()
    expected = [names[i] for i in reversed(sorted(set(LIGHTHOUSE) & set(GLACIER)))][:3]
    assert [line.split()[-1] for line in lines[0::4]] == expected
    assert all("[lighthouse]" in line.lower() and "[glacier]" in line.lower() for line in lines[2::4])
    assert lines[3] == f"    {corpus.config.site.base_url}stories/{expected[0]}.html"
    assert lines[0].split()[0] == _search(corpus, "lighthouse glacier").found[0].entry_id.rpartition("/")[2][:12]


def test_publisher_search_with_no_match_says_so_and_exits_0(corpus):
    for words in (["zzyzx"], ['"', "*"], ["NEAR(", "zzyzx"], ["--", "lighthouse", "-glacier", "zzyzx"]):
        proc = run(corpus, "search", *words)
        assert proc.returncode == 0 and proc.stdout.startswith("no stories match"), (words, proc.stdout, proc.stderr)
    proc = run(corpus, "search", "kyiv", "--topic", "nope")
    assert proc.returncode == 2 and proc.stderr.startswith("publisher: no topic 'nope'")


def test_publisher_search_before_any_publish_is_one_line(project):
    proc = run(project, "search", "kyiv")
    assert proc.returncode == 2 and proc.stderr.startswith("publisher: no database yet")


def test_terminal_controls_in_a_story_never_reach_the_terminal(project):
    project.add_source("esc.txt", "Kyiv officials said the \x1b[2J\x9b31m lighthouse stayed lit on Monday night.\n")
    assert project.publish().ok
    proc = run(project, "search", "lighthouse")
    assert proc.returncode == 0 and "[lighthouse]" in proc.stdout
    assert "\x1b" not in proc.stdout and "\x9b" not in proc.stdout


def test_bidi_overrides_in_a_story_never_turn_a_line_around_in_the_terminal(project):
    project.add_source("bidi.txt", "Kyiv officials said the \u202elighthouse\u202c stayed lit on Monday \u2067night\u2069.\n")
    assert project.publish().ok
    found = run(project, "search", "lighthouse")
    (line,) = run(project, "list").stdout.splitlines()
    explained = run(project, "explain", line.split()[0])
    for proc in (found, explained):
        assert proc.returncode == 0 and "lighthouse" in proc.stdout
        assert not any(c in proc.stdout for c in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


# -- the config check: tests/data/config/*-slug-reserved-{search,archive,...}.toml (test_config)

# -- the page, over HTTP -----------------------------------------------------------------------

@pytest.fixture
def served(corpus):
    searcher = search.Searcher(corpus.database)
    config = corpus.config
    app = FeedServer(corpus.feeds, search=lambda q, page, topic: search.answer(searcher, config, q, page, topic))
    app.reload()
    with serving(app) as base:
        yield base
    searcher.close()


def test_the_search_page_links_each_result_to_its_story_page(corpus, served):
    names = _names(corpus)
    r = httpx.get(served + "/search", params={"q": "lighthouse glacier"})
    assert r.status_code == 200 and r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.headers["cache-control"] == "no-store" and "default-src 'none'" in r.headers["content-security-policy"]
    page = lxml.html.fromstring(r.text)
    links = page.xpath("//ol[@class='results']/li/a[1]/@href")
    assert links == [f"stories/{names[i]}.html" for i in reversed(sorted(set(LIGHTHOUSE) & set(GLACIER)))]
    marks = [m.text_content().lower() for m in page.xpath("//ol[@class='results']//mark")]
    assert "lighthouse" in marks and "glacier" in marks
    assert page.xpath("//form[@class='search']/input[@name='q']/@value") == ["lighthouse glacier"]
    for href in links:  # each leads to its story page
        story = httpx.get(f"{served}/{href}")
        assert story.status_code == 200 and "glacier" in story.text
    # the next page, by its link
    first = lxml.html.fromstring(httpx.get(served + "/search?q=lighthouse").text)
    (older,) = first.xpath("//nav[@class='pages']/a[@rel='next']/@href")
    second = lxml.html.fromstring(httpx.get(f"{served}/{older}").text)
    assert [a for a in second.xpath("//ol[@class='results']/li/a[1]/@href")] == [
        f"stories/{names[i]}.html" for i in reversed(LIGHTHOUSE)][20:]
    assert second.xpath("//nav[@class='pages']/a[@rel='prev']/@href") == ["search?q=lighthouse"]


@pytest.mark.parametrize("text", HOSTILE[:-4] + ["<b>lighthouse</b>", '"><script>alert(1)</script>'],
                         ids=range(len(HOSTILE) - 2))
def test_a_hostile_query_gets_a_page_never_an_error_nor_markup(served, text):
    text = text.replace("\ud800", "\\ud800")  # (a lone surrogate cannot be sent: its escape can)
    target = "/search?q=" + quote(text.encode("utf-8", "surrogatepass"), safe="")
    status, headers, body = raw_request(served, target)
    if len(target) > 8 * 1024:
        assert status == 414  # the request target's limit: answered by the server
        return
    assert status == 200, (text, body[:300])
    page = lxml.html.fromstring(body)
    assert not page.xpath("//script") and not page.xpath("//main//b") and b"<script" not in body
    assert page.xpath("//form[@class='search']/input[@name='q']")  # the form, with what was typed


def test_hostile_query_strings_are_read_as_defaults(served):
    assert search_params(b"") == ("", 1, None)
    assert search_params(b"q=a+b&page=2&topic=ukraine") == ("a b", 2, "ukraine")
    assert search_params(b"page=x&q=%ff%fe") == ("\ufffd\ufffd", 1, None)
    assert search_params(b"page=" + b"9" * 5000) == ("", 1, None)
    assert search_params(b"&".join([b"x=1"] * 5000) + b"&q=late") == ("", 1, None)
    assert search_params(b"q=one&q=two") == ("one", 1, None)
    for target in ("/search?page=-1", "/search?page=99999999&q=report", "/search?q=%", "/search?q=%zz&&&=",
                   "/search?topic=nope&q=kyiv", "/search?topic=ukraine&q=lighthouse"):
        status, _, body = raw_request(served, target)
        assert status in (200, 404) and b"<form class=\"search\"" in body, (target, status)


def test_only_get_and_head_are_answered(served):
    get = raw_request(served, "/search?q=lighthouse")
    head = raw_request(served, "/search?q=lighthouse", method="HEAD")
    assert head[0] == 200 and head[2] == b"" and head[1]["content-length"] == get[1]["content-length"]
    for method in ("POST", "PUT", "DELETE"):
        assert raw_request(served, "/search?q=lighthouse", method=method)[0] == 405


def test_the_box_is_on_every_page_when_served_and_in_no_file(corpus, served):
    box = b'<form class="search" role="search" action="'
    name = next(iter(sorted((corpus.feeds / "stories").iterdir()))).name
    for path, action in (("/", b"search"), ("/ukraine/", b"../search"), (f"/stories/{name}", b"../search")):
        r = httpx.get(served + path)
        assert r.status_code == 200 and box + action + b'"' in r.content, path
        assert b"<!--search" not in r.content
        # the ETag is of the bytes served, and a gzip answer unzips to them
        assert httpx.get(served + path, headers={"If-None-Match": r.headers["etag"]}).status_code == 304
        zipped = httpx.get(served + path, headers={"Accept-Encoding": "gzip"})
        assert zipped.content == r.content and zipped.headers.get("content-encoding") == "gzip"
    for file in [corpus.feeds / "index.html", corpus.feeds / "ukraine" / "index.html", corpus.feeds / "stories" / name]:
        data = file.read_bytes()
        assert b"<!--search" in data and b"<form" not in data, file  # a static host shows no box
    plain = FeedServer(corpus.feeds)  # a server without search: no box, no /search
    plain.reload()
    with serving(plain) as base:
        assert b"<form" not in httpx.get(base + "/").content
        assert httpx.get(base + "/search?q=kyiv").status_code == 404


def test_a_publish_meanwhile_never_breaks_a_search(copy):
    """Searches in one thread while a publish of 100 new stories runs in another: every answer
    is a page of results, and the publish succeeds."""
    searcher = search.Searcher(copy.database)
    config = copy.config
    texts = stories_text(N + PER_FILE, seed=23)[N:]
    copy.add_source("more.txt", "\n\n".join(_text(i, t) for i, t in enumerate(texts)) + "\n")
    done = threading.Event()
    answers = []

    def searching():
        while not done.is_set():
            answers.append(search.answer(searcher, config, "lighthouse")[0])

    thread = threading.Thread(target=searching)
    thread.start()
    try:
        report = copy.publish(NOW + timedelta(hours=1))
    finally:
        done.set()
        thread.join(30)
        searcher.close()
    assert report.ok and report.sources[-1].new == PER_FILE
    assert answers and set(answers) == {200}
    assert len(_search(copy, "lighthouse", limit=100).found) == len(LIGHTHOUSE) + PER_FILE // 10


def test_publisher_run_answers_search_and_shows_the_box(running, tmp_path):
    from service_harness import write_atomically

    service = running()
    write_atomically(tmp_path / "sources" / "desk.txt", (REVISED + "\n").encode())
    service.wait_for({"ukraine": 1})
    r = service.get("/search", params={"q": "kherson convoy"})
    assert r.status_code == 200
    page = lxml.html.fromstring(r.text)
    (link,) = page.xpath("//ol[@class='results']/li/a[1]/@href")
    assert service.get(f"/{link}").status_code == 200
    assert [m.text_content() for m in page.xpath("//mark")][:2] in (["convoy", "Kherson"], ["Kherson", "convoy"])
    assert b'<form class="search" role="search" action="search"' in service.get("/").content
    assert service.get("/search", params={"q": "<script>"}).status_code == 200
    assert service.get("/healthz").status_code == 200


def test_a_story_in_no_topic_is_found_by_the_cli_without_a_link_and_not_on_the_site(copy):
    copy.add_source("garden.txt", "The town council of Millbrook approved a budget for three new zucchini "
                                  "gardens beside the library on Monday, its clerk said.\n")
    assert copy.publish(NOW + timedelta(hours=2)).ok
    found = _search(copy, "zucchini").found
    assert len(found) == 1 and found[0].topics == ()  # in the store's search, in no topic
    proc = run(copy, "search", "zucchini")
    assert proc.returncode == 0 and proc.stdout.splitlines()[-1] == "    (in no topic: no page)"
    assert not (copy.feeds / "stories" / f"{found[0].name}.html").exists()
    status, body = search.answer(search.Searcher(copy.database), copy.config, "zucchini")
    assert status == 200 and found[0].name.encode() not in body  # the site links only pages it has
    status, body = search.answer(search.Searcher(copy.database), copy.config, "lighthouse")
    assert status == 200 and body.count(b'href="stories/') >= 10  # the others are still found
