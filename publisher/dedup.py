"""Deciding whether two stories are the same. Pure functions, no I/O.

Exact dedup compares fingerprints of normalised text: two texts that differ only in Unicode
form, case, whitespace, quote or dash style are the same story. Near-duplicates (a revision,
a teaser of a longer article) are found with MinHash LSH and decided on exact shingle sets.
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import numpy as np

from publisher.model import Decision, OnNearDuplicate

_REPLACEMENTS = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "`": "'", "\u00b4": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"', "\u00ab": '"', "\u00bb": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-", "\u2212": "-",
    "\u2026": "...",
    # invisible: BOM / zero-width no-break space, zero-width (non-)joiners and space, soft hyphen
    "\ufeff": "", "\u200b": "", "\u200c": "", "\u200d": "", "\u2060": "", "\u00ad": "",
}
# One regex pass over the few characters to replace: much faster than str.translate with a dict.
_SPECIAL = re.compile("[" + "".join(_REPLACEMENTS) + "]")


def _replace(m: re.Match) -> str:
    return _REPLACEMENTS[m.group()]


def _canonical(text: str) -> str:
    """The characters of a text as dedup compares them: NFKC, casefolded, ASCII quotes and
    dashes, invisible characters dropped; whitespace as it was. Shared by normalise (the
    fingerprint) and the shingles."""
    text = unicodedata.normalize("NFKC", text).casefold()
    if text.isascii() and "`" not in text:  # none of _REPLACEMENTS can occur (the common case)
        return text
    return _SPECIAL.sub(_replace, text)


def normalise(text: str) -> str:
    """Canonical form of a text for comparison: NFKC, casefolded, ASCII quotes and dashes,
    invisible characters dropped, whitespace collapsed (line breaks included: paragraphing does not make a new story)."""
    # str.split() splits on exactly the characters re's \s matches (str.isspace), as the
    # re.sub(r"\s+", " ") + strip() this replaces did (pinned: tests/data/dedup/pins.json), ~10x faster
    return " ".join(_canonical(text).split())


def fingerprint(text: str) -> str:
    """Hex SHA-256 of the normalised text: equal for texts that are the same story verbatim."""
    return hashlib.sha256(normalise(text).encode("utf-8")).hexdigest()


# -- near-duplicates -------------------------------------------------------------------------
#
# A story is reduced to word 3-shingles of its normalised text, per paragraph (paragraphs can
# be reordered without changing the set), from the lede on: a kicker story's summary is the
# teaser's own deck, not text the full article shares. Candidates come from MinHash LSH band
# keys (looked up in SQLite by the store); the decision is made on the exact sets:
#
#   Jaccard(new, current) >= resemblance                  -> a revision of that entry
#   new inside current (containment), much shorter        -> a teaser: provenance only
#   current inside new, new longer                        -> a fuller version: a revision
#
# Constants below are part of the stored data (band keys, signatures): changing any of them
# needs a migration that recomputes the LSH index.
#
# How a shingle is hashed (since migration 0016; publisher.frozen.sketch_v2 is the frozen copy):
# the text (comparable_paragraphs, _canonical-ised) keeps its word characters (re's \w: str.isalnum
# or "_") and paragraph breaks, every other character a space; in its UTF-8 bytes, each word's
# hash is a polynomial over its bytes (base _WORD_BASE, mod 2**64) put through the splitmix64
# finaliser; a shingle of words w1 w2 w3 hashes to the top 32 bits of
# mix(w1*M1 + w2*M2 + w3*M3 + 3*M0); a paragraph of one or two words is one shingle (the
# missing words left out, the count in the M0 term). Every step is numpy arithmetic over whole
# arrays: a file's stories are hashed, MinHashed and banded in one pass (sketches).

SHINGLE_WORDS = 3
NUM_PERM = 64
FULL_BANDS, FULL_ROWS = 21, 3  # candidates from Jaccard ~0.35 up (P=0.5 at J=0.36)
LEAD_SHINGLES = 24  # the opening of the lede: a teaser and its article share it
LEAD_BANDS, LEAD_ROWS = 8, 4  # on the first 32 permutations of the lead's own signature
SHORT_LEAD = 12  # and the same again on its first 12: a teaser of a dozen words still meets it
MIN_SHINGLES = 10  # below this a text is too short to judge: one changed word in a one-line
#                   story ("Police said X died.") changes half of it; only exact copies count


def _constant(label: str) -> int:
    return int.from_bytes(hashlib.blake2b(label.encode(), digest_size=8).digest(), "big")


_U64 = np.uint64
# Fixed forever (derived from labels, not from a random generator that may change).
_A = np.array([_constant(f"minhash-a-{i}") | 1 for i in range(NUM_PERM)], dtype=_U64)
_B = np.array([_constant(f"minhash-b-{i}") for i in range(NUM_PERM)], dtype=_U64)
_BAND_MIX = np.array([_constant(f"band-mix-{i}") | 1 for i in range(max(FULL_ROWS, LEAD_ROWS))], dtype=_U64)
_GOLDEN = _U64(0x9E3779B97F4A7C15)
_WORD_BASE = _U64(_constant("word-base") | 1)
_SHINGLE_MUL = np.array([_constant(f"shingle-{i}") | 1 for i in range(SHINGLE_WORDS + 1)], dtype=_U64)
_MIX1, _MIX2 = _U64(0xBF58476D1CE4E5B9), _U64(0x94D049BB133111EB)  # splitmix64's finaliser
_SALTED = {salt: (np.arange(FULL_BANDS, dtype=_U64) + _U64(salt)) * _GOLDEN for salt in (0, 1000, 2000)}
_EMPTY = np.zeros(0, dtype=np.uint32)
_EMPTY.flags.writeable = False
_STORY_BREAK = "\x01"  # between the texts of a batch (a word-only text has no control characters)
_BATCH_BYTES = 1 << 20  # texts hashed together at most (bounds the arrays of a huge file)
_MINHASH_COLUMNS = 2048  # shingles MinHashed in one (columns x NUM_PERM) array at most


class _WordsOnly(dict):
    """str.translate table: a word character (re's \\w: str.isalnum or "_") and a paragraph
    break ("\\n") stay, every other character becomes a space. Filled as characters are met."""

    def __missing__(self, code: int) -> int:
        char = chr(code)
        kept = code if char.isalnum() or char == "_" or char == "\n" else 32
        self[code] = kept
        return kept


_WORDS_ONLY = _WordsOnly()


@dataclass(frozen=True, slots=True, eq=False)
class Shingles:
    """What near-duplicate detection needs of a text."""

    all: np.ndarray  # uint32, sorted, distinct: the hash of every shingle, from the lede on
    lead: np.ndarray  # uint32: the first LEAD_SHINGLES distinct shingles, in text order

    def __len__(self) -> int:
        return len(self.all)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Shingles) and np.array_equal(self.all, other.all)
                and np.array_equal(self.lead, other.lead))

    __hash__ = None  # type: ignore[assignment]


def comparable_paragraphs(paragraphs: Sequence[str], kicker: str | None) -> Sequence[str]:
    """The paragraphs dedup compares: a kicker story's summary (its deck) is left out."""
    return paragraphs[1:] if kicker and len(paragraphs) == 2 else paragraphs


def _word_text(paragraphs: Sequence[str], kicker: str | None) -> str:
    """A story's compared text as shingles read it: folded, words and paragraph breaks only."""
    text = "\n".join(p.replace("\n", " ") for p in comparable_paragraphs(paragraphs, kicker))
    return _canonical(text).translate(_WORDS_ONLY)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser over a uint64 array (wrapping arithmetic)."""
    x = x ^ (x >> _U64(30))
    x *= _MIX1
    x ^= x >> _U64(27)
    x *= _MIX2
    x ^= x >> _U64(31)
    return x


_powers = np.ones(1, dtype=_U64)  # _WORD_BASE ** i, grown to the longest word met


def _word_powers(n: int) -> np.ndarray:
    global _powers
    if len(_powers) < n:
        grown = np.full(n, _WORD_BASE, dtype=_U64)
        grown[0] = 1
        _powers = np.cumprod(grown, dtype=_U64)  # wraps mod 2**64, as the hash does
    return _powers


def _shingle_hashes(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(shingle hashes uint32 in text order, the text each belongs to) of word-only texts."""
    data = np.frombuffer(_STORY_BREAK.join(texts).encode("utf-8"), dtype=np.uint8)
    word = np.zeros(len(data) + 2, dtype=bool)
    word[1:-1] = data > 32  # every byte but a space, a paragraph break and a story break is a word's
    changes = np.flatnonzero(word[1:] != word[:-1])  # a word's first byte, the byte after its last, ...
    starts, ends = changes[0::2], changes[1::2]
    count = len(starts)
    if not count:
        return _EMPTY, np.zeros(0, dtype=np.intp)
    lengths = ends - starts
    # polynomial hash of each word's bytes: sum of byte * BASE ** (bytes after it in the word)
    positions = np.flatnonzero(word) - 1
    after = np.repeat(ends - 1, lengths) - positions
    # (integer arrays wrap silently mod 2**64, as these hashes mean to: no np.errstate needed)
    terms = data[positions].astype(_U64) * _word_powers(int(lengths.max()))[after]
    words = _mix(np.add.reduceat(terms, np.cumsum(lengths) - lengths, dtype=_U64))
    # which paragraph and which text each word is in: the breaks before it (a story break is a paragraph's too)
    paragraph = np.searchsorted(np.flatnonzero(data < 32), starts)
    story = np.searchsorted(np.flatnonzero(data == 1), starts) if len(texts) > 1 else np.zeros(count, np.intp)
    # shingle k: words k, k+1, k+2 of one paragraph; a paragraph of fewer is one shingle
    pad = np.concatenate([paragraph, [-1, -2]])
    second, third = pad[1:count + 1] == paragraph, pad[2:count + 2] == paragraph
    first = np.ones(count, dtype=bool)
    first[1:] = paragraph[1:] != paragraph[:-1]
    kept = third | first
    padded = np.concatenate([words, np.zeros(2, dtype=_U64)])
    second, third = second.astype(_U64), third.astype(_U64)
    value = (words * _SHINGLE_MUL[1] + padded[1:count + 1] * second * _SHINGLE_MUL[2]
             + padded[2:count + 2] * third * _SHINGLE_MUL[3] + (1 + second + third) * _SHINGLE_MUL[0])
    hashes = (_mix(value[kept]) >> _U64(32)).astype(np.uint32)
    return hashes, story[kept]


def _grouped_signatures(values: np.ndarray, offsets: np.ndarray, perms: int) -> np.ndarray:
    """MinHash signatures (groups x perms, uint32) of consecutive groups of `values`
    (group g: values[offsets[g]:offsets[g + 1]]); an empty group's is all 0xFFFFFFFF."""
    groups = len(offsets) - 1
    out = np.full((groups, perms), 0xFFFFFFFF, dtype=np.uint32)
    a, b = _A[None, :perms], _B[None, :perms]
    g = 0
    while g < groups:
        # as many whole groups as fit _MINHASH_COLUMNS (at least one): the (columns x perms)
        # array stays in the CPU's cache, its rows contiguous for the minimum over each group
        end = max(g + 1, int(np.searchsorted(offsets, offsets[g] + _MINHASH_COLUMNS, side="right")) - 1)
        end = min(end, groups)
        lo, hi = offsets[g], offsets[end]
        if hi > lo:
            bounds = offsets[g:end]
            filled = bounds < offsets[g + 1:end + 1]
            h = values[lo:hi].astype(_U64)[:, None] * a  # (integer arrays wrap silently)
            h += b
            # the shift is monotone: shift the minima, not every value
            out[g:end][filled] = np.minimum.reduceat(h, bounds[filled] - lo, axis=0) >> _U64(32)
        g = end
    return out


def _band_matrix(signatures: np.ndarray, bands: int, rows: int, salt: int) -> np.ndarray:
    """Band keys (texts x bands, int64: SQLite integers are signed 64-bit) of signatures (texts x perms)."""
    rowed = signatures[:, : bands * rows].astype(_U64).reshape(len(signatures), bands, rows)
    mixed = (rowed * _BAND_MIX[:rows]).sum(axis=2, dtype=_U64)
    mixed ^= _SALTED[salt][:bands]
    return mixed.view(np.int64)


def _bands(sig: np.ndarray, bands: int, rows: int, salt: int) -> list[int]:
    return _band_matrix(sig[None, :], bands, rows, salt)[0].tolist()


def shingles(paragraphs: Sequence[str], kicker: str | None = None) -> Shingles:
    return sketches([(paragraphs, kicker)], brief=False)[0].shingles


def pack(sh: Shingles) -> bytes:
    """The shingle set as stored: sorted uint32."""
    return sh.all.tobytes()


def unpack(data: bytes) -> Shingles:
    """A stored shingle set (its lead is not stored: only new texts need one). No copy: the
    stored bytes are the sorted array the exact comparisons search."""
    return Shingles(np.frombuffer(data, dtype=np.uint32), _EMPTY)


def signature(hashes: Sequence[int] | np.ndarray, perms: int = NUM_PERM) -> np.ndarray:
    """MinHash signature: for each of `perms` hash functions (multiply-shift), the minimum."""
    x = np.asarray(hashes, dtype=_U64)
    return _grouped_signatures(x, np.array([0, len(x)]), perms)[0]


def band_keys(sh: Shingles) -> tuple[list[int], np.ndarray]:
    """(LSH band keys of the whole text and of its lead, the whole text's signature)."""
    full = signature(sh.all)
    keys = _bands(full, FULL_BANDS, FULL_ROWS, salt=0)
    if len(sh.lead) >= MIN_SHINGLES:
        keys += _bands(signature(sh.lead, LEAD_BANDS * LEAD_ROWS), LEAD_BANDS, LEAD_ROWS, salt=1000)
        keys += _bands(signature(sh.lead[:SHORT_LEAD], LEAD_BANDS * LEAD_ROWS), LEAD_BANDS, LEAD_ROWS, salt=2000)
    return keys, full


def estimated_jaccard(stored: Sequence[bytes], sig: np.ndarray) -> np.ndarray:
    """Jaccard of `sig` with each stored signature, estimated (the share of equal minima)."""
    if not stored:
        return np.zeros(0)
    matrix = np.frombuffer(b"".join(stored), dtype=np.uint32).reshape(len(stored), NUM_PERM)
    return (matrix == sig[None, :]).mean(axis=1)


def shared(a: Shingles, b: Shingles) -> int:
    """How many shingles two sets share (binary search of the smaller in the larger)."""
    small, large = (a.all, b.all) if len(a.all) <= len(b.all) else (b.all, a.all)
    if not len(small):
        return 0
    at = np.searchsorted(large, small)
    np.minimum(at, len(large) - 1, out=at)
    return int(np.count_nonzero(large[at] == small))


def jaccard(a: Shingles, b: Shingles) -> float:
    if not len(a) or not len(b):
        return 0.0
    both = shared(a, b)
    return both / (len(a) + len(b) - both)


def containment(inner: Shingles, outer: Shingles) -> float:
    """The share of `inner`'s shingles that are also in `outer`."""
    return shared(inner, outer) / len(inner) if len(inner) else 0.0


@dataclass(frozen=True, slots=True)
class Sketch:
    """Everything near-duplicate detection computes of a new text, once."""

    shingles: Shingles
    band_keys: list[int]  # whole-text bands, then lead bands
    signature: np.ndarray  # the whole text's MinHash
    lead_keys: int  # how many of band_keys (the last ones) are lead bands
    brief_words: tuple[int, ...] = ()  # a brief's content words (brief_words), as the store keeps them


def sketch(paragraphs: Sequence[str], kicker: str | None = None) -> Sketch:
    """The sketch of one story (sketches of one)."""
    return sketches([(paragraphs, kicker)])[0]


def sketches(stories: Iterable[tuple[Sequence[str], str | None]], *, brief: bool = True) -> list[Sketch]:
    """The sketch of each story, (paragraphs, kicker) pairs: a file's stories tokenised,
    shingled, MinHashed and banded together, each exactly as `sketch` of it alone."""
    stories = list(stories)
    texts = [_word_text(p, k) for p, k in stories]
    out: list[Sketch] = []
    start = 0
    while start < len(texts):  # batches of at most _BATCH_BYTES of text (one story at least)
        end, size = start + 1, len(texts[start])
        while end < len(texts) and size + len(texts[end]) <= _BATCH_BYTES:
            size += len(texts[end])
            end += 1
        out += _sketch_batch(stories[start:end], texts[start:end], brief)
        start = end
    return out


def _sketch_batch(stories: Sequence[tuple[Sequence[str], str | None]], texts: Sequence[str],
                  brief: bool) -> list[Sketch]:
    count = len(texts)
    hashes, owner = _shingle_hashes(texts)
    # distinct per text: sorted (the stored set) and in text order (the lead)
    unique, first_at = np.unique((owner.astype(_U64) << _U64(32)) | hashes, return_index=True)
    sizes = np.bincount((unique >> _U64(32)).astype(np.intp), minlength=count)
    offsets = np.zeros(count + 1, dtype=np.intp)
    np.cumsum(sizes, out=offsets[1:])
    ordered = (unique & _U64(0xFFFFFFFF)).astype(np.uint32)
    in_text = hashes[np.sort(first_at)]
    rank = np.arange(len(in_text)) - np.repeat(offsets[:-1], sizes)
    full = _grouped_signatures(ordered, offsets, NUM_PERM)
    full_keys = _band_matrix(full, FULL_BANDS, FULL_ROWS, salt=0).tolist()
    leads = sizes >= MIN_SHINGLES
    lead_keys: list[list[int]] = [[] for _ in range(count)]
    if leads.any():  # the lead's signatures, then the short lead's, in one call
        taken = np.concatenate([np.minimum(sizes, LEAD_SHINGLES), np.minimum(sizes, SHORT_LEAD)])
        bounds = np.zeros(2 * count + 1, dtype=np.intp)
        np.cumsum(taken, out=bounds[1:])
        values = np.concatenate([in_text[rank < LEAD_SHINGLES], in_text[rank < SHORT_LEAD]])
        signatures = _grouped_signatures(values, bounds, LEAD_BANDS * LEAD_ROWS)
        keys = np.concatenate([_band_matrix(signatures[:count], LEAD_BANDS, LEAD_ROWS, salt=1000),
                               _band_matrix(signatures[count:], LEAD_BANDS, LEAD_ROWS, salt=2000)], axis=1).tolist()
        for i in np.flatnonzero(leads).tolist():
            lead_keys[i] = keys[i]
    out = []
    bounds = offsets.tolist()
    for i, (paragraphs, kicker) in enumerate(stories):
        lo, hi = bounds[i], bounds[i + 1]
        sh = Shingles(ordered[lo:hi], in_text[lo:lo + min(hi - lo, LEAD_SHINGLES)])
        words = (brief_words(comparable_paragraphs(paragraphs, kicker))
                 if brief and is_brief(paragraphs, kicker) else ())
        out.append(Sketch(sh, full_keys[i] + lead_keys[i], full[i], len(lead_keys[i]), words))
    return out


@dataclass(frozen=True, slots=True)
class BandHit:
    """A stored version that shares an LSH band with a new text (a row the store read)."""

    version: int
    entry: int
    via_lead: bool  # found through a lead band (a teaser and its article share the opening)
    minhash: bytes  # its stored signature


#: 64-permutation estimates have a standard deviation of ~0.06 around J = 0.4: a margin of
#: 0.15 below `resemblance` keeps nearly every true revision and drops the crowd of weak candidates.
ESTIMATE_MARGIN = 0.15
CANDIDATE_LIMIT = 16  # entries compared exactly, the most similar first


@dataclass(frozen=True, slots=True)
class DedupSettings:
    on_near_duplicate: OnNearDuplicate = OnNearDuplicate.REVISE
    resemblance: float = 0.4  # Jaccard from which two texts are versions of one story
    containment: float = 0.8  # share of a shorter text inside a longer one for a teaser


def rank_candidates(hits: Sequence[BandHit], signature: np.ndarray, settings: DedupSettings,
                    limit: int = CANDIDATE_LIMIT) -> dict[int, list[int]]:
    """The entries worth comparing exactly, the most similar first: {entry: its matched
    versions}. A version found through a whole-text band must have an estimated Jaccard of at
    least `resemblance - ESTIMATE_MARGIN`; one found through a lead band is kept. Ranked by the
    estimate alone: stories that merely share an opening must not crowd a close whole-text
    match out of the `limit`."""
    min_estimate = max(0.0, settings.resemblance - ESTIMATE_MARGIN)
    estimates = estimated_jaccard([h.minhash for h in hits], signature).tolist()
    score: dict[int, float] = {}
    matched: dict[int, list[int]] = {}
    for hit, estimate in zip(hits, estimates):
        if hit.via_lead or estimate >= min_estimate:
            score[hit.entry] = max(score.get(hit.entry, 0.0), estimate)
            matched.setdefault(hit.entry, []).append(hit.version)
    return {e: matched[e] for e in sorted(score, key=lambda e: -score[e])[:limit]}


@dataclass(frozen=True, slots=True)
class ComparedVersion:
    """One stored version of a candidate entry, as compared."""

    id: int
    shingles: Shingles
    truncated: bool = False


@dataclass(frozen=True, slots=True)
class Candidate:
    """A stored entry that LSH found: its current version and the other versions that matched."""

    entry: int
    order: tuple  # sorts oldest first (first_seen, id): ties go to the oldest entry
    current: ComparedVersion
    others: tuple[ComparedVersion, ...] = ()
    retracted: bool = False


@dataclass(frozen=True, slots=True)
class Match:
    entry: int
    kind: Decision  # REVISION | FULLER (a longer text containing it) | TEASER (a part of it)
    jaccard: float
    containment: float  # of the shorter text in the longer
    version: int  # the version it was compared with

    @property
    def replaces(self) -> bool:
        """Whether the new text becomes the entry's current version (mode "revise")."""
        return self.kind.revises


#: A shorter text replaces a stored one only if it keeps at least this share of its shingles
#: (an editor's cut, an update cut off where the first text was); less, and it is clearly
#: shorter: a teaser, a lead, a summary, or one of two stories that a bad split had run
#: together. Chosen on tests/data/understanding (tune) and bench/dedup.py's labelled pairs.
KEEP_MIN = 0.6


def compare(new: Shingles, stored: Shingles, settings: DedupSettings, *, new_truncated: bool = False,
            stored_truncated: bool = False, tombstone: bool = False) -> tuple[Decision, float, float] | None:
    """(kind, jaccard, containment) when `new` is a version of the story `stored` is, else None.

    A new text no longer than the stored one:
    - clearly shorter (keeps less than KEEP_MIN of the stored shingles) and inside it or like
      it: a teaser, whether or not it changes words (it never replaces a fuller text); of a
      retracted story only a cut-off one is (a complete part is a story of its own that the
      retracted one had swallowed);
    - covering most of the stored text: a revision when it changes words (it has shingles the
      stored text lacks: new figures, a corrected name), cut off or not, and when it only
      leaves out (an editor's cut); except that a cut-off text that adds nothing to a complete
      one is a teaser (a truncated copy is not an update).
    A longer text: a revision when alike (Jaccard >= resemblance), else a fuller version when
    it contains the stored text.
    """
    if len(new) < MIN_SHINGLES or len(stored) < MIN_SHINGLES:
        return None
    both = shared(new, stored)  # once: jaccard and both containments follow from it
    j = both / (len(new) + len(stored) - both)
    if len(new) <= len(stored):
        inside = both / len(new)
        keeps = both / len(stored)
        if keeps < KEEP_MIN:
            if inside >= settings.containment or j >= settings.resemblance:
                return None if tombstone and not new_truncated else (Decision.TEASER, j, inside)
            return None
        adds = inside < 1.0
        if not adds and new_truncated and not stored_truncated:
            return Decision.TEASER, j, inside
        if j >= settings.resemblance or not adds:
            return Decision.REVISION, j, inside
        return None
    inside = both / len(stored)
    if j >= settings.resemblance:
        return Decision.REVISION, j, inside
    if inside >= settings.containment:
        return Decision.FULLER, j, inside
    return None


def decide(new: Shingles, candidates: Sequence[Candidate], settings: DedupSettings,
           new_truncated: bool = False) -> Match | None:
    """The entry `new` is a version of, or None when it is a story of its own.

    Each candidate is judged on its current version; failing that, on the other versions LSH
    found of it (a match there can make a revision or a teaser: the result then does not
    depend on the order the versions arrived in). Of the entries that pass, the most similar
    (Jaccard) wins, ties to the oldest. Entries are never merged."""
    best: tuple | None = None
    for cand in candidates:
        version = cand.current
        found = compare(new, version.shingles, settings, new_truncated=new_truncated,
                        stored_truncated=version.truncated, tombstone=cand.retracted)
        if found is None:
            for other in cand.others:
                got = compare(new, other.shingles, settings, new_truncated=new_truncated,
                              stored_truncated=other.truncated, tombstone=cand.retracted)
                if got and (found is None or got[1] > found[1]):
                    kind = Decision.TEASER if got[0] == Decision.TEASER else Decision.REVISION
                    found, version = (kind, got[1], got[2]), other
        if found:
            kind, j, c = found
            key = (-j, cand.order, cand.entry)
            if best is None or key < best[0]:
                best = (key, Match(cand.entry, kind, round(j, 4), round(c, 4), version.id))
    return best[1] if best else None


@dataclass(frozen=True, slots=True)
class Placement:
    """What to do with one arriving story: the decision, as data, that the store applies."""

    decision: Decision
    entry: int | None = None  # the entry it joins; None: a new entry
    version: int | None = None  # DUPLICATE: the stored version it is a copy of
    current: bool = True  # a new text: it becomes its entry's current version
    compared: int | None = None  # the stored version it was judged against
    jaccard: float | None = None
    containment: float | None = None

    @property
    def stores_text(self) -> bool:
        """A text not stored before (every decision but a copy)."""
        return self.decision != Decision.DUPLICATE


def place(new: Sketch | None, candidates: Iterable[Candidate], settings: DedupSettings, *,
          truncated: bool = False, copy_of: tuple[int, int] | None = None, same_as: int | None = None,
          same_as_retracted: bool = False) -> Placement:
    """Where a new story goes.

    copy_of:  (version, entry) of a stored text with the same fingerprint: a copy, whatever
              else is known (never a revision back to an old text);
    same_as:  the entry a feed's item became when it was seen before: a changed text of it is
              a revision of that entry (the feed says it is the same story) unless it matches
              another entry; a retracted one stays out (its new text is a near-duplicate).
    Otherwise `decide` judges the candidates: no match is a new entry; a teaser is history only;
    a revision or fuller text replaces the current one when on_near_duplicate = "revise"."""
    if copy_of is not None:
        return Placement(Decision.DUPLICATE, entry=copy_of[1], version=copy_of[0], current=False)
    assert new is not None
    match = decide(new.shingles, list(candidates), settings, truncated)
    if same_as is not None and (match is None or match.entry != same_as):
        revise = settings.on_near_duplicate == OnNearDuplicate.REVISE and not same_as_retracted
        return Placement(Decision.REVISION if revise else Decision.NEAR_DUPLICATE, entry=same_as, current=revise)
    if match is None:
        return Placement(Decision.NEW)
    return _placement(match, settings)


def _placement(match: Match, settings: DedupSettings) -> Placement:
    revise = match.replaces and settings.on_near_duplicate == OnNearDuplicate.REVISE
    decision = match.kind if revise or match.kind == Decision.TEASER else Decision.NEAR_DUPLICATE
    return Placement(decision, entry=match.entry, current=revise, compared=match.version,
                     jaccard=match.jaccard, containment=match.containment)


@dataclass(frozen=True, slots=True)
class SourceDate:
    """A wire text's source date: an instant (its file's modification time, UTC), or the day
    its file's name gives (`by_name`: "2026-11-24_evening.txt" is that day in the writer's time
    zone, whichever it is)."""

    at: datetime
    by_name: bool = False

    def span(self) -> tuple[datetime, datetime]:
        """The UTC instants it may stand for: a named day, anywhere from UTC-12 to UTC+14."""
        if not self.by_name:
            return self.at, self.at
        start = self.at.replace(hour=0, minute=0, second=0, microsecond=0)
        return start - NAMED_DAY_EAST, start + timedelta(days=1) + NAMED_DAY_WEST


#: How far a named day reaches into the UTC days beside it (time zones run from UTC+14 to UTC-12).
NAMED_DAY_EAST, NAMED_DAY_WEST = timedelta(hours=14), timedelta(hours=12)
#: Modification times closer than this say nothing of which text is older: files copied in one
#: go (`cp b.txt a.txt sources/`) get their times in the order they were copied.
SAME_TIME = timedelta(hours=1)


def is_before(a: SourceDate, b: SourceDate) -> bool:
    """Whether source date `a` is certainly before `b`: two named days by the day (one writer's
    calendar); otherwise only when all of `a` falls more than SAME_TIME before all of `b` (a
    named day against a modification time: never by a time zone's worth)."""
    if a.by_name and b.by_name:
        return a.at.date() < b.at.date()
    return a.span()[1] + SAME_TIME < b.span()[0]


def older(placement: Placement, dated: SourceDate | None, current_dated: SourceDate | None) -> Placement:
    """A revision (a text that changes words of its entry's current one) from a source dated
    before that text's source (`is_before`: a file named or saved earlier, read later, or read
    again) is an older version of the story: kept as history (Decision.OLDER), the newer text
    stays shown. When that is not certain (the same day, a named day against a modification
    time within a time zone of it, a date unknown), arrival order decides. A fuller text (it
    contains the shown one and adds to it) replaces it whatever its date: it loses nothing."""
    if (placement.decision != Decision.REVISION or not placement.current or placement.entry is None
            or dated is None or current_dated is None or not is_before(dated, current_dated)):
        return placement
    return replace(placement, decision=Decision.OLDER, current=False)


@dataclass(frozen=True, slots=True)
class Rehoming:
    """A stored version that goes to the entry a split made (dedup.rehome)."""

    version: int
    current: bool  # it becomes that entry's current text


def rehome(split_off: tuple[ComparedVersion, SourceDate | None], kept: ComparedVersion,
           others: Sequence[tuple[ComparedVersion, SourceDate | None]], settings: DedupSettings) -> list[Rehoming]:
    """After `publisher reread` split a stored story in two, which of the old entry's other
    versions (`others`, oldest first, with their source dates) are versions of the part split
    off (`split_off`: the new entry's text and date) rather than of the part the old entry kept
    (`kept`): a version of it and closer to it than to the kept part. Each moves; of those that
    would revise the split-off text (a revision or a fuller text) and are not certainly older
    than it by their dates, the last to arrive that is not certainly older than another
    becomes the new entry's current text."""
    text, dated = split_off
    moves, shown, shown_when = [], None, None
    for version, when in others:
        to_split = compare(version.shingles, text.shingles, settings, new_truncated=version.truncated,
                           stored_truncated=text.truncated)
        if to_split is None:
            continue
        to_kept = compare(version.shingles, kept.shingles, settings, new_truncated=version.truncated,
                          stored_truncated=kept.truncated)
        if to_kept is not None and to_kept[1] >= to_split[1]:
            continue
        moves.append(version.id)
        if to_split[0].revises and not (when and dated and is_before(when, dated)) \
                and not (when and shown_when and is_before(when, shown_when)):
            shown, shown_when = version.id, when  # a later arrival, unless certainly older than the one kept
    return [Rehoming(v, v == shown) for v in moves]


def as_copy(placement: Placement) -> Placement:
    """A placement turned into a copy of the version it was compared with (a text that differs
    from it only by what the segmentation rules now leave out)."""
    assert placement.compared is not None and placement.entry is not None
    return Placement(Decision.DUPLICATE, entry=placement.entry, version=placement.compared, current=False)


# -- recognising a paragraph again (story boundaries by recurrence) ---------------------------

# a file's paragraphs are keyed up to three times (own ledes, inside, gaps): the latest kept
_PARAGRAPH_KEYS: dict[str, frozenset[int]] = {}
_PARAGRAPH_KEYS_KEPT = 4096


def paragraph_keys(paragraph: str) -> frozenset[int]:
    """What recognises a paragraph when it comes again: the short-lead band keys of its opening
    (its first SHORT_LEAD shingles), the very keys every stored version's lede has in the LSH
    index, so an update that changed a figure in it still meets it; a paragraph with fewer
    shingles is known only by the hash of its normalised text (an exact copy)."""
    return paragraphs_keys([paragraph])[0]


def paragraphs_keys(paragraphs: Sequence[str]) -> list[frozenset[int]]:
    """paragraph_keys of each paragraph; those not met lately sketched together (one numpy pass)."""
    found = {p: _PARAGRAPH_KEYS.get(p) for p in paragraphs}
    missing = [p for p, keys in found.items() if keys is None]
    for paragraph, sk in zip(missing, sketches([((p,), None) for p in missing], brief=False)):
        if len(sk.shingles.lead) >= SHORT_LEAD:  # its last LEAD_BANDS keys: the short lead's
            found[paragraph] = frozenset(sk.band_keys[-LEAD_BANDS:])
        else:
            found[paragraph] = frozenset((int.from_bytes(
                hashlib.blake2b(normalise(paragraph).encode(), digest_size=8).digest(), "big", signed=True),))
    if missing:
        if len(_PARAGRAPH_KEYS) + len(missing) > _PARAGRAPH_KEYS_KEPT:
            _PARAGRAPH_KEYS.clear()
        _PARAGRAPH_KEYS.update((p, found[p]) for p in missing)
    return [found[p] for p in paragraphs]  # type: ignore[misc]


def story_keys(paragraphs: Sequence[str], kicker: str | None = None) -> tuple[frozenset[int], ...]:
    """paragraph_keys of each paragraph dedup compares (a kicker story's summary left out): the
    lede first."""
    return tuple(paragraphs_keys(list(comparable_paragraphs(paragraphs, kicker))))


def stories_keys(texts: Sequence[tuple[str | None, Sequence[str]]],
                 lede_in: Collection[int] | None = None) -> list[tuple[frozenset[int], ...]]:
    """story_keys of each (kicker, paragraphs), all sketched in one pass; with `lede_in`, only
    those whose lede has one of these keys (the others are left out, unsketched past the lede)."""
    compared = [comparable_paragraphs(paragraphs, kicker) for kicker, paragraphs in texts]
    compared = [c for c in compared if c]
    if lede_in is not None:
        wanted = lede_in if isinstance(lede_in, (set, frozenset)) else frozenset(lede_in)
        ledes = paragraphs_keys([c[0] for c in compared])
        compared = [c for c, keys in zip(compared, ledes) if not keys.isdisjoint(wanted)]
    flat = paragraphs_keys([p for c in compared for p in c])
    out, at = [], 0
    for c in compared:
        out.append(tuple(flat[at : at + len(c)]))
        at += len(c)
    return out


# -- briefs: a one-paragraph lead or summary against its article -------------------------------
#
# A writer's teaser is often one line that paraphrases its article (an ALL-CAPS kicker, then a
# sentence or two in other words): it shares its names, figures and key words with the article
# but few word triples, so shingle containment misses it. A BRIEF (one paragraph that dedup
# compares, at most BRIEF_MAX_WORDS words) is therefore also judged against a multi-paragraph
# ARTICLE at least BRIEF_RATIO times its length on its content words: lower-cased, stop words
# dropped, numbers kept, plurals and inflections folded; names and numbers weigh NAME_WEIGHT.
# Enough of them inside the article: the brief is a teaser of it (after it) or the article is
# the fuller text of the brief's entry (after it). Never between two articles (another desk's
# telling of the same event is a story of its own) nor between two briefs.

BRIEF_MAX_WORDS = 70
BRIEF_RATIO = 2.5
NAME_WEIGHT = 2.0
FIGURE_WEIGHT = 3.0
#: The weighted share of a brief's content words found in its article from which it is its
#: teaser. Chosen on tests/data/understanding (tune, heldout, fresh: see docs/dedup.md).
BRIEF_CONTAINMENT = 0.75
BRIEF_MIN_WORDS = 6  # content words below which a brief is too short to judge this way

STOP_WORDS = frozenset("""
a about above after again against ago all almost also although am among an and another any are around as at
be because been before being below between both but by can could did do does doing done down during each
either else ever every few for from further had has have having he her here hers herself him himself his how
however i if in into is it its itself just last least less like made make many may me might more most much
must my near nearly neither no nor not now of off on once one only or other others our ours out over own
per put rather s said same say says saying she should since so some such than that the their theirs them
then there these they this those though through to too toward towards under until up upon us very was we
were what when where whether which while who whom whose why will with within without would yet you your
""".split())
_TOKEN = re.compile(r"[^\W_]+")
#: Figures written out weigh as figures do: "the ninth time" and "the eleventh time" differ.
NUMBER_WORDS = frozenset("""
two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen
eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred thousand million billion
dozen first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth twentieth hundredth
""".split())


@functools.lru_cache(maxsize=1 << 16)
def _fold(word: str) -> str:
    """A crude English stem: plurals and inflections folded so both texts' forms meet."""
    if len(word) > 4:
        if word.endswith(("ies", "ied")):
            return word[:-3] + "y"
        if word.endswith("sses"):
            return word[:-2]
        if word.endswith("s") and not word.endswith(("ss", "us", "is")):
            word = word[:-1]
        if len(word) > 5 and word.endswith("ing"):
            return word[:-3]
        if len(word) > 4 and word.endswith("ed"):
            return word[:-2]
        if len(word) > 4 and word.endswith("e"):
            return word[:-1]
    return word


def content_words(text: str) -> dict[str, float]:
    """{folded content word: its weight} of a text: names (capitalised) and numbers weigh
    NAME_WEIGHT, other words 1; stop words and one-letter words are left out."""
    text = _SPECIAL.sub(lambda m: _REPLACEMENTS[m.group()], unicodedata.normalize("NFKC", text))
    out: dict[str, float] = {}
    for token in _TOKEN.findall(text):
        lower = token.casefold()
        if lower in STOP_WORDS or (len(lower) < 2 and not lower.isdigit()):
            continue
        figure = lower[0].isdigit() or lower in NUMBER_WORDS
        weight = FIGURE_WEIGHT if figure else NAME_WEIGHT if token[0].isupper() else 1.0
        key = lower if figure else _fold(lower)
        out[key] = max(out.get(key, 0.0), weight)
    return out


def word_count(paragraphs: Sequence[str]) -> int:
    return sum(len(_TOKEN.findall(p)) for p in paragraphs)


def is_brief(paragraphs: Sequence[str], kicker: str | None) -> bool:
    """One paragraph that dedup compares, of at most BRIEF_MAX_WORDS words."""
    compared = comparable_paragraphs(paragraphs, kicker)
    return len(compared) == 1 and word_count(compared) <= BRIEF_MAX_WORDS


def is_article(paragraphs: Sequence[str], kicker: str | None) -> bool:
    """Two paragraphs or more that dedup compares."""
    return len(comparable_paragraphs(paragraphs, kicker)) >= 2


#: A brief that names a day the article does not is another day's news, not a summary of it.
DAY_WORDS = frozenset(_fold(w) for w in """monday tuesday wednesday thursday friday saturday sunday yesterday
today tonight overnight""".split())


def adds_facts(brief: dict[str, float], article: Iterable[str]) -> bool:
    """The brief has a figure or a day that the article lacks: what a teaser tells is all in
    its article, so this is new news (an update, another day's count), never a teaser of it."""
    inside = set(article)
    return any(word not in inside for word, weight in brief.items()
               if weight == FIGURE_WEIGHT or word in DAY_WORDS)


def brief_containment(brief: dict[str, float], article: Iterable[str]) -> float:
    """The weighted share of a brief's content words that are in the article's."""
    total = sum(brief.values())
    if not total:
        return 0.0
    inside = set(article)
    return sum(w for word, w in brief.items() if word in inside) / total


@dataclass(frozen=True, slots=True)
class StoredText:
    """A stored entry's current text, as brief matching compares it (a row the store read)."""

    entry: int
    version: int
    order: tuple  # sorts oldest first (first_seen, id): ties go to the oldest entry
    kicker: str | None
    paragraphs: tuple[str, ...]
    retracted: bool = False


def brief_match(paragraphs: Sequence[str], kicker: str | None, stored: Iterable[StoredText],
                threshold: float = BRIEF_CONTAINMENT) -> Match | None:
    """The entry a new brief is a teaser of (a stored article), or a new article is the fuller
    text of (a stored brief), judged on content words; None when neither. Of the entries that
    pass, the highest containment wins, ties to the oldest."""
    new_brief = is_brief(paragraphs, kicker)
    if not new_brief and not is_article(paragraphs, kicker):
        return None
    new_count = word_count(comparable_paragraphs(paragraphs, kicker))
    new_words: dict[str, float] | None = None  # computed once a candidate needs them
    best: tuple | None = None
    for cand in stored:
        if new_brief and cand.retracted:
            continue  # a brief of a retracted article is a story of its own, as a complete teaser is (compare)
        compared = comparable_paragraphs(cand.paragraphs, cand.kicker)
        count = word_count(compared)
        if new_brief:
            if not is_article(cand.paragraphs, cand.kicker) or count < BRIEF_RATIO * new_count:
                continue
        elif not is_brief(cand.paragraphs, cand.kicker) or new_count < BRIEF_RATIO * count:
            continue
        if new_words is None:
            new_words = content_words(" ".join(comparable_paragraphs(paragraphs, kicker)))
        if new_brief:
            brief, article, kind = new_words, content_words(" ".join(compared)), Decision.TEASER
        else:
            brief, article, kind = content_words(" ".join(compared)), new_words, Decision.REVISION
        if len(brief) < BRIEF_MIN_WORDS or adds_facts(brief, article):
            continue
        c = brief_containment(brief, article)
        if c >= threshold:
            key = (-c, cand.order, cand.entry)
            if best is None or key < best[0]:
                best = (key, Match(cand.entry, kind, 0.0, round(c, 4), cand.version))
    return best[1] if best else None


BRIEF_QUERY_WORDS = 4  # rare words a brief searches the full-text index with
BRIEF_QUERY_MATCH = 2  # of which a stored article must have at least this many to be compared
BRIEF_LEDE_MATCH = 5  # content words an article's lede must share with a stored brief to compare them
BRIEF_WINDOW = 5000  # searched among the newest this many entries: a teaser and its article are close in time
BRIEF_CANDIDATES = 8  # compared at most, the best full-text matches first


@dataclass(frozen=True, slots=True)
class BriefQuery:
    """How to find the stored texts a story is judged against as a brief or an article."""

    words: tuple[str, ...] = ()  # a brief: its rarest words, searched in the full-text index
    brief_words: tuple[int, ...] = ()  # an article: its lede's content words, among stored briefs'


def brief_query(paragraphs: Sequence[str], kicker: str | None) -> BriefQuery | None:
    """What to search for a story that brief matching judges: a brief, the stored articles
    holding its rarest words (the full-text index); an article, the stored briefs sharing its
    lede's content words (the brief_words the store keeps of every current brief); None for
    any other story."""
    compared = comparable_paragraphs(paragraphs, kicker)
    if is_brief(paragraphs, kicker):
        return BriefQuery(words=tuple(rare_words(compared, BRIEF_QUERY_WORDS)))
    if len(compared) >= 2:
        return BriefQuery(brief_words=brief_words(compared[:1]))
    return None


def brief_words(paragraphs: Sequence[str]) -> tuple[int, ...]:
    """The content words of a text as the store keeps a brief's: signed 64-bit keys, sorted."""
    return tuple(sorted({_word_key(w) for w in content_words(" ".join(paragraphs))}))


@functools.lru_cache(maxsize=1 << 16)
def _word_key(word: str) -> int:
    return int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "big", signed=True)


