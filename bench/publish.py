"""Publish benchmark: the output step of a publish (site.write_all) against a floor that renders
and writes the same files with bare libraries and syncs them once, at 1k, 10k and 100k stored.

    python bench/publish.py [--sizes 1000,10000,100000] [--reps 5] [--file-stories 100] [--seed 1]
                            [--timeout 1800] [--out DIR]

For each size a child process generates synthetic wire files (corpus.themed_wire, as
bench/pipeline.py), ingests and classifies them into a fresh store (not timed), then times:

- first: write_all into an empty feeds dir (every feed, every page of a story in a topic,
  the closed archive pages), once;
- steady: for each of --reps rounds, a new file of --file-stories stories is ingested and
  classified (not timed), then write_all (timed): what every publish after a file arrives does.

The floor of each timed publish renders exactly the files that publish handled (every feed in
three formats, the story pages it rendered, the archive pages it wrote, the feed pages, the
OPML and the front page) from inputs computed beforehand (no store): Atom and RSS by bare
feedgen FeedGenerators, JSON Feed by json.dumps (compact: its C encoder), the HTML by the same
Jinja templates (publisher.render.html); writes each with open/write into its own directory;
then one syncfs. The ratio publish/floor is of the same run (steady: the best of the rounds of
each). Filesystem syncs made by the publish (os.fsync, syncfs, os.sync) are counted.
Then (--reload) the server's reload after such a publish: a feeds dir of N story pages, a
full listing (the first reload; what every reload did before the change journal) against a
reload after 100 pages changed and were named in the journal (publisher.changes).
Results: bench/results/publish.json and publish.md (or --out DIR).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from feedgen.feed import FeedGenerator

from _common import (PublishReport, Store, atomic, classify_entries, content_html, entry_rules, html, ingest,
                     machine_info, now_iso, parser, render_opml, run_child, shipped_config, site,
                     stories_at_blank_lines, summary_text, temp_scratch, write_results)
from corpus import themed_wire

GOAL = 1.5


# -- the floor ---------------------------------------------------------------------------------

def _feed_input(spec) -> dict:
    """What bare feedgen and json.dumps render of a feed: every field computed beforehand."""
    return dict(id=spec.feed_id, title=spec.title, subtitle=spec.subtitle, author=spec.author,
                language=spec.language, home=spec.page_url, updated=spec.updated,
                urls=(spec.url(site.FeedFormat.ATOM), spec.url(site.FeedFormat.RSS), spec.url(site.FeedFormat.JSON)),
                entries=[(e.entry_id, e.title, spec.entry_url(e), summary_text(e), content_html(e),
                          e.published, e.updated, e.published.isoformat(), e.updated.isoformat())
                         for e in spec.entries])


def _feedgen(f: dict, self_url: str, method: str) -> bytes:
    fg = FeedGenerator()
    fg.id(f["id"]), fg.title(f["title"]), fg.subtitle(f["subtitle"]), fg.author({"name": f["author"]})
    fg.link(href=f["home"], rel="alternate"), fg.link(href=self_url, rel="self")
    fg.language(f["language"]), fg.updated(f["updated"])
    for entry_id, title, link, summary, content, published, updated, _, _ in f["entries"]:
        fe = fg.add_entry(order="append")
        fe.id(entry_id), fe.title(title), fe.link(href=link, rel="alternate")
        fe.summary(summary), fe.content(content, type="html")
        fe.published(published), fe.updated(updated)
    return getattr(fg, method)(pretty=True, encoding="UTF-8")


def _json(f: dict) -> bytes:
    doc = {"version": "https://jsonfeed.org/version/1.1", "title": f["title"], "home_page_url": f["home"],
           "feed_url": f["urls"][2], "description": f["subtitle"], "language": f["language"],
           "authors": [{"name": f["author"]}],
           "items": [{"id": i, "url": link, "title": t, "content_html": c, "summary": s, "date_published": p,
                      "date_modified": u} for i, t, link, s, c, _, _, p, u in f["entries"]]}
    return (json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def _feed_files(f: dict, directory: str) -> list[tuple[str, bytes]]:
    return [(f"{directory}/atom.xml", _feedgen(f, f["urls"][0], "atom_str")),
            (f"{directory}/rss.xml", _feedgen(f, f["urls"][1], "rss_str")),
            (f"{directory}/feed.json", _json(f))]


def floor(inputs: dict, root: Path) -> int:
    """Render, write (open/write) and sync once what `inputs` (floor_inputs) says; returns the
    number of files."""
    info, specs = inputs["site"], inputs["specs"]
    files = []
    for spec, f in zip(specs, inputs["feeds"]):
        files += _feed_files(f, spec.slug)
    for spec, n, page, f in inputs["archives"]:
        files += _feed_files(f, f"{spec.slug}/archive/{n}")
        files.append((f"{spec.slug}/archive/{n}/index.html", html.archive_page(info, page, specs)))
    for page in inputs["stories"]:
        files.append((f"stories/{page.name}.html", html.story_page(info, page, specs)))
    for spec in specs:
        files.append((f"{spec.slug}/index.html", html.feed_page(info, spec, specs)))
    files.append(("feeds.opml", render_opml(inputs["title"], inputs["author"], specs)))
    files.append(("index.html", html.index_page(info, specs)))
    made: set[Path] = set()
    for rel, data in files:
        path = root / rel
        if path.parent not in made:
            path.parent.mkdir(parents=True, exist_ok=True)
            made.add(path.parent)
        with open(path, "wb") as out:
            out.write(data)
    atomic.sync_filesystem(root)
    return len(files)


def floor_inputs(store, config, stories: list[int], archives: list[tuple]) -> dict:
    """The floor's inputs for the files a publish handled (its story pages, its archive pages),
    computed from the store now (not timed)."""
    specs = site.feed_specs(store, config)
    by_slug = {s.slug: s for s in specs}
    pages = [entry_rules.story_page(store.page_history(e, entry_rules.SHOWN, config.limits.versions_per_story),
                                    store.topics_of(e)) for e in stories]
    size = config.archive_page_size
    arch = []
    for slug, key, n in archives:
        items, changed = store.archive_entries(key, (n - 1) * size + 1, n * size)
        spec = by_slug[slug]
        page = replace(spec, entries=tuple(items), archive=n, hub=None, total=len(items),
                       updated=max([e.updated for e in items] + [changed or store.created_at]))
        arch.append((spec, n, page, _feed_input(page)))
    return {"site": site.site_info(config), "specs": specs, "feeds": [_feed_input(s) for s in specs],
            # (the pages it rendered: an entry never in a topic has none, though old code looked)
            "stories": [p for e, p in zip(stories, pages) if p.topics or store.ever_in_a_topic(e)], "archives": arch,
            "title": config.site.title, "author": config.site.author}


# -- the publish, watched ----------------------------------------------------------------------

class Watch:
    """What a write_all does: the story pages it renders, the archive pages it writes, the
    filesystem syncs it makes (patched in for the run: they pass through)."""

    def __init__(self):
        self.stories: list[int] = []
        self.archives: list[tuple[str, str, int]] = []
        self.syncs = {"fsync": 0, "syncfs": 0, "sync": 0}
        self.seen: tuple = ([], [], {})  # (stories, archives, syncs) of the last publish
        real_history, real_archive = Store.page_history, site._write_archive_page
        real_fsync, real_syncfs, real_sync = os.fsync, atomic.sync_filesystem, os.sync
        watch = self

        def page_history(self, entry, *args, **kwargs):
            watch.stories.append(entry)
            return real_history(self, entry, *args, **kwargs)

        def write_archive_page(*args, **kwargs):
            watch.archives.append((args[3].slug, args[5], args[6]))  # (spec, key, n)
            return real_archive(*args, **kwargs)

        def fsync(fd):
            watch.syncs["fsync"] += 1
            return real_fsync(fd)

        def syncfs(path):
            watch.syncs["syncfs"] += 1
            return real_syncfs(path)

        def sync():
            watch.syncs["sync"] += 1
            return real_sync()

        Store.page_history, site._write_archive_page = page_history, write_archive_page
        os.fsync, atomic.sync_filesystem, os.sync = fsync, syncfs, sync

    def reset(self) -> None:
        self.stories, self.archives = [], []
        self.syncs = dict.fromkeys(self.syncs, 0)


def timed_publish(store, config, watch: Watch) -> tuple[float, PublishReport]:
    watch.reset()
    report = PublishReport()
    t0 = time.perf_counter()
    site.write_all(store, config, report)
    seconds = time.perf_counter() - t0
    assert not report.errors, report.errors[:3]
    watch.seen = (list(dict.fromkeys(watch.stories)), list(dict.fromkeys(watch.archives)), dict(watch.syncs))
    return seconds, report


def timed_floor(store, config, watch: Watch, root: Path) -> tuple[float, int]:
    stories, archives, _ = watch.seen  # (the floor's own reads and sync are not the publish's)
    inputs = floor_inputs(store, config, stories, archives)
    t0 = time.perf_counter()
    files = floor(inputs, root)
    return time.perf_counter() - t0, files


def child(root: Path, reps: int, file_stories: int, seed: int) -> dict:
    stories_at_blank_lines()
    config = shipped_config(root)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    store = Store.open(config.paths.database, now=now)
    out: dict = {}
    try:
        t0 = time.perf_counter()
        report = PublishReport()
        ingest(store, config, now, report)
        classify_entries(store, config)
        out["build_s"] = time.perf_counter() - t0
        out["stored"] = store.count_entries()
        out["in_a_topic"] = store.count_in_any_topic()
        watch = Watch()
        floor_root = root / "floor"
        # The templates compiled before either is timed: the floor runs after the publish in the
        # same process, and got them compiled for nothing (a per-process constant, ~90 ms, that
        # it would pay in a process of its own), and the first publish paid it in its time.
        html.load_templates()
        seconds, rep = timed_publish(store, config, watch)
        floor_s, files = timed_floor(store, config, watch, floor_root)
        out["first"] = {"publish_ms": seconds * 1000, "floor_ms": floor_s * 1000, "ratio": seconds / floor_s,
                        "pages": rep.pages, "pages_written": rep.pages_written, "feed_files": rep.feed_files,
                        "story_pages": len(watch.seen[0]), "archive_pages": len(watch.seen[1]),
                        "floor_files": files, "syncs": watch.seen[2]}
        steady = []
        for n in range(reps):
            now += timedelta(minutes=10)
            new = root / "sources" / f"more-{n:03d}"
            themed_wire(new, file_stories, seed * 1000 + n)
            report = PublishReport()
            ingest(store, config, now, report, only=sorted(new.iterdir()))
            classify_entries(store, config)
            seconds, rep = timed_publish(store, config, watch)
            floor_s, files = timed_floor(store, config, watch, floor_root)
            steady.append({"publish_ms": seconds * 1000, "floor_ms": floor_s * 1000, "ratio": seconds / floor_s,
                           "pages": rep.pages, "pages_written": rep.pages_written,
                           "story_pages": len(watch.seen[0]), "archive_pages": len(watch.seen[1]),
                           "floor_files": files, "syncs": watch.seen[2]})
        out["steady_runs"] = steady
        best_p = min(r["publish_ms"] for r in steady)
        best_f = min(r["floor_ms"] for r in steady)
        ratios = sorted(r["ratio"] for r in steady)
        out["steady"] = {"publish_ms": best_p, "floor_ms": best_f, "ratio": best_p / best_f,
                         "median_ratio": ratios[len(ratios) // 2], "ratio_range": [ratios[0], ratios[-1]],
                         "story_pages": sorted(r["story_pages"] for r in steady)[len(steady) // 2],
                         "syncs": steady[-1]["syncs"]}
    finally:
        store.close()
    return out


# -- the server's reload -----------------------------------------------------------------------

def reload_cost(n: int, scratch: Path, changed: int = 100, reps: int = 5) -> dict:
    """Seconds of FeedServer.reload over n story pages: listing everything, and after `changed`
    pages were rewritten and named in the change journal."""
    from _common import serve, changes

    feeds = scratch / f"reload-{n}" / "feeds"
    stories = feeds / "stories"
    stories.mkdir(parents=True)
    for slug in ("ukraine", "taiwan-security", "all"):
        (feeds / slug).mkdir()
        for name in ("atom.xml", "rss.xml", "feed.json", "index.html"):
            (feeds / slug / name).write_bytes(b"<x/>" * 500)
    (feeds / "index.html").write_bytes(b"<!doctype html>" * 100)
    page = b"<!doctype html><title>a story</title>" + b"<p>text</p>" * 300
    for i in range(n):
        (stories / f"story-{i:07d}.html").write_bytes(page)
    changes.append(feeds, ["/stories/story-0000000.html"])
    full, incremental = [], []
    for rep in range(reps):
        app = serve.FeedServer(feeds)
        t0 = time.perf_counter()
        app.reload()
        full.append(time.perf_counter() - t0)
        lines = []
        for i in range(changed):
            name = f"story-{(rep * changed + i) * 7 % n:07d}.html"
            atomic.write(stories / name, page + str(rep).encode(), sync=False)
            lines.append(f"/stories/{name}")
        changes.append(feeds, lines)
        t0 = time.perf_counter()
        app.reload()
        incremental.append(time.perf_counter() - t0)
        assert len(app.files) >= n
    shutil.rmtree(feeds.parent, ignore_errors=True)
    return {"pages": n, "changed": changed, "full_ms": min(full) * 1000, "journal_ms": min(incremental) * 1000}


# -- driver ------------------------------------------------------------------------------------

def run_size(n: int, args, scratch: Path) -> dict:
    root = scratch / f"n{n}"
    try:
        t0 = time.perf_counter()
        gen = run_child(__file__, "generate", root, ["--sizes", n, "--seed", args.seed], args.timeout,
                        capture_stderr=True)
        print(f"  generated {gen['stories']:,} stories ({time.perf_counter() - t0:.1f} s)", flush=True)
        res = run_child(__file__, "measure", root, ["--reps", args.reps, "--file-stories", args.file_stories,
                                                    "--seed", args.seed], args.timeout, capture_stderr=True)
    except subprocess.TimeoutExpired:
        return {"size": n, "error": f"did not finish within {args.timeout:.0f} s"}
    except RuntimeError as exc:
        return {"size": n, "error": str(exc)}
    finally:
        shutil.rmtree(root, ignore_errors=True)
    res["size"] = n
    return res


def _syncs(d: dict) -> str:
    return f"{d['fsync'] + d['syncfs'] + d['sync']}"


def table(results: list[dict], md: bool) -> str:
    head = ["stored", "in a topic", "first: publish ms", "floor ms", "ratio", "pages", "syncs",
            "steady: publish ms", "floor ms", "ratio (best/best)", "median (range)", "pages", "syncs"]
    rows = []
    for r in results:
        if "error" in r:
            continue
        f, s = r["first"], r["steady"]
        rows.append([f"{r['stored']:,}", f"{r['in_a_topic']:,}", f"{f['publish_ms']:,.0f}", f"{f['floor_ms']:,.0f}",
                     f"{f['ratio']:.2f}×", f"{f['story_pages']:,}", _syncs(f['syncs']),
                     f"{s['publish_ms']:.1f}", f"{s['floor_ms']:.1f}", f"{s['ratio']:.2f}×",
                     f"{s['median_ratio']:.2f}× ({s['ratio_range'][0]:.2f}–{s['ratio_range'][1]:.2f})",
                     f"{s['story_pages']}", _syncs(s['syncs'])])
    if md:
        out = ["| " + " | ".join(head) + " |", "|" + "|".join("---:" for _ in head) + "|"]
        out += ["| " + " | ".join(row) + " |" for row in rows]
    else:
        widths = [max(len(x) for x in col) for col in zip(head, *rows)]
        out = ["  ".join(x.rjust(w) for x, w in zip(row, widths)) for row in [head, *rows]]
    out += [f"{r['size']:,} stories: {r['error']}" for r in results if "error" in r]
    return "\n".join(out)


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--sizes", default="1000,10000,100000", help="stored story counts, comma-separated")
    p.add_argument("--reps", type=int, default=5, help="steady rounds (a new file each)")
    p.add_argument("--file-stories", type=int, default=100, help="stories in each new file")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--timeout", type=float, default=1800, help="seconds allowed per subprocess")
    p.add_argument("--label", default="", help="a word for the results (e.g. before)")
    p.add_argument("--reload", default="", help="story page counts for the reload part (e.g. 1000,10000,100000)")
    p.add_argument("--no-publish", action="store_true", help="the reload part only")
    p.add_argument("--child", nargs=2, metavar=("MODE", "DIR"), help=argparse.SUPPRESS)
    args = p.parse_args()
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",")]
    if args.child:
        mode, root = args.child[0], Path(args.child[1])
        if mode == "generate":
            out = themed_wire(root / "sources", sizes[0], args.seed)
        else:
            out = child(root, args.reps, args.file_stories, args.seed)
        print(json.dumps(out))
        return
    results, reloads = [], []
    with temp_scratch("publish-") as scratch:
        for n in [int(x) for x in args.reload.split(",") if x]:
            reloads.append(reload_cost(n, scratch))
            print(f"reload over {n:,} story pages: full listing {reloads[-1]['full_ms']:.1f} ms, "
                  f"journal of {reloads[-1]['changed']} {reloads[-1]['journal_ms']:.1f} ms", flush=True)
        for n in ([] if args.no_publish else sizes):
            print(f"{n:,} stories", flush=True)
            results.append(run_size(n, args, scratch))
            if "error" in results[-1]:
                print(f"  error: {results[-1]['error']}", flush=True)
    ok = [r for r in results if "error" not in r]
    doc = {"date": now_iso(), "machine": machine_info("feedgen", "jinja2"), "seed": args.seed, "reps": args.reps,
           "file_stories": args.file_stories, "goal": GOAL, "label": args.label, "results": results,
           "reloads": reloads}
    m = doc["machine"]
    note = (f"Python {m['python']}, SQLite {m['sqlite']}, {m['cpu_count']} CPUs ({m['cpu']}); commit {m['commit']}, "
            f"seed {args.seed}, {args.reps} steady rounds of a {args.file_stories}-story file, {doc['date']}.")
    if ok:
        worst = max(max(r["first"]["ratio"], r["steady"]["ratio"]) for r in ok)
        doc["met"] = worst <= GOAL
        note += f" Goal publish ≤ {GOAL}× floor at every size: {'met' if doc['met'] else 'not met'} (worst {worst:.2f}×)."
    md = ("Publish (`site.write_all`) vs a floor rendering and writing the same files with bare feedgen, "
          "json.dumps and the same Jinja templates, synced once (bench/publish.py). *first*: into an empty "
          "feeds dir; *steady*: after a new file arrives (best of the rounds; median and range of the "
          "per-round ratios). *pages*: story pages rendered; *syncs*: filesystem syncs of the publish "
          "(fsync + syncfs + sync).\n\n" + table(results, md=True) + "\n\n" + note + "\n")
    if not results:
        md = note.split(" Goal")[0] + "\n"
    if reloads:
        md += ("\nServer reload (`FeedServer.reload`) over N story pages: listing everything (the first reload; "
               "every reload before the change journal) vs after 100 pages changed, named in the journal:\n\n"
               "| story pages | full listing ms | journal of 100 ms | ratio |\n|---:|---:|---:|---:|\n"
               + "".join(f"| {r['pages']:,} | {r['full_ms']:.1f} | {r['journal_ms']:.1f} | "
                         f"{r['full_ms'] / r['journal_ms']:.0f}× |\n" for r in reloads))
    name = "publish" + (f"-{args.label}" if args.label else "")
    paths = write_results(args.out, name, doc, md)
    print("\n" + table(results, md=False) + "\n\n" + note)
    print(f"\nwrote {paths[0]} and {paths[1]}")


if __name__ == "__main__":
    main()
