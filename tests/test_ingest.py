"""ingest.py: the [limits] caps as a newsroom meets them: real files in sources/, a real SQLite
store, the `publisher` command in a subprocess for what a user reads (warnings, status)."""

from __future__ import annotations

import json
import os
import re
from datetime import timedelta

import pytest

from conftest import NOW
from corpus import stories_text
from publisher.status import status
from test_cli import run

LEDE = ("Ukraine's energy ministry in Kyiv said on Monday that repair crews restored power to the eastern "
        "districts of Kharkiv after a Russian drone attack on a substation overnight.")
BODY = ["Engineers worked through the night in freezing weather to reconnect hospitals and schools, the "
        "ministry said, and most homes had heating again by the morning.",
        "The regional governor said air defence units shot down most of the drones, but debris damaged two "
        "apartment blocks and a rail depot on the edge of the city.",
        "Ukrenergo, the national grid operator, said scheduled power cuts would continue in several regions "
        "while damaged equipment is replaced."]


def set_limits(project, text: str) -> None:
    """The project's config with this [limits] table (the shipped config has none)."""
    config = re.sub(r"(?s)\n\[limits\].*", "", project.config_path.read_text())
    project.config_path.write_text(config + f"\n[limits]\n{text}\n")


def touch(path, seconds: int) -> None:
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + seconds * 10**9))


def test_stories_past_a_cap_warn_naming_file_and_cap_status_counts_them_and_a_raised_cap_reads_them(project):
    path = project.add_source("big.txt", "\n\n".join(stories_text(8)) + "\n")
    set_limits(project, "stories_per_file = 3")
    proc = run(project, "publish")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines() == [
        "big.txt: warning: about 8 stories; the first 3 read, to line 6 (limits.stories_per_file)"]
    data = json.loads(run(project, "status", "--json").stdout)
    assert data["past_caps"] == 5
    assert [(s["path"], s["stories"], s["past_caps"]) for s in data["sources"]] == [("big.txt", 3, 5)]
    assert "big.txt  3 stories (3 new, 0 revised, 0 duplicate), 5 past a cap" in run(project, "status").stdout

    # touched, with the same cap: read again, the same three stories
    touch(path, 1)
    assert "3 stories (0 new, 0 revised, 3 duplicate)" in run(project, "publish").stdout
    # the cap raised and the file touched: the rest is read
    set_limits(project, "stories_per_file = 100")
    touch(path, 2)
    proc = run(project, "publish")
    assert proc.stderr == "" and "8 stories (5 new, 0 revised, 3 duplicate)" in proc.stdout
    assert status(project.config, NOW)["past_caps"] == 0
    # and once read whole, a touch is nothing new (the same bytes: not read again)
    touch(path, 3)
    assert "0 stories" in run(project, "publish").stdout


def test_a_story_cut_at_its_paragraph_cap_is_read_whole_once_the_cap_is_raised(project):
    path = project.add_source("long.txt", "\n".join([LEDE, *BODY]) + "\n")
    set_limits(project, "paragraphs_per_story = 2")
    report = project.publish()
    assert report.problems() == ["long.txt: warning: line 1: a story of 4 paragraphs; the first 2 read "
                                 "(limits.paragraphs_per_story)"]
    page = next((project.feeds / "stories").glob("*.html")).read_text()
    assert BODY[0].split(",")[0] in page and BODY[1].split(",")[0] not in page
    set_limits(project, "paragraphs_per_story = 500")
    touch(path, 1)
    report = project.publish(NOW + timedelta(hours=1))
    assert report.problems() == [] and report.sources[0].revised == 1  # the whole text: a fuller version
    assert BODY[2] in next((project.feeds / "stories").glob("*.html")).read_text()


def test_a_story_page_shows_at_most_its_cap_of_versions_and_says_how_many_more(project):
    set_limits(project, "versions_per_story = 3")
    path = project.sources / "desk.txt"
    for k in range(5):  # five revisions of one story: the lede's figure changes each time
        path.write_text("\n".join([LEDE.replace("overnight", f"overnight, hitting {k + 2} sites"), *BODY]) + "\n")
        touch(path, k)
        report = project.publish(NOW + timedelta(hours=k))
        assert report.sources[0].new + report.sources[0].revised == 1
    assert report.problems() == [
        "desk.txt: warning: line 1: “Ukraine's energy ministry in Kyiv said on Monday that repair crews restored "
        "power to the eastern districts of Kharkiv after a Russian drone…” has 5 versions; its page shows the "
        "newest 3 (limits.versions_per_story)"]
    (page,) = (project.feeds / "stories").glob("*.html")
    html = page.read_text()
    assert "5 versions; the newest 3 are shown" in html
    assert [int(n) for n in re.findall(r"<h3>Version (\d+) ", html)] == [3, 4, 5]
    assert "hitting 2 sites" not in html and "hitting 6 sites" in html
    assert html.count("<li><code>desk.txt</code>") == 3 and "… and 2 earlier arrivals, not shown." in html
    assert status(project.config, NOW)["versions_not_shown"] == 1
    # the cap raised: the pages are written again and show them all
    set_limits(project, "versions_per_story = 50")
    project.publish(NOW + timedelta(hours=9))
    html = page.read_text()
    assert "<p class=\"meta\">5 versions. Each" in html and "earlier arrivals" not in html
    assert [int(n) for n in re.findall(r"<h3>Version (\d+) ", html)] == [1, 2, 3, 4, 5]
    assert status(project.config, NOW)["versions_not_shown"] == 0


def test_a_file_over_the_size_cap_is_skipped_naming_the_cap(project):
    project.add_source("huge.txt", "\n\n".join(stories_text(4)) + "\n")
    set_limits(project, "bytes_per_file = 100")
    (line,) = project.publish().problems()
    assert re.fullmatch(r"huge\.txt: skipped: too large \(828 bytes; the limit is 100: limits\.bytes_per_file\)", line)


def test_a_file_dated_past_the_year_2262_is_published_and_then_unchanged(project):
    """Its modification time in ns does not fit SQLite's 64-bit integer: stored clamped, so the
    file is read (not 'cannot store: OverflowError' on every publish) and then left alone."""
    import os

    path = project.add_source("far.txt", "Taiwan's coast guard said on Monday it had tracked four Chinese ships near Kinmen.\n")
    far = 10**19  # 2286-11-20, in ns since the epoch
    try:
        os.utime(path, ns=(far, far))
    except (OverflowError, OSError) as exc:
        pytest.skip(f"this filesystem cannot date a file in 2286: {exc}")
    first = project.publish()
    assert first.ok and [(s.name, s.outcome, s.new) for s in first.sources] == [("far.txt", "new", 1)]
    second = project.publish(NOW + timedelta(minutes=10))
    assert second.ok and [(s.name, s.outcome) for s in second.sources] == [("far.txt", "unchanged")]
