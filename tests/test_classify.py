"""Topic rules: story/expected-topics pairs in tests/data/classify/ under the shipped config,
and each scoring rule on its own."""

from __future__ import annotations

import json

import pytest

from conftest import CONFIG, DATA
from publisher import config as config_mod
from publisher.classify import MAX_HITS_PER_TERM, classify, classify_story, rules_digest, score
from publisher.model import Rule, Topic
from publisher.sources import wire

SHIPPED = config_mod.load(CONFIG)
CASES = sorted((DATA / "classify").glob("*.txt"))


def accepted(text, topics=SHIPPED.topics) -> list[str]:
    """The topics a text (or a Story, read by its parts: kicker, lede, body) is in."""
    if isinstance(text, str):
        return [m.slug for m in classify(topics, text) if m.accepted]
    return [m.slug for m in classify_story(topics, text.kicker, text.paragraphs) if m.accepted]


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_shipped_rules_sort_stories_as_expected(case):
    (story,) = wire.read(case.read_bytes()).stories
    expected = json.loads(case.with_suffix(".json").read_text())["topics"]
    assert accepted(story) == expected


def test_seed_is_one_ukraine_and_four_taiwan_security_stories(seed):
    stories = wire.read(seed).stories
    assert [accepted(s) for s in stories] == [["ukraine"]] + [["taiwan-security"]] * 4


def topic(*rules: Rule, threshold: float = 1, require=(), exclude=()) -> Topic:
    return Topic(slug="t", title="T", threshold=threshold, rules=rules, require=tuple(require), exclude=tuple(exclude))


def test_terms_match_whole_words_case_and_quote_insensitively():
    t = topic(Rule(1, ("taiwan's", "pla")))
    assert score(t, "TAIWAN’S navy and the PLA").matched == (("taiwan's", 1), ("pla", 1))
    assert score(t, "a plan to explain").score == 0


def test_wildcard_matches_word_starts():
    t = topic(Rule(2, ("ukrain*",)))
    m = score(t, "Ukraine and Ukrainian troops; not Pro-ukrainian? yes, that too")
    assert m.matched == (("ukrain*", 3),)


def test_phrases_match_across_whitespace_and_longest_term_wins():
    t = topic(Rule(3, ("taiwan strait",)), Rule(1, ("taiwan",)))
    m = score(t, "ships in the Taiwan\n  Strait near Taiwan")
    assert m.matched == (("taiwan strait", 1), ("taiwan", 1))
    assert m.score == 4


def test_each_term_counts_at_most_max_hits():
    t = topic(Rule(1, ("war",)))
    assert score(t, "war " * 10).score == MAX_HITS_PER_TERM


def test_threshold_is_inclusive():
    t = topic(Rule(2, ("drone",)), threshold=4)
    assert not score(t, "a drone").accepted
    assert score(t, "a drone, another drone").accepted


def test_a_required_term_must_occur():
    t = topic(Rule(5, ("missile*",)), require=("taiwan",))
    assert score(t, "missiles").missing_required and not score(t, "missiles").accepted
    assert score(t, "missiles near Taiwan").accepted


def test_an_excluded_term_vetoes_any_score():
    t = topic(Rule(5, ("taiwan",)), exclude=("baseball",))
    m = score(t, "Taiwan won the baseball final")
    assert m.excluded_by == "baseball" and not m.accepted


def test_a_story_can_be_in_several_topics():
    a = Topic("a", "A", 1, (Rule(1, ("kyiv",)),))
    b = Topic("b", "B", 1, (Rule(1, ("taipei",)),))
    assert accepted("Kyiv and Taipei", (a, b)) == ["a", "b"]


def test_rules_digest_changes_with_any_rule_and_only_then():
    base = SHIPPED.topics
    assert rules_digest(base) == rules_digest(config_mod.load(CONFIG).topics)
    changed = (base[0].__class__(**{**{f: getattr(base[0], f) for f in base[0].__slots__}, "threshold": 99}),) + base[1:]
    assert rules_digest(changed) != rules_digest(base)


# -- where a term occurs, terms against a topic, density ----------------------------------------


WAR = Topic(slug="war", title="War", threshold=4, rules=(Rule(3, ("drone*",)), Rule(-2, ("match", "goal*"))))
STORY = ("Drones hit the port overnight, officials said.", "Repairs began on Monday.",
         "A football match was called off after a drone was seen near the stadium.")


def test_a_negative_weight_counts_against_the_topic_and_says_so():
    (m,) = classify_story((WAR,), None, STORY)
    assert m.score == 3 * 2 - 2 and m.against == (("match", 1),)
    (plain,) = classify_story((WAR,), None, STORY[:2])
    assert plain.score == 3 and plain.against == ()


def test_without_position_keys_a_story_scores_as_one_text():
    (m,) = classify_story((WAR,), None, STORY)
    (text,) = classify((WAR,), "\n".join(STORY))
    assert (m.score, m.parts) == (text.score, ())


def test_position_weighs_the_lede_above_the_body_and_counts_a_terms_best_placed_hits():
    placed = Topic(slug="war", title="War", threshold=4, rules=WAR.rules, position=(3.0, 2.0, 1.0))
    (m,) = classify_story((placed,), None, STORY)
    assert m.parts == (("lede", 6.0), ("body", 3.0 - 2.0))  # drone: lede x2, body x1; match (-2): body
    (kicked,) = classify_story((placed,), "DRONE ALERT", ("Drones were seen over the port, police said",))
    assert dict(kicked.parts) == {"kicker": 9.0, "lede": 6.0}


def test_min_density_keeps_out_a_long_story_with_a_passing_mention():
    sparse = Topic(slug="war", title="War", threshold=3, rules=WAR.rules, min_density=5.0)
    long_story = ("A drone show opened the festival.",) + ("The crowd sang and danced all night long in the square.",) * 6
    (m,) = classify_story((sparse,), None, long_story)
    assert m.score >= m.threshold and m.density < 5 and not m.accepted
    (short,) = classify_story((sparse,), None, ("A drone hit the depot.",))
    assert short.accepted


def test_position_and_density_change_the_rules_digest_only_when_set():
    assert rules_digest((WAR,)) == rules_digest((Topic(**{**{f: getattr(WAR, f) for f in
                                                              ("slug", "title", "threshold", "rules")}}),))
    assert rules_digest((WAR,)) != rules_digest((Topic(slug="war", title="War", threshold=4, rules=WAR.rules,
                                                       position=(2.0, 2.0, 1.0)),))


def test_the_boundary_cue_scores_a_passage_as_score_does(seed):
    from publisher import config
    from publisher.classify import _Text, passage_score, score
    topics = config.load(CONFIG).topics
    for line in seed.decode("utf-8").splitlines():
        doc = _Text(line)
        for topic in topics:
            assert passage_score(topic, doc) == score(topic, doc).score
