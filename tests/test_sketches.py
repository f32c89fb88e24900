"""Near-duplicate sketches: pinned values (stored data depends on them), a file's stories
sketched together as each alone, the hashing keeps the word 3-shingle sets of the text, exact
comparisons on the stored sorted arrays, and migration 0016 rewriting an old store's sketches."""

from __future__ import annotations

import json
import re
import sqlite3
import unicodedata
from datetime import timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import DATA, NOW
from publisher import dedup, frozen

PINS = json.loads((DATA / "dedup" / "pins.json").read_text(encoding="utf-8"))


# -- pinned values: a change to how any of them is computed must fail here --------------------

@pytest.mark.parametrize("pin", PINS["fingerprint"], ids=lambda p: p["text"][:20])
def test_fingerprint_and_normalise_are_pinned(pin):
    assert dedup.normalise(pin["text"]) == pin["normalised"]
    assert dedup.fingerprint(pin["text"]) == pin["fingerprint"]


@pytest.mark.parametrize("pin", PINS["sketch"], ids=lambda p: " ".join(p["paragraphs"])[:20] or "empty")
def test_shingles_minhash_and_band_keys_are_pinned(pin):
    got = dedup.sketch(pin["paragraphs"], pin["kicker"])
    assert got.shingles.all.tolist() == pin["shingles"]
    assert got.shingles.lead.tolist() == pin["lead"]
    assert got.signature.tolist() == pin["signature"]
    assert got.band_keys == pin["band_keys"] and got.lead_keys == pin["lead_keys"]
    # the one-text function computes the same
    keys, signature = dedup.band_keys(got.shingles)
    assert keys == pin["band_keys"] and signature.tolist() == pin["signature"]
    # and migration 0016's frozen copy writes exactly what ingest stores
    keys, signature, packed = frozen.sketch_v2(pin["paragraphs"], pin["kicker"])
    assert (keys, signature, packed) == (pin["band_keys"], np.array(pin["signature"], dtype=np.uint32).tobytes(),
                                         np.array(pin["shingles"], dtype=np.uint32).tobytes())


@pytest.mark.parametrize("pin", PINS["paragraph_keys"], ids=lambda p: p["paragraph"][:20])
def test_paragraph_keys_are_pinned(pin):
    assert sorted(dedup.paragraph_keys(pin["paragraph"])) == pin["keys"]


def test_a_paragraphs_keys_are_the_short_lead_band_keys_of_a_story_it_opens():
    lede = PINS["paragraph_keys"][0]["paragraph"]
    story = dedup.sketch([lede, "Officials said the vessels left by the evening, escorted by two frigates."])
    assert dedup.paragraph_keys(lede) <= set(story.band_keys[-dedup.LEAD_BANDS:])


# -- a file's stories together, each as alone --------------------------------------------------

WORDS = ["Kyiv", "said", "the", "on", "Monday", "3,400", "12.5%", "drone", "Straße", "ﬁne", "été", "e\u0301te\u0301",
         "東京都", "Москва", "snake_case", "“quoted”", "—", "…", "x²", "ΣΊΣΥΦΟΣ", "İstanbul", "\u200bzero", "a-b",
         "don't", "\x01", "\t", "\n", "  ", "A", "B", "C", "D", "E", "F", "G", "H"]
paragraph = st.lists(st.sampled_from(WORDS), max_size=40).map(" ".join)
story = st.tuples(st.lists(paragraph, max_size=5).map(tuple), st.sampled_from([None, "KICKER"]))


def same(a: dedup.Sketch, b: dedup.Sketch) -> bool:
    return (a.shingles == b.shingles and a.band_keys == b.band_keys and a.lead_keys == b.lead_keys
            and np.array_equal(a.signature, b.signature) and a.brief_words == b.brief_words)


@settings(max_examples=150, deadline=None)
@given(st.lists(story, max_size=12))
def test_sketches_of_a_file_are_the_sketch_of_each_story(stories):
    together = dedup.sketches(stories)
    assert len(together) == len(stories)
    assert all(same(t, dedup.sketch(p, k)) for t, (p, k) in zip(together, stories))


def test_sketches_of_a_file_larger_than_a_batch_are_the_sketch_of_each_story(monkeypatch):
    stories = [((f"Story {i} said the harbour at Muuga reopened on Monday after {i} days of repairs.",
                 "Officials said traffic would resume."), None) for i in range(40)]
    whole = dedup.sketches(stories)
    monkeypatch.setattr(dedup, "_BATCH_BYTES", 300)  # a few stories per batch
    monkeypatch.setattr(dedup, "_MINHASH_COLUMNS", 50)  # and MinHash in narrow slices
    assert all(same(a, b) for a, b in zip(whole, dedup.sketches(stories)))


# -- the hashing keeps the shingle sets: one distinct word triple, one distinct hash -----------

