"""Fit the boundary weights of publisher/sources/boundaries.py, and say how well they hold on a
writer the fit never saw.

    .venv/bin/python bench/fit_boundaries.py [--splits tune,heldout,...] [--runs 400] [--target 0.98]

The examples are the gaps of runs of paragraphs:
- real: every gap inside a run (as the wire reader forms runs) of the labelled files under
  tests/data/understanding/<split>/, of tests/data/wire and of tests/data/dedup (one story a
  file: every gap is inside it);
- whole: tests/data/understanding-whole, long one-story articles whose every paragraph reads
  like a lede (compiled agency copy): no gap in them is a boundary;
- made up: runs of 2 to 5 whole stories of the same splits, drawn at random and put back to
  back with nothing between them (as Choi's segmentation sets are built), their dateline
  taken off: many more boundaries, in many more neighbourhoods, than the files hold.

A logistic regression on the cues gives the weights; the threshold is the lowest score at which
the real gaps of the fitted splits are split with precision >= --target. Each split is a
writer (or a day of writing): "leave one split out" fits on the others and scores the one left
out, the figure to expect on wire copy by a writer we have not read. The last lines print the
WEIGHTS and THRESHOLD to paste into boundaries.py, fitted on every split.
"""

from __future__ import annotations

import json
import random
import sys

import numpy as np

from _common import CONFIG, ROOT, parser

DATA = ROOT / "tests" / "data"
#: the cues that are measured but not fitted: the lede cues already hold "continues"; the others
#: repeat a fitted cue (collinear: their signs came out arbitrary)
UNFITTED = {"distance", "shares_name", "same_topic", "recurs", "_run"}


def _labelled(split: str):
    for txt in sorted((DATA / "understanding" / split).glob("*.txt")):
        yield txt, json.loads(txt.with_suffix(".json").read_text())


def real_examples(splits, scorer):
    """(split, where, cues, is a true story start) for every gap of the labelled files' runs."""
    from publisher.sources import boundaries, wire

    files = [(split, txt, {s["lines"][0] for s in truth["stories"]}) for split in splits
             for txt, truth in _labelled(split)]
    for txt in sorted((DATA / "wire").glob("*.txt")):
        expected = json.loads(txt.with_suffix(".json").read_text())
        if isinstance(expected, list):
            files.append(("wire", txt, {s["lines"][0] for s in expected}))
    files += [("dedup", txt, set()) for txt in sorted((DATA / "dedup").glob("*/*.txt"))]
    files += [("whole", txt, set()) for txt in sorted((DATA / "understanding-whole").glob("*.txt"))]
    rows = []
    gaps = boundaries.gaps
    sizes: list[int] = []  # gaps of each run, in the order the reader scored them

    def measured(p, t=None, k=boundaries.Known()):
        found = gaps(p, t, k, every_cue=True)
        sizes.append(len(found))
        return found
    boundaries.gaps = measured
    try:
        for split, txt, starts in files:
            text, _, _ = wire.decode(txt.read_bytes())
            sizes.clear()
            found = wire._segment(text, scorer).gaps
            run = [n for n, size in enumerate(sizes) for _ in range(size)]
            rows += [(split, f"{txt.name}:{g.line}", {**g.features, "_run": f"{txt}#{r}"}, g.line in starts)
                     for g, r in zip(found, run)]
    finally:
        boundaries.gaps = gaps
    return rows


def stories_of(split: str) -> list[list[str]]:
    """Each story of a split once (its first version), as the wire reader would see its
    paragraphs: furniture, captions and its dateline left out; one-line kicker stories left out
    (they never sit in a run)."""
    from publisher.sources import boundaries, wire

    out: dict[str, list[str]] = {}
    for txt, truth in _labelled(split):
        lines = txt.read_bytes().decode("utf-8-sig").replace("\r\n", "\n").split("\n")
        furniture = set(truth.get("furniture", []))
        for story in truth["stories"]:
            if story["start"] == "kicker" or story["key"] in out:
                continue
            a, b = story["lines"]
            paragraphs = [wire.clean_line(lines[n - 1]) for n in range(a, b + 1) if n not in furniture]
            paragraphs = [p for p in paragraphs if p and not wire.is_caption(p) and not wire.is_furniture(p)]
            if paragraphs:
                out[story["key"]] = [boundaries.without_dateline(paragraphs[0]), *paragraphs[1:]]
    return list(out.values())


