"""Story boundaries by recurrence: a paragraph that is the lede of a story seen before (stored,
or elsewhere in the same file) starts a story. Steps in tests/data/recurrence/cases.json;
the in-file cases are pairs in tests/data/wire/ (recur_*)."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta

import pytest

from conftest import DATA, NOW
from publisher import dedup
from publisher.sources import boundaries, wire
from publisher.sources.boundaries import Known

CASES = json.loads((DATA / "recurrence" / "cases.json").read_text())["cases"]


def stored_lines(project, name: str) -> list[list[int]]:
    """The stories the last read of `name` stored, as [first, last] lines."""
    db = sqlite3.connect(project.config.paths.database)
    try:
        return [list(r) for r in db.execute(
            """SELECT p.first_line, p.last_line FROM provenance p JOIN sources s ON s.id = p.source
               WHERE s.location = ? AND p.read = (SELECT max(read) FROM provenance WHERE source = s.id)
               ORDER BY p.first_line""", [name])]
    finally:
        db.close()


@pytest.mark.parametrize("name", list(CASES))
def test_files_published_in_order(project, name):
    for k, step in enumerate(CASES[name]):
        data = (DATA / "recurrence" / step["file"]).read_bytes()
        if "alone" in step:  # what the reader makes of it with nothing seen before
            assert [[s.first_line, s.last_line] for s in wire.read(data).stories] == step["alone"]
        project.add_source(step["file"], data)
        report = project.publish(NOW + timedelta(minutes=10 * k))
        rep = next(s for s in report.sources if s.name == step["file"])
        assert stored_lines(project, step["file"]) == step["stories"], step["file"]
        assert [rep.new, rep.revised, rep.duplicate] == step["counts"], step["file"]


def test_the_reader_is_given_what_was_seen_before_as_data():
    data = (DATA / "recurrence" / "grid_and_rail.txt").read_bytes()
    rail = (DATA / "recurrence" / "rail_alone.txt").read_text().splitlines()
    assert len(wire.read(data).stories) == 1
    known = Known((dedup.story_keys(rail),))
    assert [(s.first_line, s.last_line) for s in wire.read(data, known=known).stories] == [(1, 3), (4, 6)]
    _, gaps = wire.read_explained(data, known=known)
    placed = [g for g in gaps if g.placed]
    assert [g.line for g in placed] == [4] and placed[0].cues[0].startswith("recurs +")


def test_a_changed_figure_in_the_lede_still_recurs():
    lede = ("Rail traffic between Kharkiv and the Black Sea port of Odesa was suspended for several hours after "
            "a drone damaged an overhead line near Poltava, Ukrzaliznytsia said.")
    update = lede.replace("several hours", "six hours").replace("Poltava", "Myrhorod")
    assert dedup.paragraph_keys(lede) & dedup.paragraph_keys(update)
    assert not dedup.paragraph_keys(lede) & dedup.paragraph_keys(
        "Passengers on three overnight trains were moved to buses, and the national rail operator said repair "
        "teams had begun work as soon as the air raid alert ended.")
    short = "Kyiv, Ukraine."  # too short for band keys: only an exact copy meets it
    assert dedup.paragraph_keys(short) == dedup.paragraph_keys("KYIV,  Ukraine.")
    assert not dedup.paragraph_keys(short) & dedup.paragraph_keys("Kyiv, Ukraine!?")


def test_a_paragraph_of_the_known_story_before_its_lede_is_no_boundary():
    a, b, c = (dedup.paragraph_keys(p) for p in (
        "Ships of the coast guard escorted two fishing boats back to port on Monday after they strayed into waters "
        "off Kinmen, officials said.",
        "The boats were towed into Liaoluo Bay before dawn and their crews questioned for several hours by officers "
        "of the coast guard administration.",
        "An unrelated paragraph about the weather in Tainan which has nothing whatever to do with fishing boats or "
        "with the coast guard at all."))
    story = Known(((b, a),))  # b is its lede, a comes after it
    index = boundaries._lede_index(story)
    assert boundaries.recurs([a, b], 1, story, index) == 0.0  # a is that story's own text
    assert boundaries.recurs([c, b], 1, story, index) == 1.0
    assert boundaries.recurs([c, a], 1, story, index) == 0.0  # a is no lede


def test_seed_is_unchanged_when_its_own_stories_are_known(seed):
    before = wire.read(seed).stories
    known = Known(tuple(dedup.story_keys(s.paragraphs, s.kicker) for s in before))
    assert wire.read(seed, known=known).stories == before


@pytest.mark.parametrize("name", list(CASES))
def test_classify_predicts_the_stories_publish_then_stores(project, name):
    """`classify` is the dry run of a publish: given the store's ledes as ingest is, it shows
    the very stories the publish after it stores (a file run together with a story stored
    before is split where that story's lede recurs)."""
    from publisher.stories import classify_file

    for k, step in enumerate(CASES[name]):
        path = project.add_source(step["file"], (DATA / "recurrence" / step["file"]).read_bytes())
        run = classify_file(project.config, path)
        assert [[s.first_line, s.last_line] for s, _ in run.stories] == step["stories"], step["file"]
        project.publish(NOW + timedelta(minutes=10 * k))
        assert stored_lines(project, step["file"]) == step["stories"], step["file"]
