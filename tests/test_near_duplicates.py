"""Near-duplicates end to end: story pairs (tests/data/dedup), revisions in the feeds, and
properties of generated clusters of versions.

Each directory of tests/data/dedup holds a.txt and b.txt (one story each) and expected.json:
the decision ingesting b after a gives, the entries after both, and the measured similarity
of the pair (word-shingle Jaccard, and containment of the shorter in the longer) as ranges
that must lie clearly on the expected side of the shipped thresholds.
"""

from __future__ import annotations

import html
import json
import random
import re
import shutil
import sqlite3
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

import feedparser
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import CONFIG, DATA, NOW, Project
from publisher import config as config_mod
from publisher import dedup
from publisher.publish import publish
from publisher.status import status
from publisher.sources import wire

CASES_DIR = DATA / "dedup"
CASES = sorted(p.name for p in CASES_DIR.iterdir() if p.is_dir())
SHIPPED = config_mod.load(CONFIG).dedup
LATER = NOW + timedelta(hours=2)
#: A case's Jaccard range must keep at least this far from `resemblance` (on its side of it).
MARGIN = 0.05
#: What b's SourceReport says for each decision: (outcome, new, revised, duplicate).
COUNTS = {
    "duplicate": ("duplicate", 0, 0, 1),
    "teaser": ("duplicate", 0, 0, 1),
    "near-duplicate": ("duplicate", 0, 0, 1),
    "revision": ("new", 0, 1, 0),
    "fuller": ("new", 0, 1, 0),
    "new": ("new", 1, 0, 0),
}


# -- helpers ---------------------------------------------------------------------------------

def load_case(name: str) -> tuple[bytes, bytes, dict]:
    d = CASES_DIR / name
    return (d / "a.txt").read_bytes(), (d / "b.txt").read_bytes(), json.loads((d / "expected.json").read_text())


def only_story(data: bytes) -> wire.Story:
    stories = wire.read(data).stories
    assert len(stories) == 1, [s.title for s in stories]
    return stories[0]


def similarity(a: bytes, b: bytes) -> tuple[float, float]:
    """(Jaccard, containment of the shorter in the longer) of the stories in a and b."""
    sa, sb = only_story(a), only_story(b)
    ha, hb = dedup.shingles(sa.paragraphs, sa.kicker), dedup.shingles(sb.paragraphs, sb.kicker)
    inner, outer = (ha, hb) if len(ha) <= len(hb) else (hb, ha)
    return dedup.jaccard(ha, hb), dedup.containment(inner, outer)


def source_report(report, name):
    return next(s for s in report.sources if s.name == name)


def counts(report, name) -> tuple[str, int, int, int]:
    s = source_report(report, name)
    return s.outcome, s.new, s.revised, s.duplicate


def decisions(project: Project, name: str) -> list[str]:
    """The recorded decision of every arrival from source file `name`, in order."""
    with sqlite3.connect(project.database) as conn:
        rows = conn.execute("""SELECT p.decision FROM provenance p JOIN sources s ON s.id = p.source
                               WHERE s.location = ? ORDER BY p.id""", [name]).fetchall()
    conn.close()
    return [r[0] for r in rows]


def n_entries(project: Project) -> int:
    return status(project.config, LATER)["entries"]


def feed(project: Project, slug: str = "all", fmt: str = "atom.xml"):
    parsed = feedparser.parse((project.feeds / slug / fmt).read_bytes())
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    return parsed


def paragraphs_of(entry) -> list[str]:
    """The paragraphs of a feed entry's content (one <p> each), as plain text."""
    return [html.unescape(p) for p in re.findall(r"<p>(.*?)</p>", entry.content[0].value, re.S)
            if not p.startswith("<em>Updated: ")]  # the note a revised story's content ends with


def shown(story) -> list[str]:
    """The paragraphs a feed shows for a story (a cut-off story ends with an ellipsis)."""
    paragraphs = list(story.paragraphs)
    if story.truncated:
        paragraphs[-1] += " …"
    return paragraphs


def when(text: str) -> datetime:
    return datetime.fromisoformat(text)


