"""Aggregation benchmark: polling many feeds, publisher vs lemon24's reader, same feeds, same run.

    python bench/aggregate.py [--feeds 1000] [--entries 20] [--timeout 600]

Generates N Atom feeds of M distinct entries (seeded), serves them from 127.0.0.1 with nginx
and deploy/nginx.conf (ETags, 304s), then times, in this process, one after the other:

  publisher  `publish()` on a config listing every feed: fetch (conditional GET, 32 at once,
             4 per host), parse, sanitise, dedup and store every entry, classify, write feeds
             and pages; then again once the feeds are due (every fetch a 304);
  reader     `make_reader()` + `add_feed()` for every feed, `update_feeds(scheduled=False)`,
             twice (its second poll sends the stored ETag too: all 304).

Both start from empty databases. Results are printed and written to bench/results/aggregate.json
and bench/results/aggregate.md. Goal (from the issue): publisher >= 2x faster on both polls.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import sys
import time
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
import nginx_harness  # noqa: E402
from nginx_harness import free_port  # noqa: E402

from publisher.config import load  # noqa: E402
from publisher.publish import publish  # noqa: E402

RESULTS = ROOT / "bench" / "results"
WORK = ROOT / "bench" / "work" / "aggregate"
T0 = datetime(2026, 11, 1, tzinfo=UTC)



def words(rng: random.Random) -> list[str]:
    syllables = ["ka", "lo", "mi", "nu", "pe", "ro", "si", "tu", "va", "ze", "bri", "dal", "fen", "gor", "hul"]
    return sorted({"".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))) for _ in range(6000)})


def generate(feeds: int, entries: int, root: Path, seed: int = 3) -> None:
    """feeds/fNNNN/atom.xml: distinct stories (shared vocabulary, random order: no near-duplicates);
    every tenth story mentions Kyiv and Ukraine, so some land in a topic."""
    rng = random.Random(seed)
    vocab = words(rng)
    for f in range(feeds):
        items = []
        for e in range(entries):
            body = [" ".join(rng.sample(vocab, 45)).capitalize() + "." for _ in range(2)]
            if (f * entries + e) % 10 == 0:
                body[0] = "Kyiv officials in Ukraine said on Monday that " + body[0]
            title = " ".join(rng.sample(vocab, 8)).capitalize()
            when = (T0 + timedelta(minutes=f * entries + e)).isoformat()
            html = "".join(f"<p>{escape(p)}</p>" for p in body)
            items.append(f"<entry><id>urn:bench:{f}:{e}</id><title>{escape(title)}</title>"
                         f'<link href="https://site{f % 50}.example/{f}/{e}"/><updated>{when}</updated>'
                         f'<content type="html">{escape(html)}</content></entry>')
        path = root / f"f{f:04}" / "atom.xml"
        path.parent.mkdir(parents=True)
        path.write_text('<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
                        f"<id>urn:bench:{f}</id><title>Bench feed {f}</title><updated>{T0.isoformat()}</updated>"
                        + "".join(items) + "</feed>")


def run_publisher(base: str, feeds: int) -> dict:
    project = WORK / "publisher"
    project.mkdir()
    (project / "sources").mkdir()
    text = (ROOT / "config.toml").read_text()
    text += "".join(f'\n[[sources.feeds]]\nurl = "{base}/f{f:04}/atom.xml"\n' for f in range(feeds))
    (project / "config.toml").write_text(text)
    config = load(project / "config.toml")
    now = datetime.now(UTC)
    start = time.perf_counter()
    first = publish(config, now)
    full = time.perf_counter() - start
    start = time.perf_counter()
    second = publish(config, now + timedelta(seconds=config.service.interval_seconds + 1))
    again = time.perf_counter() - start
    return {"full_s": round(full, 3), "again_s": round(again, 3),
            "first": {"polled": len(first.feeds), "failed": first.count("failed", feeds=True),
                      "stories": sum(s.new + s.duplicate + s.revised for s in first.feeds),
                      "new": sum(s.new for s in first.feeds)},
            "second": {"polled": len(second.feeds), "unchanged": second.count("unchanged", feeds=True),
                       "failed": second.count("failed", feeds=True)}}


def run_reader(base: str, feeds: int) -> dict:
    from reader import make_reader

    reader = make_reader(str(WORK / "reader.sqlite"))
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
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--feeds", type=int, default=1000)
    ap.add_argument("--entries", type=int, default=20)
    args = ap.parse_args()
    if not nginx_harness.NGINX:
        print("bench/aggregate.py: nginx is not installed (apt-get install nginx-light); nothing measured",
              file=sys.stderr)
        return 2
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    t = time.perf_counter()
    generate(args.feeds, args.entries, WORK / "www")
    print(f"generated {args.feeds} feeds x {args.entries} entries in {time.perf_counter() - t:.1f} s", flush=True)
    with nginx_harness.running(WORK / "nginx", WORK / "www", free_port()) as base:
        ours = run_publisher(base, args.feeds)
        print(f"publisher: full poll {ours['full_s']} s, second poll {ours['again_s']} s  {ours}", flush=True)
        theirs = run_reader(base, args.feeds)
        print(f"reader:    full poll {theirs['full_s']} s, second poll {theirs['again_s']} s  {theirs}", flush=True)
    speedup = {"full": theirs["full_s"] / ours["full_s"], "again": theirs["again_s"] / ours["again_s"]}
    doc = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "versions": {"reader": version("reader"), "httpx": version("httpx"), "feedparser": version("feedparser")},
        "feeds": args.feeds, "entries_per_feed": args.entries,
        "publisher": ours, "reader": theirs,
        "speedup_vs_reader": {k: round(v, 2) for k, v in speedup.items()},
        "goal": "publisher >= 2x faster than reader on both polls",
        "goal_met": min(speedup.values()) >= 2,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "aggregate.json").write_text(json.dumps(doc, indent=2) + "\n")
    md = [f"{args.feeds} Atom feeds x {args.entries} entries from nginx on 127.0.0.1; {doc['machine']}; "
          f"reader {doc['versions']['reader']}; {doc['when']}", "",
          "| poll | publisher s | reader s | reader / publisher |", "| --- | ---: | ---: | ---: |",
          f"| first (every entry new) | {ours['full_s']:.2f} | {theirs['full_s']:.2f} | {speedup['full']:.2f}x |",
          f"| second (every feed 304) | {ours['again_s']:.2f} | {theirs['again_s']:.2f} | {speedup['again']:.2f}x |",
          "", f"publisher first poll: {ours['first']['polled']} feeds, {ours['first']['stories']} entries stored "
          f"({ours['first']['failed']} feeds failed); reader: {theirs['entries']} entries ({theirs['failed']} failed). "
          f"publisher's time includes dedup against every stored story, classification, and writing the "
          f"feeds and story pages; reader's is fetch, parse and store.",
          f"Goal (>= 2x reader on both polls): {'met' if doc['goal_met'] else 'NOT met'}."]
    (RESULTS / "aggregate.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
