"""Pipeline benchmark: ingest throughput, peak memory and publish cost at 1k, 10k and 100k stories.

    python bench/pipeline.py [--sizes 1000,10000,100000] [--seed 1] [--reps 5] [--timeout 540] [--out DIR]

For each size this script re-invokes itself twice (internal flag --child): once to generate
synthetic wire files (corpus.themed_wire: seeded; ~100 stories a file, ~5% exact duplicates
across files) into a scratch directory under bench/work/, once to measure them in a fresh
process, so the peak RSS (ru_maxrss) is that size's own. The measuring child ingests into a
fresh store, classifies, then times publishing (store queries + render + write of every feed
into an empty feeds dir) against a feedgen-only floor: the same entries rendered by bare
FeedGenerator objects, no store, no disk.
Results are printed and written to pipeline.json and pipeline.md in bench/results/ (or --out DIR).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

from feedgen.feed import FeedGenerator

from _common import (stories_at_blank_lines, PublishReport, Store, classify_entries, content_html, feed_specs, ingest, machine_info, now_iso,
                     parser, peak_rss_mb, render, run_child, shipped_config, summary_text, temp_scratch, vm_hwm_mb,
                     write_feeds, write_results)
from corpus import DUP_RATE, STORIES_PER_FILE, themed_wire

INGEST_REPS, INGEST_REPEAT_BUDGET_S = 5, 10.0  # ingest is repeated only while the runs stay short


# -- measurements (child process) ------------------------------------------------------------

def floor_inputs(specs) -> list[dict]:
    """What the feedgen floor renders: every field precomputed, so only feedgen is timed."""
    return [dict(id=s.feed_id, title=s.title, subtitle=s.subtitle, author=s.author, language=s.language,
                 home=s.home_url, updated=s.updated, selfs=(s.url("atom.xml"), s.url("rss.xml")),
                 entries=[(e.entry_id, e.title, s.entry_url(e), summary_text(e), content_html(e),
                           e.published, e.updated) for e in s.entries]) for s in specs]


def floor(feeds: list[dict]) -> None:
    """Bare feedgen: one FeedGenerator per output file (self links differ), atom_str / rss_str."""
    for f in feeds:
        for self_url, method in zip(f["selfs"], ("atom_str", "rss_str")):
            fg = FeedGenerator()
            fg.id(f["id"]), fg.title(f["title"]), fg.subtitle(f["subtitle"]), fg.author({"name": f["author"]})
            fg.link(href=f["home"], rel="alternate"), fg.link(href=self_url, rel="self")
            fg.language(f["language"]), fg.updated(f["updated"])
            for entry_id, title, link, summary, content, published, updated in f["entries"]:
                fe = fg.add_entry(order="append")
                fe.id(entry_id), fe.title(title), fe.link(href=link, rel="alternate")
                fe.summary(summary), fe.content(content, type="html")
                fe.published(published), fe.updated(updated)
            getattr(fg, method)(pretty=True, encoding="UTF-8")


LOOKUPS: list[float] = []  # seconds of each near-duplicate candidate lookup (LSH bands in SQLite)


def _timed_lookup(real, new_lookup: bool):
    """A story's lookup is two store reads (band hits, then the candidates' sketches): their
    time is summed into one LOOKUPS item per story."""
    def lookup(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return real(*args, **kwargs)
        finally:
            if new_lookup:
                LOOKUPS.append(time.perf_counter() - t0)
            else:
                LOOKUPS[-1] += time.perf_counter() - t0
    return lookup


Store.band_hits = _timed_lookup(Store.band_hits, True)
Store.candidates = _timed_lookup(Store.candidates, False)


def fresh_ingest(config, now: datetime) -> tuple[Store, PublishReport, float]:
    """Ingest every source into a new, empty store: (store, report, seconds)."""
    for old in config.paths.database.parent.glob(config.paths.database.name + "*"):
        old.unlink()
    store = Store.open(config.paths.database, now=now)
    report = PublishReport()
    LOOKUPS.clear()
    t0 = time.perf_counter()
    ingest(store, config, now, report)
    return store, report, time.perf_counter() - t0


def child(root: Path, reps: int) -> dict:
    config = shipped_config(root)
    now = datetime.now(UTC)
    out: dict = {"rss_mb_start": peak_rss_mb(), "ingest_runs_s": []}
    # Small sizes are ingested again (fresh store each time, best kept) while that stays cheap:
    # a single sub-second run is too noisy to compare per-story costs across sizes.
    while True:
        store, report, seconds = fresh_ingest(config, now)
        out["ingest_runs_s"].append(seconds)
        if len(out["ingest_runs_s"]) >= INGEST_REPS or sum(out["ingest_runs_s"]) > INGEST_REPEAT_BUDGET_S:
            break
        store.close()
    try:
        out["ingest_s"] = min(out["ingest_runs_s"])
        # the last run's lookups: mean over the last 1,000 (the store at its fullest)
        out["lookup_us"] = sum(LOOKUPS[-1000:]) / max(1, len(LOOKUPS[-1000:])) * 1e6
        out["rss_mb_ingest"], out["vm_hwm_mb_ingest"] = peak_rss_mb(), vm_hwm_mb()
        failed = [s for s in report.sources if s.outcome in ("failed", "skipped")] + report.errors
        assert not failed, f"ingest problems: {failed[:3]}"
        out.update(stories=sum(s.stories for s in report.sources), new=sum(s.new for s in report.sources),
                   duplicate=sum(s.duplicate for s in report.sources), revised=sum(s.revised for s in report.sources))
        t0 = time.perf_counter()
        out["classified"] = classify_entries(store, config)
        out["classify_s"] = time.perf_counter() - t0
        out["rss_mb_classify"] = peak_rss_mb()
        out["topics"] = store.topic_counts() | {config.merged.slug: store.count_in_any_topic()}
        out["db_mb"] = sum(p.stat().st_size for p in root.glob("publisher.db*")) / 2**20

        # Publish = feed_specs (store queries) + write_feeds (render + atomic write), into an empty
        # feeds dir each time; render = the publisher's renderers alone; floor = bare feedgen.
        feeds = floor_inputs(feed_specs(store, config))
        times: dict[str, list[float]] = {"query": [], "publish": [], "render": [], "floor": []}
        for _ in range(reps):  # interleaved, so drift affects all alike; best of `reps` is kept
            shutil.rmtree(config.paths.feeds, ignore_errors=True)
            t0 = time.perf_counter()
            specs = feed_specs(store, config)
            t1 = time.perf_counter()
            rep = PublishReport()
            write_feeds(config, specs, rep)
            t2 = time.perf_counter()
            assert not rep.errors and len(rep.feed_files_written) == rep.feed_files, rep.errors
            times["query"].append(t1 - t0)
            times["publish"].append(t2 - t0)
            t0 = time.perf_counter()
            for spec in specs:
                render(spec)  # Atom and RSS
            times["render"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            floor(feeds)
            times["floor"].append(time.perf_counter() - t0)
        out.update({f"{k}_ms": min(v) * 1000 for k, v in times.items()})
        out["feed_files"], out["feed_entries"] = rep.feed_files, sum(len(s.entries) for s in specs)
        # The query plans of the feed queries, captured through sqlite-utils' tracer.
        sqls: list[tuple[str, list]] = []
        with store.db.tracer(lambda sql, params: sqls.append((sql, params))):
            feed_specs(store, config)
        out["feed_query_plans"] = [
            {"sql": " ".join(sql.split()), "params": params,
             "plan": [r[-1] for r in store.db.execute("EXPLAIN QUERY PLAN " + sql, params or [])]}
            for sql, params in sqls if "LIMIT" in sql]
    finally:
        store.close()
    out["rss_mb_end"], out["vm_hwm_mb_end"] = peak_rss_mb(), vm_hwm_mb()
    return out


# -- driver (parent process) -----------------------------------------------------------------

def run_size(n: int, seed: int, reps: int, timeout: float, scratch: Path) -> dict:
    root = scratch / f"n{n}"
    gen: dict = {}
    try:
        t0 = time.perf_counter()
        gen = run_child(__file__, "generate", root, ["--sizes", n, "--seed", seed], timeout, capture_stderr=True)
        print(f"  generated {gen['stories']:,} stories in {gen['files']:,} files "
              f"({gen['bytes'] / 2**20:.1f} MiB, {time.perf_counter() - t0:.1f} s)", flush=True)
        res = run_child(__file__, "measure", root, ["--reps", reps], timeout, capture_stderr=True)
    except subprocess.TimeoutExpired:
        return {"size": n, "generated": gen, "error": f"did not finish within {timeout:.0f} s"}
    except RuntimeError as exc:
        return {"size": n, "generated": gen, "error": str(exc)}
    finally:
        shutil.rmtree(root, ignore_errors=True)
    assert res["stories"] == n, (res, gen)  # segmented as meant
    # Dedup as a classifier: revisions found of those generated; stories wrongly merged into
    # another entry (false revisions) show as fewer new entries than generated.
    res["revision_recall"] = res["revised"] / gen["revisions"] if gen["revisions"] else 1.0
    res["false_merges"] = (n - gen["duplicates"] - gen["revisions"]) - res["new"]
    res.update(size=n, generated=gen, ingest_per_s=n / res["ingest_s"], ingest_us=res["ingest_s"] / n * 1e6,
               classify_per_s=res["classified"] / res["classify_s"], ratio=res["publish_ms"] / res["floor_ms"],
               ratio_no_disk=(res["query_ms"] + res["render_ms"]) / res["floor_ms"])
    return res


def tables(results: list[dict], md: bool) -> str:
    ok = [r for r in results if "error" not in r]
    heads = (["stories", "ingest s", "stories/s", "µs/story", "peak RSS MB", "classify/s", "RSS after classify MB",
              "revisions found", "false merges", "LSH lookup µs"],
             ["stories", "query ms", "render ms", "publish ms", "floor ms", "publish/floor", "w/o disk"])
    rows = ([[f"{r['size']:,}", f"{r['ingest_s']:.2f}", f"{r['ingest_per_s']:,.0f}", f"{r['ingest_us']:.0f}",
              f"{r['rss_mb_ingest']:.0f}", f"{r['classify_per_s']:,.0f}", f"{r['rss_mb_classify']:.0f}",
              f"{r['revision_recall']:.1%}", f"{r['false_merges']:,}", f"{r['lookup_us']:.0f}"] for r in ok],
            [[f"{r['size']:,}", f"{r['query_ms']:.1f}", f"{r['render_ms']:.1f}", f"{r['publish_ms']:.1f}",
              f"{r['floor_ms']:.1f}", f"{r['ratio']:.2f}×", f"{r['ratio_no_disk']:.2f}×"] for r in ok])
    out = []
    for head, body in zip(heads, rows):
        if md:
            out += ["| " + " | ".join(head) + " |", "|" + "|".join("---:" for _ in head) + "|"]
            out += ["| " + " | ".join(row) + " |" for row in body] + [""]
        else:
            widths = [max(len(x) for x in col) for col in zip(head, *body)]
            out += ["  ".join(x.rjust(w) for x, w in zip(row, widths)) for row in [head, *body]] + [""]
    out += [f"{r['size']:,} stories: {r['error']}" for r in results if "error" in r]
    return "\n".join(out)


def main() -> None:
    stories_at_blank_lines()  # see _common: these corpora are not for measuring segmentation
    p = parser(__doc__)
    p.add_argument("--sizes", default="1000,10000,100000", help="story counts, comma-separated")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--reps", type=int, default=5, help="publish/floor repetitions (best is kept)")
    p.add_argument("--timeout", type=float, default=540, help="seconds allowed per subprocess")
    p.add_argument("--child", nargs=2, metavar=("MODE", "DIR"), help=argparse.SUPPRESS)  # internal
    args = p.parse_args()
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",")]
    if min(sizes) < 1:
        p.error("--sizes: story counts must be positive")
    if args.child:  # generate: write DIR/sources for sizes[0]; measure: ingest and publish DIR
        mode, root = args.child[0], Path(args.child[1])
        out = themed_wire(root / "sources", sizes[0], args.seed) if mode == "generate" else child(root, args.reps)
        print(json.dumps(out))
        return
    results = []
    with temp_scratch("pipeline-") as scratch:
        for n in sizes:
            print(f"{n:,} stories (seed {args.seed})", flush=True)
            results.append(run_size(n, args.seed, args.reps, args.timeout, scratch))
            if "error" in results[-1]:
                print(f"  error: {results[-1]['error']}", flush=True)
    ok = sorted((r for r in results if "error" not in r), key=lambda r: r["size"])
    linear = None
    if len(ok) >= 2:  # per-story ingest time, largest size over smallest: ~1 when linear
        linear = {"from": ok[0]["size"], "to": ok[-1]["size"],
                  "per_story_ratio": ok[-1]["ingest_us"] / ok[0]["ingest_us"]}
    doc = {"date": now_iso(), "machine": machine_info("feedgen", "sqlite-utils"), "seed": args.seed,
           "reps": args.reps, "stories_per_file": STORIES_PER_FILE, "dup_rate": DUP_RATE,
           "linearity": linear, "results": results}
    m = doc["machine"]
    note = (f"Python {m['python']}, SQLite {m['sqlite']}, {m['cpu_count']} CPUs ({m['cpu']}), {m['platform']}; "
            f"commit {m['commit']}, seed {args.seed}, best of {args.reps}, {doc['date']}.")
    if linear:
        verdict = "about linear" if linear["per_story_ratio"] < 1.25 else "worse than linear"
        note += (f" Ingest time per story at {linear['to']:,} stories is {linear['per_story_ratio']:.2f}× "
                 f"that at {linear['from']:,} ({verdict}).")
    if ok:
        worst = max(ok, key=lambda r: r["ratio"])
        note += (f" Publish/floor goal ≤ 1.5×: {'met' if worst['ratio'] <= 1.5 else 'not met'} "
                 f"(worst {worst['ratio']:.2f}× at {worst['size']:,}).")
    md = ("Ingest (`ingest` into a fresh store; peak RSS per size, own process) and publish "
          "(`feed_specs` + `write_feeds` of every feed into an empty dir, vs bare feedgen):\n\n"
          + tables(results, md=True) + "\n" + note + "\n")
    paths = write_results(args.out, "pipeline", doc, md)
    print("\n" + tables(results, md=False) + "\n" + note)
    print(f"\nwrote {paths[0]} and {paths[1]}")


if __name__ == "__main__":
    main()
