"""The cues of sources/boundaries.py, each a small pure function, and what they add up to."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from conftest import CONFIG
from publisher import config
from publisher.classify import topic_scorer
from publisher.sources import boundaries, wire

_KNOWN_SPLIT = {  # a known miss, kept in view: fixing it must make this test pass (strict)
    "w02_powerplant.txt": "split at lines 10 and 11: a grid official's day-stated paragraph, then the Kremlin's reply"}
WHOLE = [pytest.param(p, id=p.name, marks=[pytest.mark.xfail(strict=True, reason=_KNOWN_SPLIT[p.name])]
                      if p.name in _KNOWN_SPLIT else [])
         for p in sorted((Path(__file__).parent / "data" / "understanding-whole").glob("*.txt"))]


def test_stems_fold_inflections_and_drop_stop_words():
    assert boundaries.stems("The drills were drilled by the drillers") == frozenset({"drill"})
    assert boundaries.stems("He said it was") == frozenset()


def test_a_word_in_every_paragraph_ties_nothing_and_a_rare_one_ties():
    idf = {"taiwan": 0.0, "hai": math.log(3)}.get
    assert boundaries.link(frozenset({"taiwan"}), frozenset({"taiwan"}), idf) == 0.0
    assert boundaries.link(frozenset({"taiwan", "hai"}), frozenset({"hai"}), idf) > 0.5


def test_links_across_a_gap_between_two_stories_are_weaker_than_inside_them():
    run = ["The navy's submarine Hai Kun missed its deadline after propulsion faults, CSBC said on Monday.",
           "CSBC faces a fine over the Hai Kun delay, the shipbuilder said.",
           "Kherson's riverfront is empty as drones chase cars along the Dnipro.",
           "In Kherson, nets now hang over roads to stop the drones."]
    read = [boundaries._read(p) for p in run]
    before, after, across, inside = boundaries.links_across(boundaries.Ties(read), 2, len(run))
    assert after > 0 and inside > across


@pytest.mark.parametrize(("before", "paragraph", "same"), [
    (["Troops withdrew on Tuesday, the army said."], "The ministry said on Tuesday that more would follow.", True),
    (["Troops withdrew on Tuesday, the army said."], "Typhoon Kong-rey made landfall on Thursday.", False),
    (["Troops withdrew on Tuesday."], "The ministry said more would follow.", False),  # no day named
])
def test_same_day(before, paragraph, same):
    assert boundaries.same_day(before, paragraph) is same


def test_lede_shape_cues():
    assert boundaries.opens_indefinite("A documentary about the siege won the prize.")
    assert not boundaries.opens_indefinite("Analysts said the prize mattered.")
    assert boundaries.says_when("Russian drones struck a substation overnight, the governor said. More later.")
    assert boundaries.says_when("Air raid sirens wailed this afternoon as drills began.")
    assert not boundaries.says_when("The jury praised the film.")
    assert boundaries.first_sentence_length("One two three. Four five.") == pytest.approx(3 / 45)


def test_two_articles_back_to_back_with_nothing_between_them_are_split():
    text = "\n".join([
        "Taiwan's coast guard expelled four Chinese coast guard ships from restricted waters off Kinmen on Wednesday, "
        "the Ocean Affairs Council said, the fifth such incursion this month.",
        "The ships entered the waters shortly after dawn and left after being shadowed for three hours by patrol boats.",
        "Council officials said Beijing appeared to be testing the limits of Kinmen's patrol zone.",
        "A Ukrainian tennis player from Odesa has won her first title of the season at a tournament in Linz, "
        "beating the top seed in straight sets on Sunday.",
        "The 22-year-old dropped only nine games all week and will rise to 31st in the rankings.",
        "Her coach said the win would help her qualify for the season finals in Riyadh.",
    ])
    stories = wire.segment(text)
    assert [s.first_line for s in stories] == [1, 4]


@pytest.mark.parametrize("path", WHOLE)
def test_a_long_agency_article_whose_paragraphs_read_as_ledes_stays_one_story(path):
    scorer = topic_scorer(config.load(CONFIG).topics)  # as ingest reads: with the topics' scores
    assert len(wire.read(path.read_bytes(), scorer).stories) == 1


def test_the_paragraphs_after_a_story_start_belong_with_it():
    run = ["The navy's submarine Hai Kun missed its delivery deadline after propulsion faults, CSBC said.",
           "CSBC faces a fine over the Hai Kun delay.",
           "Kherson's riverfront is empty as drones chase cars along the Dnipro.",
           "In Kherson, nets now hang over roads against the drones.",
           "Drones launched from across the Dnipro have killed 180 people in Kherson."]
    ties = boundaries.Ties([boundaries._read(p) for p in run])
    assert boundaries.owners(ties, 2, len(run)) == 1.0  # both paragraphs after the Kherson lede tie to it
    assert boundaries.owners(ties, 3, len(run)) == 0.0  # the last ties back past the gap, to the lede
    assert boundaries.fresh_forward(ties, 2, len(run)) > boundaries.fresh_forward(ties, 3, len(run)) == 0.0
