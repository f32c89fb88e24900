"""Crash safety at full size: 100 random SIGKILLs of `publisher publish` in mid-run.

    python bench/crash.py [--kills 100] [--files 2000] [--seed 1] [--out DIR]

A scratch project gets --files wire files (distinct stories, half Ukraine, half Taiwan security),
dropped in over the runs: --files / --kills new files before every run. Each run is killed with
SIGKILL after a random delay, uniform over the time a whole run of that size takes (start-up,
ingest, classification, pages, feeds; 10% of kills land after the run ended). After every kill: every feed file is a whole, valid document; PRAGMA integrity_check is
ok; every story committed before is still there under the same id. A last run without a kill
must complete the batch with every story exactly once. Prints figures and writes them to
crash.json and crash.md in bench/results/ (or --out DIR).
"""

from __future__ import annotations

import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from _common import BIN, options, project_config, scratch, stamp, write_results
from corpus import stories_text
from harness.checks import assert_feeds_whole


class Project:
    def __init__(self, root: Path):
        self.root = root
        self.config_path = root / "config.toml"
        self.feeds = root / "feeds"
        self.database = root / "publisher.db"


def committed(project: Project) -> tuple[dict[str, str], str]:
    import sqlite3

    if not project.database.exists():
        return {}, "ok"
    with sqlite3.connect(f"file:{project.database}?mode=ro", uri=True) as db:
        check = db.execute("PRAGMA integrity_check").fetchone()[0]
        return dict(db.execute("SELECT entry_id, name FROM entries")), check


def run(project: Project, kill_after: float | None) -> tuple[int, float]:
    start = time.monotonic()
    proc = subprocess.Popen([str(BIN), "--config", str(project.config_path), "publish", "--wait", "60"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if kill_after is not None:
        try:
            proc.wait(kill_after)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
    proc.wait(600)
    return proc.returncode, time.monotonic() - start


def main() -> int:
    args = options(__doc__, kills=100, files=2000, seed=1)
    rng = random.Random(args.seed)
    work = scratch("crash")
    project_config(work)
    (work / "sources" / "batch").mkdir()
    project = Project(work)
    texts = stories_text(args.files, seed=args.seed)
    per_run = max(1, args.files // args.kills)

    def drop(first: int) -> None:
        for i in range(first, min(first + per_run, args.files)):
            (work / "sources" / "batch" / f"{i:05}.txt").write_text(texts[i] + "\n")

    # How long a run of that size takes, measured on a copy: kills are spread over that.
    probe = work.parent / "crash-probe"
    shutil.rmtree(probe, ignore_errors=True)
    drop(0)
    shutil.copytree(work, probe)
    _, full = run(Project(probe), None)
    shutil.rmtree(probe)
    print(f"a run of {per_run} new files takes {full:.2f} s; killing {args.kills} runs at random", flush=True)

    before: dict[str, str] = {}
    kills = lost = bad_files = bad_db = 0
    start = time.monotonic()
    for n in range(args.kills):
        if n:
            drop(n * per_run)
        code, _ = run(project, rng.uniform(0.05, full * 1.1))
        kills += code == -signal.SIGKILL
        now, check = committed(project)
        bad_db += check != "ok"
        lost += sum(1 for k, v in before.items() if now.get(k) != v)
        try:
            assert_feeds_whole(project)
        except Exception as exc:  # noqa: BLE001 - counted and reported
            bad_files += 1
            print(f"  after kill {n + 1}: a feed file is not whole: {exc}", flush=True)
        before = now
        if (n + 1) % 10 == 0:
            print(f"  {n + 1} runs, {kills} killed, {len(now)} stories committed, lost {lost}", flush=True)
    drop(args.kills * per_run)  # any left over
    code, _ = run(project, None)
    final, check = committed(project)
    expected = args.files
    doc = {
        **stamp(),
        "files": args.files, "runs": args.kills, "killed": kills, "seconds": round(time.monotonic() - start, 1),
        "run_seconds": round(full, 2), "files_per_run": per_run,
        "stories_lost_or_renamed": lost, "feed_files_not_whole": bad_files, "integrity_failures": bad_db,
        "final_run_exit": code, "final_integrity": check, "stories_expected": expected, "stories_final": len(final),
        "duplicates_or_missing": abs(len(final) - expected),
    }
    ok = (lost == bad_files == bad_db == 0 and code == 0 and check == "ok" and len(final) == expected)
    doc["failures"] = 0 if ok else 1
    md = (f"{kills} of {args.kills} runs killed with SIGKILL at a random moment ({args.files} files, {per_run} new "
          f"before each run; a whole run takes {full:.2f} s); {doc['machine']}; {doc['when']}\n\n"
          f"| stories lost or renamed | feed files not whole | integrity_check failures | final run | "
          f"stories at the end |\n| ---: | ---: | ---: | --- | ---: |\n"
          f"| {lost} | {bad_files} | {bad_db} | exit {code}, integrity {check} | {len(final)} of {expected} |\n")
    write_results(args.out, "crash", doc, md)
    print(md)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
