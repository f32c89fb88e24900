"""Sketch speed: µs per story for what dedup computes of a new text, before (0016) and now, in one run.

    python bench/sketch_speed.py [--n 20000] [--seed 7] [--rounds 3] [--out DIR]

The corpus is bench/dedup.py's (corpus.labelled_wire, files of 100 stories, read by
publisher.sources.wire.read). Each step is timed old-vs-new over the same stories, the best of
--rounds rounds (CPU time of this process), and printed as µs per story with the ratio old / new:
  sketch         shingles + MinHash + band keys (+ a brief's words) of each story: the code
                 as it was before migration 0016 (kept here, OLD_*), against dedup.sketch (one
                 story at a time) and dedup.sketches (a file's stories in one call)
  fingerprint    dedup.fingerprint before (re.sub(r"\\s+") + strip) and now (str.split + join)
  paragraph keys the keys of a file's paragraphs after each lede (story boundaries by
                 recurrence): one at a time before, dedup.paragraphs_keys of the file now
  compare        judging a stored candidate: unpack its stored shingle set, then jaccard and both
                 containments (frozensets before; the sorted uint32 array, one shared count now)
And LSH quality, old hashing vs new, on edited copies (band_quality).
Both sides must agree on the decisions (shingle set sizes, Jaccard): checked, not timed.
Writes sketch_speed.json and sketch_speed.md to bench/results/ (or --out DIR).
"""

from __future__ import annotations

import hashlib
import re
import sys
import time
import unicodedata
import zlib
from pathlib import Path

from _common import machine_info, now_iso, parser, stories_at_blank_lines, temp_scratch, write_results

import numpy as np

from corpus import labelled_wire
from publisher import dedup
from publisher.sources import wire

# -- the code as it was before 0016 (publisher/dedup.py at b51fde2), for the ratio -------------

OLD_WORD = re.compile(r"\w+")
OLD_SPACES = re.compile(r"\s+")


def old_normalise(text: str) -> str:
    text = dedup._SPECIAL.sub(lambda m: dedup._REPLACEMENTS[m.group()], unicodedata.normalize("NFKC", text).casefold())
    return OLD_SPACES.sub(" ", text).strip()


def old_fingerprint(text: str) -> str:
    return hashlib.sha256(old_normalise(text).encode("utf-8")).hexdigest()


def old_shingles(paragraphs, kicker=None) -> tuple[frozenset[int], tuple[int, ...]]:
    ordered: dict[int, None] = {}
    text = "\n".join(p.replace("\n", " ") for p in dedup.comparable_paragraphs(paragraphs, kicker))
    text = dedup._SPECIAL.sub(lambda m: dedup._REPLACEMENTS[m.group()], unicodedata.normalize("NFKC", text).casefold())
    for paragraph in text.split("\n"):
        words = OLD_WORD.findall(paragraph)
        n = len(words) - 2
        grams = [" ".join(words[i: i + 3]) for i in range(n)] if n > 0 else [" ".join(words)]
        for gram in grams:
            if gram:
                ordered.setdefault(zlib.crc32(gram.encode()), None)
    keys = tuple(ordered)
    return frozenset(keys), keys[:dedup.LEAD_SHINGLES]


def old_signature(hashes, perms=dedup.NUM_PERM) -> np.ndarray:
    if not hashes:
        return np.full(perms, 0xFFFFFFFF, dtype=np.uint32)
    x = np.fromiter(hashes, dtype=np.uint64, count=len(hashes))
    with np.errstate(over="ignore"):
        h = (dedup._A[:perms, None] * x[None, :] + dedup._B[:perms, None]) >> np.uint64(32)
    return h.min(axis=1).astype(np.uint32)


def old_bands(sig, bands, rows, salt) -> list[int]:
    rowed = sig[: bands * rows].astype(np.uint64).reshape(bands, rows)
    with np.errstate(over="ignore"):
        mixed = (rowed * dedup._BAND_MIX[:rows]).sum(axis=1, dtype=np.uint64)
        mixed ^= (np.arange(bands, dtype=np.uint64) + np.uint64(salt)) * np.uint64(0x9E3779B97F4A7C15)
    return mixed.view(np.int64).tolist()


def old_sketch(paragraphs, kicker=None):
    all_, lead = old_shingles(paragraphs, kicker)
    full = old_signature(all_)
    keys = old_bands(full, dedup.FULL_BANDS, dedup.FULL_ROWS, 0)
    if len(lead) >= dedup.MIN_SHINGLES:
        width = dedup.LEAD_BANDS * dedup.LEAD_ROWS
        keys += old_bands(old_signature(lead, width), dedup.LEAD_BANDS, dedup.LEAD_ROWS, 1000)
        keys += old_bands(old_signature(lead[:dedup.SHORT_LEAD], width), dedup.LEAD_BANDS, dedup.LEAD_ROWS, 2000)
    words = (dedup.brief_words(dedup.comparable_paragraphs(paragraphs, kicker))
             if dedup.is_brief(paragraphs, kicker) else ())
    return all_, keys, full, words


