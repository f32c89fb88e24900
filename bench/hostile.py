"""Hostile input at full size: thousands of generated bad sources through the real pipeline.

    python bench/hostile.py [--inputs 5000] [--seed 1] [--out DIR]

Generates --inputs files of every kind of bad input (random bytes, mutations of a valid wire
file and of a valid feed: truncated, bytes flipped, NULs and control characters injected,
huge lines, wrong encodings, DTDs with entities, deep JSON) into a scratch sources/ beside a
published good batch, runs `publisher publish` on them in a subprocess, and checks: it ends
(no crash, no traceback) within a time bound and a memory bound, every bad file named in at
most one problem line (plus warnings), every story published before still there. Prints
figures and writes hostile.json and hostile.md to bench/results/ (or --out DIR).
"""

from __future__ import annotations

import random
import sqlite3
import subprocess
import sys
import time

from _common import BIN, options, peak_rss_mb, project_config, scratch, stamp, write_results
from corpus import BILLION_LAUGHS, stories_text
from harness.checks import assert_feeds_whole

FEED = (b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
        b"<link>https://t.example/</link><item><title>Kyiv</title><guid>g</guid><description>&lt;p&gt;Kyiv in "
        b"Ukraine said on Monday &lt;b&gt;more&lt;/b&gt;.&lt;/p&gt;</description></item></channel></rss>")


def mutate(rng: random.Random, data: bytes) -> bytes:
    data = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        kind = rng.random()
        i = rng.randrange(max(1, len(data)))
        if kind < 0.3 and data:
            data[i] = rng.randrange(256)
        elif kind < 0.5:
            data[i:i] = rng.choice([b"\x00", b"\x1b[31m", b"\xff\xfe", b"\xed\xa0\x80", b"]]>", b"<!--", b"&lol9;",
                                    b"<script>x()</script>", b"\r", b"\u2028".decode("unicode_escape").encode()])
        elif kind < 0.7:
            del data[i:]
        else:
            data[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
    return bytes(data)


def generate(rng: random.Random, n: int, wire: bytes) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for i in range(n):
        kind = i % 8
        if kind == 0:
            name, data = f"random-{i}.txt", rng.randbytes(rng.randint(0, 20_000))
        elif kind == 1:
            name, data = f"wire-{i}.txt", mutate(rng, wire)
        elif kind == 2:
            name, data = f"feed-{i}.xml", mutate(rng, FEED)
        elif kind == 3:
            name, data = f"long-{i}.txt", b"Kyiv " + b"x" * rng.randint(10_000, 300_000) + b"\n"
        elif kind == 4:
            name, data = f"latin-{i}.txt", wire.decode().encode("latin-1", "replace")
        elif kind == 5:
            name, data = f"laughs-{i}.rss", BILLION_LAUGHS
        elif kind == 6:
            depth = rng.randint(1000, 50_000)
            name, data = f"deep-{i}.json", b'{"version": "https://jsonfeed.org/version/1", "items": ' + b"[" * depth + b"]" * depth + b"}"
        else:
            name, data = f"odd name \u00e9 {i}\x7f.txt", mutate(rng, wire)
        out[name] = data
    return out


def main() -> int:
    args = options(__doc__, inputs=5000, seed=1)
    rng = random.Random(args.seed)
    work = scratch("hostile")
    project_config(work)
    good = stories_text(200, seed=args.seed)
    for i, text in enumerate(good):
        (work / "sources" / f"good-{i:03}.txt").write_text(text + "\n")
    cmd = [str(BIN), "--config", str(work / "config.toml"), "publish"]
    assert subprocess.run(cmd, capture_output=True).returncode == 0
    with sqlite3.connect(work / "publisher.db") as db:
        before = dict(db.execute("SELECT entry_id, name FROM entries"))
    wire = (stories_text(3, seed=99)[0] + "\n" + stories_text(3, seed=98)[1] + "\n").encode()
    bad = generate(rng, args.inputs, wire)
    for name, data in bad.items():
        (work / "sources" / "bad").mkdir(exist_ok=True)
        (work / "sources" / "bad" / name).write_bytes(data)
    start = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    seconds = time.monotonic() - start
    rss_mb = peak_rss_mb(children=True)
    lines = proc.stderr.splitlines()
    problems: dict[str, int] = {}
    for line in lines:
        if ": warning: " not in line:
            problems[line.split(": ", 1)[0]] = problems.get(line.split(": ", 1)[0], 0) + 1
    with sqlite3.connect(work / "publisher.db") as db:
        after = dict(db.execute("SELECT entry_id, name FROM entries"))
        integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
    lost = sum(1 for k, v in before.items() if after.get(k) != v)
    try:
        assert_feeds_whole(work / "feeds")
        whole = True
    except Exception:  # noqa: BLE001
        whole = False
    crashed = proc.returncode not in (0, 1) or "Traceback" in proc.stderr
    doc = {**stamp(), "inputs": args.inputs, "seconds": round(seconds, 1), "peak_rss_mb": round(rss_mb),
           "exit": proc.returncode, "crashed": crashed, "problem_lines": sum(problems.values()),
           "files_with_more_than_one_problem_line": sum(1 for v in problems.values() if v > 1),
           "published_stories_lost": lost, "feeds_whole": whole, "integrity": integrity}
    failures = int(crashed) + lost + (not whole) + (integrity != "ok") + doc["files_with_more_than_one_problem_line"]
    doc["failures"] = failures
    md = (f"{args.inputs:,} generated bad inputs in one publish beside 200 published stories; {doc['machine']}; "
          f"{doc['when']}\n\n| seconds | peak RSS MB | crashed | problem lines | files named twice | "
          f"published stories lost | feeds whole | integrity |\n| ---: | ---: | --- | ---: | ---: | ---: | --- | --- |\n"
          f"| {seconds:.1f} | {rss_mb:.0f} | {'yes' if crashed else 'no'} | {doc['problem_lines']:,} | "
          f"{doc['files_with_more_than_one_problem_line']} | {lost} | {'yes' if whole else 'NO'} | {integrity} |\n")
    write_results(args.out, "hostile", doc, md)
    print(md)
    if crashed:
        print(proc.stderr[-3000:])
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
