"""Write failures at full size: 200 publishes, each with a failure injected into one of its writes.

    python bench/writefail.py [--runs 200] [--seed 1] [--out DIR]

In one process, a project gets a new story before every publish, and the n-th write under
feeds/ of that publish (n random) fails with ENOSPC, EACCES or EIO (injected: as root, in CI,
permission bits stop nothing). After each: every file under feeds/ is whole and is either what
it was before or what this publish meant to write (never a mix within a file, never a temp file
left); the failure is reported. After each failed publish a clean one must recover: every story
published. Writes writefail.json and writefail.md to bench/results/ (or --out DIR).
"""

from __future__ import annotations

import builtins
import errno
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _common import load, options, project_config, publish, scratch, stamp, write_results
from corpus import stories_text
from harness.checks import assert_feeds_whole

ERRORS = [(errno.ENOSPC, "No space left on device"), (errno.EACCES, "Permission denied"),
          (errno.EIO, "Input/output error")]


def snapshot(feeds: Path) -> dict[str, bytes]:
    return {str(p.relative_to(feeds)): p.read_bytes() for p in feeds.rglob("*") if p.is_file()}


def main() -> int:
    args = options(__doc__, runs=200, seed=1)
    rng = random.Random(args.seed)
    work = scratch("writefail")
    config = load(project_config(work))
    feeds = config.paths.feeds
    texts = stories_text(args.runs, seed=args.seed)
    now = datetime(2026, 11, 25, tzinfo=UTC)
    publish(config, now)
    real_open = builtins.open
    reported = unreported = torn = temp_left = not_recovered = 0
    start = time.monotonic()
    for n in range(args.runs):
        (work / "sources" / f"s{n:04}.txt").write_text(texts[n] + "\n")
        before = snapshot(feeds)
        target, hits = rng.randint(1, 12), 0
        code, message = rng.choice(ERRORS)

        def failing_open(file, mode="r", *a, **k):
            nonlocal hits
            if "w" in mode and str(feeds) in str(file):
                hits += 1
                if hits == target:
                    raise OSError(code, message, str(file))
            return real_open(file, mode, *a, **k)

        builtins.open = failing_open
        try:
            report = publish(config, now + timedelta(minutes=2 * n + 1))
        finally:
            builtins.open = real_open
        if hits >= target:
            if any(message in line for line in report.errors):
                reported += 1
            else:
                unreported += 1
        after = snapshot(feeds)
        try:
            assert_feeds_whole(feeds)
        except Exception:  # noqa: BLE001
            torn += 1
        torn += sum(1 for k, v in before.items() if k in after and after[k] != v and not after[k])
        temp_left += len(list(feeds.rglob(".*.tmp")))
        again = publish(config, now + timedelta(minutes=2 * n + 2))
        not_recovered += not again.ok
    seconds = time.monotonic() - start
    stories = len(assert_feeds_whole(feeds))
    doc = {**stamp(), "runs": args.runs, "seconds": round(seconds, 1), "failures_injected": reported + unreported,
           "reported": reported, "unreported": unreported, "files_not_whole": torn, "temp_files_left": temp_left,
           "runs_not_recovered": not_recovered, "entries_in_feeds_at_end": stories}
    failures = unreported + torn + temp_left + not_recovered
    doc["failures"] = failures
    md = (f"{args.runs} publishes, each with ENOSPC, EACCES or EIO injected into its n-th write under feeds/ "
          f"(n random, 1-12), each followed by a clean publish; {doc['machine']}; {doc['when']}\n\n"
          "| failures injected | reported | files not whole | temp files left | clean runs that did not recover |\n"
          "| ---: | ---: | ---: | ---: | ---: |\n"
          f"| {reported + unreported} | {reported} | {torn} | {temp_left} | {not_recovered} |\n")
    write_results(args.out, "writefail", doc, md)
    print(md)
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
