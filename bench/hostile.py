"""Hostile input at full size: thousands of generated bad sources, then big files built to be slow.

    python bench/hostile.py [--inputs 5000] [--seed 1] [--only small|big] [--out DIR]

Generates --inputs files of every kind of bad input (random bytes, mutations of a valid wire
file and of a valid feed: truncated, bytes flipped, NULs and control characters injected,
huge lines, wrong encodings, DTDs with entities, deep JSON) into a scratch sources/ beside a
published good batch, runs `publisher publish` on them in a subprocess, and checks: it ends
(no crash, no traceback) within a time bound and a memory bound, every bad file named in at
most one problem line (plus warnings), every story published before still there. Prints
figures and writes hostile.json and hostile.md to bench/results/ (or --out DIR).

Then the big files (issue 14 item 3), each generated here (in bench/work/, never committed) and
under the size limit: 1M short lines, 2M nested tags, 300k one-line stories and more. Each is
published alone into a fresh project by `publisher publish` in a child process, whose time and
peak RSS (os.wait4) are the figures; then under `publisher run` each is dropped into sources/
and a small news file 1 s after it, and the time from the news file's drop until the served feed
holds it is measured. Goals: each publish under 10 s and 300 MB; the news file served within
3 s. Written to hostile-big.json and hostile-big.md.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from _common import BIN, commit, options, project_config, scratch, stamp, start_service, write_results
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
    args = options(__doc__, inputs=5000, seed=1, only="", make="", into="")
    if args.make:  # a child's job: the driver never holds a big file (its RSS would be its children's)
        Path(args.into).write_bytes(big_cases()[args.make][2]())
        return 0
    failures = 0
    # the big files first: a child's ru_maxrss starts from the driver's own, which the small run's
    # thousands of inputs would raise
    if args.only != "small":
        failures += big(args)
    if args.only != "big":
        failures += small(args)
    return 0 if failures == 0 else 1


def small(args) -> int:
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
    del bad
    proc, seconds, rss_mb = _measured(cmd, work)
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
    return failures


# -- big files built to be slow ------------------------------------------------------------------

GOAL_SECONDS, GOAL_MB, GOAL_PICKUP = 10.0, 300.0, 3.0
WORDS = ("the council said on Monday that repairs to the power station in Kharkiv would take weeks while "
         "engineers from the grid operator worked to restore heating to hospitals schools and homes across "
         "the eastern region after the latest drone attack").split()
RSS_HEAD = b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><link>https://t.example/</link>'


def _giant_and_its_revision() -> bytes:
    rng = random.Random(7)
    first = [" ".join(rng.choice(WORDS) for _ in range(60)).capitalize() + "." for _ in range(500)]
    second = [p.replace("grid", "network", 1) if i % 3 == 0 else p for i, p in enumerate(first)]
    return ("\n".join(first) + "\n\n" + "\n".join(second) + "\n").encode()


def big_cases() -> dict[str, tuple[str, str, object]]:
    """name: (file name, what it is, a function making its bytes)."""
    rng = random.Random(3)
    return {
        "1M short lines": ("lines.txt", "one run of 1,000,000 lines of 32 bytes",
                           lambda: "".join(f"Crews noted item {i:07d} today.\n" for i in range(1_000_000)).encode()),
        "2M nested tags": ("nested.rss", "RSS, a description of 2,000,000 nested <a> elements",
                           lambda: RSS_HEAD + b"<item><title>Kyiv</title><description>" + b"<a>" * 2_000_000 + b"x"
                           + b"</a>" * 2_000_000 + b"</description></item></channel></rss>"),
        "300k one-line stories": ("oneline.txt", "300,000 one-line stories, a blank line between two",
                                  lambda: "".join(f"{' '.join(rng.choice(WORDS) for _ in range(8))} said {i}.\n\n"
                                                  for i in range(300_000)).encode()),
        "8M tiny blocks": ("tiny.txt", "8,000,000 blocks of one 2-byte line", lambda: b"a.\n\n" * 8_000_000),
        "140k long lines": ("runs.txt", "140,000 sentences of ~230 bytes, no blank line",
                            lambda: "".join(" ".join(rng.choice(WORDS) for _ in range(38)).capitalize() + ".\n"
                                            for _ in range(140_000)).encode()),
        "2M flat tags, DOCTYPE": ("flat.xml", "RSS behind a DOCTYPE (not the fast parser's), 2,000,000 empty tags",
                                  lambda: b'<?xml version="1.0"?><!DOCTYPE rss>' + RSS_HEAD[21:]
                                  + b"<item><title>Kyiv</title><description>" + b"<a></a>" * 2_000_000
                                  + b"</description></item></channel></rss>"),
        "13 MB entry": ("entry.xml", "one RSS item of 13 MB of escaped HTML (over libxml2's text limit)",
                        lambda: RSS_HEAD + b"<item><title>Kyiv</title><description>"
                        + b"&lt;p&gt;Kyiv officials said the grid held.&lt;/p&gt;" * 250_000
                        + b"</description></item></channel></rss>"),
        "420k RSS items": ("items.xml", "RSS of 420,000 tiny items",
                           lambda: RSS_HEAD + b"".join(b"<item><guid>g%d</guid><title>K</title><description>a"
                                                       b"</description></item>" % i for i in range(420_000))
                           + b"</channel></rss>"),
        "330k JSON items": ("items.json", "JSON Feed of 330,000 items",
                            lambda: json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "J", "items": [
                                {"id": str(i), "title": f"Kyiv {i}", "content_text": f"Kyiv officials said item {i}."}
                                for i in range(330_000)]}).encode()),
        "2,000 revisions": ("revisions.txt", "2,000 revisions of one story (its page: the newest 50)",
                            lambda: "".join(f"Ukraine's energy ministry in Kyiv said on Monday that repair crews "
                                            f"restored power in Kharkiv after a drone attack, hitting {i} sites.\n\n"
                                            for i in range(2000)).encode()),
        "giant revised": ("giant.txt", "a story of 500 paragraphs (200 KB) and its revision: the page's diff",
                          _giant_and_its_revision),
    }


def _make(case: str, path: Path) -> Path:
    subprocess.run([sys.executable, __file__, "--make", case, "--into", str(path)], check=True)
    return path


def _measured(cmd: list[str], work: Path) -> tuple[subprocess.CompletedProcess, float, float]:
    """Run `cmd`: (its result, seconds, its own peak RSS in MB: os.wait4, not the largest child's so far)."""
    with open(work / "out.txt", "w+") as out, open(work / "err.txt", "w+") as err:
        start = time.monotonic()
        child = subprocess.Popen(cmd, stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.monotonic() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0), err.seek(0)
        proc = subprocess.CompletedProcess(cmd, child.returncode, out.read(), err.read())
    return proc, seconds, usage.ru_maxrss / 1024


# The big cases are the issue's, at their sizes (up to 32 MiB): read with the size limit they
# were measured under, 4x today's default (8 MiB), so each is read, not skipped as too large.
BIG_LIMITS = "\n[limits]\nbytes_per_file = 33554432\n"


def _publish_alone(work: Path, name: str, made: Path) -> dict:
    """A fresh project holding only this file, published once in a child process."""
    shutil.rmtree(work, ignore_errors=True)
    project_config(work, extra=BIG_LIMITS)
    shutil.copyfile(made, work / "sources" / name)
    proc, seconds, rss = _measured([str(BIN), "--config", str(work / "config.toml"), "publish"], work)
    feeds = sum(p.stat().st_size for p in (work / "feeds").rglob("*") if p.is_file())
    return {"seconds": round(seconds, 2), "peak_rss_mb": round(rss), "exit": proc.returncode,
            "traceback": "Traceback" in proc.stderr, "lines": proc.stderr.splitlines(),
            "summary": proc.stdout.strip(), "feeds_mb": round(feeds / 1e6, 1)}


def _served_after(base: str, token: str, timeout: float = 120.0) -> float | None:
    """Seconds until /ukraine/atom.xml holds `token` (None: not within `timeout`)."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        try:
            if token.encode() in urllib.request.urlopen(f"{base}/ukraine/atom.xml", timeout=5).read():
                return time.monotonic() - start
        except OSError:
            pass
        time.sleep(0.05)
    return None




def big(args) -> int:
    root = scratch("hostile-big")
    (root / "files").mkdir()
    rows = []
    for case, (name, what, _) in big_cases().items():
        made = _make(case, root / "files" / name)
        row = {"case": case, "file": name, "what": what, "bytes": made.stat().st_size,
               **_publish_alone(root / "alone", name, made)}
        rows.append(row)
        print(f"{case}: {row['seconds']} s, {row['peak_rss_mb']} MB; {row['lines'][:2]}", flush=True)
    # under `publisher run`: each hostile file, and a news file dropped 1 s after it
    work = root / "run"
    project_config(work, port=0, settle=0.5, extra=BIG_LIMITS)
    news = stories_text(2 * len(rows), seed=77)  # distinct stories; the odd ones about Kyiv, ending "report N."
    proc, base = start_service(work / "config.toml")
    try:
        _served_after(base, "no such token", timeout=1)  # up and serving
        for i, row in enumerate(rows):
            part = work / "sources" / f".{row['file']}.part"
            shutil.copyfile(root / "files" / row["file"], part)
            os.replace(part, work / "sources" / row["file"])
            time.sleep(1)
            token = f"report {2 * i + 1}."
            (work / "sources" / f"news-{i:02}.txt.part").write_bytes(news[2 * i + 1].encode() + b"\n")
            os.replace(work / "sources" / f"news-{i:02}.txt.part", work / "sources" / f"news-{i:02}.txt")
            row["news_served_s"] = _served_after(base, token)
            row["news_served_s"] = round(row["news_served_s"], 2) if row["news_served_s"] is not None else None
            print(f"{row['case']}: news served {row['news_served_s']} s after its drop", flush=True)
    finally:
        proc.terminate()
        proc.wait(30)
    failures = 0
    for row in rows:
        row["goal"] = (row["seconds"] <= GOAL_SECONDS and (row["peak_rss_mb"] or 0) <= GOAL_MB
                       and row["news_served_s"] is not None and row["news_served_s"] <= GOAL_PICKUP)
        failures += (not row["goal"]) + row["traceback"] + (row["exit"] not in (0, 1))
    doc = {**stamp(), "commit": commit(mark_dirty=True), "goals": {"seconds": GOAL_SECONDS, "peak_rss_mb": GOAL_MB,
           "news_served_s": GOAL_PICKUP}, "cases": rows, "failures": failures}
    md = (f"Big files under the size limit, each published alone by `publisher publish` in a child process (time, "
          f"peak RSS by os.wait4), then dropped into a running `publisher run` with a news file 1 s after it; "
          f"{doc['machine']}; commit {doc['commit']}; {doc['when']}\n\n"
          "| case | file | MB | publish s | peak RSS MB | feeds/ MB | news served s | what it says |\n"
          "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |\n")
    for row in rows:
        said = "; ".join(line.split(": ", 1)[1] for line in row["lines"]) or "(nothing)"
        served = f"{row['news_served_s']:.2f}" if row["news_served_s"] is not None else "NOT served"
        md += (f"| {row['case']} | {row['file']} | {row['bytes'] / 1e6:.1f} | {row['seconds']:.1f} | "
               f"{row['peak_rss_mb']} | {row['feeds_mb']} | {served} | {said} |\n")
    met = sum(1 for row in rows if row["goal"])
    md += (f"\nGoals: publish under {GOAL_SECONDS:g} s and {GOAL_MB:g} MB, the news file served within "
           f"{GOAL_PICKUP:g} s: met by {met} of {len(rows)} cases.\n")
    write_results(args.out, "hostile-big", doc, md)
    print(md)
    return failures


if __name__ == "__main__":
    sys.exit(main())
