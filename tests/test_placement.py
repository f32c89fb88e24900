"""dedup.place as a table: each case of tests/data/placement/cases.json is a new text, the
stored candidates and the Placement expected. Pure: no SQLite; the store only applies it."""

from __future__ import annotations

import json

import pytest

from conftest import DATA
from publisher import dedup
from publisher.model import Decision, OnNearDuplicate

TABLE = json.loads((DATA / "placement" / "cases.json").read_text())
TEXTS = {"base": TABLE["base"], **TABLE["texts"]}


def candidate(row: dict) -> dedup.Candidate:
    sketch = dedup.sketch(TEXTS[row["text"]])
    version = dedup.ComparedVersion(row["version"], sketch.shingles, row.get("truncated", False))
    return dedup.Candidate(entry=row["entry"], order=("2026-11-24", row["entry"]), current=version,
                           retracted=row.get("retracted", False))


@pytest.mark.parametrize("case", TABLE["cases"], ids=[c["name"] for c in TABLE["cases"]])
def test_placement(case):
    settings = dedup.DedupSettings(**{k: OnNearDuplicate(v) for k, v in case.get("settings", {}).items()})
    copy_of = tuple(case["copy_of"]) if "copy_of" in case else None
    placement = dedup.place(dedup.sketch(TEXTS[case["new"]]), [candidate(r) for r in case["stored"]], settings,
                            truncated=case.get("truncated", False), copy_of=copy_of, same_as=case.get("same_as"),
                            same_as_retracted=case.get("same_as_retracted", False))
    got = {key: getattr(placement, key) for key in case["expect"]}
    assert got == case["expect"]
    assert isinstance(placement.decision, Decision)
    if placement.compared is not None:
        assert 0 < placement.jaccard <= 1 and 0 < placement.containment <= 1


def test_candidates_are_ranked_by_estimated_similarity_and_weak_whole_text_hits_dropped():
    new = dedup.sketch(TEXTS["figures"])
    close, far = dedup.sketch(TEXTS["base"]), dedup.sketch(TEXTS["other"])
    hits = [dedup.BandHit(version=2, entry=20, via_lead=False, minhash=far.signature.tobytes()),
            dedup.BandHit(version=1, entry=10, via_lead=False, minhash=close.signature.tobytes()),
            dedup.BandHit(version=3, entry=30, via_lead=True, minhash=far.signature.tobytes())]
    ranked = dedup.rank_candidates(hits, new.signature, dedup.DedupSettings())
    assert list(ranked) == [10, 30]  # the far whole-text hit is dropped; a lead-band hit is kept
    assert ranked[10] == [1]