def old_paragraph_keys(paragraph: str) -> frozenset[int]:
    _, lead = old_shingles([paragraph])
    if len(lead) >= dedup.SHORT_LEAD:
        return frozenset(old_bands(old_signature(lead[:dedup.SHORT_LEAD], dedup.LEAD_BANDS * dedup.LEAD_ROWS),
                                   dedup.LEAD_BANDS, dedup.LEAD_ROWS, 2000))
    return frozenset((int.from_bytes(hashlib.blake2b(old_normalise(paragraph).encode(), digest_size=8).digest(),
                                     "big", signed=True),))


def old_compare(new: frozenset, stored_bytes: bytes) -> tuple[float, float, float]:
    stored = frozenset(np.frombuffer(stored_bytes, dtype=np.uint32).tolist())  # old unpack
    shared = len(new & stored)
    j = shared / (len(new) + len(stored) - shared)
    return j, len(new & stored) / len(new), len(stored & new) / len(stored)  # jaccard, containment x2


def new_compare(new: dedup.Shingles, stored_bytes: bytes) -> tuple[float, float, float]:
    stored = dedup.unpack(stored_bytes)
    both = dedup.shared(new, stored)
    return both / (len(new) + len(stored) - both), both / len(new), both / len(stored)


def band_quality(stories, pairs: int = 2500, seed: int = 3) -> dict:
    """How often an edited copy (one word in nine replaced: Jaccard ~0.5) meets its story in the
    LSH index, old hashing vs new: the mean number of the 21 whole-text bands they share, the
    pairs that share none, and the bias of the signature's Jaccard estimate. The same pairs for
    both; with a sound hash family the two differ by chance only."""
    import random

    rng = random.Random(seed)
    out = {"old": {"bands": [], "none": 0, "bias": []}, "new": {"bands": [], "none": 0, "bias": []}}
    long = [p for p, _ in stories if len(" ".join(p).split()) > 60][:pairs]
    for paragraphs in long:
        words = " ".join(paragraphs).split()
        for _ in range(len(words) // 9):
            words[rng.randrange(len(words))] = f"w{rng.randrange(10**6)}"
        a, b = (" ".join(paragraphs),), (" ".join(words),)
        (oa, oka, osa, _), (ob, okb, osb, _) = old_sketch(a), old_sketch(b)
        na, nb = dedup.sketch(a), dedup.sketch(b)
        j = dedup.jaccard(na.shingles, nb.shingles)
        for name, ka, kb, sa, sb in (("old", oka, okb, osa, osb), ("new", na.band_keys, nb.band_keys, na.signature,
                                                                   nb.signature)):
            shared = len(set(ka[:dedup.FULL_BANDS]) & set(kb[:dedup.FULL_BANDS]))
            out[name]["bands"].append(shared)
            out[name]["none"] += shared == 0
            out[name]["bias"].append(float((sa == sb).mean()) - j)
    return {name: {"pairs": len(long), "mean_shared_bands": sum(v["bands"]) / len(long), "no_band": v["none"],
                   "estimate_bias": sum(v["bias"]) / len(long)} for name, v in out.items()}


def best(rounds: int, fn) -> float:
    """The least CPU time of this process over `rounds` runs (the cores are shared: other
    processes' load changes wall time more than this process's own CPU time)."""
    times = []
    for _ in range(rounds):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return min(times)


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--n", type=int, default=20000, help="stories in the corpus (default 20000)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    stories_at_blank_lines()
    with temp_scratch("sketch-speed-") as root:
        labelled_wire(root, args.n, args.seed)
        files = [[(tuple(s.paragraphs), s.kicker) for s in wire.read(f.read_bytes()).stories]
                 for f in sorted((root / "sources").iterdir())]
    stories = [s for f in files for s in f]
    texts = [(f"{k}: " if k else "") + "\n".join(p) for p, k in stories]
    n = len(stories)
    print(f"{n:,} stories in {len(files)} files", file=sys.stderr)

    # the same decisions: shingle set sizes equal, and Jaccard of neighbouring stories equal
    olds = [old_sketch(p, k) for p, k in stories]
    news = [s for f in files for s in dedup.sketches(f)]
    assert all(len(o[0]) == len(s.shingles) for o, s in zip(olds, news))
    assert all(o[3] == s.brief_words for o, s in zip(olds, news))
    pairs = list(zip(range(0, n - 1), range(1, n)))
    assert all(abs(old_compare(olds[a][0], np.array(sorted(olds[b][0]), dtype=np.uint32).tobytes())[0]
                   - dedup.jaccard(news[a].shingles, news[b].shingles)) < 1e-12 for a, b in pairs[:2000])
    assert all(old_fingerprint(t) == dedup.fingerprint(t) for t in texts)

    rows = {}
    # a file's paragraphs after each lede (those ingest keys to find stored ledes inside a story)
    file_paragraphs = [list(dict.fromkeys(p for ps, _ in f for p in ps[1:])) for f in files]

    def step(name: str, old_fn, new_fn, per: int = n) -> None:
        old_s, new_s = best(args.rounds, old_fn), best(args.rounds, new_fn)
        rows[name] = {"old_us": old_s / per * 1e6, "new_us": new_s / per * 1e6, "ratio": old_s / new_s}
        print(f"{name:34s} old {old_s / per * 1e6:8.1f} µs  new {new_s / per * 1e6:8.1f} µs  "
              f"ratio {old_s / new_s:5.2f}x", file=sys.stderr)

    step("sketch, one story at a time", lambda: [old_sketch(p, k) for p, k in stories],
         lambda: [dedup.sketch(p, k) for p, k in stories])
    step("sketch, a file's stories at once", lambda: [old_sketch(p, k) for p, k in stories],
         lambda: [dedup.sketches(f) for f in files])
    step("paragraph keys (story boundaries)",
         lambda: [old_paragraph_keys(p) for f in file_paragraphs for p in f],
         lambda: [(dedup._PARAGRAPH_KEYS.clear(), dedup.paragraphs_keys(f)) for f in file_paragraphs],
         per=sum(map(len, file_paragraphs)))
    step("fingerprint", lambda: [old_fingerprint(t) for t in texts], lambda: [dedup.fingerprint(t) for t in texts])
    stored = [dedup.pack(s.shingles) for s in news]
    old_stored = [np.array(sorted(o[0]), dtype=np.uint32).tobytes() for o in olds]
    step("compare a stored candidate", lambda: [old_compare(olds[a][0], old_stored[b]) for a, b in pairs],
         lambda: [new_compare(news[a].shingles, stored[b]) for a, b in pairs], per=len(pairs))
    quality = band_quality(stories)
    for name, q in quality.items():
        print(f"{name}: {q['pairs']} edited pairs share {q['mean_shared_bands']:.2f} of 21 bands on average, "
              f"{q['no_band']} share none; estimate bias {q['estimate_bias']:+.4f}", file=sys.stderr)
    mean_shingles = sum(len(s.shingles) for s in news) / n
    doc = {"when": now_iso(), "machine": machine_info("numpy"), "stories": n, "files": len(files),
           "mean_shingles": mean_shingles, "rounds": args.rounds, "steps": rows,
           "band_quality": quality}
    md = [f"# Sketch speed (`bench/sketch_speed.py`)\n",
          f"{n:,} stories in {len(files)} files (bench/dedup.py's corpus, seed {args.seed}; mean {mean_shingles:.0f} "
          f"shingles); best of {args.rounds} rounds, CPU time of the process; {doc['machine']['cpu']}, Python {doc['machine']['python']}, "
          f"numpy {doc['machine']['numpy']}; commit {doc['machine']['commit']}; {doc['when']}.\n",
          "| step | before 0016 (µs/story) | now (µs/story) | ratio |", "|---|---:|---:|---:|"]
    md += [f"| {name} | {r['old_us']:.1f} | {r['new_us']:.1f} | {r['ratio']:.2f}× |" for name, r in rows.items()]
    md.append("\n'compare' is per stored candidate (unpack, Jaccard and both containments). Both sides give the "
              "same shingle set sizes, Jaccard values, brief words and fingerprints (checked before timing).\n")
    md.append("LSH quality, old vs new hashing (edited copies, one word in nine replaced, Jaccard ~0.5; the same "
              "pairs for both):\n\n| hashing | pairs | whole-text bands shared (of 21), mean | pairs sharing none | "
              "Jaccard estimate bias |\n|---|---:|---:|---:|---:|")
    md += [f"| {name} | {q['pairs']:,} | {q['mean_shared_bands']:.2f} | {q['no_band']} | {q['estimate_bias']:+.4f} |"
           for name, q in quality.items()]
    md.append("")
    for path in write_results(args.out, "sketch_speed", doc, "\n".join(md)):
        print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
