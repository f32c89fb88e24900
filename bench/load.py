"""HTTP under load while re-publishing, at full size: 50 clients for 60 s against `publisher run`.

    python bench/load.py [--seconds 60] [--concurrency 50] [--slow 200] [--out DIR]

Starts `publisher run` on a scratch copy of the shipped config (a free port), publishes a
first batch, then for --seconds: --concurrency clients fetch /all/atom.xml (plain, gzip,
conditional), every 200 checked to be a whole XML document whose ETag is the one made from its
bytes; a writer drops a new story into sources/ every second (so the feed is re-published all
the time); --slow clients hold connections open sending a header that never ends; a probe asks
/healthz four times a second. Prints figures and writes load.json and load.md to bench/results/
(or --out DIR).
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict

from _common import options, project_config, scratch, stamp, start_service, write_results
from corpus import stories_text
from harness.load import run_load


def main() -> int:
    args = options(__doc__, seconds=60.0, concurrency=50, slow=200)
    work = scratch("load")
    config = project_config(work, port=0, settle=0.2)
    texts = stories_text(int(args.seconds) + 200, seed=21)
    for i, story in enumerate(texts[:100]):
        (work / "sources" / f"first-{i:03}.txt").write_text(story + "\n")
    service, base = start_service(config)
    try:
        deadline = time.monotonic() + 30
        while b"schedule run:" not in (work / "service.log").read_bytes():
            assert time.monotonic() < deadline, "the service did not publish"
            time.sleep(0.1)
        start = time.monotonic()
        figures = run_load(base, work / "sources", seconds=args.seconds, concurrency=args.concurrency,
                           texts=texts[100:], republish_every=1.0, slow=args.slow)
        elapsed = time.monotonic() - start
        alive = service.poll() is None
    finally:
        service.terminate()
        code = service.wait(15)
    doc = {**stamp(), "seconds": round(elapsed, 1), "concurrency": args.concurrency, **asdict(figures),
           "requests_per_second": round(figures.requests / elapsed), "service_alive": alive, "exit_code": code}
    failures = figures.failed + figures.bad_bodies + figures.bad_etags + (not alive) + (code != 0)
    doc["failures"] = failures
    md = (f"{args.concurrency} clients for {elapsed:.0f} s on /all/atom.xml, re-published every second "
          f"({figures.republished} times), {figures.slow_clients} slow clients; {doc['machine']}; {doc['when']}\n\n"
          "| requests | 200 | 304 | failed | not whole | wrong ETag | versions served | worst /healthz s | "
          "exit |\n| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n"
          f"| {figures.requests:,} | {figures.ok_200:,} | {figures.not_modified:,} | {figures.failed} | "
          f"{figures.bad_bodies} | {figures.bad_etags} | {figures.distinct_versions} | "
          f"{figures.probe_worst_seconds:.2f} | {code} |\n")
    write_results(args.out, "load", doc, md)
    print(md)
    if figures.errors:
        print("first errors:", *figures.errors[:5], sep="\n  ")
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