def new_project(root: Path) -> Project:
    """A scratch project like the `project` fixture's, for tests that need several."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(CONFIG, root / "config.toml")
    (root / "sources").mkdir()
    return Project(root, root / "config.toml")


# -- the story pairs -------------------------------------------------------------------------

def test_every_case_has_its_files_and_a_known_decision():
    assert len(CASES) == 11
    for name in CASES:
        a, b, expected = load_case(name)
        assert expected["decision"] in ("duplicate", "revision", "fuller", "teaser", "new"), name
        assert expected["entries"] == (2 if expected["decision"] == "new" else 1), name
        assert only_story(a).paragraphs and only_story(b).paragraphs


@pytest.mark.parametrize("case", CASES)
def test_pair_similarity_is_on_the_expected_side_of_the_thresholds(case, record_property):
    a, b, expected = load_case(case)
    j, c = similarity(a, b)
    print(f"{case}: jaccard={j:.4f} containment={c:.4f}")
    record_property("jaccard", round(j, 4))
    record_property("containment", round(c, 4))
    (jlo, jhi), (clo, chi) = expected["jaccard_range"], expected["containment_range"]
    assert jlo <= j <= jhi, f"{case}: Jaccard {j:.4f} outside {expected['jaccard_range']}"
    assert clo <= c <= chi, f"{case}: containment {c:.4f} outside {expected['containment_range']}"
    # the stated ranges themselves keep clear of the thresholds, on the side the decision needs
    decision = expected["decision"]
    if decision in ("duplicate", "revision"):
        assert jlo >= SHIPPED.resemblance + MARGIN
    else:
        assert jhi <= SHIPPED.resemblance - MARGIN
    if decision in ("teaser", "fuller"):
        assert clo >= SHIPPED.containment
    if decision == "new":
        assert chi <= SHIPPED.containment - MARGIN


@pytest.mark.parametrize("case", CASES)
def test_pair_through_the_pipeline(project, case):
    a, b, expected = load_case(case)
    decision = expected["decision"]
    project.add_source("a.txt", a)
    first = project.publish(NOW)
    assert first.ok and counts(first, "a.txt") == ("new", 1, 0, 0)
    (before,) = feed(project).entries  # every case's a is in a topic, so in the merged feed
    before_bytes = project.feed_bytes()

    project.add_source("b.txt", b)
    report = project.publish(LATER)
    assert report.ok, report.problems()
    assert counts(report, "b.txt") == COUNTS[decision]
    assert decisions(project, "b.txt") == [decision]
    assert n_entries(project) == expected["entries"]

    entries = feed(project).entries
    if decision in ("revision", "fuller"):  # one entry: the same id, a later updated, b's text
        (after,) = entries
        assert after.id == before.id
        assert when(after.updated) == LATER > when(before.updated) == NOW
        assert when(after.published) == when(before.published) == NOW
        assert paragraphs_of(after) == shown(only_story(b))
    elif decision in ("duplicate", "teaser"):  # an arrival only: no feed changes
        assert project.feed_bytes() == before_bytes
        assert paragraphs_of(entries[0]) == shown(only_story(a))
    else:  # a story of its own
        assert len(entries) == 2 and before.id in {e.id for e in entries}
        assert paragraphs_of(next(e for e in entries if e.id == before.id)) == shown(only_story(a))


REVERSED = {"duplicate": "duplicate", "revision": "revision", "fuller": "teaser", "teaser": "fuller", "new": "new"}


@pytest.mark.parametrize("case", CASES)
def test_pair_in_the_other_order(project, case):
    """b first, then a: the same number of entries; a teaser and its article swap roles."""
    a, b, expected = load_case(case)
    project.add_source("1-b.txt", b)
    project.publish(NOW)
    project.add_source("2-a.txt", a)
    report = project.publish(LATER)
    decision = REVERSED[expected["decision"]]
    assert counts(report, "2-a.txt") == COUNTS[decision]
    assert decisions(project, "2-a.txt") == [decision]
    assert n_entries(project) == expected["entries"]
    if decision in ("teaser", "duplicate"):
        (entry,) = feed(project).entries
        assert paragraphs_of(entry) == shown(only_story(b))


# -- revisions in the feeds ------------------------------------------------------------------

def test_a_revised_story_keeps_its_id_in_atom_and_rss_and_shows_once_with_a_later_updated(project):
    a, b, _ = load_case("re-edited-copy")
    project.add_source("a.txt", a)
    project.publish(NOW)
    atom0, rss0 = feed(project, "all"), feed(project, "all", "rss.xml")
    (entry_id,) = [e.id for e in atom0.entries]
    assert [e.id for e in rss0.entries] == [entry_id]

    project.add_source("b.txt", b)
    project.publish(LATER)
    newer = shown(only_story(b))
    for slug in ("all", "ukraine"):
        atom, rss = feed(project, slug), feed(project, slug, "rss.xml")
        (entry,), (item,) = atom.entries, rss.entries
        assert entry.id == item.id == entry_id
        assert when(entry.updated) == LATER and when(entry.published) == NOW
        assert when(atom.feed.updated) == LATER  # the feed's updated: its newest entry's
        assert item.published_parsed == rss0.entries[0].published_parsed  # first seen stays
        assert rss.feed.updated_parsed > rss0.feed.updated_parsed  # <lastBuildDate> moves
        assert paragraphs_of(entry) == paragraphs_of(item) == newer
    assert feed(project, "taiwan-security").entries == []


TOPICS_V1 = """\
Taiwan's defence ministry said on Monday it would buy 3,200 military drones from local makers over the next two years to strengthen deterrence against China.
Officials said the aircraft would be deployed with coast guard and army units on the outlying islands, including Kinmen and Matsu, and along the island's west coast.
Minister Wellington Koo told legislators in Taipei that cheap drones could help a smaller military wear down an invading force before it reached Taiwan's beaches.
Local manufacturers have struggled to scale up production, and the ministry said it would offer long-term contracts to help companies invest in new factories.
"""
# v2 adds a paragraph that puts the story in ukraine too; v3 replaces it with one that does not
TOPICS_V2 = TOPICS_V1 + (
    "Koo said the plan drew on lessons from the war in Ukraine, where Kyiv has used Ukrainian-made drones "
    "by the tens of thousands to hold back Russian forces along the front line.\n")
TOPICS_V3 = TOPICS_V1 + (
    "Koo said the first batch of drones would be delivered by the end of the year, and that units would "
    "begin training with them on Penghu in the spring.\n")


def test_topics_follow_the_newest_version_into_and_out_of_a_topic(project):
    def topic_ids():
        return {slug: [e.id for e in feed(project, slug).entries] for slug in ("ukraine", "taiwan-security", "all")}

    project.add_source("v1.txt", TOPICS_V1)
    project.publish(NOW)
    (entry_id,) = topic_ids()["all"]
    assert topic_ids() == {"ukraine": [], "taiwan-security": [entry_id], "all": [entry_id]}

    project.add_source("v2.txt", TOPICS_V2)
    report = project.publish(NOW + timedelta(hours=1))
    assert counts(report, "v2.txt") == COUNTS["revision"]
    assert topic_ids() == {"ukraine": [entry_id], "taiwan-security": [entry_id], "all": [entry_id]}
    assert status(project.config, LATER)["topics"] == {"ukraine": 1, "taiwan-security": 1}

    project.add_source("v3.txt", TOPICS_V3)
    report = project.publish(NOW + timedelta(hours=2))
    assert counts(report, "v3.txt") == COUNTS["revision"]
    assert topic_ids() == {"ukraine": [], "taiwan-security": [entry_id], "all": [entry_id]}
    assert status(project.config, LATER)["topics"] == {"ukraine": 0, "taiwan-security": 1}
    assert paragraphs_of(feed(project, "taiwan-security").entries[0]) == TOPICS_V3.splitlines()


def test_an_older_version_arriving_again_is_a_duplicate_and_the_newest_text_stays(project):
    a, b, _ = load_case("re-edited-copy")
    project.add_source("a.txt", a)
    project.publish(NOW)
    project.add_source("b.txt", b)
    project.publish(LATER)
    after_b = project.feed_bytes()

    project.add_source("c.txt", a)  # the first version again, from another file
    report = project.publish(LATER + timedelta(hours=1))
    assert counts(report, "c.txt") == COUNTS["duplicate"]
    assert decisions(project, "c.txt") == ["duplicate"]
    assert project.feed_bytes() == after_b
    (entry,) = feed(project).entries
    assert paragraphs_of(entry) == shown(only_story(b)) and when(entry.updated) == LATER
    assert n_entries(project) == 1


DAY = 86400


def one_then_another(project, first: tuple[str, bytes, float | None], then: tuple[str, bytes, float | None]):
    """Publish file `first`, then file `then`, each (name, bytes, modification time or None);
    returns the second publish's report and the feed bytes after the first."""
    import os

    for k, (name, data, mtime) in enumerate((first, then)):
        path = project.add_source(name, data)
        if mtime is not None:
            os.utime(path, (mtime, mtime))
        report = project.publish(LATER if k else NOW)
        if not k:
            after_first = project.feed_bytes()
    return report, after_first


