"""Fit the boundary weights of publisher/sources/boundaries.py on the tune split.

    .venv/bin/python bench/fit_boundaries.py [--split tune]

Every gap inside a run of paragraphs (as the wire reader forms runs) of the tune files, of
tests/data/wire and of tests/data/dedup (one story a file) is a labelled example (a true story start or not); a logistic regression on the
cues gives the weights, printed as a WEIGHTS line to paste into boundaries.py, with the
precision and recall of gaps at a few thresholds. Never fitted on the heldout split.
"""

from __future__ import annotations

import json
import sys

import numpy as np

from _common import CONFIG, ROOT, parser

DATA = ROOT / "tests" / "data"


def examples(splits: str):
    """(cues, is a true story start, where) for every scored gap of the labelled files."""
    from publisher import config as config_mod
    from publisher.classify import topic_scorer
    from publisher.sources import wire

    scorer = topic_scorer(config_mod.load(CONFIG).topics)
    labelled = []  # (file, the true story starts in it, its label)
    for split in splits.split(","):
        for txt in sorted((DATA / "understanding" / split).glob("*.txt")):
            truth = json.loads(txt.with_suffix(".json").read_text())
            labelled.append((txt, {s["lines"][0] for s in truth["stories"]}, txt.name))
    for txt in sorted((DATA / "wire").glob("*.txt")):
        expected = json.loads(txt.with_suffix(".json").read_text())
        if isinstance(expected, list):
            labelled.append((txt, {s["lines"][0] for s in expected}, f"wire/{txt.name}"))
    for txt in sorted((DATA / "dedup").glob("*/*.txt")):  # one story a file: every gap is inside it
        labelled.append((txt, set(), f"dedup/{txt.parent.name}/{txt.name}"))
    rows = []
    for txt, starts, label in labelled:
        text, _, _ = wire.decode(txt.read_bytes())
        rows += [(g.features, g.line in starts, f"{label}:{g.line}") for g in wire._segment(text, scorer).gaps]
    return rows


def main() -> int:
    ap = parser(__doc__)
    ap.add_argument("--split", default="tune")
    ap.add_argument("--l2", type=float, default=0.01)
    ap.add_argument("--cv", action="store_true", help="also leave one file out: fit on the others, score it")
    ap.add_argument("--drop", default="", help="cues to leave out of the fit, comma-separated")
    args = ap.parse_args()
    rows = examples(args.split)
    # the cues fitted: "continues" is already inside the lede cues, and "adjacent" and "back"
    # repeat "distance" (collinear: their signs came out arbitrary)
    names = sorted(set(rows[0][0]) - {"continues", "adjacent", "back", "dateline", "distance", "shares_name",
                                      "same_topic", "topic"} - set(args.drop.split(",")))
    x = np.array([[f[n] for n in names] for f, _, _ in rows])
    y = np.array([float(b) for _, b, _ in rows])
    x1 = np.hstack([np.ones((len(x), 1)), x])
    w = _fit(x1, y, args.l2)
    score = x1 @ w
    print(f"{len(rows)} gaps, {int(y.sum())} boundaries")
    weights = {"bias": round(float(w[0]), 2), **{n: round(float(v), 2) for n, v in zip(names, w[1:])}}
    print("WEIGHTS =", weights)
    for t in (-1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0):
        pred = score >= t
        tp = int((pred & (y == 1)).sum())
        print(f"threshold {t:+.1f}: precision {tp / max(1, pred.sum()):.3f} recall {tp / max(1, y.sum()):.3f}"
              f" ({int(pred.sum()) - tp} false, {int(y.sum()) - tp} missed)")
    if args.cv:
        files = np.array([where.rsplit(":", 1)[0] for _, _, where in rows])
        held = np.zeros(len(y))
        for f in sorted(set(files)):
            out = files == f
            held[out] = x1[out] @ _fit(x1[~out], y[~out], args.l2)
        print("leave one file out (each file scored by weights fitted on the others):")
        for t in (0.0, 0.5, 1.0, 1.2, 1.5):
            pred = held >= t
            tp = int((pred & (y == 1)).sum())
            print(f"  threshold {t:+.1f}: precision {tp / max(1, pred.sum()):.3f} recall {tp / max(1, y.sum()):.3f}"
                  f" ({int(pred.sum()) - tp} false, {int(y.sum()) - tp} missed)")
    return 0


def _fit(x1, y, l2: float, steps: int = 20000):
    w = np.zeros(x1.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-x1 @ w))
        w -= 0.5 * (x1.T @ (p - y) / len(y) + l2 * np.r_[0, w[1:]])
    return w


if __name__ == "__main__":
    sys.exit(main())
