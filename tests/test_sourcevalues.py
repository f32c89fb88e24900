"""Values copied from other people's feeds: made canonical and valid, or dropped (render.sourcevalues);
then each bad case of tests/data/feeds/source-*.* published through the real pipeline, checked
with the W3C validator and read with `reader` as a subscriber would."""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import sys

import pytest
from conftest import DATA, ROOT, VALIDATOR

from publisher.render.sourcevalues import canonical_url, minted_id, source_id, valid_id


@pytest.mark.parametrize(("url", "expected"), [
    ("https://news.example/a/b?c=d#e", "https://news.example/a/b?c=d#e"),  # already canonical
    ("http://example.com", "http://example.com/"),  # an empty path is "/"
    ("HTTP://Example.COM:80/a/./b/../c", "http://example.com/a/c"),  # case, default port, dot segments
    ("https://example.com:443/", "https://example.com/"),
    ("https://example.com:8443/x", "https://example.com:8443/x"),  # another port stays
    ("http://example.com./x", "http://example.com/x"),  # the root's dot
    ("http://user:secret@example.com/x", "http://example.com/x"),  # no credentials copied
    ("http://example.com/%7euser/%41%2f", "http://example.com/~user/A%2F"),  # escapes: unreserved decoded, upper-case
    ("https://bücher.example/straße?q=ü", "https://xn--bcher-kva.example/stra%C3%9Fe?q=%C3%BC"),  # IRI -> URI
    ("http://example.com/a b", None),  # a space: not a URL (browsers would mend it: we do not guess)
    ("http://example.com/[x]", "http://example.com/%5Bx%5D"),
    ("http://example.com/100%", "http://example.com/100%25"),  # a lone "%"
    ("http://example.com/%ff", None),  # escapes that are not UTF-8
    ("http://example.com:99999/", None), ("http://example.com:x/", None),  # bad ports
    ("http://[::1]/", None), ("http://[x", None), ("//[x", None),  # IP literals, broken brackets
    ("javascript:alert(1)", None), ("JavaScript:alert(1)", None), ("data:text/html,<script>", None),
    ("java\tscript:alert(1)", None), ("mailto:desk@example.com", None), ("ftp://example.com/", None),
    ("/relative/path", None), ("feeds/x.xml", None), ("", None), (None, None),
    ("http:///nohost", None), ("http://exa_mple..com/", None),
])
def test_canonical_url(url, expected):
    assert canonical_url(url) == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a", "urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a"),
    ("URN:UUID:1225C695-CFB8-4EBB-AAAA-80DA344EFA6A", "urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a"),
    ("urn:uuid:1225c695-not-a-uuid", None),
    ("urn:isbn:0451450523", "urn:isbn:0451450523"),
    ("urn:x", None),  # no namespace-specific string
    ("tag:example.org,2003:3.2397", "tag:example.org,2003:3.2397"),
    ("tag:Example.org:3", None),  # no date
    ("HTTP://Example.COM:80", "http://example.com/"),
    ("javascript:alert(1)", None), ("data:,x", None), ("feeds/x.xml", None), ("", None), ("plain words", None),
])
def test_valid_id(value, expected):
    assert valid_id(value) == expected


def test_source_id_is_the_feeds_own_when_valid_else_minted_stably():
    assert source_id("tag:example.org,2003:feed") == "tag:example.org,2003:feed"
    minted = source_id("javascript:alert(1)")
    assert minted.startswith("urn:uuid:") and valid_id(minted) == minted
    assert source_id("javascript:alert(1)") == minted != source_id("javascript:alert(2)")  # stable, distinct
    assert source_id("", "feeds/x.xml") == minted_id("feeds/x.xml")


# -- through the pipeline ----------------------------------------------------------------------

# every story with a word in it (the merged feed holds the stories of the topics)
CATCH_ALL = ('\n[[topics]]\nslug = "everything"\ntitle = "Everything"\nthreshold = 0.5\nrules = [{ weight = 1, '
             'terms = [' + ", ".join(f'"{c}*"' for c in "abcdefghijklmnopqrstuvwxyz") + "] }]\n")


@pytest.fixture
def project(project):
    with project.config_path.open("a") as config:
        config.write(CATCH_ALL)
    return project


def publish_alone(project, name: str):
    shutil.copy(DATA / "feeds" / name, project.sources / name)
    report = project.publish()
    assert [s.outcome for s in report.sources] == ["new"], report.problems()
    return report


def assert_valid(project) -> None:
    if not VALIDATOR.exists():
        pytest.skip(f"W3C validator not found at {VALIDATOR}")
    proc = subprocess.run([str(VALIDATOR), "--base", "http://127.0.0.1:8080/", str(project.feeds)],
                          capture_output=True, text=True, env=dict(os.environ, PYTHON=sys.executable), timeout=300)
    out = proc.stdout + proc.stderr
    files = out.count("=== ")
    assert proc.returncode == 0 and files >= 12, out  # Atom, RSS and JSON of all, ukraine, taiwan, everything
    assert out.count("-> valid (0 errors, 0 warnings)") == files, out


def subscribed(project, slug: str = "all"):
    """The entries of a feed as `reader` gives them to a subscriber (Atom and RSS)."""
    from reader import make_reader

    got = {}
    for name in ("atom.xml", "rss.xml"):
        reader = make_reader(":memory:", feed_root=str(project.feeds))
        try:
            url = f"{slug}/{name}"  # a path under feed_root
            reader.add_feed(url)
            reader.update_feeds(scheduled=False)
            assert reader.get_feed(url).last_exception is None
            got[name] = list(reader.get_entries(feed=url))
        finally:
            reader.close()
    return got