def place_brief(paragraphs: Sequence[str], kicker: str | None, stored: Iterable[StoredText],
                settings: DedupSettings) -> Placement | None:
    """Where a story goes that shingles found no match for, judged as a brief against stored
    articles or as an article against stored briefs (brief_match); None: still a new story."""
    match = brief_match(paragraphs, kicker, stored)
    return None if match is None else _placement(match, settings)


_COMMON_NAMES = frozenset("""monday tuesday wednesday thursday friday saturday sunday january february march
april june july august september october november december""".split())


def rare_words(paragraphs: Sequence[str], limit: int) -> list[str]:
    """The words of a text most likely to find its other tellings: numbers and names first
    (longest first), then the longest other content words; as written (lower-cased), unfolded."""
    text = _SPECIAL.sub(lambda m: _REPLACEMENTS[m.group()], unicodedata.normalize("NFKC", " ".join(paragraphs)))
    seen: dict[str, tuple] = {}
    for i, token in enumerate(_TOKEN.findall(text)):
        lower = token.casefold()
        if lower in STOP_WORDS or lower in _COMMON_NAMES or len(lower) < 3 or lower in seen:
            continue
        named = token[0].isupper() or token[0].isdigit()
        seen[lower] = (not named, -len(lower), i)
    return sorted(seen, key=lambda w: seen[w])[:limit]
