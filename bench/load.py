"""HTTP under load while re-publishing, at full size: 50 clients for 60 s against `publisher run`.

    python bench/load.py [--seconds 60] [--concurrency 50] [--slow 200]

Starts `publisher run` on a scratch copy of the shipped config (a free port), publishes a
first batch, then for --seconds: --concurrency clients fetch /all/atom.xml (plain, gzip,
conditional), every 200 checked to be a whole XML document whose ETag is the one made from its
bytes; a writer drops a new story into sources/ every second (so the feed is re-published all
the time); --slow clients hold connections open sending a header that never ends; a probe asks
/healthz four times a second. Prints figures and writes bench/results/load.json and load.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from load_harness import run_load  # noqa: E402
from test_reliability import stories_text  # noqa: E402

RESULTS = ROOT / "bench" / "results"
WORK = ROOT / "bench" / "work" / "load"
BIN = Path(sys.executable).parent / "publisher"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--concurrency", type=int, default=50)
    ap.add_argument("--slow", type=int, default=200)
    args = ap.parse_args()
    shutil.rmtree(WORK, ignore_errors=True)
    (WORK / "sources").mkdir(parents=True)
    text = re.sub(r"(?m)^port = 8080$", "port = 0", (ROOT / "config.toml").read_text())
    (WORK / "config.toml").write_text(re.sub(r"(?m)^settle_seconds = .*$", "settle_seconds = 0.2", text))
    texts = stories_text(int(args.seconds) + 200, seed=21)
    for i, story in enumerate(texts[:100]):
        (WORK / "sources" / f"first-{i:03}.txt").write_text(story + "\n")
    service = subprocess.Popen([str(BIN), "--config", str(WORK / "config.toml"), "run"], stdout=subprocess.PIPE,
                               stderr=open(WORK / "service.log", "wb"), text=True)
    try:
        base = re.match(r"publisher: serving (http://\S+)/ ", service.stdout.readline()).group(1)
        deadline = time.monotonic() + 30
        while b"schedule run:" not in (WORK / "service.log").read_bytes():
            assert time.monotonic() < deadline, "the service did not publish"
            time.sleep(0.1)
        start = time.monotonic()
        figures = run_load(base, WORK / "sources", seconds=args.seconds, concurrency=args.concurrency,
                           texts=texts[100:], republish_every=1.0, slow=args.slow)
        elapsed = time.monotonic() - start
        alive = service.poll() is None
    finally:
        service.terminate()
        code = service.wait(15)
    doc = {"when": datetime.now(UTC).isoformat(timespec="seconds"),
           "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
           "seconds": round(elapsed, 1), "concurrency": args.concurrency, **asdict(figures),
           "requests_per_second": round(figures.requests / elapsed), "service_alive": alive, "exit_code": code}
    failures = figures.failed + figures.bad_bodies + figures.bad_etags + (not alive) + (code != 0)
    doc["failures"] = failures
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "load.json").write_text(json.dumps(doc, indent=2) + "\n")
    md = (f"{args.concurrency} clients for {elapsed:.0f} s on /all/atom.xml, re-published every second "
          f"({figures.republished} times), {figures.slow_clients} slow clients; {doc['machine']}; {doc['when']}\n\n"
          "| requests | 200 | 304 | failed | not whole | wrong ETag | versions served | worst /healthz s | "
          "exit |\n| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n"
          f"| {figures.requests:,} | {figures.ok_200:,} | {figures.not_modified:,} | {figures.failed} | "
          f"{figures.bad_bodies} | {figures.bad_etags} | {figures.distinct_versions} | "
          f"{figures.probe_worst_seconds:.2f} | {code} |\n")
    (RESULTS / "load.md").write_text(md)
    print(md)
    if figures.errors:
        print("first errors:", *figures.errors[:5], sep="\n  ")
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