def only_shown(project) -> list[str]:
    (entry,) = feed(project).entries
    return paragraphs_of(entry)


@pytest.mark.parametrize("dated", ["name", "mtime"])
def test_an_older_wording_from_a_file_dated_earlier_never_replaces_the_newer_one(project, dated):
    """b (the newer wording) is read first; a (its older wording) comes later from a file dated
    a day before b's, by the date in its name or by its modification time: a is recorded as an
    older version, the feeds keep showing b, and its page says why."""
    a, b, _ = load_case("re-edited-copy")
    if dated == "name":
        newer, older = ("2026-11-24_evening.txt", b, None), ("2026-11-23_evening.txt", a, None)
    else:
        newer, older = ("wire-2.txt", b, NOW.timestamp() - DAY), ("wire-1.txt", a, NOW.timestamp() - 2 * DAY)
    report, after_b = one_then_another(project, newer, older)
    assert counts(report, older[0]) == COUNTS["teaser"]  # counted as a known story: nothing new shown
    assert decisions(project, older[0]) == ["older"]
    assert project.feed_bytes() == after_b
    (entry,) = feed(project).entries
    assert paragraphs_of(entry) == shown(only_story(b))
    page = (project.feeds / "stories" / (entry.link.rsplit("/", 1)[-1])).read_text()
    assert "an older version, from a file dated earlier (not published)" in page


