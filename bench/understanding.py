"""Story understanding on a labelled set of our own: segmentation, updates, topics.

    .venv/bin/python bench/understanding.py [--split tune|heldout|fresh|all] [--out DIR]

tests/data/understanding/{tune,heldout,fresh}/ hold wire files in the seed's format, each with a
.json of its ground truth (story line ranges, which stories are versions of one story and of
what kind, topics, how each story's start is marked, furniture lines). For each split, in a
fresh project with the shipped config.toml, the files are published one at a time in name
order, then scored:

- boundaries: the start line of every story but a file's first, predicted (the stories ingest
  stored of the file: the wire reader given what the store knew then) against the truth: precision and recall, and recall by how the start
  is marked (plain: no dateline, byline, kicker or blank line);
- merged stories (a predicted story holding text of two or more true ones) and split stories
  (a true story spread over two or more predicted ones); furniture lines shown in a story's text;
- updates: for every story with later versions, whether all its versions went to one entry,
  and whether that entry shows the newest text it should (a teaser never replaces a fuller
  text; a copy changes nothing); entries holding versions of two different stories;
- topics: per topic, precision and recall over stories (each story's entry, under its
  expected newest version's labels).

Every directory under tests/data/understanding/ is a split, each the work of one writer (or
one day of writing): tune, heldout and fresh (see their READMEs) and fresh-g, fresh-k, fresh-m
and fresh-n, written on 2026-12-03 by four more writers who saw only the list of cases (not
the rules, the config or the other sets), each in a house style of its own. Those four were
scored blind with the rules before that day (docs/understanding.md), then joined the boundary
fit (bench/fit_boundaries.py), whose "leave one split out" lines are the figure to expect of
a writer never read: the figures below are of rules fitted with every split in view. Results: understanding.md and .json.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import sys
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from _common import CONFIG, RESULTS, ROOT, machine_info, now_iso, parser, shipped_config, temp_scratch, write_results  # noqa

DATA = ROOT / "tests" / "data" / "understanding"
SPLITS = tuple(sorted((p.name for p in DATA.iterdir() if p.is_dir() and not p.name.startswith("_")),
                     key=lambda n: ({"tune": 0, "heldout": 1, "fresh": 2}.get(n, 3), n)))
TOPICS = ("ukraine", "taiwan-security")
REPLACING = ("new", "revision", "cut", "added", "full")  # kinds whose text becomes the shown one
T0 = "2026-11-20T08:00:00+00:00"


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


def _truth(split: str) -> list[tuple[Path, dict, list[str]]]:
    out = []
    for txt in sorted((DATA / split).glob("*.txt")):
        lines = txt.read_bytes().decode("utf-8-sig").replace("\r\n", "\n").split("\n")
        out.append((txt, json.loads(txt.with_suffix(".json").read_text()), lines))
    return out


def expected_current(versions: list[dict]) -> dict:
    """The version a story should show after all of them: the last that replaces (a teaser
    only while nothing fuller came before it; a copy never)."""
    shown = versions[0]
    for v in versions[1:]:
        if v["kind"] in REPLACING:
            shown = v
    return shown


@dataclass(frozen=True)
class _Stored:
    first_line: int
    last_line: int
    paragraphs: tuple[str, ...]


def _stored_stories(database: Path) -> dict[str, list[_Stored]]:
    """Each file's stories as ingest read and stored them (its last read, in line order): the
    reader is given what the store knew when the file came (stories seen before)."""
    db = sqlite3.connect(database)
    out: dict[str, list[_Stored]] = defaultdict(list)
    for location, first, last, paragraphs in db.execute(
            """SELECT s.location, p.first_line, p.last_line, v.paragraphs FROM provenance p
               JOIN sources s ON s.id = p.source JOIN versions v ON v.id = p.version
               WHERE p.read = (SELECT max(read) FROM provenance WHERE source = p.source)
               ORDER BY s.location, p.first_line"""):
        out[location].append(_Stored(first, last, tuple(json.loads(paragraphs))))
    db.close()
    return out


def score_split(split: str, work: Path) -> dict:
    from datetime import datetime

    from _common import publish

    files = _truth(split)
    if not files:
        return {"files": 0}
    root = work / split
    (root / "sources").mkdir(parents=True)
    config = shipped_config(root)
    now = datetime.fromisoformat(T0)
    problems: list[str] = []
    for i, (txt, _, _) in enumerate(files):
        shutil.copy(txt, root / "sources" / txt.name)
        report = publish(config, now + timedelta(minutes=10 * i))
        problems += report.problems()

    # -- segmentation, as ingest reads each file --
    b = defaultdict(int)
    by_start = defaultdict(lambda: [0, 0])  # start kind: [found, all]
    merged: list[str] = []
    split_stories: list[str] = []
    furniture_shown: list[str] = []
    missed: list[str] = []
    spurious: list[str] = []
    located: dict[tuple[str, int], int] = {}  # (file, true start) -> predicted story's first line
    stored = _stored_stories(config.paths.database)
    for txt, truth, lines in files:
        predicted = stored.get(txt.name, [])
        furniture = set(truth["furniture"])
        text_lines = {}  # line -> true story index
        for k, s in enumerate(truth["stories"]):
            for n in range(s["lines"][0], s["lines"][1] + 1):
                if lines[n - 1].strip() and n not in furniture:
                    text_lines[n] = k
        first_text = min(text_lines) if text_lines else 1

        def start_of(story) -> int:
            n = story.first_line
            while n in furniture or (n <= len(lines) and not lines[n - 1].strip()):
                n += 1
            return n

        true_starts = {s["lines"][0]: s for s in truth["stories"]}
        pred_starts = {start_of(p) for p in predicted}
        for n, s in true_starts.items():
            if n == first_text:
                continue
            found = n in pred_starts
            b["true"] += 1
            b["found"] += found
            by_start[s["start"]][0] += found
            by_start[s["start"]][1] += 1
            if not found:
                missed.append(f"{txt.name}:{n} ({s['start']})")
        for n in pred_starts:
            if n == first_text:
                continue
            b["predicted"] += 1
            if n in true_starts:
                b["correct"] += 1
            else:
                spurious.append(f"{txt.name}:{n}")
        owners: dict[int, set[int]] = defaultdict(set)  # true story -> predicted stories holding its text
        for j, p in enumerate(predicted):
            held = {text_lines[n] for n in range(p.first_line, p.last_line + 1) if n in text_lines}
            if len(held) > 1:
                merged.append(f"{txt.name}:{p.first_line}-{p.last_line} holds "
                              + ", ".join(truth["stories"][k]["key"] for k in sorted(held)))
            for k in held:
                owners[k].add(j)
            shown = "\n".join(p.paragraphs)
            for n in furniture:
                if p.first_line <= n <= p.last_line and lines[n - 1].strip() and lines[n - 1].strip() in shown:
                    furniture_shown.append(f"{txt.name}:{n}")
        for k, held in owners.items():
            if len(held) > 1:
                split_stories.append(f"{txt.name}: {truth['stories'][k]['key']} in {len(held)} stories")
        for s in truth["stories"]:
            start = s["lines"][0]
            holder = next((p for p in predicted if p.first_line <= start <= p.last_line), None)
            if holder is not None:
                located[(txt.name, start)] = holder.first_line

    # -- placement and topics, from the store --
    db = sqlite3.connect(config.paths.database)
    arrivals = {}  # (file, first line) -> (entry, version)
    for loc, first, entry, version in db.execute(
            "SELECT s.location, p.first_line, v.entry, v.id FROM provenance p JOIN sources s ON s.id = p.source "
            "JOIN versions v ON v.id = p.version"):
        arrivals[(loc, first)] = (entry, version)
    current = dict(db.execute("SELECT id, current_version FROM entries"))
    topics = defaultdict(set)
    for entry, topic in db.execute("SELECT entry, topic FROM entry_topics"):
        topics[entry].add(topic)
    db.close()

    versions: dict[str, list[dict]] = defaultdict(list)
    for txt, truth, _ in files:
        for s in truth["stories"]:
            versions[s["key"]].append({**s, "file": txt.name})
    entry_keys: dict[int, set[str]] = defaultdict(set)
    where: dict[str, set[int]] = defaultdict(set)
    for key, vs in versions.items():
        for v in vs:
            got = arrivals.get((v["file"], located.get((v["file"], v["lines"][0]), -1)))
            if got:
                where[key].add(got[0])
                entry_keys[got[0]].add(key)
    updated = [k for k, vs in versions.items() if any(v["kind"] != "copy" for v in vs[1:])]
    u = defaultdict(int)
    stale: list[str] = []
    for key in updated:
        vs = versions[key]
        want = expected_current(vs)
        u["stories"] += 1
        entries = where[key]
        if len(entries) != 1:
            stale.append(f"{key}: in {len(entries)} entries")
            continue
        (entry,) = entries
        got = arrivals.get((want["file"], located.get((want["file"], want["lines"][0]), -1)))
        if got and current.get(entry) == got[1]:
            u["newest"] += 1
        else:
            stale.append(f"{key}: shows another version than {want['file']}:{want['lines'][0]} ({want['kind']})")
    false_merges = [f"entry {e}: " + ", ".join(sorted(keys)) for e, keys in entry_keys.items() if len(keys) > 1]

    t = {topic: defaultdict(int) for topic in TOPICS}
    topic_errors: list[str] = []
    for key, vs in versions.items():
        want = set(expected_current(vs)["topics"])
        got_entries = where[key]
        got = set().union(*(topics[e] for e in got_entries)) if got_entries else set()
        for topic in TOPICS:
            t[topic]["tp"] += topic in want and topic in got
            t[topic]["fp"] += topic not in want and topic in got
            t[topic]["fn"] += topic in want and topic not in got
        if want != got:
            topic_errors.append(f"{key}: want {sorted(want)}, got {sorted(got)}")
    plain = by_start.get("plain", [0, 0])
    return {
        "files": len(files), "stories": sum(len(tr["stories"]) for _, tr, _ in files), "keys": len(versions),
        "boundaries": {"true": b["true"], "predicted": b["predicted"],
                       "precision": _ratio(b["correct"], b["predicted"]), "recall": _ratio(b["found"], b["true"]),
                       "plain_recall": _ratio(plain[0], plain[1]),
                       "recall_by_start": {k: [v[0], v[1]] for k, v in sorted(by_start.items())}},
        "merged": len(merged), "split": len(split_stories), "furniture_shown": len(furniture_shown),
        "updates": {"stories": u["stories"], "newest_shown": u["newest"], "share": _ratio(u["newest"], u["stories"])},
        "false_merges": len(false_merges),
        "topics": {topic: {"precision": _ratio(c["tp"], c["tp"] + c["fp"]), "recall": _ratio(c["tp"], c["tp"] + c["fn"]),
                           **c} for topic, c in t.items()},
        "details": {"missed": missed, "spurious": spurious, "merged": merged, "split": split_stories,
                    "furniture_shown": furniture_shown, "stale": stale, "false_merges": false_merges,
                    "topics": topic_errors, "problems": problems},
    }


def read_cost(rounds: int = 20) -> dict:
    """What scoring gaps costs the wire reader: every labelled file read `rounds` times with
    gap scoring and with splitting at blank lines only (best of two, alternating, same run)."""
    import time

    from _common import boundaries, load, topic_scorer, wire

    scorer = topic_scorer(load(CONFIG).topics)
    data = [t.read_bytes() for split in SPLITS for t in sorted((DATA / split).glob("*.txt"))]
    stories = sum(len(wire.read(d).stories) for d in data)
    threshold, best = boundaries.THRESHOLD, {}
    try:
        for mode in ("off", "on", "off", "on"):
            boundaries.THRESHOLD = float("inf") if mode == "off" else threshold
            t = time.perf_counter()
            for _ in range(rounds):
                for d in data:
                    wire.read(d, scorer)
            best[mode] = min(best.get(mode, float("inf")), time.perf_counter() - t)
    finally:
        boundaries.THRESHOLD = threshold
    per = {k: round(1e6 * v / (rounds * stories), 1) for k, v in best.items()}
    return {"stories": stories, "us_per_story_scored": per["on"], "us_per_story_blank_lines_only": per["off"],
            "ratio": round(best["on"] / best["off"], 2)}


GOALS = "boundary precision ≥ 0.97 and recall ≥ 0.95; no merged story; every update shows its newest text; " \
        "topic precision and recall ≥ 0.95 for each topic"


def met(r: dict) -> bool:
    bd, up = r["boundaries"], r["updates"]
    return (bd["precision"] or 0) >= 0.97 and (bd["recall"] or 0) >= 0.95 and r["merged"] == 0 and \
        up["newest_shown"] == up["stories"] and \
        all((c["precision"] or 0) >= 0.95 and (c["recall"] or 0) >= 0.95 for c in r["topics"].values())


def markdown(results: dict, doc: dict) -> str:
    out = [f"Story understanding on tests/data/understanding ({doc['machine']}; {doc['when']})", "",
           "| split | files | stories | boundary P | boundary R | plain R | merged | split | furniture shown | "
           "updates newest | false merges | ukraine P / R | taiwan-security P / R |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for split, r in results.items():
        if not r.get("files"):
            continue
        bd, up, tp = r["boundaries"], r["updates"], r["topics"]
        out.append(f"| {split} | {r['files']} | {r['stories']} | {bd['precision']} | {bd['recall']} | "
                   f"{bd['plain_recall']} | {r['merged']} | {r['split']} | {r['furniture_shown']} | "
                   f"{up['newest_shown']}/{up['stories']} | {r['false_merges']} | "
                   f"{tp['ukraine']['precision']} / {tp['ukraine']['recall']} | "
                   f"{tp['taiwan-security']['precision']} / {tp['taiwan-security']['recall']} |")
    out += ["", f"Goals: {GOALS}."]
    for split, r in results.items():
        if r.get("files"):
            out.append(f"- {split}: {'met' if met(r) else 'NOT met'}; boundary recall by start: "
                       + ", ".join(f"{k} {a}/{n}" for k, (a, n) in r["boundaries"]["recall_by_start"].items()))
    for split, r in results.items():
        if not r.get("files"):
            continue
        out += ["", f"### {split}: what went wrong", ""]
        for name, items in r["details"].items():
            if items:
                out.append(f"- {name} ({len(items)}): " + "; ".join(items[:40]) + (" ..." if len(items) > 40 else ""))
    return "\n".join(out) + "\n"


def main() -> int:
    ap = parser(__doc__)
    ap.add_argument("--split", default="all", help=f"one of {', '.join(SPLITS)}, or all (comma-separate several)")
    ap.add_argument("--quiet", action="store_true", help="print the table only")
    args = ap.parse_args()
    results = {}
    with temp_scratch("understanding-") as work:
        for split in SPLITS if args.split == "all" else args.split.split(","):
            results[split] = score_split(split, work)
    cost = read_cost()
    doc = {"when": now_iso(), "machine": machine_info()["platform"], "results": results, "read_cost": cost}
    md = markdown(results, doc)
    md = md.replace("\n### ", f"\nReading cost: the wire reader takes {cost['us_per_story_scored']} µs a story with gap "
                    f"scoring, {cost['us_per_story_blank_lines_only']} µs splitting at blank lines only "
                    f"({cost['ratio']}×; {cost['stories']} stories of the labelled files, best of two, same run).\n\n### ", 1)
    before = RESULTS / "understanding-before.md"  # figures of the code before issue 13, kept by hand
    if before.exists():
        md += "\n" + before.read_text()
    print(md.split("\n### ")[0] if args.quiet else md)
    if args.split == "all":
        write_results(args.out, "understanding", doc, md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