def whole_stories() -> list[list[str]]:
    """tests/data/understanding-whole: long articles of one story each, every paragraph of
    which reads like a lede (as compiled agency copy does): no gap inside them is a boundary."""
    from publisher.sources import wire

    return [[wire.clean_line(line) for line in wire.decode(txt.read_bytes())[0].split("\n") if line.strip()]
            for txt in sorted((DATA / "understanding-whole").glob("*.txt"))]


def made_up_examples(splits, scorer, runs: int, seed: int = 1):
    from publisher.sources import boundaries

    pool = [s for split in splits for s in stories_of(split)] + whole_stories()
    rnd = random.Random(seed)
    rows = []
    for _ in range(runs):
        paragraphs, starts = [], set()
        for story in rnd.sample(pool, min(len(pool), rnd.choice((2, 3, 3, 4, 5)))):
            if paragraphs:
                starts.add(len(paragraphs))
            paragraphs += story
        rows += [("made-up", "", g.features, g.index in starts)
                 for g in boundaries.gaps(paragraphs, scorer, every_cue=True)]
    return rows


def _fit(x, y, l2: float):
    """Logistic regression by Newton's method, an L2 penalty on every weight but the bias."""
    x1 = np.hstack([np.ones((len(x), 1)), x])
    w = np.zeros(x1.shape[1])
    penalty = np.r_[0.0, np.full(len(w) - 1, l2)]
    for _ in range(60):
        p = 1 / (1 + np.exp(-x1 @ w))
        grad = x1.T @ (p - y) + penalty * w
        hess = (x1.T * (p * (1 - p))) @ x1 + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w


def _pr(score, y, t):
    pred = score >= t
    tp = int((pred & (y == 1)).sum())
    return tp / max(1, int(pred.sum())), tp / max(1, int(y.sum())), int(pred.sum()) - tp, int(y.sum()) - tp


def _threshold(score, y, target: float) -> float:
    """The threshold of the best F-beta (beta = 0.5: precision weighs twice recall) on the
    gaps given, or with target > 0, the lowest at which their precision reaches it."""
    candidates = sorted(set(np.round(score, 2)))
    if target > 0:
        return float(next((t for t in candidates if _pr(score, y, t)[0] >= target), score.max()))
    def f(t):
        p, r, _, _ = _pr(score, y, t)
        return 1.25 * p * r / max(1e-9, 0.25 * p + r)
    return float(max(candidates, key=f))


def fitted(real, made_up, names, l2, target, fit_splits):
    """Weights and threshold fitted on the real gaps of fit_splits (and wire, dedup) and the
    made-up runs given."""
    keep = [r for r in real if r[0] in fit_splits or r[0] in ("wire", "dedup", "whole")]
    x = np.array([[r[2].get(n, 0.0) for n in names] for r in keep + made_up])
    y = np.array([float(r[3]) for r in keep + made_up])
    w = _fit(x, y, l2)
    xr = np.hstack([np.ones((len(keep), 1)), x[: len(keep)]])
    return w, _threshold(xr @ w, y[: len(keep)], target)


def decode(rows, score, t, lengths, weight):
    """The boundaries of each run that maximise the sum of (score - t) over the gaps split
    plus weight * log P(story length) over the stories made (lengths: of known stories)."""
    import math
    from collections import Counter

    counts = Counter(min(n, 15) for n in lengths)
    total = sum(counts.values()) + 16
    logp = {n: math.log((counts[n] + 1) / total) for n in range(1, 16)}
    lp = lambda n: logp[min(n, 15)] - (max(0, n - 15) * 0.5)  # noqa: E731
    out = np.zeros(len(rows), dtype=bool)
    k = 0
    while k < len(rows):
        run = rows[k][2]["_run"]
        m = k
        while m < len(rows) and rows[m][2]["_run"] == run:
            m += 1
        gain = score[k:m] - t  # gap g (1..n-1) is row k+g-1
        n = m - k + 1
        best = [0.0] + [-1e18] * n
        back = [0] * (n + 1)
        for j in range(1, n + 1):
            for i in range(max(0, j - 30), j):
                v = best[i] + (gain[i - 1] if i > 0 else 0.0) + weight * lp(j - i)
                if v > best[j]:
                    best[j], back[j] = v, i
        j = n
        while j > 0:
            i = back[j]
            if i > 0:
                out[k + i - 1] = True
            j = i
        k = m
    return out