def test_the_same_day_goes_by_arrival_whether_dated_by_name_or_by_modification_time(project):
    """A file named with today's date read after an undated file saved earlier today revises
    its story: a name gives a day (midnight), a modification time an instant, compared as days."""
    a, b, _ = load_case("re-edited-copy")
    one_then_another(project, ("desk-paste.txt", a, NOW.timestamp() - 3600),  # 11:00 on 2026-11-25
                     ("2026-11-25_evening.txt", b, None))  # the same day by its name
    assert decisions(project, "2026-11-25_evening.txt") == ["revision"]
    assert only_shown(project) == shown(only_story(b))


def test_a_fuller_text_from_an_earlier_file_still_replaces_a_later_brief(project):
    """The full article dated a day before the teaser shown now replaces it: it contains the
    teaser and only adds to it (it loses nothing)."""
    teaser, full, expected = load_case("teaser-then-full")
    assert expected["decision"] == "fuller"
    one_then_another(project, ("2026-11-25_brief.txt", teaser, None), ("2026-11-24_full.txt", full, None))
    assert decisions(project, "2026-11-24_full.txt") == ["fuller"]
    assert only_shown(project) == shown(only_story(full))


def test_a_newer_file_still_revises(project):
    a, b, _ = load_case("re-edited-copy")
    one_then_another(project, ("2026-11-24_morning.txt", a, None), ("2026-11-25_morning.txt", b, None))
    assert decisions(project, "2026-11-25_morning.txt") == ["revision"]
    assert only_shown(project) == shown(only_story(b))


# Two entries that share two paragraphs of background (B1, B2) but are not versions of each
# other; A1/C1 and A2/C2 have the same number of shingles, so a story made of A1 + B + C1 is
# exactly as similar to each.
PARAS = dict(
    A1="Taiwan's National Security Bureau said on Monday that Chinese hackers tried to break into government "
       "networks an average of 2.4 million times a day last year, double the level of the year before.",
    A2="The bureau said most of the attacks targeted telecommunications, transport and defence contractors, "
       "and that several were traced to groups linked to the People's Liberation Army.",
    B1="The findings were published in an annual report to the legislature in Taipei, which also warned that "
       "Beijing was using coast guard patrols and military drills to wear down Taiwan's defences.",
    B2="Security officials said China's pressure campaign had intensified since President Lai Ching-te took "
       "office, and that the government was reviewing how it shares intelligence with allies.",
    C1="The report also said Chinese state media and content farms spread more than 2,000 false stories about "
       "Taiwan last year, many of them aimed at undermining public trust in the military and in elections.",
    C2="Fact-checking groups in Taipei said the fabricated stories often claimed that the United States would "
       "abandon Taiwan in a war, and were shared on video platforms.",
)


def text(*keys: str) -> str:
    return "".join(PARAS[k] + "\n" for k in keys)


def sh(*keys: str) -> dedup.Shingles:
    return dedup.shingles([PARAS[k] for k in keys])


def ingest_two_entries(project) -> tuple[str, str]:
    """E1 = A + B first, then E2 = B + C: two entries; returns their ids (E1, E2)."""
    assert dedup.compare(sh("B1", "B2", "C1", "C2"), sh("A1", "A2", "B1", "B2"), SHIPPED) is None
    project.add_source("e1.txt", text("A1", "A2", "B1", "B2"))
    project.publish(NOW)
    project.add_source("e2.txt", text("B1", "B2", "C1", "C2"))
    report = project.publish(NOW + timedelta(hours=1))
    assert counts(report, "e2.txt") == COUNTS["new"] and n_entries(project) == 2
    e2, e1 = [e.id for e in feed(project).entries]  # newest first
    return e1, e2


def assert_both_are_candidates(*keys: str) -> None:
    """Precondition: LSH offers each entry for the story (they share a lead band, or a
    whole-text band with an estimated Jaccard well above any filter margin), and the story
    passes as a version of each."""
    new = sh(*keys)
    new_keys, new_sig = dedup.band_keys(new)
    for entry in (("A1", "A2", "B1", "B2"), ("B1", "B2", "C1", "C2")):
        old = sh(*entry)
        old_keys, old_sig = dedup.band_keys(old)
        full, lead = slice(0, dedup.FULL_BANDS), slice(dedup.FULL_BANDS, None)
        if not set(new_keys[lead]) & set(old_keys[lead]):  # a lead band is a candidate whatever the estimate
            assert set(new_keys[full]) & set(old_keys[full]), entry
            assert np.mean(new_sig == old_sig) >= SHIPPED.resemblance, entry
        assert dedup.compare(new, old, SHIPPED)[0] == "revision", entry