def word_triples(paragraphs, kicker) -> list[str]:
    """The word 3-shingles as strings, as dedup defined them before 0016 (re's \\w+ per paragraph
    of the NFKC-casefolded text; a paragraph of fewer words is one shingle), distinct, in order."""
    text = "\n".join(p.replace("\n", " ") for p in dedup.comparable_paragraphs(paragraphs, kicker))
    text = dedup._SPECIAL.sub(lambda m: dedup._REPLACEMENTS[m.group()], unicodedata.normalize("NFKC", text).casefold())
    grams: dict[str, None] = {}
    for line in text.split("\n"):
        words = re.findall(r"\w+", line)
        for gram in [" ".join(words[i:i + 3]) for i in range(len(words) - 2)] or [" ".join(words)]:
            if gram:
                grams.setdefault(gram, None)
    return list(grams)


@settings(max_examples=200, deadline=None)
@given(story, story)
def test_shingle_hashes_stand_for_the_word_triples_of_the_text(a, b):
    triples_a, triples_b = word_triples(*a), word_triples(*b)
    sh_a, sh_b = dedup.shingles(*a), dedup.shingles(*b)
    assert len(sh_a) == len(triples_a) and len(sh_a.lead) == min(len(triples_a), dedup.LEAD_SHINGLES)
    assert dedup.shared(sh_a, sh_b) == len(set(triples_a) & set(triples_b))
    # each triple hashes alone as it does in the text: the set, and the lead in text order
    alone = [int(dedup.shingles([t]).all[0]) for t in triples_a]
    assert sh_a.all.tolist() == sorted(alone) and sh_a.lead.tolist() == alone[:dedup.LEAD_SHINGLES]


# -- exact comparisons on the stored sorted arrays ---------------------------------------------

@settings(max_examples=200, deadline=None)
@given(st.sets(st.integers(0, 2**32 - 1), max_size=60), st.sets(st.integers(0, 2**32 - 1), max_size=60),
       st.sets(st.integers(0, 2**32 - 1), max_size=30))
def test_jaccard_and_containment_on_stored_arrays_are_the_set_values(only_a, only_b, both):
    a, b = only_a | both, only_b | both
    sa, sb = (dedup.unpack(np.array(sorted(s), dtype=np.uint32).tobytes()) for s in (a, b))
    assert dedup.shared(sa, sb) == len(a & b)
    assert dedup.jaccard(sa, sb) == (len(a & b) / len(a | b) if a and b else 0.0)
    assert dedup.containment(sa, sb) == (len(a & b) / len(a) if a else 0.0)


def test_a_stored_set_is_read_without_a_copy():
    packed = dedup.pack(dedup.shingles(["The harbour at Muuga reopened on Monday after nine days of repairs."]))
    assert dedup.unpack(packed).all.base is not None and dedup.unpack(packed).all.tobytes() == packed


# -- migration 0016: an old store's sketches rewritten -----------------------------------------

LEDE = ("The harbour at Muuga reopened on Monday after nine days of repairs to the quay damaged by the storm, "
        "the port authority said, and the first tankers were expected to berth by the evening.")
MORE = "Officials said traffic would be back to normal by the end of the week, weather permitting."


def test_migration_0016_rewrites_an_old_stores_sketches_and_keeps_its_entries(project):
    from publisher.store import Store

    project.add_source("a.txt", f"{LEDE}\n{MORE}\n\nThe council of Tartu approved a new budget for its schools.\n")
    project.publish()
    db = sqlite3.connect(project.database)
    before = db.execute("SELECT id, entry_id, name, current_version FROM entries ORDER BY id").fetchall()
    # the store as 0016 found it: sketches and bands as frozen.sketch_v1 made them
    db.execute("DELETE FROM lsh_bands")
    for version, kicker, paragraphs in db.execute("SELECT id, kicker, paragraphs FROM versions").fetchall():
        keys, signature, packed = frozen.sketch_v1(json.loads(paragraphs), kicker)
        db.execute("UPDATE sketches SET minhash = ?, shingles = ? WHERE version = ?", [signature, packed, version])
        db.executemany("INSERT INTO lsh_bands (band, version) VALUES (?, ?)", [(k, version) for k in keys])
    db.execute("DELETE FROM _sqlite_migrations WHERE name = '0016_sketches_v2'")
    db.commit()
    db.close()
    Store.open(project.database, now=NOW).close()  # migrates
    db = sqlite3.connect(project.database)
    assert db.execute("SELECT id, entry_id, name, current_version FROM entries ORDER BY id").fetchall() == before
    for version, kicker, paragraphs in db.execute("SELECT id, kicker, paragraphs FROM versions").fetchall():
        want = dedup.sketch(json.loads(paragraphs), kicker)
        assert db.execute("SELECT minhash, shingles FROM sketches WHERE version = ?", [version]).fetchone() == (
            want.signature.tobytes(), dedup.pack(want.shingles))
        assert sorted(r[0] for r in db.execute("SELECT band FROM lsh_bands WHERE version = ?", [version])) == \
            sorted(want.band_keys)
    db.close()
    # a revision that arrives after the migration finds its story through the rewritten index
    project.add_source("b.txt", f"{LEDE.replace('nine days', 'ten days')}\n{MORE}\n")
    report = project.publish(NOW + timedelta(hours=1))
    assert (report.sources[-1].new, report.sources[-1].revised) == (0, 1)