def main() -> int:
    from publisher import config as config_mod
    from publisher.classify import topic_scorer

    ap = parser(__doc__)
    ap.add_argument("--splits", default=",".join(sorted(p.name for p in (DATA / "understanding").iterdir()
                                                        if p.is_dir() and not p.name.startswith(("_", "blind-")))))
    ap.add_argument("--runs", type=int, default=400, help="made-up runs per fit")
    ap.add_argument("--l2", type=float, default=1.0)
    ap.add_argument("--target", type=float, default=0.98, help="precision the threshold is chosen for")
    ap.add_argument("--curve", action="store_true", help="precision/recall of the split left out at other thresholds")
    ap.add_argument("--show", action="store_true", help="the strongest false splits and the misses of the split left out")
    ap.add_argument("--dp", type=float, default=None, help="decode each run with a story-length prior of this weight")
    ap.add_argument("--fixed", type=float, default=None, help="score every split left out at this threshold")
    ap.add_argument("--drop", default="", help="cues to leave out of the fit, comma-separated")
    args = ap.parse_args()
    splits = args.splits.split(",")
    scorer = topic_scorer(config_mod.load(CONFIG).topics)
    real = real_examples(splits, scorer)
    names = sorted(set(real[0][2]) - UNFITTED - set(args.drop.split(",")))
    print(f"{len(real)} real gaps, {sum(r[3] for r in real)} boundaries; splits {', '.join(splits)}")
    print("leave one split out (fitted on the others, scored on it):")
    pooled = [0, 0, 0]  # true, false, missed splits over every split left out
    for out in splits:
        rest = [s for s in splits if s != out]
        w, t = fitted(real, made_up_examples(rest, scorer, args.runs), names, args.l2, args.target, rest)
        mine = [r for r in real if r[0] == out]
        x = np.hstack([np.ones((len(mine), 1)), np.array([[r[2].get(n, 0.0) for n in names] for r in mine])])
        y = np.array([float(r[3]) for r in mine])
        if args.fixed is not None:
            t = args.fixed
        p, r, false, missed = _pr(x @ w, y, t)
        if args.dp is not None:
            lengths = [len(st) for sp in rest for st in stories_of(sp)]
            pred = decode(mine, x @ w, t, lengths, args.dp)
            tp = int((pred & (y == 1)).sum())
            p, r, false, missed = tp / max(1, pred.sum()), tp / max(1, y.sum()), int(pred.sum()) - tp, int(y.sum()) - tp
        print(f"  {out:10s} precision {p:.3f} recall {r:.3f} ({false} false, {missed} missed; threshold {t:+.2f})")
        pooled[0] += int(y.sum()) - missed
        pooled[1] += false
        pooled[2] += missed
        if args.show:
            sc = x @ w
            for k in sorted(range(len(mine)), key=lambda k: -sc[k])[:12]:
                if not y[k]:
                    print(f"     false {sc[k]:+.2f} {mine[k][1]}")
            for k in sorted(range(len(mine)), key=lambda k: sc[k]):
                if y[k] and sc[k] < t:
                    top = sorted(((w[1 + j] * mine[k][2].get(n, 0.0), n) for j, n in enumerate(names)), key=lambda p: -abs(p[0]))[:6]
                    print(f"     missed {sc[k]:+.2f} {mine[k][1]} " + ", ".join(f"{n} {v:+.1f}" for v, n in top))
        if args.curve:
            print("     " + "; ".join(f"{d:+.1f}: {a:.2f}/{b:.2f}" for d in (-3, -2, -1.5, -1, -0.5, 0.5, 1)
                                      for a, b, _, _ in [_pr(x @ w, y, t + d)]))
    tp, fp, fn = pooled
    print(f"  all left out: precision {tp / max(1, tp + fp):.3f} recall {tp / max(1, tp + fn):.3f}"
          f" ({fp} false, {fn} missed of {tp + fn})")
    w, t = fitted(real, made_up_examples(splits, scorer, args.runs), names, args.l2, args.target, splits)
    weights = {"bias": round(float(w[0]), 2), **{n: round(float(v), 2) for n, v in zip(names, w[1:])}}
    print("WEIGHTS =", weights)
    print("THRESHOLD =", round(t, 2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
