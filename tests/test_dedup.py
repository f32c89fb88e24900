"""Exact dedup: texts that differ only in form are the same story; any real edit is not."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from publisher.dedup import fingerprint, normalise

BASE = "Lai said: “We will not be intimidated” – the drills ended on Monday."


@pytest.mark.parametrize("variant", [
    BASE.upper(),
    BASE.replace("“", '"').replace("”", '"').replace("–", "-"),
    BASE.replace(" ", "  ").replace("Monday.", "Monday.\n"),
    "\ufeff" + BASE,
    BASE.replace("Lai", "Ｌａｉ"),  # full-width letters (NFKC)
    BASE.replace("–", "—"),
    "  " + BASE + "\r\n",
])
def test_same_story_in_another_form_has_the_same_fingerprint(variant):
    assert fingerprint(variant) == fingerprint(BASE)


@pytest.mark.parametrize("edit", [
    BASE.replace("Monday", "Tuesday"),
    BASE.replace("not ", ""),
    BASE + " More follows.",
    BASE.replace(".", ""),
])
def test_any_real_edit_changes_the_fingerprint(edit):
    assert fingerprint(edit) != fingerprint(BASE)


def test_normalise_folds_case_quotes_dashes_and_space():
    assert normalise("Ａ  “Quote” — ‘x’\n\tEND…") == "a \"quote\" - 'x' end..."


@given(st.text())
def test_normalise_is_idempotent(text):
    assert normalise(normalise(text)) == normalise(text)


# -- briefs: a one-paragraph lead or summary against its article (content words) --------------

from publisher import dedup  # noqa: E402
from publisher.model import Decision  # noqa: E402

ARTICLE = (
    "Estonia's navy said on Wednesday it had detained a Cameroon-flagged tanker, the Kestrel Dawn, after its anchor "
    "was dragged along the seabed and damaged the Estlink 3 power cable between Tallinn and Helsinki, cutting 650 "
    "megawatts of capacity.",
    "Navy commander Ivo Saar said boarding teams found the tanker's port anchor missing and fresh scrape marks on its "
    "hull. The vessel, carrying 48,000 tonnes of Russian diesel, was escorted to the harbour at Muuga.",
    "Finland's grid operator Fingrid said repairs would take at least seven weeks and that power prices in the Baltic "
    "states had risen by about a fifth since the outage.",
    "The Kremlin denied any involvement and called the detention an act of piracy. NATO said it would send two more "
    "frigates to patrol the Gulf of Finland.",
)
# the teaser in other words: it shares few word triples with the article, but its names and figures
BRIEF = ("Estonia's navy has boarded and held the tanker Kestrel Dawn, blamed for dragging its anchor across the "
         "Estlink 3 cable between Tallinn and Helsinki; the Kremlin denies any involvement and NATO is sending two "
         "frigates.",)
OTHER_DESK = (
    "A tanker suspected of cutting an undersea power line between Estonia and Finland was under guard in an Estonian "
    "harbour on Wednesday, as officials in Helsinki warned of weeks without the link.",
    "The Estlink 3 cable carries power for hundreds of thousands of homes; engineers said a repair ship would sail "
    "from Turku on Friday once the weather cleared.",
    "Russia said it had nothing to do with the damage, and the ship's Greek managers said the crew were cooperating.",
)
OTHER_BRIEF = ("A tanker was held in Estonia on Wednesday after the Estlink 3 cable between Tallinn and Helsinki was "
               "damaged by a dragged anchor; NATO is sending frigates and the Kremlin denies any involvement.",)
UNRELATED = ("Farmers in southern Moldova expect a record sunflower crop of 900,000 tonnes after a wet spring, the "
             "agriculture ministry said, though exporters fear lower prices at Black Sea ports.",)


def stored(paragraphs, kicker=None, entry=7):
    return dedup.StoredText(entry=entry, version=entry * 10, order=("2026-11-25", entry), kicker=kicker,
                            paragraphs=tuple(paragraphs))


def test_the_paraphrased_brief_shares_too_few_word_triples_for_shingles():
    inner, outer = dedup.shingles(BRIEF), dedup.shingles(ARTICLE)
    assert dedup.containment(inner, outer) < 0.5  # what this decision is for: shingles miss it


@pytest.mark.parametrize(("new", "kicker", "stored_text", "expected"), [
    (BRIEF, "CABLE TANKER", ARTICLE, Decision.TEASER),  # a kicker brief after its article
    (BRIEF, None, ARTICLE, Decision.TEASER),  # a bare one-line lead likewise
    (ARTICLE, None, BRIEF, Decision.REVISION),  # the article after its brief: the brief's entry
    (OTHER_DESK, None, ARTICLE, None),  # another desk's telling: two articles never meet here
    (ARTICLE, None, OTHER_DESK, None),
    (ARTICLE[1:] + ARTICLE[:1], None, ARTICLE, None),  # two articles, all words shared: still never here
    (OTHER_BRIEF, None, BRIEF, None),  # two briefs never meet here
    (BRIEF, None, (" ".join(ARTICLE),), None),  # the whole article as one paragraph is no article
    (BRIEF, None, (BRIEF[0][:100], BRIEF[0][100:] + " Officials said so."), None),  # under BRIEF_RATIO times
    (UNRELATED, None, ARTICLE, None),  # a brief of another story
    (ARTICLE, None, UNRELATED, None),
    ((BRIEF[0] + " " + BRIEF[0],), None, ARTICLE, None),  # past BRIEF_MAX_WORDS words: not a brief
])
def test_brief_against_article(new, kicker, stored_text, expected):
    match = dedup.brief_match(new, kicker, [stored(stored_text)])
    assert (match.kind if match else None) == expected
    if match:
        assert match.entry == 7 and match.version == 70 and match.containment >= dedup.BRIEF_CONTAINMENT


def test_a_brief_goes_to_the_article_holding_most_of_its_words_ties_to_the_oldest():
    match = dedup.brief_match(BRIEF, None, [stored(OTHER_DESK, entry=3), stored(ARTICLE, entry=9)])
    assert match.entry == 9
    less = [p.replace("NATO", "the alliance") for p in ARTICLE]  # holds a little less of the brief, still enough
    assert dedup.brief_match(BRIEF, None, [stored(less, entry=3)]).entry == 3
    assert dedup.brief_match(BRIEF, None, [stored(less, entry=3), stored(ARTICLE, entry=9)]).entry == 9
    older = dedup.StoredText(entry=11, version=1, order=("2026-11-24", 11), kicker=None, paragraphs=ARTICLE)
    assert dedup.brief_match(BRIEF, None, [stored(ARTICLE, entry=9), older]).entry == 11


def test_place_brief_says_teaser_is_history_and_fuller_article_replaces():
    settings = dedup.DedupSettings()
    teaser = dedup.place_brief(BRIEF, None, [stored(ARTICLE)], settings)
    assert (teaser.decision, teaser.entry, teaser.current) == (Decision.TEASER, 7, False)
    fuller = dedup.place_brief(ARTICLE, None, [stored(BRIEF)], settings)
    assert (fuller.decision, fuller.entry, fuller.current) == (Decision.REVISION, 7, True)
    assert dedup.place_brief(OTHER_DESK, None, [stored(ARTICLE)], settings) is None


@pytest.mark.parametrize(("a", "b"), [
    ("missiles", "missile"), ("denied", "denies"), ("dragged", "dragging"), ("approved", "approve"),
    ("Taiwan's", "Taiwan"), ("countries", "country"),
])
def test_content_words_fold_plurals_and_inflections(a, b):
    assert set(dedup.content_words(a)) == set(dedup.content_words(b)) != set()


def test_content_words_drop_stop_words_keep_figures_and_weigh_names_and_figures_more():
    words = dedup.content_words("The navy said it held 48,000 tonnes for the ninth time in Muuga")
    assert "the" not in words and "said" not in words and "it" not in words
    assert words["48"] == words["000"] == words["ninth"] == dedup.FIGURE_WEIGHT
    assert words["muuga"] == dedup.NAME_WEIGHT and words["navy"] == 1.0


def test_brief_query_searches_articles_with_a_briefs_rare_words_and_briefs_with_an_articles_lede():
    query = dedup.brief_query(BRIEF, "CABLE TANKER")
    assert len(query.words) == dedup.BRIEF_QUERY_WORDS and not query.brief_words
    assert {"kestrel", "estlink", "tallinn", "helsinki"} & set(query.words)
    query = dedup.brief_query(ARTICLE, None)
    assert not query.words and query.brief_words == dedup.brief_words(ARTICLE[:1])
    # the article's lede shares enough content words with its brief for the store to find it
    assert len(set(query.brief_words) & set(dedup.brief_words(BRIEF))) >= dedup.BRIEF_LEDE_MATCH
    assert dedup.sketch(BRIEF).brief_words == dedup.brief_words(BRIEF) and dedup.sketch(ARTICLE).brief_words == ()


def test_older_keeps_a_text_dated_before_the_shown_one_as_history():
    from datetime import UTC, datetime, timedelta

    from publisher.dedup import Placement, SourceDate, older

    def day(d):  # a day a file's name gives
        return SourceDate(datetime(2026, 11, d, tzinfo=UTC), by_name=True)

    def saved(d, h, m=0):  # a modification time
        return SourceDate(datetime(2026, 11, d, h, m, tzinfo=UTC))

    revision = Placement(Decision.REVISION, entry=7, current=True, compared=3, jaccard=0.7, containment=0.9)
    demoted = older(revision, day(23), day(24))
    assert (demoted.decision, demoted.entry, demoted.current, demoted.compared) == (Decision.OLDER, 7, False, 3)
    assert older(revision, saved(23, 9), saved(24, 9)).decision == Decision.OLDER
    assert older(revision, saved(24, 9), saved(24, 11)).decision == Decision.OLDER  # two hours apart
    assert older(revision, saved(22, 9), day(24)).decision == Decision.OLDER  # all of the 22nd before any 24th
    assert older(revision, day(22), saved(24, 23)).decision == Decision.OLDER
    not_certain = [
        (day(24), day(24)), (day(25), day(24)),  # the same day, or later
        (saved(24, 9), saved(24, 9, 40)),  # within SAME_TIME: files copied in one go
        (day(24), saved(24, 18)),  # a named day against a time on that day
        (saved(24, 22, 30), day(25)),  # 00:30 on the 25th in Kyiv is 22:30 on the 24th in UTC
        (day(24), saved(25, 1)),  # 20:00 on the 24th in New York is 01:00 on the 25th in UTC
        (None, day(24)), (day(23), None),  # a date unknown
    ]
    for dated, current in not_certain:
        assert older(revision, dated, current) is revision, (dated, current)
    new = Placement(Decision.NEW)
    teaser = Placement(Decision.TEASER, entry=7, current=False)
    fuller = Placement(Decision.FULLER, entry=7, current=True)
    assert older(new, day(1), day(24)) is new and older(teaser, day(1), day(24)) is teaser
    assert older(fuller, day(1), day(24)) is fuller  # it contains the shown text: it loses nothing
    assert timedelta(hours=1) == dedup.SAME_TIME


def test_rehome_moves_only_versions_of_the_part_split_off_and_shows_the_newest_not_older():
    from datetime import UTC, datetime

    from publisher.dedup import ComparedVersion, DedupSettings, SourceDate, rehome

    def words(*parts):
        return " ".join(parts) + "."

    kept_text = words("Russia launched 40 drones and four missiles at Ukraine overnight, the air force said on Tuesday",
                      "air defence units shot down 35 of the drones over the Kyiv and Odesa regions")
    split_text = words("Ukraine's energy ministry said the attacks had damaged power facilities in the Odesa region",
                       "repair crews restored power to most of the 60,000 households cut off, the ministry said")
    update = split_text.replace("most of", "all of").replace("ministry said.", "ministry said on Wednesday.")
    older = split_text.replace("most of", "half of")
    near_kept = kept_text.replace("40 drones", "52 drones")

    def version(n, text):
        return ComparedVersion(n, dedup.shingles([text]))

    def day(d):
        return SourceDate(datetime(2026, 11, d, tzinfo=UTC), by_name=True)

    moves = rehome((version(10, split_text), day(24)), version(9, kept_text),
                   [(version(1, near_kept), day(25)), (version(2, older), day(23)), (version(3, update), day(25))],
                   DedupSettings())
    assert [(m.version, m.current) for m in moves] == [(2, False), (3, True)]  # 1 is the kept part's


def test_rehome_shows_a_later_arrival_only_when_it_is_not_certainly_older_than_the_one_kept():
    from datetime import UTC, datetime

    from publisher.dedup import ComparedVersion, DedupSettings, SourceDate, rehome

    base = ("Ukraine's energy ministry said the attacks had damaged power facilities in the Odesa region. "
            "Repair crews restored power to most of the 60,000 households cut off, the ministry said.")
    first, second = base.replace("most of", "all of"), base.replace("most of", "nearly all of")

    def day(d):
        return SourceDate(datetime(2026, 11, d, tzinfo=UTC), by_name=True)

    def v(n, text):
        return ComparedVersion(n, dedup.shingles([text]))

    kept = v(9, "Russia launched 40 drones and four missiles at Ukraine overnight, the air force said on Tuesday.")
    newer_first = rehome((v(10, base), day(24)), kept, [(v(1, first), day(27)), (v(2, second), day(26))], DedupSettings())
    assert [(m.version, m.current) for m in newer_first] == [(1, True), (2, False)]  # 26th came later, but is older
    in_order = rehome((v(10, base), day(24)), kept, [(v(1, first), day(26)), (v(2, second), day(27))], DedupSettings())
    assert [(m.version, m.current) for m in in_order] == [(1, False), (2, True)]