def test_a_near_duplicate_of_two_entries_revises_the_most_similar_one(project):
    e1, e2 = ingest_two_entries(project)
    story = ("A1", "B1", "B2", "C1", "C2")
    j1, j2 = dedup.jaccard(sh(*story), sh("A1", "A2", "B1", "B2")), dedup.jaccard(sh(*story), sh("B1", "B2", "C1", "C2"))
    assert SHIPPED.resemblance <= j1 < j2  # the newer entry is the more similar: not a tie to the oldest
    assert_both_are_candidates(*story)

    project.add_source("s.txt", text(*story))
    report = project.publish(LATER)
    assert counts(report, "s.txt") == COUNTS["revision"] and n_entries(project) == 2
    by_id = {e.id: e for e in feed(project).entries}
    assert paragraphs_of(by_id[e2]) == [PARAS[k] for k in story] and when(by_id[e2].updated) == LATER
    assert paragraphs_of(by_id[e1]) == [PARAS[k] for k in ("A1", "A2", "B1", "B2")]
    assert when(by_id[e1].updated) == NOW


def test_a_near_duplicate_equally_similar_to_two_entries_revises_the_oldest(project):
    e1, e2 = ingest_two_entries(project)
    story = ("A1", "B1", "B2", "C1")
    j1, j2 = dedup.jaccard(sh(*story), sh("A1", "A2", "B1", "B2")), dedup.jaccard(sh(*story), sh("B1", "B2", "C1", "C2"))
    assert j1 == j2 >= SHIPPED.resemblance
    assert_both_are_candidates(*story)

    project.add_source("s.txt", text(*story))
    report = project.publish(LATER)
    assert counts(report, "s.txt") == COUNTS["revision"] and n_entries(project) == 2
    by_id = {e.id: e for e in feed(project).entries}
    assert paragraphs_of(by_id[e1]) == [PARAS[k] for k in story] and when(by_id[e1].updated) == LATER
    assert paragraphs_of(by_id[e2]) == [PARAS[k] for k in ("B1", "B2", "C1", "C2")]


@pytest.mark.parametrize("case", ["re-edited-copy", "teaser-then-full"])
def test_skip_mode_keeps_the_first_text_and_records_the_arrival(project, case):
    path = project.config_path
    path.write_text(path.read_text().replace('on_near_duplicate = "revise"', 'on_near_duplicate = "skip"'))
    assert project.config.dedup.on_near_duplicate == "skip"
    a, b, _ = load_case(case)
    project.add_source("a.txt", a)
    project.publish(NOW)
    before = project.feed_bytes()

    project.add_source("b.txt", b)
    report = project.publish(LATER)
    assert counts(report, "b.txt") == COUNTS["near-duplicate"]
    assert decisions(project, "b.txt") == ["near-duplicate"]
    assert project.feed_bytes() == before
    (entry,) = feed(project).entries
    assert paragraphs_of(entry) == shown(only_story(a)) and when(entry.updated) == NOW
    reads = {s["path"]: s for s in status(project.config, LATER)["sources"]}
    assert (reads["b.txt"]["outcome"], reads["b.txt"]["duplicate"], reads["b.txt"]["revised"]) == ("duplicate", 1, 0)
    assert n_entries(project) == 1


# -- properties: clusters of versions --------------------------------------------------------

WORDS = """
able about across action advice agency agreed aid airport allies analyst annual army arrival asked
autumn backed banks basic battery border bridge budget cable called camp capital cargo caution
central change charge cities civil claims clear closed coastal cold comment company concern
control council court crews crowd damage data deal debate debris delay deliver demand deputy
design detail direct donors early earth east economy effort elder energy engine envoy estate event
expert export factory family farmers fears field figure final fleet flood flight forces formal
fuel funds garden gas global grain ground growth guard harbour health heavy highway hospital hotel
houses income inquiry island judge labour land leader legal likely local longer losses major
market mayor media medical meeting metal middle mining modern month motion narrow nation network
night north office oil online opened orders outage owners panel parents partner patrol people
period permit plan plant police policy port power press prices prison private public quickly
radio rail rapid rates rebuild record reform region remote rescue review rising river roads rules
rural safety salary school season sector senior shelter ships shortage signal site snow soldiers
south speech staff station steel storm street strike summer supply survey talks tanker teachers
tender tests timber towns trade traffic trains transit trial troops trucks union urban valley
vessel village voters wages water weather week west winter workers yards youth zone
""".split()
assert len(set(WORDS)) == len(WORDS) >= 200 and max(map(len, WORDS)) <= 8  # no line reaches wire.LONG_LINE


