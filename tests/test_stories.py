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


MERGED = """Russia launched 40 drones and four missiles at Ukraine overnight, Ukraine's air force said on Tuesday.
Air defence units shot down 35 of the drones and all four missiles over the Kyiv and Odesa regions.
One person was killed and six injured when debris hit apartment blocks in Kyiv, officials said.
Ukraine's energy ministry said the attacks had damaged power facilities in the Odesa region.
Repair crews restored power to most of the 60,000 households cut off, the ministry said.
Officials in Kyiv urged residents to limit electricity use in the evening peak hours.
"""
ALONE_LATER = """Ukraine's energy ministry said the attacks had damaged power facilities in the Odesa region.
Repair crews restored power to all of the 60,000 households cut off, the ministry said on Wednesday.
Officials in Kyiv urged residents to limit electricity use in the evening peak hours.
"""


def test_reread_moves_a_later_update_of_the_part_split_off_to_its_new_entry(project):
    """Two stories read as one (E); a day later the second comes alone, updated, and is filed
    under E as a shorter text of it. `reread` of the first file splits E where that update's
    lede recurs: the update moves with the part split off and is what its new entry shows
    (before, it stayed a hidden version of E and the new entry showed the older wording)."""
    project.add_source("2026-11-24_a.txt", MERGED)
    project.publish(NOW)
    (merged,) = feed(project).entries
    project.add_source("2026-11-25_b.txt", ALONE_LATER)
    report = project.publish(NOW + timedelta(hours=1))
    assert [(s.new, s.duplicate) for s in report.sources if s.name == "2026-11-25_b.txt"] == [(0, 1)]
    report = stories.reread(project.config, "2026-11-24_a.txt", LATER)
    assert (report.stories, report.new, report.revised) == (2, 1, 1)
    entries = {e.id: e for e in feed(project).entries}
    assert len(entries) == 2 and entries[merged.id].title.startswith("Russia launched 40 drones")
    (energy,) = [e for i, e in entries.items() if i != merged.id]
    assert "all of the 60,000" in energy.content[0].value and "most of" not in energy.content[0].value
    assert "60,000" not in entries[merged.id].content[0].value
    history = stories.explain(project.config, energy.id, LATER).history
    assert [v["current"] for v in history["versions"]] == [True, False]  # the update, then the part of the file
    assert {a["path"] for v in history["versions"] for a in v["arrivals"]} == {"2026-11-24_a.txt", "2026-11-25_b.txt"}
    arrivals = {a["path"]: a["decision"] for v in history["versions"] for a in v["arrivals"]}
    assert arrivals["2026-11-24_a.txt"] == "older"  # the file's own part: history, never published


def test_after_a_reread_moves_a_feed_items_text_the_items_next_text_revises_its_new_entry(project, httpserver):
    """The update came from a feed's item: once reread moved it to the new entry, the item's
    next text revises that entry (not the old merge, which would lose its own story)."""
    from test_publish_feeds import rss, with_feeds

    project.add_source("2026-11-24_a.txt", MERGED)
    project.publish(NOW)
    (merged,) = feed(project).entries
    paragraphs = ALONE_LATER.strip().split("\n")
    httpserver.expect_oneshot_request("/f.xml").respond_with_data(rss([("e1", "Power", paragraphs)]))
    again = [p.replace("all of the 60,000", "all 60,000") + (" Crews worked through the night." if i == 1 else "")
             for i, p in enumerate(paragraphs)]
    httpserver.expect_request("/f.xml").respond_with_data(rss([("e1", "Power", again)]))
    with_feeds(project, httpserver.url_for("/f.xml"))
    project.publish(NOW + timedelta(hours=1))
    stories.reread(project.config, "2026-11-24_a.txt", LATER)
    project.publish(LATER + timedelta(days=1))  # the feed is due again: its item's new text
    entries = {e.id: e for e in feed(project).entries}
    assert len(entries) == 2 and entries[merged.id].title.startswith("Russia launched 40 drones")
    (energy,) = [e for i, e in entries.items() if i != merged.id]
    assert "Crews worked through the night" in energy.content[0].value
