"""Use cases about single stories: `reread` (an old merge split with today's rules) and the
`classify` dry run showing where it split and its near misses."""

from __future__ import annotations

from datetime import timedelta

from conftest import NOW
from publisher import stories
from publisher.sources import boundaries
from publisher.status import status
from test_near_duplicates import KYIV, MND, feed, lines

LATER = NOW + timedelta(hours=3)


def test_reread_splits_an_old_merge_the_first_part_keeping_its_entry(project, monkeypatch):
    project.add_source("day.txt", lines(*MND[:4], *KYIV))  # two articles back to back
    monkeypatch.setattr(boundaries, "THRESHOLD", 1e9)  # the rules of before: no split inside a run
    project.publish()
    (merged,) = feed(project).entries
    monkeypatch.undo()
    report = stories.reread(project.config, "day.txt", LATER)
    assert (report.stories, report.new, report.revised) == (2, 1, 1)
    entries = {e.id: e for e in feed(project).entries}
    assert len(entries) == 2 and merged.id in entries  # the first part keeps the id
    assert entries[merged.id].title.startswith("Taiwan's")
    (other,) = [e for i, e in entries.items() if i != merged.id]
    assert other.title.startswith("Kyiv's")
    # reading it again changes nothing more: no read, no arrival, the file's line in status stays
    before = status(project.config, LATER)
    again = stories.reread(project.config, "day.txt", LATER + timedelta(hours=1))
    assert again.outcome == "unchanged" and again.stories == 0
    after = status(project.config, LATER)
    assert after["sources"] == before["sources"] and after["entries"] == 2
    assert before["sources"][0]["new"] == 1 and before["sources"][0]["revised"] == 1
    assert before["service"]["last_run_summary"].startswith("reread day.txt: 2 stories placed again")


def test_reread_of_a_file_never_read_is_one_clear_error(project):
    import pytest

    from publisher.errors import UnknownStory

    project.add_source("a.txt", lines(*MND))
    project.publish()
    project.add_source("b.txt", lines(*KYIV))
    with pytest.raises(UnknownStory, match="never read"):
        stories.reread(project.config, "b.txt", LATER)
    with pytest.raises(UnknownStory, match="not a file"):
        stories.reread(project.config, "nope.txt", LATER)


def test_classify_shows_each_split_with_its_cues_and_the_near_misses(project, tmp_path):
    path = tmp_path / "day.txt"
    path.write_text(lines(*MND[:4], *KYIV))
    run = stories.classify_file(project.config, path)
    assert [s.title.split(" ")[0] for s, _ in run.stories] == ["Taiwan's", "Kyiv's"]
    (split,) = run.boundaries
    assert split.line == 5 and split.score >= boundaries.THRESHOLD and split.cues
    assert run.near_misses and all(b.score < boundaries.THRESHOLD for b in run.near_misses)


def test_a_text_that_differs_only_by_what_the_rules_now_leave_out_is_a_copy(project, monkeypatch):
    from publisher.sources import wire

    day = lines(*KYIV, "By Olena Marchuk, Kyiv desk", *MND[:4])
    project.add_source("day.txt", day)
    monkeypatch.setattr(wire, "is_byline", lambda line: False)  # the rules of before: the byline was text
    project.publish()
    (kyiv,) = [e for e in feed(project).entries if e.title.startswith("Kyiv's")]
    monkeypatch.undo()
    project.add_source("day.txt", day.replace("\n", "\r\n"))  # re-saved: read again, with today's rules
    report = project.publish(LATER)
    (again,) = [e for e in feed(project).entries if e.title.startswith("Kyiv's")]
    assert again.id == kyiv.id and again.updated == kyiv.updated  # a copy: its dates kept
    assert report.sources[0].revised == 0