@st.composite
def clusters(draw) -> list[list[str]]:
    """1-4 clusters; each a random base article (64-90 words in 2-4 lines, each line starting
    with words that put it in taiwan-security) and 1-4 members: the base with 0-3 single-word
    substitutions. The words come from one seeded generator, so bases are independent (and
    never shrink to the same word over and over); sizes and counts shrink."""
    rng = random.Random(draw(st.integers(0, 2**32 - 1), label="seed"))
    out = []
    for _ in range(draw(st.integers(1, 4), label="clusters")):
        total, lines = draw(st.integers(64, 90)), draw(st.integers(2, 4))
        words = [rng.choice(WORDS) for _ in range(total)]
        cuts = [total * k // lines + rng.randint(-3, 3) for k in range(1, lines)]  # 10-48 words a line
        members = []
        for _ in range(draw(st.integers(1, 4))):
            member = list(words)
            for _ in range(draw(st.integers(0, 3))):
                member[rng.randrange(total)] = rng.choice(WORDS)
            spans = zip([0, *cuts], [*cuts, total])
            members.append("".join(f"Taiwan military {' '.join(member[i:j])}.\n" for i, j in spans))
        out.append(members)
    return out


def story_shingles(text: str) -> dedup.Shingles:
    story = only_story(text.encode())
    return dedup.shingles(story.paragraphs, story.kicker)


def ingest_in_order(root: Path, files: list[tuple[str, str]], now: datetime) -> Project:
    """A fresh project at `root`; the files are named so that they are read in the given order."""
    project = new_project(root)
    for i, (name, data) in enumerate(files):
        project.add_source(f"{i:03d}-{name}", data)
    report = publish(project.config, now)
    assert report.ok, report.problems()
    return project


def partition(project: Project) -> set[frozenset[str]]:
    """The source files grouped by the entry their story went to (file names without the order prefix)."""
    with sqlite3.connect(project.database) as conn:
        rows = conn.execute("""SELECT v.entry, s.location FROM provenance p JOIN versions v ON v.id = p.version
                               JOIN sources s ON s.id = p.source""").fetchall()
    conn.close()
    groups: dict[int, set[str]] = {}
    for entry, location in rows:
        groups.setdefault(entry, set()).add(location.split("-", 1)[1])
    return {frozenset(g) for g in groups.values()}


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), generated=clusters())
def test_any_order_of_a_clusters_versions_gives_one_entry_per_cluster_and_reingesting_changes_nothing(data, generated):
    # precondition: within a cluster every pair is a clear near-duplicate, across clusters none is
    shingled = [[story_shingles(m) for m in members] for members in generated]
    for members in shingled:
        for i, x in enumerate(members):
            for y in members[i + 1:]:
                assert dedup.jaccard(x, y) >= SHIPPED.resemblance + 0.05
    for i, xs in enumerate(shingled):
        for ys in shingled[i + 1:]:
            assert max(dedup.jaccard(x, y) for x in xs for y in ys) < 0.1

    files = [(f"c{c}m{m}.txt", text) for c, members in enumerate(generated) for m, text in enumerate(members)]
    clusters_by_file = {frozenset(f"c{c}m{m}.txt" for m in range(len(members))) for c, members in enumerate(generated)}
    order1 = data.draw(st.permutations(files), label="order1")
    order2 = data.draw(st.permutations(files), label="order2")
    with tempfile.TemporaryDirectory() as tmp:
        one = ingest_in_order(Path(tmp) / "one", order1, NOW)
        two = ingest_in_order(Path(tmp) / "two", order2, NOW)
        for project in (one, two):
            assert n_entries(project) == len(generated)
            assert partition(project) == clusters_by_file
            assert len(feed(project).entries) == len(generated)  # every story is in taiwan-security

        # ingesting again changes nothing: the same files (not even read), then copies of them
        before = one.feed_bytes()
        again = publish(one.config, LATER)
        assert {s.outcome for s in again.sources} == {"unchanged"} and again.feed_files_written == []
        for i, (name, text) in enumerate(order2):
            one.add_source(f"{len(files) + i:03d}-copy-{name}", text)
        copies = publish(one.config, LATER + timedelta(hours=1))
        fresh = [s for s in copies.sources if s.outcome != "unchanged"]
        assert len(fresh) == len(files)
        assert all((s.outcome, s.new, s.revised, s.duplicate) == COUNTS["duplicate"] for s in fresh)
        assert copies.feed_files_written == [] and one.feed_bytes() == before
        assert n_entries(one) == len(generated)


# -- suspected bugs (reproductions; strict xfail: they fail loudly once fixed) ---------------

def test_a_cut_off_opening_of_a_stored_article_never_replaces_it(project):
    full = (CASES_DIR / "full-then-teaser" / "a.txt").read_text()
    lines = full.splitlines()
    teaser = "\n".join(lines[:2]) + "\n" + lines[2][:90].rsplit(" ", 1)[0] + "\n"  # 2.5 of 6 paragraphs
    assert only_story(teaser.encode()).truncated
    j, c = similarity(full.encode(), teaser.encode())
    assert c == 1.0 and j >= SHIPPED.resemblance  # 0.4423: contained, and "resembles"
    project.add_source("a.txt", full)
    project.publish(NOW)
    before = project.feed_bytes()
    project.add_source("b.txt", teaser)
    project.publish(LATER)
    assert decisions(project, "b.txt") == ["teaser"]  # actual: ["revision"]
    assert project.feed_bytes() == before  # actual: the entry now ends "... and live-fire …"


