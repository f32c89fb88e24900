"""Aggregation benchmark: polling many feeds, publisher vs lemon24's reader, same feeds, same run.

    python bench/aggregate.py [--feeds 1000] [--entries 20] [--out DIR]

Generates N Atom feeds of M distinct entries (seeded), serves them from 127.0.0.1 with nginx
and deploy/nginx.conf (ETags, 304s), then times, in this process, one after the other:

  publisher  `publish()` on a config listing every feed: fetch (conditional GET, 32 at once,
             4 per host), parse, sanitise, dedup and store every entry, classify, write feeds
             and pages; then again once the feeds are due (every fetch a 304);
  reader     `make_reader()` + `add_feed()` for every feed, `update_feeds(scheduled=False)`,
             twice (its second poll sends the stored ETag too: all 304).

Both start from empty databases. Results are printed and written to aggregate.json and
aggregate.md in bench/results/ (or --out DIR). Goal (from the issue): publisher >= 2x faster
on both polls.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path

from _common import free_port, load, options, project_config, publish, scratch, stamp, write_results
from corpus import atom_feeds
from harness import nginx


def run_publisher(work: Path, base: str, feeds: int) -> dict:
    extra = "".join(f'\n[[sources.feeds]]\nurl = "{base}/f{f:04}/atom.xml"\n' for f in range(feeds))
    config = load(project_config(work / "publisher", extra=extra))
    now = datetime.now(UTC)
    start = time.perf_counter()
    first = publish(config, now)
    full = time.perf_counter() - start
    start = time.perf_counter()
    second = publish(config, now + timedelta(seconds=config.service.interval_seconds + 1))
    again = time.perf_counter() - start
    return {"full_s": round(full, 3), "again_s": round(again, 3),
            "first": {"polled": len(first.polled), "failed": first.count("failed", polled=True),
                      "stories": sum(s.new + s.duplicate + s.revised for s in first.polled),
                      "new": sum(s.new for s in first.polled)},
            "second": {"polled": len(second.polled), "unchanged": second.count("unchanged", polled=True),
                       "failed": second.count("failed", polled=True)}}


def run_reader(work: Path, base: str, feeds: int) -> dict:
    from reader import make_reader

    reader = make_reader(str(work / "reader.sqlite"))
    try:
        for f in range(feeds):
            reader.add_feed(f"{base}/f{f:04}/atom.xml")
        start = time.perf_counter()
        reader.update_feeds(scheduled=False)
        full = time.perf_counter() - start
        entries = reader.get_entry_counts().total
        start = time.perf_counter()
        reader.update_feeds(scheduled=False)
        again = time.perf_counter() - start
        broken = sum(1 for f in reader.get_feeds() if f.last_exception)
        return {"full_s": round(full, 3), "again_s": round(again, 3), "entries": entries, "failed": broken}
    finally:
        reader.close()


def main() -> int:
    args = options(__doc__, feeds=1000, entries=20)
    if not nginx.NGINX:
        print("bench/aggregate.py: nginx is not installed (apt-get install nginx-light); nothing measured",
              file=sys.stderr)
        return 2
    work = scratch("aggregate")
    t = time.perf_counter()
    atom_feeds(args.feeds, args.entries, work / "www")
    print(f"generated {args.feeds} feeds x {args.entries} entries in {time.perf_counter() - t:.1f} s", flush=True)
    with nginx.running(work / "nginx", work / "www", free_port()) as base:
        ours = run_publisher(work, base, args.feeds)
        print(f"publisher: full poll {ours['full_s']} s, second poll {ours['again_s']} s  {ours}", flush=True)
        theirs = run_reader(work, base, args.feeds)
        print(f"reader:    full poll {theirs['full_s']} s, second poll {theirs['again_s']} s  {theirs}", flush=True)
    speedup = {"full": theirs["full_s"] / ours["full_s"], "again": theirs["again_s"] / ours["again_s"]}
    doc = {
        **stamp(),
        "versions": {"reader": version("reader"), "httpx": version("httpx"), "feedparser": version("feedparser")},
        "feeds": args.feeds, "entries_per_feed": args.entries,
        "publisher": ours, "reader": theirs,
        "speedup_vs_reader": {k: round(v, 2) for k, v in speedup.items()},
        "goal": "issue 17: first poll at least as fast as reader, the all-304 poll >= 3x faster",
        "goal_met": speedup["full"] >= 1 and speedup["again"] >= 3,
    }
    md = [f"{args.feeds} Atom feeds x {args.entries} entries from nginx on 127.0.0.1; {doc['machine']}; "
          f"reader {doc['versions']['reader']}; {doc['when']}", "",
          "| poll | publisher s | reader s | reader / publisher |", "| --- | ---: | ---: | ---: |",
          f"| first (every entry new) | {ours['full_s']:.2f} | {theirs['full_s']:.2f} | {speedup['full']:.2f}x |",
          f"| second (every feed 304) | {ours['again_s']:.2f} | {theirs['again_s']:.2f} | {speedup['again']:.2f}x |",
          "", f"publisher first poll: {ours['first']['polled']} feeds, {ours['first']['stories']} entries stored "
          f"({ours['first']['failed']} feeds failed); reader: {theirs['entries']} entries ({theirs['failed']} failed). "
          f"publisher's time includes dedup against every stored story, classification, and writing the "
          f"feeds and story pages; reader's is fetch, parse and store.",
          f"Goals (issue 17): first poll >= 1x reader: {'met' if speedup['full'] >= 1 else 'NOT met'}; "
          f"all-304 poll >= 3x: {'met' if speedup['again'] >= 3 else 'NOT met'}."]
    write_results(args.out, "aggregate", doc, "\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
