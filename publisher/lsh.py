"""The LSH index's rules: which stored versions a new text is compared with. Pure functions, no I/O.

The store keeps each version's band keys as one blob (`pack_keys`, in `sketches.bands`: the
source of truth the index is rebuilt from) and the index itself in two tables: `lsh_recent`,
small, which takes every new version's keys (its pages stay in the cache, so a file's commit
writes a few pages, not one per key), merged in bulk into the big `lsh_bands` once it holds
RECENT_LIMIT keys (sorted: the big B-tree is walked in order). A lookup reads both; both are in
the database, so every process sees what any other wrote, and a fresh process starts with
nothing to load.

A lookup reads each of a new text's buckets newest first, at most BUCKET_LIMIT + 1 deep. From
the rows it gives, `select` keeps what is worth reading further:
- a bucket holding more than BUCKET_LIMIT versions is a phrase many stories share (a common
  opening, a minimum many texts have): only its newest CROWDED_DEPTH are kept (a revision
  comes soon after its story, and shares several bands; skipping such buckets whole lost 11
  of 6,332 matches on the 20k corpus, all among the 8 newest);
- each version is read once, with how many of the new text's whole-text and lead keys it shares.
Then `rank` judges the versions on their stored sketch rows, before any shingle set is unpacked
and compared exactly (dedup.decide):
- a version found through a whole-text band only must have an estimated Jaccard (the MinHash
  signatures) of at least `resemblance - ESTIMATE_MARGIN`, as dedup.rank_candidates does;
- a version found through a lead band (a teaser and its article share the opening) and not
  through the estimate must also look like one: its lead signature (LEAD_SIGNATURE values of
  the MinHash of its lead shingles, stored beside the sketch) agrees with the new text's in
  LEAD_AGREE values or more, or the whole signatures say the shorter text may lie inside the
  longer one (estimated containment at least CONTAINMENT_FLOOR); and a version sharing a
  single lead key (most unrelated ones: one common opening phrase) needs more of either.
  Versions stored before the lead signature was kept (migration 0014) have none: they are
  kept, as before.
The thresholds were chosen on bench/dedup.py's 20k corpus (seed 1): of 34,050 lead hits below
the estimate, 719 were teasers of the new text; the filter keeps all 719 and 14,844 in all
(docs/perf-lsh.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from publisher import dedup

BUCKET_LIMIT = 32  # versions read per band bucket (newest first); a bucket fuller than this is crowded
CROWDED_DEPTH = 12  # versions kept of a crowded bucket, its newest (a revision comes soon after its story)
RECENT_LIMIT = 8192  # keys in lsh_recent from which it is merged into lsh_bands (about 220 stories)
LEAD_SIGNATURE = 16  # values of the lead MinHash kept per version (uint16 each: 32 bytes)
LEAD_FROM = 32  # from this permutation on: the lead bands use the first 32, so a hit agrees there by construction
LEAD_AGREE = 4  # equal lead values (of LEAD_SIGNATURE) from which a lead hit shares its opening
CONTAINMENT_FLOOR = 0.4  # estimated containment from which a lead hit may be a teaser or its article


def pack_keys(keys: Iterable[int]) -> bytes:
    """A version's band keys as stored: signed 64-bit, little-endian."""
    return np.fromiter(keys, dtype="<i8").tobytes()


def unpack_keys(data: bytes | None) -> list[int]:
    return np.frombuffer(data, dtype="<i8").tolist() if data else []


def lead_signature(sketch: dedup.Sketch) -> bytes | None:
    """LEAD_SIGNATURE values of the MinHash of a text's lead shingles, on permutations its lead
    bands do not use (a lead hit agrees on a band's values by construction), low 16 bits each;
    None for a text whose lead is too short to have lead bands."""
    if not sketch.lead_keys:
        return None
    sig = dedup.signature(sketch.shingles.lead, LEAD_FROM + LEAD_SIGNATURE)[LEAD_FROM:]
    return (sig & 0xFFFF).astype("<u2").tobytes()


@dataclass(frozen=True, slots=True)
class Found:
    """A stored version some of a new text's buckets hold (read from the index)."""

    version: int
    whole: int  # whole-text keys shared
    lead: int  # lead keys shared


def select(keys: Sequence[int], lead_keys: int, buckets: dict[int, list[int]]) -> list[Found]:
    """The versions worth reading from the index's answer: `buckets` {key: its versions, newest
    first, at most BUCKET_LIMIT + 1}; the last `lead_keys` of `keys` are lead bands. A bucket
    fuller than BUCKET_LIMIT gives its newest CROWDED_DEPTH only. In version order."""
    lead = set(keys[len(keys) - lead_keys:]) if lead_keys else set()
    whole: dict[int, int] = {}
    via_lead: dict[int, int] = {}
    for key, versions in buckets.items():
        counts = via_lead if key in lead else whole
        for v in versions[: CROWDED_DEPTH if len(versions) > BUCKET_LIMIT else BUCKET_LIMIT]:
            counts[v] = counts.get(v, 0) + 1
    return [Found(v, whole.get(v, 0), via_lead.get(v, 0)) for v in sorted(whole.keys() | via_lead.keys())]


@dataclass(frozen=True, slots=True)
class Hit:
    """A found version with what its sketch row says of it (read from the store)."""

    version: int
    entry: int
    whole: int
    lead: int
    minhash: bytes  # its whole-text signature
    size: int  # its shingles
    lead_signature: bytes | None  # None: stored before 0014, or a lead too short for lead bands


def _estimated_containment(j: float, a: int, b: int) -> float:
    """The share of the smaller set inside the larger, from their Jaccard and sizes."""
    small = min(a, b)
    if not small:
        return 0.0
    return min(1.0, j * (a + b) / ((1.0 + j) * small))


def rank(hits: Sequence[Hit], sketch: dedup.Sketch, settings: dedup.DedupSettings,
         limit: int = dedup.CANDIDATE_LIMIT) -> dict[int, list[int]]:
    """The entries worth comparing exactly, the most similar first: {entry: its matched
    versions} (what dedup.rank_candidates gives, with lead hits filtered as the module says)."""
    min_estimate = max(0.0, settings.resemblance - dedup.ESTIMATE_MARGIN)
    estimates = dedup.estimated_jaccard([h.minhash for h in hits], sketch.signature).tolist()
    mine = lead_signature(sketch) if any(h.lead for h in hits) else None
    own = np.frombuffer(mine, dtype="<u2") if mine else None
    size = len(sketch.shingles)
    score: dict[int, float] = {}
    matched: dict[int, list[int]] = {}
    for hit, estimate in zip(hits, estimates):
        keep = estimate >= min_estimate
        if not keep and hit.lead:
            if hit.lead_signature is None or own is None:
                keep = True  # stored before its lead signature was kept: compared, as before
            else:
                agree = int((np.frombuffer(hit.lead_signature, dtype="<u2") == own).sum())
                inside = _estimated_containment(estimate, size, hit.size)
                keep = ((agree >= LEAD_AGREE or inside >= CONTAINMENT_FLOOR)
                        and (hit.lead >= 2 or agree >= LEAD_AGREE + 2 or inside >= CONTAINMENT_FLOOR + 0.2))
        if keep:
            score[hit.entry] = max(score.get(hit.entry, 0.0), estimate)
            matched.setdefault(hit.entry, []).append(hit.version)
    return {e: matched[e] for e in sorted(score, key=lambda e: -score[e])[:limit]}