def test_a_fuller_version_of_an_entrys_earlier_version_joins_that_entry(project):
    rng = random.Random(7)
    p = [f"Taiwan military {' '.join(rng.choice(WORDS) for _ in range(14))}." for _ in range(16)]
    v1 = "\n".join(p[:10]) + "\n"
    v2 = "\n".join(p[:6] + p[10:13]) + "\n"  # a heavy edit of v1: J 0.46, a revision
    v3 = "\n".join(p[:10] + p[13:16]) + "\n"  # v1 and three more paragraphs: J 0.77 with v1, 0.38 with v2
    sv1, sv2, sv3 = (story_shingles(v) for v in (v1, v2, v3))
    assert dedup.compare(sv2, sv1, SHIPPED)[0] == "revision" and dedup.compare(sv3, sv1, SHIPPED)[0] == "revision"
    for i, v in enumerate((v1, v2, v3)):
        project.add_source(f"v{i + 1}.txt", v)
        project.publish(NOW + timedelta(hours=i))
    assert decisions(project, "v2.txt") == ["revision"]
    assert n_entries(project) == 1  # actual: 2 (v3 is "new"); in the order v2, v1, v3 it is 1


# -- parts of a story: teasers, excerpts, a retracted run-together story ----------------------

MND = [
    "Taiwan's Ministry of National Defense said on Tuesday that it had detected 32 Chinese military aircraft and nine warships operating around the island over the previous 24 hours, the largest show of force since the summer drills.",
    "Of the aircraft, 21 crossed the median line of the Taiwan Strait and entered the northern, central and southwestern parts of Taiwan's air defense identification zone, the ministry said in a statement.",
    "The ministry said it had dispatched combat air patrols, navy vessels and land-based missile systems to monitor the activity, which came a day after President Lai Ching-te returned from a trip to the Pacific.",
    "Beijing has stepped up military pressure on Taiwan over the past four years, sending warplanes and ships into the area almost every day in what Taipei calls a campaign of gray zone harassment.",
    "China's Taiwan Affairs Office did not respond to a request for comment, but a spokesman last week accused Lai of seeking independence and warned that Beijing would not tolerate foreign interference.",
    "Analysts said the scale of the deployment suggested the People's Liberation Army was rehearsing a blockade of the island's main ports, a scenario that Taiwan's own annual exercises also simulate.",
]
MND_V2 = [
    "Chinese warplanes and navy ships swarmed around Taiwan for a second day on Wednesday, with 45 aircraft and 14 vessels tracked by the island's military, the defence ministry in Taipei said, calling the activity a serious provocation.",
    "Of the aircraft, 30 crossed the median line of the Taiwan Strait and entered the northern, central and southwestern parts of Taiwan's air defense identification zone, the ministry said in a statement on Wednesday.",
] + MND[2:]
KYIV = [
    "Kyiv's city council voted on Tuesday to open 40 more heated shelters before the end of the month, as Russian strikes on the power grid left parts of the Ukrainian capital without electricity for up to 12 hours a day.",
    "The shelters, run with volunteers and the State Emergency Service, will offer power banks, hot meals and internet access, the council said, adding that schools would serve as shelters on weekends.",
    "Mayor Vitali Klitschko said the city had stockpiled generators and fuel for the winter, but urged residents to prepare for longer outages if attacks on substations continued.",
]


def lines(*paragraphs: str) -> str:
    return "\n".join(paragraphs) + "\n"


def test_a_shorter_complete_excerpt_of_an_article_is_a_teaser_not_a_replacement(project):
    project.add_source("a.txt", lines(*MND))
    project.publish()
    before = project.feed_bytes()
    project.add_source("b.txt", lines(*MND[:3]))  # the first half, complete sentences
    project.publish(LATER)
    assert decisions(project, "b.txt") == ["teaser"]
    assert project.feed_bytes() == before


def test_a_cut_off_opening_of_an_old_version_never_replaces_the_current_text(project):
    project.add_source("0-v1.txt", lines(*MND[:4]))
    project.publish()
    project.add_source("1-v2.txt", lines(*MND_V2[:4]))
    project.publish(NOW + timedelta(hours=1))
    before = project.feed_bytes()
    project.add_source("2-t.txt", lines(*MND[:3], MND[3][:60].rsplit(" ", 1)[0]))
    project.publish(LATER)
    assert decisions(project, "2-t.txt") == ["teaser"]
    assert project.feed_bytes() == before and n_entries(project) == 1