def only_entry(project, title: str, link: str | None = None):
    """The one entry both feeds give, linked to `link` (the original article, written canonical)
    or, with none, to its story page."""
    got = subscribed(project)
    for name, entries in got.items():
        assert [e.title for e in entries] == [title], name
        (e,) = entries
        if link is None:
            assert e.link and e.link.startswith("http://127.0.0.1:8080/stories/"), name
        else:
            assert e.link == link, name
    return got["atom.xml"][0], got["rss.xml"][0]


def text_of(entry) -> str:
    return " ".join(c.value for c in entry.content) + (entry.summary or "")


def test_a_malformed_urn_uuid_feed_id_is_replaced_by_a_minted_one(project):
    publish_alone(project, "source-bad-uuid.atom")
    atom = (project.feeds / "all" / "atom.xml").read_text()
    assert "not-a-uuid" not in atom
    assert f"<id>{minted_id('urn:uuid:60a76c80-d399-11d9-b93C-0003939e0af6-not-a-uuid')}</id>" in atom
    assert_valid(project)
    entry, _ = only_entry(project, "Kyiv reopens the river crossing",
                          "https://dnipro-post.example/2026/11/crossing")
    assert "river crossing on Monday" in text_of(entry)


def test_an_iri_host_is_punycoded_and_its_path_percent_encoded(project):
    publish_alone(project, "source-iri-host.rss")
    rss = (project.feeds / "all" / "rss.xml").read_text()
    atom = (project.feeds / "all" / "atom.xml").read_text()
    assert 'url="http://xn--bcher-kva.example/stra%C3%9Fe/nachrichten"' in rss  # RSS <source url>
    assert 'href="http://xn--bcher-kva.example/stra%C3%9Fe/kyiv-messe?seite=%C3%BC"' in atom  # the entry's link
    assert "bücher.example" not in rss + atom
    assert_valid(project)
    entry, _ = only_entry(project, "Kyiv book fair opens despite the sirens",
                          "http://xn--bcher-kva.example/stra%C3%9Fe/kyiv-messe?seite=%C3%BC")
    assert "opened on Saturday" in text_of(entry)


def test_javascript_and_data_ids_and_links_are_never_copied(project):
    publish_alone(project, "source-javascript-id.atom")
    for path, data in project.site_bytes().items():
        assert b"javascript:" not in data and b"data:text" not in data, path
    assert_valid(project)
    entry, _ = only_entry(project, "Odesa port handles a record grain month")
    assert "record month of grain" in text_of(entry)


def test_a_non_canonical_source_id_and_links_are_written_canonical(project):
    publish_alone(project, "source-noncanonical.atom")
    atom = (project.feeds / "all" / "atom.xml").read_text()
    assert "<id>http://news.example.org/feeds/kyiv</id>" in atom
    assert 'href="http://news.example.org/2026/~updates/metro"' in atom and 'href="https://news.example.org/"' in atom
    assert_valid(project)
    entry, _ = only_entry(project, "Kyiv metro stations shelter thousands overnight",
                          "http://news.example.org/2026/~updates/metro")
    assert "missile attack" in text_of(entry)


def test_an_entry_from_a_feed_without_an_id_gets_a_stable_source_id(project, tmp_path):
    publish_alone(project, "source-no-id.rss")
    atom = (project.feeds / "all" / "atom.xml").read_text()
    ids = [line.strip() for line in atom.splitlines() if "<id>urn:uuid:" in line]
    assert len(ids) == 1  # the entry's atom:source has an id
    assert_valid(project)
    entry, _ = only_entry(project, "Kharkiv schools move lessons underground")
    assert "underground classrooms" in text_of(entry)
    project.publish()  # and the next publish writes the same id
    assert (project.feeds / "all" / "atom.xml").read_text() == atom


def test_a_link_urllib_cannot_split_is_dropped_with_one_warning_naming_the_file_and_no_traceback(project):
    shutil.copy(DATA / "feeds" / "source-bad-link.rss", project.sources / "source-bad-link.rss")
    proc = subprocess.run([sys.executable, "-m", "publisher.cli", "--config", str(project.config_path), "publish"],
                          capture_output=True, text=True, timeout=120, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if "source-bad-link.rss" in line]
    assert lines == ["source-bad-link.rss: warning: 1 link(s) dropped, not URLs (e.g. '//[x')"], proc.stderr
    assert_valid(project)
    entry, _ = only_entry(project, "Sumy restores power after a drone attack",
                          "https://sumy-bulletin.example/power")
    assert "Power was restored in Sumy" in text_of(entry) and "[x" not in text_of(entry)


def test_text_that_reads_as_a_character_reference_is_written_as_escaped_html_and_read_as_it_came(project):
    # a title holding "&amp;" as text, a text holding "&#38;": undeclared HTML to the validator
    # when written as plain text (ContainsUndeclaredHTML); "AT&T" reads as no reference
    publish_alone(project, "source-entity-text.atom")
    atom = (project.feeds / "all" / "atom.xml").read_text()
    assert '<title type="html">Kyiv &amp;amp;amp; Lviv' in atom
    assert_valid(project)
    got = subscribed(project)
    (a,), (r,) = got["atom.xml"], got["rss.xml"]
    title = "Kyiv &amp; Lviv share spare transformers"
    assert html.unescape(a.title) == title  # an HTML title (feedparser hands HTML over as it is)
    assert r.title == title  # RSS: text
    assert a.link == r.link == "https://lviv-grid.example/share"
    for entry in (a, r):
        shown = html.unescape(re.sub(r"<[^>]+>", "", text_of(entry)))
        assert "transformers &#38; repair crews" in shown and "AT&T was not involved" in shown
