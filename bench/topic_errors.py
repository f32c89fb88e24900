"""Topic errors of the shipped rules on each labelled story's own text (no segmentation, no dedup).

    .venv/bin/python bench/topic_errors.py [--split tune,heldout]

For each story of the labelled files under tests/data/understanding/<split>/ (its true line
range, furniture left out), the shipped topics are scored on its text alone; every story whose
accepted topics differ from its labels is printed with each topic's score, threshold, required
term found or not, and the terms that counted. A tool for writing topic rules: what a story is
about, apart from where the reader cut it.
"""

from __future__ import annotations

import json
import re
import sys

from _common import CONFIG, ROOT, parser

DATA = ROOT / "tests" / "data" / "understanding"
_KICKER = re.compile(r"^([A-Z0-9][A-Z0-9 '’&-]{2,40}):\s+")


def stories(split: str):
    for txt in sorted((DATA / split).glob("*.txt")):
        truth = json.loads(txt.with_suffix(".json").read_text())
        lines = txt.read_bytes().decode("utf-8-sig").replace("\r\n", "\n").split("\n")
        furniture = set(truth.get("furniture", ()))
        for s in truth["stories"]:
            a, b = s["lines"]
            paragraphs = [lines[n - 1] for n in range(a, b + 1) if lines[n - 1].strip() and n not in furniture]
            kicker = None
            m = _KICKER.match(paragraphs[0]) if paragraphs else None
            if m:
                kicker, paragraphs[0] = m.group(1), paragraphs[0][m.end():]
            yield txt.name, s, kicker, paragraphs


def main() -> int:
    ap = parser(__doc__)
    ap.add_argument("--split", default="tune,heldout")
    ap.add_argument("--quiet", action="store_true", help="only the counts")
    args = ap.parse_args()
    from publisher import config as config_mod
    from publisher.classify import classify_story

    topics = config_mod.load(CONFIG).topics
    for split in args.split.split(","):
        wrong = total = 0
        tp = {t.slug: 0 for t in topics}
        fp = dict.fromkeys(tp, 0)
        fn = dict.fromkeys(tp, 0)
        for name, s, kicker, paragraphs in stories(split):
            total += 1
            matches = classify_story(topics, kicker, paragraphs)
            got = {m.slug for m in matches if m.accepted}
            want = set(s["topics"])
            for slug in tp:
                tp[slug] += slug in got and slug in want
                fp[slug] += slug in got and slug not in want
                fn[slug] += slug in want and slug not in got
            if got != want:
                wrong += 1
                if not args.quiet:
                    print(f"{split}/{name}:{s['lines'][0]} {s['key']}: want {sorted(want)}, got {sorted(got)}")
                    for m in matches:
                        terms = ", ".join(f"{t}×{n}" for t, n in m.matched)
                        print(f"    {m.slug}: {m.score:.1f}/{m.threshold:g}{' NO REQUIRED' if m.missing_required else ''}"
                              f"{' excluded by ' + m.excluded_by if m.excluded_by else ''}: {terms}")
                    print("    |", (kicker + ": " if kicker else "") + " ".join(paragraphs)[:200])
        per = "; ".join(f"{k} P {tp[k] / max(1, tp[k] + fp[k]):.3f} R {tp[k] / max(1, tp[k] + fn[k]):.3f}" for k in tp)
        print(f"== {split}: {wrong} of {total} stories with other topics than labelled; {per}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