# Not "t v2 v1" nor "v2 t v1": the teaser (the opening of v1) and v2 (v1 with its opening
# rewritten) share nothing, so they are two entries until v1 arrives, and entries never merge.
@pytest.mark.parametrize("order", ["v1 t v2", "v1 v2 t", "t v1 v2", "v2 v1 t"])
def test_a_teaser_joins_its_story_whatever_the_order_of_arrival(tmp_path, order):
    texts = {"v1": lines(*MND), "v2": lines(*MND_V2), "t": lines(MND[0], MND[1][:110].rsplit(" ", 1)[0])}
    project = new_project(tmp_path / "p")
    for i, name in enumerate(order.split()):
        project.add_source(f"{i}-{name}.txt", texts[name])
        project.publish(NOW + timedelta(hours=i))
    assert n_entries(project) == 1


def test_retracting_a_run_together_story_lets_its_corrected_parts_through(project):
    # run together on one line (the segmenter splits two articles back to back; not one line)
    project.add_source("day.txt", " ".join((*MND[:4], *KYIV)) + "\n")
    project.publish()
    (entry,) = feed(project).entries
    from publisher.store import Store
    store = Store.open(project.database, now=NOW)
    with store.transaction():
        store.retract(store.find_entry(entry.id), "mis-split", NOW + timedelta(minutes=5))
    store.close()
    (project.sources / "day.txt").write_text(lines(*MND[:4]) + "\n" + lines(*KYIV))  # fixed
    report = project.publish(LATER)
    assert counts(report, "day.txt") == ("new", 2, 0, 0)
    titles = [e.title for e in feed(project).entries]
    assert len(titles) == 2 and entry.id not in [e.id for e in feed(project).entries]
    assert {t.split(" ")[0] for t in titles} == {"Taiwan's", "Kyiv's"}
    # a cut-off copy of the retracted story stays out
    project.add_source("teaser.txt", " ".join((*MND[:4], *KYIV[:2], KYIV[2][:50].rsplit(" ", 1)[0])) + "\n")
    project.publish(LATER + timedelta(hours=1))
    assert decisions(project, "teaser.txt") == ["teaser"] and len(feed(project).entries) == 2


def test_a_feeds_updated_never_goes_back_when_a_retracted_story_changes_topic(project):
    project.add_source("a.txt", lines(*MND))
    project.publish()
    (entry,) = feed(project, "taiwan-security").entries
    from publisher.store import Store
    store = Store.open(project.database, now=NOW)
    with store.transaction():
        store.retract(store.find_entry(entry.id), None, NOW + timedelta(hours=1))
    store.close()
    project.publish(NOW + timedelta(hours=1))
    retracted_at = feed(project, "taiwan-security").feed.updated
    # a revision of it arrives that would leave the topic (Taiwan words swapped out)
    revised = [p.replace("Taiwan", "the island").replace("Taipei", "the capital") for p in MND]
    project.add_source("b.txt", lines(*revised))
    project.publish(LATER)
    assert decisions(project, "b.txt") == ["revision"]
    assert feed(project, "taiwan-security").feed.updated == retracted_at


def test_teasers_of_a_dozen_words_share_an_lsh_band_with_their_article():
    """Short teasers used to meet their article's 24-shingle lead bands only by chance."""
    stories = [st for path in sorted(DATA.glob("**/*.txt")) for st in wire.read(path.read_bytes()).stories]
    articles = [st for st in stories if len(dedup.shingles(st.paragraphs, st.kicker)) >= 40]
    assert len(articles) >= 15
    tried = found = 0
    for article in articles:
        keys = set(dedup.band_keys(dedup.shingles(article.paragraphs, article.kicker))[0])
        lede = dedup.comparable_paragraphs(article.paragraphs, article.kicker)[0].split(" ")
        for words in range(12, 18):
            if len(lede) <= words:
                continue
            teaser = dedup.shingles([" ".join(lede[:words])])
            tried += 1
            found += bool(keys & set(dedup.band_keys(teaser)[0]))
    assert tried >= 60 and found / tried >= 0.95, (found, tried)


@pytest.mark.parametrize("words", [13, 14, 16, 18])
def test_a_teaser_of_a_dozen_words_is_found_both_ways(tmp_path, words):
    teaser = " ".join(MND[0].split(" ")[:words])  # cut off mid-sentence
    assert dedup.MIN_SHINGLES <= len(dedup.shingles([teaser])) < 24
    for first, second in (("article", "teaser"), ("teaser", "article")):
        project = new_project(tmp_path / f"{words}-{first}")
        texts = {"article": lines(*MND), "teaser": lines(teaser)}
        project.add_source(f"1-{first}.txt", texts[first])
        project.publish()
        project.add_source(f"2-{second}.txt", texts[second])
        project.publish(LATER)
        assert decisions(project, f"2-{second}.txt") == ["teaser" if second == "teaser" else "fuller"]
        assert n_entries(project) == 1
