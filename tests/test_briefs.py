"""A one-line brief (a kicker teaser, a lead) that paraphrases its article, end to end: real
files, real SQLite (the full-text index finds the candidates)."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

from conftest import NOW
from test_dedup import ARTICLE, BRIEF, OTHER_DESK
from publisher.status import status

KICKER_BRIEF = "CABLE TANKER: " + BRIEF[0]


def lines(*paragraphs: str) -> str:
    return "\n".join(paragraphs) + "\n"


def decisions(project, name: str) -> list[str]:
    with sqlite3.connect(project.database) as conn:
        rows = conn.execute("""SELECT p.decision FROM provenance p JOIN sources s ON s.id = p.source
                               WHERE s.location = ? ORDER BY p.id""", [name]).fetchall()
    conn.close()
    return [r[0] for r in rows]


def shown(project) -> list[str]:
    """The text each entry shows (its current version), oldest entry first."""
    with sqlite3.connect(project.database) as conn:
        rows = conn.execute("""SELECT v.paragraphs FROM entries e JOIN versions v ON v.id = e.current_version
                               ORDER BY e.id""").fetchall()
    conn.close()
    return [r[0] for r in rows]


def publish_in_turn(project, *files: tuple[str, str]) -> None:
    for i, (name, text) in enumerate(files):
        project.add_source(name, text)
        project.publish(NOW + timedelta(hours=i))


def test_a_brief_then_its_paraphrased_article_is_one_entry_showing_the_article(project):
    publish_in_turn(project, ("0-brief.txt", KICKER_BRIEF + "\n"), ("1-article.txt", lines(*ARTICLE)))
    assert decisions(project, "1-article.txt") == ["revision"]
    (text,) = shown(project)
    assert "Ivo Saar" in text and "Fingrid" in text
    assert status(project.config, NOW + timedelta(hours=2))["entries"] == 1


def test_an_article_then_its_paraphrased_brief_is_one_entry_still_showing_the_article(project):
    publish_in_turn(project, ("0-article.txt", lines(*ARTICLE)))
    before = shown(project)
    project.add_source("1-brief.txt", KICKER_BRIEF + "\n")
    project.publish(NOW + timedelta(hours=1))
    assert decisions(project, "1-brief.txt") == ["teaser"]
    assert shown(project) == before and "Ivo Saar" in before[0]  # history only: the article stays


def test_another_desks_telling_of_the_event_stays_an_entry_of_its_own(project):
    publish_in_turn(project, ("0-brief.txt", KICKER_BRIEF + "\n"), ("1-article.txt", lines(*ARTICLE)),
                    ("2-desk.txt", lines(*OTHER_DESK)))
    assert decisions(project, "2-desk.txt") == ["new"]
    texts = shown(project)
    assert len(texts) == 2 and sum("Ivo Saar" in t for t in texts) == 1 and sum("Turku" in t for t in texts) == 1


def test_a_brief_of_an_unrelated_event_is_not_taken_for_a_teaser(project):
    other = ("HARVEST: Farmers in southern Moldova expect a record sunflower crop of 900,000 tonnes after a wet "
             "spring, the agriculture ministry said, though exporters fear lower prices at Black Sea ports.")
    publish_in_turn(project, ("0-article.txt", lines(*ARTICLE)), ("1-brief.txt", other + "\n"))
    assert decisions(project, "1-brief.txt") == ["new"]
    assert len(shown(project)) == 2


DRILL_ARTICLE = (
    "Taiwan's defence ministry said on Monday it had detected 32 Chinese military aircraft and nine warships "
    "around the island, with 18 of the aircraft crossing the median line of the Taiwan Strait.",
    "The ministry said it had scrambled jets and deployed missile systems to monitor the Chinese aircraft, "
    "which included fighters, drones and an early-warning plane.",
    "The median line was for decades an unofficial buffer between the two sides, but Chinese aircraft now "
    "cross it almost daily, the ministry said.",
)
NEXT_DAYS_BRIEF = ("Taiwan's defence ministry said on Friday it had detected 11 Chinese military aircraft and "
                   "nine warships around the island, crossing the median line of the Taiwan Strait.")


def test_a_brief_with_another_day_and_count_is_news_of_its_own_not_a_teaser(project):
    from publisher import dedup
    words = dedup.content_words(NEXT_DAYS_BRIEF)
    assert dedup.brief_containment(words, dedup.content_words(" ".join(DRILL_ARTICLE))) >= dedup.BRIEF_CONTAINMENT
    # the same desk, the same kind of story, four days later: its day and figures are not in the article
    publish_in_turn(project, ("0-article.txt", lines(*DRILL_ARTICLE)), ("1-brief.txt", NEXT_DAYS_BRIEF + "\n"))
    assert decisions(project, "1-brief.txt") == ["new"]
    assert len(shown(project)) == 2


def test_an_article_after_a_brief_of_another_day_is_not_its_revision(project):
    publish_in_turn(project, ("0-brief.txt", NEXT_DAYS_BRIEF + "\n"), ("1-article.txt", lines(*DRILL_ARTICLE)))
    assert decisions(project, "1-article.txt") == ["new"]
    assert len(shown(project)) == 2


def test_the_article_of_a_retracted_brief_stays_with_it_out_of_the_feeds(project):
    from publisher import stories
    publish_in_turn(project, ("0-brief.txt", KICKER_BRIEF + "\n"))
    with sqlite3.connect(project.database) as conn:
        (entry_id,) = conn.execute("SELECT entry_id FROM entries").fetchone()
    conn.close()
    assert stories.retract(project.config, entry_id, "wrong tanker", NOW + timedelta(minutes=30)).done
    project.add_source("1-article.txt", lines(*ARTICLE))
    project.publish(NOW + timedelta(hours=1))
    assert decisions(project, "1-article.txt") == ["revision"]  # joins the tombstone, as a revision by shingles does
    assert len(shown(project)) == 1 and status(project.config, NOW + timedelta(hours=2))["entries"] == 0
    assert "Ivo Saar" not in (project.config.paths.feeds / "all" / "atom.xml").read_text(encoding="utf-8")
